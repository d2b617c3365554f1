"""Runs tini's test/run_inner_tests.py for run_peers.py, test by test.

tini's script is one main() that stops at its first failed assert. To get a
result per test, this driver parses it (Python's ast) and, in memory, wraps
each stretch of main() that starts with one of its own progress lines
(`print("Running reaping test ...")`, `print("running signal test for: ...")`)
and runs up to the next one into `with __peer_test__(<that line>):`, which
records pass/fail/timeout for the stretch and goes on to the next. Nothing
else changes: the statements, their order, the loops over tini's modes are
tini's. The file on disk is not touched. A test is named by its progress
line, with $SOURCE_DIR and $BUILD_DIR standing for those paths.

--whole runs the script unchanged instead (one result: did it finish).

The driver makes itself a child subreaper: orphans of a test come to it and
stay zombies until the test ends (as under a container's init that does not
reap while the tests run; tini's "zombie reaping failure" test relies on
that: without a subreaper it passes or fails by whichever init the machine
has). After each test it kills what the test left running and reaps.
"""
import argparse
import ast
import json
import os
import re
import signal
import sys
import time
import traceback

import peers_common

MARKER = re.compile(r"^\s*[Rr]unning ")


class TestTimeout(BaseException):
    """Raised in the test's code by SIGALRM (BaseException, so that no
    `except Exception` in the script swallows it)."""


def _string_of(node):
    """The literal text of a print argument: "..." or "...".format(...)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
        and isinstance(node.func.value.value, str)
    ):
        return node.func.value.value
    return None


def _is_marker(stmt):
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return False
    call = stmt.value
    if not (isinstance(call.func, ast.Name) and call.func.id == "print" and call.args):
        return False
    text = _string_of(call.args[0])
    return text is not None and MARKER.match(text) is not None


def _contains_marker(stmt):
    return any(isinstance(n, ast.stmt) and _is_marker(n) for n in ast.walk(stmt))


def _split(body):
    out = []
    segment = None
    for stmt in body:
        if _is_marker(stmt):
            test = ast.Call(func=ast.Name(id="__peer_test__", ctx=ast.Load()), args=[stmt.value.args[0]], keywords=[])
            segment = ast.copy_location(ast.With(items=[ast.withitem(context_expr=test)], body=[stmt]), stmt)
            out.append(segment)
        elif _contains_marker(stmt):
            segment = None
            for field in ("body", "orelse", "finalbody"):
                if getattr(stmt, field, None):
                    setattr(stmt, field, _split(getattr(stmt, field)))
            out.append(stmt)
        elif segment is not None:
            segment.body.append(stmt)
        else:
            out.append(stmt)
    return out


def transform(source, filename):
    tree = ast.parse(source, filename)
    mains = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"]
    if len(mains) != 1:
        raise SystemExit("tini_driver: no single main() in %s" % filename)
    mains[0].body = _split(mains[0].body)
    ast.fix_missing_locations(tree)
    return compile(tree, filename, "exec")


class Recorder:
    def __init__(self, timeout, paths):
        self.timeout = timeout
        self.paths = paths  # (path, placeholder), longest first
        self.results = {}

    def name(self, text):
        text = str(text)
        for path, placeholder in self.paths:
            text = text.replace(path, placeholder)
        base, n = text, 2
        while text in self.results:
            text = "%s #%d" % (base, n)
            n += 1
        return text

    def test(self, text):
        return _PeerTest(self, self.name(text))


class _PeerTest:
    def __init__(self, recorder, name):
        self.recorder = recorder
        self.name = name

    def __enter__(self):
        os.environ["SIGKIT_PEERS_TEST"] = self.name
        self.start = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, self.recorder.timeout)
        return self

    def __exit__(self, kind, value, tb):
        signal.setitimer(signal.ITIMER_REAL, 0)
        seconds = time.monotonic() - self.start
        os.environ.pop("SIGKIT_PEERS_TEST", None)
        if kind is None:
            outcome, message = "passed", ""
        elif issubclass(kind, TestTimeout):
            outcome, message = "timeout", "no result after %g s" % self.recorder.timeout
        elif issubclass(kind, Exception):
            outcome = "failed"
            message = "".join(traceback.format_exception_only(kind, value)).strip().splitlines()
            message = message[0] if message else kind.__name__
        else:
            return False  # KeyboardInterrupt, SystemExit: stop everything
        left = peers_common.end_leftovers(os.getpid(), grace=1.0, reap=True)
        self.recorder.results[self.name] = {
            "outcome": outcome,
            "message": message[:300],
            "left": left,
            "seconds": round(seconds, 2),
        }
        print("[%s] %s (%.1f s)%s" % (outcome, self.name, seconds, (": " + message) if message else ""), flush=True)
        return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", required=True, help="tini's test/run_inner_tests.py")
    parser.add_argument("--result", required=True, help="JSON file to write")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per test")
    parser.add_argument("--whole", action="store_true", help="run the script unchanged, as one test")
    args = parser.parse_args()

    peers_common.become_subreaper()

    def on_alarm(signo, frame):
        raise TestTimeout()

    signal.signal(signal.SIGALRM, on_alarm)
    paths = [(os.environ["BUILD_DIR"], "$BUILD_DIR"), (os.environ["SOURCE_DIR"], "$SOURCE_DIR")]
    paths.sort(key=lambda p: -len(p[0]))
    recorder = Recorder(args.timeout, paths)
    with open(args.script) as f:
        source = f.read()
    sys.path.insert(0, os.path.dirname(os.path.abspath(args.script)))
    if args.whole:
        namespace = {"__name__": "__main__", "__file__": args.script}
        with recorder.test("run_inner_tests.py, unchanged, as a whole"):
            exec(compile(source, args.script, "exec"), namespace)
    else:
        namespace = {"__name__": "tini_run_inner_tests", "__file__": args.script, "__peer_test__": recorder.test}
        exec(transform(source, args.script), namespace)
        try:
            namespace["main"]()
        except Exception:
            # A statement outside every test failed (set-up): say so as a test.
            recorder.results["(set-up outside the tests)"] = {
                "outcome": "failed",
                "message": traceback.format_exc().strip().splitlines()[-1][:300],
                "left": peers_common.end_leftovers(os.getpid(), grace=1.0, reap=True),
                "seconds": 0,
            }
    with open(args.result, "w") as f:
        json.dump(recorder.results, f, indent=1)


if __name__ == "__main__":
    main()
