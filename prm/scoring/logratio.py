"""The implicit PRM's sequence and sums: (question, steps) -> the ids the policy saw, and step rewards.

One function builds the token sequence for training (`prm.train.implicit`) and for scoring
(`prm.scoring.implicit`), as `prm.sequence` does for the token-classification PRM.

Layout: exactly what sampling fed the policy (`prm.policy.encode_pairs`): the prompt
`build_prompt(tokenizer, question)` tokenized alone, then the completion `sep.join(steps)` tokenized
alone, concatenated, no BOS or EOS added (an engine tokenizes the prompt alone and generates the
rest, so a BPE merge across the prompt/completion boundary never happened in sampling either).

Step of a token: the step whose span holds the token's first character. Step k's span is the
separator BEFORE it plus its own text (step 0: its text only). The separator is given to the step it
opens, not the one it closes, so scoring steps[:k] reads the same tokens for steps 1..k as scoring
all steps (the prefix property step-level search relies on; exact where the tokenizer is
prefix-stable at separators, as the tiny policy's is, with newlines isolated). Its log-ratio is the
decision to write another step, which belongs with that step. The final EOS is not scored: a
stepwise record does not say whether the sample finished, and a prefix has none.

Sums: with token log-ratios d_i = beta * (log pi(y_i | y_<i) - log pi_ref(y_i | y_<i)), the step
reward r_t = sum of d_i over step t's tokens and q_t = r_1 + ... + r_t (Yuan et al. 2024, Prop. 3.1:
q_t is the Q value of the prefix, an exponential average of the outcome reward). r(y) = q_T.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass


@dataclass(frozen=True)
class RatioSequence:
    """`input_ids` = prompt ids + completion ids; `step_of[j]` = step of completion token j."""

    input_ids: list[int]
    prompt_len: int
    step_of: list[int]
    n_steps: int


def encode_completion(tokenizer, question: str, steps: list[str], sep: str) -> RatioSequence:
    """Prompt and completion tokenized apart (as sampling did), each completion token mapped to its step."""
    from prm.sampler import build_prompt

    if not getattr(tokenizer, "is_fast", False):
        raise TypeError("encode_completion needs a fast (Rust) tokenizer: it reads character offsets")
    p_ids = tokenizer(build_prompt(tokenizer, question), add_special_tokens=False)["input_ids"]
    if not p_ids:
        raise ValueError("empty prompt: the first completion token needs a position before it")
    enc = tokenizer(sep.join(steps), add_special_tokens=False, return_offsets_mapping=True)
    # span start of each step: step 0 at 0, step k at the separator before it
    starts, n = [0], 0
    for s in steps[:-1]:
        n += len(s)
        starts.append(n)
        n += len(sep)
    step_of = [max(bisect_right(starts, a) - 1, 0) for a, _ in enc["offset_mapping"]]
    return RatioSequence(list(p_ids) + list(enc["input_ids"]), len(p_ids), step_of, len(steps))


def truncate_prompt(seq: RatioSequence, max_length: int) -> RatioSequence | None:
    """Cut prompt tokens from the left until the sequence fits (one prompt token always stays: it is
    where the first completion token's probability is read); None when the completion does not fit."""
    over = len(seq.input_ids) - max_length
    if over <= 0:
        return seq
    if over > seq.prompt_len - 1:
        return None
    return RatioSequence(seq.input_ids[over:], seq.prompt_len - over, seq.step_of, seq.n_steps)


def fit(seq: RatioSequence, max_length: int) -> tuple[RatioSequence, int]:
    """For scoring: left-truncate the prompt, else also cut the completion's right end. Returns the
    sequence and how many leading steps still have all their tokens inside the window."""
    t = truncate_prompt(seq, max_length)
    if t is not None:
        return t, seq.n_steps
    cut = seq.prompt_len - 1
    keep = max_length - 1                     # completion tokens that fit after one prompt token
    ids = seq.input_ids[cut:cut + 1 + keep]
    inside = seq.step_of[:keep]
    dropped = seq.step_of[keep:]
    complete = min(dropped) if dropped else seq.n_steps    # the first step with a token outside
    return RatioSequence(ids, 1, inside, seq.n_steps), complete


def step_sums(token_values, step_of: list[int], n_steps: int) -> list[float]:
    """Sum per-token values into their steps (a step with no token sums to 0.0)."""
    out = [0.0] * n_steps
    for v, k in zip(token_values, step_of):
        out[k] += float(v)
    return out


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def cumulative(r: list[float]) -> list[float]:
    q, total = [], 0.0
    for x in r:
        total += x
        q.append(total)
    return q


# How step rewards become step scores in (0, 1): "q" (default) sigmoid(q_t), the prefix's value, whose
# last entry is exactly the trained outcome probability sigmoid(r(y)); "r" sigmoid(r_t), the step's own
# increment, for the paper's rule of ranking a response by its lowest step reward (aggregation `min`).
STEP_SCORES = {
    "q": lambda r: [sigmoid(x) for x in cumulative(r)],
    "r": lambda r: [sigmoid(x) for x in r],
}


def token_logprobs(logits, input_ids):
    """log p(token i) for i >= 1, read at position i - 1: (B, T - 1). Torch."""
    import torch

    lp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    return lp.gather(-1, input_ids[:, 1:, None]).squeeze(-1)


def completion_logprobs(logits, input_ids, completion_mask):
    """Sum of log p(token) over completion tokens, per row: logits (B, T, V), ids (B, T), mask (B, T)
    with 1 at completion tokens. Torch."""
    return (token_logprobs(logits, input_ids) * completion_mask[:, 1:]).sum(dim=1)
