#!/bin/sh
# Smoke-test helper for sigkit-inspect's bad input:
#   check_error.sh PROGRAM STDOUT STDERR_REGEX [ARGS...]
# runs PROGRAM ARGS... ("@SELF@" in ARGS stands for this shell's pid, a
# process that surely exists) and passes if it exits 2 with exactly one line
# on stderr matching STDERR_REGEX (grep -E), and with stdout empty
# (STDOUT=empty) or not (STDOUT=some).
program=$1 want_stdout=$2 regex=$3
shift 3
for arg in "$@"; do
  shift
  [ "$arg" = "@SELF@" ] && arg=$$
  set -- "$@" "$arg"
done
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
"$program" "$@" >"$dir/out" 2>"$dir/err"
rc=$?
echo "exit $rc; stdout:"; sed 's/^/  | /' "$dir/out"; echo "stderr:"; sed 's/^/  | /' "$dir/err"
fail() { echo "FAIL: $*"; exit 1; }
[ "$rc" -eq 2 ] || fail "exit code $rc, not 2"
[ "$(wc -l <"$dir/err")" -eq 1 ] || fail "stderr is not one line"
grep -Eq -- "$regex" "$dir/err" || fail "stderr does not match $regex"
case $want_stdout in
  empty) [ ! -s "$dir/out" ] || fail "stdout is not empty" ;;
  some) [ -s "$dir/out" ] || fail "stdout is empty" ;;
esac
echo PASS
