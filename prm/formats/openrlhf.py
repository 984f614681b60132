"""OpenRLHF's PRM dataset (`input` with a ` ки` placeholder after each step, `value` = one label per
placeholder: "+" / "-", or a float for soft labels) <-> stepwise records.

The text layout is Math-Shepherd's (question, then "Step 1: ..." steps each followed by the tag), so
the question is split off the same way (math_shepherd.py). Unlike Math-Shepherd, floats survive a
round trip: soft labels are written as floats, not thresholded.
"""

from __future__ import annotations

from prm.errors import RecordError
from prm.formats._common import first_error_of, need, text_id
from prm.formats.math_shepherd import TAG, _STEP1
from prm.records import StepwiseRecord


def from_row(row: dict, where: str, tag: str = TAG) -> list[StepwiseRecord]:
    text = need(row, "input", str, where)
    values = need(row, "value", list, where)
    pieces = text.split(tag)
    if len(pieces) - 1 != len(values):
        raise RecordError(f"{len(values)} values for {len(pieces) - 1} step tags", where=where, field="value")
    labels = []
    for i, v in enumerate(values):
        if v in ("+", "-"):
            labels.append(v == "+")
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0:
            labels.append(float(v))
        else:
            raise RecordError(f"item {i} is {v!r}, expected '+', '-' or a number in [0, 1]", where=where,
                              field="value")
    if pieces[-1].strip():
        raise RecordError("text after the last step tag has no label", where=where, field="input")
    m = _STEP1.search(pieces[0])
    if m is None:
        raise RecordError("cannot find where the question ends (no 'Step 1:' marker)", where=where, field="input")
    question = pieces[0][:m.start()].strip()
    steps = [pieces[0][m.start():].strip()] + [p.strip() for p in pieces[1:-1]]
    extra = {"problem_id": text_id(question), "sample_id": text_id(question, *steps), "domain": "math",
             "first_error": first_error_of(labels), "judged": [True] * len(steps), "source_format": "openrlhf"}
    return [StepwiseRecord(prompt=question, completions=steps, labels=labels, extra=extra)]


def to_row(rec: StepwiseRecord, tag: str = TAG) -> dict:
    values = []
    for i, v in enumerate(rec.labels):
        if v is None:
            raise RecordError(f"step {i} has no label; OpenRLHF needs a value for every step", field="labels")
        values.append(("+" if v else "-") if isinstance(v, bool) else float(v))
    for i, s in enumerate(rec.completions):
        if tag in s:
            raise RecordError(f"step {i} contains the step tag {tag!r}", field="completions")
    body = "".join(f"{s} {tag}\n" for s in rec.completions)[:-1]
    return {"input": f"{rec.prompt} {body}", "value": values}
