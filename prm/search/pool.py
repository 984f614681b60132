"""Build a scored pool: sample N solutions per problem, judge them, score them, write pool records.

The glue between the sampler, the verifiers and the scorers, shared by `prm search --method bon`
and `prm demo`. The output is the pool format of `prm.eval.pool` (one line per sample), so the same
file feeds `prm eval bon` and can be rescored by anyone else's reward model.

- sampling: one `generate` call for all problems (`n` completions each); steps are the completion
  split by the domain separator (math "\\n\\n") or by code statements (`split_code_steps`), then
  cleaned as the labelers do (blank pieces dropped; code keeps its indentation);
- judging: math by `verifiers.math.grade(text, gold)` (answer extracted from the whole text), code
  by `verifiers.code.run_many` on the problem's tests; code samples also get a behaviour key (the
  pass/fail tuple per test) used for majority and weighted vote;
- scoring: each named scorer's `score_batch`; a PRM gives step scores, an ORM one number;
- math samples carry the sympy `check_steps` verdicts for the verified reranker.
"""

from __future__ import annotations

from typing import Callable, Sequence

from prm.records import Problem
from prm.steps import DEFAULT_SEP, split_code_steps, split_steps

from .select import code_group_key
from .verified import step_verdicts


def steps_of(text: str, domain: str) -> list[str]:
    """The steps a PRM sees, exactly as the labelers build them (`prm.labeling.inputs.steps_for`):
    math pieces stripped, code statements keeping their indentation."""
    from prm.labeling.inputs import steps_for
    from prm.records import Sample

    raw = split_code_steps(text) if domain == "code" else split_steps(text, DEFAULT_SEP["math"])
    return steps_for(Sample(problem_id="", text=text, steps=raw), domain)


def sample_problems(sampler, problems: Sequence[Problem], prompt_fn: Callable[[str], str], params) -> list[list[dict]]:
    """n completions per problem as pool rows without verdicts or scores (yet)."""
    comps = sampler.generate([prompt_fn(p.question) for p in problems], params)
    rows = []
    for p, cs in zip(problems, comps):
        rows.append([{"problem_id": p.id, "sample_id": k, "domain": p.domain, "text": c.text,
                      "steps": steps_of(c.text, p.domain), "completion_tokens": c.completion_tokens,
                      "finish_reason": c.finish_reason} for k, c in enumerate(cs)])
    return rows


def judge_rows(problems: Sequence[Problem], rows: list[list[dict]], *, workers: int | None = None,
               code_timeout: float = 5.0) -> None:
    """Fill `correct`, `answer` (math) / `group` (code) and `step_verdicts` (math) in place."""
    math_jobs = [(p, r) for p, rs in zip(problems, rows) for r in rs if p.domain == "math"]
    code_jobs = [(p, r) for p, rs in zip(problems, rows) for r in rs if p.domain == "code"]
    if math_jobs:
        from verifiers.math import extract_answer, grade

        for p, r in math_jobs:
            text = DEFAULT_SEP["math"].join(r["steps"])
            r["answer"] = extract_answer(text)
            r["correct"] = grade(text, p.answer).correct is True
            r["step_verdicts"] = step_verdicts(r["steps"])
    if code_jobs:
        from verifiers.code import run_many

        specs = [{"program": r["text"], "tests": p.tests, "entry_point": p.entry_point, "setup": p.setup,
                  "timeout": code_timeout} for p, r in code_jobs]
        results = run_many(specs, workers=workers, progress=False)
        for (p, r), res in zip(code_jobs, results):
            r["correct"] = bool(res.passed)
            r["answer"] = None
            r["group"] = code_group_key([t.passed for t in res.tests], r["text"])
            r["code_status"] = res.status


def score_rows(problems: Sequence[Problem], rows: list[list[dict]], scorers: dict) -> None:
    """Fill `scores[name]` for each scorer: a list for a PRM, a number for an ORM."""
    flat = [(p, r) for p, rs in zip(problems, rows) for r in rs if r["steps"]]
    for name, scorer in scorers.items():
        got = scorer.score_batch([(p.question, r["steps"]) for p, r in flat]) if flat else []
        kind = getattr(scorer, "kind", "prm")
        for (p, r), s in zip(flat, got):
            s = [float(x) for x in s]
            r.setdefault("scores", {})[name] = s if kind == "prm" else s[-1]
        for rs in rows:
            for r in rs:
                if not r["steps"]:  # nothing written: the lowest score, never preferred
                    r.setdefault("scores", {})[name] = [0.0] if kind == "prm" else 0.0
