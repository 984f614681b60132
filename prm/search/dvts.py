"""Diverse verifier tree search (DVTS): n / M independent greedy subtrees, each keeping its best of M steps.

Beeching, Tunstall and Rush 2024, "Scaling test-time compute with open models"; the reference is
search-and-learn's `dvts.py`. A budget of `n` beams is split into n / `subtree_width` (M) independent subtrees. Each subtree is a
greedy beam search: at every step it samples M candidate next steps and keeps the one the PRM rates
best. Beam search at the same budget keeps the top beams of one shared pool, so one early favourite
can fill the whole beam with its descendants; DVTS's subtrees cannot crowd each other out, which is
the diversity it is for (`answers_distinct` counts it).

Implemented as `prm.search.beam.beam_search` over each problem's item repeated n / M times with
beam_width 1 and expand M, every copy with its own seed key (`seed_keys`): a seeded engine would
otherwise draw the same steps for the same prompt and the subtrees would be copies. Everything else
-- EOS and final-answer stops, max_steps, duplicate merging, the step checker (`verify_steps`,
`refill`) -- is beam search's. All subtrees of all problems share one `generate` and one
`score_batch` call per depth.

The answer (`select`): "best", the subtree leaf with the best aggregated score (search-and-learn's
"best"), or "vote", the weighted vote over the leaves' answers, the group's best-scoring leaf.
Answers are grouped by `answer_groups` (math: verifier equivalence; code: the program's text, never
its behaviour on the grading tests). With `verify_steps` a leaf with a step the checker proved false
is chosen only when every leaf has one (the gate of `prm.search.select`).

Output: one `SearchResult` per problem, strategy "dvts", the chosen leaf as its one pool record;
`extra`: `cost` (summed over the subtrees), `subtrees`, `answers_distinct` (distinct final answers
among the leaves; a leaf without an answer adds none), and `pruned` / `refilled` with verify_steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from prm.domains import DOMAINS, JudgeConfig, code_group_key
from prm.errors import UserError
from prm.records import Problem, SearchResult

from .beam import BeamConfig, beam_search, search_setup
from .cost import Cost
from .pool import judge_records, new_record
from .select import Method, choose, group_answers, math_same

DVTS_SELECT = ("best", "vote")


@dataclass(frozen=True)
class DVTSConfig:
    n: int = 16                  # total budget: beams, split into n / subtree_width subtrees
    subtree_width: int = 4       # M: next steps each subtree samples per step (it keeps the best one)
    max_steps: int = 10
    max_step_tokens: int = 96
    temperature: float = 0.8
    top_p: float = 1.0
    aggregation: str = "min"
    seed: int | None = None      # as BeamConfig.seed, mixed with each subtree's key
    guide: str | None = None
    verify_steps: str | None = None
    refill: int = 2
    select: str = "best"         # "best" | "vote" (module docstring)
    judge: JudgeConfig = field(default_factory=JudgeConfig)

    def __post_init__(self):
        for name in ("n", "subtree_width"):
            if getattr(self, name) < 1:
                raise UserError(f"dvts: {name} must be >= 1, got {getattr(self, name)}")
        if self.n % self.subtree_width:
            raise UserError(f"dvts: n ({self.n}) must be a multiple of subtree_width ({self.subtree_width}): "
                            f"the budget is split into n / subtree_width subtrees")
        if self.select not in DVTS_SELECT:
            raise UserError(f"dvts: select must be one of {', '.join(DVTS_SELECT)}, got {self.select!r}")
        self.beam()  # beam search validates the rest (max_steps, verify_steps, refill, ...)

    @property
    def subtrees(self) -> int:
        return self.n // self.subtree_width

    def beam(self) -> BeamConfig:
        """Each subtree's beam search: one beam, M candidates per step."""
        return BeamConfig(beam_width=1, expand=self.subtree_width, max_steps=self.max_steps,
                          max_step_tokens=self.max_step_tokens, temperature=self.temperature, top_p=self.top_p,
                          aggregation=self.aggregation, seed=self.seed, guide=self.guide,
                          verify_steps=self.verify_steps, refill=self.refill, judge=self.judge)


def answer_groups(records) -> list[int]:
    """Group ids of the records' answers, for a search's own vote (DVTS, particle filtering, stepwise):
    math answers by verifier equivalence; a program (a record the judge gave a behaviour key) by its
    own text, whitespace-normalised; -1 for no answer. Never by behaviour on the grading tests, which
    `prm eval` groups code by: a search in use has no grading tests, and grouping by them makes two
    right programs agree while wrong ones scatter, so a vote (or a stopping rule) would read the tests."""
    if any(r.group is not None for r in records):
        return group_answers([code_group_key(None, DOMAINS[r.domain].extract(r.extra.get("text") or ""))
                              for r in records], lambda a, b: False)
    return group_answers([r.answer for r in records], math_same)


def run(problems: Sequence[Problem], sampler, scorers: dict, cfg: DVTSConfig = DVTSConfig(), *,
        progress: bool = False) -> list[SearchResult]:
    """The search strategy `dvts` (`prm.search.STRATEGIES`)."""
    from prm.sampler import build_prompt

    name, domain = search_setup(problems, scorers, cfg, "dvts")
    if domain is None:
        return []
    k = cfg.subtrees
    tok = getattr(sampler, "tokenizer", None)
    items, keys = [], []
    for p in problems:
        prompt = build_prompt(tok, p.question)
        items += [(p.question, prompt)] * k
        keys += [f"{p.id}/subtree {j}" for j in range(k)]
    leaves = beam_search(sampler, scorers[name], items, cfg.beam(), sep=domain.sep, is_done=domain.is_final_step,
                         check_steps=domain.check_steps if cfg.verify_steps else None, seed_keys=keys,
                         progress=progress)
    per = [leaves[i * k:(i + 1) * k] for i in range(len(problems))]
    records = [[new_record(p, j, domain.join(b.steps), steps=list(b.steps)) for j, b in enumerate(bs)]
               for p, bs in zip(problems, per)]
    judge_records(problems, records, cfg.judge)  # every leaf: the vote and answers_distinct need answers
    method = Method("naive" if cfg.select == "best" else "weighted", rm=name, aggregation=cfg.aggregation,
                    gated=cfg.verify_steps is not None)
    out = []
    for p, bs, rs in zip(problems, per, records):
        groups = answer_groups(rs)
        j = choose(method, range(k), correct=[r.correct for r in rs], groups=groups,
                   scores=[b.score for b in bs], flagged=[b.flagged for b in bs])
        cost = Cost()
        for b in bs:
            cost.add(b.cost)
        extra = {"cost": cost.as_dict(), "subtrees": k, "answers_distinct": len({g for g in groups if g >= 0})}
        if cfg.verify_steps:
            extra.update(pruned=sum(b.pruned for b in bs), refilled=sum(b.refilled for b in bs))
        rec, b = rs[j], bs[j]
        rec.scores[name] = list(b.step_scores)
        rec.extra.update(score=b.score, depth=b.depth, truncated=b.truncated, generated_tokens=cost.generated_tokens,
                         subtree=j, **extra)
        out.append(SearchResult(problem_id=p.id, strategy="dvts", samples=[rec], generated_tokens=cost.generated_tokens,
                                extra=dict(extra)))
    return out

