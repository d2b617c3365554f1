#!/usr/bin/env bash
# handler_cost.sh - measurement 6: what sigkit's signal handler costs per
# delivery, in instructions (callgrind: deterministic, immune to a loaded
# machine) and in system calls (strace), next to the hand-written
# SA_SIGINFO -> eventfd handler of bench/hand_written.hpp.
#
#   bench/handler_cost.sh [BUILD_DIR] [--json FILE]    (BUILD_DIR: build/release)
#
# Instructions: callgrind counts everything executed inside the handler
# function (sigkit_v1_handler, bench_hand_written_handler), callees and
# inlined code included (the user-space side of write(); the kernel is not
# simulated). Each figure is the difference
# between a run with 1100 deliveries and one with 100, divided by 1000, so
# start-up and first-delivery costs (lazy binding, cold paths) cancel out.
#
# System calls: strace counts the write()s to each wakeup descriptor while
# the probe delivers 100 signals. "pending" = the consumer has not drained
# its wakeup (it is busy): the handler must not make any system call after
# the first delivery, so 100 deliveries must show exactly 1 write.
set -euo pipefail
shopt -s inherit_errexit  # a probe that fails inside $(...) stops the script
cd "$(dirname "$0")/.."

build=build/release
json=
while (($#)); do
  case $1 in
    --json) json=$2; shift 2 ;;
    *) build=$1; shift ;;
  esac
done
probe=$build/bench/handler_probe
[[ -x $probe ]] || { echo "handler_cost: $probe not built (cmake --build --preset release --target handler_probe)" >&2; exit 1; }
for tool in valgrind strace callgrind_annotate; do
  command -v "$tool" >/dev/null || { echo "handler_cost: $tool missing (apt-get install valgrind strace)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ir <function> <probe args...>: instructions executed inside <function>,
# callees and inlined code included. A signal handler is entered without a
# call instruction, so callgrind's --toggle-collect never fires for it;
# instead everything is collected and the callgrind file is summed per
# function name (self cost under fn=, plus the inclusive cost of every call
# it makes).
ir() {
  local fn=$1; shift
  local out=$tmp/cg.$RANDOM
  LD_BIND_NOW=1 valgrind --tool=callgrind --callgrind-out-file="$out" --compress-strings=no --compress-pos=no \
    "$probe" "$@" >/dev/null 2>"$tmp/vg.log" || { cat "$tmp/vg.log" >&2; exit 1; }
  python3 - "$out" "$fn" <<'PY'
import sys
path, want = sys.argv[1], sys.argv[2]
total = 0
current = None
after_calls = False
for line in open(path):
    line = line.rstrip("\n")
    if line.startswith("fn="):
        current = line[3:].split(" ", 1)[-1] if line[3:].startswith("(") else line[3:]
        after_calls = False
        continue
    if line.startswith("calls="):
        after_calls = True
        continue
    if not line or not (line[0].isdigit() or line[0] in "+-*"):
        continue
    parts = line.split()
    if current == want and len(parts) >= 2:
        total += int(parts[1])  # self cost line, or the inclusive cost of the call just named
    after_calls = False
print(total)
PY
}

# per_delivery <function> <probe args with K for the delivery count...>
per_delivery() {
  local fn=$1; shift
  local small large
  small=$(ir "$fn" "${@//K/100}")
  large=$(ir "$fn" "${@//K/1100}")
  echo $(((large - small) / 1000))
}

# writes <probe args...>: write() calls to the first wakeup fd the probe names.
writes() {
  strace -f -qq -e trace=write -o "$tmp/trace" "$probe" "$@" >/dev/null 2>"$tmp/probe.err"
  local fd
  fd=$(awk '/^wakeup fds:/ {print $3; exit}' "$tmp/probe.err")
  grep -c "write($fd," "$tmp/trace" || true
}

echo "== handler instructions per delivery (callgrind, inclusive, user space) =="
hand=$(per_delivery bench_hand_written_handler hand K)
s1d=$(per_delivery sigkit_v1_handler sigkit 1 K drained)
s1p=$(per_delivery sigkit_v1_handler sigkit 1 K pending)
s256d=$(per_delivery sigkit_v1_handler sigkit 256 K drained)
s256p=$(per_delivery sigkit_v1_handler sigkit 256 K pending)
g256d=$(per_delivery sigkit_v1_handler sigkit-shared 256 K drained)
# 31, not 32: valgrind keeps SIGRTMAX for itself (sigaction() on it fails under callgrind).
d1=$(per_delivery sigkit_v1_handler sigkit-distinct 1 K)
d31=$(per_delivery sigkit_v1_handler sigkit-distinct 31 K)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
per_sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (a - b) / 255 }'; }
printf '%-58s %8s %10s\n' "path" "Ir" "vs hand"
printf '%-58s %8d %10s\n' "hand-written handler (store siginfo + eventfd write)" "$hand" "1.00"
printf '%-58s %8d %10s\n' "sigkit, 1 stream, consumer drained (eventfd write)" "$s1d" "$(ratio "$s1d" "$hand")"
printf '%-58s %8d %10s\n' "sigkit, 1 stream, wakeup pending (no system call)" "$s1p" "$(ratio "$s1p" "$hand")"
printf '%-58s %8d\n' "sigkit, 256 streams, consumers drained" "$s256d"
printf '%-58s %8d\n' "sigkit, 256 streams, wakeups pending" "$s256p"
printf '%-58s %8d\n' "sigkit, 256 streams sharing a wakeup_group, drained" "$g256d"
printf '%-58s %8d\n' "sigkit, 1 stream, 1 signal subscribed in all, drained" "$d1"
printf '%-58s %8d\n' "sigkit, 1 stream, 31 distinct signals subscribed, drained" "$d31"
echo "per extra subscriber: drained $(per_sub "$s256d" "$s1d") Ir, pending $(per_sub "$s256p" "$s1p") Ir (+ one write() system call each when drained)"
echo "per extra subscriber sharing a wakeup_group, drained: $(per_sub "$g256d" "$s1d") Ir (one write() per delivery in all)"
per_signal() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (a - b) / 30 }'; }
echo "per extra distinct signal subscribed elsewhere: $(per_signal "$d31" "$d1") Ir"

