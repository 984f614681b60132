"""Kernel-level isolation for one sandboxed run: what this machine allows, and applying it.

Everything here runs inside the sandbox server process (see `server.py`) or its forked children,
never in the caller. Linux only. Three layers, each used only where the kernel lets us:

- **namespaces** (`unshare(2)` through ctypes; Python 3.11 has no `os.unshare`):
  a network namespace for the whole server (only a downed loopback: no network at all), and per
  run a PID namespace (the run's first process is pid 1; when it exits the kernel kills every
  process left in the namespace: daemons, fork bombs) and a mount namespace (fresh tmpfs over every
  world-writable directory, fresh /proc showing only the run's own processes).
- **a throw-away uid** (root only): each run gets a random unprivileged uid, so it cannot write
  root's files, signal the caller, or ptrace anything, and RLIMIT_NPROC -- which counts processes
  per *user* and is ignored for root -- really bounds a fork bomb. Killing "every process of that
  uid" is also a complete clean-up even without a PID namespace.
- **rlimits**: address space, CPU seconds, file size, open files, process count, no core files.

`probe()` tries each layer in a throw-away child and reports what works, so the result of every
run can say honestly which protections were in force (`CodeResult.isolation`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import signal
import sys
from dataclasses import dataclass

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x1000, 0x2000, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 1, 4, 38, 36

# Candidate world-writable directories a run could otherwise leave files in (checked at start-up).
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/run/shm", "/var/lock")
# Throw-away uids/gids come from this range: far above real accounts, never in /etc/passwd.
UID_LOW, UID_HIGH = 1 << 20, 1 << 30

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def prctl(option: int, arg: int = 0) -> None:
    _check(_libc.prctl(option, arg, 0, 0, 0), "prctl")


@dataclass(frozen=True)
class Caps:
    """What the kernel allowed when the server started (each flag: that layer is used)."""

    netns: bool = False
    pidns: bool = False
    mountns: bool = False
    uid: bool = False
    scratch: tuple[str, ...] = ()
    # (ancestor the throw-away uid cannot traverse, (python dirs under it to expose read-only))
    expose: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def describe(self) -> str:
        """The isolation string recorded in every result, e.g. 'netns+pidns+mountns+uid+rlimits'."""
        parts = [name for name in ("netns", "pidns", "mountns", "uid") if getattr(self, name)]
        parts.append("rlimits")
        return "+".join(parts)


def _try_in_child(fn) -> bool:
    """Run fn() in a forked child; True if it returned without raising (the parent stays untouched)."""
    pid = os.fork()
    if pid == 0:
        try:
            fn()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _mountns_check() -> None:
    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)


def _uid_check() -> None:
    os.setgroups([])
    os.setresgid(UID_LOW, UID_LOW, UID_LOW)
    os.setresuid(UID_LOW, UID_LOW, UID_LOW)


def scratch_dirs() -> tuple[str, ...]:
    """World-writable directories on this machine (a run could leave files there)."""
    found = []
    for d in SCRATCH_DIRS:
        real = os.path.realpath(d)
        try:
            st = os.stat(real)
        except OSError:
            continue
        if st.st_mode & 0o002 and real not in found:
            found.append(real)
    return tuple(found)


def enter_server_namespaces(allow: bool = True) -> tuple[bool, bool]:
    """Called once by the fresh server process: (netns, pidns) entered.

    The network namespace applies to the server and every run: it is empty, its loopback is down
    and runs lack the capability to bring it up, so they reach nothing -- not the internet, not a
    server on the caller's 127.0.0.1. After unshare(CLONE_NEWPID) the server's *next* child is pid
    1 of a new PID namespace; the server forks it at once and that child does the work.
    The server also becomes a child subreaper: a daemon that double-forks is re-parented to it
    (not to the system's init), so where there is no PID namespace it can still be found and killed.
    """
    try:
        prctl(PR_SET_CHILD_SUBREAPER, 1)
    except OSError:
        pass
    if not allow or not sys.platform.startswith("linux"):
        return False, False
    netns = pidns = True
    try:
        unshare(CLONE_NEWNET)
    except OSError:
        netns = False
    try:
        unshare(CLONE_NEWPID)
    except OSError:
        pidns = False
    return netns, pidns


def probe(netns: bool, pidns: bool, allow_namespaces: bool = True, allow_uid: bool = True) -> Caps:
    """What else works here (each tried in a throw-away child)."""
    mountns = allow_namespaces and sys.platform.startswith("linux") and _try_in_child(_mountns_check)
    uid = allow_uid and os.geteuid() == 0 and _try_in_child(_uid_check)
    scratch = scratch_dirs() if mountns else ()
    expose = hidden_python_dirs() if uid else ()
    if expose and not scratch:
        # Python lives where another uid cannot reach and there is no mount namespace to expose
        # it: a throw-away uid could not import the standard library, so it is not used
        uid, expose = False, ()
    return Caps(netns=netns, pidns=pidns, mountns=mountns, uid=uid, scratch=scratch, expose=expose)


def hidden_python_dirs() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Python's own directories that another uid cannot reach, grouped by the blocking ancestor.

    Typical case: Python installed under /root (pyenv, conda) whose mode is 0700; a throw-away uid
    could then import nothing that the server had not already imported. Each run's mount
    namespace puts an empty tmpfs over the ancestor (hiding the rest of it: root's home stays
    private) and bind-mounts just these directories back.
    """
    wanted = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, *sys.path) if p and os.path.isdir(p)}
    groups: dict[str, list[str]] = {}
    for d in sorted(wanted):
        blocker = None
        parts = d.strip("/").split("/")
        for i in range(1, len(parts)):  # ancestors of d, from / down (d itself needs only o+r+x inside)
            anc = "/" + "/".join(parts[:i])
            try:
                if not os.stat(anc).st_mode & 0o001:
                    blocker = anc
                    break
            except OSError:
                break
        if blocker is None:
            continue
        kept = groups.setdefault(blocker, [])
        if not any(d == k or d.startswith(k + "/") for k in kept):
            kept[:] = [k for k in kept if not k.startswith(d + "/")] + [d]
    return tuple((a, tuple(ds)) for a, ds in sorted(groups.items()))


