"""Reward-hacking (Goodhart) diagnostics: is the reward model's score still a good proxy?

- `goodhart(curves)`: for each reward-model method, the selected sample's mean score (the proxy)
  next to its accuracy at each N. A *flag* is raised between consecutive N where the proxy rises
  while accuracy falls by more than `tol` (absolute; default: one problem's worth, 1 / problems,
  and at least 1 point): selection pressure is finding samples the model likes that are wrong. A
  smaller drop is noise at these sizes.
- `length_bias(pools)`: Spearman correlation of every reward-model score with response length
  (characters), step count, and correctness. A score that tracks length more than correctness is
  a length-hacking risk; `prod` is biased against long solutions by construction.
- `false_step_rate(curves)`: among correct selected answers, the fraction that contain a step the
  sympy checker proves false (right answer, wrong reasoning), per method at the largest N.
"""

from __future__ import annotations

import numpy as np

from .metrics import spearman


def goodhart(curves, tol: float | None = None) -> dict:
    tol = max(0.01, 1.0 / max(curves.n_problems, 1)) if tol is None else tol
    out = {}
    for m in curves.methods:
        if m.rm is None:
            continue
        s = curves.summary(m.name)
        flags = []
        for k in range(1, len(s["n"])):
            d_proxy = s["proxy"][k] - s["proxy"][k - 1]
            d_acc = s["mean"][k] - s["mean"][k - 1]
            if d_proxy > 0 and d_acc < -tol:
                flags.append({"from_n": s["n"][k - 1], "to_n": s["n"][k], "proxy_change": d_proxy, "accuracy_change": d_acc})
        out[m.name] = {"n": s["n"], "proxy": s["proxy"], "accuracy": s["mean"], "flags": flags,
                       "peak_n": s["n"][int(np.argmax(s["mean"]))]}
    return out


def length_bias(pools) -> dict:
    keys = sorted({k for p in pools for k in p.scores}, key=lambda k: (k[0], k[1] or ""))
    have_len = all(p.lengths is not None for p in pools)
    out = {}
    for key in keys:
        scores = np.concatenate([p.scores[key] for p in pools])
        correct = np.concatenate([p.correct for p in pools]).astype(float)
        row = {"vs_correct": spearman(scores, correct)}
        if have_len:
            row["vs_length"] = spearman(scores, np.concatenate([p.lengths for p in pools]))
            row["vs_steps"] = spearman(scores, np.concatenate([p.n_steps for p in pools]))
        out[key[0] if key[1] is None else f"{key[0]}:{key[1]}"] = row
    if have_len:
        # the baseline: do longer answers tend to be correct anyway? (then a length correlation is fair)
        out["_length_vs_correct"] = spearman(np.concatenate([p.lengths for p in pools]),
                                             np.concatenate([p.correct for p in pools]).astype(float))
    return out


def false_step_rate(curves) -> dict:
    n = curves.ns[-1]
    return {m.name: curves.summary(m.name)["flagged_correct"][-1] for m in curves.methods
            if m.selection != "oracle"} | {"_n": n}
