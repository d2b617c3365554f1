#!/usr/bin/env bash
# bench/run.sh - builds the `release` preset and runs every sigkit benchmark,
# writing machine-readable results (and the tables of bench/RESULTS.md) to
# one directory.
#
#   bench/run.sh [OUT_DIR]        default: bench/results/<UTC date-time>
#
# Writes:
#   machine.txt            nproc, CPU model, kernel, compiler, load, limits
#   sigkit_bench.json      Google Benchmark JSON (measurements 1-5)
#   sigkit_bench.txt       the same, as printed
#   handler_cost.json/txt  measurement 6 (bench/handler_cost.sh)
#   forward_latency.json/txt  measurement 7 (with --decompose: the floor taken apart, shaped_forwarder)
#   tables.md              every table, with ratios and target verdicts (bench/report.py)
#   fanout_scaling.png, distinct_signals.png, storm_senders.png
#                          scaling curves (bench/plot.py; needs matplotlib)
#   perf_*.txt, strace_forward_*.txt  profiles (bench/profile.sh; if perf and strace exist)
#
# Timings need a quiet machine: the script records the load average before
# and after, and report.py prints it next to the tables. Instruction counts
# (handler_cost) do not depend on load.
#
# Environment: SIGKIT_BENCH_REPETITIONS (default 9) repetitions of the
# time-based benchmarks, interleaved at random; SIGKIT_BENCH_FORWARD_ITERATIONS
# (default 2000) SIGTERMs per forwarder and pinning.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
reps=${SIGKIT_BENCH_REPETITIONS:-9}
fwd_iters=${SIGKIT_BENCH_FORWARD_ITERATIONS:-2000}

echo "== building the release preset" >&2
cmake --preset release >/dev/null
cmake --build --preset release --target sigkit_bench handler_probe forward_latency sigkit-run >&2

{
  echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc: $(nproc)"
  echo "cpu_model: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "kernel: $(uname -r)"
  echo "compiler: $(g++ --version | head -1)"
  echo "cmake_preset: release (CMAKE_BUILD_TYPE=Release: -O3 -DNDEBUG)"
  echo "git_commit: $(git rev-parse HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (+uncommitted changes)')"
  echo "loadavg_before: $(cat /proc/loadavg)"
  echo "rlimit_sigpending: $(ulimit -i)"
  echo "tini: $(tini --version 2>/dev/null || echo 'not installed')"
  echo "dumb-init: $(dumb-init --version 2>&1 || echo 'not installed')"
} >"$out/machine.txt"
echo "other processes using the CPU at start (top 8 by %CPU):" >>"$out/machine.txt"
ps -eo pcpu,comm --sort=-pcpu | head -9 | sed 's/^/  /' >>"$out/machine.txt"

echo "== sigkit_bench (measurements 1-5)" >&2
build/release/bench/sigkit_bench \
  --benchmark_repetitions="$reps" --benchmark_min_time=0.2 --benchmark_enable_random_interleaving=true \
  --benchmark_out="$out/sigkit_bench.json" --benchmark_out_format=json | tee "$out/sigkit_bench.txt"

echo "== handler_cost.sh (measurement 6)" >&2
bench/handler_cost.sh build/release --json "$out/handler_cost.json" | tee "$out/handler_cost.txt"

echo "== forward_latency (measurement 7)" >&2
build/release/bench/forward_latency --iterations "$fwd_iters" --decompose --json "$out/forward_latency.json" 2>&1 |
  tee "$out/forward_latency.txt"

echo "loadavg_after: $(cat /proc/loadavg)" >>"$out/machine.txt"
if command -v perf >/dev/null && command -v strace >/dev/null; then
  echo "== profile.sh (the why of missed targets)" >&2
  bench/profile.sh "$out" || echo "run.sh: profile.sh failed (perf_event_paranoid?); timings are unaffected" >&2
fi
python3 bench/report.py "$out" >"$out/tables.md"
# The scaling plots need matplotlib; try the system python too (a pyenv
# python3 may shadow it without matplotlib).
for py in python3 /usr/bin/python3; do
  if "$py" -c 'import matplotlib' 2>/dev/null; then
    "$py" bench/plot.py "$out" >&2
    break
  fi
done || true
[[ -f $out/fanout_scaling.png ]] || echo "run.sh: no matplotlib: the scaling plots were not drawn" >&2
echo "== results in $out (tables: $out/tables.md)" >&2
