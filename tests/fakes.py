"""The test fakes for the engines: one fake sampler and one fake scorer, each satisfying its protocol
(`prm.sampler.SamplerLike`, `prm.scoring.ScorerLike`; checked in tests/test_engine_protocols.py).

Tests differ in what the fake answers, so the answer is a function passed in; the constructors
below build the ones several tests share:

- `rollout_sampler` (labeling tests): prompts are "Q: <question>\\nA:\\n" + steps joined by the
  separator + sep (`prompt_fn`). A prefix that contains a step with the marker "BAD" can no longer
  reach the right answer; other prefixes reach it in a fraction `p_good` of the K rollouts (the
  first round(p_good * K)), so MC values are predictable.
- `menu_sampler` (beam search): the next step is 'good d.k' for even sample numbers k, 'bad d.k'
  for odd ones, at depth d = the number of separators in the prompt; at depth 3 the solution ends
  with EOS. Prompts longer than `max_len` characters are refused like a full context.
- `canned_sampler` (pools): sample k of every prompt is texts[k % len(texts)].
- `good_bad_scorer`, `table_scorer`, `length_scorer`: see their docstrings.

Every `generate` call is recorded in `calls` as (prompts, params) and its prompts in `prompts`;
every `score_batch` call's size in `batches`.
"""

from __future__ import annotations

import time
from typing import Callable

from prm.errors import UserError
from prm.sampler import Completion

EOS = 99  # the menu sampler's end-of-solution token


class FakeSampler:
    """A policy without a model: `reply(prompt, params) -> params.n Completions` answers each prompt.
    Like the real Sampler, `params` is one config for all prompts or a list with one per prompt."""

    backend = "fake"
    cfg = None                  # provenance then falls back to `model`, a string here
    tokenizer = None
    model = "fake-policy"

    def __init__(self, reply: Callable[[str, object], list[Completion]], *, eos_ids: tuple[int, ...] = (),
                 delay: float = 0.0, one_n: bool = False):
        # one_n: fail the test when one call mixes different n (the labelers never should)
        self.reply, self.eos_ids, self.delay, self.one_n = reply, list(eos_ids), delay, one_n
        self.calls: list[tuple[list[str], object]] = []
        self.prompts: list[str] = []

    def generate(self, prompts, params):
        per_prompt = list(params) if isinstance(params, (list, tuple)) else [params] * len(prompts)
        assert not self.one_n or len({p.n for p in per_prompt}) <= 1, "one n per generate call"
        self.calls.append((list(prompts), per_prompt[0] if per_prompt else params))
        self.prompts.extend(prompts)
        if self.delay:
            time.sleep(self.delay)
        return [self.reply(p, q) for p, q in zip(prompts, per_prompt)]

    def close(self) -> None:
        pass


class FakeScorer:
    """A reward model without a model: `fn(question, steps) -> scores` scores one sample (one score
    per step for a PRM, a 1-element list for an ORM)."""

    backend = "fake"

    def __init__(self, fn: Callable[[str, list[str]], list[float]], *, kind: str = "prm", sep: str = "\n\n"):
        self.fn, self.kind, self.sep = fn, kind, sep
        self.stats = {"samples": 0, "truncated_steps": 0}
        self.batches: list[int] = []

    def score(self, question, steps):
        return self.score_batch([(question, steps)])[0]

    def score_batch(self, items, *, progress: bool = False):
        self.batches.append(len(items))
        self.stats["samples"] += len(items)
        return [list(self.fn(q, steps)) for q, steps in items]

    def close(self) -> None:
        pass


# ----------------------------------------------------------------------------- samplers
def prompt_fn(question: str) -> str:
    return f"Q: {question}\nA:\n"


