"""Labeling in memory: (problem, sample) pairs -> stepwise records, by method name, and what the
labels hold. Files go through `runner.py` (streaming, resumable, rejects reported); this is the
library path that the demo and `examples/pipeline.py` use.
"""

from __future__ import annotations

from typing import Any, Sequence

from prm.domains import DOMAINS, JudgeConfig
from prm.records import Problem, Sample, StepwiseRecord

from .base import make_items
from .rollouts import PromptFn, RolloutConfig


def methods_for(domain: str) -> tuple[str, ...]:
    """The labeling methods a domain supports: `direct` needs a step checker (prm/domains.py)."""
    rollout_free = ("outcome", "direct") if DOMAINS[domain].check_steps is not None else ("outcome",)
    return rollout_free + ("mc", "binary")


def label_pairs(method: str, pairs: Sequence[tuple[Problem, Sample]], *, sampler: Any = None,
                prompt_fn: PromptFn | None = None, rollout: RolloutConfig = RolloutConfig(),
                judge: JudgeConfig = JudgeConfig()) -> list[StepwiseRecord]:
    """Label every sample with `method` ("outcome", "direct", "mc", "binary"); mc and binary draw
    their rollouts from `sampler` with prompts from `prompt_fn`, with the other methods' defaults."""
    from .binary import BinaryConfig, label_binary
    from .direct import label_direct
    from .mc import MCConfig, label_mc
    from .outcome import label_outcome

    items = make_items(pairs)
    labelers = {
        "outcome": lambda: label_outcome(items, judge),
        "direct": lambda: label_direct(items, judge=judge),
        "mc": lambda: label_mc(items, sampler, prompt_fn, MCConfig(rollout=rollout), judge),
        "binary": lambda: label_binary(items, sampler, prompt_fn, BinaryConfig(rollout=rollout), judge),
    }
    if method not in labelers:
        raise ValueError(f"unknown labeling method {method!r}; choose from {', '.join(labelers)}")
    if method in ("mc", "binary") and (sampler is None or prompt_fn is None):
        raise ValueError(f"{method} labeling draws rollouts: give sampler= and prompt_fn=")
    return labelers[method]()


def label_summary(records: Sequence[StepwiseRecord]) -> dict:
    """How many records and steps, how many steps were judged and positive (True, or a soft label
    >= 0.5), and how many samples are correct as a whole."""
    steps = [lab for r in records for lab in r.labels]
    judged = [lab for lab in steps if lab is not None]
    positive = sum(1 for lab in judged if lab is True or (isinstance(lab, float) and lab >= 0.5))
    correct = sum(1 for r in records if r.extra.get("outcome") is True)
    return {"records": len(records), "steps": len(steps), "judged": len(judged), "positive": positive,
            "correct_samples": correct}
