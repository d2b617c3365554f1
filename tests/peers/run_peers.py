#!/usr/bin/env python3
"""Runs tini's and dumb-init's own test suites against the peers themselves
and against sigkit-run (through sigkit-run-as-tini / sigkit-run-as-dumb-init,
which translate the peers' options), and prints a table per test.

    run_peers.py --sigkit-run build/dev/tools/sigkit-run/sigkit-run \\
                 --peers-dir /path/with/tini-and-dumb-init [--repeat 3]

The peers' sources are not part of sigkit: --peers-dir (or the environment
variable SIGKIT_PEERS_DIR) names a folder holding clones of tini
(github.com/krallin/tini) and dumb-init (github.com/Yelp/dumb-init) as
`tini/` and `dumb-init/`. Without it, or without the Python modules the
suites need, this script says why and exits 77 (ctest: skipped).

The peers are built from those sources into --work-dir (tini with its own
CMake, dumb-init with the compiler command of its Makefile), unless
--tini-bin / --dumb-init-bin name binaries to test instead (e.g. the Debian
packages' /usr/bin/tini).

How each suite is run, unchanged:
- dumb-init: `python3 -m pytest tests/` in its source folder, with a folder
  holding `dumb-init` (the peer, or the wrapper) first in PATH, plus the
  plugin peers_pytest_plugin.py for the per-test results and the clean-up
  between tests. Its pytest.ini's 20 s timeout needs pytest-timeout.
- dumb-init's tests/test-zombies (a script its CI runs with dumb-init as
  PID 1 of a container): run here as PID 1 of a new pid namespace
  (`unshare --pid --fork --mount-proc`, root only; left out otherwise).
- tini: test/run_inner_tests.py with SOURCE_DIR, BUILD_DIR (a folder with
  `tini`, the peer or the wrapper, and its sigconf-test helper) and
  FORCE_SUBREAPER=1, through tini_driver.py, which reports each of its tests
  on its own (see there); once more unchanged as a whole.
- Both: `python`/`python3` in PATH are this interpreter (the scripts'
  `#!/usr/bin/env python` must find psutil and prctl); tini's script
  imports PyPI's `bitmap`, for which pymodules/bitmap.py stands in.

This script is a child subreaper while it runs: what the suites leave
behind comes to it, is reaped, and is killed at the end.

--expect FILE (known-differences.txt) turns the table into a check: exit 1
if sigkit-run fails a test that the file does not list, passes one that it
lists as failing, or if a peer fails its own test (unless listed as flaky).
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, HERE)
import peers_common  # noqa: E402

SKIP = 77
SUITES = ("dumb-init", "tini")
TARGETS = ("peer", "sigkit-run")


def skip(why):
    print("peers: skipped: " + why)
    sys.exit(SKIP)


def log(text):
    print("peers: " + text, flush=True)


# ---------------------------------------------------------------- set-up


def check_prerequisites(suites):
    missing = []
    modules = {"psutil": "python3-psutil"}
    if "dumb-init" in suites:
        modules.update({"pytest": "python3-pytest", "pytest_timeout": "python3-pytest-timeout"})
    if "tini" in suites:
        modules.update({"prctl": "python3-prctl"})
    for module, package in sorted(modules.items()):
        try:
            __import__(module)
        except ImportError:
            missing.append("%s (apt-get install %s)" % (module, package))
    for tool in ["bash", "getopt", "cc"] + (["cmake"] if "tini" in suites else []):
        if shutil.which(tool) is None:
            missing.append("the program " + tool)
    if missing:
        skip("%s lacks %s" % (sys.executable, ", ".join(missing)))


def newer(target, *sources):
    return os.path.exists(target) and all(os.path.getmtime(target) >= os.path.getmtime(s) for s in sources)


def run_checked(cmd, **kwargs):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, **kwargs)
    if r.returncode != 0:
        sys.exit("peers: %s failed:\n%s" % (" ".join(cmd), r.stdout))


def build_tini(src, work):
    out = os.path.join(work, "tini-build")
    tini = os.path.join(out, "tini")
    sigconf = os.path.join(out, "sigconf-test")
    if not newer(tini, os.path.join(src, "src", "tini.c")):
        log("building tini from " + src)
        run_checked(["cmake", "-S", src, "-B", out, "-DCMAKE_BUILD_TYPE=Release"])
        run_checked(["cmake", "--build", out, "--target", "tini"])
    if not newer(sigconf, os.path.join(src, "test", "sigconf", "sigconf-test.c")):
        run_checked(["cc", "-o", sigconf, os.path.join(src, "test", "sigconf", "sigconf-test.c")])
    return tini, sigconf


def build_dumb_init(src, work):
    out = os.path.join(work, "dumb-init-build")
    os.makedirs(out, exist_ok=True)
    binary = os.path.join(out, "dumb-init")
    source = os.path.join(src, "dumb-init.c")
    if not newer(binary, source):
        log("building dumb-init from " + src)
        # The flags of its Makefile's `build` target.
        run_checked(["cc", "-std=gnu99", "-static", "-s", "-Wall", "-Werror", "-O3", "-o", binary, source], cwd=src)
    return binary


def link(folder, name, target):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    if os.path.lexists(path):
        os.remove(path)
    os.symlink(target, path)
    return path


def base_env(work, sigkit_run, log_file):
    """PATH starts with `python`/`python3` = this interpreter."""
    shims = os.path.join(work, "python-shims")
    link(shims, "python", sys.executable)
    link(shims, "python3", sys.executable)
    env = dict(os.environ)
    env.update(
        {
            "PATH": shims + os.pathsep + env.get("PATH", "/usr/bin:/bin"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "SIGKIT_RUN": sigkit_run,
            "SIGKIT_PEERS_LOG": log_file,
        }
    )
    for var in ("SIGKIT_PEERS_TEST", "PYTEST_ADDOPTS", "DUMB_INIT_DEBUG", "DUMB_INIT_SETSID", "TINI_SUBREAPER",
                "TINI_VERBOSITY", "TINI_KILL_PROCESS_GROUP", "POSIXLY_CORRECT"):
        env.pop(var, None)
    return env


def run_reaping(cmd, timeout, **kwargs):
    """Runs cmd, reaping the orphans that come to this subreaper meanwhile;
    kills its whole tree after `timeout` s. Returns (returncode, output)."""
    out = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, universal_newlines=True, **kwargs)
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        peers_common.reap_zombie_children(keep=(proc.pid,))
        if time.monotonic() > deadline:
            log("%s: no end after %d s: killing it" % (cmd[0], timeout))
            peers_common.end_leftovers(proc.pid, grace=0, reap=False)
            proc.kill()
            proc.wait()
            break
        time.sleep(0.1)
    peers_common.end_leftovers(os.getpid(), grace=1.0, reap=True)
    out.seek(0)
    return proc.returncode, out.read()


def read_notes(log_file):
    """{test id: [note, ...]} from the wrappers' log."""
    notes = {}
    if os.path.exists(log_file):
        with open(log_file) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 3:
                    test, kind, detail = parts
                    note = "%s %s" % (kind, detail)
                    if note not in notes.setdefault(test, []):
                        notes[test].append(note)
        os.remove(log_file)
    return notes


