"""The scored pool: every sample of every problem, with its correctness and reward-model scores.

One JSON object per line, the `PoolRecord` of `prm/records.py` (what `prm search` writes and
`prm eval bon --pool` reads), so samples scored by anyone's reward model compare on the same footing.
Every sample of a problem must carry the same reward models. Bad input raises `RecordError`
naming file, line and field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from prm.domains import DOMAINS
from prm.errors import RecordError
from prm.records import PoolRecord, iter_records
from prm.search.aggregate import AGGREGATIONS, sample_score
from prm.search.select import group_answers, math_same
from prm.search.verified import is_flagged, step_verdicts


# The pool line is a record of the data contract (prm/records.py); these names stay for callers.
PoolSample = PoolRecord


def parse_sample(obj: dict, where: str) -> PoolRecord:
    return PoolRecord.from_dict(obj, where)


def read_pool(path: str | Path) -> list[PoolRecord]:
    return list(iter_records(path, "pool"))


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
            elif s.steps is not None and DOMAINS[s.domain].check_steps is not None:
                verdicts.append(step_verdicts(s.steps, check or DOMAINS[s.domain].check_steps))
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
