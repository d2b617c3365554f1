#!/usr/bin/env bash
# Fuzzing (issue 7, item 5): builds every tests/fuzz/fuzz_<target>.cpp as a
# libFuzzer binary with clang (-fsanitize=fuzzer,address,undefined) under
# build/fuzz/, then runs each for SIGKIT_FUZZ_SECONDS (default 40) starting
# from its seed corpus tests/fuzz/corpus/<target>/. New inputs go to
# build/fuzz/corpus/<target>/ (never into the source tree). Any crash, leak,
# sanitizer report or failed property (__builtin_trap) fails the script; the
# crashing input is left in build/fuzz/ as crash-<sha1>.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${SIGKIT_FUZZ_SECONDS:-40}
out=build/fuzz
mkdir -p "$out"
command -v clang++ >/dev/null || { echo "40-fuzz: clang++ is missing (apt-get install clang)" >&2; exit 1; }

shopt -s nullglob
targets=(tests/fuzz/fuzz_*.cpp)
((${#targets[@]})) || { echo "40-fuzz: no targets" >&2; exit 1; }
for src in "${targets[@]}"; do
  name=$(basename "$src" .cpp)
  target=${name#fuzz_}
  echo "40-fuzz: building $name"
  clang++ -std=c++20 -g -O1 -Wall -Wextra -Wpedantic -Werror -Wshadow \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -Iinclude "$src" -o "$out/$name"
  seeds=tests/fuzz/corpus/$target
  work=$out/corpus/$target
  mkdir -p "$work"
  echo "40-fuzz: running $name for ${seconds} s (seeds: $seeds)"
  log=$out/$name.log
  if ! "$out/$name" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$out/" \
      "$work" "$seeds" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "40-fuzz: $name FAILED (log: $log)" >&2
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^stat::new_units_added|cov:' "$log" | tail -n 3
done
echo "40-fuzz: all targets ran ${seconds} s without a crash"
