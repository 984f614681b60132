"""Validate a JSONL file against the data contract.

  prm check data/math_tasks.jsonl --kind problem
  prm check labels.jsonl --kind stepwise --skip-bad

Every bad line is reported as FILE:LINE: field 'NAME': what is wrong. Exit 0 when every line is
valid, 1 when some were skipped with --skip-bad, 2 on the first error without it. Checked as the
commands that read the file check it: NaN and Infinity are not JSON, problem ids are unique (a
repeated id is refused by `prm sample` and `prm label`), lines are UTF-8.
"""

from __future__ import annotations

import sys
from collections import Counter

from prm.records import KINDS, ReadStats, RecordError, convert_rows, iter_jsonl


def add_arguments(p):
    p.add_argument("file", help="JSONL file to check")
    p.add_argument("--kind", choices=sorted(KINDS), default="stepwise", help="record kind the file should hold")
    p.add_argument("--skip-bad", action="store_true", help="report and count bad lines instead of stopping at the first")


def run(args) -> int:
    stats = ReadStats()
    labels = Counter()
    n = 0
    first: dict[str, str] = {}

    def convert(where: str, obj: dict):
        rec = KINDS[args.kind].from_dict(obj, where=where)
        if args.kind == "problem":
            if rec.id in first:
                raise RecordError(f"duplicate problem id {rec.id!r} (first at {first[rec.id]})", where=where, field="id")
            first[rec.id] = where
        return rec

    rows = ((f"{args.file}:{lineno}", obj) for lineno, obj in iter_jsonl(args.file, errors="yield"))
    for rec in convert_rows(rows, convert, skip_bad=args.skip_bad, stats=stats):
        n += 1
        if args.kind == "stepwise":
            labels.update("none" if v is None else "float" if isinstance(v, float) else str(v) for v in rec.labels)
    for msg in stats.errors:
        print(msg, file=sys.stderr)
    summary = f"{args.file}: {n} valid {args.kind} records"
    if stats.skipped:
        summary += f", {stats.skipped} bad lines skipped"
    if labels:
        summary += " | step labels: " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    print(summary)
    return 1 if stats.skipped else 0
