"""Score samples with a trained PRM / ORM (or an ensemble) and write the scores next to them.

  prm score --model prm-out --input labels.jsonl --out scored.jsonl
  prm score --model ens --ensemble min --input samples.jsonl --problems problems.jsonl --out scored.jsonl
  prm score --model prm-out --input labels.jsonl --out scored.jsonl --backend vllm

Input: stepwise records (`prompt` + `completions`) or samples (`problem_id` + `steps`, with
--problems to look up each question). Output: the input records, unchanged, plus `scores`
(PRM: P(correct) per step; ORM: a 1-element list) and `scored_by` (model dir, kind, backend).
Steps that fall outside the token window are written as null (JSON has no NaN). The separator and step tag come from the model's
config: nothing to set here.
"""

from __future__ import annotations

import math

from prm.commands.vocab import add_renamed
from prm.errors import RecordError


def add_arguments(p):
    p.add_argument("--model", required=True, action="append",
                   help="model dir from `prm train` (repeat, or give an ensemble dir, for an ensemble)")
    p.add_argument("--input", required=True, help="JSONL of stepwise records or samples")
    add_renamed(p, "--out", "--output", required=True, help="JSONL to write (overwritten atomically)")
    p.add_argument("--problems", default=None, help="problems JSONL, for sample records (question by problem_id)")
    p.add_argument("--backend", choices=["auto", "transformers", "vllm"], default="auto",
                   help="auto: vLLM on a CUDA GPU, else transformers")
    p.add_argument("--ensemble", choices=["min", "mean"], default="min", help="how to combine several models")
    p.add_argument("--batch-size", type=int, default=256, help="samples per scoring call")
    p.add_argument("--max-length", type=int, default=None, help="token window (default: the model's training length)")


def _items(args):
    """(record, question, steps) for each input line; a bad line raises naming file and line."""
    from prm.records import iter_jsonl, read_problems

    problems = read_problems(args.problems) if args.problems else None
    for lineno, obj in iter_jsonl(args.input):
        where = f"{args.input}:{lineno}"
        if "completions" in obj or "prompt" in obj:
            q, steps, qf, sf = obj.get("prompt"), obj.get("completions"), "prompt", "completions"
        else:
            sf, steps = "steps", obj.get("steps")
            if problems is None:
                raise RecordError("no 'prompt'/'completions': sample records need --problems", where=where)
            pid, qf = str(obj.get("problem_id")), "problem_id"
            q = problems[pid].question if pid in problems else None
            if q is None:
                raise RecordError(f"problem {pid!r} not in {args.problems}", where=where, field="problem_id")
        if not isinstance(q, str):
            raise RecordError("missing or not a string", where=where, field=qf)
        if not (isinstance(steps, list) and all(isinstance(s, str) for s in steps)):
            raise RecordError("must be a list of strings", where=where, field=sf)
        yield obj, q, steps


def run(args) -> int:
    from tqdm import tqdm

    from prm.records import write_jsonl_atomic
    from prm.scoring import load_scorer

    rows = list(_items(args))          # validate the whole file before loading any model
    kw = {"max_length": args.max_length} if args.max_length else {}
    scorer = load_scorer(args.model if len(args.model) > 1 else args.model[0], backend=args.backend,
                         ensemble=args.ensemble, **kw)
    info = {"model": args.model if len(args.model) > 1 else args.model[0], "kind": scorer.kind,
            "backend": getattr(scorer, "backend", None),
            "ensemble": args.ensemble if hasattr(scorer, "members") else None}
    out = []
    try:
        with tqdm(total=len(rows), desc="score", unit="sample") as bar:
            for i in range(0, len(rows), args.batch_size):
                chunk = rows[i:i + args.batch_size]
                for (obj, _, _), scores in zip(chunk, scorer.score_batch([(q, s) for _, q, s in chunk])):
                    out.append({**obj, "scores": [None if math.isnan(x) else x for x in scores], "scored_by": info})
                bar.update(len(chunk))
    finally:
        scorer.close()
    n = write_jsonl_atomic(args.out, out)
    print(f"scored {n} records -> {args.out}")
    return 0
