"""`outcome` labeling: one verdict per sample (the ORM's supervision).

Math: the final answer, extracted from the whole solution, against the gold answer
(`verifiers.math.grade`). Code: the whole program against the problem's unit tests
(`verifiers.code.run_many`). All samples of a batch are judged in parallel workers.

The label sits on the LAST step only; earlier steps are None (no loss), so an outcome-labeled file
trains an ORM through the same sequence builder and head as a PRM (TRL's `train_on_last_step_only`
reading). A verdict of "can't tell" (math timeout, sandbox error) leaves the label None and says so
in `outcome_reason`; a response with no extractable answer is False (the math verifier's rule).
"""

from __future__ import annotations

import time

from prm.labeling.base import make_record, solution_text
from prm.labeling.inputs import LabelItem
from prm.labeling.provenance import Cost, apportion_seconds, make_provenance, verifier_info
from prm.labeling.verify import JudgeConfig, judge_many
from prm.records import StepwiseRecord


def label_outcome(items: list[LabelItem], judge: JudgeConfig = JudgeConfig()) -> list[StepwiseRecord]:
    t0 = time.perf_counter()
    verdicts = judge_many([(it.problem, solution_text(it)) for it in items], judge)
    costs = [Cost(verifier_calls=1) for _ in items]
    apportion_seconds(costs, time.perf_counter() - t0)
    out = []
    for it, v, cost in zip(items, verdicts, costs):
        n = len(it.steps)
        labels = [None] * (n - 1) + [v.correct]
        judged = [False] * (n - 1) + [v.correct is not None]
        prov = make_provenance("outcome", {}, verifier_info(it.domain),
                               cost)
        out.append(make_record(it, labels, first_error=-1 if v.correct is True else None, judged=judged,
                               outcome=v.correct, provenance=prov, outcome_reason=v.reason))
    return out
