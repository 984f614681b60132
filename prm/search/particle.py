"""Particle filtering: PRM-weighted sequential Monte Carlo over solution steps (Puri et al. 2025).

"A Probabilistic Inference Approach to Inference-Time Scaling of LLMs using Particle-Based Monte
Carlo Methods" reads the PRM as the likelihood of a hidden "this solution is right" and samples
from the posterior instead of maximising the PRM as beam search does: a particle whose steps score
lower is resampled less often, but not discarded, so the search keeps diversity and is less
exposed to a PRM's over-confident mistakes. its_hub (`ParticleFiltering`) is the reference.

Per problem, `n_particles` particles start empty. At each depth every unfinished particle is
extended by ONE sampled step (the sampler stops at the step separator, as in beam search), its
prefix is scored, and the particle's reward is read from its step scores (`reward`: the newest
step's score, or an aggregation of `prm.search.aggregate`). Each depth every particle, finished or
not, adds `reward / softmax_temperature` to its log weight; weights are the softmax of the log
weights over the problem's particles. When the effective sample size ESS = 1 / sum(w^2) falls below
`ess_threshold * n_particles` the population is resampled (multinomial or systematic) and log
weights restart at 0. With `ess_threshold=1` that is resampling every step with weights
softmax(current reward / T), the paper's and its_hub's algorithm; lower thresholds resample less
and let log weights sum the rewards of the steps since the last resampling (each reward is one
observation of the state-space model, so skipping a resampling must not forget it).

Finished particles (EOS, the domain's final step, `max_steps`, or a full context) are no longer
extended but stay in the population with their last reward, as in its_hub, so they can be
resampled (their copies stay finished). Copies of an unfinished particle diverge: each particle
draws its next step with its own request seed (`request_seed(seed*1000 + depth, problem:index)`).

How this departs from its_hub: weights are softmax(reward / T), not softmax(logit(reward)) (T
sharpens them instead); resampling can be ESS-triggered; the step checker (`verify_steps`) can give
a particle whose newest step it proves False weight 0, so it is never resampled (when it proves
every particle of a problem false, the unchecked weights are used instead, and the extra says so);
`select="vote"` sums the final weights per answer group (`prm.search.dvts.answer_groups`: math
answers by verifier equivalence, programs by their text -- not by the grading tests, as `prm eval`
groups code).

Problems are searched together: one `generate` call and one `score_batch` call per depth for all
particles of all problems. The compute ledger (`prm.search.cost`) counts every request, every
sampled token and every scored prefix.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

from prm.domains import DOMAINS, JudgeConfig
from prm.errors import UserError
from prm.records import PoolRecord, Problem, SearchResult

from .aggregate import AGGREGATIONS, aggregate
from .beam import _ended, _eos_ids, _generate_safe, search_setup
from .cost import Cost, sampling_cost, scoring_cost
from .dvts import answer_groups
from .pool import judge_records, new_record
from .verified import step_verdicts

RESAMPLING = ("multinomial", "systematic")
SELECT = ("weight", "vote")
VERIFY = ("prune", "weight")


@dataclass(frozen=True)
class ParticleConfig:
    n_particles: int = 8             # particles per problem
    temperature: float = 0.8         # sampling
    top_p: float = 1.0
    max_steps: int = 10              # steps per solution, then the particle is finished (truncated)
    max_step_tokens: int = 96        # tokens per step (a longer step is cut and kept)
    softmax_temperature: float = 1.0  # weights = softmax(log weight), each step adding reward / this
    resampling: str = "systematic"   # "multinomial" | "systematic"
    ess_threshold: float = 0.5       # resample when ESS / N falls below it (1.0: every step, 0: never)
    reward: str = "last"             # a prefix's reward from its step scores: "last" or an aggregation
    select: str = "weight"           # "weight": largest final weight; "vote": weighted vote over answers
    # per-request seeds (depth d, particle k: request_seed(seed * 1000 + d, "problem:k")) and the
    # resampling RNG (request_seed(seed, "problem:resample")): one seed, one result, whatever the batch.
    # None: the engine and an unseeded RNG decide.
    seed: int | None = None
    guide: str | None = None         # which of the given scorers guides the search (None: the first)
    verify_steps: str | None = None  # "prune" | "weight": a particle whose newest step is proven False weighs 0
    judge: JudgeConfig = field(default_factory=JudgeConfig)

    def __post_init__(self):
        for name in ("n_particles", "max_steps", "max_step_tokens"):
            if getattr(self, name) < 1:
                raise UserError(f"particle filtering: {name} must be >= 1, got {getattr(self, name)}")
        if not self.softmax_temperature > 0:
            raise UserError(f"particle filtering: softmax_temperature must be > 0, got {self.softmax_temperature}")
        if not 0.0 <= self.ess_threshold <= 1.0:
            raise UserError(f"particle filtering: ess_threshold must be in [0, 1], got {self.ess_threshold}")
        if self.temperature < 0:
            raise UserError(f"particle filtering: temperature must be >= 0, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise UserError(f"particle filtering: top_p must be in (0, 1], got {self.top_p}")
        for name, allowed in (("resampling", RESAMPLING), ("reward", AGGREGATIONS), ("select", SELECT)):
            if getattr(self, name) not in allowed:
                raise UserError(f"particle filtering: {name} must be one of {', '.join(allowed)}, "
                                f"got {getattr(self, name)!r}")
        if self.verify_steps is not None and self.verify_steps not in VERIFY:
            raise UserError(f"particle filtering: verify_steps must be one of {', '.join(VERIFY)} or None, "
                            f"got {self.verify_steps!r}")


# ----------------------------------------------------------------------------- weights and resampling
def normalize(log_weights: Sequence[float]) -> list[float]:
    """Softmax of log weights (-inf: weight 0). All -inf gives uniform weights: nothing to prefer."""
    top = max(log_weights, default=-math.inf)
    if top == -math.inf:
        return [1.0 / len(log_weights)] * len(log_weights) if log_weights else []
    e = [math.exp(x - top) for x in log_weights]  # shifted by the max: no overflow
    s = sum(e)
    return [x / s for x in e]


def ess(weights: Sequence[float]) -> float:
    """Effective sample size 1 / sum(w^2) of weights (normalised here): N when uniform, 1 when one
    particle holds all the weight."""
    s = sum(weights)
    if s <= 0:
        return 0.0
    return 1.0 / sum((w / s) ** 2 for w in weights)


def systematic(weights: Sequence[float], rng: random.Random) -> list[int]:
    """Systematic resampling: one uniform draw u in [0, 1/N), positions u + k/N; particle i gets
    floor or ceil of N * w_i copies (lower variance than multinomial). Indices ascending."""
    n = len(weights)
    total = sum(weights)
    cum, acc = [], 0.0
    for w in weights:
        acc += w / total
        cum.append(acc)
    cum[-1] = 1.0  # rounding must not leave the last position past the end
    u = rng.random() / n
    out, i = [], 0
    for k in range(n):
        pos = u + k / n
        while pos >= cum[i] and i < n - 1:
            i += 1
        out.append(i)
    return out


def multinomial(weights: Sequence[float], rng: random.Random) -> list[int]:
    """Multinomial resampling: N independent draws by weight. Indices ascending (copies adjacent)."""
    return sorted(rng.choices(range(len(weights)), weights=list(weights), k=len(weights)))


def resample(weights: Sequence[float], scheme: str, rng: random.Random) -> list[int]:
    if scheme == "systematic":
        return systematic(weights, rng)
    if scheme == "multinomial":
        return multinomial(weights, rng)
    raise ValueError(f"unknown resampling {scheme!r}; choose from {RESAMPLING}")


# ----------------------------------------------------------------------------- the search
@dataclass
class Particle:
    steps: list[str] = field(default_factory=list)
    step_scores: list[float] = field(default_factory=list)
    reward: float = 0.0
    logw: float = 0.0           # log weight since the last resampling, the step checker applied
    raw_logw: float = 0.0       # the same without the checker: the fallback when it rules out everyone
    finished: bool = False
    truncated: bool = False     # finished by max_steps or a full context, not by the model
    fresh: bool = False         # a new non-blank step this depth: score it (and check it)

    def copy(self) -> "Particle":
        return replace(self, steps=list(self.steps), step_scores=list(self.step_scores), logw=0.0, raw_logw=0.0)


@dataclass
class ProblemRun:
    """One problem's population and what the search did to it."""
    particles: list[Particle]
    rng: random.Random
    cost: Cost = field(default_factory=Cost)
    ess: list[float] = field(default_factory=list)
    resamples: int = 0
    pruned: int = 0             # particle-steps weighted 0 by the step checker
    fallbacks: int = 0          # depths at which the checker had ruled out every particle (unchecked weights used)
    depth: int = 0

    def weights(self) -> list[float]:
        """Normalised weights: checked ones, or the unchecked ones when the checker left none."""
        logw = [p.logw for p in self.particles]
        if all(x == -math.inf for x in logw):
            logw = [p.raw_logw for p in self.particles]
        return normalize(logw)


