"""Candidate solutions as pool records: sample them, judge them, score them (every strategy's glue).

The pieces every search strategy shares, between the sampler, the verifiers and the scorers; their
output is the pool record of `prm/records.py` (`PoolRecord`, one line per sample), so the same file
feeds `prm eval bon` and can be rescored by anyone else's reward model.

- sampling: one `generate` call for all problems (`n` completions each); steps are the completion
  split and cleaned by the problem's domain (`prm.domains`: math "\\n\\n" pieces stripped, code
  statements keeping their indentation), exactly as the labelers build them;
- judging: the domain's batch judge (math: the final answer against the gold answer; code: the unit
  tests); code records also get a behaviour key (the pass/fail tuple per test) used for majority and
  weighted vote, and the domain's step checker (math: sympy) fills `step_verdicts`;
- scoring: each named scorer's `score_batch`; a PRM gives step scores, an ORM one number.
"""

from __future__ import annotations

from typing import Sequence

from prm.domains import DOMAINS, JudgeConfig, judge_many
from prm.records import PoolRecord, Problem

from .verified import step_verdicts


def steps_of(text: str, domain: str) -> list[str]:
    """The steps a PRM sees, exactly as the labelers build them (`prm.labeling.inputs.steps_for`)."""
    return DOMAINS[domain].steps(text)


def new_record(problem: Problem, sample_id: int, text: str, *, completion_tokens: int | None = None,
               finish_reason: str | None = None, steps: list[str] | None = None) -> PoolRecord:
    """A candidate not yet judged or scored (`correct` False until `judge_records`)."""
    extra = {"sample_id": sample_id, "text": text}
    if finish_reason is not None:
        extra["finish_reason"] = finish_reason
    return PoolRecord(problem_id=problem.id, correct=False, domain=problem.domain,
                      steps=steps_of(text, problem.domain) if steps is None else steps,
                      completion_tokens=completion_tokens, extra=extra)


def sample_records(sampler, problems: Sequence[Problem], prompts: Sequence[str], params) -> list[list[PoolRecord]]:
    """`params.n` completions per problem as pool records, not yet judged or scored (`params`: one
    SamplingConfig, or a list with one per problem)."""
    comps = sampler.generate(list(prompts), params)
    return [[new_record(p, k, c.text, completion_tokens=c.completion_tokens, finish_reason=c.finish_reason)
             for k, c in enumerate(cs)] for p, cs in zip(problems, comps)]


def judge_records(problems: Sequence[Problem], records: list[list[PoolRecord]],
                  cfg: JudgeConfig = JudgeConfig()) -> None:
    """Fill `correct`, `answer` / `group`, and `step_verdicts` where the domain has a step checker, in
    place. Each record is judged on its text, as `prm exec` and `prm label` judge a sample; `correct`
    is True only when the verifier says so ("can't tell" is not right)."""
    flat = [(p, r) for p, rs in zip(problems, records) for r in rs]
    for (p, r), j in zip(flat, judge_many([(p, r.extra["text"]) for p, r in flat], cfg)):
        r.correct, r.answer, r.group = j.correct is True, j.answer, j.group
        checker = DOMAINS[p.domain].check_steps
        if checker is not None:
            r.step_verdicts = step_verdicts(r.steps or [], checker)
        if j.detail is not None:
            r.extra["code_status"] = j.detail.status


def score_records(problems: Sequence[Problem], records: list[list[PoolRecord]], scorers: dict) -> None:
    """Fill `scores[name]` for each scorer: a list for a PRM, a number for an ORM."""
    flat = [(p, r) for p, rs in zip(problems, records) for r in rs if r.steps]
    for name, scorer in scorers.items():
        got = scorer.score_batch([(p.question, r.steps) for p, r in flat]) if flat else []
        kind = getattr(scorer, "kind", "prm")
        for (p, r), s in zip(flat, got):
            s = [float(x) for x in s]
            r.scores[name] = s if kind == "prm" else s[-1]
        for rs in records:
            for r in rs:
                if not r.steps:  # nothing written: the lowest score, never preferred
                    r.scores[name] = [0.0] if kind == "prm" else 0.0
