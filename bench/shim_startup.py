#!/usr/bin/env python3
"""Start-up time and size of init shims: `SHIM -- /bin/true`, paired runs.

    bench/shim_startup.py [--runs 50] NAME=COMMAND... (COMMAND: the shim
    with its options, split on spaces; `/bin/true` is appended)

Each round runs every shim once, in a rotated order (so that no shim always
comes first after a quiet moment), timing from posix_spawn() to waitpid()
with a monotonic clock, stderr sent to /dev/null. Reports, per shim, the size of its binary, the
median wall time, and the median of its per-round ratio to the first shim
(paired, so that load changes between rounds cancel out).
"""
import argparse
import os
import shutil
import statistics
import time


def run_once(argv):
    t0 = time.perf_counter_ns()
    # stderr to /dev/null: tini warns on every run when it is not PID 1.
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[(os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
    _, status = os.waitpid(pid, 0)
    took = time.perf_counter_ns() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)}: exit status {status}")
    return took


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("shims", nargs="+", metavar="NAME=COMMAND")
    args = ap.parse_args()
    shims = []
    for spec in args.shims:
        name, _, command = spec.partition("=")
        argv = command.split()
        argv[0] = shutil.which(argv[0]) or argv[0]
        shims.append((name, argv + ["/bin/true"]))
    for _, argv in shims:  # warm the page cache
        run_once(argv)
    times = {name: [] for name, _ in shims}
    for r in range(args.runs):
        order = shims[r % len(shims):] + shims[:r % len(shims)]
        for name, argv in order:
            times[name].append(run_once(argv))
    base = shims[0][0]
    print(f"| shim | binary size | median `-- /bin/true` | median ratio to {base} (paired) |")
    print("|---|---|---|---|")
    for name, argv in shims:
        size = os.stat(argv[0]).st_size
        ratio = statistics.median(t / b for t, b in zip(times[name], times[base]))
        print(f"| {name} | {size / 1024:.1f} KiB | {statistics.median(times[name]) / 1e6:.2f} ms | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
