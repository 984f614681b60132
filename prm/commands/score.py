"""Score samples with a trained PRM / ORM (or an ensemble) and write the scores next to them.

  prm score --model prm-out --input labels.jsonl --out scored.jsonl
  prm score --model ens --ensemble min --input samples.jsonl --problems problems.jsonl --out scored.jsonl
  prm score --model prm-out --input labels.jsonl --out scored.jsonl --backend vllm
  prm score --model Qwen2.5-Math-PRM-7B --input labels.jsonl --out scored.jsonl   # a published PRM

Input: stepwise records (`prompt` + `completions`) or samples (`problem_id` + `steps`, with
--problems to look up each question). Output: the input records, unchanged, plus `scores`
(PRM: P(correct) per step; ORM: a 1-element list) and `scored_by` (model dir, kind, backend, format).
Steps that fall outside the token window are written as null (JSON has no NaN). The separator and step tag come from the model's
config: nothing to set here. Published PRMs (Qwen2.5-Math-PRM, Math-Shepherd, RLHFlow, Skywork value
heads, TRL) are scored their own way, the format read from config.json (`--format` overrides it;
a TRL checkpoint needs `--sep`); see prm/scoring/formats.py and docs/real_models.md.

Resumable: output lines are appended batch by batch, in input order; rerun the same command after
a crash and it scores only the input lines not yet in --out. A rerun with another input, model
(path or config.json) or scoring setting is refused, naming what differs (fingerprint in
OUT.resume.json); --overwrite starts afresh. The whole input is validated before anything is written.
"""

from __future__ import annotations

import math
from pathlib import Path

from prm.commands.argtypes import positive_int
from prm.commands.scorer_flags import add_format_flags
from prm.commands.vocab import add_renamed
from prm.errors import RecordError, UserError


def add_arguments(p):
    p.add_argument("--model", required=True, action="append",
                   help="model dir from `prm train` (repeat, or give an ensemble dir, for an ensemble), or a `prm serve` URL")
    p.add_argument("--input", required=True, help="JSONL of stepwise records or samples")
    add_renamed(p, "--out", "--output", required=True, help="JSONL to write (appended to: resumable)")
    p.add_argument("--overwrite", action="store_true", help="start --out afresh instead of resuming it")
    p.add_argument("--problems", default=None, help="problems JSONL, for sample records (question by problem_id)")
    p.add_argument("--backend", choices=["auto", "transformers", "vllm"], default="auto",
                   help="auto: vLLM on a CUDA GPU, else transformers")
    p.add_argument("--ensemble", choices=["min", "mean"], default="min", help="how to combine several models")
    p.add_argument("--batch-size", type=positive_int, default=256, help="samples per scoring call")
    p.add_argument("--max-length", type=positive_int, default=None, help="token window (default: the model's training length)")
    add_format_flags(p)


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


def _fingerprint(args) -> dict:
    from prm import resume

    # a model directory is identified by its config.json (it carries the training settings and the
    # training-data hash): a cheap proxy for the weights, which may be gigabytes
    configs = {f"--model {m} (config.json)": Path(m) / "config.json" for m in args.model
               if (Path(m) / "config.json").is_file()}
    return resume.fingerprint("score", {"--input": args.input, "--problems": args.problems, **configs},
                              {"--model": args.model, "--backend": args.backend, "--ensemble": args.ensemble,
                               "--max-length": args.max_length,
                               # only when given: a resume record written before these flags still matches
                               **{k: v for k, v in (("--format", args.format), ("--sep", args.sep)) if v is not None}})


def run(args) -> int:
    from tqdm import tqdm

    from prm import resume
    from prm.paths import check_paths
    from prm.records import JsonlAppender, iter_jsonl
    from prm.scoring import load_scorer

    check_paths(inputs={"--input": args.input, "--problems": args.problems}, models={"--model": args.model},
                outputs={"--out": args.out, "--out (resume record)": resume.sidecar(args.out)}, lock=args.out)
    rows = list(_items(args))          # validate the whole file before loading any model or writing
    if not rows:
        raise UserError(f"{args.input}: no records to score")
    fp = _fingerprint(args)
    if args.overwrite:
        resume.discard(args.out)
    resume.begin(args.out, fp)
    # output line i is input line i's record: the lines already written are the rows already scored
    done = sum(1 for _ in iter_jsonl(args.out)) if Path(args.out).exists() else 0
    if done >= len(rows):
        print(f"scored {len(rows)} records -> {args.out} (all already there)")
        return 0
    kw = {"max_length": args.max_length} if args.max_length else {}
    scorer = load_scorer(args.model if len(args.model) > 1 else args.model[0], backend=args.backend,
                         ensemble=args.ensemble, format=args.format, sep=args.sep, **kw)
    info = {"model": args.model if len(args.model) > 1 else args.model[0], "kind": scorer.kind,
            "backend": getattr(scorer, "backend", None), "format": getattr(scorer, "format", None),
            "ensemble": args.ensemble if hasattr(scorer, "members") else None}
    try:
        with JsonlAppender(args.out) as sink, tqdm(total=len(rows), initial=done, desc="score", unit="sample") as bar:
            for i in range(done, len(rows), args.batch_size):
                chunk = rows[i:i + args.batch_size]
                scored = [{**obj, "scores": [None if math.isnan(x) else x for x in scores], "scored_by": info}
                          for (obj, _, _), scores in zip(chunk, scorer.score_batch([(q, s) for _, q, s in chunk]))]
                for row in scored:  # written once the whole batch is scored: a crash redoes the batch
                    sink.write(row)
                bar.update(len(chunk))
    finally:
        scorer.close()
    print(f"scored {len(rows) - done} records -> {args.out}" + (f" ({done} already there)" if done else ""))
    return 0
