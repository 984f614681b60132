"""`direct` labeling (math): each step checked on its own by `verifiers.math.check_steps`.

The rule, in order:
1. `check_steps(steps)` gives each step True (its arithmetic / equalities hold), False (something
   in it is wrong) or None (nothing in it can be checked, e.g. prose).
2. The last step, when unchecked but stating an answer ("The answer is 12."), is checked against
   the gold answer: a final step that states a wrong answer is wrong even if it contains no
   arithmetic. (`grade` on that step alone, the toolkit's one grading path; without the last-number
   fallback, so a step that merely mentions a number is not taken as an answer.)
3. The first False step is the first error: it is labeled False, steps after it follow
   `after_error` ("incorrect" = False, PRM800K / ProcessBench style; "unlabeled" = None).
4. Steps before the first error: True when checked True; when unchecked, `unjudged` decides:
   "unlabeled" (default) = None, no loss; "correct" = True, trusting a step no check refuted.
5. `first_error`: the first False step; else -1 when the final answer is verified correct or every
   step was checked; else None (e.g. a wrong final answer that no step check could localize).

`judged[i]` says whether step i got a True/False verdict from a check (rules 1-2), whatever its
label ended up being.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from prm.domains import DOMAINS
from prm.first_error import first_error
from prm.labeling.base import AFTER_ERROR, after_error_label, make_record, solution_text
from prm.labeling.inputs import LabelItem
from prm.labeling.provenance import Cost, make_provenance, verifier_info
from prm.labeling.verify import JudgeConfig, judge_many
from prm.records import StepwiseRecord

UNJUDGED = ("unlabeled", "correct")


@dataclass(frozen=True)
class DirectConfig:
    after_error: str = "incorrect"    # label of steps after the first error: "incorrect" | "unlabeled"
    unjudged: str = "unlabeled"       # label of unchecked steps before it: "unlabeled" | "correct"
    final_answer_check: bool = True   # rule 2

    def __post_init__(self):
        if self.after_error not in AFTER_ERROR:
            raise ValueError(f"after_error must be one of {AFTER_ERROR}, got {self.after_error!r}")
        if self.unjudged not in UNJUDGED:
            raise ValueError(f"unjudged must be one of {UNJUDGED}, got {self.unjudged!r}")


def direct_labels(verdicts: list[bool | None], outcome: bool | None, cfg: DirectConfig
                  ) -> tuple[list, int | None]:
    """Pure core of rules 3-5: step verdicts (+ the sample's outcome) -> (labels, first_error)."""
    n = len(verdicts)
    fe = first_error(verdicts, soft=False, missing=None)  # rule 3; None here = no False step
    labels: list = []
    for i, v in enumerate(verdicts):
        if fe is not None and i == fe:
            labels.append(False)
        elif fe is not None and i > fe:
            labels.append(after_error_label(cfg.after_error))
        elif v is True:
            labels.append(True)
        else:
            labels.append(True if cfg.unjudged == "correct" else None)
    if fe is None:
        if outcome is False:
            fe_out = None
        elif outcome is True or all(v is not None for v in verdicts):
            fe_out = -1
        else:
            fe_out = None
    else:
        fe_out = fe
    assert len(labels) == n
    return labels, fe_out


def _step_verdicts(steps: list[str], gold: str, cfg: DirectConfig) -> tuple[list[bool | None], list[str], int]:
    from verifiers.math import check_steps, grade

    try:
        vs = check_steps(steps)
        verdicts, reasons = [v.correct for v in vs], [v.reason for v in vs]
    except Exception as err:  # the verifier promises not to raise; a bug must not stop a run
        verdicts, reasons = [None] * len(steps), [f"verifier error: {type(err).__name__}"] * len(steps)
    calls = len(steps)
    if cfg.final_answer_check and verdicts and verdicts[-1] is None:
        # `grade`, the toolkit's one grading path (multi-box answers, worked-solution golds); a last
        # step with no marked answer (`v.answer is None`) stays unjudged instead of counting wrong
        try:
            v = grade(steps[-1], gold, last_number_fallback=False)
        except Exception:  # the verifier promises not to raise; a bug must not stop a run
            v = None
        if v is not None and v.answer is not None:
            calls += 1
            if v.correct is not None:
                verdicts[-1], reasons[-1] = v.correct, f"final answer {v.answer!r}: {v.reason}"
    return verdicts, reasons, calls


def label_direct(items: list[LabelItem], cfg: DirectConfig = DirectConfig(),
                 judge: JudgeConfig = JudgeConfig()) -> list[StepwiseRecord]:
    for it in items:
        if DOMAINS[it.domain].check_steps is None:
            raise ValueError(f"{it.where}: direct labeling is math-only: it needs a step checker, which "
                             f"{it.domain} has not (sample {it.sample_id})")
    t0 = time.perf_counter()
    outcomes = judge_many([(it.problem, solution_text(it)) for it in items], judge)
    share = (time.perf_counter() - t0) / max(1, len(items))
    out = []
    for it, oc in zip(items, outcomes):
        t1 = time.perf_counter()
        verdicts, reasons, calls = _step_verdicts(it.steps, it.problem.answer, cfg)
        labels, fe = direct_labels(verdicts, oc.correct, cfg)
        cost = Cost(verifier_calls=calls + 1, seconds=share + time.perf_counter() - t1)
        prov = make_provenance("direct", asdict(cfg), verifier_info("math", "check_steps"), cost)
        out.append(make_record(it, labels, first_error=fe, judged=[v is not None for v in verdicts],
                               outcome=oc.correct, provenance=prov, step_reasons=reasons))
    return out
