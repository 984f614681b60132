"""Best-of-N as a search strategy: sample N solutions per problem, judge them, score them.

`run` returns one `SearchResult` per problem holding all N candidates as pool records (judged, with
every scorer's scores and the domain's step-checker verdicts). Choosing one of them is left to the
selection methods (`prm.search.select`, applied for every method and every N by `prm eval bon`), so
one pool answers best-of-N, weighted vote, majority and the sympy reranker alike.

All problems go to the sampler in one `generate` call (`n` completions each), so an engine batches
them, and every scorer scores all samples in one `score_batch` call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from prm.domains import JudgeConfig
from prm.records import Problem, SearchResult

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


def run(problems: Sequence[Problem], sampler, scorers: dict, cfg: BestOfNConfig = BestOfNConfig(), *,
        progress: bool = False) -> list[SearchResult]:
    """The search strategy `bon` (`prm.search.STRATEGIES`)."""
    from prm.sampler import SamplingConfig, build_prompt

    tok = getattr(sampler, "tokenizer", None)
    from prm.sampler.base import request_seed

    params = [SamplingConfig(n=cfg.n, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens,
                             seed=request_seed(cfg.seed, p.id)) for p in problems]
    records = sample_records(sampler, problems, [build_prompt(tok, p.question) for p in problems], params)
    judge_records(problems, records, cfg.judge)
    score_records(problems, records, scorers)
    return [SearchResult(problem_id=p.id, strategy="bon", samples=rs,
                         generated_tokens=sum(r.completion_tokens or 0 for r in rs))
            for p, rs in zip(problems, records)]
