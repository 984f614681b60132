"""The evaluation stage of a run, as values: best-of-N curves and diagnostics from a scored pool,
beam search next to best-of-N at equal compute, and each reward model's quality on the pool.

Pure glue over `bon.py`, `hacking.py`, `metrics.py` and `report.comparisons`; the demo calls these
and puts what they return into results.json (schema: docs/results_schema.md).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from prm.eval.metrics import interval
from prm.records import PoolRecord, SearchResult


def pool_summary(records: Sequence[PoolRecord], domain: str, *, repeats: int, seed: int, aggregation: str,
                 pairs: tuple = ()):
    """(curves, pools, results block): accuracy-vs-N for every method, the paired comparisons of the
    headline `aggregation` (and the declared `pairs`), and the reward-hacking diagnostics."""
    from prm.eval.bon import CurveConfig, bon_curves, default_methods
    from prm.eval.hacking import diagnostics
    from prm.eval.pool import build_pools
    from prm.eval.report import comparisons

    pools = build_pools(list(records))
    curves = bon_curves(pools, default_methods(pools), CurveConfig(repeats=repeats, seed=seed))
    block = {"bon": curves.to_dict(), "deltas": comparisons(curves, aggregation, pairs),
             "hacking": diagnostics(curves, pools, domain)}
    return curves, pools, block


def bootstrap(correct: Sequence[bool], repeats: int, seed: int) -> tuple[float, float]:
    """95% percentile interval of the mean of `correct`, resampling problems."""
    c = np.asarray(correct, dtype=float)
    rng = np.random.default_rng(seed)
    return interval(c[rng.integers(0, len(c), size=(repeats, len(c)))].mean(axis=1))


def beam_summary(results: Sequence[SearchResult], *, settings: str, compared_to: str, seed: int,
                 curves=None, pools=None) -> dict:
    """Beam search's accuracy with a bootstrap interval and tokens per problem, and best-of-N with
    the same reward model at the same generated tokens (`bon.at_compute`) when curves are given."""
    from prm.eval.bon import at_compute, mean_tokens

    correct = [r.samples[0].correct for r in results]
    tokens = float(np.mean([r.generated_tokens for r in results]))
    acc = float(np.mean(correct))
    lo, hi = bootstrap(correct, 1000, seed)
    out = {"accuracy": acc, "lo": lo, "hi": hi, "tokens_per_problem": tokens, "compared_to": compared_to,
           "settings": settings, "truncated": sum(bool(r.samples[0].extra.get("truncated")) for r in results)}
    per_sample = mean_tokens(pools) if pools is not None else None
    if curves is not None and per_sample and compared_to in {m.name for m in curves.methods}:
        out["bon_at_equal_compute"] = at_compute(curves.summary(compared_to), tokens, per_sample)
        out["tokens_per_sample"] = per_sample
    return out


def scorer_quality(records: Sequence[PoolRecord], kinds: dict[str, str], aggregation: str,
                   step_labels: dict[str, list] | None = None) -> dict:
    """Each reward model's sample-level AUROC and ECE on the pool (a PRM aggregated by `aggregation`),
    and, given reference step labels per sample (`step_labels[sample key]`, e.g. the direct sympy
    labels), the PRM's step-level AUROC and ECE against them."""
    from prm.eval.metrics import auroc, ece
    from prm.search.aggregate import aggregate

    q = {}
    correct = [r.correct for r in records]
    for name, kind in kinds.items():
        agg = [aggregate(r.scores[name], aggregation) if isinstance(r.scores[name], list) else r.scores[name]
               for r in records]
        key = f"{name}{':' + aggregation if kind == 'prm' else ''} vs sample correctness"
        q[key] = {"auroc": auroc(agg, correct), "ece": ece(agg, correct), "n": len(records), "positives": sum(correct)}
    for name, kind in kinds.items():
        if step_labels is None or kind != "prm":
            continue
        ss, ll = [], []
        for r in records:
            for s, lab in zip(r.scores[name], step_labels.get(sample_key(r), [])):
                if lab is not None:
                    ss.append(s)
                    ll.append(bool(lab))
        q[f"{name} steps vs direct sympy labels"] = {"auroc": auroc(ss, ll), "ece": ece(ss, ll), "n": len(ss),
                                                     "positives": sum(ll)}
    return q


def sample_key(r: PoolRecord) -> tuple:
    return (r.problem_id, r.extra.get("sample_id"))
