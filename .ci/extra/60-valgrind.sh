#!/usr/bin/env bash
# valgrind (issue 7, item 7): memcheck over the core unit suites of the dev
# build (g++; .ci/run builds build/dev first), forked and exec'd children
# included (--trace-children=yes; forked children are always followed).
#   bash .ci/extra/60-valgrind.sh [build-dir]     (default build/dev)
# Suites: signal_test, stream_test, registry_test,
# bad_input_test. Not the storms (torture_test, fork_storm_test): too slow
# under valgrind, and they run under ASan/TSan instead.
#
# Test cases left out, each for a limitation of valgrind, not of sigkit:
#   * stream_test "a consumer thread is always woken by the last signal of a
#     burst": valgrind fetches pending signals into a small queue of its own
#     per thread and drops real-time signals beyond it, so exact delivery of
#     queued bursts cannot hold under valgrind (it does under the kernel and
#     under ASan/UBSan).
#   * stream_test "a burst of every catchable signal on a small alternate
#     stack is delivered one handler at a time": it subscribes every
#     catchable signal, SIGRTMAX included, which valgrind reserves (EINVAL).
#   * registry_test "all dispositions are restored exactly after random
#     create and destroy orders": valgrind reserves SIGRTMAX and refuses a
#     handler for it (EINVAL), which that test installs.
#   * registry_test "a scoped action undone while a stream sits on top hands
#     its restore to sigkit": valgrind aborts the forked child with "Can't
#     extend stack ... during signal delivery" for the main thread; the same
#     sequence passes outside valgrind, under ASan/UBSan/TSan, and under
#     valgrind in a stand-alone program.
# --fair-sched=yes: valgrind runs one thread at a time, and its default lock
# let a thread that loops on kill() keep the CPU for over 30 s, so tests whose
# threads must overlap saw no overlap at all; the fair lock hands it round.
# Any memcheck error (invalid access, uninitialised use, definite or possible
# leak) in any process fails the script (--error-exitcode=1).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/dev}
tests_dir=$build/tests
command -v valgrind >/dev/null || {
  if [[ $(id -u) -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
  else
    echo "60-valgrind: valgrind is missing (apt-get install valgrind)" >&2
    exit 1
  fi
}
[[ -d $tests_dir ]] || { echo "60-valgrind: no $tests_dir (build the dev preset first)" >&2; exit 1; }

declare -A exclude=(
  [stream_test]="a consumer thread is always woken by the last signal of a burst,a burst of every catchable signal on a small alternate stack is delivered one handler at a time"
  [registry_test]="all dispositions are restored exactly after random create and destroy orders,a scoped action undone while a stream sits on top hands its restore to sigkit"
)
log_dir=build/valgrind
mkdir -p "$log_dir"
failed=0
for suite in signal_test stream_test registry_test bad_input_test; do
  exe=$tests_dir/$suite
  if [[ ! -x $exe ]]; then
    echo "60-valgrind: $exe missing" >&2
    exit 1
  fi
  args=()
  [[ -n ${exclude[$suite]:-} ]] && args+=("--test-case-exclude=${exclude[$suite]}")
  start=$SECONDS
  log=$log_dir/$suite.log
  # valgrind cannot follow pidfd_open (the harness falls back to polling
  # waitpid); its "unhandled syscall 434" notes are filtered out of the log.
  if (cd "$tests_dir" && timeout 900 valgrind -q --fair-sched=yes --error-exitcode=1 --leak-check=full --trace-children=yes \
        "./$suite" "${args[@]}") >"$log.raw" 2>&1; then
    status=ok
  else
    status=FAILED
    failed=1
  fi
  grep -vE -- '^--[0-9]+-- ' "$log.raw" >"$log" || true
  rm -f "$log.raw"
  echo "60-valgrind: $suite: $status in $((SECONDS - start)) s ($(grep -E '^\[doctest\] test cases' "$log" | tail -n 1))"
  [[ $status == ok ]] || tail -n 40 "$log" >&2
done
exit $failed
