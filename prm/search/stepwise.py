"""Step-level rejection sampling with adaptive chains: spend tokens only where a step is in doubt.

Best-of-N pays for N whole solutions on every problem, and DVTS for M candidates at every step of
every subtree, although most steps of most problems are right the first time. This strategy builds
a solution one step at a time and samples a *single* candidate for a step (`step_batch` of them at
once), accepting the first candidate the guide does not doubt: the domain's step checker does not
prove it false (`verify_steps`) and its step reward reaches `accept`. A rejected candidate is
sampled again, up to `tries` rounds; then the chain takes the best candidate it saw (one the
checker proved false only when every one was). So a right step costs one sample, and compute goes
to the steps that fail.

Chains are independent solutions built this way. A problem starts `chains` of them; when they are
done it stops if they agree -- among the *trusted* chains (every step accepted: none proven false,
none taken only because `tries` ran out), the leading answer of the weighted vote holds at least
`stop_share` of the votes and at least `agree` chains -- else it starts `chains` more, up to
`max_chains`. Two chains that reach the same answer through a step the guide doubted do not stop
the search: on the embedded math validation problems that was most of the wrong answers agreed on. Easy problems stop after
the first round; disagreement, a model-free signal of difficulty, buys more chains (the
stopping rule of adaptive self-consistency, Aggarwal et al. 2023, "Let's Sample Step by Step:
Adaptive-Consistency for Efficient Reasoning and Coding with LLMs", here over verified chains).
The step-level acceptance is reward-guided rejection at the step level, as in Liao et al. 2025
("Reward-Guided Speculative Decoding for Efficient LLM Reasoning"), with one policy instead of a
draft/target pair and a checker that can veto.

The answer (`select`): "vote", the chains' weighted vote (the group's best chain), or "best", the
chain with the best aggregated score; both leave proven-false chains out when another exists.
Answers are grouped without the grading tests (`prm.search.dvts.answer_groups`): math answers by
verifier equivalence, programs by their text. (`prm eval`'s majority groups code by behaviour on the tests,
which is optimistic; a stopping rule that read it would stop sooner on right programs.)

Everything is searched together: one `generate` call per (round, depth, try) for every chain of
every problem still waiting for a step there, and one `score_batch` call per generate. The chains
reuse beam search's sampler, scorer and checker plumbing (`prm.search.beam._Search`): the same
EOS / final-answer / `max_steps` ends, seeds, duplicate merging and cost ledger (every sampled
token counts, rejected ones included).

Output: one `SearchResult` per problem, strategy "stepwise", the chosen chain as its one pool
record; `extra`: `cost`, `chains` (chains run), `trusted` (of them, every step accepted), `rounds`, `answers_distinct`, `rejected` (candidates
turned down), `pruned` (of them, proven false by the checker).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from prm.domains import JudgeConfig
from prm.errors import UserError
from prm.records import Problem, SearchResult

from .aggregate import AGGREGATIONS
from .beam import Beam, BeamConfig, _eos_ids, _Search, search_setup
from .cost import Cost
from .pool import judge_records, new_record
from .dvts import answer_groups
from .select import Method, choose

SELECT = ("vote", "best")
VERIFY = ("prune", "weight")


@dataclass(frozen=True)
class StepwiseConfig:
    chains: int = 2              # chains started per round
    max_chains: int = 8          # chains per problem at most (the budget, in solutions)
    tries: int = 4               # sampling rounds a chain may spend on one step before taking its best
    step_batch: int = 1          # candidates sampled per round for one step (1: stop at the first accepted)
    accept: float = 0.5          # a step's reward must reach this to be accepted (0: only the checker rejects);
                                 # 0.5: even odds for a scorer whose step score is P(step correct)
    stop_share: float = 1.0      # stop when the leading answer holds this share of the weighted vote ...
    agree: int = 2               # ... and at least this many chains
    max_steps: int = 10
    max_step_tokens: int = 96
    temperature: float = 1.0
    top_p: float = 1.0
    aggregation: str = "min"     # a chain's score from its step scores (the vote's weight, "best")
    seed: int | None = None      # as BeamConfig.seed, mixed with each chain's key
    guide: str | None = None
    verify_steps: str | None = None  # "prune" | "weight": both turn down a step the checker proves false
    select: str = "vote"         # "vote" | "best" (module docstring)
    judge: JudgeConfig = field(default_factory=JudgeConfig)

    def __post_init__(self):
        for name in ("chains", "max_chains", "tries", "step_batch", "agree", "max_steps", "max_step_tokens"):
            if getattr(self, name) < 1:
                raise UserError(f"stepwise: {name} must be >= 1, got {getattr(self, name)}")
        if self.chains > self.max_chains:
            raise UserError(f"stepwise: chains ({self.chains}) must be <= max_chains ({self.max_chains})")
        if not 0.0 <= self.stop_share <= 1.0:
            raise UserError(f"stepwise: stop_share must be in [0, 1], got {self.stop_share}")
        if self.select not in SELECT:
            raise UserError(f"stepwise: select must be one of {', '.join(SELECT)}, got {self.select!r}")
        if self.verify_steps is not None and self.verify_steps not in VERIFY:
            raise UserError(f"stepwise: verify_steps must be one of {', '.join(VERIFY)}, got {self.verify_steps!r}")
        if self.aggregation not in AGGREGATIONS:
            raise UserError(f"stepwise: aggregation must be one of {', '.join(AGGREGATIONS)}, got {self.aggregation!r}")

    def beam(self) -> BeamConfig:
        """The sampling side of one chain: beam search's plumbing with one beam, `step_batch` per round."""
        return BeamConfig(beam_width=1, expand=self.step_batch, max_steps=self.max_steps,
                          max_step_tokens=self.max_step_tokens, temperature=self.temperature, top_p=self.top_p,
                          aggregation=self.aggregation, seed=self.seed, guide=self.guide)


