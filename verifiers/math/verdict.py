"""`Verdict`: what every verifier returns. Model output never raises; it gets a verdict."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Verdict:
    """`correct` is True / False, or None when the verifier cannot tell; `reason` says why.

    `answer` is the answer `grade` read from the response (None when it found none, or when the
    verdict came from comparing two answers directly), so that a caller that shows or stores the
    extracted answer takes it from the same reading that was graded instead of extracting again.
    It is not part of equality: two verdicts with the same outcome and reason are the same verdict.

    Truthiness is deliberately not defined (`if verdict:` would treat "can't tell" like "wrong");
    test `verdict.correct is True` instead.
    """

    correct: bool | None
    reason: str
    answer: str | None = field(default=None, compare=False)

    def __bool__(self) -> bool:  # pragma: no cover - guard against a classic mistake
        raise TypeError("Verdict has no truth value; use `verdict.correct is True`")
