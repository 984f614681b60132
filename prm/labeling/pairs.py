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
    """The labeling methods a domain supports: `direct` needs a step checker (prm/domains.py);
    `consensus` pairs two of the others (prm/labeling/consensus.py)."""
    rollout_free = ("outcome", "direct") if DOMAINS[domain].check_steps is not None else ("outcome",)
    return rollout_free + ("mc", "binary", "consensus")


def label_pairs(method: str, pairs: Sequence[tuple[Problem, Sample]], *, sampler: Any = None,
                prompt_fn: PromptFn | None = None, rollout: RolloutConfig = RolloutConfig(),
                judge: JudgeConfig = JudgeConfig(), consensus: Any = None) -> list[StepwiseRecord]:
    """Label every sample with `method` ("outcome", "direct", "mc", "binary", "consensus"); mc and
    binary draw their rollouts from `sampler` with prompts from `prompt_fn`, with the other methods'
    defaults. consensus: the two methods of `consensus` (a ConsensusConfig; default: each domain's
    pair), steps kept where they agree."""
    from .binary import BinaryConfig, label_binary
    from .consensus import ConsensusConfig, label_consensus
    from .direct import label_direct
    from .mc import MCConfig, label_mc
    from .outcome import label_outcome

    items = make_items(pairs)
    consensus = consensus or ConsensusConfig()

    def label_with(m: str, its) -> list[StepwiseRecord]:
        labelers = {
            "outcome": lambda: label_outcome(its, judge),
            "direct": lambda: label_direct(its, judge=judge),
            "mc": lambda: label_mc(its, sampler, prompt_fn, MCConfig(rollout=rollout), judge),
            "binary": lambda: label_binary(its, sampler, prompt_fn, BinaryConfig(rollout=rollout), judge),
        }
        return labelers[m]()

    known = ("outcome", "direct", "mc", "binary", "consensus")
    if method not in known:
        raise ValueError(f"unknown labeling method {method!r}; choose from {', '.join(known)}")
    uses = {m for it in items for m in consensus.pair_for(it.domain)} if method == "consensus" else {method}
    if uses & {"mc", "binary"} and (sampler is None or prompt_fn is None):
        raise ValueError(f"{method} labeling draws rollouts: give sampler= and prompt_fn=")
    if method == "consensus":
        return label_consensus(items, label_with, consensus)
    return label_with(method, items)


def label_summary(records: Sequence[StepwiseRecord]) -> dict:
    """How many records and steps, how many steps were judged and positive (True, or a soft label
    >= 0.5), and how many samples are correct as a whole."""
    steps = [lab for r in records for lab in r.labels]
    judged = [lab for lab in steps if lab is not None]
    positive = sum(1 for lab in judged if lab is True or (isinstance(lab, float) and lab >= 0.5))
    correct = sum(1 for r in records if r.extra.get("outcome") is True)
    out = {"records": len(records), "steps": len(steps), "judged": len(judged), "positive": positive,
           "correct_samples": correct}
    from .consensus import consensus_summary

    kept = consensus_summary(r.extra for r in records)   # consensus labels: how many steps survived
    if kept is not None:
        out["consensus"] = kept
    return out
