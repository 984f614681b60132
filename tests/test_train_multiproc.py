"""`accelerate launch` with 2 CPU processes (DDP, gloo) trains a short PRM: runs the check script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_two_process_cpu_ddp_training():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "train_multiproc_check.py"), "--max-steps", "4"],
                          capture_output=True, text=True, timeout=900)
    tail = proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    assert "world_size=2" in proc.stdout and "MULTI_CPU" in proc.stdout
