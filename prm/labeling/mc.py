"""`mc` labeling (Math-Shepherd): K rollouts from every step prefix, verified by the verifiers.

For a sample with steps s_1..s_n, the prefix ending at step i (i < n) is continued K times by the
policy (`rollouts.evaluate_prefixes`, one engine call for all prefixes of all samples in the
batch). Each finished solution is verified: math by `verifiers.math.grade` against the gold answer
(sympy equivalence, not Math-Shepherd's exact string match), code by running the unit tests.

    mc_values[i] = (#correct rollouts) / K          soft label ("SE" in Math-Shepherd)
    hard label   = mc_values[i] > 0                  any rollout correct ("HE")
    n_rollouts[i] = K

The last step's prefix is the whole sample, which is already finished: its value is the sample's
own verdict (1.0 or 0.0) and it costs no rollouts (n_rollouts = 0). A rollout the verifier cannot
judge (no answer, timeout, sandbox error) counts as not correct, as an unparsable answer fails
Math-Shepherd's match; the count of such rollouts is kept in `mc_unjudged`.

`labels` holds the hard labels (bool) by default or the soft ones (float) with `label="soft"`;
both are always kept as well: `mc_values` (soft) and `mc_hard` (hard), with `n_rollouts` (K). `first_error` = first step with value 0 (no rollout from it
reached a correct answer), -1 if none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prm.labeling.base import first_false, make_record, solution_text
from prm.labeling.inputs import LabelItem
from prm.labeling.provenance import Cost, apportion_seconds, make_provenance, sampler_info, verifier_info
from prm.labeling.rollouts import PromptFn, RolloutConfig, evaluate_prefixes
from prm.labeling.verify import JudgeConfig, judge_many
from prm.records import StepwiseRecord

LABEL_TYPES = ("hard", "soft")


@dataclass(frozen=True)
class MCConfig:
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    label: str = "hard"       # "hard": any rollout correct (bool); "soft": fraction correct (float)

    def __post_init__(self):
        if self.label not in LABEL_TYPES:
            raise ValueError(f"label must be one of {LABEL_TYPES}, got {self.label!r}")


def mc_labels(values: list[float], label: str) -> list:
    """Pure: per-step MC values -> labels of the chosen type."""
    return [v > 0 for v in values] if label == "hard" else [float(v) for v in values]


def label_mc(items: list[LabelItem], sampler: Any, prompt_fn: PromptFn, cfg: MCConfig = MCConfig(),
             judge: JudgeConfig = JudgeConfig()) -> list[StepwiseRecord]:
    requests = [(it, i) for it in items for i in range(1, len(it.steps))]
    results, seconds = evaluate_prefixes(sampler, requests, prompt_fn, cfg.rollout, judge)
    outcomes = judge_many([(it.problem, solution_text(it)) for it in items], judge)
    by_item: dict[int, list] = {id(it): [] for it in items}
    for (it, _), res in zip(requests, results):
        by_item[id(it)].append(res)
    costs = []
    for it in items:
        rs = by_item[id(it)]
        costs.append(Cost(rollouts=sum(r.drawn for r in rs), prompt_tokens=sum(r.prompt_tokens for r in rs),
                          completion_tokens=sum(r.completion_tokens for r in rs),
                          verifier_calls=sum(r.drawn for r in rs) + 1))
    apportion_seconds(costs, seconds)
    settings = {"k": cfg.rollout.k, "label": cfg.label}
    sinfo = sampler_info(sampler, cfg.rollout.sampling())
    out = []
    for it, oc, cost in zip(items, outcomes, costs):
        rs = by_item[id(it)]
        values = [r.value if r.value is not None else 0.0 for r in rs] + [1.0 if oc.correct is True else 0.0]
        labels = mc_labels(values, cfg.label)
        fe = first_false(mc_labels(values, "hard"))
        prov = make_provenance("mc", settings, verifier_info(it.domain), cost, sinfo)
        out.append(make_record(it, labels, first_error=-1 if fe is None else fe, judged=[True] * len(it.steps),
                               outcome=oc.correct, provenance=prov, mc_values=values,
                               n_rollouts=[r.k for r in rs] + [0], mc_hard=mc_labels(values, "hard"),
                               mc_unjudged=[r.unjudged for r in rs] + [0]))
    return out
