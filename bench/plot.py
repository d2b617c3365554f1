#!/usr/bin/env python3
"""Draws the scaling curves of one bench/run.sh output directory from its
sigkit_bench.json, the median over repetitions of each point:

  fanout_scaling.png    fan-out cost (ns for one delivery, handler included)
                        against subscribers, one line per mode (drained,
                        pending, shared_drained); both axes logarithmic
  distinct_signals.png  round trip and handler cost against the number of
                        distinct signals subscribed
  storm_senders.png     storm throughput (deliveries taken per ms) against
                        sender threads, one line per contender

Needs matplotlib (Debian: python3-matplotlib; run it with the system python3
if another one shadows it). A figure whose benchmarks are missing from the
JSON is skipped with a message.

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

SCALE = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}


def series(gb, pattern, value):
    """{group: {x: median}} over the iteration runs whose run_name matches
    `pattern` (groups: 1 = line, 2 = x); `value(run)` gives the y value."""
    runs = defaultdict(list)
    for b in gb["benchmarks"]:
        m = re.match(pattern, b.get("run_name", ""))
        if m and b.get("run_type") == "iteration" and not b.get("error_occurred"):
            runs[(m.group(1), int(m.group(2)))].append(value(b))
    out = defaultdict(dict)
    for (line, x), values in runs.items():
        out[line][x] = statistics.median(values)
    return out


def ns(key):
    return lambda b: b[key] * SCALE[b.get("time_unit", "ns")]


def draw(d, name, lines, xlabel, ylabel, title, xlog=True, ylog=False):
    if not lines:
        print(f"plot.py: no data for {name} in {d}", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(8, 5))
    for label, pts in sorted(lines.items()):
        xs = sorted(pts)
        ax.plot(xs, [pts[x] for x in xs], marker="o", label=label)
    if xlog:
        ax.set_xscale("log", base=2)
    if ylog:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    png = os.path.join(d, name)
    fig.savefig(png, dpi=100, bbox_inches="tight")
    plt.close(fig)
    print(png)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    with open(os.path.join(d, "sigkit_bench.json")) as f:
        gb = json.load(f)
    fan = series(gb, r"fanout/(\w+)/subscribers:(\d+)/manual_time$", ns("real_time"))
    fan = {mode: {n: v for n, v in pts.items() if n >= 1} for mode, pts in fan.items()}
    draw(d, "fanout_scaling.png", fan, "subscribers (sigkit streams on one signal)",
         "ns per delivery (tgkill, handler included)", "Fan-out: one delivery to n streams (median of repetitions)",
         ylog=True)
    dist = {}
    dist.update(series(gb, r"distinct_signals/(round_trip)/signals:(\d+)$", ns("cpu_time")))
    dist.update(series(gb, r"distinct_signals/(handler)/signals:(\d+)/manual_time$", ns("real_time")))
    draw(d, "distinct_signals.png", dist, "distinct signals subscribed (one stream each)",
         "ns (round trip: CPU time; handler: the tgkill)",
         "SIGUSR1 with k signals subscribed (median of repetitions)")
    storm = series(gb, r"storm_senders/(\w+)/senders:(\d+)/", lambda b: b["seen_per_ms"])
    draw(d, "storm_senders.png", storm, "sender threads (one process, on the other CPU)",
         "deliveries taken per ms of storm", "Storm throughput against senders (median of 3 repetitions)")


if __name__ == "__main__":
    main()
