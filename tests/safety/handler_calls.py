#!/usr/bin/env python3
"""Async-signal-safety proof, static part.

Disassembles a program built with sigkit, starts at sigkit's signal handler
(sigkit_v1_handler) and the subscribers' deliver functions (reached through a
function pointer), follows every direct call inside the binary, and fails if
any reachable code calls a function outside an allow-list of
async-signal-safe functions (POSIX.1-2017 2.4.3, plus compiler helpers that
touch no shared state). Indirect calls are reported: the only ones allowed
are the subscriber deliver pointer and the chained previous handler.

usage: handler_calls.py OBJDUMP BINARY
"""
import re
import subprocess
import sys

ALLOWED_EXTERNAL = {
    # POSIX async-signal-safe functions sigkit's handler uses
    "write", "read", "sigaction", "pthread_sigmask", "sigprocmask", "raise",
    "sigemptyset", "sigaddset", "sigismember", "sigfillset", "sigdelset",
    "getpid", "kill", "tgkill", "syscall",
    # errno access (thread-local, no lock)
    "__errno_location",
    # compiler/runtime helpers with no shared state
    "__stack_chk_fail", "memcpy", "memset", "memmove",
}
# Sinks that are allowed and not walked. clang emits __clang_call_terminate as
# the landing pad of a noexcept function that calls something that may throw:
# here, a chained foreign handler called through a function pointer. It is
# reached only if that foreign handler throws out of a signal handler, and
# std::terminate (abort) is then the only sane outcome. gcc encodes the same
# thing in unwind tables, with no call in the code.
ALLOWED_SINKS = {"__clang_call_terminate"}
ROOT_PATTERNS = [
    re.compile(r"^sigkit_v1_handler$"),
    re.compile(r"deliver_one"),  # reached through subscriber::deliver
]

objdump, binary = sys.argv[1], sys.argv[2]
out = subprocess.run([objdump, "-d", "--no-show-raw-insn", binary], check=True, capture_output=True,
                     text=True).stdout

functions = {}  # mangled name -> list of instruction lines
current = None
for line in out.splitlines():
    m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
    if m:
        current = m.group(1)
        functions[current] = []
    elif current is not None and line.strip():
        functions[current].append(line)

call_re = re.compile(r"\bcall[q]?\s+(?:[0-9a-f]+\s+)?<([^>]+)>")
indirect_re = re.compile(r"\bcall[q]?\s+\*")


def base(name: str) -> str:
    name = re.sub(r"\+0x[0-9a-f]+$", "", name)
    return name


roots = [f for f in functions if any(p.search(f) for p in ROOT_PATTERNS)]
if not any(f == "sigkit_v1_handler" for f in roots):
    print("FAIL: sigkit_v1_handler not found in", binary)
    sys.exit(1)

seen, todo, bad, indirect, external = set(), list(roots), [], {}, set()
while todo:
    f = todo.pop()
    if f in seen:
        continue
    seen.add(f)
    for ins in functions.get(f, []):
        if indirect_re.search(ins):
            indirect.setdefault(f, 0)
            indirect[f] += 1
            continue
        m = call_re.search(ins)
        if not m:
            continue
        target = base(m.group(1))
        if target.endswith("@plt"):
            name = target[:-4]
            external.add(name)
            if name not in ALLOWED_EXTERNAL:
                bad.append(f"{f} calls {name}")
        elif target in ALLOWED_SINKS:
            external.add(target)
        elif target in functions:
            todo.append(target)
        else:
            bad.append(f"{f} calls unknown {target}")

print(f"walked {len(seen)} functions from {len(roots)} roots; external calls: {sorted(external)}")
for f, n in sorted(indirect.items()):
    print(f"indirect calls in {f}: {n}")
# Indirect calls may only be the subscriber's deliver pointer and the
# chained previous handler: in the handler itself, in run_previous, or in
# deliver_sent_fault (a synchronous signal another process sent, handed to
# the forwarders).
for f in indirect:
    if not (f == "sigkit_v1_handler" or "run_previous" in f or "deliver_sent_fault" in f):
        bad.append(f"unexpected indirect call in {f}")
if bad:
    print("FAIL: calls outside the async-signal-safe allow-list:")
    for b in bad:
        print("  " + b)
    sys.exit(1)
print("OK: every call reachable from the handler is async-signal-safe")
