"""Faults 3 and 2 of #27 for `prm train`: a trainer killed with SIGKILL at the worst moments, and a
disk that fills up mid-run. Rerunning the same command resumes from the newest complete checkpoint
(a half-written one is named, removed and never loaded) and ends with the uninterrupted run's model.

The kills are real `kill -9`s of a real `prm train` subprocess. Two land at a chosen point inside a
checkpoint write: the subprocess runs `prm.cli.main` behind a hook (HOOK, this file only) that, for
one named file, writes half of its bytes and then sends SIGKILL to its own process. A third is a
plain race: SIGKILL as soon as a later checkpoint directory appears. The full disk is a real tmpfs
(root only; skipped otherwise).

Tolerance: the resumed run's held-out scores equal the uninterrupted run's to 1e-6. On CPU in one
thread they come out bit-identical: the Trainer restores the weights, optimizer, scheduler and RNG
states and skips the batches already seen (same data_seed); 1e-6 leaves room for summation order
differing across BLAS builds, far below any change a lost or repeated step makes (~1e-2 here)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures_scoring import first_error_records, texts_for, write_jsonl

from prm.train.checkpoints import checkpoints, last_complete, problem

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PRM_THREADS": "1", "OMP_NUM_THREADS": "1"}

# prm.cli.main behind a hook: the file named by $PRM_TEST_CUT ("checkpoint-4/optimizer.pt") is written
# half, then the process kills itself with SIGKILL: a deterministic moment inside a checkpoint write
HOOK = r"""
import io, os, signal, sys
import torch
from transformers import trainer_callback
cut = os.environ.get("PRM_TEST_CUT") or "\0"
real_save, real_json = torch.save, trainer_callback.TrainerState.save_to_json

