"""pytest plugin loaded into dumb-init's own suite by run_peers.py
(`-p peers_pytest_plugin`); the suite itself is run unchanged.

- Writes each test's outcome (and its DUMB_INIT_DEBUG / DUMB_INIT_SETSID
  parameters) to the JSON file named by SIGKIT_PEERS_RESULT:
  passed, failed, timeout (pytest-timeout's limit, 20 s in dumb-init's
  pytest.ini), error (setup/teardown) or skipped, with the first line of the
  failure.
- After each test, ends what it left running: waits up to 1 s, then
  SIGKILLs any living descendant of pytest and reaps them, so that a test
  that hangs (its fixture's clean-up never runs) does not spoil the
  process counts of the tests after it. What had to be killed is recorded
  with the test ("left").
"""
import json
import os

import pytest

import peers_common

_results = {}


def _record(nodeid):
    return _results.setdefault(nodeid, {"outcome": "passed", "message": "", "left": [], "params": ""})


# dumb-init's ids ([1-0]) list fixture parameters in an order that differs
# between tests; record which is which (DUMB_INIT_DEBUG, DUMB_INIT_SETSID).
_PARAM_NAMES = {"both_debug_modes": "DUMB_INIT_DEBUG", "both_setsid_modes": "DUMB_INIT_SETSID"}


def pytest_runtest_setup(item):
    params = getattr(getattr(item, "callspec", None), "params", {})
    _record(item.nodeid)["params"] = " ".join(
        "%s=%s" % (_PARAM_NAMES[k], v) for k, v in sorted(params.items()) if k in _PARAM_NAMES
    )


def pytest_runtest_logreport(report):
    r = _record(report.nodeid)
    if report.failed:
        message = ""
        crash = getattr(report.longrepr, "reprcrash", None)
        if crash is not None:
            message = crash.message
        elif report.longrepr is not None:
            message = str(report.longrepr)
        message = message.strip().splitlines()[0] if message.strip() else ""
        if report.when == "call":
            outcome = "timeout" if message.startswith("Failed: Timeout") else "failed"
        else:
            outcome = "error"
        if r["outcome"] in ("passed", "skipped"):
            r["outcome"] = outcome
            r["message"] = message[:300]
    elif report.skipped and r["outcome"] == "passed":
        r["outcome"] = "skipped"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield
    left = peers_common.end_leftovers(os.getpid(), grace=1.0, reap=True)
    if left:
        _record(item.nodeid)["left"] = left


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("SIGKIT_PEERS_RESULT")
    if path:
        with open(path, "w") as f:
            json.dump(_results, f, indent=1)
