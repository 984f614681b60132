"""BiRM example responses (`idx`, `question`, `ground_truth`, `outputs` = [{`response` with a `ки`
tag after each step, `response_answer`, `label` (outcome), `step_labels`, `step_h_label`,
`step_s_label`}]) -> one stepwise record per output.

`labels` picks the per-step column: "step_h_label" (hard MC labels, the default), "step_s_label"
(soft MC values, floats) or "step_labels" (BiRM's third column; the files do not document how it
was made). `mc_values` always holds `step_s_label`; `outcome` holds the output's `label`. The tag
count must equal each label list's length, else the row is an error (labels would be misaligned).
"""

from __future__ import annotations

from prm.errors import RecordError
from prm.formats._common import first_error_of, need, text_id
from prm.records import StepwiseRecord

TAG = "ки"
LABEL_FIELDS = ("step_h_label", "step_s_label", "step_labels")


def from_row(row: dict, where: str, labels: str = "step_h_label", tag: str = TAG) -> list[StepwiseRecord]:
    if labels not in LABEL_FIELDS:
        raise ValueError(f"labels must be one of {LABEL_FIELDS}, got {labels!r}")
    question = row.get("question") if isinstance(row.get("question"), str) else need(row, "input", str, where)
    question = question.strip()
    outputs = need(row, "outputs", list, where)
    pid = str(row["idx"]) if isinstance(row.get("idx"), (str, int)) else text_id(question)
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
        cols = {}
        for name in LABEL_FIELDS:
            v = o.get(name)
            if not isinstance(v, list) or len(v) != len(steps):
                raise RecordError(f"expected a list of {len(steps)} labels (one per tag), got "
                                  f"{len(v) if isinstance(v, list) else type(v).__name__}", where=where,
                                  field=f"{f}.{name}")
            cols[name] = v
        try:
            soft = [float(x) for x in cols["step_s_label"]]
        except (TypeError, ValueError):
            raise RecordError("expected numbers", where=where, field=f + ".step_s_label") from None
        chosen = soft if labels == "step_s_label" else [bool(x) for x in cols[labels]]
        hard = [x > 0 for x in soft] if labels == "step_s_label" else chosen
        extra = {"problem_id": pid, "sample_id": f"{pid}:{j}", "domain": "math", "first_error": first_error_of(hard),
                 "mc_values": soft, "judged": [True] * len(steps), "source_format": "birm", "label_field": labels}
        if isinstance(o.get("label"), bool):
            extra["outcome"] = o["label"]
        for k, src in (("answer", "ground_truth"),):
            if isinstance(row.get(src), str):
                extra[k] = row[src]
        if isinstance(o.get("response_answer"), str):
            extra["response_answer"] = o["response_answer"]
        out.append(StepwiseRecord(prompt=question, completions=steps, labels=chosen, extra=extra))
    return out
