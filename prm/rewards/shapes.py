"""The reward shapes and the guards against PRM reward hacking: pure functions, no model, no I/O.

    spans = step_spans(completion, DOMAINS["math"])        # [(start, end), ...] of each step in the text
    reward = shape(cfg, correct=True, step_scores=[0.9, 0.2], spans=spans, text_len=len(completion))

Shapes (`RewardConfig.shape`):
- "outcome": the verifier's verdict, 1.0 right / 0.0 wrong (`outcome_unknown` when it cannot tell).
- "prm": the PRM's step scores after the guards, aggregated with `aggregation` (min, prod, last,
  mean: `prm.search.aggregate`, the one place that reads the name).
- "outcome+prm": outcome + `prm_weight` x the "prm" value.
- "dense": one reward per step, each placed at the character offset where its step ends in the
  completion (`Reward.step_ends`), so a trainer maps it onto its own policy tokens (for example with
  a tokenizer's offset mapping: the token whose span covers `end - 1`). The verifier's outcome, when
  there is one, is added to the last entry (the end of the completion), as PRIME and PURE place the
  verifiable reward on the final token. `Reward.score` is the undiscounted return, the sum.

Guards, applied to each step's PRM score in this order (each off by default):
1. `min_step_chars`: a step whose text (stripped) is shorter than this is *filler*: it gets
   `filler_reward` instead of its PRM score. Policies rewarded by a PRM learn to emit short,
   uninformative steps that the PRM scores well (Gao et al. 2024, "On Designing Effective RL Reward
   at Training Time for LLM Reasoning", arXiv:2410.15115; Cheng et al. 2025, below, list "many
   short steps" among the hacking patterns they observed). `Reward.n_filler` counts them.
2. `clip`: the Clip mechanism of Gao et al. 2024: r = min(score - clip, 0). Every step reward is
   then at most 0, so writing more steps can never raise the return; a step scored above the
   threshold costs nothing, one below it costs its shortfall.
3. `min_form` (dense only): PURE's min-form credit assignment (Cheng et al. 2025, "Stop Summation:
   Min-Form Credit Assignment Is All Process Reward Model Needs for Reasoning", arXiv:2504.15275):
   each step reward is reweighted r'_t = softmax(-r / T)_t * r_t, so the return sum_t r'_t is a
   soft minimum of the step rewards (the minimum as T -> 0) instead of their sum, which the paper
   finds is what lets a policy hack a PRM by piling up high-reward steps. For the scalar shapes use
   `aggregation="min"`: the T -> 0 limit itself (one knob per idea, so min_form is refused there).

Model output never raises here: an empty completion has no steps (PRM value 0.0, as
`prm.search.aggregate` gives), a NaN step score (a step past the scorer's max_length) counts as 0.0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from prm.search.aggregate import AGGREGATIONS, aggregate

SHAPES = ("outcome", "prm", "outcome+prm", "dense")


@dataclass(frozen=True)
class RewardConfig:
    """What the reward is made of; no side effects, checked when built."""

    shape: str = "outcome+prm"          # one of SHAPES
    aggregation: str = "min"            # PRM step scores -> one value (prm, outcome+prm)
    prm_weight: float = 0.5             # outcome+prm: outcome + prm_weight x PRM value
    outcome_unknown: float = 0.0        # outcome when the verifier cannot tell (a timeout, no gold answer)
    min_step_chars: int = 0             # guard 1: steps shorter than this (stripped) are filler; 0 = off
    filler_reward: float = 0.0          # what a filler step scores instead of its PRM score
    clip: float | None = None           # guard 2: r = min(score - clip, 0); None = off
    min_form: bool = False              # guard 3 (dense only): PURE's min-form credit assignment
    min_form_temperature: float = 0.1   # T of softmax(-r / T); smaller is closer to the hard minimum
    domain: str = "math"                # how a completion splits into steps and is verified
    sep: str | None = None              # split on this instead of the domain's segmentation (the PRM's own sep)
    math_timeout: float = 1.0           # seconds per symbolic comparison of the math verifier

    def __post_init__(self):
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}, got {self.shape!r}")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}")
        for name in ("prm_weight", "outcome_unknown", "filler_reward", "min_form_temperature", "math_timeout"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number, got {getattr(self, name)!r}")
        if self.clip is not None and not math.isfinite(self.clip):
            raise ValueError(f"clip must be a finite number or None, got {self.clip!r}")
        if self.min_step_chars < 0:
            raise ValueError(f"min_step_chars must be >= 0, got {self.min_step_chars}")
        if self.min_form_temperature <= 0:
            raise ValueError(f"min_form_temperature must be > 0, got {self.min_form_temperature}")
        if self.min_form and self.shape != "dense":
            raise ValueError("min_form (PURE) reweights dense step rewards; for a scalar shape use "
                             "aggregation='min', its T -> 0 limit")
        if self.sep is not None and not self.sep:
            raise ValueError("sep must be a non-empty string or None")

    @property
    def uses_verifier(self) -> bool:
        """Needs a verifier (dense takes one optionally: its outcome goes on the last step)."""
        return self.shape in ("outcome", "outcome+prm")

    @property
    def uses_scorer(self) -> bool:
        return self.shape != "outcome"


@dataclass(frozen=True)
class Reward:
    """One completion's reward, as a value. `score` is the scalar a sequence-level trainer takes;
    `step_rewards[i]` belongs at character `step_ends[i]` of the completion (dense trainers)."""

    score: float
    step_rewards: tuple[float, ...] = ()
    step_ends: tuple[int, ...] = ()
    correct: bool | None = None         # the verifier's verdict (None: no verifier, or it could not tell)
    prm: float | None = None            # the guarded PRM value (aggregate; dense: the sum of step rewards)
    n_steps: int = 0
    n_filler: int = 0
    reason: str = ""
    extra: dict = field(default_factory=dict, compare=False)


# ----------------------------------------------------------------------------- steps and where they end
def step_spans(text: str, domain, sep: str | None = None) -> list[tuple[int, int]]:
    """(start, end) character offsets of each step of `text`, such that `text[start:end]` is the step
    a labeler and a PRM see (`domain.clean` of a raw piece). Raw pieces come from `domain.segment`
    (or a plain split on `sep`), which join back to `text` exactly, so offsets are exact."""
    from prm.steps import split_steps

    pieces = split_steps(text, sep) if sep is not None else domain.segment(text)
    spans, pos = [], 0
    for piece in pieces:
        start = text.find(piece, pos) if piece else pos
        if start < 0:  # a segmenter that does not partition the text: fall back to the running position
            start = pos
        cleaned = domain.clean([piece])
        if cleaned:
            inner = piece.find(cleaned[0])
            s = start + max(inner, 0)
            spans.append((s, s + len(cleaned[0])))
        pos = start + len(piece)
    return spans


def steps_of(text: str, spans: Sequence[tuple[int, int]]) -> list[str]:
    return [text[a:b] for a, b in spans]


# ----------------------------------------------------------------------------- guards
def guard_steps(cfg: RewardConfig, steps: Sequence[str], scores: Sequence[float]) -> tuple[list[float], int]:
    """Guards 1 and 2 on each step's PRM score: (step rewards, number of filler steps)."""
    out, filler = [], 0
    for step, s in zip(steps, scores):
        s = 0.0 if s is None or not isinstance(s, (int, float)) or not math.isfinite(s) else float(s)
        if cfg.min_step_chars and len(step.strip()) < cfg.min_step_chars:
            s, filler = cfg.filler_reward, filler + 1
        if cfg.clip is not None:
            s = min(s - cfg.clip, 0.0)
        out.append(s)
    return out, filler


