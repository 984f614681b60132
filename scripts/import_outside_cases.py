"""Write tests/fixtures/outside_cases.jsonl: hard (gold, prediction) pairs from other projects' grader tests (issue 25).

    git clone https://github.com/NVIDIA/NeMo-Skills /tmp/NeMo-Skills
    git -C /tmp/NeMo-Skills checkout 0b012df8a09cd4730d31b16e90a0d8f13d145fb8
    git clone https://github.com/huggingface/lighteval /tmp/lighteval
    git -C /tmp/lighteval checkout 3fd15266bc8448b797e61462d293aa3fd40b3580
    git clone https://github.com/MARIO-Math-Reasoning/MARIO_EVAL /tmp/MARIO_EVAL
    git -C /tmp/MARIO_EVAL checkout 13584f20b71ffc6e9873e86481054849ed015065
    python scripts/import_outside_cases.py --nemo-skills /tmp/NeMo-Skills --lighteval /tmp/lighteval \
        --mario /tmp/MARIO_EVAL

A second held-out set next to math-verify's own rows (tests/fixtures/math_verify_cases.jsonl): the
pairs other people wrote to test their math graders, labelled by them.

- NVIDIA/NeMo-Skills `tests/test_math_equal.py` (Apache-2.0): each `output_pair` is asserted in both
  directions (`math_equal(a, b)` and `math_equal(b, a)`), so each becomes two rows (`:ab`, `:ba`).
  A pair that is not two literals (`5 / 2`, `None`) is skipped; numbers become their `str`.
- huggingface/lighteval `tests/unit/metrics/test_extractive_match.py` (MIT): every parametrized row
  with a gold, a prediction and an expected 0/1 called with the math extraction targets (rows for
  multiple-choice letters, `NativeLetters`, are left out: they test a different extractor; rows
  naming a `Language.X` are not literals and are skipped). math-verify grew out of this file, so
  every row whose (gold, pred) pair is already in math_verify_cases.jsonl is dropped.
- MARIO-Math-Reasoning/MARIO_EVAL `math_evaluation/tests/test_is_equiv.py` (MIT, as its setup.py
  declares; the repository has no top-level LICENSE file): a unittest file where each
  `self.assertTrue/assertFalse(f(test_in, test_out))` is a row, `f` being `is_equiv` or a helper
  returning it (`is_equiv(ground_truth, given)`, so `test_in` is the gold); `assertTrue` is label 1,
  `assertFalse` label 0, and a `for test_in, test_out in test_pairs:` loop gives one row per pair.

Rows are read with `ast.literal_eval` (nothing in those files is executed). Output lines are
`{"id", "source", "test", "gold", "pred", "label", "match_types", "precision"}`; rerunning on the
same commits gives the same file byte for byte.
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "outside_cases.jsonl"
MATH_VERIFY = ROOT / "tests" / "fixtures" / "math_verify_cases.jsonl"
SOURCES = {  # name -> (repository, commit, path inside it, licence)
    "nemo_skills": ("NVIDIA/NeMo-Skills", "0b012df8a09cd4730d31b16e90a0d8f13d145fb8",
                    "tests/test_math_equal.py", "Apache-2.0"),
    "lighteval": ("huggingface/lighteval", "3fd15266bc8448b797e61462d293aa3fd40b3580",
                  "tests/unit/metrics/test_extractive_match.py", "MIT"),
    "mario": ("MARIO-Math-Reasoning/MARIO_EVAL", "13584f20b71ffc6e9873e86481054849ed015065",
              "math_evaluation/tests/test_is_equiv.py", "MIT (declared in setup.py)"),
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nemo-skills", required=True, help="a NeMo-Skills checkout at the commit above")
    p.add_argument("--lighteval", required=True, help="a lighteval checkout at the commit above")
    p.add_argument("--mario", required=True, help="a MARIO_EVAL checkout at the commit above")
    p.add_argument("--out", default=str(OUT))
    return p.parse_args()


def _parametrized(tree: ast.Module):
    """(function, argument names, row nodes) for each `pytest.mark.parametrize` on a top-level test."""
    for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        for dec in fn.decorator_list:
            if isinstance(dec, ast.Call) and getattr(dec.func, "attr", "") == "parametrize":
                names = [s.strip() for s in ast.literal_eval(dec.args[0]).split(",")]
                yield fn, names, dec.args[1].elts


def _match_types(fn: ast.FunctionDef):
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "compare_strings":
            for kw in node.keywords:
                if kw.arg == "match_types":
                    return ast.literal_eval(kw.value)
    return ["latex", "expr"]


def nemo_skills_rows(path: Path) -> list[dict]:
    out = []
    for fn, names, elts in _parametrized(ast.parse(path.read_text(encoding="utf-8"))):
        if names != ["output_pair"]:
            continue
        label = fn.name == "test_correct_examples"
        for i, elt in enumerate(elts):
            try:
                a, b = ast.literal_eval(elt)
            except ValueError:
                continue  # `5 / 2` is an expression, not a literal
            if a is None or b is None:
                continue
            for tag, gold, pred in (("ab", a, b), ("ba", b, a)):
                out.append({"id": f"nemo_skills::{fn.name}::{i}:{tag}", "source": "nemo_skills", "test": fn.name,
                            "gold": str(gold), "pred": str(pred), "label": label,
                            "match_types": ["latex", "expr"], "precision": 6})
    return out


def lighteval_rows(path: Path) -> list[dict]:
    out = []
    for fn, names, elts in _parametrized(ast.parse(path.read_text(encoding="utf-8"))):
        match_types = _match_types(fn)
        if not {"gold", "pred", "expected"} <= set(names) or "NativeLetters" in match_types:
            continue
        for i, elt in enumerate(elts):
            try:
                values = dict(zip(names, ast.literal_eval(elt)))
            except ValueError:
                continue  # a `Language.X` argument
            if values["expected"] not in (0, 1):
                continue
            out.append({"id": f"lighteval::{fn.name}::{i}", "source": "lighteval", "test": fn.name,
                        "gold": values["gold"], "pred": values["pred"], "label": bool(values["expected"]),
                        "match_types": values.get("match_type", match_types),
                        "precision": values.get("precision", 6)})
    return out


def mario_rows(path: Path) -> list[dict]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
            env: dict = {}
            count = 0

            def visit(stmts, pairs=None):
                nonlocal count
                for st in stmts:
                    if isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name):
                        try:
                            env[st.targets[0].id] = ast.literal_eval(st.value)
                        except ValueError:
                            pass
                    elif isinstance(st, ast.For) and isinstance(st.iter, ast.Name):
                        visit(st.body, env.get(st.iter.id, []))
                    elif isinstance(st, ast.Expr) and isinstance(st.value, ast.Call) \
                            and getattr(st.value.func, "attr", "") in ("assertTrue", "assertFalse"):
                        label = st.value.func.attr == "assertTrue"
                        for gold, pred in (pairs if pairs is not None else [(env["test_in"], env["test_out"])]):
                            out.append({"id": f"mario::{fn.name}::{count}", "source": "mario", "test": fn.name,
                                        "gold": gold, "pred": pred, "label": label,
                                        "match_types": ["latex", "expr"], "precision": 6})
                            count += 1

            visit(fn.body)
    return out


def main():
    args = parse_args()
    with MATH_VERIFY.open(encoding="utf-8") as fh:
        seen = {(r["gold"], r["pred"]) for r in map(json.loads, fh) if r}
    rows = nemo_skills_rows(Path(args.nemo_skills) / SOURCES["nemo_skills"][2])
    rows += lighteval_rows(Path(args.lighteval) / SOURCES["lighteval"][2])
    rows += mario_rows(Path(args.mario) / SOURCES["mario"][2])
    unique, dropped = [], 0
    for r in rows:  # a pair math-verify already tests, or one tested twice here, counts once or not at all
        key = (r["gold"], r["pred"])
        if key in seen:
            dropped += 1
            continue
        seen.add(key)
        unique.append(r)
    with open(args.out, "w", encoding="utf-8") as fh:
        for r in unique:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    by_source = {s: sum(r["source"] == s for r in unique) for s in SOURCES}
    print(f"{len(unique)} cases ({sum(r['label'] for r in unique)} equivalent; {by_source}); "
          f"{dropped} repeats dropped -> {args.out}")


if __name__ == "__main__":
    main()
