"""Judging finished solutions (a rollout, or a sample itself) in parallel workers.

One entry point, `judge_many(jobs)`, for both domains, returning one `Judgment` per job in input
order:

- math: `verifiers.math.grade(text, gold)` on a thread pool. Threads are enough and safe: the math
  verifier bounds its sympy work in its own helper processes (no `signal.alarm`), and the rest is
  cheap string work.
- code: `verifiers.code.run_many` (one sandboxed process per program, `workers` at a time).

`correct` is True, False or None (the verifier could not tell: a math timeout, a sandbox error).
MC counts None as "not correct" (see mc.py); it is kept apart here so the summary can count it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
import os

from prm.records import Problem


@dataclass(frozen=True)
class JudgeConfig:
    workers: int | None = None       # None: one per CPU core
    code_timeout: float = 5.0        # seconds per program (all its tests)
    code_memory_mb: int = 512
    math_timeout: float = 1.0        # seconds per symbolic comparison


@dataclass(frozen=True)
class Judgment:
    correct: bool | None
    reason: str


def _workers(cfg: JudgeConfig) -> int:
    return max(1, cfg.workers or os.cpu_count() or 1)


def judge_many(jobs: list[tuple[Problem, str]], cfg: JudgeConfig = JudgeConfig()) -> list[Judgment]:
    """Judge each (problem, text): math text is a full solution, code text a full program."""
    out: list[Judgment | None] = [None] * len(jobs)
    math_idx = [i for i, (p, _) in enumerate(jobs) if p.domain == "math"]
    code_idx = [i for i, (p, _) in enumerate(jobs) if p.domain == "code"]
    if math_idx:
        from verifiers.math import grade

        def one(i: int) -> Judgment:
            p, text = jobs[i]
            try:
                v = grade(text, p.answer, timeout=cfg.math_timeout)
                return Judgment(v.correct, v.reason)
            except Exception as err:  # the verifier promises not to raise; a bug must not stop a run
                return Judgment(None, f"verifier error: {type(err).__name__}: {err}")

        if len(math_idx) == 1 or _workers(cfg) == 1:
            results = [one(i) for i in math_idx]
        else:
            with ThreadPoolExecutor(max_workers=_workers(cfg)) as pool:
                results = list(pool.map(one, math_idx))
        for i, r in zip(math_idx, results):
            out[i] = r
    if code_idx:
        from verifiers.code import run_many

        specs = []
        for i in code_idx:
            p, program = jobs[i]
            specs.append({"program": program, "tests": p.tests, "entry_point": p.entry_point,
                          "setup": p.setup, "timeout": cfg.code_timeout, "memory_mb": cfg.code_memory_mb})
        try:
            results = run_many(specs, workers=_workers(cfg), progress=False)
        except Exception as err:  # keep the run alive; every job of this batch is "can't tell"
            results = [None] * len(specs)
            reason = f"verifier error: {type(err).__name__}: {err}"
        for i, r in zip(code_idx, results):
            if r is None:
                out[i] = Judgment(None, reason)
            elif r.status == "sandbox_error":
                out[i] = Judgment(None, f"sandbox_error: {r.reason}")
            else:
                out[i] = Judgment(bool(r.passed), r.status if not r.reason else f"{r.status}: {r.reason}")
    return out  # type: ignore[return-value]


def full_text(steps: list[str], sep: str, continuation: str | None = None) -> str:
    """The solution a rollout produced: the step prefix, the separator, then the continuation.

    The continuation is exactly what the sampler returned after `continuation_prompt(prompt, steps,
    sep)`, which already ends with `sep`, so the two texts meet with one separator as in a sample.
    """
    head = sep.join(steps)
    if continuation is None:
        return head
    return head + sep + continuation if steps else continuation
