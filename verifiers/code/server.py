"""The sandbox server: a pre-warmed, single-threaded interpreter that forks one isolated process per run.

The caller (`sandbox.py`) starts one server per concurrent worker as a fresh `python -I` with an
empty environment, and talks to it over its stdin/stdout: a 4-byte length, then JSON, each way.
A fork of a warm interpreter costs ~1 ms where a fresh interpreter costs ~10-15 ms plus imports,
and forking from this small single-threaded process (never from the caller, which may run threads,
pytest or a model) is safe.

Process tree (with the isolation `isolation.py` found on this machine):

    Z  server as started (root)      enters a new network + PID namespace, forks I, waits for it
    `- I  pid 1 of that namespace    the real server: reads jobs, forks one H per run, reads its
       |                             pipes, enforces the deadline and the output limit
       `- H  one run                 own mount namespace (tmpfs over scratch dirs, fresh /proc),
                                     throw-away uid, rlimits, fds 0-3 only, empty env -> harness.main()

Runs on one server are sequential, so when a run ends (or its deadline passes) I, as pid 1, calls
kill(-1, SIGKILL): that reaches every process in the namespace but I itself -- the run, its
children, daemons that double-forked and left the session, a fork bomb. No per-run namespace
set-up and a single fork per run keep the overhead low. I dies with Z (parent-death signal), and
the namespace dies with I. Where there is no PID namespace, I is Z itself and kills every
descendant (it is a child subreaper, so daemons stay its descendants) and every process of the
run's throw-away uid.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import select
import shutil
import signal
import struct
import sys
import tempfile
import time

from verifiers.code import harness, isolation
from verifiers.code.result import Evidence, decide

KEEP_OUTPUT = 16 * 1024        # bytes of stdout / stderr kept in the result
CHANNEL_LIMIT = 4 * 1024 * 1024  # bytes read from the result channel
TMPFS_MB = 64
SETUP_FAILED = 125  # H's exit code when its isolation could not be set up
# Imported here once so that runs, forked from this process, find them already loaded.
# Modules tests commonly use are also snapshotted and restored around program code (harness.py).
PREWARM = ("math", "cmath", "re", "collections", "itertools", "functools", "heapq", "bisect", "string",
           "typing", "random", "statistics", "fractions", "decimal", "copy", "operator", "datetime", "json",
           "hashlib", "array", "dataclasses", "enum", "textwrap", "unicodedata", "traceback", "numbers")


def _read_exact(fd: int, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_message(fd: int) -> dict | None:
    head = _read_exact(fd, 4)
    if head is None:
        return None
    body = _read_exact(fd, struct.unpack(">I", head)[0])
    return None if body is None else json.loads(body)


def write_message(fd: int, obj: dict) -> None:
    body = json.dumps(obj).encode()
    view = memoryview(struct.pack(">I", len(body)) + body)
    while view:
        view = view[os.write(fd, view):]


# ----------------------------------------------------------------------------- the run's processes
def _run_env(workdir: str) -> dict:
    # nothing from the caller: no tokens, no proxies, no PYTHONPATH
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8", "PYTHONDONTWRITEBYTECODE": "1"}


def _harness_process(job: dict, caps: isolation.Caps, uid: int | None, workdir: str, nonce: str,
                     out_w: int, err_w: int, res_w: int, in_tmpfs: bool) -> None:
    """H: set up the run's isolation, then the harness. Never returns."""
    try:
        if caps.mountns:
            isolation.unshare(isolation.CLONE_NEWNS)
            isolation.private_mounts(caps, TMPFS_MB)
        if in_tmpfs:
            os.mkdir(workdir, 0o700)
            if uid is not None:
                os.chown(workdir, uid, uid)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.dup2(res_w, harness.CHANNEL_FD)
        os.closerange(harness.CHANNEL_FD + 1, 65536)
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(workdir)
        os.environ.clear()
        os.environ.update(_run_env(workdir))
        isolation.apply_limits(isolation.Limits(
            cpu_seconds=max(1, int(job["timeout"]) + 1), memory_mb=job["memory_mb"],
            # NPROC counts per user: only meaningful for a throw-away uid
            max_procs=job["max_procs"] if uid is not None else None))
        if uid is not None:
            isolation.drop_privileges(uid)
        isolation.harden()
    except BaseException:
        os._exit(SETUP_FAILED)
    harness.main(job, nonce)
    os._exit(0)


