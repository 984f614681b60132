"""PRM800K raw labels (openai/prm800k `data/phase{1,2}_*.jsonl`) -> stepwise records.

One line is one labeled trajectory: `label.steps[k]` offers `completions` (each with a `rating`:
1 good, 0 neutral, -1 bad), the one the labeler continued with (`chosen_completion`), or a
`human_completion` they wrote instead. We follow the trajectory the labeler walked:

- `chosen_completion` set: that completion and its rating;
- else `human_completion` set: its text; a human-written step has no rating of its own and is
  taken as correct (the labeler wrote it to replace rejected steps);
- else the trajectory ended at this step (finish_reason found_error / give_up): the first
  completion rated -1 (the error that ended it) is the last step, else the first completion.

Ratings -> labels: 1 -> True, -1 -> False, 0 -> `neutral`: "negative" (False, the default, as
TRL's PRM800K conversion does), "positive" (True, as Qwen's PRMs do) or "unlabeled" (None, no loss).
A missing rating is None. Alternatives the labeler rated but did not continue with are not emitted.
Nothing is coerced: a rating is the integer -1, 0 or 1 (1.0 and true are errors), a chosen index an
integer, a human completion an object with a text; anything else is an error naming the step.
"""

from __future__ import annotations

from prm.errors import RecordError
from prm.formats._common import first_error_of, need, text_id
from prm.records import StepwiseRecord

NEUTRAL = ("negative", "positive", "unlabeled")


def _label(rating, neutral: str):
    if rating is None:
        return None
    if rating == 1:
        return True
    if rating == -1:
        return False
    if rating == 0:
        return {"negative": False, "positive": True, "unlabeled": None}[neutral]
    raise ValueError(rating)


def from_row(row: dict, where: str, neutral: str = "negative") -> list[StepwiseRecord]:
    if neutral not in NEUTRAL:
        raise ValueError(f"neutral must be one of {NEUTRAL}, got {neutral!r}")
    q = need(row, "question", dict, where)
    problem = need(q, "problem", str, where)
    label = need(row, "label", dict, where)
    steps_in = need(label, "steps", list, where)
    texts, labels = [], []
    for k, st in enumerate(steps_in):
        f = f"label.steps[{k}]"
        if not isinstance(st, dict):
            raise RecordError("expected an object", where=where, field=f)
        comps = st.get("completions") or []
        if not isinstance(comps, list) or not all(isinstance(c, dict) and isinstance(c.get("text"), str)
                                                  for c in comps):
            raise RecordError("expected a list of {text, rating}", where=where, field=f + ".completions")
        chosen, human = st.get("chosen_completion"), st.get("human_completion")
        # a chosen index or human step of another type must not read as "the trajectory ended here"
        if chosen is not None and (isinstance(chosen, bool) or not isinstance(chosen, int)):
            raise RecordError(f"{chosen!r} is not a completion index or null", where=where,
                              field=f + ".chosen_completion")
        if human is not None and not (isinstance(human, dict) and isinstance(human.get("text"), str)):
            raise RecordError("expected null or {text: str, ...}", where=where, field=f + ".human_completion")
        if chosen is not None:
            if not 0 <= chosen < len(comps):
                raise RecordError(f"index {chosen} out of range ({len(comps)} completions)", where=where,
                                  field=f + ".chosen_completion")
            c, end = comps[chosen], False
        elif human is not None:
            rating = human.get("rating")
            c, end = {"text": human["text"], "rating": 1 if rating is None else rating}, False
        elif comps:
            c, end = next((c for c in comps if c.get("rating") == -1), comps[0]), True
        else:
            break
        rating = c.get("rating")
        if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int) or rating not in (-1, 0, 1)):
            raise RecordError(f"rating {rating!r} is not -1, 0, 1 or null", where=where, field=f)
        texts.append(c["text"])
        labels.append(_label(rating, neutral))
        if end:
            break
    if not texts:
        raise RecordError("no steps in the trajectory", where=where, field="label.steps")
    extra = {"problem_id": text_id(problem), "sample_id": text_id(problem, *texts), "domain": "math",
             "first_error": first_error_of(labels), "judged": [v is not None for v in labels],
             "source_format": "prm800k", "neutral": neutral}
    if need(q, "ground_truth_answer", str, where, optional=True) is not None:
        extra["answer"] = q["ground_truth_answer"]
    for k in ("finish_reason", "total_time"):
        if label.get(k) is not None:
            extra[k] = label[k]
    for k in ("labeler", "generation", "timestamp"):
        if row.get(k) is not None:
            extra[k] = row[k]
    return [StepwiseRecord(prompt=problem, completions=texts, labels=labels, extra=extra)]
