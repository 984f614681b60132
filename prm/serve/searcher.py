"""A search behind the server: questions in, one selected, scored solution out, on one worker thread.

    searcher = Searcher(SearchSpec(sampler, scorer, "bon", budget=8, domain="math"), max_queue=256)
    [answer] = searcher.submit("Tom has 3 apples ...").result()   # an openai_api.Answer
    searcher.close()                                               # finish what is queued, stop

What `prm serve --policy P --search M --budget B` runs for `POST /v1/chat/completions`: the strategy
`prm.search.STRATEGIES[M]` over a `Problem` made of the question, the policy sampling and the scorer
guiding and selecting.

- Budget: B means B samples' worth of compute, whatever the strategy (`BUDGETS`): best-of-N samples
  B; beam search keeps B // 4 beams of 4 continuations (B beams x expansions per depth); particle
  filtering runs B particles; DVTS B beams in subtrees of (up to) 4. The strategy's config is filled the
  way `prm search` fills it: every field named by a given setting, the rest at its default.
- Selection: a strategy that returns one solution (beam, ...) has chosen; a pool (best-of-N) is
  reduced to one by `prm.search.select.choose` with the scorer: `naive` (the best aggregated score)
  or `weighted` (the answer group with the largest summed score, its best member).
- Judging: there is no gold answer at serve time. The strategies judge what they find anyway; a
  served `Problem` carries no answer and no tests, so math grading answers "can't tell" (it still
  extracts the answer that weighted vote groups by) and the code judge refuses the missing tests
  before running anything: harmless, and no model output is executed.
- Threads: neither a torch model nor a `vllm.LLM` may be called from two threads, so every search
  runs on one worker, a `Batcher` (prm/serve/batcher.py) whose items are questions: concurrent
  requests are searched together in one strategy call (one `generate` per step for all of them),
  at most `max_queue` wait (then `QueueFull`: the app answers 503), and a search that raises fails
  only its own request. When the scorer is also the one /v1/score serves, the app hands in a
  `QueuedScorer`, so both routes' scoring goes through the one scoring thread.
"""

from __future__ import annotations

import itertools
from concurrent.futures import Future
from dataclasses import dataclass, fields

from prm.errors import UserError
from prm.records import Problem, SearchResult
from prm.search import STRATEGIES
from prm.search.aggregate import sample_score
from prm.search.select import Method, choose, group_answers, math_same
from prm.serve.batcher import Batcher
from prm.serve.openai_api import Answer

