"""Compute-optimal test-time budgets (Snell et al. 2024): per difficulty bin, the best strategy and
budget chosen on validation problems, and the frontier it traces on test problems.

The inputs are *outcome tables*: for each configuration (a strategy at a budget with a scorer, e.g.
`pf@8` or `bon-naive@32`) and each problem, whether its chosen answer was right and how many tokens
it generated. `prm eval compute-optimal` builds them from `prm search` outputs (one chosen record
per problem, its cost in `extra.cost`) and from best-of-N pools (`pool_outcomes`: the first n
samples of each problem, so best-of-n, weighted vote and majority at every n come from one pool).

Difficulty uses no ground truth: the scorer's mean over the first `probe` samples of the problem's
pool (a problem its own scorer rates low is hard). The probe costs tokens and the policy is charged
for them: a best-of-n configuration reuses the probe's samples (it costs the first max(n, probe)
samples), any other configuration pays the probe on top of its own tokens.

Choices are made on validation problems only: bin edges are validation quantiles of the
difficulty; in each bin and at each budget (mean tokens per problem) the most accurate
configuration whose mean cost in that bin fits the budget (ties: the cheaper). The frontier is that
policy applied to the test problems. The comparison with best-of-N picks its point on validation
too: the cheapest budget whose validation accuracy reaches the reference's validation accuracy,
then reports both on test with a paired bootstrap interval. Nothing is chosen on test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Outcome:
    correct: bool
    tokens: float


Table = dict  # config name -> {problem_id: Outcome}


def pool_outcomes(pools, rm_key: tuple | None, ns: Sequence[int],
                  selections: Sequence[str] = ("naive", "weighted", "majority"), *, gated: bool = False) -> Table:
    """Best-of-n configurations from scored pools (`prm.eval.pool.build_pools`): the first n samples
    of each problem in pool order (the order they were sampled), chosen by each selection. `gated`:
    samples the step checker proves wrong are dropped first (`prm.search.select`'s gate; names get
    "+gate")."""
    from prm.search.select import Method, choose

    out: Table = {}
    for sel in selections:
        needs_rm = sel in ("naive", "weighted")
        if needs_rm and rm_key is None:
            continue
        for n in ns:
            name = f"bon-{sel}{'+gate' if gated else ''}@{n}"
            rows = {}
            for p in pools:
                if len(p) < n:
                    continue
                idx = list(range(n))
                scores = p.scores[rm_key] if needs_rm else None
                i = choose(Method(sel, rm=rm_key[0] if needs_rm else None, gated=gated), idx, correct=p.correct,
                           groups=p.groups, scores=scores, flagged=p.flagged)
                tokens = float(p.tokens[:n].sum()) if p.tokens is not None else float("nan")
                rows[p.problem_id] = Outcome(bool(p.correct[i]), tokens)
            if rows:
                out[name] = rows
    return out


def probe_difficulty(pools, rm_key: tuple, probe: int) -> tuple[dict, dict]:
    """(difficulty, probe tokens) per problem: minus the mean score of the first `probe` samples
    (higher = harder) and the tokens those samples cost. No ground truth is read. `probe` 0: no
    difficulty estimate (every problem 0.0, nothing charged): one bin, a single best configuration."""
    diff, cost = {}, {}
    if probe == 0:
        return {p.problem_id: 0.0 for p in pools}, {p.problem_id: 0.0 for p in pools}
    for p in pools:
        k = min(probe, len(p))
        diff[p.problem_id] = -float(np.mean(p.scores[rm_key][:k]))
        cost[p.problem_id] = float(p.tokens[:k].sum()) if p.tokens is not None else 0.0
    return diff, cost


def bon_n(config: str) -> int | None:
    """n of a best-of-n configuration name (`bon-<selection>[+gate]@<n>`), else None."""
    if not config.startswith("bon-") or "@" not in config:
        return None
    try:
        return int(config.rsplit("@", 1)[1])
    except ValueError:
        return None


def cost_of(table: Table, config: str, pid: str, probe_tokens: dict, probe: int, pool_tokens: dict | None = None) -> float:
    """Tokens a problem costs under `config`, the difficulty probe included (see module docstring)."""
    own = table[config][pid].tokens
    n = bon_n(config)
    if n is not None and pool_tokens is not None and pid in pool_tokens:
        return float(pool_tokens[pid][: max(n, probe)].sum())  # the probe's samples are the pool's first
    return own + probe_tokens.get(pid, 0.0)


def bin_edges(values: Sequence[float], n_bins: int) -> np.ndarray:
    """Inner quantile edges (n_bins - 1 of them) of validation difficulties."""
    v = np.asarray(list(values), dtype=float)
    if n_bins <= 1 or len(v) == 0:
        return np.array([])
    return np.quantile(v, np.linspace(0, 1, n_bins + 1)[1:-1])


def bin_of(value: float, edges: np.ndarray) -> int:
    # a value on an edge goes below it: with tied difficulties the quantile edge *is* the tied value,
    # and "right" would put every tied problem above it, leaving the lower bin empty
    return int(np.searchsorted(edges, value, side="left"))


@dataclass(frozen=True)
class Split:
    """One split's outcome table, difficulties and probe costs (see `prepare`)."""
    table: Table
    difficulty: dict
    probe_tokens: dict
    pool_tokens: dict | None
    probe: int

    def problems(self) -> list[str]:
        """Problems that every configuration answered (a fair comparison needs the same set)."""
        sets = [set(rows) for rows in self.table.values()]
        common = set.intersection(*sets) if sets else set()
        return sorted(common & set(self.difficulty))

    def cost(self, config: str, pid: str) -> float:
        return cost_of(self.table, config, pid, self.probe_tokens, self.probe, self.pool_tokens)