echo
echo "== write() system calls to the wakeup descriptor for 100 deliveries (strace) =="
wp=$(writes sigkit 1 100 pending)
wd=$(writes sigkit 1 100 drained)
wh=$(writes hand 100)
wg=$(writes sigkit-shared 256 100 drained)
printf '%-58s %6s\n' "sigkit, wakeup pending (consumer busy; must be 1)" "$wp"
printf '%-58s %6s\n' "sigkit, consumer drained after every delivery" "$wd"
printf '%-58s %6s\n' "hand-written" "$wh"
printf '%-58s %6s\n' "sigkit, 256 streams sharing a wakeup_group, drained" "$wg"
verdict=PASS
[[ $wp == 1 ]] || verdict=FAIL
echo "no system call in the handler while a wakeup is pending: $verdict"
group_verdict=PASS
[[ $wg == 100 ]] || group_verdict=FAIL
echo "one write() per delivery to 256 streams of a group, consumer included: $group_verdict"
echo
echo "in-process check (eventfd counter = number of write()s of 1):"
"$probe" sigkit 1 100 pending --check-writes

if [[ -n $json ]]; then
  cat >"$json" <<EOF
{
  "instructions_per_delivery": {
    "hand_written": $hand,
    "sigkit_1_drained": $s1d,
    "sigkit_1_pending": $s1p,
    "sigkit_256_drained": $s256d,
    "sigkit_256_pending": $s256p,
    "sigkit_256_shared_drained": $g256d,
    "sigkit_distinct_1_drained": $d1,
    "sigkit_distinct_31_drained": $d31
  },
  "per_extra_subscriber_instructions": {
    "drained": $(per_sub "$s256d" "$s1d"),
    "pending": $(per_sub "$s256p" "$s1p"),
    "shared_drained": $(per_sub "$g256d" "$s1d")
  },
  "per_extra_distinct_signal_instructions": $(per_signal "$d31" "$d1"),
  "wakeup_writes_for_100_deliveries": {
    "sigkit_pending": $wp,
    "sigkit_drained": $wd,
    "hand_written": $wh,
    "sigkit_256_shared_drained": $wg
  },
  "no_syscall_when_pending": "$verdict",
  "one_write_per_group_delivery": "$group_verdict"
}
EOF
fi
[[ $verdict == PASS && $group_verdict == PASS ]]
