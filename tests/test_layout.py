"""Layout invariants: `verifiers` imports nothing from `prm` (it must stay usable on its own); the
packages of `prm` import down the layers of the README's architecture picture; no function over 120
lines; no branch on a domain's name outside the domain table."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

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


# ----------------------------------------------------------------------------- the architecture picture
# Which package may import which (README, "Architecture"): a module imports only from its own layer
# or the layers below it; within a layer, tests/test_imports.py forbids cycles.
LAYERS = [
    ("core", {"prm", "prm.errors", "prm.records", "prm.steps", "prm.sequence", "prm.first_error", "prm.domains",
              "prm.tasks", "prm.tiny", "prm.threads", "prm.shipped", "prm.paths", "prm.resume"}),
    ("engines and formats", {"prm.vllm_engine", "prm.sampler", "prm.scoring", "prm.formats", "prm.loaders"}),
    ("stages", {"prm.labeling", "prm.search", "prm.train", "prm.eval", "prm.policy", "prm.judge", "prm.learned", "prm.rewards"}),
    ("drivers", {"prm.demo", "prm.demo_config", "prm.commands", "prm.cli", "prm.__main__", "prm.serve"}),
]


def _unit(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def _prm_imports(path: Path):
    """(line, imported module) for every import of prm in a file, lazy ones included."""
    rel = path.relative_to(ROOT).with_suffix("")
    mod = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = mod.split(".")[: len(mod.split(".")) - node.level + (rel.name == "__init__")]
            targets = [".".join(base + ([node.module] if node.module else []))]
        elif isinstance(node, ast.ImportFrom) and node.module:
            targets = [node.module]
        else:
            continue
        yield from ((node.lineno, mod, t) for t in targets if t == "prm" or t.startswith("prm."))


def test_every_prm_package_has_a_layer():
    layer_of = {u for _, units in LAYERS for u in units}
    found = {_unit(m) for p in (ROOT / "prm").rglob("*.py") for _, m, _ in _prm_imports(p)} | {
        _unit(".".join(p.relative_to(ROOT).with_suffix("").parts)) for p in (ROOT / "prm").rglob("*.py")}
    found = {u.removesuffix(".__init__") for u in found}
    assert found <= layer_of, f"packages without a layer in LAYERS: {sorted(found - layer_of)}"


def test_imports_go_down_the_layers():
    rank = {u: i for i, (_, units) in enumerate(LAYERS) for u in units}
    offenders = []
    for path in (ROOT / "prm").rglob("*.py"):
        for line, mod, target in _prm_imports(path):
            src, dst = rank.get(_unit(mod).removesuffix(".__init__")), rank.get(_unit(target))
            if src is not None and dst is not None and dst > src:
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {LAYERS[src][0]} imports {target} "
                                 f"({LAYERS[dst][0]})")
    assert not offenders, "\n".join(offenders)


def _functions(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_no_function_in_prm_is_over_120_lines():
    long = [f"{p.relative_to(ROOT)}:{f.lineno} {f.name}: {f.end_lineno - f.lineno + 1} lines"
            for p in (ROOT / "prm").rglob("*.py") for f in _functions(p) if f.end_lineno - f.lineno + 1 > 120]
    assert not long, long


def _domain_literal_branches(path: Path):
    """Comparisons of something named `domain` with a domain's name: `domain == "math"`, `p.domain
    != "code"`, `domain in ("math", ...)`."""
    names = {"math", "code"}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        named = any((isinstance(s, ast.Name) and s.id == "domain") or (isinstance(s, ast.Attribute) and s.attr == "domain")
                    for s in sides)
        literal = any(isinstance(c, ast.Constant) and c.value in names for s in sides for c in ast.walk(s))
        if named and literal:
            yield node.lineno


def test_domain_branches_only_in_the_domain_table_and_task_generators():
    allowed = {ROOT / "prm" / "domains.py", *(ROOT / "prm" / "tasks").glob("*.py")}
    offenders = [f"{p.relative_to(ROOT)}:{line}" for p in (ROOT / "prm").rglob("*.py") if p not in allowed
                 for line in _domain_literal_branches(p)]
    assert not offenders, f"branch on a domain name outside prm/domains.py: {offenders}"


@pytest.mark.parametrize("source,hits", [
    ("if domain == 'math':\n    pass", 1),
    ("x = [p for p in ps if p.domain != 'code']", 1),
    ("ok = item.domain in ('math', 'code')", 1),
    ("if DOMAINS[p.domain].check_steps is None:\n    pass", 0),
    ("same = p.domain != args.policy", 0),
])
def test_the_domain_branch_detector(tmp_path, source, hits):
    f = tmp_path / "m.py"
    f.write_text(source)
    assert len(list(_domain_literal_branches(f))) == hits
