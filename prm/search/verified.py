"""Step-level verified reranking: the sympy step checker as a zero-training reranker and a gate.

`verifiers.math.check_steps(steps)` returns one Verdict per step: False where sympy proves a step's
arithmetic or algebra wrong, True where it confirms it, None where there is nothing checkable
(most prose). A sample is *flagged* when any step is proven False.

- As a reranker (`rerank`): flagged samples rank below every unflagged one; within each block the
  given score orders them (or pool order when there is no score). With no score this is the method
  `sympy` in the curves: a random pick among unflagged samples, i.e. the checker's effect alone.
- As a gate (`Method(gated=True)` in `prm.search.select`): any method (PRM, ORM, majority, weighted)
  selects among unflagged samples only; when every sample is flagged it falls back to all of them.

A "None" verdict never flags: unknown is not wrong. Math only; code samples are never flagged.
"""

from __future__ import annotations

from typing import Callable, Sequence


def _default_check(steps: list[str]):
    from verifiers.math import check_steps

    return check_steps(steps)


def step_verdicts(steps: Sequence[str], check: Callable | None = None) -> list[bool | None]:
    """The checker's verdict per step as True / False / None. Never raises: a checker crash is
    'nothing checkable' (None for every step), because model output must not stop a run."""
    try:
        verdicts = (check or _default_check)(list(steps))
        out = [getattr(v, "correct", v) for v in verdicts]
    except Exception:  # noqa: BLE001 - the checker must never take a run down
        return [None] * len(steps)
    if len(out) != len(steps):
        return [None] * len(steps)
    return [v if v in (True, False) else None for v in out]


def first_false(verdicts: Sequence[bool | None]) -> int:
    """Index of the first step proven False, or -1 (the one first-error scan, prm/first_error.py)."""
    from prm.first_error import first_error

    return first_error(verdicts, soft=False)


def is_flagged(verdicts: Sequence[bool | None]) -> bool:
    return first_false(verdicts) >= 0


def rerank(flags: Sequence[bool], scores: Sequence[float] | None = None) -> list[int]:
    """Indices best-first: unflagged before flagged, then by score (descending), then pool order."""
    n = len(flags)
    return sorted(range(n), key=lambda i: (bool(flags[i]), -(scores[i] if scores is not None else 0.0), i))
