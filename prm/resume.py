"""The resume fingerprint: a resumed run continues the same job, or refuses.

Every resumable command (label, sample, exec, score) appends to its output and, on a rerun, skips
what is already there. That is only right when the rerun is the same job: the same input files
(by content) and every setting that changes the records. So before its first write a command
calls

    begin(out, fingerprint("label", {"--samples": samples, ...}, {"--method": "mc", "-k": 8, ...}))

which keeps the fingerprint next to the output in `OUT.resume.json` (written atomically; the
JSONL output itself stays plain records, readable by any tool). On a rerun with records already in
OUT, `begin` compares the stored fingerprint with this run's and raises a UserError naming each
input and setting that differs, so records made under other rules are never mixed into one file.
An output with records but no fingerprint (another tool, an older version) is refused the same way.

Inputs are identified by size and SHA-256 of their bytes, so moving or renaming a file keeps a
resume valid and editing it does not. Settings that only change speed or how much is done this
run (--batch-size, --workers, --limit) are left out by the callers: they do not change a record.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from prm.errors import UserError
from prm.records import repair_tail, write_text_atomic

SUFFIX = ".resume.json"


def sidecar(out: str | os.PathLike) -> Path:
    out = Path(out)
    return out.with_name(out.name + SUFFIX)


def file_digest(path: str | os.PathLike) -> dict:
    """{"size", "sha256"} of a file's bytes (streamed)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return {"size": os.path.getsize(path), "sha256": h.hexdigest()}


def fingerprint(command: str, inputs: dict, settings: dict) -> dict:
    """The identity of a job: its command, the digest of each input file (None: not given) and its
    settings (JSON values; a tuple becomes a list, as it would on a round trip)."""
    return {"command": command,
            "inputs": {flag: None if p is None else file_digest(p) for flag, p in inputs.items()},
            "settings": json.loads(json.dumps(settings, default=str))}


def differences(old: dict, new: dict) -> list[str]:
    """What differs between a stored fingerprint and this run's, one phrase per input or setting."""
    out = []
    if old.get("command") != new.get("command"):
        out.append(f"command ({old.get('command')!r} wrote it, this is {new.get('command')!r})")
    for part in ("inputs", "settings"):
        a, b = old.get(part) or {}, new.get(part) or {}
        for key in list(b) + [k for k in a if k not in b]:
            if a.get(key) == b.get(key):
                continue
            if part == "inputs":
                out.append(f"{key} (a different file: its content is not the one the output was made from)"
                           if a.get(key) and b.get(key) else f"{key} (given {'now' if b.get(key) else 'then'} only)")
            else:
                out.append(f"{key} ({_show(a.get(key))} then, {_show(b.get(key))} now)")
    return out


def _show(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _has_records(out: Path) -> bool:
    if not out.exists():
        return False
    with out.open("rb") as fh:
        return any(line.strip() for line in fh)


def write(out: str | os.PathLike, fp: dict) -> None:
    """Store `fp` next to `out`, atomically (a crash leaves the old fingerprint or the new one)."""
    write_text_atomic(sidecar(out), json.dumps(fp, indent=1, sort_keys=True) + "\n")


def begin(out: str | os.PathLike, fp: dict, *, restart: str | None = "--overwrite") -> bool:
    """Before the first write to `out`: True when resuming (OUT holds records of this very job),
    False when starting afresh (OUT empty or absent; the fingerprint is stored). Refuses a job
    that differs, naming what differs; `restart` is the command's flag that starts afresh, if any."""
    out = Path(out)
    repair_tail(out)  # a torn last line from a crash is not a record (the appender would cut it too)
    if not _has_records(out):
        write(out, fp)
        return False
    path = sidecar(out)
    how = ("rerun with the same inputs and settings to continue it, or choose another --out"
           + (f" ({restart} discards it)" if restart else ""))
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{out} holds records but no resume record ({path.name}), so this run cannot prove it "
                        f"continues the same job; {how}") from None
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: unreadable resume record ({e}); {how}") from None
    diff = differences(old if isinstance(old, dict) else {}, fp)
    if diff:
        raise UserError(f"{out} was made by another job; these differ: {'; '.join(diff)}. {how}")
    return True


def discard(out: str | os.PathLike) -> None:
    """Start afresh: remove OUT and its fingerprint (call only after `prm.paths.check_paths` passed)."""
    Path(out).unlink(missing_ok=True)
    sidecar(out).unlink(missing_ok=True)
