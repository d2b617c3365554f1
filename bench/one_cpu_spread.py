#!/usr/bin/env python3
"""The spread of the one-CPU round-trip ratios over several sigkit_bench runs.

    bench/one_cpu_spread.py RUN.json [RUN.json ...]

Each RUN.json is a Google Benchmark JSON of round_trip_two_threads (any
subset of contenders). For each run: the median over repetitions of each
contender's per-send median latency, then each sigkit contender's ratio to
its reference with the same placement (the hand-written path, or the
signalfd-read floor for the kernel-queue stream). Prints every run's ratio,
their median and range. One CPU only (cpus:1).
"""
import json
import statistics
import sys
from collections import defaultdict

PAIRS = [
    ("sigkit_stream", "handler_on:sender", "hand_written_eventfd_epoll"),
    ("sigkit_stream", "handler_on:observer", "hand_written_eventfd_epoll"),
    ("sigkit_stream_epoll", "handler_on:sender", "hand_written_eventfd_epoll"),
    ("sigkit_stream_epoll", "handler_on:observer", "hand_written_eventfd_epoll"),
    ("sigkit_stream_kernel", "dequeued_by:observer", "kernel_signalfd_read"),
]


def medians(path):
    per = defaultdict(list)
    for b in json.load(open(path))["benchmarks"]:
        parts = b["run_name"].split("/")
        if b.get("run_type") != "iteration" or parts[0] != "round_trip_two_threads" or parts[2] != "cpus:1":
            continue
        per[(parts[1], parts[3])].append(b["median_ns"])
    return {k: statistics.median(v) for k, v in per.items()}


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    runs = [medians(p) for p in paths]
    print(f"one CPU, median latency ratio per run ({len(runs)} runs)\n")
    print("| contender | placement | against | median | range | every run |")
    print("|---|---|---|---:|---|---|")
    for who, where, ref in PAIRS:
        ratios = [r[(who, where)] / r[(ref, where)] for r in runs if (who, where) in r and (ref, where) in r]
        if not ratios:
            continue
        print(f"| {who} | {where} | {ref} | {statistics.median(ratios):.2f}x | "
              f"{min(ratios):.2f}-{max(ratios):.2f} | {' '.join(f'{x:.2f}' for x in ratios)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
