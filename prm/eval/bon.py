"""Accuracy versus N from one fixed pool per problem (Lightman et al.'s method).

For each N in 1, 2, 4, ... (up to the smallest pool), each repetition draws, for every problem, N
samples without replacement in random order, and every method selects one of them. All methods see
the *same* draw in a repetition, so their differences are paired. Accuracy is the mean over
problems of "the selected sample is correct".

Reported per method and N:
- `mean`: accuracy averaged over the repetitions (the expectation over subsamples);
- `lo`, `hi`: a 95% percentile interval over repetitions where each repetition also resamples the
  problems with replacement (a bootstrap). The interval therefore covers both the subsampling noise
  and which problems happened to be in the test set; with a few dozen problems the latter dominates,
  and an interval that ignored it would be falsely narrow.
- `proxy`: the mean reward-model score of the selected sample (for the Goodhart diagnostics);
- `flagged_correct`: among selected samples that are correct, the fraction with a step the sympy
  checker proves false (right answer, wrong reasoning);
- `sound`: the share of problems whose selected sample is correct with no step proven false.

`paired_delta(a, b)` gives the mean and interval of accuracy(a) - accuracy(b) on the same draws.

Pools of unequal size: every point of a curve averages over the same problems, so N stops at the
smallest pool (a point at N=16 over fewer problems would not be comparable with N=1 over all).
That cap is never silent: `pool_cap` names the problems that impose it and the N the others would
allow, and `prm eval bon` prints it and stores it in results.json; `--min-pool K` drops the
problems with fewer than K samples instead (also reported), when a longer curve matters more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from prm.search.aggregate import AGGREGATIONS
from prm.search.select import Method, choose

from .metrics import interval


@dataclass(frozen=True)
class CurveConfig:
    """`ns`: the N values (default: powers of two up to the smallest pool); `repeats`: subsample
    draws per N; `seed`: the RNG seed (a fixed seed makes curves reproducible); `level`: interval."""

    ns: tuple[int, ...] | None = None
    repeats: int = 200
    seed: int = 0
    level: float = 0.95


def default_ns(pools) -> list[int]:
    m = min(len(p) for p in pools)
    ns, n = [], 1
    while n <= m:
        ns.append(n)
        n *= 2
    if ns and ns[-1] != m:
        ns.append(m)  # the full pool is the most informative point; include it
    return ns


def pool_cap(pools) -> dict | None:
    """When pool sizes differ: {"n_max", "capped_at", "problems": ids of the pools below the
    largest, smallest first (at most 10), "n_small": how many}; None when all pools are the same size."""
    sizes = sorted((len(p), p.problem_id) for p in pools)
    if not sizes or sizes[0][0] == sizes[-1][0]:
        return None
    small = [pid for n, pid in sizes if n < sizes[-1][0]]
    return {"n_max": sizes[-1][0], "capped_at": sizes[0][0], "problems": small[:10], "n_small": len(small)}


def describe_cap(cap: dict) -> str:
    return (f"pools differ in size: {cap['n_small']} problem(s) have fewer than {cap['n_max']} samples "
            f"(smallest first: {', '.join(map(str, cap['problems']))}), so every curve stops at "
            f"N={cap['capped_at']} (all points average over the same problems); --min-pool K drops "
            f"the problems with fewer than K samples instead")


def default_methods(pools, *, aggregations: Sequence[str] = AGGREGATIONS, gated: bool | None = None) -> list[Method]:
    """Every RM with each aggregation (best-of-N and weighted), majority, random, oracle; and, when
    any math sample carries step verdicts, the sympy reranker and sympy-gated variants."""
    order = {a: i for i, a in enumerate(aggregations)}
    keys = sorted({k for p in pools for k in p.scores}, key=lambda k: (k[0], order.get(k[1], -1)))
    methods = [Method("random"), Method("majority")]
    for rm, agg in keys:
        if agg is not None and agg not in aggregations:
            continue
        methods += [Method("naive", rm=rm, aggregation=agg), Method("weighted", rm=rm, aggregation=agg)]
    if gated is None:
        # only pools with a step checker's verdicts (prm/eval/pool.py: domains whose check_steps exists)
        gated = any(any(len(v) for v in p.verdicts) for p in pools)
    if gated:
        methods.append(Method("random", gated=True))
        methods.append(Method("majority", gated=True))
        for rm, agg in keys:
            if agg in (None, "min"):
                methods.append(Method("naive", rm=rm, aggregation=agg, gated=True))
    methods.append(Method("oracle"))
    return methods


@dataclass
class Curves:
    ns: list[int]
    methods: list[Method]
    repeats: int
    level: float
    n_problems: int
    # raw[(name, n)] = (correct R x P bool, proxy R x P float or None, flagged R x P bool)
    raw: dict = field(default_factory=dict, repr=False)
    boot: np.ndarray | None = field(default=None, repr=False)  # R x P bootstrap indices

    def _acc(self, name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        c = self.raw[(name, n)][0].astype(float)
        return c.mean(axis=1), np.take_along_axis(c, self.boot, axis=1).mean(axis=1)

    def summary(self, name: str) -> dict:
        out = {"n": list(self.ns), "mean": [], "lo": [], "hi": [], "proxy": [], "flagged_correct": [], "sound": []}
        for n in self.ns:
            plain, boot = self._acc(name, n)
            lo, hi = interval(boot, self.level)
            out["mean"].append(float(plain.mean()))
            out["lo"].append(lo)
            out["hi"].append(hi)
            c, proxy, flagged = self.raw[(name, n)]
            out["proxy"].append(None if proxy is None else float(proxy.mean()))
            out["flagged_correct"].append(float(flagged[c].mean()) if c.any() else None)
            out["sound"].append(float((c & ~flagged).mean()))   # right, and no step proven false
        return out

    def paired_delta(self, a: str, b: str) -> dict:
        """accuracy(a) - accuracy(b) per N on the same draws, with the bootstrap interval."""
        out = {"n": list(self.ns), "mean": [], "lo": [], "hi": []}
        for n in self.ns:
            pa, ba = self._acc(a, n)
            pb, bb = self._acc(b, n)
            lo, hi = interval(ba - bb, self.level)
            out["mean"].append(float((pa - pb).mean()))
            out["lo"].append(lo)
            out["hi"].append(hi)
        return out

    def to_dict(self) -> dict:
        return {"ns": list(self.ns), "repeats": self.repeats, "level": self.level, "n_problems": self.n_problems,
                "methods": {m.name: self.summary(m.name) for m in self.methods}}


def bon_curves(pools, methods: Sequence[Method] | None = None, cfg: CurveConfig = CurveConfig(),
               progress: bool = False) -> Curves:
    if not pools:
        raise ValueError("no problems in the pool")
    methods = list(methods) if methods is not None else default_methods(pools)
    ns = list(cfg.ns) if cfg.ns else default_ns(pools)
    smallest = min(len(p) for p in pools)
    if max(ns) > smallest:
        raise ValueError(f"N={max(ns)} is larger than the smallest pool ({smallest} samples)")
    rng = np.random.default_rng(cfg.seed)
    P, R = len(pools), cfg.repeats
    # plain lists: choose() indexes them element by element, and numpy scalars are slow there
    plain = [{"correct": p.correct.tolist(), "groups": p.groups.tolist(), "flagged": p.flagged.tolist(),
              "scores": {k: v.tolist() for k, v in p.scores.items()}} for p in pools]
    boot = rng.integers(0, P, size=(R, P))
    curves = Curves(ns=ns, methods=methods, repeats=R, level=cfg.level, n_problems=P, boot=boot)
    steps = [(n, r) for n in ns for r in range(R)]
    if progress:
        from tqdm import tqdm
        steps = tqdm(steps, desc="best-of-N curves", unit="draw")
    for m in methods:
        for n in ns:
            curves.raw[(m.name, n)] = (np.zeros((R, P), bool), None if m.rm is None else np.zeros((R, P)),
                                       np.zeros((R, P), bool))
    for n, r in steps:
        for j, p in enumerate(plain):
            idx = rng.permutation(len(p["correct"]))[:n].tolist()
            for m in methods:
                scores = p["scores"].get(m.score_key) if m.rm is not None else None
                if m.rm is not None and scores is None:
                    raise ValueError(f"problem {pools[j].problem_id}: no scores for {m.score_key}")
                i = choose(m, idx, correct=p["correct"], groups=p["groups"], scores=scores, flagged=p["flagged"])
                c, proxy, flagged = curves.raw[(m.name, n)]
                c[r, j] = p["correct"][i]
                flagged[r, j] = p["flagged"][i]
                if proxy is not None:
                    proxy[r, j] = scores[i]
    return curves


def mean_tokens(pools) -> float | None:
    """Mean generated tokens per sample over the pool (None when not recorded)."""
    toks = [p.tokens for p in pools if p.tokens is not None]
    if len(toks) != len(pools) or not toks:
        return None
    return float(np.concatenate(toks).mean())


def at_compute(summary: dict, tokens_per_problem: float, tokens_per_sample: float) -> dict:
    """Best-of-N accuracy at the N whose generated tokens match `tokens_per_problem`: N* =
    tokens / tokens-per-sample, linearly interpolated in log2 N between measured points (clamped
    to the measured range, and says so)."""
    n_star = tokens_per_problem / max(tokens_per_sample, 1e-9)
    ns = np.log2(np.array(summary["n"], dtype=float))
    x = np.log2(max(n_star, 1e-9))
    clamped = bool(x < ns[0] or x > ns[-1])
    xc = float(np.clip(x, ns[0], ns[-1]))
    out = {"n_equivalent": n_star, "clamped": clamped}
    for key in ("mean", "lo", "hi"):
        out[key] = float(np.interp(xc, ns, np.array(summary[key], dtype=float)))
    return out