# ----------------------------------------------------------------------------- one run, server side
class Server:
    def __init__(self, caps: isolation.Caps):
        self.caps = caps
        self.isolation = caps.describe()
        # with a mount namespace and a scratch tmpfs the work dir vanishes with the run
        self.in_tmpfs = caps.mountns and bool(caps.scratch)
        self.base = None if self.in_tmpfs else tempfile.mkdtemp(prefix="prm-sandbox-")
        if self.base is not None:
            os.chmod(self.base, 0o711)
        self._reaped: dict[int, int] = {}
        self.init = os.getpid() == 1  # pid 1 of our own PID namespace

    def close(self) -> None:
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)

    def _kill_all(self, h: int, uid: int | None) -> None:
        """Kill the run and everything it started, and wait until it is all gone (reaped), so no
        process -- not even a zombie -- outlives the run."""
        give_up = time.monotonic() + 5.0
        if self.init:
            # pid 1 of a namespace that holds only this run: kill(-1) reaches all of it but us, and
            # every orphan is re-parented to us, so "no children left" means "nothing left"
            while True:
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self._reap()
                if not self._has_children() or time.monotonic() > give_up:
                    return
                time.sleep(0.001)
        try:
            os.kill(h, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while True:  # no PID namespace: every descendant (we are their subreaper), then the uid
            pids = isolation.descendants_of(os.getpid())
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self._reap()
            if not pids or time.monotonic() > give_up:
                break
            time.sleep(0.001)
        if uid is not None:
            isolation.kill_uid(uid)
            self._reap()

    def _has_children(self) -> bool:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid:
            self._reaped[pid] = status
        return True

    def _reap(self) -> None:
        """Reap every exited child; statuses are kept (the monitor may still be waiting for H's)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._reaped[pid] = status

    def _exited(self, pid: int) -> bool:
        if pid in self._reaped:
            return True
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            self._reaped[pid] = status
        return bool(done)

    def _wait_child(self, pid: int) -> int:
        status = self._reaped.pop(pid, None)
        if status is None:
            _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)

    def run(self, job: dict) -> dict:
        t0 = time.monotonic()
        caps = self.caps
        nonce = secrets.token_hex(16)
        uid = random.randrange(isolation.UID_LOW, isolation.UID_HIGH) if caps.uid else None
        if self.in_tmpfs:
            workdir = os.path.join(caps.scratch[0], "run")  # made by H inside the run's own tmpfs
        else:
            workdir = tempfile.mkdtemp(dir=self.base)
            if uid is not None:
                os.chown(workdir, uid, uid)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        h = os.fork()
        if h == 0:
            _harness_process(job, caps, uid, workdir, nonce, out_w, err_w, res_w, self.in_tmpfs)
        for fd in (out_w, err_w, res_w):
            os.close(fd)
        try:
            ev = self._monitor(job, h, uid, nonce, t0, out_r, err_r, res_r)
        finally:
            if not self.in_tmpfs:
                shutil.rmtree(workdir, ignore_errors=True)
        status, reason, outcomes = decide(ev["evidence"])
        return {"passed": status == "passed", "status": status, "reason": reason,
                "tests": [o.__dict__ for o in outcomes], "stdout": ev["stdout"], "stderr": ev["stderr"],
                "wall_time": time.monotonic() - t0, "isolation": self.isolation}

    def _monitor(self, job, h, uid, nonce, t0, out_r, err_r, res_r) -> dict:
        deadline = t0 + job["timeout"]
        limit = job["output_limit"]
        bufs = {out_r: bytearray(), err_r: bytearray(), res_r: bytearray()}
        open_fds = [out_r, err_r, res_r]
        total = 0
        timed_out = over = killed = False
        h_status = None
        drain_until = 0.0
        try:
            pidfd = os.pidfd_open(h)  # readable when H exits (Linux >= 5.3)
        except (AttributeError, OSError):
            pidfd = None  # older kernels: poll waitpid below
        try:
            while True:
                now = time.monotonic()
                if h_status is None and not killed and now >= deadline:
                    timed_out = killed = True
                    self._kill_all(h, uid)
                if h_status is not None and (not open_fds or now >= drain_until):
                    break
                if h_status is None:
                    wait = 0.05 if killed else min(0.5, deadline - now)
                else:
                    wait = drain_until - now
                if pidfd is None and h_status is None:
                    wait = min(wait, 0.005)
                    if self._exited(h):
                        h_status = self._wait_child(h)
                        self._kill_all(h, uid)
                        drain_until = time.monotonic() + 1.0
                watch = open_fds + ([pidfd] if pidfd is not None and h_status is None else [])
                ready, _, _ = select.select(watch, [], [], max(0.0, wait))
                for fd in ready:
                    if fd == pidfd:
                        h_status = self._wait_child(h)
                        self._kill_all(h, uid)  # whatever the run left behind
                        drain_until = time.monotonic() + 1.0
                        continue
                    data = os.read(fd, 65536)
                    if not data:
                        open_fds.remove(fd)
                        continue
                    buf = bufs[fd]
                    if fd == res_r:
                        if len(buf) < CHANNEL_LIMIT:
                            buf += data
                        continue
                    total += len(data)
                    if len(buf) < KEEP_OUTPUT:
                        buf += data[: KEEP_OUTPUT - len(buf)]
                    if total > limit and not over:
                        over = killed = True
                        self._kill_all(h, uid)
        finally:
            if pidfd is not None:
                os.close(pidfd)
            for fd in (out_r, err_r, res_r):
                os.close(fd)
            self._reap()
            self._reaped.clear()
        records, tampered = _parse_channel(bytes(bufs[res_r]), nonce)
        sandbox_error = ""
        if h_status == SETUP_FAILED and not any(r.get("k") == "start" for r in records):
            sandbox_error = "sandbox set-up failed in the run's process"
        ev = Evidence(names=job["plan"]["names"], records=records, tampered=tampered, timed_out=timed_out,
                      output_exceeded=over, exit_code=h_status, sandbox_error=sandbox_error)
        return {"evidence": ev, "stdout": _text(bufs[out_r]), "stderr": _text(bufs[err_r])}


def _text(buf: bytearray) -> str:
    text = bytes(buf).decode("utf-8", errors="replace")
    return text + "\n[... truncated]" if len(buf) >= KEEP_OUTPUT else text


def _parse_channel(data: bytes, nonce: str) -> tuple[list[dict], int]:
    """Authenticated records and the count of lines that were not (forgeries, garbage).

    Line format (see harness.Channel): NONCE KIND INDEX FLAGS ERROR_HEX.
    """
    records, tampered = [], 0
    for raw in data.split(b"\n"):
        if not raw:
            continue
        parts = raw.split(b" ")
        try:
            if len(parts) != 5 or parts[0].decode() != nonce:
                raise ValueError
            kind, index, flags = parts[1].decode(), int(parts[2]), parts[3].decode()
            if kind not in ("start", "load", "t", "done") or len(flags) != 3 or set(flags) - {"0", "1"}:
                raise ValueError
            err = bytes.fromhex(parts[4].decode()).decode("utf-8", errors="replace")
        except (ValueError, UnicodeDecodeError):
            tampered += 1
            continue
        records.append({"k": kind, "i": index, "ok": flags[0] == "1", "mem": flags[1] == "1",
                        "syntax": flags[2] == "1", "err": err})
    return records, tampered


# ----------------------------------------------------------------------------- main loop
def main(argv: list[str]) -> int:
    proto_in, proto_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)  # nothing may print into the protocol pipe
    for name in PREWARM:
        try:
            __import__(name)
        except ImportError:
            pass
    harness.protect_modules(PREWARM)
    allow = "--no-namespaces" not in argv
    netns, pidns = isolation.enter_server_namespaces(allow)
    if pidns:
        i = os.fork()  # I: pid 1 of the new PID namespace
        if i != 0:  # Z: only waits; I dies with it (below), the namespace dies with I
            os.close(proto_in)
            os.close(proto_out)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            _, status = os.waitpid(i, 0)
            os._exit(max(0, os.waitstatus_to_exitcode(status)))
        isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
    caps = isolation.probe(netns, pidns, allow_namespaces=allow, allow_uid="--no-uid" not in argv)
    server = Server(caps)
    write_message(proto_out, {"ready": True, "pid": os.getpid(), "isolation": server.isolation})
    try:
        while True:
            job = read_message(proto_in)
            if job is None:
                return 0
            try:
                reply = server.run(job)
            except Exception as e:  # the server's own failure: report it, keep serving
                reply = {"passed": False, "status": "sandbox_error", "reason": f"sandbox server error: {e!r}",
                         "tests": [], "stdout": "", "stderr": "", "wall_time": 0.0, "isolation": server.isolation}
            write_message(proto_out, reply)
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
