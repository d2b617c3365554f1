#!/usr/bin/env bash
# bench/profile.sh - the profiles behind the "why" of every missed target in
# bench/RESULTS.md, written next to a run's results.
#
#   bench/profile.sh OUT_DIR [BUILD_DIR]      (BUILD_DIR: build/release)
#
#   perf_storm.txt            perf record (cpu-clock, call graphs) of the storm
#                             with the handler on the observer's own thread
#   perf_fanout_drained.txt   perf record of one delivery to 256 drained streams
#   strace_forward_*.txt      the system calls each forwarder makes to forward
#                             one SIGTERM (sigkit-run, floor)
# perf needs kernel.perf_event_paranoid <= 2 for cpu-clock sampling of this
# user's processes (hardware counters are not needed).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bench/profile.sh OUT_DIR [BUILD_DIR]}
build=${2:-build/release}
mkdir -p "$out"
bench=$build/bench/sigkit_bench

perf_of() {  # perf_of <name> <benchmark filter>
  local data=$out/$1.data
  perf record -q -g -e cpu-clock -o "$data" "$bench" --benchmark_filter="$2" >/dev/null 2>&1
  {
    echo "# perf record -g -e cpu-clock $bench --benchmark_filter='$2'"
    echo "# top (process, symbol) pairs, inclusive (children) then self time; the storm sender is a forked child"
    echo "# of sigkit_bench (another pid). In this VM the kernel's time often lands on pvm_irq_enable (paravirt"
    echo "# interrupt enable at the end of a spinlocked section): read the inclusive column of its callers."
    perf report -i "$data" --children --stdio -g none --sort=pid,sym 2>/dev/null | grep -E "^ +[0-9]" | head -40 || true
    echo
    echo "# by (process, shared object)"
    perf report -i "$data" --no-children --stdio -g none --sort=pid,dso 2>/dev/null | grep -E "^ +[0-9]" | head -10 || true
  } >"$out/$1.txt"
  rm -f "$data"
}

echo "profile: storm (handler on the observer)" >&2
perf_of perf_storm '^storm/sigkit_stream/capacity:1048576/handler_on:observer'
echo "profile: fan-out, 256 drained streams" >&2
perf_of perf_fanout_drained '^fanout/drained/subscribers:256'

# strace_forward <name> <forwarder argv...>: one SIGTERM through the forwarder.
strace_forward() {
  local name=$1; shift
  local trace=$out/strace_forward_$name.txt
  "$@" "$build/bench/term_probe" >/dev/null &
  local fwd=$!
  sleep 0.5
  strace -f -tt -p "$fwd" -o "$trace.raw" 2>/dev/null &
  local st=$!
  sleep 1
  kill -TERM "$fwd"
  sleep 0.5
  kill "$st" 2>/dev/null || true
  wait "$st" 2>/dev/null || true
  kill -USR1 "$fwd"  # forwarded: the probe exits, then the forwarder
  wait "$fwd" 2>/dev/null || true
  { echo "# strace -f -tt -p <$name> while one SIGTERM is forwarded"; cat "$trace.raw"; } >"$trace"
  rm -f "$trace.raw"
}
echo "profile: system calls per forwarded SIGTERM" >&2
strace_forward sigkit_run "$build/tools/sigkit-run/sigkit-run" --
strace_forward floor "$build/bench/floor_forwarder"
echo "profiles in $out" >&2