def rollout_sampler(right: dict[str, str] | None = None, wrong: dict[str, str] | None = None, *,
                    p_good: float = 1.0, marker: str = "BAD", delay: float = 0.0, p_fn=None,
                    complete_fn=None) -> FakeSampler:
    """Continuations right[q] / wrong[q] by the rule in the module docstring; `p_fn(question, prefix)`
    replaces the rule's probability, `complete_fn(question, prefix)` replaces right/wrong."""
    def reply(prompt, params):
        head, _, prefix = prompt.partition("\nA:\n")
        q = head[len("Q: "):]
        prob = p_fn(q, prefix) if p_fn else (0.0 if marker in prefix else p_good)
        good = round(prob * params.n)
        texts = ([complete_fn(q, prefix)] * params.n if complete_fn else
                 [right[q] if j < good else wrong[q] for j in range(params.n)])
        return [Completion(t, [1, 2, 3], None, "stop", len(prompt.split()), 3) for t in texts]

    return FakeSampler(reply, delay=delay, one_n=True)


def menu_sampler(max_len: int = 10_000) -> FakeSampler:
    def reply(prompt, params):
        if len(prompt) > max_len:
            raise UserError("prompt too long")
        depth = prompt.count(params.stop[0])
        if depth >= 3:
            return [Completion("", [EOS], None, "stop", len(prompt), 1) for _ in range(params.n)]
        return [Completion(f"{'good' if k % 2 == 0 else 'bad'} {depth}.{k}", [1, 2, 3], None, "stop", len(prompt), 3)
                for k in range(params.n)]

    return FakeSampler(reply, eos_ids=(EOS,))


def canned_sampler(texts: list[str]) -> FakeSampler:
    return FakeSampler(lambda prompt, params: [Completion(texts[k % len(texts)], [1] * 5, None, "stop", 3, 5)
                                               for k in range(params.n)])


# ----------------------------------------------------------------------------- scorers
def good_bad_scorer() -> FakeScorer:
    """PRM: 0.9 for a step starting with 'good', else 0.1 (the menu sampler's steps)."""
    return FakeScorer(lambda q, steps: [0.9 if s.startswith("good") else 0.1 for s in steps])


def table_scorer(table: dict[str, list[float]], kind: str = "prm", sep: str = "\n\n") -> FakeScorer:
    """The scores `table[question]`, whatever the steps."""
    return FakeScorer(lambda q, steps: table[q], kind=kind, sep=sep)


def length_scorer(kind: str) -> FakeScorer:
    """A PRM that likes short steps (1 / (1 + len)); an ORM that likes the digit 7 (0.9, else 0.1)."""
    if kind == "prm":
        return FakeScorer(lambda q, steps: [1.0 / (1 + len(s)) for s in steps])
    return FakeScorer(lambda q, steps: [0.9 if "7" in " ".join(steps) else 0.1], kind=kind)


def seeded_menu_sampler(answers: tuple[str, ...] = ("1", "2", "3")) -> FakeSampler:
    """A menu sampler whose draws depend on the request seed S (None counts as 0), as a seeded
    engine's do: step k at depth d is '<good|bad> d.k sS' (good for even k); at depth 2 the step also
    ends the solution with 'The answer is A', A = answers[S % len(answers)]. Every request's
    (prompt, seed) is kept in `seeds`, in order."""
    seeds: list[tuple[str, int | None]] = []

    def reply(prompt, params):
        seeds.append((prompt, params.seed))
        s, depth = params.seed or 0, prompt.count(params.stop[0])
        tail = f" The answer is {answers[s % len(answers)]}." if depth >= 2 else ""
        return [Completion(f"{'good' if k % 2 == 0 else 'bad'} {depth}.{k} s{s}{tail}", [1, 2, 3], None, "stop",
                           len(prompt), 3) for k in range(params.n)]

    sampler = FakeSampler(reply, eos_ids=(EOS,))
    sampler.seeds = seeds
    return sampler


def recording(sampler: FakeSampler) -> FakeSampler:
    """`sampler`, keeping every prompt's answer in `completions` (a list of lists), so a test can sum
    the tokens a search was given."""
    sampler.completions = []
    reply = sampler.reply

    def rec(prompt, params):
        out = reply(prompt, params)
        sampler.completions.append(out)
        return out

    sampler.reply = rec
    return sampler
