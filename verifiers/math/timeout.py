"""Bounded-time execution of sympy work in helper processes: `run_bounded(op, args, timeout)`.

Why processes: sympy can hang inside C code (`9**9**9**9` is one big-integer multiplication) and
Python threads cannot be killed, so the only hard bound is a process we can SIGKILL. Why not
`signal.alarm` in the caller: it only works in the main thread of the main interpreter (the way
math-verify breaks in worker threads, data loaders and web servers).

Design:
- a small pool of long-lived workers (`python _worker.py`, started with `subprocess.Popen`, so it
  also works inside daemonic `multiprocessing` pool workers, which may not start
  `multiprocessing` children); each imports sympy once (~0.4 s) and then serves JSON lines;
- one request per worker at a time; a thread takes an idle worker or starts one, so calls from many
  threads run in parallel;
- inside the worker a soft timer (its own main thread, so `setitimer` is fine there) stops
  pure-Python sympy loops at 85% of the budget and keeps the worker alive; if the worker has not
  answered at the full budget it is killed and replaced (a fresh one starts in the background);
- after `fork` the child forgets the parent's workers (`os.register_at_fork`) and starts its own.

The budget covers the work, not a worker's first start: a call waits for a starting worker to say
it is ready (at most `STARTUP_LIMIT` seconds) before its own clock starts. Workers are limited to
`MEMORY_LIMIT` bytes of address space. Requests and replies are JSON: nothing is unpickled.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

STARTUP_LIMIT = 30.0
MEMORY_LIMIT = 4 * 1024**3
MAX_IDLE = 4
_WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
_ROOT = Path(__file__).resolve().parents[2]  # the directory that holds `verifiers/`


class _Worker:
    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH", "")) if p)
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-u", str(_WORKER_SCRIPT), str(MEMORY_LIMIT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, close_fds=True, start_new_session=True,
        )
        self.buf = b""
        self.ready = False

    def _readline(self, deadline: float) -> bytes | None:
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            r, _, _ = select.select([fd], [], [], remaining)
            if not r:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise EOFError("worker exited")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def wait_ready(self) -> bool:
        if not self.ready:
            line = self._readline(time.monotonic() + STARTUP_LIMIT)
            self.ready = line == b"ready"
        return self.ready

    def request(self, message: dict, timeout: float) -> dict | None:
        """The reply, or None when the worker did not answer within `timeout` (then it is dead)."""
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()
        line = self._readline(time.monotonic() + timeout)
        if line is None:
            return None
        return json.loads(line)

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except Exception:  # already gone
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except Exception:
                pass


class _Pool:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[_Worker] = []

    def take(self) -> _Worker:
        with self.lock:
            if self.idle:
                return self.idle.pop()
        return _Worker()

    def give(self, worker: _Worker) -> None:
        with self.lock:
            if len(self.idle) < MAX_IDLE:
                self.idle.append(worker)
                return
        worker.kill()

    def close(self) -> None:
        with self.lock:
            workers, self.idle = self.idle, []
        for w in workers:
            w.kill()


_pool = _Pool()
atexit.register(lambda: _pool.close())


def _forget_after_fork() -> None:
    # The child must not talk to the parent's workers (their pipes are shared); start afresh.
    global _pool
    _pool = _Pool()


os.register_at_fork(after_in_child=_forget_after_fork)


class BoundedError(RuntimeError):
    """Raised by `run_bounded` only for a worker that cannot start at all (broken install)."""


def run_bounded(op: str, args: list, timeout: float) -> tuple[str, object]:
    """Run `symbolic.OPS[op](*args)` in a worker within `timeout` seconds.

    Returns ("ok", result), ("timeout", None) or ("error", message). Never hangs, never raises for
    anything the input does; raises `BoundedError` only if no worker can start.
    """
    worker = _pool.take()
    try:
        if not worker.wait_ready():
            worker.kill()
            raise BoundedError("the sympy worker did not start; is sympy/latex2sympy2_extended installed?")
        reply = worker.request({"op": op, "args": args, "soft": 0.85 * timeout}, timeout)
    except (EOFError, BrokenPipeError, OSError, ValueError) as err:
        worker.kill()
        return "error", f"worker crashed ({type(err).__name__})"
    if reply is None:
        worker.kill()
        _pool.give(_Worker())  # warm replacement: starts importing now, in the background
        return "timeout", None
    _pool.give(worker)
    if "ok" in reply:
        return "ok", reply["ok"]
    if reply.get("timeout"):
        return "timeout", None
    return "error", str(reply.get("error", "unknown error"))


def clear_worker_caches(timeout: float = 5.0) -> None:
    """Empty the parse cache of every idle worker (benchmarks compare cold answer caches)."""
    with _pool.lock:
        workers, _pool.idle = _pool.idle, []
    for w in workers:
        try:
            if w.wait_ready() and w.request({"op": "cache_clear", "args": [], "soft": timeout}, timeout):
                _pool.give(w)
                continue
        except (EOFError, BrokenPipeError, OSError, ValueError):
            pass
        w.kill()


def shutdown() -> None:
    """Stop all idle workers now (they also stop on interpreter exit)."""
    _pool.close()