# ---------------------------------------------------------------- suites


def fresh(*paths):
    for path in paths:
        if os.path.exists(path):
            os.remove(path)


def run_suite(what, cmd, result_file, log_file, args, **kwargs):
    """Runs one process that writes its results to result_file; returns
    them, each with the wrappers' notes."""
    code, output = run_reaping(cmd, args.suite_timeout, **kwargs)
    if args.verbose:
        print(output)
    if not os.path.exists(result_file):
        sys.exit("peers: %s wrote no results (exit %s):\n%s" % (what, code, output[-3000:]))
    with open(result_file) as f:
        results = json.load(f)
    notes = read_notes(log_file)
    for test, r in results.items():
        r["notes"] = notes.get(test, [])
    return results


def run_dumb_init(src, binary, target, work, sigkit_run, args):
    bindir = os.path.join(work, "dumb-init-as-" + target)
    link(bindir, "dumb-init", binary)
    log_file = os.path.join(work, "notes-dumb-init-%s.tsv" % target)
    result_file = os.path.join(work, "result-dumb-init-%s.json" % target)
    fresh(log_file, result_file)
    env = base_env(work, sigkit_run, log_file)
    env["PATH"] = bindir + os.pathsep + env["PATH"]
    env["PYTHONPATH"] = HERE + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["SIGKIT_PEERS_RESULT"] = result_file
    cmd = [sys.executable, "-m", "pytest", "-p", "peers_pytest_plugin", "-p", "no:cacheprovider", "-q", "-rN"]
    if args.k:
        cmd += ["-k", args.k]
    cmd.append("tests")
    log("dumb-init's suite against %s (%s)" % (target, binary))
    results = run_suite("dumb-init's pytest", cmd, result_file, log_file, args, cwd=src, env=env)
    if args.pid1:
        results.update(run_test_zombies(src, binary, target, work, sigkit_run))
    return results


