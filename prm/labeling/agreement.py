"""How much two labelings of the same samples agree (e.g. `direct` vs `mc`, `binary` vs `mc`).

Records are matched by `sample_id`. Two numbers:
- step agreement: over steps both sides labeled (neither None), the share with the same hard label
  (a float label is read as "correct" when > 0, Math-Shepherd's hard rule), with the 2x2 counts;
- first-error agreement: over samples where both sides know the first error (not None), the share
  where it is the same index (-1 = no error on both sides counts as agreeing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from prm.first_error import hard_label as hard
from prm.records import iter_jsonl


def compare(a: Iterable[dict], b: Iterable[dict]) -> dict:
    """Agreement between two iterables of record dicts (only the `b` side is held in memory)."""
    index = {r.get("sample_id"): r for r in b if r.get("sample_id") is not None}
    out = {"matched": 0, "steps": 0, "step_agree": 0, "confusion": {"TT": 0, "TF": 0, "FT": 0, "FF": 0},
           "first_error_pairs": 0, "first_error_agree": 0, "length_mismatch": 0}
    for ra in a:
        rb = index.get(ra.get("sample_id"))
        if rb is None:
            continue
        out["matched"] += 1
        la, lb = ra.get("labels") or [], rb.get("labels") or []
        if len(la) != len(lb):
            out["length_mismatch"] += 1  # different step splits: only first errors are comparable
        else:
            for x, y in zip(la, lb):
                hx, hy = hard(x), hard(y)
                if hx is None or hy is None:
                    continue
                out["steps"] += 1
                out["step_agree"] += hx == hy
                out["confusion"][("T" if hx else "F") + ("T" if hy else "F")] += 1
        fa, fb = ra.get("first_error"), rb.get("first_error")
        if fa is not None and fb is not None:
            out["first_error_pairs"] += 1
            out["first_error_agree"] += fa == fb
    return _rates(out)


def _rates(out: dict) -> dict:
    out["step_agreement"] = out["step_agree"] / out["steps"] if out["steps"] else None
    out["first_error_agreement"] = (out["first_error_agree"] / out["first_error_pairs"]
                                    if out["first_error_pairs"] else None)
    return out


def merge(a: dict | None, b: dict) -> dict:
    """Sum two `compare` results (e.g. batch by batch) and recompute the rates."""
    if a is None:
        return dict(b, confusion=dict(b["confusion"]))
    out = {k: a[k] + b[k] for k in ("matched", "steps", "step_agree", "first_error_pairs", "first_error_agree",
                                    "length_mismatch")}
    out["confusion"] = {k: a["confusion"][k] + b["confusion"][k] for k in a["confusion"]}
    return _rates(out)


def compare_files(a: str | Path, b: str | Path) -> dict:
    return compare((obj for _, obj in iter_jsonl(a, errors="skip")), (obj for _, obj in iter_jsonl(b, errors="skip")))


def format_agreement(d: dict, name_a: str = "a", name_b: str = "b") -> str:
    def pct(x):
        return "n/a" if x is None else f"{100 * x:.1f}%"

    c = d["confusion"]
    return (f"agreement {name_a} vs {name_b}: {d['matched']} samples matched | steps {pct(d['step_agreement'])} "
            f"of {d['steps']} (both correct {c['TT']}, {name_a} only {c['TF']}, {name_b} only {c['FT']}, "
            f"both incorrect {c['FF']}) | first error {pct(d['first_error_agreement'])} of {d['first_error_pairs']}")
