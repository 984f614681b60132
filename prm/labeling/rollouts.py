"""Batched rollouts: evaluate many step prefixes with ONE sampler call, then judge in parallel.

A prefix is (item, i): the first `i` steps of a sample. Its prompt is
`continuation_prompt(policy_prompt(question), steps[:i], sep)`, so the policy continues the text
exactly where the prefix ends with no re-templating; `K` completions are drawn per prefix
(`SamplingConfig.n = K`) and each finished solution (prefix + continuation) goes to the verifier.

Labelers collect the prefixes of a whole batch of samples (MC: every prefix of every sample; binary
search: the current midpoint of every sample still searching) and call `evaluate_prefixes` once,
so the engine sees hundreds of prompts per call and can share their common prefixes in its cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from prm.labeling.inputs import LabelItem
from prm.labeling.verify import JudgeConfig, full_text, judge_many
from prm.sampler import SamplingConfig, continuation_prompt


@dataclass(frozen=True)
class RolloutConfig:
    """How prefixes are evaluated. `k` rollouts per prefix; the rest are vLLM sampling settings."""

    k: int = 8
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 256
    # Base seed. Each prefix gets its own request seed derived from (seed, problem id, prefix text),
    # so its rollouts do not depend on which other prefixes share the batch, the batch size, or
    # how many sampler workers split the input. None: only the engine seed (order-dependent).
    seed: int | None = None

    def sampling(self, key: str | None = None) -> SamplingConfig:
        return SamplingConfig(n=self.k, temperature=self.temperature, top_p=self.top_p,
                              max_tokens=self.max_tokens, seed=prefix_seed(self.seed, key))


def prefix_seed(seed: int | None, key: str | None) -> int | None:
    """A stable 31-bit request seed for one prefix (`prm.sampler.base.request_seed`)."""
    from prm.sampler.base import request_seed

    return request_seed(seed, key)


@dataclass
class PrefixResult:
    """What K rollouts from one prefix showed."""

    k: int = 0                  # rollouts behind this result
    correct: int = 0
    unjudged: int = 0           # verifier said "can't tell"; counted as not correct
    drawn: int = 0              # rollouts drawn for THIS request (0 when it shared another's; see below)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def value(self) -> float | None:
        """Fraction of rollouts that reached a correct answer (Math-Shepherd's soft label)."""
        return self.correct / self.k if self.k else None

    @property
    def reachable(self) -> bool:
        """The prefix 'can reach a correct answer': at least one rollout was correct (hard label)."""
        return self.correct > 0


PromptFn = Callable[[str], str]


def prefix_prompt(item: LabelItem, i: int, prompt_fn: PromptFn) -> str:
    # i == 0 is the bare question: continuation_prompt returns the prompt itself
    return continuation_prompt(prompt_fn(item.problem.question), item.steps[:i], item.sep)


def evaluate_prefixes(sampler: Any, requests: list[tuple[LabelItem, int]], prompt_fn: PromptFn,
                      cfg: RolloutConfig, judge: JudgeConfig = JudgeConfig()) -> tuple[list[PrefixResult], float]:
    """Evaluate each (item, i) prefix with `cfg.k` rollouts. One `sampler.generate` call in total.

    Identical prefixes of the same problem (samples that begin alike, common at low temperature)
    are drawn once and share one result: the first request pays the rollouts (`drawn`, tokens),
    the others get the same value with `drawn = 0`, so summed costs count each rollout once.
    Returns the results in request order and the wall seconds spent (generation + judging).
    """
    if not requests:
        return [], 0.0
    t0 = time.perf_counter()
    first: dict[tuple[str, str], int] = {}
    owner_of: list[int] = []
    unique: list[tuple[LabelItem, int, str]] = []
    for item, i in requests:
        prompt = prefix_prompt(item, i, prompt_fn)
        key = (item.problem.id, prompt)
        if key not in first:
            first[key] = len(unique)
            unique.append((item, i, prompt))
        owner_of.append(first[key])
    outputs = sampler.generate([u[2] for u in unique],
                               [cfg.sampling(f"{u[0].problem.id}\x00{u[2]}") for u in unique])
    if len(outputs) != len(unique):
        raise RuntimeError(f"sampler returned {len(outputs)} result lists for {len(unique)} prompts")
    shared: list[PrefixResult] = []
    jobs, owners = [], []
    for u, ((item, i, _), comps) in enumerate(zip(unique, outputs)):
        res = PrefixResult(k=len(comps), drawn=len(comps))
        for c in comps:
            res.prompt_tokens += int(getattr(c, "prompt_tokens", 0) or 0)
            res.completion_tokens += int(getattr(c, "completion_tokens", 0) or 0)
            jobs.append((item.problem, full_text(item.steps[:i], item.sep, c.text)))
            owners.append(u)
        shared.append(res)
    for u, j in zip(owners, judge_many(jobs, judge)):
        if j.correct is True:
            shared[u].correct += 1
        elif j.correct is None:
            shared[u].unjudged += 1
    results, paid = [], set()
    for u in owner_of:
        if u in paid:  # a repeat of an earlier request: same evidence, no new cost
            results.append(replace(shared[u], drawn=0, prompt_tokens=0, completion_tokens=0))
        else:
            paid.add(u)
            results.append(shared[u])
    return results, time.perf_counter() - t0
