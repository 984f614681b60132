"""What differs between math and code, in one table: `DOMAINS = {"math": Domain(...), "code": Domain(...)}`.

Every stage that needs to know how a domain splits, cleans, extracts or judges a solution looks it
up here (`DOMAINS[problem.domain]`) instead of branching on the domain's name, so a new domain is
one more entry in this table (plus its problems' fields in `prm/records.py` and a task generator).

A `Domain` says:
- `sep`: the step separator a PRM sees between steps (ANCHORS.md: "\\n\\n" for math, "\\n" for code);
- `segment(text) -> steps`: the raw split, which joins back to `text` exactly (`prm.steps`);
- `clean(steps) -> steps`: what a labeler and a PRM see (math: stripped, blank steps dropped; code:
  only trailing whitespace stripped, because leading indentation is the program);
- `extract(text) -> str | None`: the final answer (math) or the program to run (code);
- `judge(problems, texts, cfg) -> [Judgment]`: is each whole solution right? One batch call, used
  alike by `prm exec`, `prm label`, `prm search`, the policy check and the demo, so "is this sample
  correct?" has one answer everywhere;
- `is_final_step(steps)`: does the last step end the solution (beam search stops the beam);
- `check_steps`: a per-step checker that needs no model (math: the sympy arithmetic checker), or
  None when the domain has none (no `direct` labels, no verified reranking);
- `verifier` / `judge_name`: the package and function named in every label's provenance.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from prm.steps import clean_steps, split_code_steps, split_steps

if TYPE_CHECKING:
    from prm.records import Problem


@dataclass(frozen=True)
class JudgeConfig:
    """How whole solutions are judged. `workers=None`: one per CPU core."""

    workers: int | None = None
    code_timeout: float = 5.0        # seconds per program (all its tests)
    code_memory_mb: int = 512
    math_timeout: float = 1.0        # seconds per symbolic comparison
    code_block: str = "auto"         # code: "auto" runs the last ```fenced``` block when there is one
    prompt: str = "auto"             # code: prepend the question to a completion ("auto" | "always" | "never")


@dataclass(frozen=True)
class Judgment:
    """A verdict on one whole solution. `correct` is True, False or None (the verifier could not
    tell: a math timeout, a sandbox error); `reason` says why. `answer` is the extracted final
    answer (math), which majority vote groups by verifier equivalence; `group` a ready group key
    instead (code: the behaviour on the tests, `code_group_key`); `detail` the
    code verifier's `CodeResult` (per-test outcomes, status, isolation), None for math or when the
    sandbox failed."""

    correct: bool | None
    reason: str
    answer: str | None = None
    group: str | None = None
    detail: Any = None


def _workers(cfg: JudgeConfig) -> int:
    return max(1, cfg.workers or os.cpu_count() or 1)


# ----------------------------------------------------------------------------- math
def _math_extract(text: str) -> str | None:
    from verifiers.math import extract_answer

    return extract_answer(text)


def _math_judge(problems: Sequence["Problem"], texts: Sequence[str], cfg: JudgeConfig) -> list[Judgment]:
    """`verifiers.math.grade(text, gold)` on a thread pool. Threads are enough and safe: the math
    verifier bounds its sympy work in its own helper processes (no `signal.alarm`)."""
    from verifiers.math import grade

    def one(job: tuple) -> Judgment:
        p, text = job
        try:
            v = grade(text, p.answer, timeout=cfg.math_timeout)
            return Judgment(v.correct, v.reason, answer=v.answer)  # the answer that was graded
        except Exception as err:  # noqa: BLE001 - the verifier promises not to raise; a bug must not stop a run
            return Judgment(None, f"verifier error: {type(err).__name__}: {err}")

    jobs = list(zip(problems, texts))
    if len(jobs) <= 1 or _workers(cfg) == 1:
        return [one(j) for j in jobs]
    with ThreadPoolExecutor(max_workers=_workers(cfg)) as pool:
        return list(pool.map(one, jobs))


def _math_final(steps: list[str]) -> bool:
    # a marked final answer ("The answer is", \boxed): without the last-number fallback, which
    # would call every "a + b = c" step an answer
    from verifiers.math import extract_answer

    return bool(steps) and extract_answer(steps[-1], last_number_fallback=False) is not None


def _math_check_steps(steps: list[str]):
    from verifiers.math import check_steps

    return check_steps(steps)


# ----------------------------------------------------------------------------- code
def _code_clean(steps: list[str]) -> list[str]:
    return [s.rstrip() for s in steps if s.strip()]


def _code_extract(text: str) -> str:
    from verifiers.code import extract_program

    return extract_program(text)


def _code_judge(problems: Sequence["Problem"], texts: Sequence[str], cfg: JudgeConfig) -> list[Judgment]:
    """Each text's program (`verifiers.code.program_for`: fenced block, prompt continuation) against
    its problem's unit tests, `verifiers.code.run_many` running `workers` sandboxed programs at once."""
    from verifiers.code import program_for, run_many

    specs = [{"program": program_for(t, question=p.question, test_format=p.test_format, entry_point=p.entry_point,
                                     code_block=cfg.code_block, prompt=cfg.prompt),
              "tests": p.tests, "entry_point": p.entry_point, "setup": p.setup,
              "timeout": cfg.code_timeout, "memory_mb": cfg.code_memory_mb} for p, t in zip(problems, texts)]
    if not specs:
        return []
    try:
        results = run_many(specs, workers=_workers(cfg), progress=False)
    except Exception as err:  # noqa: BLE001 - keep the run alive; every job of this batch is "can't tell"
        return [Judgment(None, f"verifier error: {type(err).__name__}: {err}", group=code_group_key(None, t))
                for t in texts]
    out = []
    for r, t in zip(results, texts):
        group = code_group_key([x.passed for x in r.tests], t)
        if r.status == "sandbox_error":
            out.append(Judgment(None, f"sandbox_error: {r.reason}", group=group, detail=r))
        else:
            out.append(Judgment(bool(r.passed), r.status if not r.reason else f"{r.status}: {r.reason}",
                                group=group, detail=r))
    return out


