"""BiRM example responses (`idx`, `question`, `ground_truth`, `outputs` = [{`response` with a `ки`
tag after each step, `response_answer`, `label` (outcome), `step_labels`, `step_h_label`,
`step_s_label`}]) -> one stepwise record per output.

`labels` picks the per-step column: "step_h_label" (hard MC labels, the default), "step_s_label"
(soft MC values, floats) or "step_labels" (BiRM's third column; the files do not document how it
was made). `mc_values` always holds `step_s_label`; `outcome` holds the output's `label`. The tag
count must equal each label list's length, else the row is an error (labels would be misaligned).

Nothing is coerced: `step_h_label` items are true/false, `step_s_label` items numbers in [0, 1],
`step_labels` items true/false or "[invalid]" (BiRM's mark for a step it could not label, in the
released files where the answer could not be parsed: read as null, not judged), the outcome `label`
true/false or "[invalid]" (then no `outcome`). Anything else (the string "false", null, 0.4 where a
bool belongs, a soft label of 5.0) is an error naming the output and the column.
"""

from __future__ import annotations

from prm.errors import RecordError
from prm.formats._common import first_error_of, need, text_id
from prm.records import StepwiseRecord

TAG = "ки"
LABEL_FIELDS = ("step_h_label", "step_s_label", "step_labels")
INVALID = "[invalid]"  # BiRM's own "could not label" value (step_labels and the outcome label)


def _item(name: str, x):
    """One item of a label column as we keep it, or KeyError when the column does not allow it."""
    if name == "step_s_label":
        if isinstance(x, (int, float)) and not isinstance(x, bool) and 0.0 <= x <= 1.0:  # NaN fails too
            return float(x)
    elif isinstance(x, bool):
        return x
    elif name == "step_labels" and x == INVALID:
        return None
    raise KeyError(name)


_EXPECTED = {"step_h_label": "true or false", "step_s_label": "a number in [0, 1]",
             "step_labels": f"true, false or {INVALID!r}"}


def _column(o: dict, name: str, n: int, where: str, f: str) -> list:
    v = o.get(name)
    if not isinstance(v, list) or len(v) != n:
        raise RecordError(f"expected a list of {n} labels (one per tag), got "
                          f"{len(v) if isinstance(v, list) else type(v).__name__}", where=where, field=f"{f}.{name}")
    out = []
    for i, x in enumerate(v):
        try:
            out.append(_item(name, x))
        except KeyError:
            raise RecordError(f"item {i} is {x!r}, expected {_EXPECTED[name]}", where=where,
                              field=f"{f}.{name}") from None
    return out


def _optional(d: dict, name: str, allowed, where: str, field: str):
    """d[name] when it is one of `allowed` (types, or the value INVALID), None when absent or INVALID."""
    v = d.get(name)
    if v is None or v == INVALID and INVALID in allowed:
        return None
    if isinstance(v, tuple(t for t in allowed if isinstance(t, type))):
        return v
    raise RecordError(f"{v!r} is not {' or '.join(getattr(t, '__name__', repr(t)) for t in allowed)}",
                      where=where, field=field)


def from_row(row: dict, where: str, labels: str = "step_h_label", tag: str = TAG) -> list[StepwiseRecord]:
    if labels not in LABEL_FIELDS:
        raise ValueError(f"labels must be one of {LABEL_FIELDS}, got {labels!r}")
    question = need(row, "question", str, where, optional=True)  # the released files have both; some only `input`
    question = question if question is not None else need(row, "input", str, where)
    question = question.strip()
    outputs = need(row, "outputs", list, where)
    pid = str(row["idx"]) if isinstance(row.get("idx"), (str, int)) else text_id(question)
    gold = _optional(row, "ground_truth", (str,), where, "ground_truth")
    out = []
    for j, o in enumerate(outputs):
        f = f"outputs[{j}]"
        if not isinstance(o, dict):
            raise RecordError("expected an object", where=where, field=f)
        resp = need(o, "response", str, f"{where}: {f}")
        pieces = resp.split(tag)
        steps = [p.strip() for p in pieces[:-1]]
        if pieces[-1].strip():
            raise RecordError(f"text after the last {tag!r} tag has no label", where=where, field=f + ".response")
        cols = {name: _column(o, name, len(steps), where, f) for name in LABEL_FIELDS}
        chosen = cols[labels]
        extra = {"problem_id": pid, "sample_id": f"{pid}:{j}", "domain": "math", "first_error": first_error_of(chosen),
                 "mc_values": cols["step_s_label"], "judged": [v is not None for v in chosen],
                 "source_format": "birm", "label_field": labels}
        outcome = _optional(o, "label", (bool, INVALID), where, f + ".label")
        if outcome is not None:
            extra["outcome"] = outcome
        answer = _optional(o, "response_answer", (str,), where, f + ".response_answer")
        if answer is not None:
            extra["response_answer"] = answer
        if gold is not None:
            extra["answer"] = gold
        out.append(StepwiseRecord(prompt=question, completions=steps, labels=chosen, extra=extra))
    return out
