"""The multi-process paths give the records of the single-process run (scripts/ci_multiproc.sh).

- labeling with two sampler workers (two `prm label` processes on problem shards) == one process;
- `accelerate launch` training on 2 CPU processes (scripts/accelerate/ddp_cpu.yaml) == one process
  (same data, same optimizer steps, logged losses, step scores and saved weights within 1e-4).

Each test compares the runs' own files here and checks the numbers the script wrote
(WORKDIR/compare_label.json, WORKDIR/compare_train.json).

Both once failed, and these tests found why: MC rollouts were drawn unseeded (now one seed per
prefix), and the token-classification head's default dropout made the loss depend on each
process's RNG stream (now off, see prm.train.load_backbone).

Slow (a few minutes on 2 cores, more when the tiny policy is not cached yet): marked `slow`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "ci_multiproc.sh"


def _run(tmp_path: Path, stages: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PY": sys.executable, "STAGES": stages,
           "ACCELERATE": str(Path(sys.executable).with_name("accelerate"))}
    return subprocess.run(["bash", str(SCRIPT), str(tmp_path)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=1500)


KEYS = ("prompt", "completions", "labels", "mc_values", "n_rollouts", "first_error", "judged", "problem_id", "domain")
TOL = 1e-4  # the script's default: float noise between one process and two DDP ranks


def _records(path: Path) -> dict:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {r["sample_id"]: {k: r.get(k) for k in KEYS} for r in rows}


@pytest.mark.slow
def test_labeling_two_sampler_workers_match_one_process(tmp_path):
    r = _run(tmp_path, "label")
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    # the records themselves, compared here: same sample ids, and every labeled field equal
    single, sharded = _records(tmp_path / "labels.single.jsonl"), _records(tmp_path / "labels.sharded.jsonl")
    assert len(single) == 12   # 6 problems x (reference + corrupted sample)
    assert sharded == single
    # MC really ran: every non-final step was rolled out K=2 times
    assert all(rec["n_rollouts"][:-1] == [2] * (len(rec["labels"]) - 1) for rec in single.values())
    # and the script's numbers say the same
    res = json.loads((tmp_path / "compare_label.json").read_text())
    n_steps = sum(len(rec["labels"]) for rec in single.values())
    assert res == {"records_single": 12, "records_sharded": 12, "step_labels_single": n_steps,
                   "step_labels_sharded": n_steps, "only_single": [], "only_sharded": [], "differing": [],
                   "equal": True}


@pytest.mark.slow
def test_accelerate_two_processes_train_like_one(tmp_path):
    if not Path(sys.executable).with_name("accelerate").exists():
        pytest.skip("accelerate launcher not installed next to this python")
    r = _run(tmp_path, "train")
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    res = json.loads((tmp_path / "compare_train.json").read_text())
    assert res["world_size"] == 2 and "MULTI_CPU" in res["distributed_type"] and res["failed"] == []
    a = json.loads((tmp_path / "prm.single" / "train_report.json").read_text())
    b = json.loads((tmp_path / "prm.ddp" / "train_report.json").read_text())
    assert a["data"] == b["data"] and a["data"]["used"] == 12
    la = [h["loss"] for h in a["log_history"] if "loss" in h]
    lb = [h["loss"] for h in b["log_history"] if "loss" in h]
    assert len(la) == len(lb) == 6 and (res["losses_single"], res["losses_ddp"]) == (la, lb)  # 6 epochs of one batch
    assert max(abs(x - y) for x, y in zip(la, lb)) <= TOL, (la, lb)
    assert res["scored_steps"] == 12 * 4 and res["max_score_diff"] <= TOL
    # the saved weights agree too (not only the scores on the training data)
    from safetensors.torch import load_file

    wa, wb = load_file(str(tmp_path / "prm.single" / "model.safetensors")), load_file(str(tmp_path / "prm.ddp" / "model.safetensors"))
    assert wa.keys() == wb.keys() and max(float((wa[k] - wb[k]).abs().max()) for k in wa) <= TOL