def run_test_zombies(src, binary, target, work, sigkit_run):
    """dumb-init's tests/test-zombies, as PID 1 of a new pid namespace."""
    name = "tests/test-zombies (as PID 1: unshare --pid --fork --mount-proc)"
    log_file = os.path.join(work, "notes-pid1-%s.tsv" % target)
    env = base_env(work, sigkit_run, log_file)
    env["SIGKIT_PEERS_TEST"] = name
    cmd = ["unshare", "--pid", "--fork", "--mount-proc", binary, os.path.join(src, "tests", "test-zombies")]
    code, output = run_reaping(cmd, 60, env=env)
    outcome = "passed" if code == 0 else "failed"
    message = "" if code == 0 else "exit %d: %s" % (code, (output.strip().splitlines() or [""])[-1][:200])
    return {name: {"outcome": outcome, "message": message, "left": [], "notes": read_notes(log_file).get(name, [])}}


def run_tini(src, binary, sigconf, target, work, sigkit_run, args):
    build = os.path.join(work, "tini-as-" + target)
    link(build, "tini", binary)
    link(build, "sigconf-test", sigconf)
    results = {}
    for whole in ([False, True] if not args.k else [False]):
        log_file = os.path.join(work, "notes-tini-%s.tsv" % target)
        result_file = os.path.join(work, "result-tini-%s.json" % target)
        fresh(log_file, result_file)
        env = base_env(work, sigkit_run, log_file)
        env.update(
            {
                "SOURCE_DIR": src,
                "BUILD_DIR": build,
                "FORCE_SUBREAPER": "1",
                "PYTHONPATH": os.path.join(HERE, "pymodules") + os.pathsep + HERE,
            }
        )
        cmd = [sys.executable, os.path.join(HERE, "tini_driver.py"), "--script",
               os.path.join(src, "test", "run_inner_tests.py"), "--result", result_file,
               "--timeout", str(args.test_timeout * (8 if whole else 1))]
        if whole:
            cmd.append("--whole")
        log("tini's suite against %s (%s)%s" % (target, binary, ", unchanged, as a whole" if whole else ""))
        part = run_suite("tini's driver", cmd, result_file, log_file, args, cwd=src, env=env)
        for test, r in part.items():
            if not args.k or any(w.lower() in test.lower() for w in args.k.split(" or ")):
                results[test] = r
    return results


# ---------------------------------------------------------------- results


def cell(runs):
    """One table cell from the runs of one test with one target."""
    if not runs:
        return "-"
    notes = sorted({n for r in runs for n in r.get("notes", [])})
    option = [n for n in notes if n.startswith(("unsupported", "lacks"))]
    if option:
        return "; ".join(option)
    outcomes = [r["outcome"] for r in runs]
    passed = outcomes.count("passed")
    if passed == len(outcomes):
        text = "pass"
    elif passed == 0:
        kinds = sorted(set(outcomes))
        text = "FAIL" if kinds == ["failed"] else "FAIL (%s)" % ", ".join(kinds)
    else:
        text = "flaky: %d/%d pass" % (passed, len(outcomes))
    if len(outcomes) > 1:
        text += " ×%d" % len(outcomes) if passed in (0, len(outcomes)) else ""
    return text


def category(runs):
    """passed / failed / flaky / unsupported / skipped / missing."""
    if not runs:
        return "missing"
    if any(n.startswith(("unsupported", "lacks")) for r in runs for n in r.get("notes", [])):
        return "unsupported"
    outcomes = [r["outcome"] for r in runs]
    if all(o == "skipped" for o in outcomes):
        return "skipped"
    passed = outcomes.count("passed")
    if passed == len(outcomes):
        return "passed"
    return "failed" if passed == 0 else "flaky"


def load_expectations(path):
    """[(who, suite, pattern, kind, reason)] from known-differences.txt."""
    out = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = [p.strip() for p in line.split(" | ")]
            if len(parts) != 5 or parts[0] not in TARGETS or parts[1] not in SUITES or parts[3] not in (
                "fail", "flaky", "unsupported"
            ):
                sys.exit("peers: %s:%d: want 'peer|sigkit-run | suite | test id (* wildcard) | "
                         "fail|flaky|unsupported | reason'" % (path, number))
            out.append(tuple(parts))
    return out


def matches(pattern, test):
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), test) is not None


