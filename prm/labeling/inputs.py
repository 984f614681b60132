"""Joining samples to problems, streaming, with every unusable input reported (never dropped silently).

`load_problems` reads the problems file whole (problems are few next to samples) but tolerates a
problem that cannot be labeled against (no gold answer, no tests): it is kept aside with its line,
so each sample that points at it is rejected with that reason instead of the whole run stopping.

`iter_items` streams the samples file and yields either a `LabelItem` or a `Reject` per line, in
file order. Memory is flat in the number of samples except for one short id per sample used to
number repeated identical samples (see `sample_id_for`).

Rejected (each with `file:line`): a line that is not a valid Sample, a sample whose problem id is
unknown, a sample with no non-empty step, a sample whose problem has no gold answer / no tests,
a sample whose domain the chosen method cannot label.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from prm.errors import RecordError, UserError
from prm.records import Problem, Sample, iter_jsonl
from prm.domains import DOMAINS

# the problem fields whose absence makes a problem unlabelable but not malformed
_GOLD_FIELDS = {"answer", "tests", "test_format", "entry_point"}


@dataclass
class LabelItem:
    """One sample ready to label: its problem, the steps a PRM will see, and a stable id."""

    problem: Problem
    sample: Sample
    sample_id: str
    steps: list[str]
    where: str = ""

    @property
    def domain(self) -> str:
        return self.problem.domain

    @property
    def sep(self) -> str:
        return DOMAINS[self.problem.domain].sep


@dataclass
class Reject:
    where: str
    reason: str
    problem_id: str | None = None

    def to_dict(self) -> dict:
        return {"where": self.where, "reason": self.reason, "problem_id": self.problem_id}


@dataclass
class Problems:
    usable: dict[str, Problem] = field(default_factory=dict)
    unusable: dict[str, str] = field(default_factory=dict)  # id -> "file:line: why"
    bad_lines: list[str] = field(default_factory=list)


def load_problems(path: str | Path) -> Problems:
    out = Problems()
    seen: dict[str, str] = {}
    for lineno, obj in iter_jsonl(path):
        where = f"{path}:{lineno}"
        pid = obj.get("id")
        try:
            p = Problem.from_dict(obj, where=where)
        except RecordError as err:
            if err.field in _GOLD_FIELDS and isinstance(pid, (str, int)):
                out.unusable[str(pid)] = str(err)
                seen.setdefault(str(pid), where)
                continue
            raise
        if p.id in seen:
            raise RecordError(f"duplicate problem id {p.id!r} (first at {seen[p.id]})", where=where, field="id")
        seen[p.id] = where
        out.usable[p.id] = p
    if not out.usable and not out.unusable:
        raise UserError(f"{path}: no problems in file")
    return out


def steps_for(sample: Sample, domain: str) -> list[str]:
    """The steps a labeler and a PRM see: the domain's `clean` (prm/domains.py)."""
    return DOMAINS[domain].clean(sample.steps)


def sample_id_for(sample: Sample, seen: Counter) -> str:
    """`metadata.sample_id` when given; else `problem_id:sha1(text)[:12]`, with `#k` appended for
    the k-th repeat of an identical sample, so ids are stable across reruns and reorderings and
    identical samples (common at low temperature) are still all labeled."""
    given = sample.metadata.get("sample_id", sample.metadata.get("id"))
    if isinstance(given, (str, int)) and not isinstance(given, bool):
        return str(given)
    base = f"{sample.problem_id}:{hashlib.sha1(sample.text.encode('utf-8')).hexdigest()[:12]}"
    k = seen[base]
    seen[base] += 1
    return base if k == 0 else f"{base}#{k}"


def iter_items(samples_path: str | Path, problems: Problems, *, domains: tuple[str, ...] = ("math", "code")
               ) -> Iterator[LabelItem | Reject]:
    seen: Counter = Counter()
    # a bad line comes back as its RecordError and becomes a Reject: every line is reported
    for lineno, obj in iter_jsonl(samples_path, errors="yield"):
        where = f"{samples_path}:{lineno}"
        if isinstance(obj, RecordError):
            yield Reject(where, _without_where(obj, where))
            continue
        try:
            sample = Sample.from_dict(obj, where=where)
        except RecordError as err:
            yield Reject(where, _without_where(err, where),
                         problem_id=str(obj.get("problem_id")) if "problem_id" in obj else None)
            continue
        pid = sample.problem_id
        problem = problems.usable.get(pid)
        if problem is None:
            reason = (f"problem {pid!r} cannot be labeled against: {problems.unusable[pid]}"
                      if pid in problems.unusable else f"unknown problem id {pid!r}")
            yield Reject(where, reason, pid)
            continue
        if problem.domain not in domains:
            yield Reject(where, f"domain {problem.domain!r} is not supported by this method", pid)
            continue
        steps = steps_for(sample, problem.domain)
        if not steps:
            yield Reject(where, "empty solution (no non-blank step)", pid)
            continue
        yield LabelItem(problem=problem, sample=sample, sample_id=sample_id_for(sample, seen), steps=steps,
                        where=where)


def _without_where(err: Exception, where: str) -> str:
    msg = str(err)
    return msg[len(where) + 2:] if msg.startswith(where + ": ") else msg


def count_lines(path: str | Path) -> int:
    """Non-blank lines, for the progress bar's total (one cheap streaming pass)."""
    n = 0
    with Path(path).open("rb") as fh:
        for line in fh:
            n += bool(line.strip())
    return n
