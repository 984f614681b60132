"""The scored pool: every sample of every problem, with its correctness and reward-model scores.

One JSON object per line (what `prm search --method bon` writes and `prm eval bon --pool` reads), so
samples scored by anyone's reward model can be compared on the same footing:

    {"problem_id": "p1",            # required: samples of one problem form its pool
     "correct": true,               # required: the verifier's judgement of the final answer
     "scores": {"prm": [0.9, 0.4],  # required: one entry per reward model; a list = step scores
                "orm": 0.7},        #   (PRM, aggregated by min/prod/last/mean), a number = outcome
     "answer": "1/2",               # optional: extracted answer, grouped by verifier equivalence
     "group": "PPF",                # optional: a ready group key (code: behaviour on the tests);
                                    #   wins over `answer`
     "domain": "math",              # optional: "math" (default) or "code"
     "steps": ["...", "..."],       # optional: for length/step-count diagnostics and sympy checks
     "step_verdicts": [true, null, false],  # optional: sympy check per step (computed if absent
                                            #   and steps are given, math only)
     "completion_tokens": 812,      # optional: generated tokens, for compute-matched comparisons
     "sample_id": 3}                # optional; everything else passes through untouched

Every sample of a problem must carry the same reward models. Bad input raises `RecordError`
naming file, line and field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from prm.errors import RecordError
from prm.records import iter_jsonl
from prm.search.aggregate import AGGREGATIONS, sample_score
from prm.search.select import group_answers, math_same
from prm.search.verified import is_flagged, step_verdicts


@dataclass
class PoolSample:
    problem_id: str
    correct: bool
    scores: dict
    answer: str | None = None
    group: str | None = None
    domain: str = "math"
    steps: list[str] | None = None
    step_verdicts: list | None = None
    completion_tokens: int | None = None
    where: str = ""

    @property
    def length(self) -> int:
        return len("".join(self.steps)) if self.steps is not None else 0


def _check_score(v, where: str, rm: str):
    bad = RecordError(f"score for {rm!r} must be a number or a list of numbers", where=where, field="scores")
    items = v if isinstance(v, list) else [v]
    for x in items:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or math.isnan(x):
            raise bad
    if isinstance(v, list) and not v:
        raise RecordError(f"empty step-score list for {rm!r}", where=where, field="scores")


def parse_sample(obj: dict, where: str) -> PoolSample:
    for name in ("problem_id", "correct", "scores"):
        if name not in obj:
            raise RecordError("missing required field", where=where, field=name)
    if not isinstance(obj["correct"], bool):
        raise RecordError(f"expected true/false, got {obj['correct']!r}", where=where, field="correct")
    scores = obj["scores"]
    if not isinstance(scores, dict):
        raise RecordError("expected an object {rm_name: score}", where=where, field="scores")
    for rm, v in scores.items():
        _check_score(v, where, rm)
    steps = obj.get("steps")
    if steps is not None and not (isinstance(steps, list) and all(isinstance(s, str) for s in steps)):
        raise RecordError("expected a list of strings", where=where, field="steps")
    verdicts = obj.get("step_verdicts")
    if verdicts is not None:
        if not isinstance(verdicts, list) or any(v not in (True, False, None) for v in verdicts):
            raise RecordError("expected a list of true/false/null", where=where, field="step_verdicts")
        if steps is not None and len(verdicts) != len(steps):
            raise RecordError(f"{len(verdicts)} verdicts for {len(steps)} steps", where=where, field="step_verdicts")
    domain = obj.get("domain", "math")
    if domain not in ("math", "code"):
        raise RecordError(f"must be 'math' or 'code', got {domain!r}", where=where, field="domain")
    tokens = obj.get("completion_tokens")
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0):
        raise RecordError("expected a non-negative integer", where=where, field="completion_tokens")
    answer, group = obj.get("answer"), obj.get("group")
    return PoolSample(problem_id=str(obj["problem_id"]), correct=obj["correct"], scores=scores,
                      answer=None if answer is None else str(answer), group=None if group is None else str(group),
                      domain=domain, steps=steps, step_verdicts=verdicts, completion_tokens=tokens, where=where)


def read_pool(path: str | Path) -> list[PoolSample]:
    return [parse_sample(obj, f"{path}:{lineno}") for lineno, obj in iter_jsonl(path)]


@dataclass
class ProblemPool:
    """Arrays over one problem's samples, ready for subsampling. `scores[(rm, agg)]` holds every
    aggregation of every PRM (agg None for outcome scores)."""

    problem_id: str
    domain: str
    correct: np.ndarray
    groups: np.ndarray
    flagged: np.ndarray
    scores: dict = field(default_factory=dict)
    tokens: np.ndarray | None = None
    lengths: np.ndarray | None = None
    n_steps: np.ndarray | None = None
    verdicts: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.correct)


def rm_kinds(samples: Iterable[PoolSample]) -> dict[str, str]:
    """Each RM's kind: 'prm' when its scores are step lists, else 'orm'."""
    kinds: dict[str, str] = {}
    for s in samples:
        for rm, v in s.scores.items():
            kinds[rm] = "prm" if isinstance(v, list) or kinds.get(rm) == "prm" else "orm"
    return kinds