# --budget B as each strategy's config fields: B samples' worth (beam: width x expand samples per depth)
BUDGETS = {
    "bon": lambda b: {"n": b},
    "beam": lambda b: {"beam_width": max(1, b // min(4, b)), "expand": min(4, b)},
    "pf": lambda b: {"n_particles": b},
    # DVTS splits n into n / subtree_width subtrees: the widest of 4, 3, 2, 1 that divides B
    "dvts": lambda b: {"n": b, "subtree_width": next(w for w in (4, 3, 2, 1) if b % w == 0)},
    # stepwise spends adaptively: B is its most chains (solutions); it starts two (one when B is 1)
    "stepwise": lambda b: {"max_chains": b, "chains": min(2, b), "agree": min(2, b)},
}
SELECTIONS = ("naive", "weighted")   # how a pool (best-of-N) becomes one answer


def methods() -> list[str]:
    """The strategies a server can run: present in STRATEGIES (pf / dvts once they land) and budgeted."""
    return [m for m in STRATEGIES if m in BUDGETS]


def search_config(method: str, budget: int, settings: dict | None = None):
    """The strategy's config: the budget's fields, then every field `settings` names (None: default).
    The budget wins: it is the one knob of compute the server promises."""
    if method not in STRATEGIES or method not in BUDGETS:
        raise UserError(f"unknown search {method!r}; choose from {', '.join(methods())}")
    if budget < 1:
        raise UserError(f"the search budget must be >= 1, got {budget}")
    given = {**{k: v for k, v in (settings or {}).items() if v is not None}, **BUDGETS[method](budget)}
    config = STRATEGIES[method].config
    return config(**{f.name: given[f.name] for f in fields(config) if f.name in given})


@dataclass(frozen=True)
class SearchSpec:
    """What the server searches with; `scorer` may be the one /v1/score serves (the app then queues it)."""

    sampler: object
    scorer: object
    method: str
    budget: int
    domain: str = "math"
    settings: dict | None = None      # config fields beyond the budget: max_tokens, temperature, aggregation...
    selection: str = "naive"
    aggregation: str = "min"          # step scores -> one score, for selecting from a pool and for `score`
    scorer_name: str = "prm"
    max_batch: int = 8                # questions searched together in one strategy call

    def __post_init__(self):
        if self.selection not in SELECTIONS:
            raise UserError(f"selection must be one of {', '.join(SELECTIONS)}, got {self.selection!r}")


def pick(result: SearchResult, spec: SearchSpec) -> int:
    """Index of the answer among the result's samples: a strategy that chose returns one; a pool is
    reduced by the scorer (prm.search.select)."""
    rs = result.samples
    if len(rs) == 1:
        return 0
    scores = [sample_score(r.scores.get(spec.scorer_name, 0.0), spec.aggregation) for r in rs]
    if any(r.group is not None for r in rs):   # ready keys (code: program identity): identity only
        groups = group_answers([r.group for r in rs], lambda a, b: False)
    else:
        groups = group_answers([r.answer for r in rs], math_same)
    method = Method(spec.selection, rm=spec.scorer_name, aggregation=spec.aggregation)
    return choose(method, range(len(rs)), correct=[False] * len(rs), groups=groups, scores=scores)


def answer_of(result: SearchResult, spec: SearchSpec, prompt_tokens: int) -> Answer:
    """The served answer of one problem's search result."""
    if not result.samples:
        raise RuntimeError(f"the {spec.method} search returned no solution")
    r = result.samples[pick(result, spec)]
    raw = r.scores.get(spec.scorer_name, [])
    step_scores = [float(x) for x in raw] if isinstance(raw, list) else [float(raw)]
    cut = r.extra.get("truncated") or r.extra.get("finish_reason") == "length"
    text = r.extra.get("text")
    if text is None:
        from prm.domains import DOMAINS

        text = DOMAINS[r.domain].join(r.steps or [])
    generated = result.generated_tokens or sum(s.completion_tokens or 0 for s in result.samples)
    cost = dict(result.extra.get("cost") or {"generated_tokens": generated})
    return Answer(text=text, steps=list(r.steps or []), step_scores=step_scores,
                  score=sample_score(raw, spec.aggregation), finish_reason="length" if cut else "stop",
                  prompt_tokens=prompt_tokens, generated_tokens=int(cost.get("generated_tokens", generated)),
                  search=spec.method, budget=spec.budget, cost=cost, scorer=spec.scorer_name,
                  aggregation=spec.aggregation)


class Searcher:
    """Runs `spec`'s search for each submitted question on one worker thread (a `Batcher`)."""

    def __init__(self, spec: SearchSpec, *, scorer=None, window_s: float = 0.005, max_queue: int = 256):
        self.spec, self.scorer = spec, scorer if scorer is not None else spec.scorer
        self.config = search_config(spec.method, spec.budget, spec.settings)
        self.strategy = STRATEGIES[spec.method]
        self._ids = itertools.count()
        self.batcher = Batcher(self._search, window_s=window_s, max_items=spec.max_batch, max_queue=max_queue)

    def submit(self, question: str) -> Future:
        """A future of `[answer]`, the question's `Answer` (the batcher's slice for this request, so that
        cancelling it drops a search not yet started); QueueFull / Closed as `Batcher.submit`."""
        return self.batcher.submit([question])

    def _search(self, questions: list[str]) -> list[Answer]:
        from prm.sampler import build_prompt
        from prm.search.cost import count_tokens

        # ids are unique per server: per-problem seeds and judging key on them
        problems = [Problem(id=f"serve-{next(self._ids)}", domain=self.spec.domain, question=q) for q in questions]
        results = self.strategy.run(problems, self.spec.sampler, {self.spec.scorer_name: self.scorer}, self.config)
        by_id = {r.problem_id: r for r in results}
        tok = getattr(self.spec.sampler, "tokenizer", None)
        return [answer_of(by_id[p.id], self.spec, count_tokens(self.spec.sampler, build_prompt(tok, p.question))[0])
                for p in problems]

    def info(self, model_name: str) -> dict:
        """The search as a /v1/models entry."""
        return {"id": model_name, "object": "model", "owned_by": "prm-toolkit", "kind": "search",
                "search": self.spec.method, "budget": self.spec.budget, "domain": self.spec.domain,
                "selection": self.spec.selection, "aggregation": self.spec.aggregation,
                "policy": str(getattr(getattr(self.spec.sampler, "cfg", None), "model", None)
                              or getattr(self.spec.sampler, "model", "")),
                "sampler_backend": getattr(self.spec.sampler, "backend", None)}

    def close(self, timeout: float | None = 60.0) -> None:
        self.batcher.close(timeout)

    @property
    def stats(self) -> dict:
        return self.batcher.stats