def _extend(sampler, items, runs: list[ProblemRun], cfg: ParticleConfig, depth: int, eos: set, sep: str,
            is_done: Callable | None) -> None:
    """One sampled step for every unfinished particle of every problem, in one generate call."""
    from prm.sampler import SamplingConfig, continuation_prompt
    from prm.sampler.base import request_seed

    base = None if cfg.seed is None else cfg.seed * 1000 + depth
    owners = [(i, k) for i, r in enumerate(runs) for k, p in enumerate(r.particles) if not p.finished]
    prompts = [continuation_prompt(items[i][2], runs[i].particles[k].steps, sep) for i, k in owners]
    params = [SamplingConfig(n=1, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_step_tokens,
                             stop=(sep,), seed=request_seed(base, f"{items[i][0]}:{k}")) for i, k in owners]
    outs = _generate_safe(sampler, prompts, params)
    for (i, k), prompt, comps in zip(owners, prompts, outs):
        runs[i].cost.add(sampling_cost(sampler, prompt, comps))  # a refused request still counts as a call
        p = runs[i].particles[k]
        if not comps:  # the context is full: this particle ends where it is
            p.finished, p.truncated = True, True
            continue
        c = comps[0]
        ended = _ended(c, eos)
        if not (ended and not c.text.strip()):
            # a blank step that is not the end (a blank line in a program) is kept, unscored
            p.steps.append(c.text)
            p.fresh = bool(c.text.strip())
        done = ended or bool(p.steps and is_done and is_done(p.steps))
        cut = not done and len(p.steps) >= cfg.max_steps
        p.finished, p.truncated = done or cut, cut