def code_group_key(test_outcomes: Sequence[bool] | None, program: str | None) -> str | None:
    """Behaviour signature of a program, what majority vote groups code by: its pass/fail tuple on
    the tests, e.g. "PPF"; falls back to the whitespace-normalised program text (program identity)
    when there are no outcomes."""
    if test_outcomes:
        return "".join("P" if ok else "F" for ok in test_outcomes)
    if program is None or not program.strip():
        return None
    return "prog:" + re.sub(r"\s+", " ", program).strip()


def _never_final(steps: list[str]) -> bool:
    # a program has no "final answer" step: it ends when the model stops (EOS) or at max_steps
    return False


# ----------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Domain:
    name: str
    sep: str
    segment: Callable[[str], list[str]]
    clean: Callable[[list[str]], list[str]]
    extract: Callable[[str], str | None]
    judge: Callable[[Sequence["Problem"], Sequence[str], JudgeConfig], list[Judgment]]
    is_final_step: Callable[[list[str]], bool]
    check_steps: Callable[[list[str]], Any] | None
    verifier: str                  # the verifier package, e.g. "verifiers.math"
    judge_name: str                # its function that judges a whole solution

    def steps(self, text: str) -> list[str]:
        """The steps a labeler and a PRM see for a solution's text."""
        return self.clean(self.segment(text))

    def join(self, steps: list[str]) -> str:
        return self.sep.join(steps)

    def verifier_info(self, what: str | None = None) -> dict:
        """Name and version of the verifier used (`what` defaults to the whole-solution judge), read
        from the verifier package itself; a missing or broken verifier still gives a record."""
        import importlib

        try:
            version = importlib.import_module(self.verifier).VERSION
        except Exception:  # noqa: BLE001 - provenance must be written even then
            version = None
        return {"name": f"{self.verifier}.{what or self.judge_name}", "version": version}


DOMAINS: dict[str, Domain] = {
    "math": Domain(name="math", sep="\n\n", segment=lambda text: split_steps(text, "\n\n"), clean=clean_steps,
                   extract=_math_extract, judge=_math_judge, is_final_step=_math_final,
                   check_steps=_math_check_steps, verifier="verifiers.math", judge_name="grade"),
    "code": Domain(name="code", sep="\n", segment=split_code_steps, clean=_code_clean,
                   extract=_code_extract, judge=_code_judge, is_final_step=_never_final,
                   check_steps=None, verifier="verifiers.code", judge_name="run_tests"),
}


def domain_of(name: str) -> Domain:
    """`DOMAINS[name]`, with an error that lists the known domains."""
    try:
        return DOMAINS[name]
    except KeyError:
        raise ValueError(f"unknown domain {name!r}; known: {', '.join(DOMAINS)}") from None


def judge_many(jobs: Sequence[tuple["Problem", str]], cfg: JudgeConfig = JudgeConfig()) -> list[Judgment]:
    """Judge each (problem, text) with its domain's judge, one batch per domain; results in input order."""
    out: list[Judgment | None] = [None] * len(jobs)
    for name in dict.fromkeys(p.domain for p, _ in jobs):
        idx = [i for i, (p, _) in enumerate(jobs) if p.domain == name]
        got = DOMAINS[name].judge([jobs[i][0] for i in idx], [jobs[i][1] for i in idx], cfg)
        for i, j in zip(idx, got):
            out[i] = j
    return out  # type: ignore[return-value]
