"""Write tests/fixtures/math_verify_cases.jsonl from math-verify's own test files (issue 25).

    git clone https://github.com/huggingface/Math-Verify /tmp/Math-Verify
    git -C /tmp/Math-Verify checkout 5d148cfaaf99214c2e4ffb4bc497ab042c592a7a
    python scripts/import_math_verify_cases.py --tests /tmp/Math-Verify/tests

Every `pytest.mark.parametrize` row with a gold, a prediction and an expected 0/1 becomes one JSONL
line `{"id", "test", "gold", "pred", "label", "match_types", "precision"}`. The rows are read with
`ast.literal_eval` (nothing in those files is executed); a row that is not a literal (one f-string
built with `math.sqrt`) is skipped. Rows that only hold under a non-default flag
(`strict=False`, `allow_set_relation_comp=True`) are skipped too: the benchmark calls both graders
the way a new user does, with defaults. Re-running it on the same commit gives the same file.
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

FILES = ("test_all.py", "test_numina_cases.py", "test_open_thoughts.py", "test_yujianll.py", "test_boxed.py",
         "test_strict.py")
COMMIT = "5d148cfaaf99214c2e4ffb4bc497ab042c592a7a"
OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "math_verify_cases.jsonl"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tests", required=True, help="the tests/ folder of a Math-Verify checkout")
    p.add_argument("--out", default=str(OUT))
    return p.parse_args()


def _call_kwargs(fn: ast.FunctionDef) -> dict:
    """The literal keyword arguments of the `compare_strings(...)` call in a test body."""
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "compare_strings":
            out = {}
            for kw in node.keywords:
                try:
                    out[kw.arg] = ast.literal_eval(kw.value)
                except ValueError:
                    out[kw.arg] = None  # a parameter name (`precision=precision`): read from the row
            return out
    return {}


def rows_of(path: Path) -> list[dict]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        kwargs = _call_kwargs(fn)
        for dec in fn.decorator_list:
            if not (isinstance(dec, ast.Call) and getattr(dec.func, "attr", "") == "parametrize"):
                continue
            names = [s.strip() for s in ast.literal_eval(dec.args[0]).split(",")]
            if not {"gold", "pred"} <= set(names):
                continue
            for i, elt in enumerate(dec.args[1].elts):
                try:
                    values = dict(zip(names, ast.literal_eval(elt)))
                except ValueError:
                    continue
                label = values.get("expected", values.get("result"))
                if label not in (0, 1) or values.get("strict", True) is not True \
                        or values.get("allow_set_relation_comp", False) is not False:
                    continue
                out.append({"id": f"{path.stem}::{fn.name}::{i}", "test": fn.name, "gold": values["gold"],
                            "pred": values["pred"], "label": bool(label),
                            "match_types": kwargs.get("match_types", ["latex", "expr"]),
                            "precision": values.get("precision", kwargs.get("precision") or 6)})
    return out


def main():
    args = parse_args()
    rows = []
    for name in FILES:
        rows += rows_of(Path(args.tests) / name)
    seen, unique = set(), []
    for r in rows:  # the same pair tested twice counts once
        key = (r["gold"], r["pred"])
        if key not in seen:
            seen.add(key)
            unique.append(r)
    with open(args.out, "w", encoding="utf-8") as fh:
        for r in unique:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(unique)} cases ({sum(r['label'] for r in unique)} equivalent) -> {args.out}")


if __name__ == "__main__":
    main()