def private_mounts(caps: Caps, tmpfs_mb: int) -> None:
    """In a fresh mount namespace: nothing propagates back to the host, scratch dirs become empty
    size-limited tmpfs (gone when the run's namespace dies), /proc shows only the run."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    for d in caps.scratch:
        mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmpfs_mb}m,mode=1777")
    for g, (blocker, dirs) in enumerate(caps.expose):
        stash = []
        for k, d in enumerate(dirs):  # park each dir on the fresh tmpfs, cover the ancestor, move back
            s = os.path.join(caps.scratch[0], f".prm-expose-{g}-{k}")
            os.mkdir(s)
            mount(d, s, None, MS_BIND | MS_REC)
            stash.append(s)
        mount("tmpfs", blocker, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
        for s, d in zip(stash, dirs):
            os.makedirs(d, exist_ok=True)
            mount(s, d, None, MS_MOVE)
            os.rmdir(s)
    try:
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        pass  # the host /proc stays; other processes' details are still unreadable for another uid


@dataclass(frozen=True)
class Limits:
    """Resource limits for one run (rlimits are per process; NPROC is per uid, see module doc)."""

    cpu_seconds: int
    memory_mb: int
    file_size_mb: int = 16
    open_files: int = 256
    max_procs: int | None = 64  # None: not set (without a throw-away uid it would count the caller's processes)


def apply_limits(limits: Limits) -> None:
    mb = 1 << 20
    pairs = [
        (resource.RLIMIT_AS, limits.memory_mb * mb),
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_FSIZE, limits.file_size_mb * mb),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
    ]
    if limits.max_procs is not None:
        pairs.append((resource.RLIMIT_NPROC, limits.max_procs))
    for what, value in pairs:
        soft, hard = resource.getrlimit(what)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        # CPU: the soft limit sends SIGXCPU, the hard one a second later SIGKILL
        hard_value = value + 1 if what == resource.RLIMIT_CPU and (hard == resource.RLIM_INFINITY or value + 1 <= hard) else value
        resource.setrlimit(what, (value, hard_value))


def drop_privileges(uid: int) -> None:
    """Become the throw-away uid for good (no supplementary groups, no way back, no setuid gains)."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def harden() -> None:
    """Calls that only ever remove powers; failures are harmless."""
    for option, arg in ((PR_SET_NO_NEW_PRIVS, 1), (PR_SET_DUMPABLE, 0)):
        try:
            prctl(option, arg)
        except OSError:
            pass


def kill_uid(uid: int) -> None:
    """Kill every process owned by `uid` (a forked helper becomes that uid and calls kill(-1)).

    kill(-1, SIGKILL) from uid U reaches exactly the processes U may signal, i.e. those of uid U, so
    this finds daemons that left the process group and session. Repeated until none answers.
    """
    pid = os.fork()
    if pid == 0:
        try:
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            for _ in range(100):
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    os._exit(0)
            os._exit(0)
        except BaseException:
            os._exit(1)
    os.waitpid(pid, 0)


def descendants_of(root_pid: int) -> list[int]:
    """Pids whose parent chain reaches root_pid (from /proc; used where there is no PID namespace)."""
    parent: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
            parent[int(name)] = int(stat[stat.rfind(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root_pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out
