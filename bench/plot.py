#!/usr/bin/env python3
"""Draws the scaling curves of one bench/run.sh output directory from its
sigkit_bench.json: fan-out cost (ns for one delivery, handler included)
against the number of subscribers, one line per mode (drained, pending,
shared_drained), both axes logarithmic; the median over repetitions.
Writes fanout_scaling.png into the directory. Needs matplotlib (Debian:
python3-matplotlib; run it with the system python3 if another one shadows it).

usage: bench/plot.py RESULTS_DIR
"""
import json
import os
import re
import statistics
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def fanout_series(path):
    """mode -> {subscribers: median ns over repetitions}, subscribers >= 1."""
    with open(path) as f:
        gb = json.load(f)
    runs = defaultdict(list)
    for b in gb["benchmarks"]:
        m = re.match(r"fanout/(\w+)/subscribers:(\d+)/manual_time$", b.get("run_name", ""))
        if m and b.get("run_type") == "iteration" and not b.get("error_occurred") and int(m.group(2)) >= 1:
            scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
            runs[(m.group(1), int(m.group(2)))].append(b["real_time"] * scale)
    series = defaultdict(dict)
    for (mode, n), values in runs.items():
        series[mode][n] = statistics.median(values)
    return series


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    series = fanout_series(os.path.join(d, "sigkit_bench.json"))
    if not series:
        sys.exit("plot.py: no fanout results in " + d)
    fig, ax = plt.subplots(figsize=(8, 5))
    for mode, pts in sorted(series.items()):
        xs = sorted(pts)
        ax.plot(xs, [pts[n] for n in xs], marker="o", label=mode)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("subscribers (sigkit streams on one signal)")
    ax.set_ylabel("ns per delivery (tgkill, handler included)")
    ax.set_title("Fan-out: one delivery to n streams (median of repetitions)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    png = os.path.join(d, "fanout_scaling.png")
    fig.savefig(png, dpi=100, bbox_inches="tight")
    print(png)


if __name__ == "__main__":
    main()
