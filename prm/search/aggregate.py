"""Step scores -> one score per sample.

The aggregation name is read in exactly one place, `aggregate()`; every caller (best-of-N curves,
weighted vote, beam search) passes the name through to it, so a knob can never be silently
overridden by a hard-coded choice (search-and-learn's `last` bug, ANCHORS.md).

- `min`  -- the weakest step decides (Math-Shepherd, Lightman): a solution is only as good as its
            worst step.
- `prod` -- the probability that every step is correct if step errors were independent; it
            penalises long solutions, which the length diagnostics in `prm.eval.hacking` expose.
- `last` -- the score of the final step (search-and-learn's default).
- `mean` -- average step score; lenient towards one bad step among many good ones.

An ORM gives one score per sample; every aggregation of a one-element list is that element.
Ensembles of several reward models are built at scoring time (`prm.scoring.load_scorer` with
several model directories and `ensemble="min" | "mean"`): their per-step scores enter a pool as one
more reward model, so the ensemble knob is read there and only there.

An empty step list (a model that wrote nothing) aggregates to 0.0: it is never preferred to a
sample that was scored. Scores that are NaN (a broken scorer) count as 0.0 for the same reason.
"""

from __future__ import annotations

import math
from typing import Sequence

AGGREGATIONS = ("min", "prod", "last", "mean")


def _clean(scores: Sequence[float]) -> list[float]:
    return [0.0 if (s is None or isinstance(s, float) and math.isnan(s)) else float(s) for s in scores]


def aggregate(step_scores: Sequence[float], how: str = "min") -> float:
    """One number per sample from its step scores (P(correct) per step)."""
    if how not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {how!r}; choose from {AGGREGATIONS}")
    s = _clean(step_scores)
    if not s:
        return 0.0
    if how == "min":
        return min(s)
    if how == "prod":
        return math.prod(s)
    if how == "last":
        return s[-1]
    return sum(s) / len(s)


def sample_score(rm_scores: float | Sequence[float], how: str = "min") -> float:
    """A pool record's score for one RM: a float is an outcome (ORM) score used as is; a list is
    per-step (PRM) scores aggregated with `how`."""
    if isinstance(rm_scores, (int, float)) and not isinstance(rm_scores, bool):
        return _clean([float(rm_scores)])[0]
    return aggregate(list(rm_scores), how)
