"""Math-Shepherd (`input` with a ` ки` tag after each step, `label` = the same text with each tag
replaced by `+` or `-`) <-> stepwise records.

Reading: the tags in `input` are matched one by one against `label` (the texts must agree
around each tag, so a shifted or truncated label is an error, not a silent misalignment). The
question is the text before the first "Step 1:" marker of the first piece, as in the released data;
a row without that marker is an error. Step texts are kept verbatim, stripped ("Step k: ..." marker
included), so writing them back gives the original `input` and `label` byte for byte.

Writing: `input = question + " " + " ки\\n".join(steps) + " ки"`. Bool labels map to +/-; a float
(MC value) is "+" when above `threshold` (0.0: any rollout correct, Math-Shepherd's hard label).
A step without a label cannot be written (the format has no "unknown"): an error naming the record.
"""

from __future__ import annotations

import re

from prm.errors import RecordError
from prm.formats._common import first_error_of, need, text_id
from prm.records import StepwiseRecord

TAG = "ки"
_STEP1 = re.compile(r"Step 1\s*:")


def from_row(row: dict, where: str, tag: str = TAG) -> list[StepwiseRecord]:
    text = need(row, "input", str, where)
    lab = need(row, "label", str, where)
    pieces = text.split(tag)
    if len(pieces) < 2:
        raise RecordError(f"no step tag {tag!r} in the text", where=where, field="input")
    signs, pos = [], 0
    for k, piece in enumerate(pieces):
        if lab[pos:pos + len(piece)] != piece:
            raise RecordError(f"text before tag {k + 1} does not match the input (labels would be misaligned)",
                              where=where, field="label")
        pos += len(piece)
        if k == len(pieces) - 1:
            break
        sign = lab[pos:pos + 1]
        if sign not in ("+", "-"):
            raise RecordError(f"expected '+' or '-' in place of tag {k + 1}, got {sign!r}", where=where, field="label")
        signs.append(sign == "+")
        pos += 1
    if pos != len(lab):
        raise RecordError("label is longer than the input", where=where, field="label")
    m = _STEP1.search(pieces[0])
    if m is None:
        raise RecordError("cannot find where the question ends (no 'Step 1:' marker)", where=where, field="input")
    question = pieces[0][:m.start()].strip()
    steps = [pieces[0][m.start():].strip()] + [p.strip() for p in pieces[1:-1]]
    tail = pieces[-1].strip()
    if tail:  # text after the last tag has no label: keep it visible, unlabeled
        steps.append(tail)
        signs.append(None)
    extra = {"problem_id": text_id(question), "sample_id": text_id(question, *steps), "domain": "math",
             "first_error": first_error_of(signs), "judged": [s is not None for s in signs],
             "source_format": "math-shepherd"}
    if isinstance(row.get("task"), str):
        extra["task"] = row["task"]
    return [StepwiseRecord(prompt=question, completions=steps, labels=signs, extra=extra)]


def to_row(rec: StepwiseRecord, tag: str = TAG, threshold: float = 0.0) -> dict:
    signs = []
    for i, v in enumerate(rec.labels):
        if v is None:
            raise RecordError(f"step {i} has no label; Math-Shepherd needs '+' or '-' for every step", field="labels")
        signs.append("+" if (v if isinstance(v, bool) else float(v) > threshold) else "-")
    for i, s in enumerate(rec.completions):
        if tag in s:
            raise RecordError(f"step {i} contains the step tag {tag!r}", field="completions")
    body_in = "".join(f"{s} {tag}\n" for s in rec.completions)[:-1]
    body_lab = "".join(f"{s} {g}\n" for s, g in zip(rec.completions, signs))[:-1]
    row = {"input": f"{rec.prompt} {body_in}", "label": f"{rec.prompt} {body_lab}"}
    if "task" in rec.extra:
        row["task"] = rec.extra["task"]
    return row
