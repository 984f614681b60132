"""Math-Shepherd (`input` with a ` ки` tag after each step, `label` = the same text with each tag
replaced by `+` or `-`) <-> stepwise records.

Reading: the tags in `input` are matched one by one against `label` (the texts must agree
around each tag, so a shifted or truncated label is an error, not a silent misalignment). The
question is the text before the first "Step 1:" marker of the first piece, as in the released data;
a row without that marker is an error. Step texts are kept verbatim, stripped ("Step k: ..." marker
included), so writing them back gives the original `input` and `label` byte for byte.

Writing: `input = question + " " + " ки\\n".join(steps) + " ки"`. The format has only `+` and `-`:
bool labels map to them; a float (MC value) is refused unless a `threshold` is given (then "+" when
above it; 0.0 is Math-Shepherd's own hard label, any rollout correct), and an unlabeled step is
refused. The first step must start with "Step 1:" (where a reader finds the question's end) and the
question must not contain that marker nor the tag; `step_markers=True` prefixes "Step k: " to every
step instead of refusing. `held` is what a written record reads back as (`prm.formats.write_format`
checks every written row against it).
"""

from __future__ import annotations

import re
from dataclasses import replace

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
    if need(row, "task", str, where, optional=True) is not None:
        extra["task"] = row["task"]
    return [StepwiseRecord(prompt=question, completions=steps, labels=signs, extra=extra)]


def layout(rec: StepwiseRecord, tag: str, step_markers: bool) -> list[str]:
    """The steps as written (with "Step k: " markers when asked), after checking that a reader can
    find the question's end and every step's tag again (Math-Shepherd's and OpenRLHF's layout)."""
    steps = [f"Step {k + 1}: {s}" for k, s in enumerate(rec.completions)] if step_markers else list(rec.completions)
    if tag in rec.prompt:
        raise RecordError(f"contains the step tag {tag!r}", field="prompt")
    if _STEP1.search(rec.prompt):
        raise RecordError("contains a 'Step 1:' marker, where a reader would cut the question", field="prompt")
    for i, s in enumerate(steps):
        if tag in s:
            raise RecordError(f"step {i} contains the step tag {tag!r}", field="completions")
    if not steps:
        raise RecordError("no steps: the format needs at least one tagged step", field="completions")
    if not _STEP1.match(steps[0]):
        raise RecordError(f"step 0 {steps[0][:30]!r} does not start with 'Step 1:', where a reader finds the "
                          "question's end (pass --step-markers to add 'Step k: ' to every step)", field="completions")
    return steps


def signs(labels, threshold: float | None) -> list[bool]:
    """Each label as + (True) or - (False); see the module docstring for what is refused."""
    out = []
    for i, v in enumerate(labels):
        if isinstance(v, bool):
            out.append(v)
        elif isinstance(v, float) and threshold is not None and 0.0 <= v <= 1.0:
            out.append(v > threshold)
        elif isinstance(v, float) and 0.0 <= v <= 1.0:
            raise RecordError(f"step {i} has the soft label {v!r}; Math-Shepherd holds '+' or '-' only: pass "
                              "--threshold T to write labels above T as '+'", field="labels")
        elif v is None:
            raise RecordError(f"step {i} has no label; Math-Shepherd needs '+' or '-' for every step", field="labels")
        else:
            raise RecordError(f"step {i}: {v!r} is not a label (true, false or a number in [0, 1])", field="labels")
    return out


def held(rec: StepwiseRecord, tag: str = TAG, threshold: float | None = None,
         step_markers: bool = False) -> StepwiseRecord:
    """What `to_row(rec)` reads back as: the written steps and the +/- labels."""
    return replace(rec, completions=layout(rec, tag, step_markers), labels=signs(rec.labels, threshold))


def to_row(rec: StepwiseRecord, tag: str = TAG, threshold: float | None = None, step_markers: bool = False) -> dict:
    steps, marks = layout(rec, tag, step_markers), signs(rec.labels, threshold)
    body_in = "".join(f"{s} {tag}\n" for s in steps)[:-1]
    body_lab = "".join(f"{s} {'+' if g else '-'}\n" for s, g in zip(steps, marks))[:-1]
    row = {"input": f"{rec.prompt} {body_in}", "label": f"{rec.prompt} {body_lab}"}
    if "task" in rec.extra:
        row["task"] = rec.extra["task"]
    return row
