"""Layout invariants: `verifiers` imports nothing from `prm` (it must stay usable on its own)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_verifiers_never_import_prm():
    offenders = []
    for path in (ROOT / "verifiers").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} imports {n}" for n in names
                          if n == "prm" or n.startswith("prm.")]
    assert not offenders, offenders
    assert list((ROOT / "verifiers").rglob("*.py")), "verifiers package is missing"