def die_halfway(path, data):
    with open(path, "wb") as fh:
        fh.write(data[: len(data) // 2])
    os.kill(os.getpid(), signal.SIGKILL)

def save(obj, f, *a, **k):
    if isinstance(f, (str, os.PathLike)) and str(f).endswith(cut):
        buf = io.BytesIO()
        real_save(obj, buf, *a, **k)
        die_halfway(f, buf.getvalue())
    return real_save(obj, f, *a, **k)

def save_to_json(self, path):
    if str(path).endswith(cut):
        real_json(self, path + ".whole")
        die_halfway(path, open(path + ".whole", "rb").read())
    return real_json(self, path)

torch.save, trainer_callback.TrainerState.save_to_json = save, save_to_json
from prm.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from prm.tiny import TinyConfig, build_tiny_causal_lm

    d = tmp_path_factory.mktemp("train_faults")
    recs = first_error_records(200, seed=3)
    write_jsonl(d / "train.jsonl", recs[:160])
    write_jsonl(d / "eval.jsonl", recs[160:])
    build_tiny_causal_lm(d / "lm", texts_for(recs), TinyConfig(regex_pretokenize=False))
    return d


def train_argv(d: Path, out: Path) -> list[str]:
    return ["train", "--model", str(d / "lm"), "--train", str(d / "train.jsonl"), "--out", str(out),
            "--max-steps", "12", "--save-steps", "2", "--batch-size", "8", "--lr", "3e-3"]


def run_train(d, out, cut=None, timeout=300):
    env = {**ENV, **({"PRM_TEST_CUT": cut} if cut else {})}
    return subprocess.run([sys.executable, "-c", HOOK, *train_argv(d, out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def held_out_scores(model_dir, d) -> list[list[float]]:
    from prm.scoring import load_scorer

    recs = [json.loads(x) for x in (d / "eval.jsonl").read_text().splitlines()]
    with load_scorer(model_dir, backend="transformers") as sc:
        return sc.score_batch([(r["prompt"], r["completions"]) for r in recs])


def max_diff(a, b) -> float:
    assert [len(x) for x in a] == [len(y) for y in b]
    return max(abs(u - v) for x, y in zip(a, b) for u, v in zip(x, y))


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "m"
    r = run_train(data, out)
    assert r.returncode == 0, r.stderr[-3000:]
    return held_out_scores(out, data)


def err_lines(r) -> list[str]:
    return [x for x in r.stderr.splitlines() if x.startswith("prm")]


@pytest.mark.slow
def test_sigkill_mid_checkpoint_then_rerun_gives_the_uninterrupted_model(data, reference, tmp_path):
    out = tmp_path / "m"
    ckpts = out / "checkpoints"
    # 1: killed halfway through checkpoint-4's optimizer.pt (weights already written, no trainer_state.json)
    r = run_train(data, out, cut="checkpoint-4/optimizer.pt")
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    assert [c.name for c in checkpoints(ckpts)] == ["checkpoint-4", "checkpoint-2"]
    assert "stopped before trainer_state.json" in problem(ckpts / "checkpoint-4")
    assert (out.parent / "m.lock").exists()                 # left by the dead run; taken over below

    # 2: the rerun skips checkpoint-4, resumes from checkpoint-2, and is killed with half of
    # checkpoint-8's trainer_state.json written (every other file of it whole)
    r = run_train(data, out, cut="checkpoint-8/trainer_state.json")
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    assert any("checkpoint-4: incomplete checkpoint (the save stopped before trainer_state.json, its last file), removed; resuming from the newest "
               "complete one, checkpoint-2" in x for x in err_lines(r)), r.stderr[-2000:]
    assert "taking over a stale lock" in r.stderr
    assert "trainer_state.json unreadable" in problem(ckpts / "checkpoint-8")
    assert last_complete(ckpts, remove=False).endswith("checkpoint-6")

    # 3: a plain race: SIGKILL the moment checkpoint-10's directory appears, wherever that lands
    p = subprocess.Popen([sys.executable, "-c", HOOK, *train_argv(data, out)], cwd=ROOT, env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (ckpts / "checkpoint-10").exists() and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    p.kill()
    stderr = p.communicate(timeout=60)[1]
    assert "checkpoint-8: incomplete checkpoint (trainer_state.json unreadable" in stderr
    assert not (ckpts / "checkpoint-8").exists() or problem(ckpts / "checkpoint-8") is None

    # 4: the rerun completes, from whatever the race left
    r = run_train(data, out)
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads((out / "train_report.json").read_text())
    assert report["resumed_from"] and Path(report["resumed_from"]).name in {f"checkpoint-{k}" for k in (6, 8, 10, 12)}
    assert not ckpts.exists() and not (out.parent / "m.lock").exists()
    assert max_diff(held_out_scores(out, data), reference) <= 1e-6


# ----------------------------------------------------------------------------- the completeness check
def _checkpoint(d: Path, step: int) -> Path:
    """A checkpoint directory laid out as transformers writes one (small tensors, same file kinds)."""
    import torch
    from safetensors.torch import save_file

    c = d / f"checkpoint-{step}"
    c.mkdir(parents=True)
    save_file({"w": torch.arange(64, dtype=torch.float32), "b": torch.zeros(3)}, str(c / "model.safetensors"))
    torch.save({"state": {0: {"exp_avg": torch.ones(64)}}}, c / "optimizer.pt")
    torch.save({"last_epoch": step}, c / "scheduler.pt")
    torch.save({"cpu": torch.get_rng_state()}, c / "rng_state.pth")
    (c / "trainer_state.json").write_text(json.dumps({"global_step": step, "log_history": []}))
    return c


def _cut(f: Path, keep: float = 0.5) -> None:
    data = f.read_bytes()
    f.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("damage, why", [
    (lambda c: None, None),
    (lambda c: (c / "trainer_state.json").unlink(), "stopped before trainer_state.json"),
    (lambda c: _cut(c / "trainer_state.json"), "trainer_state.json unreadable"),
    (lambda c: (c / "trainer_state.json").write_text('{"global_step": 3}'), "not this checkpoint's"),
    (lambda c: _cut(c / "model.safetensors", 0.9), "model.safetensors cut short"),
    (lambda c: _cut(c / "model.safetensors", 0.01), "model.safetensors cut short"),
    (lambda c: (c / "model.safetensors").unlink(), "no model weights"),
    (lambda c: _cut(c / "optimizer.pt", 0.99), "optimizer.pt cut short"),
    (lambda c: (c / "scheduler.pt").unlink(), "no scheduler.pt"),
    (lambda c: _cut(c / "rng_state.pth"), "rng_state.pth cut short"),
    (lambda c: (c / "rng_state.pth").write_bytes(b""), "rng_state.pth cut short"),
])
def test_a_checkpoint_is_complete_only_when_every_file_is_whole(tmp_path, damage, why):
    c = _checkpoint(tmp_path, 6)
    damage(c)
    got = problem(c)
    assert (got is None) if why is None else (got is not None and why in got), got


def test_last_complete_skips_and_removes_newer_incomplete_ones(tmp_path, capsys):
    for step in (2, 4, 6):
        _checkpoint(tmp_path, step)
    _cut(tmp_path / "checkpoint-6" / "optimizer.pt")
    (tmp_path / "checkpoint-4" / "trainer_state.json").unlink()
    assert last_complete(tmp_path, remove=False).endswith("checkpoint-2")
    assert len(checkpoints(tmp_path)) == 3                      # remove=False: only named
    assert last_complete(tmp_path).endswith("checkpoint-2")
    assert [c.name for c in checkpoints(tmp_path)] == ["checkpoint-2"]
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 4 and all("incomplete checkpoint" in x and "checkpoint-2" in x for x in err)
    (tmp_path / "checkpoint-2" / "scheduler.pt").unlink()
    assert last_complete(tmp_path) is None and "resuming from the start" in capsys.readouterr().err


def _chained() -> BaseException:
    try:
        try:
            raise OSError(28, "No space left on device")
        except OSError as e:
            raise RuntimeError("saving failed") from e
    except RuntimeError as e:
        return e


@pytest.mark.parametrize("err, full", [
    (OSError(28, "No space left on device"), True),
    (OSError(122, "Disk quota exceeded"), True),
    (RuntimeError('Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on '
                  'device" })'), True),
    (_chained(), True),
    (RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 5568 vs 5460"), False),  # room left
    (OSError(13, "Permission denied"), False),
    (ValueError("bad value"), False),
])
def test_is_disk_full(tmp_path, err, full):
    from prm.train.checkpoints import is_disk_full

    assert is_disk_full(err, tmp_path) is full


# ----------------------------------------------------------------------------- a full disk
def _mount(d, size: str) -> None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(d)], capture_output=True,
                       text=True, timeout=30)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode})")


@pytest.mark.slow
def test_train_on_a_full_disk_stops_in_one_line_and_resumes(data, reference, tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    _mount(small, "10m")          # a checkpoint of the tiny model is ~4.3 MB: the third one does not fit
    try:
        out = small / "m"
        r = run_train(data, out)
        assert r.returncode == 2, r.stderr[-3000:]
        lines = err_lines(r)
        assert len(lines) == 1 and "disk full" in lines[0] and "Traceback" not in r.stderr, r.stderr[-3000:]
        assert str(out / "checkpoints") in lines[0] and "removed; resumes from checkpoint-" in lines[0], lines[0]
        assert all(problem(c) is None for c in checkpoints(out / "checkpoints"))   # no half-written one stays
        assert not (small / "m.lock").exists()
        subprocess.run(["mount", "-o", "remount,size=64m", str(small)], check=True, timeout=30)   # space freed
        r = run_train(data, out)
        assert r.returncode == 0, r.stderr[-3000:]
        assert max_diff(held_out_scores(out, data), reference) <= 1e-6
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True, timeout=30)


# ----------------------------------------------------------------------------- the output lock
def test_a_second_trainer_on_the_same_out_is_refused(tmp_path, capsys):
    """`prm train --out` takes the same OUT.lock as label, sample and score (prm/paths.py)."""
    from prm.cli import main

    out = tmp_path / "m"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from prm.paths import acquire; "
                               f"acquire({str(out)!r}); print('held', flush=True); time.sleep(60)"],
                              cwd=ROOT, env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        (tmp_path / "t.jsonl").write_text("")
        rc = main(["train", "--model", str(tmp_path / "lm"), "--train", str(tmp_path / "t.jsonl"), "--out", str(out)])
        err = capsys.readouterr().err
        assert rc == 2 and f"is being written by another run: pid {holder.pid}" in err, err
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait(30)
