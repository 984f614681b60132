"""PRMBench (`modified_question`, `modified_process` = steps, `error_steps` = 1-BASED indices of
the steps that contain errors, `original_process`, `classification`, `reason`, `idx`) -> stepwise.

PRMBench labels every step: the listed error steps are False, all others True (unlike ProcessBench,
steps after an error are not assumed wrong). `process="original"` reads the unmodified solution
instead, every step True. `first_error` is the first error step (0-based), -1 if none.
"""

from __future__ import annotations

from prm.errors import RecordError
from prm.formats._common import first_error_of, need, str_list, text_id
from prm.records import StepwiseRecord

PROCESSES = ("modified", "original")


def from_row(row: dict, where: str, process: str = "modified") -> list[StepwiseRecord]:
    if process not in PROCESSES:
        raise ValueError(f"process must be one of {PROCESSES}, got {process!r}")
    qfield = "modified_question" if process == "modified" and row.get("modified_question") else \
        "original_question" if row.get("original_question") else "question"
    question = need(row, qfield, str, where)
    steps = str_list(row, f"{process}_process", where)
    errors: list[int] = []
    if process == "modified":
        raw = need(row, "error_steps", list, where)
        for e in raw:
            if isinstance(e, bool) or not isinstance(e, int) or not 1 <= e <= len(steps):
                raise RecordError(f"{e!r} is not a 1-based step number in 1..{len(steps)}", where=where,
                                  field="error_steps")
        errors = sorted({e - 1 for e in raw})
    labels = [i not in errors for i in range(len(steps))]
    sid = str(row["idx"]) if isinstance(row.get("idx"), (str, int)) else text_id(question, *steps)
    extra = {"problem_id": text_id(question), "sample_id": sid if process == "modified" else f"{sid}:original",
             "domain": "math", "first_error": first_error_of(labels), "judged": [True] * len(steps),
             "source_format": "prmbench", "process": process}
    for k in ("classification", "reason"):
        if need(row, k, str, where, optional=True) is not None:
            extra[k] = row[k]
    return [StepwiseRecord(prompt=question, completions=list(steps), labels=labels, extra=extra)]