def _newest(b: Beam) -> float:
    return b.step_scores[-1] if b.step_scores else 0.0


def accepted(b: Beam, threshold: float) -> bool:
    """A candidate the guide does not doubt: not proven false, its newest step's reward >= threshold.
    A chain the model ended without a new step repeats the last (already accepted) reward."""
    return not b.wrong and _newest(b) >= threshold


def run_chains(s: _Search, cfg: StepwiseConfig) -> tuple[list[Beam], list[int], list[int], list[bool]]:
    """Build one chain per item of `s` to its end; (chains, rejected, pruned, doubted) per item, a
    doubted chain one that took a step no try got accepted."""
    n = len(s.items)
    active: dict[int, Beam] = {i: Beam(steps=[]) for i in range(n)}
    done: dict[int, Beam] = {}
    rejected, pruned, doubted = [0] * n, [0] * n, [False] * n
    for depth in range(cfg.max_steps):
        if not active:
            break
        seen: list[set] = [set() for _ in range(n)]
        waiting, tried = dict(active), {i: [] for i in active}
        chosen: dict[int, Beam] = {}
        for t in range(cfg.tries):
            if not waiting:
                break
            cands = s.sample(list(waiting.items()), depth, t, seen)
            for i in list(waiting):
                ok = next((b for b in cands[i] if accepted(b, cfg.accept)), None)
                # the candidates looked at before the accepted one (a batch's later ones were drawn, and
                # are paid for, but never examined)
                turned = cands[i] if ok is None else cands[i][: cands[i].index(ok)]
                rejected[i] += len(turned)
                pruned[i] += sum(b.wrong for b in turned)
                tried[i] += cands[i]
                if ok is not None:
                    chosen[i] = ok
                    del waiting[i]
        for i in waiting:  # no candidate accepted: the best seen (proven-false ones last), else the chain ends
            pool = tried[i]
            doubted[i] = True
            if pool:
                chosen[i] = min(pool, key=lambda b: (b.wrong, -_newest(b)))
            else:  # every draw repeated an earlier one: nothing new to add
                b = active[i]
                chosen[i] = Beam(b.steps, b.step_scores, b.score, finished=True, truncated=True, flagged=b.flagged)
        for i, b in chosen.items():
            if b.finished:
                done[i] = b
                del active[i]
            else:
                active[i] = b
    for i, b in active.items():  # max_steps reached mid-solution
        done[i] = Beam(b.steps, b.step_scores, b.score, finished=True, truncated=True, flagged=b.flagged)
    return [done[i] for i in range(n)], rejected, pruned, doubted