def _score(scorer, items, runs: list[ProblemRun], cfg: ParticleConfig, sep: str) -> None:
    """Score every fresh prefix, all problems in one score_batch call; rewards from the step scores."""
    todo = [(i, p) for i, r in enumerate(runs) for p in r.particles if p.fresh]
    if not todo:
        return
    batch = [(items[i][1], [s for s in p.steps if s.strip()]) for i, p in todo]
    scores = scorer.score_batch(batch)
    for i, r in enumerate(runs):
        mine = [b for (j, _), b in zip(todo, batch) if j == i]
        if mine:
            r.cost.add(scoring_cost(scorer, mine, sep))
    for (_, p), s in zip(todo, scores):
        p.step_scores = [float(x) for x in s]
        p.reward = aggregate(p.step_scores, cfg.reward)


def _weigh(run: ProblemRun, cfg: ParticleConfig, check: Callable | None) -> None:
    """Add this depth's reward to every log weight (the checker zeroing proven-false newest steps),
    record the ESS, and resample when it is low and some particle still grows."""
    for p in run.particles:
        inc = p.reward / cfg.softmax_temperature
        p.raw_logw += inc
        proven_false = False
        if check is not None and p.fresh:
            verdicts = step_verdicts([s for s in p.steps if s.strip()], check)
            proven_false = bool(verdicts) and verdicts[-1] is False
        if proven_false:
            run.pruned += 1
            p.logw = -math.inf  # never resampled; stays 0 until a resampling drops it
        else:
            p.logw += inc
        p.fresh = False
    if all(p.logw == -math.inf for p in run.particles):
        run.fallbacks += 1
    w = run.weights()
    n = len(w)
    e = ess(w)
    run.ess.append(round(e, 3))
    growing = any(not p.finished for p in run.particles)
    if growing and (cfg.ess_threshold >= 1.0 or e < cfg.ess_threshold * n):
        run.particles = [run.particles[j].copy() for j in resample(w, cfg.resampling, run.rng)]
        run.resamples += 1


def particle_filter(sampler, scorer, items: Sequence[tuple[str, str, str]], cfg: ParticleConfig = ParticleConfig(), *,
                    sep: str = "\n\n", is_done: Callable[[list[str]], bool] | None = None,
                    check: Callable | None = None, progress: bool = False) -> list[ProblemRun]:
    """Run particle filtering for every (key, question, prompt) in `items`; one ProblemRun per item, in
    order, its particles all finished. `key` (the problem id) seeds the requests and the RNG; `check`
    is the step checker applied to the newest step (None: no checking)."""
    from prm.sampler.base import request_seed

    eos = _eos_ids(sampler)
    runs = [ProblemRun(particles=[Particle() for _ in range(cfg.n_particles)],
                       rng=random.Random(request_seed(cfg.seed, f"{key}:resample")))
            for key, _, _ in items]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=cfg.max_steps, desc="particle filtering", unit="step")
    depth = 0
    while depth < cfg.max_steps and any(not p.finished for r in runs for p in r.particles):
        _extend(sampler, items, runs, cfg, depth, eos, sep, is_done)
        _score(scorer, items, runs, cfg, sep)
        for r in runs:
            if r.particles:
                _weigh(r, cfg, check)
        depth += 1
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    for r in runs:
        r.depth = depth
        for p in r.particles:
            if not p.finished:  # cannot happen with max_steps >= 1; never leave one growing
                p.finished, p.truncated = True, True
    return runs


