"""Metric functions: pure, numpy only, defined on empty input (they return None, never raise).

- `auroc(scores, labels)`   -- P(score of a random positive > a random negative), ties count half
                               (the Mann-Whitney statistic). None when one class is absent.
- `ece(probs, labels)`      -- expected calibration error with equal-width bins: the bin-size
                               weighted mean of |mean predicted P(correct) - observed accuracy|.
- `f1(a, b)`                -- harmonic mean, as ProcessBench combines its two accuracies.
- `interval(values)`        -- percentile interval (default 95%).
- `pearson`, `spearman`     -- correlations; None when either side is constant.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _arr(x) -> np.ndarray:
    return np.asarray(list(x), dtype=float)


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    s, y = _arr(scores), np.asarray(list(labels), dtype=bool)
    if len(s) != len(y):
        raise ValueError(f"{len(s)} scores for {len(y)} labels")
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return None
    # average ranks handle ties exactly (a tie contributes 1/2); Mann-Whitney wants 1-based ranks
    ranks = _ranks(s) + 1.0
    u = ranks[y].sum() - pos * (pos + 1) / 2.0
    return float(u / (pos * neg))


def ece(probs: Sequence[float], labels: Sequence[bool], n_bins: int = 10) -> float | None:
    p, y = _arr(probs), np.asarray(list(labels), dtype=float)
    if len(p) != len(y):
        raise ValueError(f"{len(p)} probabilities for {len(y)} labels")
    if len(p) == 0:
        return None
    p = np.clip(p, 0.0, 1.0)
    # bin k holds (k/n, (k+1)/n]; 0.0 goes into the first bin
    bins = np.minimum(np.maximum(np.ceil(p * n_bins).astype(int) - 1, 0), n_bins - 1)
    total = 0.0
    for k in range(n_bins):
        m = bins == k
        if m.any():
            total += m.sum() * abs(p[m].mean() - y[m].mean())
    return float(total / len(p))


def reliability(probs: Sequence[float], labels: Sequence[bool], n_bins: int = 10) -> list[dict]:
    """Per-bin rows for a reliability table: bin range, count, mean prediction, observed accuracy."""
    p, y = np.clip(_arr(probs), 0.0, 1.0), np.asarray(list(labels), dtype=float)
    bins = np.minimum(np.maximum(np.ceil(p * n_bins).astype(int) - 1, 0), n_bins - 1)
    rows = []
    for k in range(n_bins):
        m = bins == k
        rows.append({"lo": k / n_bins, "hi": (k + 1) / n_bins, "count": int(m.sum()),
                     "mean_pred": float(p[m].mean()) if m.any() else None,
                     "accuracy": float(y[m].mean()) if m.any() else None})
    return rows


def f1(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


def interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float] | None:
    v = _arr(values)
    if len(v) == 0:
        return None
    lo, hi = np.percentile(v, [50 * (1 - level), 100 - 50 * (1 - level)])
    return float(lo), float(hi)


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    a, b = _arr(x), _arr(y)
    if len(a) != len(b):
        raise ValueError(f"{len(a)} values against {len(b)}")
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x))
    sx = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sx[j + 1] == sx[i]:
            j += 1
        r[order[i:j + 1]] = (i + j) / 2.0
        i = j + 1
    return r


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    a, b = _arr(x), _arr(y)
    if len(a) != len(b):
        raise ValueError(f"{len(a)} values against {len(b)}")
    return pearson(_ranks(a), _ranks(b)) if len(a) >= 2 else None
