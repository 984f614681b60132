"""The output-path guard: no command writes over, into or around its own inputs.

Every command that writes calls `check_paths` first, before it reads a record, loads a model or
deletes anything (`--overwrite` included):

    check_paths(inputs={"--problems": args.problems, "--samples": args.samples},
                outputs={"--out": args.out, "--out (rejects)": rejects_path(args.out)})

It refuses, with one line naming both flags:
- an input file that does not exist or is a directory (a clean error, not a traceback later);
- an output that is an input: the same path, a symlink to it, or a hard link of it;
- an output directory that holds an input (`prm train --out` = `--model`, or a parent of it), or an
  output inside an input directory (`--out MODEL/sub`): writing it could replace the input;
- an output file that is an existing directory, and two outputs that are the same file.

Paths are compared after resolving symlinks and `..`. The message never suggests `--overwrite`:
no flag makes writing over an input safe; the fix is another output path.

`lock=OUT` also makes this run the only writer of OUT until it ends: two runs appending to one
output (a job scheduler retrying, a second terminal) would interleave or double records. The lock
is `OUT.lock`, holding the holder's pid, host and command, and an exclusive `flock` on it held for
the life of the process:
- a live holder: refused, in one line naming its pid and host;
- a holder that died (kill -9, a crash, a power cut) left the file but the kernel dropped its
  flock: the next run says so in one line and takes it over. A pid check alone would be fooled by
  pid reuse; the flock is what a dead process cannot keep;
- released (file removed) when the command ends: `prm.cli.main` calls `release_locks` after every
  command, success, error, Ctrl-C or SIGTERM alike; `atexit` covers library callers.
Not covered: a filesystem without working `flock` (some network mounts), where two hosts could
both take the lock. A lock file naming another host is therefore never taken over automatically.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Iterable, Mapping, Union

from prm.errors import DiskFull, UserError

PathArg = Union[str, os.PathLike, None]
Paths = Mapping[str, Union[PathArg, Iterable[PathArg]]]


def _each(named: Paths) -> list[tuple[str, Path]]:
    """(flag, path) for every path given, a list value giving one entry per item; None is skipped."""
    out = []
    for flag, value in named.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        out += [(flag, Path(v).expanduser()) for v in values if v is not None and str(v) != ""]
    return out


def _resolved(p: Path) -> Path:
    return Path(os.path.realpath(p))


def _same(a: Path, b: Path) -> bool:
    if _resolved(a) == _resolved(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links: two names, one file
    except OSError:
        return False


def _within(inner: Path, outer: Path) -> bool:
    return _resolved(outer) in _resolved(inner).parents


def check_paths(*, inputs: Paths = {}, models: Paths = {}, outputs: Paths = {}, output_dirs: Paths = {},
                lock: PathArg = None) -> None:
    """Refuse (UserError) paths that would make a command read or write the wrong thing; see the module doc.

    `inputs`: files read (must exist, not directories). `models`: model or data directories read
    (compared only: a name that is not a local path, like a hub id, is allowed). `outputs`: files
    written. `output_dirs`: directories written into. Keys are the flags, as the user typed them.
    `lock`: the output this run must be the only writer of (taken last, once every check passed)."""
    files, dirs = _each(inputs), _each(models)
    outs, out_dirs = _each(outputs), _each(output_dirs)
    if lock is not None and str(lock) != "":
        outs.append(("--out (lock)", lock_path(lock)))
    for flag, p in files:
        if p.is_dir():
            raise UserError(f"{flag} {p}: is a directory; expected a file")
        if not p.exists():
            raise UserError(f"{flag} {p}: no such file")
    for flag, p in outs:
        if p.is_dir():
            raise UserError(f"{flag} {p}: is a directory; expected a file path")
    written = outs + out_dirs
    for oflag, o in written:
        for iflag, i in files + dirs:
            if _same(o, i):
                raise UserError(f"{oflag} {o} is the input {iflag} {i}: a command never writes over its own "
                                f"input; choose another {oflag.split()[0]}")
            if _within(i, o):
                raise UserError(f"{oflag} {o} contains the input {iflag} {i}: writing it could replace the input; "
                                f"choose another {oflag.split()[0]}")
            if _within(o, i) and (iflag, i) in dirs:
                raise UserError(f"{oflag} {o} is inside the input {iflag} {i}: writing it would change the input; "
                                f"choose another {oflag.split()[0]}")
    for k, (aflag, a) in enumerate(outs):
        for bflag, b in outs[k + 1:]:
            if _same(a, b):
                raise UserError(f"{aflag} and {bflag} are the same file ({a}): one would replace the other")
    if lock is not None and str(lock) != "":
        acquire(lock)


# ----------------------------------------------------------------------------- the output lock
LOCK_SUFFIX = ".lock"
_HELD: dict[str, int] = {}   # resolved lock path -> the open descriptor holding its flock


def lock_path(out: str | os.PathLike) -> Path:
    out = Path(out).expanduser()
    return out.with_name(out.name + LOCK_SUFFIX)


def _holder(fd: int) -> dict:
    """What a lock file says about its holder ({} when empty or unreadable: a lock being written)."""
    try:
        raw = os.pread(fd, 4096, 0)
        obj = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        return obj if isinstance(obj, dict) else {}
    except (OSError, ValueError):
        return {}


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, TypeError, ValueError):
        return True   # PermissionError: it exists under another user; a bad pid: assume the worst
    return True


def _who(h: dict) -> str:
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(h["started"])) if isinstance(
        h.get("started"), (int, float)) else "?"
    return f"pid {h.get('pid', '?')} on {h.get('host', '?')} ({h.get('command') or 'prm'}, since {since})"


def _resumed(h: dict) -> str:
    """What the new run picks up from the dead one: a trainer its checkpoints, the others their records."""
    if (h.get("command") or "").split()[1:2] == ["train"]:
        return "its newest complete checkpoint is resumed"
    return "records it wrote are kept and resumed"


def acquire(out: str | os.PathLike) -> Path:
    """Make this process the only writer of `out` (see the module doc); returns the lock file.
    Reentrant: a process that already holds it (a command calling a library function that locks
    the same output) just keeps it."""
    path = lock_path(out)
    key = str(_resolved(path))
    if key in _HELD:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    for _ in range(20):   # retried only when another run removed the file between our open and flock
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            h = _holder(fd)
            os.close(fd)
            gone = h.get("host") == host and not _alive(h.get("pid"))
            raise UserError(
                f"{out} is being written by another run: {_who(h)}, lock {path}; "
                + ("that process is gone but one it started still holds the lock (see `fuser "
                   f"{path}`); end it, then rerun" if gone else
                   "wait for it to finish, or choose another --out")) from None
        except OSError as err:
            os.close(fd)
            raise UserError(f"cannot lock {path}: {err.strerror or err} (a filesystem without flock?); "
                            f"choose an --out on a local disk") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:           # the holder released (removed) it after we opened it: lock the new file
            os.close(fd)
            continue
        h = _holder(fd)
        if h and h.get("host") not in (None, host):
            # flock may not reach across hosts on a network filesystem: never take another host's lock
            os.close(fd)
            raise UserError(f"{out} is locked by {_who(h)}, lock {path}; this host cannot tell whether it is "
                            f"still running: if it is not, delete {path} and rerun")
        if h:
            print(f"prm: {path}: taking over a stale lock left by {_who(h)}, which is no longer running "
                  f"({_resumed(h)})", file=sys.stderr)
        me = {"pid": os.getpid(), "host": host, "command": " ".join(["prm", *sys.argv[1:2]]) if sys.argv else "prm",
              "started": time.time()}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(me) + "\n").encode("utf-8"), 0)
        except OSError as err:
            path.unlink(missing_ok=True)
            os.close(fd)
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DiskFull(path, err, " (writing the lock, before any record)") from None
            raise
        _HELD[key] = fd
        return path
    raise UserError(f"cannot lock {path}: other runs keep replacing it; rerun when they are done")


def release(out: str | os.PathLike) -> None:
    """Give up the lock on `out`, if this process holds it: remove the file, then drop the flock
    (in that order: a run that opened the old file sees it is gone and locks a new one)."""
    path = lock_path(out)
    fd = _HELD.pop(str(_resolved(path)), None)
    if fd is None:
        return
    try:
        if os.fstat(fd).st_ino == os.stat(path).st_ino:
            path.unlink()
    except OSError:
        pass  # already removed by hand: nothing left to release but the descriptor
    os.close(fd)


def release_locks() -> None:
    """Release every output lock this process holds (end of a command, or interpreter exit)."""
    for key in list(_HELD):
        release(key[:-len(LOCK_SUFFIX)])


atexit.register(release_locks)
