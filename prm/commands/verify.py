"""Check math answers: one pair from the command line, or a JSONL file of pairs.

  prm verify --gold '\\frac{1}{2}' --pred 0.5
  prm verify --gold 36 --response 'so 3 * 12 = 36 pens. The answer is 36.'
  prm verify --file answers.jsonl                      # lines {"gold": ..., "pred": ...}
  prm verify --file rollouts.jsonl --out graded.jsonl  # lines {"response": ..., "gold": ...}

Both go through `verifiers.math.grade`, the toolkit's one grading path: a line holding `response`
has its final answer read first (boxed, `####`, "The answer is", else the last number unless
--no-fallback); a `pred` is a bare answer, read whole. A gold that is a worked solution is read the
same way as a response.
Verdicts are True (equivalent), False, or None (can't tell: timeout, unparseable gold), each with a
reason. The summary counts all three; accuracy counts None as not correct.

Exit status: for a single pair, 0 when equivalent and 1 otherwise; for --file, 0 once every line
was graded (bad lines are errors naming file, line and field: exit 2).

Not resumable: --out is written once, atomically, after every line is graded, so a crash or Ctrl-C
loses the run (never the old --out); rerun it. Grading is cheap next to sampling or labeling.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter

from prm.commands.argtypes import positive_float
from prm.commands.vocab import add_renamed
from prm.errors import RecordError, UserError


def add_arguments(p):
    one = p.add_argument_group("one pair")
    one.add_argument("--gold", help="reference answer (LaTeX or plain)")
    one.add_argument("--pred", help="predicted answer, compared as is")
    one.add_argument("--response", help="a full model response; its final answer is extracted first")
    many = p.add_argument_group("a file of pairs")
    many.add_argument("--file", help="JSONL; each line has `gold` and either `pred` or `response`")
    many.add_argument("--gold-field", default="gold", help="field holding the reference answer")
    many.add_argument("--pred-field", default="pred", help="field holding a predicted answer")
    many.add_argument("--response-field", default="response", help="field holding a full response")
    add_renamed(many, "--out", "--output", help="write each line back with `verdict` and `reason` added (JSONL; "
                "written at the end, not resumable)")
    many.add_argument("--show", choices=["all", "wrong", "none"], default="wrong",
                      help="which per-line verdicts to print (False and None count as 'wrong')")
    opts = p.add_argument_group("grading")
    opts.add_argument("--timeout", type=positive_float, default=1.0, help="seconds of sympy work per comparison")
    opts.add_argument("--no-fallback", action="store_true",
                      help="a response without a marked answer is wrong (no last-number fallback)")


def run(args) -> int:
    if args.file:
        from prm.paths import check_paths

        check_paths(inputs={"--file": args.file}, outputs={"--out": args.out})
        if args.gold is not None or args.pred is not None or args.response is not None:
            raise UserError("use either --file or --gold with --pred/--response, not both")
        return _run_file(args)
    if args.gold is None or (args.pred is None) == (args.response is None):
        raise UserError("give --gold and exactly one of --pred / --response (or --file F.jsonl); see --help")
    verdict, pred = _grade(args.gold, args.pred, args.response, args)
    print(f"{_label(verdict.correct)}\t{verdict.reason}" + (f"\t(extracted: {pred!r})" if args.response else ""))
    return 0 if verdict.correct is True else 1


def _grade(gold, pred, response, args):
    # One grading path: `grade`, as every labeler and reward does (multi-box answers, a worked-
    # solution gold, sentence reading). A bare `pred` goes through it too: a short answer is read
    # whole, so `3, 4` stays two answers; --no-fallback applies to responses only.
    from verifiers.math import grade

    if response is not None:
        v = grade(response, gold, timeout=args.timeout, last_number_fallback=not args.no_fallback)
    else:
        v = grade(pred, gold, timeout=args.timeout)
    return v, v.answer


def _label(correct) -> str:
    return {True: "correct", False: "wrong", None: "unknown"}[correct]


def _run_file(args) -> int:
    from tqdm import tqdm

    from prm.records import iter_jsonl, write_jsonl_atomic

    counts: Counter = Counter()
    rows = []
    start = time.perf_counter()
    for lineno, obj in tqdm(iter_jsonl(args.file), desc="verify", unit="pair", file=sys.stderr):
        where = f"{args.file}:{lineno}"
        gold = obj.get(args.gold_field)
        if not isinstance(gold, (str, int, float)) or isinstance(gold, bool):
            raise RecordError("missing, or not a string or number", where=where, field=args.gold_field)
        pred, response = obj.get(args.pred_field), obj.get(args.response_field)
        if pred is None and response is None:
            raise RecordError(f"needs `{args.pred_field}` or `{args.response_field}`", where=where)
        for name, value in ((args.pred_field, pred), (args.response_field, response)):
            if value is not None and not isinstance(value, (str, int, float)):
                raise RecordError(f"not a string (got {type(value).__name__})", where=where, field=name)
        verdict, extracted = _grade(str(gold), None if pred is None else str(pred),
                                    None if pred is not None or response is None else str(response), args)
        counts[verdict.correct] += 1
        if args.show == "all" or (args.show == "wrong" and verdict.correct is not True):
            tqdm.write(f"line {lineno}: {_label(verdict.correct)}\t{verdict.reason}", file=sys.stdout)
        if args.out:
            rows.append({**obj, "verdict": verdict.correct, "reason": verdict.reason,
                         **({"extracted": extracted} if pred is None else {})})
    total = sum(counts.values())
    if total == 0:
        raise UserError(f"{args.file}: no records")
    elapsed = time.perf_counter() - start
    if args.out:
        write_jsonl_atomic(args.out, rows)
    print(json.dumps({"pairs": total, "correct": counts[True], "wrong": counts[False], "unknown": counts[None],
                      "accuracy": round(counts[True] / total, 4), "seconds": round(elapsed, 2),
                      **({"output": args.out} if args.out else {})}))
    return 0
