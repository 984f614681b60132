"""Best-of-N as a search strategy: sample N solutions per problem, judge them, score them.

`run` returns one `SearchResult` per problem holding all N candidates as pool records (judged, with
every scorer's scores and the domain's step-checker verdicts). Choosing one of them is left to the
selection methods (`prm.search.select`, applied for every method and every N by `prm eval bon`), so
one pool answers best-of-N, weighted vote, majority and the sympy reranker alike.

All problems go to the sampler in one `generate` call (`n` completions each), so an engine batches
them, and every scorer scores all samples in one `score_batch` call.

Compute (`prm.search.cost.Cost`): the problem's total is in `SearchResult.extra["cost"]`; each
record's `extra["cost"]` is its own share -- its tokens, and its reading by every scorer -- with the
request (one engine call, the prompt's tokens) on sample 0, so the first n records sum to what
best-of-n costs and all N to the total.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from prm.domains import DOMAINS, JudgeConfig
from prm.records import PoolRecord, Problem, SearchResult

from .cost import Cost, count_tokens, scoring_cost
from .pool import judge_records, sample_records, score_records


@dataclass(frozen=True)
class BestOfNConfig:
    n: int = 16                  # samples per problem
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 256        # tokens per sample
    # per-request seed: problem i draws with request_seed(seed, its id), so its samples depend on the
    # seed and the problem only (not on batching); None: the engine seed decides (order-dependent)
    seed: int | None = None
    judge: JudgeConfig = field(default_factory=JudgeConfig)


def _costs(problem: Problem, prompt: str, records: list[PoolRecord], sampler, scorers: dict) -> list[Cost]:
    """Each record's share of the problem's cost (module docstring): every scorer reads every
    record that has steps (`score_records`)."""
    sep = DOMAINS[problem.domain].sep
    out = []
    for k, r in enumerate(records):
        c = Cost(generated_tokens=int(r.completion_tokens or 0))
        if k == 0:
            c.prompt_tokens, c.engine_calls = count_tokens(sampler, prompt)[0], 1
        readings = [scoring_cost(s, [(problem.question, r.steps)], sep) for s in scorers.values()] if r.steps else []
        if len({x.scored_unit for x in readings}) > 1:
            # scorers counting in different units (a tokenizer, a remote one in words): all in
            # words, so the ledger can still add them
            readings = [scoring_cost(None, [(problem.question, r.steps)], sep) for _ in readings]
        for x in readings:
            c.add(x)
        out.append(c)
    return out


def run(problems: Sequence[Problem], sampler, scorers: dict, cfg: BestOfNConfig = BestOfNConfig(), *,
        progress: bool = False) -> list[SearchResult]:
    """The search strategy `bon` (`prm.search.STRATEGIES`)."""
    from prm.sampler import SamplingConfig, build_prompt

    tok = getattr(sampler, "tokenizer", None)
    from prm.sampler.base import request_seed

    params = [SamplingConfig(n=cfg.n, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens,
                             seed=request_seed(cfg.seed, p.id)) for p in problems]
    prompts = [build_prompt(tok, p.question) for p in problems]
    records = sample_records(sampler, problems, prompts, params)
    judge_records(problems, records, cfg.judge)
    score_records(problems, records, scorers)
    out = []
    for p, prompt, rs in zip(problems, prompts, records):
        total = Cost()
        for r, c in zip(rs, _costs(p, prompt, rs, sampler, scorers)):
            r.extra["cost"] = c.as_dict()
            total.add(c)
        out.append(SearchResult(problem_id=p.id, strategy="bon", samples=rs,
                                generated_tokens=sum(r.completion_tokens or 0 for r in rs),
                                extra={"cost": total.as_dict()}))
    return out
