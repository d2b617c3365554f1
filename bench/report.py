#!/usr/bin/env python3
"""Turns one bench/run.sh output directory into the markdown tables of
bench/RESULTS.md, with ratios against the hand-written handler -> eventfd
path and a verdict for every target of issue 5.

usage: bench/report.py RESULTS_DIR

Every figure is computed from the files in RESULTS_DIR; nothing is typed in.
With repetitions, a benchmark's figure is the median over its repetitions.
"""
import json
import os
import re
import statistics
import sys
from collections import defaultdict

HAND = "hand_written_eventfd_epoll"


def load(path):
    with open(path) as f:
        return json.load(f)


def med(values):
    return statistics.median(values) if values else float("nan")


def fmt(x, digits=0):
    if x != x:  # nan
        return "–"
    if digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def ratio(a, b):
    if not b or a != a or b != b:
        return "–"
    return f"{a / b:.2f}x"


def verdict(ok):
    return "**met**" if ok else "**missed**"


def main():
    d = sys.argv[1]
    out = []
    p = out.append
    machine = open(os.path.join(d, "machine.txt")).read() if os.path.exists(os.path.join(d, "machine.txt")) else ""
    p("## Machine and run\n")
    p("```")
    p(machine.rstrip())
    p("```\n")

    gb = load(os.path.join(d, "sigkit_bench.json"))
    ctx = gb.get("context", {})
    p(f"Google Benchmark context: host `{ctx.get('host_name', '?')}`, {ctx.get('num_cpus', '?')} CPUs, "
      f"load average at start of sigkit_bench `{ctx.get('loadavg_at_start', '?')}`, "
      f"contenders: {ctx.get('contenders', '?')}.\n")

    # run_name -> list of iteration entries (one per repetition)
    runs = defaultdict(list)
    for b in gb["benchmarks"]:
        if b.get("run_type") == "iteration" and not b.get("error_occurred"):
            runs[b["run_name"]].append(b)
    errors = [b for b in gb["benchmarks"] if b.get("error_occurred")]

    def field(run, key):
        return med([r[key] for r in runs.get(run, []) if key in r])

    def to_ns(run, key):
        entries = runs.get(run, [])
        if not entries:
            return float("nan")
        unit = entries[0].get("time_unit", "ns")
        scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[unit]
        return med([r[key] * scale for r in entries])

    order = ctx.get("contenders", "").split(",")

    def rank(contender):
        return order.index(contender) if contender in order else len(order)

    def find(prefix):
        # In report order: contender as listed in the context, then name.
        names = [n for n in runs if n.startswith(prefix)]
        return sorted(names, key=lambda n: (rank(n.split("/")[1]) if n.count("/") else 0, n))

    targets = []
    t17_scaling = []

    # ---- 1. same thread
    p("## 1. Round trip, same thread (ns per signal; CPU time is the cost of the path)\n")
    p("`tgkill()` to the calling thread, then the contender's consumer path observes the delivery. "
      f"Median of {len(runs.get('round_trip_same_thread/' + HAND, []))} repetitions.\n")
    p("| contender | CPU ns/op | vs hand-written (CPU) | wall ns/op | vs hand-written (wall) |")
    p("|---|---:|---:|---:|---:|")
    st = {}
    for name in find("round_trip_same_thread/"):
        c = name.split("/", 1)[1]
        st[c] = (to_ns(name, "cpu_time"), to_ns(name, "real_time"))
    hand_cpu, hand_wall = st.get(HAND, (float("nan"), float("nan")))
    for c, (cpu, wall) in st.items():
        p(f"| {c} | {fmt(cpu)} | {ratio(cpu, hand_cpu)} | {fmt(wall)} | {ratio(wall, hand_wall)} |")
    p("")
    if "sigkit_stream_epoll" in st:
        r_epoll = st["sigkit_stream_epoll"][0] / hand_cpu
        r_recv = st["sigkit_stream"][0] / hand_cpu
        faster = all(st["sigkit_stream_epoll"][0] < st[o][0] for o in ("asio_signal_set", "libuv_signal") if o in st)
        targets.append(("Same-thread round trip within 1.1x of hand-written (same system calls: sigkit_stream_epoll)",
                        f"{r_epoll:.2f}x (sigkit_stream recv(): {r_recv:.2f}x)", r_epoll <= 1.1))
        targets.append(("Same-thread round trip faster than Asio and libuv",
                        ", ".join(f"{o}: {st[o][0] / st['sigkit_stream_epoll'][0]:.2f}x of sigkit_stream_epoll"
                                  for o in ("asio_signal_set", "libuv_signal") if o in st), faster))

    # ---- 2. two threads
    p("## 2. Round trip, two threads (µs; observer asleep before every send)\n")
    p("Latency from just before `tgkill()` in the sender to just after the observer's wait returned. "
      "`handler_on:observer`: the observer's thread takes the signal (interrupting its wait); "
      "`handler_on:sender`: the sender's thread runs the handler, which wakes the observer through the contender's fd; "
      "`dequeued_by:observer`: kernel floor, signal blocked everywhere. Median and p99 over 3000 sends per repetition "
      "(the table shows the median over repetitions of each); ratios are medians against the hand-written path with the "
      "same handler placement.\n")
    p("| contender | placement | 1 CPU median | 1 CPU p99 | 1 CPU vs hand | 2 CPUs median | 2 CPUs p99 | 2 CPUs vs hand | repetition medians (1 CPU; 2 CPUs) | pinned (same-CPU fraction 1 / 2) |")
    p("|---|---|---:|---:|---:|---:|---:|---:|---|---|")
    tt = {}
    spread = {}
    for name in find("round_trip_two_threads/"):
        parts = name.split("/")
        c, cpus, place = parts[1], parts[2].split(":")[1], parts[3]
        tt[(c, place, cpus)] = (field(name, "median_ns"), field(name, "p99_ns"), field(name, "same_cpu_fraction"))
        spread[(c, place, cpus)] = "/".join(f"{r['median_ns'] / 1e3:.1f}" for r in runs[name])
    rows = sorted({(c, place) for (c, place, _) in tt}, key=lambda k: (rank(k[0]), k[1]))
    for c, place in rows:
        one = tt.get((c, place, "1"), (float("nan"),) * 3)
        two = tt.get((c, place, "2"), (float("nan"),) * 3)
        hplace = place if place.startswith("handler_on") else "handler_on:observer"
        h1 = tt.get((HAND, hplace, "1"), (float("nan"),))[0]
        h2 = tt.get((HAND, hplace, "2"), (float("nan"),))[0]
        p(f"| {c} | {place} | {fmt(one[0] / 1e3, 1)} | {fmt(one[1] / 1e3, 1)} | {ratio(one[0], h1)} | "
          f"{fmt(two[0] / 1e3, 1)} | {fmt(two[1] / 1e3, 1)} | {ratio(two[0], h2)} | "
          f"{spread.get((c, place, '1'), '–')}; {spread.get((c, place, '2'), '–')} | {fmt(one[2], 2)} / {fmt(two[2], 2)} |")
    p("")
    for place in ("handler_on:observer", "handler_on:sender"):
        s = tt.get(("sigkit_stream", place, "1"))
        h = tt.get((HAND, place, "1"))
        if s and h:
            targets.append((f"One-CPU round trip within 1.1x of hand-written ({place}, median)",
                            f"{s[0] / h[0]:.2f}x (p99 {s[1] / h[1]:.2f}x)", s[0] / h[0] <= 1.1))

    # ---- 3. storm
    p("## 3. Storm (a sender process `sigqueue()`s SIGRTMIN+4 for 0.5 s)\n")
    p("Sender pinned to the second CPU, observer to the first. `sent` counts successful `sigqueue()` calls only "
      "(`eagain`: refused by RLIMIT_SIGPENDING, capped at "
      f"{ctx.get('storm_sigpending_cap', '?')} for this process so that other users of the machine keep theirs). "
      "`starved`: fraction of the 1 ms slots in which the sender was sending and the observer observed nothing; "
      "`longest` the longest run of such slots. `observer on CPU`: the observer thread's CPU time during the storm "
      "(handlers that run on its thread included); `cpu wait`: time it was runnable while another task had its CPU "
      "(with `handler on: helper` that task is mostly the helper thread, pinned to the same CPU and running the "
      "handlers; otherwise it is load from elsewhere). Median over 3 repetitions.\n")
    p("| contender | ring capacity | handler on | sent | seen/sent | dropped | (seen+dropped)/sent | eagain | starved | longest (ms) | observer on CPU (ms) | cpu wait (ms) |")
    p("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    storm = {}
    storm_names = sorted(find("storm/"), key=lambda n: ("handler_on:helper" in n, rank(n.split("/")[1]), n))
    for name in storm_names:
        parts = name.split("/")
        c = parts[1]
        cap = next((x.split(":")[1] for x in parts if x.startswith("capacity:")), "–")
        place = next((x for x in parts if x.startswith("handler_on:") or x.startswith("dequeued_by:")), "?")
        keys = ["sent", "seen", "dropped", "eagain", "seen_per_sent", "accounted_per_sent", "starved_fraction",
                "longest_starved_ms", "observer_oncpu_ms", "observer_waitcpu_ms"]
        storm[(c, cap, place)] = {k: field(name, k) for k in keys}
        v = storm[(c, cap, place)]
        p(f"| {c} | {cap} | {place.split(':')[1] if ':' in place else place} | {fmt(v['sent'])} | {fmt(v['seen_per_sent'], 3)} | "
          f"{fmt(v['dropped'])} | {fmt(v['accounted_per_sent'], 3)} | {fmt(v['eagain'])} | {fmt(v['starved_fraction'], 2)} | "
          f"{fmt(v['longest_starved_ms'])} | {fmt(v['observer_oncpu_ms'])} | {fmt(v['observer_waitcpu_ms'])} |")
    p("")
    big = storm.get(("sigkit_stream", str(1 << 20), "handler_on:observer"))
    small = storm.get(("sigkit_stream", "64", "handler_on:observer"))
    if big:
        targets.append(("Storm: seen/sent = 1.0 up to capacity (capacity 1M) and dropped() explaining every gap (capacity 64)",
                        f"seen/sent {big['seen_per_sent']:.3f}; capacity 64: (seen+dropped)/sent "
                        f"{small['accounted_per_sent']:.3f}" if small else f"{big['seen_per_sent']:.3f}",
                        big["seen_per_sent"] == 1.0 and (not small or small["accounted_per_sent"] == 1.0)))
        helper = storm.get(("sigkit_stream", str(1 << 20), "handler_on:helper"))
        targets.append(("Storm: observer never starved (handler on the observer's own thread)",
                        f"starved {big['starved_fraction']:.2f} of the storm, longest {big['longest_starved_ms']:.0f} ms"
                        + (f"; with the handler on a helper thread: {helper['starved_fraction']:.2f}, longest "
                           f"{helper['longest_starved_ms']:.0f} ms" if helper else ""),
                        big["longest_starved_ms"] <= 10))

    # ---- 4. fan-out
    p("## 4. Fan-out (ns for one delivery to n sigkit streams on one signal)\n")
    p("Timed: the `tgkill()` call, during which the kernel runs the handler to completion for every subscriber. "
      "`subscribers:0` is an empty `SA_SIGINFO` handler (the kernel's own cost). `drained`: every consumer has drained "
      "its wakeup, so each subscriber costs an `eventfd` write; `pending`: wakeups still pending, no system call.\n")
    p("`shared_drained`: as drained, but the n streams share one `wakeup_group` (one event loop serves them), so one "
      "`eventfd` write per delivery in all.\n")
    counts = (0, 1, 8, 64, 256, 1024)
    p("| mode | " + " | ".join("0 (empty handler)" if n == 0 else str(n) for n in counts)
      + " | per extra subscriber (1 -> 256) | per extra subscriber (1 -> 1024) |")
    p("|---|" + "---:|" * (len(counts) + 2))
    per_sub = {}
    for mode in ("drained", "pending", "shared_drained"):
        vals = {n: to_ns(f"fanout/{mode}/subscribers:{n}/manual_time", "real_time") for n in counts}
        per_sub[mode] = (vals[256] - vals[1]) / 255
        per_1024 = (vals[1024] - vals[1]) / 1023
        p(f"| {mode} | " + " | ".join(fmt(vals[n]) for n in counts)
          + f" | {fmt(per_sub[mode], 1)} | {fmt(per_1024, 1)} |")
    p("")

    # ---- 4b. distinct signals
    dist_counts = (1, 2, 4, 8, 16, 32)
    rt_d = {k: to_ns(f"distinct_signals/round_trip/signals:{k}", "cpu_time") for k in dist_counts}
    hd_d = {k: to_ns(f"distinct_signals/handler/signals:{k}/manual_time", "real_time") for k in dist_counts}
    if any(v == v for v in rt_d.values()):
        p("## 4b. Distinct signals (ns; k signals subscribed, one stream each, SIGUSR1 delivered)\n")
        p("`round trip`: `tgkill()` to this thread, then `recv()` on SIGUSR1's stream (CPU time, as in 1.); "
          "`handler`: the `tgkill()` alone (the kernel runs the handler inside it). The other k-1 streams are on "
          "SIGRTMIN, SIGRTMIN+1, ...; flat means a signal's cost does not depend on what else is subscribed.\n")
        p("| measure | " + " | ".join(str(k) for k in dist_counts) + " | per added signal (1 -> 32) | 32 vs 1 |")
        p("|---|" + "---:|" * (len(dist_counts) + 2))
        for label, vals in (("round trip", rt_d), ("handler", hd_d)):
            p(f"| {label} | " + " | ".join(fmt(vals[k]) for k in dist_counts)
              + f" | {fmt((vals[32] - vals[1]) / 31, 1)} | {ratio(vals[32], vals[1])} |")
        p("")
        t17_scaling.append(("Scaling: round trip and handler cost flat against distinct signals subscribed "
                            "(32 signals within 1.1x of 1)",
                            f"round trip {rt_d[32] / rt_d[1]:.2f}x, handler {hd_d[32] / hd_d[1]:.2f}x",
                            rt_d[32] / rt_d[1] <= 1.1 and hd_d[32] / hd_d[1] <= 1.1))

    # ---- 4c. storm against senders
    ss = {}
    for name in find("storm_senders/"):
        parts = name.split("/")
        c, senders = parts[1], int(parts[2].split(":")[1])
        keys = ["sent_per_ms", "seen_per_ms", "seen_per_sent", "accounted_per_sent", "dropped", "eagain",
                "starved_fraction", "longest_starved_ms"]
        ss[(c, senders)] = {k: field(name, k) for k in keys}
    if ss:
        p("## 4c. Storm throughput against sender threads (one sender process, its threads on the second CPU)\n")
        p("As in 3. (observer on the first CPU takes every delivery on its own thread, ring capacity 2^20), with 1 to "
          "8 threads sending at once. `seen/ms`: deliveries the observer took per ms of storm; `sent/ms`: accepted "
          "`sigqueue()` calls per ms (EAGAIN excluded). Median over 3 repetitions.\n")
        p("| contender | senders | sent/ms | seen/ms | seen/ms vs 1 sender | (seen+dropped)/sent | eagain | starved | longest (ms) |")
        p("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for (c, n) in sorted(ss, key=lambda k: (rank(k[0]), k[1])):
            v, one = ss[(c, n)], ss.get((c, 1), {})
            p(f"| {c} | {n} | {fmt(v['sent_per_ms'])} | {fmt(v['seen_per_ms'])} | "
              f"{ratio(v['seen_per_ms'], one.get('seen_per_ms', float('nan')))} | {fmt(v['accounted_per_sent'], 3)} | "
              f"{fmt(v['eagain'])} | {fmt(v['starved_fraction'], 2)} | {fmt(v['longest_starved_ms'])} |")
        p("")
        # Each sigkit queue against its own floor: the ring stream against the
        # hand-written handler (every handler-based design pays for each
        # delivery on the observer's thread), the kernel-queue stream against
        # the signalfd read.
        for c, base_name in (("sigkit_stream", HAND), ("sigkit_stream_kernel", "kernel_signalfd_read")):
            a8, a1 = ss.get((c, 8)), ss.get((c, 1))
            b8, b1 = ss.get((base_name, 8)), ss.get((base_name, 1))
            if a8 and a1 and b8 and b1:
                mine, base = a8["seen_per_ms"] / a1["seen_per_ms"], b8["seen_per_ms"] / b1["seen_per_ms"]
                t17_scaling.append((f"Scaling: {c} storm throughput from 1 to 8 senders keeps pace with "
                                    f"{base_name} (8/1 ratio >= 0.9x its 8/1 ratio); nothing lost",
                                    f"seen/ms 8 vs 1 sender {mine:.2f}x ({base_name} {base:.2f}x); "
                                    f"(seen+dropped)/sent {a8['accounted_per_sent']:.3f}",
                                    mine >= 0.9 * base and a8["accounted_per_sent"] == 1.0))

    # ---- 5. registration
    p("## 5. Registration\n")
    p("| what | ns/op (wall) | ns/op (CPU) |")
    p("|---|---:|---:|")
    for name in find("registration/"):
        if "streams_alive" in name:
            continue
        p(f"| {name.split('/', 1)[1]} | {fmt(to_ns(name, 'real_time'))} | {fmt(to_ns(name, 'cpu_time'))} |")
    many = find("registration/streams_alive")
    if many:
        n = many[0]
        p(f"\n1000 streams alive on one signal: create {fmt(field(n, 'create_total_us') / 1e3, 1)} ms in total "
          f"({fmt(field(n, 'create_per_stream_ns'))} ns per stream), destroy (newest first) "
          f"{fmt(field(n, 'destroy_total_us') / 1e3, 1)} ms ({fmt(field(n, 'destroy_per_stream_ns'))} ns per stream).\n")

    # ---- 6. handler cost
    hc_path = os.path.join(d, "handler_cost.json")
    if os.path.exists(hc_path):
        hc = load(hc_path)
        ir = hc["instructions_per_delivery"]
        p("## 6. Handler cost (callgrind instructions per delivery, user space; strace write() counts)\n")
        before_path = os.path.join(d, "handler_cost_before_handler_change.json")
        before = load(before_path)["instructions_per_delivery"] if os.path.exists(before_path) else None
        b = (lambda k: f" {before[k]} |") if before else (lambda k: "")
        p("| path | instructions | vs hand-written |" + (" before the handler change (482f7b0) |" if before else ""))
        p("|---|---:|---:|" + ("---:|" if before else ""))
        p(f"| hand-written handler (store siginfo + eventfd write) | {ir['hand_written']} | 1.00x |" + b("hand_written"))
        p(f"| sigkit, 1 stream, consumer drained (eventfd write) | {ir['sigkit_1_drained']} | {ratio(ir['sigkit_1_drained'], ir['hand_written'])} |" + b("sigkit_1_drained"))
        p(f"| sigkit, 1 stream, wakeup pending (no system call) | {ir['sigkit_1_pending']} | {ratio(ir['sigkit_1_pending'], ir['hand_written'])} |" + b("sigkit_1_pending"))
        p(f"| sigkit, 256 streams, drained | {ir['sigkit_256_drained']} | |" + b("sigkit_256_drained"))
        p(f"| sigkit, 256 streams, pending | {ir['sigkit_256_pending']} | |" + b("sigkit_256_pending"))
        if "sigkit_distinct_31_drained" in ir:
            p(f"| sigkit, 1 stream, 1 signal subscribed in all, drained | {ir['sigkit_distinct_1_drained']} | |" + b("sigkit_1_drained"))
            p(f"| sigkit, 1 stream, 31 distinct signals subscribed, drained | {ir['sigkit_distinct_31_drained']} | |" + (" – |" if before else ""))
        ps = hc["per_extra_subscriber_instructions"]
        w = hc["wakeup_writes_for_100_deliveries"]
        p(f"\nPer extra subscriber: {ps['drained']} instructions when drained (plus one `write()` system call), "
          f"{ps['pending']} when the wakeup is pending.\n")
        p(f"`write()` calls to the wakeup descriptor for 100 deliveries: sigkit with the wakeup pending **{w['sigkit_pending']}**, "
          f"sigkit drained after every delivery {w['sigkit_drained']}, hand-written {w['hand_written']}.\n")
        if "sigkit_256_shared_drained" in w:
            p(f"256 streams sharing a `wakeup_group`, drained after every delivery: **{w['sigkit_256_shared_drained']}** "
              "`write()` calls for 100 deliveries (handler and consumer together).\n")
        if "per_extra_distinct_signal_instructions" in hc:
            p(f"Per extra distinct signal subscribed elsewhere: {hc['per_extra_distinct_signal_instructions']} "
              "instructions in the handler.\n")
        targets.append(("No system call in the handler when a wakeup is already pending",
                        f"{w['sigkit_pending']} write() for 100 deliveries", hc["no_syscall_when_pending"] == "PASS"))
        targets.append(("Fan-out: cost per extra subscriber below 100 ns in the handler",
                        f"wakeups pending: {per_sub['pending']:.0f} ns ({ps['pending']} instructions); consumers drained: "
                        f"{per_sub['drained']:.0f} ns ({ps['drained']} instructions + one eventfd write each)",
                        per_sub["pending"] < 100 and per_sub["drained"] < 100))

    # ---- issue 17 targets that use sections 1-4 (forwarding ones below)
    t17 = []
    kq, floor_rd = st.get("sigkit_stream_kernel"), st.get("kernel_signalfd_read")
    if kq and floor_rd:
        k1 = tt.get(("sigkit_stream_kernel", "dequeued_by:observer", "1"))
        f1 = tt.get(("kernel_signalfd_read", "dequeued_by:observer", "1"))
        one_cpu = f"; one CPU median {k1[0] / f1[0]:.2f}x" if k1 and f1 else ""
        t17.append(("Kernel-queue stream round trip <= 1.1x the signalfd-read floor (same thread; one CPU)",
                    f"same thread {kq[0] / floor_rd[0]:.2f}x (CPU time){one_cpu}",
                    kq[0] / floor_rd[0] <= 1.1 and (not (k1 and f1) or k1[0] / f1[0] <= 1.1)))
    ks = storm.get(("sigkit_stream_kernel", "–", "dequeued_by:observer"))
    fs = storm.get(("kernel_sigwaitinfo", "–", "dequeued_by:observer"))
    if ks and fs:
        t17.append(("Storm, kernel-queue stream: starved fraction and longest starvation no worse than sigwaitinfo; "
                    "received + refused == sent",
                    f"starved {ks['starved_fraction']:.2f} vs {fs['starved_fraction']:.2f}, longest "
                    f"{ks['longest_starved_ms']:.0f} vs {fs['longest_starved_ms']:.0f} ms; seen/sent "
                    f"{ks['seen_per_sent']:.3f} (sent counts accepted sigqueue() calls; EAGAIN {ks['eagain']:.0f})",
                    ks["starved_fraction"] <= fs["starved_fraction"] and ks["longest_starved_ms"] <= fs["longest_starved_ms"]
                    and ks["seen_per_sent"] == 1.0))
    if per_sub.get("shared_drained", float("nan")) == per_sub.get("shared_drained", float("nan")):
        t17.append(("Fan-out with a shared wakeup, drained consumers: < 100 ns per extra subscriber",
                    f"{per_sub['shared_drained']:.0f} ns (1 -> 256)", per_sub["shared_drained"] < 100))
    for place in ("handler_on:observer", "handler_on:sender"):
        sk, hd = tt.get(("sigkit_stream", place, "1")), tt.get((HAND, place, "1"))
        if sk and hd:
            t17.append((f"Handler-path stream, one CPU ({place}): <= 1.0x hand-written (median)",
                        f"{sk[0] / hd[0]:.2f}x", sk[0] / hd[0] <= 1.0))

    # ---- 7. forwarding
    fl_path = os.path.join(d, "forward_latency.json")
    if os.path.exists(fl_path):
        fl = load(fl_path)
        p("## 7. Forwarding: kill(forwarder, SIGTERM) -> the child observes it (µs)\n")
        p(f"{fl['context']['iterations']} SIGTERMs per forwarder and pinning, the forwarders taking turns. "
          f"`same`: forwarder and child on CPU {fl['context']['other_cpu']}; `split`: forwarder on CPU "
          f"{fl['context']['other_cpu']}, child on CPU {fl['context']['this_cpu']}; the sender always on CPU "
          f"{fl['context']['this_cpu']}.\n")
        p("| forwarder | pin | median | p90 | p99 | min | median vs floor | min vs floor | allowed CPUs (forwarder / child) |")
        p("|---|---|---:|---:|---:|---:|---:|---:|---|")
        floor = {r["pin"]: r for r in fl["results"] if r["forwarder"] == "floor"}
        for r in fl["results"]:
            f = floor.get(r["pin"])
            p(f"| {r['forwarder']} | {r['pin']} | {fmt(r['median_ns'] / 1e3, 1)} | {fmt(r['p90_ns'] / 1e3, 1)} | "
              f"{fmt(r['p99_ns'] / 1e3, 1)} | {fmt(r['min_ns'] / 1e3, 1)} | {ratio(r['median_ns'], f['median_ns'])} | "
              f"{ratio(r['min_ns'], f['min_ns'])} | {r['forwarder_cpus_allowed']} / {r['child_cpus_allowed']} |"
              + (f" ERROR: {r['error']}" if r["error"] else ""))
        p("")
        for pin in ("same", "split"):
            s = next((r for r in fl["results"] if r["forwarder"] == "sigkit-run" and r["pin"] == pin), None)
            if s and pin in floor:
                rr = s["median_ns"] / floor[pin]["median_ns"]
                targets.append((f"Forwarding within 1.1x of the floor when pinned ({pin} CPU)",
                                f"median {rr:.2f}x, p99 {s['p99_ns'] / floor[pin]['p99_ns']:.2f}x, "
                                f"min {s['min_ns'] / floor[pin]['min_ns']:.2f}x", rr <= 1.1))

    if os.path.exists(fl_path):
        by = {(r["forwarder"], r["pin"]): r for r in fl["results"] if not r["error"]}
        for pin in ("same", "split"):
            sk = by.get(("sigkit-run", pin))
            peers = [(n, by[(n, pin)]) for n in ("tini", "dumb-init") if (n, pin) in by]
            if sk and peers:
                t17.append((f"sigkit-run forwarding <= tini and <= dumb-init ({pin} CPU, median)",
                            ", ".join(f"{sk['median_ns'] / r['median_ns']:.2f}x {n} (p99 "
                                      f"{sk['p99_ns'] / r['p99_ns']:.2f}x)" for n, r in peers),
                            all(sk["median_ns"] <= r["median_ns"] for _, r in peers)))

    # ---- targets
    p("## Targets of issue 17 (this run)\n")
    p("| target | measured | verdict |")
    p("|---|---|---|")
    for t, m, ok in t17 + t17_scaling:
        p(f"| {t} | {m} | {verdict(ok)} |")
    p("")
    p("## Targets of issue 5\n")
    p("| target | measured | verdict |")
    p("|---|---|---|")
    for t, m, ok in targets:
        p(f"| {t} | {m} | {verdict(ok)} |")
    p("")
    if errors:
        p("Benchmarks that reported an error:\n")
        for b in errors:
            p(f"- `{b['name']}`: {b.get('error_message', '?')}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
