"""`run_tests`: run one untrusted program against its tests in the sandbox, from any thread.

The caller never forks and never runs model code. It hands the job to a sandbox server (see
`server.py`): a separate, pre-warmed, single-threaded interpreter started with an empty
environment, which forks an isolated process tree per run. Each call borrows an idle server from
a small pool (starting one if none is idle), so concurrent calls from worker threads run in
parallel, each on its own server, and no lock is held while a program runs. Servers are started
in their own session (Ctrl-C in a terminal does not reach them) and exit when the caller does
(their stdin closes).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from verifiers.code.formats import build_plan
from verifiers.code.result import CodeResult, TestOutcome

ROOT = str(Path(__file__).resolve().parents[2])
DEFAULT_OUTPUT_LIMIT = 8 * 1024 * 1024
MAX_IDLE_SERVERS = 16
REPLY_MARGIN = 30.0  # seconds beyond a run's timeout before the server itself is presumed stuck

# Run as `python -I -c BOOT ROOT [flags]`. The `verifiers` package is stubbed so that its
# __init__ (the math verifiers, sympy) is not imported into the server: only verifiers.code is.
BOOT = ("import sys, types; root = sys.argv[1]; pkg = types.ModuleType('verifiers'); "
        "pkg.__path__ = [root + '/verifiers']; sys.modules['verifiers'] = pkg; "
        "from verifiers.code.server import main; sys.exit(main(sys.argv[2:]))")


class SandboxUnavailable(RuntimeError):
    pass


NOT_SENT = {"not": "sent"}  # sentinel: the job never reached the server


class _ServerHandle:
    """One server process and its pipes; used by one thread at a time."""

    def __init__(self, flags: tuple[str, ...]):
        self.flags = flags
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", BOOT, ROOT, *flags],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env={"LANG": "C.UTF-8"}, close_fds=True, start_new_session=True, cwd="/",
        )
        hello = self._read(timeout=120.0)
        if not hello or not hello.get("ready"):
            self.close()
            raise SandboxUnavailable("the sandbox server did not start")
        self.isolation = hello["isolation"]

    def _read(self, timeout: float) -> dict | None:
        fd = self.proc.stdout.fileno()
        end = time.monotonic() + timeout
        buf = b""
        need = 4
        length = None
        while len(buf) < need:
            left = end - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, max(65536, need - len(buf)))
            if not chunk:
                return None
            buf += chunk
            if length is None and len(buf) >= 4:
                length = struct.unpack(">I", buf[:4])[0]
                need = 4 + length
        return json.loads(buf[4:need])

    def request(self, job: dict, timeout: float) -> dict | None:
        """The server's reply; None if it died or hung; NOT_SENT if it was gone before taking the job."""
        body = json.dumps(job).encode()
        try:
            self.proc.stdin.write(struct.pack(">I", len(body)) + body)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return NOT_SENT
        return self._read(timeout)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


class _Pool:
    def __init__(self):
        self.lock = threading.Lock()
        self.idle: dict[tuple, list[_ServerHandle]] = {}
        self.owner = os.getpid()

    def acquire(self, flags: tuple[str, ...]) -> _ServerHandle:
        with self.lock:
            if self.owner != os.getpid():  # we are a forked copy: the servers belong to the parent
                self.idle, self.owner = {}, os.getpid()
            stack = self.idle.get(flags) or []
            while stack:
                handle = stack.pop()
                if handle.alive():
                    return handle
                handle.close()  # died while idle (killed from outside): never hand it out
        return _ServerHandle(flags)

    def release(self, handle: _ServerHandle) -> None:
        if handle.alive():
            with self.lock:
                stack = self.idle.setdefault(handle.flags, [])
                if len(stack) < MAX_IDLE_SERVERS and self.owner == os.getpid():
                    stack.append(handle)
                    return
        handle.close()

    def shutdown(self) -> None:
        with self.lock:
            handles = [h for stack in self.idle.values() for h in stack] if self.owner == os.getpid() else []
            self.idle = {}
        for h in handles:
            h.close()


_POOL = _Pool()
atexit.register(_POOL.shutdown)


def shutdown() -> None:
    """Stop the idle sandbox servers (they are restarted on demand)."""
    _POOL.shutdown()


def run_tests(program: str, tests, *, entry_point: str | None = None, timeout: float = 5.0,
              memory_mb: int = 512, setup: str | None = None, output_limit: int = DEFAULT_OUTPUT_LIMIT,
              max_procs: int = 64, namespaces: bool = True, throwaway_uid: bool = True) -> CodeResult:
    """Run `program` against `tests` in the sandbox and return a CodeResult (never raises for
    anything the program does; raises ValueError for malformed tests or arguments).

    tests: a HumanEval test program (str, defines `check(candidate)`) with `entry_point`; a list of
    MBPP assert lines (imports / helpers in `setup`); or a list of {"input", "output"} stdio pairs.
    timeout: wall-clock seconds for the whole run (CPU time is limited to about the same).
    memory_mb: address-space limit of the run. output_limit: bytes of stdout+stderr (per stdio case
    for stdio tests) before the run is stopped. max_procs: processes the run may have at once
    (enforced with a throw-away uid). namespaces / throwaway_uid: set False to use less isolation
    (for comparisons and tests); `CodeResult.isolation` always says what was in force.
    """
    if not isinstance(program, str):
        raise ValueError(f"program must be a str, got {type(program).__name__}")
    if not (timeout > 0):
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    if memory_mb < 64:
        raise ValueError(f"memory_mb must be at least 64 (the interpreter itself needs it), got {memory_mb}")
    plan = build_plan(tests, entry_point, setup)
    job = {"program": program, "plan": plan, "timeout": float(timeout), "memory_mb": int(memory_mb),
           "output_limit": int(output_limit), "max_procs": int(max_procs)}
    flags = tuple(f for f, on in (("--no-namespaces", not namespaces), ("--no-uid", not throwaway_uid)) if on)
    t0 = time.monotonic()
    for _attempt in range(2):  # a server found dead before it took the job is replaced once
        try:
            handle = _POOL.acquire(flags)
        except (OSError, SandboxUnavailable) as e:
            return _error(plan, f"could not start the sandbox server: {e}", t0)
        reply = handle.request(job, timeout + REPLY_MARGIN)
        if reply is NOT_SENT or reply is None:  # dead or hung: never reuse it
            handle.proc.kill()
            handle.close()
            if reply is NOT_SENT:
                continue
            return _error(plan, "the sandbox server stopped answering", t0, handle.isolation)
        _POOL.release(handle)
        return CodeResult.from_dict(reply)
    return _error(plan, "the sandbox server died before taking the job", t0)


def _error(plan: dict, reason: str, t0: float, isolation: str = "") -> CodeResult:
    tests = [TestOutcome(i, name, False, "not_run") for i, name in enumerate(plan["names"])]
    return CodeResult(passed=False, status="sandbox_error", tests=tests, wall_time=time.monotonic() - t0,
                      isolation=isolation, reason=reason)