def choose_per_bin(val: Split, edges: np.ndarray, budget: float) -> dict[int, str]:
    """Per bin, the configuration with the best validation accuracy whose mean cost fits `budget`
    (ties: the cheaper, then the name). Bins where nothing fits get the cheapest configuration."""
    pids = val.problems()
    by_bin: dict[int, list[str]] = {}
    for pid in pids:
        by_bin.setdefault(bin_of(val.difficulty[pid], edges), []).append(pid)
    choice = {}
    for b, members in by_bin.items():
        rows = []
        for c in val.table:
            acc = float(np.mean([val.table[c][p].correct for p in members]))
            cost = float(np.mean([val.cost(c, p) for p in members]))
            rows.append((cost <= budget, acc, -cost, c))
        fitting = [r for r in rows if r[0]]
        best = max(fitting, key=lambda r: (r[1], r[2], r[3])) if fitting else max(rows, key=lambda r: (r[2], r[3]))
        choice[b] = best[3]
    return choice


def apply(split: Split, edges: np.ndarray, choice: dict[int, str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(correct, cost) per problem of `split` under a per-bin choice; a bin validation never saw
    takes the nearest seen bin's choice."""
    seen = sorted(choice)
    correct, cost, used = [], [], []
    for pid in split.problems():
        b = bin_of(split.difficulty[pid], edges)
        c = choice.get(b) or choice[min(seen, key=lambda s: abs(s - b))]
        correct.append(split.table[c][pid].correct)
        cost.append(split.cost(c, pid))
        used.append(c)
    return np.array(correct, dtype=float), np.array(cost, dtype=float), used


def paired_interval(a: np.ndarray, b: np.ndarray, *, repeats: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of a - b (per problem) and its 95% bootstrap interval over problems."""
    d = np.asarray(a, float) - np.asarray(b, float)
    rng = np.random.default_rng(seed)
    boots = d[rng.integers(0, len(d), size=(repeats, len(d)))].mean(axis=1)
    return float(d.mean()), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


def frontier(val: Split, test: Split, *, n_bins: int = 4, budgets: Sequence[float] | None = None) -> dict:
    """The compute-optimal policy at each budget: validation accuracy and cost, test accuracy and
    cost, and the configuration chosen per bin."""
    edges = bin_edges([val.difficulty[p] for p in val.problems()], n_bins)
    if budgets is None:  # every distinct mean cost a configuration has on validation
        pids = val.problems()
        budgets = sorted({round(float(np.mean([val.cost(c, p) for p in pids])), 1) for c in val.table})
    points = []
    for bud in budgets:
        choice = choose_per_bin(val, edges, bud)
        vc, vt, _ = apply(val, edges, choice)
        tc, tt, used = apply(test, edges, choice)
        points.append({"budget": float(bud), "val_accuracy": float(vc.mean()), "val_tokens": float(vt.mean()),
                       "test_accuracy": float(tc.mean()), "test_tokens": float(tt.mean()),
                       "choice": {str(b): c for b, c in sorted(choice.items())},
                       "test_choice_counts": {c: used.count(c) for c in sorted(set(used))}})
    # the frontier only keeps points that buy accuracy (on validation) for their tokens
    kept, best = [], -1.0
    for pt in sorted(points, key=lambda p: (p["val_tokens"], -p["val_accuracy"])):
        if pt["val_accuracy"] > best + 1e-12:
            kept.append(pt)
            best = pt["val_accuracy"]
    return {"edges": [float(e) for e in edges], "bins": n_bins, "points": kept}


def versus(val: Split, test: Split, front: dict, reference: str, *, seed: int = 0) -> dict:
    """The cheapest frontier point whose *validation* accuracy reaches `reference`'s, then both on
    test: accuracies, tokens, their ratio, and the paired 95% interval of the accuracy difference."""
    if reference not in val.table or reference not in test.table:
        raise KeyError(reference)
    vp, tp = val.problems(), test.problems()
    ref_val = float(np.mean([val.table[reference][p].correct for p in vp]))
    ref_correct = np.array([test.table[reference][p].correct for p in tp], dtype=float)
    ref_tokens = float(np.mean([test.cost(reference, p) for p in tp]))
    edges = np.array(front["edges"])
    reached = [pt for pt in front["points"] if pt["val_accuracy"] >= ref_val - 1e-12]
    out = {"reference": reference, "reference_val_accuracy": ref_val,
           "reference_test_accuracy": float(ref_correct.mean()), "reference_test_tokens": ref_tokens}
    if not reached:
        out["reached"] = False
        return out
    pt = min(reached, key=lambda p: p["val_tokens"])
    choice = {int(b): c for b, c in pt["choice"].items()}
    tc, tt, _ = apply(test, edges, choice)
    delta, lo, hi = paired_interval(tc, ref_correct, seed=seed)
    out.update(reached=True, budget=pt["budget"], test_accuracy=float(tc.mean()), test_tokens=float(tt.mean()),
               token_ratio=float(tt.mean()) / max(ref_tokens, 1e-9), delta=delta, lo=lo, hi=hi,
               choice=pt["choice"])
    return out


def search_outcomes(records) -> dict:
    """{problem_id: Outcome} from a step-level `prm search` output (one chosen record per problem;
    its tokens from `extra.cost.generated_tokens`, or beam's older `extra.generated_tokens`)."""
    rows = {}
    for r in records:
        cost = (r.extra or {}).get("cost") or {}
        tokens = cost.get("generated_tokens", (r.extra or {}).get("generated_tokens"))
        if tokens is None:
            raise ValueError(f"{r.where or r.problem_id}: no generated-token count (extra.cost.generated_tokens)")
        rows[r.problem_id] = Outcome(bool(r.correct), float(tokens))
    return rows


def prepare(pools, rm_key: tuple, *, probe: int, ns: Sequence[int], runs: dict | None = None,
            selections: Sequence[str] = ("naive", "weighted", "majority"), gated: bool = False) -> Split:
    """One split: best-of-n configurations from `pools` (with `gated`, also their step-checker-gated
    twins), plus `runs` ({name: {pid: Outcome}}), the difficulty and probe cost from the pools' first
    `probe` samples scored by `rm_key` (0: no probe, see `probe_difficulty`)."""
    if any(p.tokens is None for p in pools):
        raise ValueError("the pool has samples without completion_tokens: compute cannot be counted")
    table = pool_outcomes(pools, rm_key, ns, selections)
    if gated:
        table.update(pool_outcomes(pools, rm_key, ns, selections, gated=True))
    table.update(runs or {})
    diff, probe_tokens = probe_difficulty(pools, rm_key, probe)
    return Split(table, diff, probe_tokens, {p.problem_id: p.tokens for p in pools}, probe)