def agreed(groups: Sequence[int], weights: Sequence[float], trusted: Sequence[bool], cfg: StepwiseConfig) -> bool:
    """The stopping rule: among the trusted chains only, the leading answer of the weighted vote holds
    >= stop_share of the votes and >= agree chains. No ground truth is read."""
    idx = [i for i in range(len(groups)) if trusted[i]]
    votes: dict[int, float] = {}
    counts: dict[int, int] = {}
    for i in idx:
        if groups[i] >= 0:
            votes[groups[i]] = votes.get(groups[i], 0.0) + max(weights[i], 0.0)
            counts[groups[i]] = counts.get(groups[i], 0) + 1
    if not votes:
        return False
    lead = max(counts, key=lambda g: (votes[g], counts[g]))
    total = sum(votes.values())
    share = votes[lead] / total if total > 0 else counts[lead] / sum(counts.values())
    return counts[lead] >= cfg.agree and share >= cfg.stop_share - 1e-12


def run(problems: Sequence[Problem], sampler, scorers: dict, cfg: StepwiseConfig = StepwiseConfig(), *,
        progress: bool = False) -> list[SearchResult]:
    """The search strategy `stepwise` (`prm.search.STRATEGIES`)."""
    from prm.sampler import build_prompt

    name, domain = search_setup(problems, scorers, cfg, "stepwise")
    if domain is None:
        return []
    tok = getattr(sampler, "tokenizer", None)
    prompts = [build_prompt(tok, p.question) for p in problems]
    chains: list[list[Beam]] = [[] for _ in problems]
    records: list[list] = [[] for _ in problems]
    costs = [Cost() for _ in problems]
    rejected, pruned, rounds = [0] * len(problems), [0] * len(problems), [0] * len(problems)
    trusted: list[list[bool]] = [[] for _ in problems]
    open_ = list(range(len(problems)))
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(problems), desc="stepwise", unit="problem")
    while open_:
        owners = [(k, j) for k in open_ for j in range(len(chains[k]), len(chains[k]) + cfg.chains)]
        items = [(problems[k].question, prompts[k]) for k, _ in owners]
        keys = [f"{problems[k].id}/chain {j}" for k, j in owners]
        s = _Search(sampler, scorers[name], items, cfg.beam(), domain.sep, domain.is_final_step,
                    domain.check_steps if cfg.verify_steps else None, keys, _eos_ids(sampler),
                    [Cost() for _ in items], [0] * len(items), [0] * len(items))
        built, rej, pru, doubt = run_chains(s, cfg)
        for (k, j), b, c, r, q, d in zip(owners, built, s.cost, rej, pru, doubt):
            chains[k].append(b)
            trusted[k].append(not d and not b.flagged)
            records[k].append(new_record(problems[k], j, domain.join(b.steps), steps=list(b.steps)))
            costs[k].add(c)
            rejected[k] += r
            pruned[k] += q
        round_new = {k: records[k][-cfg.chains:] for k in open_}
        judge_records([problems[k] for k in round_new], list(round_new.values()), cfg.judge)
        still = []
        for k in open_:
            rounds[k] += 1
            bs = chains[k]
            stop = len(bs) + cfg.chains > cfg.max_chains or agreed(
                answer_groups(records[k]), [b.score for b in bs], trusted[k], cfg)
            if stop:
                if bar is not None:
                    bar.update(1)
            else:
                still.append(k)
        open_ = still
    if bar is not None:
        bar.close()
    method = Method("naive" if cfg.select == "best" else "weighted", rm=name, aggregation=cfg.aggregation,
                    gated=cfg.verify_steps is not None)
    out = []
    for k, p in enumerate(problems):
        bs, rs = chains[k], records[k]
        groups = answer_groups(rs)
        j = choose(method, range(len(bs)), correct=[r.correct for r in rs], groups=groups,
                   scores=[b.score for b in bs], flagged=[b.flagged for b in bs])
        extra = {"cost": costs[k].as_dict(), "chains": len(bs), "trusted": sum(trusted[k]), "rounds": rounds[k],
                 "answers_distinct": len({g for g in groups if g >= 0}), "rejected": rejected[k]}
        if cfg.verify_steps:
            extra["pruned"] = pruned[k]
        rec, b = rs[j], bs[j]
        rec.scores[name] = list(b.step_scores)
        rec.extra.update(score=b.score, truncated=b.truncated, generated_tokens=costs[k].generated_tokens, chain=j, **extra)
        out.append(SearchResult(problem_id=p.id, strategy="stepwise", samples=[rec],
                                generated_tokens=costs[k].generated_tokens, extra=dict(extra)))
    return out
