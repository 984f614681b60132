"""Which checkpoint a resumed `prm train` loads: the newest complete one, never a half-written one.

transformers writes a checkpoint directory file by file with plain writes (the weights, then
optimizer.pt, scheduler.pt, rng_state.pth, and trainer_state.json last), and its
`get_last_checkpoint` returns the newest `checkpoint-N` directory whatever it holds. After a SIGKILL
or a full disk in the middle of a save, a resume would then load a truncated optimizer.pt (a crash)
or half a trainer_state.json (another crash), and the rerun could never get past it.

`last_complete(ckpt_dir)` returns the newest checkpoint whose files are all there and whole, and
removes each newer one that is not, printing one line naming it (it is useless: its step is
trained again from the previous checkpoint, which transformers' rotation keeps until the newer
one is written: `save_total_limit` >= 1 deletes old checkpoints only after the new one's
trainer_state.json). "Whole" is checked without loading tensors:
- trainer_state.json parses and its global_step is the directory's N;
- the weights (model.safetensors, adapter_model.safetensors, a sharded index and each of its
  shards, or pytorch_model.bin) are present and whole: a safetensors file's length is exactly its
  header's length plus the end of its last tensor; a torch file's zip directory, which torch writes
  last, reads;
- optimizer.pt and scheduler.pt are present, and every torch file in the directory is whole.
Not covered: a file whose bytes were written whole but are wrong (a bad disk), and a power cut
that loses data the OS had not flushed (transformers does not fsync checkpoints).

The trainers that run their own `Trainer` (trainer.py, implicit.py, generative.py) should all call
this instead of `get_last_checkpoint`.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import struct
import sys
import zipfile
from contextlib import contextmanager
from pathlib import Path

from prm.errors import DiskFull

_NAME = re.compile(r"^checkpoint-(\d+)$")
WEIGHTS = ("model.safetensors", "adapter_model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
           "adapter_model.bin")
REQUIRED = ("optimizer.pt", "scheduler.pt")      # written unless save_only_model, which the toolkit never sets
TORCH_SUFFIXES = (".pt", ".pth", ".bin")


def _safetensors_whole(path: Path) -> bool:
    """The file's length is the header's 8 + n bytes plus the end of its last tensor's data."""
    try:
        with path.open("rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            if n > 100 * 2**20:
                return False
            header = json.loads(fh.read(n).decode("utf-8"))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
        return path.stat().st_size == 8 + n + end
    except (OSError, ValueError, struct.error, KeyError, TypeError, IndexError):
        return False


def _torch_file_whole(path: Path) -> bool:
    """torch.save writes a zip whose central directory comes last: it reads only if the file is whole."""
    try:
        with zipfile.ZipFile(path) as z:
            return bool(z.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def problem(ckpt: Path) -> str | None:
    """Why `ckpt` cannot be resumed from (a phrase), or None when it is complete."""
    step = _NAME.match(ckpt.name)
    try:
        state = json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "the save stopped before trainer_state.json, its last file"
    except (OSError, ValueError) as e:
        return f"trainer_state.json unreadable ({type(e).__name__})"
    if not isinstance(state, dict) or (step and state.get("global_step") != int(step.group(1))):
        return "trainer_state.json is not this checkpoint's"
    weights = [ckpt / w for w in WEIGHTS if (ckpt / w).exists()]
    if not weights:
        return "no model weights"
    for w in weights:
        if w.name.endswith(".index.json"):
            try:
                shards = set(json.loads(w.read_text(encoding="utf-8"))["weight_map"].values())
            except (OSError, ValueError, KeyError, AttributeError):
                return f"{w.name} unreadable"
            bad = [s for s in sorted(shards) if not _safetensors_whole(ckpt / s)]
            if bad:
                return f"{bad[0]} missing or cut short"
        elif w.suffix == ".safetensors" and not _safetensors_whole(w):
            return f"{w.name} cut short"
    for name in REQUIRED:
        if not (ckpt / name).exists():
            return f"no {name}"
    for f in sorted(ckpt.iterdir()):
        if f.suffix in TORCH_SUFFIXES and f.is_file() and not _torch_file_whole(f):
            return f"{f.name} cut short"
    return None


def checkpoints(ckpt_dir: str | Path) -> list[Path]:
    """The `checkpoint-N` directories under `ckpt_dir`, newest (highest N) first."""
    d = Path(ckpt_dir)
    if not d.is_dir():
        return []
    found = [p for p in d.iterdir() if _NAME.match(p.name) and p.is_dir()]
    return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)), reverse=True)


