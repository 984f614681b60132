"""Step-level quality on ProcessBench-format data: can a scorer find the first wrong step?

Data: a JSON list (or JSONL) of `{"id", "problem", "steps": [str], "label": int}` where `label` is
the 0-based index of the first wrong step, or -1 when every step is correct.

A *predictor* maps (problem, steps) to a predicted first-error index (-1 = no error):
- `sympy`: `verifiers.math.check_steps`; the first step it proves False is the predicted error. It
  needs no training; steps it cannot check (None) never count as errors, so its misses are steps
  whose mistakes are not arithmetic or algebra sympy can see.
- a PRM directory: step scores P(correct) from `prm.scoring.load_scorer` (this toolkit's PRMs and
  published ones, `prm.scoring.formats`). **Threshold rule**: the predicted first error is the first
  step whose score is below `threshold` (default 0.5, as in ProcessBench's evaluation of PRMs); -1
  when no step is below it (a NaN score, past the token window, is never below). The threshold is
  fixed before looking at the data, or chosen on another split (`best_threshold`, exact: F1 is
  tried on every interval between distinct step scores) and applied to the rest; it is never
  tuned on the set being reported. `threshold_curve` gives F1 against the threshold on a grid:
  a curve to look at, whose best point is tuned on its own split.

Metrics (ProcessBench): accuracy on erroneous samples (predicted index == label exactly), accuracy on
correct samples (predicted -1), F1 = their harmonic mean 2ab / (a + b) (checked against hand-computed
rows in tests/test_processbench_threshold.py; not the mean of the two, nor a sample-level F1). For
scorers with step scores, also step AUROC and ECE where steps before the first error count as correct, the first error as wrong, and
steps after it are not judged (ProcessBench does not label them).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable, Sequence

from prm.errors import RecordError, UserError
from prm.first_error import first_error, labels_from_first_error
from prm.records import iter_jsonl
from prm.search.verified import step_verdicts

from .metrics import auroc, ece, f1


def read_processbench(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        raise UserError(f"no such file: {path}")
    if path.is_dir():
        raise UserError(f"{path}: is a directory; expected a JSON or JSONL file")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if isinstance(data, list):
        rows, where_kind = [(i + 1, r) for i, r in enumerate(data)], "record"
    else:
        # JSONL, one record per line; a file of one record is both a JSON object and a one-line JSONL
        rows, where_kind = list(iter_jsonl(path)), "line"
    out = []
    for k, r in rows:
        where = f"{path}:{where_kind} {k}" if where_kind == "record" else f"{path}:{k}"
        if not isinstance(r, dict):
            raise RecordError("expected a JSON object", where=where)
        problem = r.get("problem", r.get("question"))
        if not isinstance(problem, str):
            raise RecordError("missing or not a string", where=where, field="problem")
        steps = r.get("steps")
        if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
            raise RecordError("expected a list of strings", where=where, field="steps")
        label = r.get("label")
        if isinstance(label, bool) or not isinstance(label, int) or not -1 <= label < max(len(steps), 1):
            raise RecordError(f"expected -1 or a step index below {len(steps)}, got {label!r}", where=where, field="label")
        out.append({"id": str(r.get("id", k)), "problem": problem, "steps": steps, "label": label})
    return out


def predict_from_scores(scores: Sequence[float], threshold: float = 0.5) -> int:
    """The threshold rule: first step with P(correct) < threshold, else -1."""
    return next((i for i, s in enumerate(scores) if s < threshold), -1)


def sympy_predictor(check: Callable | None = None) -> Callable:
    def predict(problem: str, steps: list[str]) -> tuple[int, list, None]:
        v = step_verdicts(steps, check)
        return first_error(v, soft=False), v, None  # a verdict is False or not: no soft labels
    return predict


def scorer_predictor(scorer, threshold: float = 0.5) -> Callable:
    def predict(problem: str, steps: list[str]) -> tuple[int, None, list[float]]:
        s = list(scorer.score(problem, steps))
        return predict_from_scores(s, threshold), None, s
    return predict


def evaluate(items: Sequence[dict], predict: Callable, progress: bool = False) -> dict:
    """ProcessBench metrics for one predictor over one dataset."""
    it = items
    if progress:
        from tqdm import tqdm
        it = tqdm(items, desc="processbench", unit="sample")
    hit_err = n_err = hit_ok = n_ok = 0
    step_scores, step_labels = [], []
    checked = total_steps = flagged_true_pos = flagged = 0
    per_item = []
    for r in it:
        pred, verdicts, scores = predict(r["problem"], r["steps"])
        label = r["label"]
        if label == -1:
            n_ok += 1
            hit_ok += pred == -1
        else:
            n_err += 1
            hit_err += pred == label
        judged = len(r["steps"]) if label == -1 else label + 1
        if scores is not None:  # ProcessBench says nothing of the steps after the first error
            for s, y in zip(scores, labels_from_first_error(len(r["steps"]), label, "unlabeled")):
                if y is not None:
                    step_scores.append(s)
                    step_labels.append(y)
        if verdicts is not None:
            total_steps += len(verdicts)
            checked += sum(v is not None for v in verdicts)
            for i, v in enumerate(verdicts[:judged]):
                if v is False:
                    flagged += 1
                    flagged_true_pos += i == label
        per_item.append({"id": r["id"], "label": label, "pred": pred})
    acc_err = hit_err / n_err if n_err else None
    acc_ok = hit_ok / n_ok if n_ok else None
    out = {"n": len(items), "n_error": n_err, "n_correct": n_ok, "acc_error": acc_err, "acc_correct": acc_ok,
           "f1": f1(acc_err, acc_ok), "predictions": per_item}
    if step_scores:
        out["step_auroc"] = auroc(step_scores, step_labels)
        out["step_ece"] = ece(step_scores, step_labels)
        out["n_judged_steps"] = len(step_scores)
    if verdicts_seen := total_steps:
        out["checked_step_fraction"] = checked / verdicts_seen
        # of the (judged) steps sympy called false, how many were the labelled first error
        out["flag_precision"] = flagged_true_pos / flagged if flagged else None
    return out


# -- thresholds for step scores: chosen on one split, applied to the others (never tuned where reported)

def collect_scores(scorer, items: Sequence[dict], batch: int = 32, progress: bool = False) -> list[list[float]]:
    """Every item's step scores, scored in batches (one `score_batch` call per `batch` items)."""
    from tqdm import tqdm

    out: list[list[float]] = []
    bar = tqdm(total=len(items), desc="score", unit="sample", disable=not progress)
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        out += [list(s) for s in scorer.score_batch([(r["problem"], r["steps"]) for r in chunk])]
        bar.update(len(chunk))
    bar.close()
    return out


