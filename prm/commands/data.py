"""Convert public benchmarks into the toolkit's records.

  prm data list
  prm data convert --dataset gsm8k --input gsm8k/test.jsonl --out problems.jsonl
  prm data convert --dataset humaneval --input HumanEval.jsonl.gz --out code_problems.jsonl
  prm data convert --dataset processbench --input processbench/omnimath.json --out pb.jsonl
  prm data convert --dataset math500 --hub --out math500.jsonl        # default hub copy (needs network)
  prm data convert --dataset gsm8k --hub openai/gsm8k --config main --split train --out train.jsonl

Problem datasets become Problem records (math: gold answer; code: unit tests); ProcessBench becomes
stepwise records with `first_error`. The output is written atomically: a bad row leaves no partial
file (unless --skip-bad, which skips and counts bad rows, exit 1 if any were skipped).
"""

from __future__ import annotations

import sys

from prm.commands.argtypes import positive_int
from prm.errors import UserError
from prm.loaders import DATASETS, load_records
from prm.records import ReadStats, write_jsonl_atomic


def dataset_table() -> str:
    rows = []
    for name, sp in DATASETS.items():
        hub = f"{sp.hub[0]}" + (f" ({sp.hub[1]})" if sp.hub[1] else "") + f" [{sp.hub[2]}]" if sp.hub else "-"
        rows.append(f"  {name:<14} {sp.domain:<5} {sp.kind:<9} {sp.about}\n  {'':<14} local file: {sp.local}; hub: {hub}")
    return "known datasets (name, domain, record kind):\n" + "\n".join(rows)


def add_arguments(p):
    p.epilog = dataset_table()
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="list the known datasets with their default files and hub names")
    c = sub.add_parser("convert", help="convert one dataset into problems.jsonl (or stepwise records)",
                       description=__doc__, epilog=dataset_table(),
                       formatter_class=p.formatter_class)
    c.add_argument("--dataset", required=True, choices=list(DATASETS), metavar="NAME",
                   help="which dataset the input holds: " + ", ".join(DATASETS))
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", help="local file: .jsonl, .jsonl.gz, .json or .parquet")
    src.add_argument("--hub", nargs="?", const="", metavar="NAME",
                     help="load through `datasets` from the hub (needs network); without NAME the dataset's default")
    c.add_argument("--config", default=None, help="hub dataset config (the dataset's own when omitted)")
    c.add_argument("--split", default=None,
                   help="hub split; for a local file only the tag used in problem ids (default: from the file name)")
    c.add_argument("--revision", default=None, help="hub revision (a commit hash pins the data)")
    c.add_argument("--limit", type=positive_int, default=None, help="keep the first N records")
    c.add_argument("--skip-bad", action="store_true", help="skip rows that do not convert, report them, exit 1")
    c.add_argument("--out", required=True, help="output JSONL (overwritten atomically)")


def run(args) -> int:
    if args.action == "list":
        print(dataset_table())
        return 0
    from prm.paths import check_paths

    check_paths(inputs={"--input": args.input}, outputs={"--out": args.out})
    stats = ReadStats()
    records = load_records(args.dataset, args.input, hub=args.hub or None, config=args.config, split=args.split,
                           revision=args.revision, limit=args.limit, skip_bad=args.skip_bad, stats=stats,
                           progress=True)
    n = write_jsonl_atomic(args.out, records)
    for msg in stats.errors:
        print(msg, file=sys.stderr)
    kind = DATASETS[args.dataset].kind
    msg = f"wrote {n} {kind} records ({args.dataset}) to {args.out}"
    if stats.skipped:
        msg += f"; skipped {stats.skipped} bad rows"
    print(msg)
    return 1 if stats.skipped else 0