def last_complete(ckpt_dir: str | Path, *, remove: bool = True) -> str | None:
    """The newest complete checkpoint under `ckpt_dir` (a str, as `resume_from_checkpoint` takes it),
    or None. Each newer incomplete one is named in one line on stderr and, with `remove`, deleted
    (so that transformers' rotation and the next resume never meet it). Call on the main process."""
    for ckpt in checkpoints(ckpt_dir):
        why = problem(ckpt)
        if why is None:
            return str(ckpt)
        older = [c.name for c in checkpoints(ckpt_dir) if c != ckpt and problem(c) is None]
        print(f"prm train: {ckpt}: incomplete checkpoint ({why}), {'removed' if remove else 'skipped'}; "
              f"resuming from {'the newest complete one, ' + older[0] if older else 'the start'}", file=sys.stderr)
        if remove:
            shutil.rmtree(ckpt, ignore_errors=True)
    return None


# ----------------------------------------------------------------------------- a full disk
# torch.save and safetensors report a full disk in their own exception types; these words (the OS's
# strerror, Rust's io::ErrorKind) are how they say it. torch's zip writer may not say it at all
# ("[enforce fail at inline_container.cc:672] . unexpected pos 5568 vs 5460": its short write), so
# one of its errors counts when the filesystem it wrote to is (nearly) out of space.
_FULL_WORDS = ("No space left on device", "Disk quota exceeded", "StorageFull", "QuotaExceeded")
_TORCH_WRITER = ("inline_container.cc", "PytorchStreamWriter")
NEARLY_FULL = 1 << 20


def _free(path: Path) -> int:
    for p in (path, *path.parents):
        try:
            return shutil.disk_usage(p).free
        except OSError:
            continue
    return -1


def is_disk_full(err: BaseException, where: str | Path | None = None) -> bool:
    """Whether `err` (or an exception it came from) means the disk or a quota is full; `where`: the
    folder being written, for torch's writer errors, which are read as a full disk only when it is."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(w in str(err) for w in _FULL_WORDS):
            return True
        if where is not None and any(w in str(err) for w in _TORCH_WRITER) and 0 <= _free(Path(where)) < NEARLY_FULL:
            return True
        err = err.__cause__ or err.__context__
    return False


@contextmanager
def disk_full_as_one_line(ckpt_dir: str | Path, out: str | Path):
    """Turn a full disk met while training (a checkpoint) or saving (the final model) into `DiskFull`:
    one line naming where, after removing the checkpoint that was being written (a resume would skip
    it anyway, and its files hold space the user is about to free). Other errors pass unchanged."""
    try:
        yield
    except DiskFull:
        raise
    except Exception as err:
        if not is_disk_full(err, ckpt_dir):
            raise
        cut = [c for c in checkpoints(ckpt_dir) if problem(c) is not None]
        for c in cut:
            shutil.rmtree(c, ignore_errors=True)
        keep = next((c.name for c in checkpoints(ckpt_dir)), None)
        where = cut[0] if cut else Path(out)
        done = (f" (writing {where.name}, removed; resumes from {keep or 'the start'})" if cut else
                f" (saving the final model{'; resumes from ' + keep if keep else ''})")
        raise DiskFull(where, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), done) from None


# ----------------------------------------------------------------------------- the run around a Trainer
def is_main_process() -> bool:
    """Rank 0 of a torchrun / accelerate launch, or a single process (before accelerate is set up)."""
    return os.environ.get("RANK", "0") == "0"


def resume_point(resume: bool, ckpt_dir: str | Path, run: dict) -> str | None:
    """The checkpoint to resume from: the newest complete one under `ckpt_dir` (None: start fresh).
    Checkpoints of another run (its run.json differs from `run`: the data, the objective, or what
    the objective's loss depends on) are refused: mixing them would train a model on two datasets."""
    ckpt_dir = Path(ckpt_dir)
    if not (resume and ckpt_dir.is_dir()):
        return None
    last = last_complete(ckpt_dir, remove=is_main_process())
    run_file = ckpt_dir / "run.json"
    if last and run_file.exists() and json.loads(run_file.read_text()) != run:
        from prm.errors import UserError

        raise UserError(f"{ckpt_dir}: checkpoints are from a different run ({', '.join(sorted(run))} changed); "
                        "use a new --out (output_dir) or --no-resume")
    return last


def train_and_save(trainer, *, ckpt_dir: str | Path, out: str | Path, run: dict, last: str | None, has_eval: bool,
                   save, keep_checkpoints: bool) -> None:
    """run.json, train (from `last`), evaluate, `save(result_metrics, eval_metrics)` on the main
    process, checkpoints removed after success; a full disk anywhere in it is one line (`DiskFull`)."""
    from prm.records import write_text_atomic

    ckpt_dir = Path(ckpt_dir)
    if trainer.is_world_process_zero():
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(ckpt_dir / "run.json", json.dumps(run))
    with disk_full_as_one_line(ckpt_dir, out):
        result = trainer.train(resume_from_checkpoint=last)
        eval_metrics = trainer.evaluate() if has_eval else {}
        if trainer.is_world_process_zero():
            save(result.metrics, eval_metrics)
    trainer.accelerator.wait_for_everyone()
    if trainer.is_world_process_zero() and not keep_checkpoints:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