def check(table, expectations):
    """Problems: results the expectations do not account for."""
    problems = []
    used = set()
    for (suite, test), by_target in sorted(table.items()):
        for target in TARGETS:
            cat = category(by_target.get(target, []))
            expect = None
            for i, (who, s, pattern, kind, _) in enumerate(expectations):
                if who == target and s == suite and matches(pattern, test):
                    expect, _ = kind, used.add(i)
                    break
            if cat in ("passed", "skipped", "missing"):
                if expect == "fail" and cat == "passed":
                    problems.append("%s %s: %s now passes: take it off the list" % (target, suite, test))
                continue
            if expect is None:
                problems.append("%s %s: %s: %s, and not listed" % (target, suite, test, cell(by_target[target])))
            elif expect == "unsupported" and cat != "unsupported":
                problems.append("%s %s: %s: listed as unsupported, but %s" % (target, suite, test, cell(by_target[target])))
            elif expect == "fail" and cat not in ("failed", "flaky"):
                problems.append("%s %s: %s: listed as failing, but %s" % (target, suite, test, cell(by_target[target])))
    return problems


def group_key(test):
    """Parametrized pytest ids share a row in the grouped table."""
    return re.sub(r"\[.*\]$", "", test)


def print_table(table, grouped):
    print("| suite | test | peer | sigkit-run |")
    print("|---|---|---|---|")
    if not grouped:
        for (suite, test), by_target in sorted(table.items()):
            print("| %s | %s | %s | %s |" % (suite, test.replace("|", "\\|"), cell(by_target.get("peer", [])),
                                            cell(by_target.get("sigkit-run", []))))
        return
    groups = {}
    for (suite, test), by_target in sorted(table.items()):
        groups.setdefault((suite, group_key(test)), []).append((test, by_target))
    for (suite, key), members in sorted(groups.items()):
        cols = []
        for target in TARGETS:
            counts = {}
            for test, by_target in members:
                counts.setdefault(cell(by_target.get(target, [])), []).append(test)
            if len(counts) == 1:
                cols.append(next(iter(counts)))
            else:
                cols.append("; ".join("%s (%d of %d)" % (c, len(ts), len(members)) for c, ts in sorted(counts.items())))
        name = key if len(members) == 1 else "%s[...] (%d variants)" % (key, len(members))
        print("| %s | %s | %s | %s |" % (suite, name.replace("|", "\\|"), cols[0], cols[1]))


