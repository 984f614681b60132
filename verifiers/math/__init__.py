"""Math verifier: answer extraction, answer equivalence and step checking.

    from verifiers.math import Verdict, extract_answer, verify, grade, check_steps, VERSION

- `extract_answer(text)` -> the final answer string (boxed, `####`, "The answer is", last number);
- `verify(gold, pred)` -> `Verdict(correct, reason)`: exact arithmetic in-process for numbers,
  sympy (via latex2sympy2_extended) in a killable worker process for everything else, and
  math-verify there as a second opinion where ours says "not equal" without settling it;
- `grade(response, gold)` -> the toolkit's one grading path: extract (from the gold too, when it is a
  worked solution), then verify (a gold with n answers may be answered in n boxes); the Verdict
  carries the answer it read (`Verdict.answer`);
- `check_steps(steps)` -> one Verdict per step: do the equalities it asserts hold?

Nothing here raises on model output or hangs: a verdict of `None` means "can't tell", with a reason.
`VERSION` goes into provenance records; bump it whenever a verdict can change.
"""

from verifiers.math.extract import extract_answer
from verifiers.math.grader import grade, verify
from verifiers.math.steps import check_steps
from verifiers.math.verdict import Verdict

# 0.2.0: answer sentences, decimal commas, base subscripts, parts in boxes; 0.3.0 (issue 25): math-verify
# 0.9.0 as a second opinion (pinned: its verdicts are part of ours), labelled answers, worked-solution
# golds, bare answers read whole, `#### N words`, step-checker readings of correct GSM8K steps
VERSION = "math-verifier/0.3.0"

__all__ = ["Verdict", "extract_answer", "verify", "grade", "check_steps", "VERSION"]
