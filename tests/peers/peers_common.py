"""Process bookkeeping shared by the peers harness (run_peers.py,
tini_driver.py, peers_pytest_plugin.py): what a test left running, and how
to end it. Linux only (/proc).
"""
import ctypes
import os
import signal
import time

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    """Orphaned descendants come to this process instead of the system's
    init, so that a run can find and end everything it started."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def process_table():
    """{pid: (ppid, state, name)} for every process /proc shows."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), fields[0], name)
    return table


def descendants(root, table=None):
    """{pid: (state, name)} of every descendant of root, zombies included."""
    table = process_table() if table is None else table
    children = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        out[pid] = table[pid][1:]
        todo.extend(children.get(pid, []))
    return out


def living(procs):
    return {pid: name for pid, (state, name) in procs.items() if state != "Z"}


def end_leftovers(root, grace=1.0, reap=True, keep=()):
    """Waits up to `grace` seconds for root's living descendants (but `keep`)
    to end, then SIGKILLs them (continuing stopped ones is not needed:
    SIGKILL ends a stopped process). Reaps root's zombie children if `reap`
    (root must be this process then). Returns the names of those it had to
    kill, sorted."""
    deadline = time.monotonic() + grace
    while True:
        left = {p: n for p, n in living(descendants(root)).items() if p not in keep}
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    if left and os.environ.get("SIGKIT_PEERS_DUMP"):
        dump(left)
    killed = []
    # Kill until nothing new appears: a process may fork while we kill.
    for _ in range(20):
        left = {p: n for p, n in living(descendants(root)).items() if p not in keep}
        if not left:
            break
        for pid, name in left.items():
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(name)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    if reap:
        # Those just killed may still be on their way to becoming zombies,
        # and orphans of theirs on their way to this (sub)reaper.
        end = time.monotonic() + 2
        while True:
            reap_zombie_children(keep)
            left = {p for p in descendants(root) if p not in keep}
            if not left or time.monotonic() >= end:
                break
            time.sleep(0.02)
    return sorted(killed)


def dump(pids):
    """Prints what /proc says of each thread of `pids` (SIGKIT_PEERS_DUMP=1:
    a look at what hangs before it is killed)."""
    import sys

    fields = ("Name", "State", "PPid", "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt")
    for pid in sorted(pids):
        try:
            for task in sorted(os.listdir("/proc/%d/task" % pid), key=int):
                with open("/proc/%d/task/%s/status" % (pid, task)) as f:
                    status = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
                with open("/proc/%d/task/%s/wchan" % (pid, task)) as f:
                    wchan = f.read()
                with open("/proc/%d/stat" % pid) as f:
                    stat = f.read()
                pgid_sid = stat[stat.rindex(")") + 2 :].split()[2:4]
                sys.stderr.write(
                    "peers: left: pid %d task %s pgid %s sid %s wchan %s %s\n"
                    % (pid, task, pgid_sid[0], pgid_sid[1], wchan,
                       " ".join("%s=%s" % (k, status.get(k, "?").strip()) for k in fields))
                )
        except OSError:
            pass


def reap_zombie_children(keep=()):
    """Reaps this process's children that have exited, but `keep`."""
    me = os.getpid()
    for pid, (ppid, state, _) in process_table().items():
        if ppid == me and state == "Z" and pid not in keep:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
