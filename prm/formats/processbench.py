"""ProcessBench (`id`, `generator`, `problem`, `steps`, `final_answer_correct`, `label` = index of
the first wrong step, -1 if none) <-> stepwise records.

Reading: steps before `label` are True, step `label` is False, later steps follow `after_error`:
"unlabeled" (None, the default: ProcessBench annotates only the first error) or "incorrect" (False).
Writing: `label` is the first error, the one thing the format holds about the steps: the record's
`first_error` column when present (an int in -1..steps-1 that the labels do not contradict), else
computed from the labels (an unlabeled step before any incorrect one makes it unknown: an error
naming the record). Labels after the first error and soft values are not held: `held` says what a
written record reads back as, and `prm.formats.write_format` checks each written row against it.
"""

from __future__ import annotations

from dataclasses import replace

from prm.errors import RecordError
from prm.first_error import AFTER_ERROR, first_error_of, labels_from_first_error
from prm.formats._common import need, str_list, text_id
from prm.records import StepwiseRecord, label_value


def from_row(row: dict, where: str, after_error: str = "unlabeled") -> list[StepwiseRecord]:
    if after_error not in AFTER_ERROR:
        raise ValueError(f"after_error must be one of {AFTER_ERROR}, got {after_error!r}")
    problem = need(row, "problem", str, where)
    steps = str_list(row, "steps", where)
    fe = need(row, "label", int, where)
    if not -1 <= fe < len(steps):
        raise RecordError(f"expected -1 or a step index below {len(steps)}, got {fe}", where=where, field="label")
    labels = labels_from_first_error(len(steps), fe, after_error)
    pid = str(row["id"]) if isinstance(row.get("id"), (str, int)) else text_id(problem)
    extra = {"problem_id": pid, "sample_id": pid, "domain": "math", "first_error": fe,
             "judged": [v is not None for v in labels], "source_format": "processbench"}
    for k, types in (("generator", str), ("final_answer_correct", bool)):
        if need(row, k, types, where, optional=True) is not None:
            extra[k] = row[k]
    return [StepwiseRecord(prompt=problem, completions=list(steps), labels=labels, extra=extra)]


def first_error_column(rec: StepwiseRecord) -> int:
    """The first error to write: the `first_error` column, checked against the labels, or the labels'."""
    for i, v in enumerate(rec.labels):
        label_value(v, i, "")  # a label the data contract refuses is refused here too
    from_labels = first_error_of(rec.labels)
    fe = rec.extra.get("first_error")
    if fe is None:
        if from_labels is None:
            raise RecordError("the first error is unknown (an unlabeled step comes before any incorrect one)",
                              field="labels")
        return from_labels
    if isinstance(fe, bool) or not isinstance(fe, int) or not -1 <= fe < len(rec.completions):
        raise RecordError(f"{fe!r} is not -1 or a step index below {len(rec.completions)}", field="first_error")
    if from_labels is not None and from_labels != fe:
        raise RecordError(f"is {fe} but the labels' first error is {from_labels}", field="first_error")
    return fe


def held(rec: StepwiseRecord) -> StepwiseRecord:
    """What `to_row(rec)` reads back as (default reader options): labels rebuilt from the first error."""
    return replace(rec, labels=labels_from_first_error(len(rec.completions), first_error_column(rec), "unlabeled"))


def to_row(rec: StepwiseRecord) -> dict:
    fe = first_error_column(rec)
    rid = rec.extra.get("sample_id") or rec.extra.get("problem_id") or text_id(rec.prompt, *rec.completions)
    row = {"id": str(rid), "problem": rec.prompt, "steps": list(rec.completions), "label": fe}
    for k in ("generator", "final_answer_correct"):
        if k in rec.extra:
            row[k] = rec.extra[k]
    return row
