#!/usr/bin/env bash
# Soak (issue 7, item 6), CI variant: 60 s of streams and flags under
# continuous signals (tests/soak/soak.cpp). Records signals/s, VmRSS and fd
# counts; fails on anything lost, fd or memory growth, or a stall.
# The 10-minute soak is `tests/soak/soak.sh` (default 600 s), not run in CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec bash tests/soak/soak.sh "${SIGKIT_SOAK_SECONDS:-60}"
