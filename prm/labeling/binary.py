"""`binary` labeling (OmegaPRM-style): binary search for the first step that can no longer reach a
correct answer, with O(log n) prefix evaluations per sample instead of MC's n - 1.

Prefix-evaluation rule: the prefix of the first i steps "can reach a correct answer" when at least
one of K rollouts from it is verified correct (MC's hard label). The whole sample (i = n) is judged
directly, without rollouts.

Monotonicity assumption: reachability never comes back once lost, i.e. if the prefix of i steps
cannot reach a correct answer, neither can any longer prefix. Then the first error is the smallest
i with reach(i) = False, and binary search finds it:

    correct sample (reach(n) = True)  -> every step True, first_error -1, no rollouts
    otherwise: lo = 0 (the bare question, assumed reachable: not evaluated), hi = n (known bad)
               while hi - lo > 1: mid = (lo + hi) // 2; reach(mid) ? lo = mid : hi = mid
               first_error = hi - 1 (0-based step index)

Steps before the first error are True, it is False, later steps follow `after_error` ("incorrect",
the default, is what MC's hard labels give under the same assumption). When the assumption is
false (a later prefix recovers by luck), binary search can land on a different step than MC's
first zero; `scripts/bench/bench_labeling.py` measures how often the two agree and how many
rollouts binary search saves. If even the question is unreachable (a problem beyond the policy),
the search ends at step 0, exactly where MC's first zero would be.

Samples of a batch are searched in lockstep: each round sends the current midpoint of every sample
still searching in ONE sampler call, so a batch costs about log2(n) engine calls.

`mc_values[i]` holds the fraction of correct rollouts where the prefix ending at step i was
evaluated (None elsewhere); `judged[i]` is True where it was evaluated (including the last step,
judged as the sample's outcome), False where the label was inferred from monotonicity.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from prm.labeling.base import AFTER_ERROR, labels_from_first_error, make_record, solution_text
from prm.labeling.inputs import LabelItem
from prm.labeling.provenance import Cost, apportion_seconds, make_provenance, sampler_info, verifier_info
from prm.labeling.rollouts import PrefixResult, PromptFn, RolloutConfig, evaluate_prefixes
from prm.labeling.verify import JudgeConfig, judge_many
from prm.records import StepwiseRecord


@dataclass(frozen=True)
class BinaryConfig:
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    after_error: str = "incorrect"

    def __post_init__(self):
        if self.after_error not in AFTER_ERROR:
            raise ValueError(f"after_error must be one of {AFTER_ERROR}, got {self.after_error!r}")


def search_first_error(n: int, reach: Callable[[int], bool]) -> tuple[int, list[int]]:
    """Pure binary search: the first step whose prefix cannot reach (reach(n) is False by the
    caller's knowledge, reach(0) assumed True). Returns (first_error, prefixes evaluated)."""
    lo, hi, asked = 0, n, []
    while hi - lo > 1:
        mid = (lo + hi) // 2
        asked.append(mid)
        if reach(mid):
            lo = mid
        else:
            hi = mid
    return hi - 1, asked


@dataclass
class _Search:
    item: LabelItem
    lo: int
    hi: int
    evaluated: dict[int, PrefixResult] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.hi - self.lo > 1

    @property
    def mid(self) -> int:
        return (self.lo + self.hi) // 2


def label_binary(items: list[LabelItem], sampler: Any, prompt_fn: PromptFn, cfg: BinaryConfig = BinaryConfig(),
                 judge: JudgeConfig = JudgeConfig()) -> list[StepwiseRecord]:
    t0 = time.perf_counter()
    outcomes = judge_many([(it.problem, solution_text(it)) for it in items], judge)
    seconds = time.perf_counter() - t0
    searches = [_Search(it, 0, len(it.steps) if oc.correct is not True else 0) for it, oc in zip(items, outcomes)]
    rounds = 0
    while True:
        active = [s for s in searches if s.active]
        if not active:
            break
        rounds += 1
        results, dt = evaluate_prefixes(sampler, [(s.item, s.mid) for s in active], prompt_fn, cfg.rollout, judge)
        seconds += dt
        for s, res in zip(active, results):
            mid = s.mid
            s.evaluated[mid] = res
            if res.reachable:
                s.lo = mid
            else:
                s.hi = mid
    costs = []
    for s in searches:
        rs = s.evaluated.values()
        costs.append(Cost(rollouts=sum(r.drawn for r in rs), prompt_tokens=sum(r.prompt_tokens for r in rs),
                          completion_tokens=sum(r.completion_tokens for r in rs),
                          verifier_calls=sum(r.drawn for r in rs) + 1))
    apportion_seconds(costs, seconds)
    settings = {"k": cfg.rollout.k, "after_error": cfg.after_error, "rule": "reach = any of K rollouts correct"}
    sinfo = sampler_info(sampler, cfg.rollout.sampling())
    out = []
    for s, oc, cost in zip(searches, outcomes, costs):
        n = len(s.item.steps)
        fe = -1 if oc.correct is True else s.hi - 1
        labels = labels_from_first_error(n, fe, cfg.after_error)
        values: list = [None] * n
        counts = [0] * n
        for i, r in s.evaluated.items():
            values[i - 1], counts[i - 1] = r.value, r.k
        values[-1] = 1.0 if oc.correct is True else 0.0
        judged = [v is not None for v in values]
        verifier = verifier_info(s.item.domain)
        prov = make_provenance("binary", settings, verifier, cost, sinfo)
        out.append(make_record(s.item, labels, first_error=fe, judged=judged, outcome=oc.correct, provenance=prov,
                               mc_values=values, n_rollouts=counts))
    return out
