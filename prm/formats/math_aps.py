"""Math-APS / OmegaPRM (`question`, `final_answer`, `reasoning_steps` = [{`solution_prefix`,
`mc_value`}, ...]) -> stepwise records.

OmegaPRM stores the nodes of its search tree: each `solution_prefix` is the question plus a partial
solution, and `mc_value` the share of rollouts from it that reached the right answer. The prefixes
nest (a child prefix starts with its parent's text), so we rebuild the tree: a prefix's parent is
the longest other prefix it starts with (the question itself at the root). Each leaf gives one
record whose steps are the text added at each level (stripped) and whose labels are the nodes'
MC values; ancestors shared by several leaves therefore appear in several records.

`label`: "soft" (the float MC values, the default) or "hard" (MC value > 0). `mc_values` always
holds the floats. The question node's own value is kept as `question_mc_value`. A prefix repeated
verbatim is kept once (its first value).
"""

from __future__ import annotations

from prm.errors import RecordError
from prm.formats._common import first_error_of, need, text_id
from prm.records import StepwiseRecord

LABELS = ("soft", "hard")


def from_row(row: dict, where: str, label: str = "soft") -> list[StepwiseRecord]:
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    question = need(row, "question", str, where)
    nodes = need(row, "reasoning_steps", list, where)
    final = need(row, "final_answer", str, where, optional=True)
    values: dict[str, float] = {}
    for k, n in enumerate(nodes):
        f = f"reasoning_steps[{k}]"
        if not isinstance(n, dict) or not isinstance(n.get("solution_prefix"), str):
            raise RecordError("expected {solution_prefix: str, mc_value: number}", where=where, field=f)
        v = n.get("mc_value")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
            raise RecordError(f"mc_value {v!r} is not a number in [0, 1]", where=where, field=f + ".mc_value")
        values.setdefault(n["solution_prefix"], float(v))
    root_value = values.pop(question, None)
    prefixes = sorted(values, key=len)
    parent: dict[str, str | None] = {}
    for i, p in enumerate(prefixes):
        # the longest shorter prefix it extends; sorted by length, so scan backwards
        parent[p] = next((q for q in reversed(prefixes[:i]) if len(q) < len(p) and p.startswith(q)), None)
    has_child = {q for q in parent.values() if q is not None}
    out = []
    qid = str(row["question_id"]) if isinstance(row.get("question_id"), (str, int)) else text_id(question)
    for leaf_no, leaf in enumerate(p for p in prefixes if p not in has_child):
        chain = [leaf]
        while parent[chain[-1]] is not None:
            chain.append(parent[chain[-1]])
        chain.reverse()
        steps, mcs = [], []
        prev = question if chain[0].startswith(question) else ""
        for node in chain:
            piece = node[len(prev):].strip()
            prev = node
            if not piece:  # only whitespace added: the same step, keep the deeper value
                if mcs:
                    mcs[-1] = values[node]
                continue
            steps.append(piece)
            mcs.append(values[node])
        if not steps:
            continue
        labels = [v > 0 for v in mcs] if label == "hard" else list(mcs)
        extra = {"problem_id": qid, "sample_id": f"{qid}:{text_id(leaf)}", "domain": "math",
                 "first_error": first_error_of([v > 0 for v in mcs]), "mc_values": mcs,
                 "judged": [True] * len(steps), "source_format": "math-aps", "question_mc_value": root_value}
        if final is not None:
            extra["answer"] = final
        out.append(StepwiseRecord(prompt=question, completions=steps, labels=labels, extra=extra))
    return out
