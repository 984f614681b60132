"""The README's file tree lists every module and names none that is gone."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_tree_is_true():
    r = subprocess.run([sys.executable, "scripts/tree.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