def summary(table):
    lines = []
    for suite in SUITES:
        for target in TARGETS:
            counts = {}
            for (s, _), by_target in table.items():
                if s == suite and by_target.get(target):
                    c = category(by_target[target])
                    counts[c] = counts.get(c, 0) + 1
            if counts:
                lines.append("%s against %s: %d passed, %d failed, %d flaky, %d need an option sigkit-run lacks, "
                             "%d skipped" % (suite, target, counts.get("passed", 0), counts.get("failed", 0),
                                             counts.get("flaky", 0), counts.get("unsupported", 0),
                                             counts.get("skipped", 0)))
    return lines


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sigkit-run", required=True, help="the sigkit-run executable (empty: skip)")
    parser.add_argument("--peers-dir", default=os.environ.get("SIGKIT_PEERS_DIR", ""),
                        help="folder with the clones tini/ and dumb-init/ (default: $SIGKIT_PEERS_DIR)")
    parser.add_argument("--work-dir", help="where the peers are built and the runs keep their files "
                        "(default: a temporary folder)")
    parser.add_argument("--suite", action="append", choices=SUITES, help="only this suite (repeatable)")
    parser.add_argument("--target", action="append", choices=TARGETS, help="only this target (repeatable)")
    parser.add_argument("--tini-bin", help="test this tini binary instead of building one")
    parser.add_argument("--dumb-init-bin", help="test this dumb-init binary instead of building one")
    parser.add_argument("--repeat", type=int, default=1, help="run everything N times (finds the flaky tests)")
    parser.add_argument("-k", help="only tests matching: a pytest -k expression for dumb-init; for tini, "
                        "words joined by ' or ', one of which its name must contain")
    parser.add_argument("--no-pid1", dest="pid1", action="store_false", help="leave out the PID 1 (unshare) test")
    parser.add_argument("--test-timeout", type=float, default=60, help="seconds per tini test (default 60)")
    parser.add_argument("--suite-timeout", type=float, default=1800, help="seconds per suite run (default 1800)")
    parser.add_argument("--expect", help="known-differences file: exit 1 on any result it does not account for")
    parser.add_argument("--full", action="store_true", help="one row per test id (default: parametrized "
                        "variants of one pytest test share a row)")
    parser.add_argument("--json", help="write every run's raw results here")
    parser.add_argument("--from-json", help="print the table (and check) of runs saved with --json, running nothing")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the suites' own output")
    args = parser.parse_args()

    if args.from_json:
        with open(args.from_json) as f:
            raw = json.load(f)
        table = {}
        for run in raw:
            for test, r in run["results"].items():
                table.setdefault((run["suite"], test), {}).setdefault(run["target"], []).append(r)
        return report(table, args)
    if not args.sigkit_run:
        skip("no sigkit-run given (the build has no sigkit-run target)")
    if not args.peers_dir:
        skip("no peers' sources given (--peers-dir or SIGKIT_PEERS_DIR)")
    suites = args.suite or list(SUITES)
    targets = args.target or list(TARGETS)
    sources = {s: os.path.join(os.path.abspath(args.peers_dir), s) for s in suites}
    for s, path in sources.items():
        if not os.path.isdir(path):
            skip("%s: no such folder (clone %s there)" % (path, s))
    if sys.platform != "linux":
        skip("the harness reads /proc (Linux only)")
    check_prerequisites(suites)
    sigkit_run = os.path.abspath(args.sigkit_run)
    if not os.access(sigkit_run, os.X_OK):
        sys.exit("peers: %s is not an executable" % sigkit_run)
    if args.pid1 and "dumb-init" in suites:
        r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if r.returncode != 0:
            log("unshare --pid --fork --mount-proc does not work here (needs root): the PID 1 test is left out")
            args.pid1 = False

    work = os.path.abspath(args.work_dir) if args.work_dir else tempfile.mkdtemp(prefix="sigkit-peers-")
    os.makedirs(work, exist_ok=True)
    peers_common.become_subreaper()

    binaries = {}
    if "tini" in suites:
        tini, sigconf = build_tini(sources["tini"], work)
        if args.tini_bin:
            tini = os.path.abspath(args.tini_bin)
        binaries["tini"] = {"peer": tini, "sigkit-run": os.path.join(HERE, "sigkit-run-as-tini"), "sigconf": sigconf}
    if "dumb-init" in suites:
        binary = os.path.abspath(args.dumb_init_bin) if args.dumb_init_bin else build_dumb_init(sources["dumb-init"], work)
        binaries["dumb-init"] = {"peer": binary, "sigkit-run": os.path.join(HERE, "sigkit-run-as-dumb-init")}
    for s in suites:
        commit = subprocess.run(["git", "-C", sources[s], "describe", "--always", "--tags", "--dirty"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True).stdout.strip()
        log("%s: sources %s (%s), peer binary %s" % (s, sources[s], commit or "not a git clone", binaries[s]["peer"]))

    table = {}  # (suite, test) -> {target: [run results]}
    raw = []
    for round_ in range(args.repeat):
        for suite in suites:
            for target in targets:
                if args.repeat > 1:
                    log("round %d of %d" % (round_ + 1, args.repeat))
                if suite == "dumb-init":
                    results = run_dumb_init(sources[suite], binaries[suite][target], target, work, sigkit_run, args)
                else:
                    results = run_tini(sources[suite], binaries[suite][target], binaries[suite]["sigconf"], target,
                                       work, sigkit_run, args)
                raw.append({"round": round_, "suite": suite, "target": target, "results": results})
                for test, r in results.items():
                    table.setdefault((suite, test), {}).setdefault(target, []).append(r)
    peers_common.end_leftovers(os.getpid(), grace=1.0, reap=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1)
    return report(table, args)


def report(table, args):
    print()
    print_table(table, grouped=not args.full)
    print()
    failures = [(k, t, r) for k, v in sorted(table.items()) for t, runs in v.items() for r in runs
                if r["outcome"] != "passed"]
    if failures:
        print("Results other than a pass (first line of each):")
        for (suite, test), target, r in failures:
            extra = " [left running: %s]" % ", ".join(r["left"]) if r.get("left") else ""
            notes = " {%s}" % "; ".join(r["notes"]) if r.get("notes") else ""
            params = " (%s)" % r["params"] if r.get("params") else ""
            print("  %s | %s%s | %s: %s %s%s%s" % (suite, test, params, target, r["outcome"], r["message"], notes,
                                                  extra))
        print()
    left = sum(1 for v in table.values() for runs in v.values() for r in runs if r["outcome"] == "passed" and r.get("left"))
    if left:
        print("%d passing runs left processes behind (killed after the test; --json has them)." % left)
        print()
    for line in summary(table):
        print(line)
    if args.expect:
        problems = check(table, load_expectations(args.expect))
        if problems:
            print("\nNot accounted for by %s:" % args.expect)
            for p in problems:
                print("  " + p)
            return 1
        print("\nEvery failure is listed in %s." % args.expect)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
