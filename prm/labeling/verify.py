"""Judging finished solutions (a rollout, or a sample itself), and the text a rollout produced.

The judging itself is the domain table's (`prm.domains.judge_many`: math by
`verifiers.math.grade`, code by the sandboxed unit tests), so a label, `prm exec`, `prm search`
and the demo all judge a solution the same way; it is re-exported here for the labelers.
`correct` is True, False or None (the verifier could not tell: a math timeout, a sandbox error).
MC counts None as "not correct" (see mc.py); it is kept apart so the summary can count it.
"""

from __future__ import annotations

from prm.domains import JudgeConfig, Judgment, judge_many

__all__ = ["JudgeConfig", "Judgment", "judge_many", "full_text"]


def full_text(steps: list[str], sep: str, continuation: str | None = None) -> str:
    """The solution a rollout produced: the step prefix, the separator, then the continuation.

    The continuation is exactly what the sampler returned after `continuation_prompt(prompt, steps,
    sep)`, which already ends with `sep`, so the two texts meet with one separator as in a sample.
    """
    head = sep.join(steps)
    if continuation is None:
        return head
    return head + sep + continuation if steps else continuation