def precomputed_predictor(items: Sequence[dict], scores: Sequence[Sequence[float]], threshold: float) -> Callable:
    """A predictor for `evaluate` that looks the step scores up instead of scoring again."""
    table = {(r["problem"], tuple(r["steps"])): list(s) for r, s in zip(items, scores)}

    def predict(problem: str, steps: list[str]) -> tuple[int, None, list[float]]:
        s = table[(problem, tuple(steps))]
        return predict_from_scores(s, threshold), None, s
    return predict


def f1_at(items: Sequence[dict], scores: Sequence[Sequence[float]], threshold: float) -> dict:
    """acc_error, acc_correct and their harmonic mean at one threshold (the threshold rule)."""
    hit_err = n_err = hit_ok = n_ok = 0
    for r, s in zip(items, scores):
        pred = predict_from_scores(s, threshold)
        if r["label"] == -1:
            n_ok, hit_ok = n_ok + 1, hit_ok + (pred == -1)
        else:
            n_err, hit_err = n_err + 1, hit_err + (pred == r["label"])
    a = hit_err / n_err if n_err else None
    b = hit_ok / n_ok if n_ok else None
    return {"threshold": threshold, "acc_error": a, "acc_correct": b, "f1": f1(a, b)}


SWEEP = [round(0.01 * k, 2) for k in range(1, 100)]   # the F1-vs-threshold curve's grid


def threshold_curve(items: Sequence[dict], scores: Sequence[Sequence[float]], thresholds=SWEEP) -> list[dict]:
    return [f1_at(items, scores, t) for t in thresholds]


def best_threshold(items: Sequence[dict], scores: Sequence[Sequence[float]]) -> dict:
    """The threshold maximising F1 on these items, searched exactly. With the distinct step scores
    u_0 < ... < u_m, every prediction (first step with score < t) is constant on each interval
    (-inf, u_0], (u_0, u_1], ..., (u_m, inf), so F1 is tried once per interval (at its right end).
    Of a run of equally good intervals, the middle of their union is returned (the most margin on
    both sides). NaN scores are never below a threshold. Returns `f1_at`'s dict at that threshold."""
    u = sorted({float(x) for s in scores for x in s if not math.isnan(x)})
    if not u:
        return f1_at(items, scores, 0.5)
    reps = u + [u[-1] + 1.0]                          # the right end of each interval; the last is open
    vals = [f1_at(items, scores, t)["f1"] for t in reps]
    vals = [-1.0 if v is None else v for v in vals]
    j = vals.index(max(vals))
    k = j
    while k + 1 < len(vals) and vals[k + 1] == vals[j]:
        k += 1
    lo = u[j - 1] if j > 0 else None                  # the run is (lo, hi]
    hi = u[k] if k < len(u) else None
    if lo is None and hi is None:                     # every threshold is as good (one class only)
        t = 0.5
    elif lo is None:
        t = hi
    elif hi is None:
        t = lo + (1.0 - lo) / 2 if lo < 1.0 else lo + 1.0
    else:
        t = (lo + hi) / 2
    return f1_at(items, scores, t)