def min_form(rewards: Sequence[float], temperature: float) -> list[float]:
    """PURE's reweighting: r'_t = softmax(-r / T)_t * r_t; sum(r') is a soft minimum of r.

    >>> [round(x, 3) for x in min_form([1.0, 0.0, 1.0], 0.01)]
    [0.0, 0.0, 0.0]
    >>> round(sum(min_form([0.9, 0.3, 0.8], 1e-3)), 6)
    0.3
    """
    if not rewards:
        return []
    z = [-r / temperature for r in rewards]
    top = max(z)
    w = [math.exp(v - top) for v in z]
    total = sum(w)
    return [wi / total * r for wi, r in zip(w, rewards)]


# ----------------------------------------------------------------------------- the shapes
def outcome_value(cfg: RewardConfig, correct: bool | None) -> float:
    return 1.0 if correct is True else 0.0 if correct is False else cfg.outcome_unknown


def shape(cfg: RewardConfig, *, correct: bool | None, steps: Sequence[str] = (), step_scores: Sequence[float] = (),
          spans: Sequence[tuple[int, int]] = (), text_len: int = 0, has_outcome: bool = True,
          reason: str = "") -> Reward:
    """The reward of one completion from its verdict and its steps' PRM scores (`steps`, `spans` and
    `step_scores` aligned; a scorer's short or long list is cut or padded with 0.0). `has_outcome`:
    whether a verifier judged it (dense rewards add the outcome only then)."""
    n = len(steps)
    scores = list(step_scores)[:n] + [0.0] * max(0, n - len(step_scores))
    rewards, filler = guard_steps(cfg, steps, scores) if cfg.uses_scorer else ([], 0)
    out = outcome_value(cfg, correct)
    common = dict(correct=correct, n_steps=n, n_filler=filler, reason=reason)
    if cfg.shape == "outcome":
        return Reward(score=out, **common)
    if cfg.shape in ("prm", "outcome+prm"):
        prm = aggregate(rewards, cfg.aggregation) if rewards else 0.0
        score = prm if cfg.shape == "prm" else out + cfg.prm_weight * prm
        return Reward(score=score, step_rewards=tuple(rewards), step_ends=tuple(b for _, b in spans),
                      prm=prm, **common)
    # dense
    dense = min_form(rewards, cfg.min_form_temperature) if cfg.min_form else list(rewards)
    ends = [b for _, b in spans]
    prm = float(sum(dense))
    if has_outcome:
        if dense:
            dense[-1] += out
        else:
            dense, ends = [out], [text_len]
    return Reward(score=sum(dense), step_rewards=tuple(dense), step_ends=tuple(ends), prm=prm, **common)