# ----------------------------------------------------------------------------- the strategy
def _by_weight(run: ProblemRun, w: list[float]) -> int:
    # the largest weight; then the larger reward; then the earlier particle
    return max(range(len(w)), key=lambda k: (w[k], run.particles[k].reward, -k))


def _vote(run: ProblemRun, w: list[float], records: dict[str, PoolRecord], domain) -> int:
    """Weighted vote: each particle votes its weight for its answer group; the best-weighted particle
    of the winning group. No particle with an answer: the largest weight."""
    texts = list(records)
    gid = dict(zip(texts, answer_groups([records[t] for t in texts])))
    groups = [gid[domain.join(p.steps)] for p in run.particles]
    votes: dict[int, float] = {}
    for g, x in zip(groups, w):
        if g >= 0:
            votes[g] = votes.get(g, 0.0) + x
    if not votes:
        return _by_weight(run, w)
    best = max(votes, key=votes.get)  # first appearance wins ties
    members = [k for k, g in enumerate(groups) if g == best]
    return max(members, key=lambda k: (w[k], run.particles[k].reward, -k))


def _record(problem: Problem, p: Particle) -> PoolRecord:
    domain = DOMAINS[problem.domain]
    return new_record(problem, 0, domain.join(p.steps), steps=[s for s in p.steps if s.strip()])


def _answers_distinct(run: ProblemRun, domain) -> int:
    texts = {domain.join(p.steps) for p in run.particles if p.steps}
    answers = set()
    for t in texts:
        try:
            a = domain.extract(t)
        except Exception:  # noqa: BLE001 - a count in the extra must not stop a run
            a = None
        answers.add((a if a is not None else t.rsplit(domain.sep, 1)[-1]).strip())
    return len(answers)


def run(problems: Sequence[Problem], sampler, scorers: dict, cfg: ParticleConfig = ParticleConfig(), *,
        progress: bool = False) -> list[SearchResult]:
    """The search strategy `pf` (`prm.search.STRATEGIES`): one judged `SearchResult` per problem,
    holding the chosen particle as a pool record (its guiding scorer's step scores under that
    scorer's name; `score`, `weight`, `depth`, `truncated`, `resamples`, `ess`, `pruned` and `cost` in
    its extra columns)."""
    from prm.sampler import build_prompt

    name, domain = search_setup(problems, scorers, cfg, "particle filtering")
    if domain is None:
        return []
    tok = getattr(sampler, "tokenizer", None)
    items = [(p.id, p.question, build_prompt(tok, p.question)) for p in problems]
    runs = particle_filter(sampler, scorers[name], items, cfg, sep=domain.sep, is_done=domain.is_final_step,
                           check=domain.check_steps if cfg.verify_steps else None, progress=progress)
    weights = [r.weights() for r in runs]
    if cfg.select == "vote":
        # every distinct final text is judged: its answer (math) or behaviour group (code) is its vote
        pools = [{domain.join(p.steps): _record(prob, p) for p in r.particles} for prob, r in zip(problems, runs)]
        judge_records(problems, [list(pool.values()) for pool in pools], cfg.judge)
        chosen = [_vote(r, w, pool, domain) for r, w, pool in zip(runs, weights, pools)]
        records = [pool[domain.join(r.particles[k].steps)] for r, k, pool in zip(runs, chosen, pools)]
    else:
        chosen = [_by_weight(r, w) for r, w in zip(runs, weights)]
        records = [_record(prob, r.particles[k]) for prob, r, k in zip(problems, runs, chosen)]
        judge_records(problems, [[rec] for rec in records], cfg.judge)
    out = []
    for prob, r, w, k, rec in zip(problems, runs, weights, chosen, records):
        p = r.particles[k]
        cost = r.cost.as_dict()
        rec.scores[name] = list(p.step_scores)
        rec.extra.update(score=p.reward, weight=round(w[k], 6), depth=r.depth, truncated=p.truncated,
                         resamples=r.resamples, ess=list(r.ess), pruned=r.pruned,
                         generated_tokens=r.cost.generated_tokens, cost=cost)
        if r.fallbacks:
            rec.extra["verify_fallback"] = r.fallbacks  # depths at which every particle stood proven false
        out.append(SearchResult(problem_id=prob.id, strategy="pf", samples=[rec],
                                generated_tokens=r.cost.generated_tokens,
                                extra={"cost": cost, "n_particles": cfg.n_particles,
                                       "answers_distinct": _answers_distinct(r, domain)}))
    return out
