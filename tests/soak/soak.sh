#!/usr/bin/env bash
# Builds the soak program (g++ -O2, build/soak/soak) and runs it.
#   tests/soak/soak.sh [seconds]     default 600: the 10-minute soak (not in CI)
# CI runs the 60 s variant through .ci/extra/50-soak.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-600}
mkdir -p build/soak
g++ -std=c++20 -O2 -g -Wall -Wextra -Wpedantic -Werror -Wshadow -Iinclude tests/soak/soak.cpp -o build/soak/soak -pthread
# The soak fails itself on loss, descriptor or memory growth, or a stall;
# the timeout is the last-resort deadlock watchdog.
timeout --signal=KILL $((seconds + 120)) build/soak/soak "$seconds"
