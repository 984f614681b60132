"""The first error of a labeled solution, and step labels built from it.

Every stage speaks of "the first error": labelers write it (`first_error` column), format adapters
read and write it (ProcessBench's `label`), the sympy checker predicts it. They all find it with
`first_error` and build labels from it with `labels_from_first_error`, so the rule lives here once.

What a step's label says:
- False is an error. With `soft=True` a number equal to 0 is one too: an MC value of 0.0 means no
  rollout from that prefix reached a correct answer (Math-Shepherd's hard rule: correct iff > 0).
  A verifier's verdicts (True / False / None) use `soft=False`: only a proven False counts.
- None is "not judged". By default it is passed over (unknown is not wrong). With
  `none_stops=True` a None before any error makes the first error unknown (None): a file's
  `first_error` column must not claim "no error" past a step nobody judged.
- No error found returns `missing`: -1 ("no incorrect step", the column's convention) or None
  (callers that decide between -1 and "unknown" themselves).

The call sites and their parameters (tests/test_first_error.py pins each on the same inputs):

| caller                                             | soft | none_stops | missing |
|----------------------------------------------------|------|------------|---------|
| labeling.base.first_false (mc labeler)             | yes  | no         | None    |
| formats' first_error_of (the `first_error` column) | yes  | yes        | -1      |
| labeling.direct (step verdicts)                    | no   | no         | None    |
| eval.processbench sympy predictor (step verdicts)  | no   | no         | -1      |
"""

from __future__ import annotations

from numbers import Real
from typing import Sequence

# label of the steps after the first error; CLIs list them in their own order (see --after-error)
AFTER_ERROR = ("incorrect", "unlabeled")


def after_error_label(policy: str):
    """Label for steps after the first incorrect one. "incorrect": False, as in PRM800K's and
    ProcessBench's reading that an error poisons what follows; "unlabeled": None, no loss."""
    if policy not in AFTER_ERROR:
        raise ValueError(f"after_error must be one of {AFTER_ERROR}, got {policy!r}")
    return False if policy == "incorrect" else None


def labels_from_first_error(n: int, first_error: int | None, after_error: str) -> list:
    """Steps before the first error True, it False, later ones by policy; -1 = all True; None = all None."""
    if first_error is None:
        return [None] * n
    if first_error < 0:
        return [True] * n
    after = after_error_label(after_error)
    return [True] * first_error + [False] + [after] * (n - first_error - 1)


def is_error(label, *, soft: bool = True) -> bool:
    """False; with `soft`, also a number equal to 0 (bool is not a number here: True is correct)."""
    return label is False or (soft and isinstance(label, Real) and not isinstance(label, bool) and label == 0)


def first_error(labels: Sequence, *, soft: bool = True, none_stops: bool = False, missing: int | None = -1
                ) -> int | None:
    """Index of the first step that `is_error`; `missing` when there is none. With `none_stops`, a
    None before any error returns None (the first error is unknown). See the module docstring."""
    for i, v in enumerate(labels):
        if v is None and none_stops:
            return None
        if is_error(v, soft=soft):
            return i
    return missing


def first_false(labels: Sequence) -> int | None:
    """Index of the first label that says "incorrect" (False, or a number equal to 0); None if none.
    Unlabeled steps are passed over. The labelers' reading."""
    return first_error(labels, missing=None)


def first_error_of(labels: Sequence) -> int | None:
    """The `first_error` column of a labeled record: first incorrect step (False or 0.0); -1 when every
    step is labeled correct; None when some step is unlabeled before any incorrect one."""
    return first_error(labels, none_stops=True)


def hard_label(label) -> bool | None:
    """A label as correct / incorrect: a number is correct when > 0 (Math-Shepherd's hard rule);
    None stays None."""
    if label is None:
        return None
    if isinstance(label, bool):
        return label
    return float(label) > 0
