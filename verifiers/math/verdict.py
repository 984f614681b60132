"""`Verdict`: what every verifier returns. Model output never raises; it gets a verdict."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """`correct` is True / False, or None when the verifier cannot tell; `reason` says why.

    Truthiness is deliberately not defined (`if verdict:` would treat "can't tell" like "wrong");
    test `verdict.correct is True` instead.
    """

    correct: bool | None
    reason: str

    def __bool__(self) -> bool:  # pragma: no cover - guard against a classic mistake
        raise TypeError("Verdict has no truth value; use `verdict.correct is True`")
