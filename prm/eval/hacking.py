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
- `sound_ceiling(pools, curves)`: at the largest N, each method's *sound* accuracy (the chosen answer
  is right and no step of it is proven false) against the sound ceiling (a sound sample is among the
  N). Outcome accuracy counts a lucky answer as right, so when the best methods already pick a sound
  solution nearly whenever one exists, no step-level signal can show a gain on this pool.
- `diagnostics(curves, pools, domain)`: all of the above that apply to the domain, as one block.
- `training_drift(before, after)`: the same questions for a policy trained against a reward model
  (GRPO, `scripts/grpo_demo.py`): did the proxy rise while held-out accuracy fell, did length drift?
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


def _p_any(m: int, k: int, n: int) -> float:
    """P(a uniform n-subset of m items holds at least one of k marked ones) = 1 - C(m-k, n) / C(m, n)."""
    from math import comb

    n = min(n, m)
    return 1.0 - comb(m - k, n) / comb(m, n) if m else 0.0


def sound_ceiling(pools, curves) -> dict:
    """At N = the curves' largest: {"_n", "_ceiling": the expected share of problems whose N samples
    hold a sound one (right answer, no step proven false), "_pass": the same for any right answer,
    method name: its sound accuracy} (the expectation over N-subsets, exact, not sampled)."""
    n = curves.ns[-1]
    sound = [int((p.correct & ~p.flagged).sum()) for p in pools]
    right = [int(p.correct.sum()) for p in pools]
    out = {"_n": n, "_ceiling": float(np.mean([_p_any(len(p), k, n) for p, k in zip(pools, sound)])),
           "_pass": float(np.mean([_p_any(len(p), k, n) for p, k in zip(pools, right)]))}
    for m in curves.methods:
        if m.selection != "oracle":
            out[m.name] = curves.summary(m.name)["sound"][-1]
    return out


def diagnostics(curves, pools, domain: str) -> dict:
    """The reward-hacking block of results.json for one domain: Goodhart flags and length bias always;
    the false-step rate and the sound ceiling where the domain has a step checker."""
    from prm.domains import DOMAINS

    checker = DOMAINS[domain].check_steps is not None
    return {"goodhart": goodhart(curves), "length_bias": length_bias(pools),
            "false_step_rate": false_step_rate(curves) if checker else None,
            "sound": sound_ceiling(pools, curves) if checker else None}


def training_drift(before: dict, after: dict, tol: float | None = None) -> dict:
    """Reward hacking in policy training, from held-out evaluations before and after (each a dict with
    "accuracy", "proxy" = the reward model's mean score on the policy's samples, "length" = mean
    characters, "steps" = mean step count, and "n" = samples judged). Flags, as `goodhart` does for
    best-of-N: the proxy rising while accuracy falls by more than `tol` (default: one sample's worth,
    1 / n, and at least 1 point), and the mean length moving by more than 20% either way (length is
    the cheapest thing for a policy to change for a reward model, `length_bias`)."""
    tol = max(0.01, 1.0 / max(int(after.get("n") or 1), 1)) if tol is None else tol
    d = {k: after[k] - before[k] for k in ("accuracy", "proxy", "length", "steps")
         if before.get(k) is not None and after.get(k) is not None}
    flags = []
    if d.get("proxy", 0) > 0 and d.get("accuracy", 0) < -tol:
        flags.append("proxy up while accuracy down")
    if before.get("length") and "length" in d and abs(d["length"]) > 0.2 * before["length"]:
        flags.append(f"length {'up' if d['length'] > 0 else 'down'} {abs(d['length']) / before['length']:.0%}")
    return {"change": d, "flags": flags, "tol": tol}
