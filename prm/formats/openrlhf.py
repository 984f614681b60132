"""OpenRLHF's PRM dataset (`input` with a ` ки` placeholder after each step, `value` = one label per
placeholder: "+" / "-", or a float for soft labels) <-> stepwise records.

The text layout is Math-Shepherd's (question, then "Step 1: ..." steps each followed by the tag), so
the question is split off the same way (math_shepherd.py), and written records follow the same
rules (`math_shepherd.layout`: the first step starts with "Step 1:", or `step_markers=True` adds the
markers). Unlike Math-Shepherd, floats survive a round trip: soft labels are written as floats, not
thresholded; an unlabeled step, or a value that is neither a bool nor a float in [0, 1], is refused.
"""

from __future__ import annotations

from dataclasses import replace

from prm.errors import RecordError
from prm.formats._common import first_error_of, need, text_id
from prm.formats.math_shepherd import _STEP1, TAG, layout
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


def values(labels) -> list:
    """The `value` list: "+" / "-" for bool labels, the float itself for a soft one."""
    out = []
    for i, v in enumerate(labels):
        if isinstance(v, bool):
            out.append("+" if v else "-")
        elif isinstance(v, float) and 0.0 <= v <= 1.0:
            out.append(v)
        elif v is None:
            raise RecordError(f"step {i} has no label; OpenRLHF needs a value for every step", field="labels")
        else:
            raise RecordError(f"step {i}: {v!r} is not a label (true, false or a number in [0, 1])", field="labels")
    return out


def held(rec: StepwiseRecord, tag: str = TAG, step_markers: bool = False) -> StepwiseRecord:
    """What `to_row(rec)` reads back as: the written steps, the labels unchanged."""
    values(rec.labels)
    return replace(rec, completions=layout(rec, tag, step_markers))


def to_row(rec: StepwiseRecord, tag: str = TAG, step_markers: bool = False) -> dict:
    steps, vals = layout(rec, tag, step_markers), values(rec.labels)
    body = "".join(f"{s} {tag}\n" for s in steps)[:-1]
    return {"input": f"{rec.prompt} {body}", "value": vals}
