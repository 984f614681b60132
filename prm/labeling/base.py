"""Pieces every labeler shares: label policies, the first error, and building the output record.

The after-error policy and the first-error scan are `prm.first_error`'s, re-exported here.

Output record (TRL stepwise + extra columns, see ANCHORS.md and prm/records.py):

    prompt       the problem's question (the PRM adds its own formatting at training time)
    completions  the sample's steps as the PRM sees them (`inputs.steps_for`)
    labels       True / False per step, a float in [0, 1] (MC soft labels), or None = not labeled
    problem_id, sample_id, domain
    first_error  index of the first incorrect step; -1 = no incorrect step; None = unknown
    judged       per step: did a check look at this step itself (vs. a label set by a policy)
    mc_values    per step: fraction of rollouts from the prefix ending at it that were correct
                 (None where no rollout was drawn); mc also stores `mc_hard` (value > 0)
    n_rollouts   per step: rollouts drawn from that prefix
    outcome      the whole sample's final answer / program verdict (True / False / None)
    provenance   see provenance.py
"""

from __future__ import annotations

from typing import Sequence

# the first-error rule lives in prm/first_error.py; re-exported here, where labelers import it from
from prm.first_error import AFTER_ERROR, after_error_label, first_false, labels_from_first_error  # noqa: F401
from prm.labeling.inputs import LabelItem, sample_id_for
from prm.labeling.verify import full_text
from prm.records import Problem, Sample, StepwiseRecord


def solution_text(item: LabelItem) -> str:
    """The whole sample as the verifier sees it: its steps joined by the domain separator, which is
    also what the last rollout prefix would be, so `outcome` and prefix values agree."""
    return full_text(item.steps, item.sep)


def make_record(item: LabelItem, labels: list, *, first_error: int | None, judged: list[bool],
                outcome: bool | None, provenance: dict, mc_values: list | None = None,
                n_rollouts: list[int] | None = None, **extra) -> StepwiseRecord:
    n = len(item.steps)
    assert len(labels) == n and len(judged) == n, "one label and one judged flag per step"
    cols = {"problem_id": item.problem.id, "sample_id": item.sample_id, "domain": item.domain,
            "first_error": first_error, "judged": list(judged), "outcome": outcome}
    if mc_values is not None:
        cols["mc_values"] = list(mc_values)
    if n_rollouts is not None:
        cols["n_rollouts"] = list(n_rollouts)
    cols.update(extra)
    cols["provenance"] = provenance
    return StepwiseRecord(prompt=item.problem.question, completions=list(item.steps), labels=list(labels),
                          extra=cols)


def make_items(pairs: Sequence[tuple[Problem, Sample]] | Sequence[LabelItem]) -> list[LabelItem]:
    """LabelItems from (problem, sample) pairs, for library use without files. Samples without a
    non-blank step raise ValueError (the runner reports them instead)."""
    from collections import Counter

    from prm.labeling.inputs import steps_for

    seen: Counter = Counter()
    out = []
    for k, p in enumerate(pairs):
        if isinstance(p, LabelItem):
            out.append(p)
            continue
        problem, sample = p
        steps = steps_for(sample, problem.domain)
        if not steps:
            raise ValueError(f"pair {k}: sample of problem {problem.id!r} has no non-blank step")
        out.append(LabelItem(problem=problem, sample=sample, sample_id=sample_id_for(sample, seen), steps=steps,
                             where=f"pair {k}"))
    return out
