#!/usr/bin/env python3
"""The spread of sigkit-run's forwarding ratios over several forward_latency runs.

    bench/forward_spread.py RUN.json [RUN.json ...]

Each RUN.json is what `forward_latency --json` writes: one interleaved run of
every forwarder, pinned to one CPU ("same") and to two ("split"). For each
run and placement: sigkit-run's median and p99 divided by each peer's (the
floor forwarder, tini, dumb-init) from the same run. Prints every run's
ratio, their median and range. A ratio at or below 1.00 is as fast or faster.
"""
import json
import statistics
import sys

PEERS = ["floor", "tini", "dumb-init"]
SUBJECT = "sigkit-run"


def load(path):
    out = {}
    for r in json.load(open(path))["results"]:
        if r.get("error"):
            continue
        out[(r["forwarder"], r["pin"])] = r
    return out


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    runs = [load(p) for p in paths]
    print(f"sigkit-run against each peer, ratio per run ({len(runs)} runs)\n")
    print("| placement | statistic | against | median | range | every run |")
    print("|---|---|---|---:|---|---|")
    for pin in ("same", "split"):
        for stat in ("median_ns", "p99_ns"):
            for peer in PEERS:
                ratios = [r[(SUBJECT, pin)][stat] / r[(peer, pin)][stat]
                          for r in runs if (SUBJECT, pin) in r and (peer, pin) in r]
                if not ratios:
                    continue
                where = "one CPU" if pin == "same" else "split"
                print(f"| {where} | {stat[:-3]} | {peer} | {statistics.median(ratios):.2f}x | "
                      f"{min(ratios):.2f}-{max(ratios):.2f} | {' '.join(f'{x:.2f}' for x in ratios)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