def build_pools(samples: Sequence[PoolSample], *, aggregations: Sequence[str] = AGGREGATIONS,
                same: Callable[[str, str], bool] | None = None, check: Callable | None = None,
                progress: bool = False) -> list[ProblemPool]:
    """Group samples by problem (first-appearance order) and precompute groups, flags and scores.

    `same` is the math answer equivalence (default: the verifier); `check` the step checker used
    when a math sample has steps but no verdicts (default: `verifiers.math.check_steps`).
    """
    by_pid: dict[str, list[PoolSample]] = {}
    for s in samples:
        by_pid.setdefault(s.problem_id, []).append(s)
    kinds = rm_kinds(samples)
    items = by_pid.items()
    if progress:
        from tqdm import tqdm
        items = tqdm(items, desc="group answers", unit="problem")
    pools = []
    for pid, ss in items:
        names = set(ss[0].scores)
        for s in ss:
            if set(s.scores) != names:
                raise RecordError(f"reward models {sorted(s.scores)} differ from the problem's first sample "
                                  f"{sorted(names)}", where=s.where, field="scores")
        domain = ss[0].domain
        if any(s.group is not None for s in ss):
            keys = [s.group for s in ss]
            groups = group_answers(keys, lambda a, b: False)  # ready keys: identity only
        else:
            groups = group_answers([s.answer for s in ss], same or math_same)
        verdicts = []
        for s in ss:
            if s.step_verdicts is not None:
                verdicts.append(list(s.step_verdicts))
            elif s.steps is not None and s.domain == "math":
                verdicts.append(step_verdicts(s.steps, check))
            else:
                verdicts.append([])
        scores: dict = {}
        for rm in sorted(names):
            aggs = aggregations if kinds[rm] == "prm" else (None,)
            for agg in aggs:
                scores[(rm, agg)] = np.array([sample_score(s.scores[rm], agg or "min") for s in ss])
        pools.append(ProblemPool(
            problem_id=pid, domain=domain,
            correct=np.array([s.correct for s in ss], dtype=bool),
            groups=np.array(groups, dtype=int),
            flagged=np.array([is_flagged(v) for v in verdicts], dtype=bool),
            scores=scores,
            tokens=np.array([s.completion_tokens or 0 for s in ss]) if all(s.completion_tokens is not None for s in ss) else None,
            lengths=np.array([s.length for s in ss]) if all(s.steps is not None for s in ss) else None,
            n_steps=np.array([len(s.steps) for s in ss]) if all(s.steps is not None for s in ss) else None,
            verdicts=verdicts,
        ))
    return pools
