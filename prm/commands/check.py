"""Validate a JSONL file against the data contract.

  prm check data/math_tasks.jsonl --kind problem
  prm check labels.jsonl --kind stepwise --skip-bad

Every bad line is reported as FILE:LINE: field 'NAME': what is wrong. Exit 0 when every line is
valid, 1 when some were skipped with --skip-bad, 2 on the first error without it.
"""

from __future__ import annotations

import sys
from collections import Counter

from prm.records import KINDS, ReadStats, iter_records


def add_arguments(p):
    p.add_argument("file", help="JSONL file to check")
    p.add_argument("--kind", choices=sorted(KINDS), default="stepwise", help="record kind the file should hold")
    p.add_argument("--skip-bad", action="store_true", help="report and count bad lines instead of stopping at the first")


def run(args) -> int:
    stats = ReadStats()
    labels = Counter()
    n = 0
    for rec in iter_records(args.file, args.kind, skip_bad=args.skip_bad, stats=stats):
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
