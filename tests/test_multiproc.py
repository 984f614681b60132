"""The multi-process paths give the records of the single-process run (scripts/ci_multiproc.sh).

- labeling with two sampler workers (two `prm label` processes on problem shards) == one process;
- `accelerate launch` training on 2 CPU processes (scripts/accelerate/ddp_cpu.yaml) == one process
  (same data, same optimizer steps, PRM scores within 1e-4).

Both once failed, and these tests found why: MC rollouts were drawn unseeded (now one seed per
prefix), and the token-classification head's default dropout made the loss depend on each
process's RNG stream (now off, see prm.train.load_backbone).

Slow (a few minutes on 2 cores, more when the tiny policy is not cached yet): marked `slow`.
"""

from __future__ import annotations

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


@pytest.mark.slow
def test_labeling_two_sampler_workers_match_one_process(tmp_path):
    r = _run(tmp_path, "label")
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert "ok: labeling, 2 sampler workers == 1 process" in r.stdout
    # the check compared real records: both outputs hold every sample of the shards
    single = (tmp_path / "labels.single.jsonl").read_text().splitlines()
    sharded = (tmp_path / "labels.sharded.jsonl").read_text().splitlines()
    assert len(single) == len(sharded) == 12   # 6 problems x (reference + corrupted sample)


@pytest.mark.slow
def test_accelerate_two_processes_train_like_one(tmp_path):
    if not Path(sys.executable).with_name("accelerate").exists():
        pytest.skip("accelerate launcher not installed next to this python")
    r = _run(tmp_path, "train")
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert "ok: training, accelerate 2 processes ~ 1 process" in r.stdout
    assert (tmp_path / "prm.ddp" / "config.json").exists() and (tmp_path / "prm.single" / "config.json").exists()
