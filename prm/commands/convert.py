"""Convert step-labeled data between formats (through our stepwise records).

  prm convert --from prm800k --to stepwise --input phase2_train.jsonl --out prm800k.jsonl --neutral positive
  prm convert --from math-shepherd --to stepwise --input math-shepherd.jsonl --out ms.jsonl
  prm convert --from stepwise --to math-shepherd --input mc_labels.jsonl --out ms_format.jsonl
  prm convert --from birm --to stepwise --input responses.jsonl --out birm.jsonl --birm-labels step_s_label

Read: stepwise, prm800k, math-shepherd, openrlhf, math-aps, processbench, prmbench, birm.
Write: stepwise (TRL format), math-shepherd, openrlhf, processbench.
Input files may be JSONL, a JSON list, .gz or .parquet. The output is written atomically.
A bad row stops the conversion with FILE:LINE: field 'NAME': what is wrong; with --skip-bad bad
rows are reported, counted and skipped (exit 1). Nothing is coerced: a value the input format does
not define is a bad row, and a record the output format cannot hold unchanged (every written row is
read back first) is refused, e.g. soft labels to math-shepherd without --threshold, or steps without
"Step 1:" markers to math-shepherd / openrlhf without --step-markers.
"""

from __future__ import annotations

import sys

import argparse

from prm.commands.argtypes import finite_float
from prm.commands.vocab import add_renamed
from prm.errors import UserError


def add_arguments(p):
    from prm.formats import READERS, WRITERS

    p.add_argument("--from", dest="src", required=True, choices=list(READERS), help="input format")
    p.add_argument("--to", dest="dst", required=True, choices=list(WRITERS), help="output format")
    p.add_argument("--input", required=True, help="input file (JSONL, JSON list, .gz, .parquet)")
    add_renamed(p, "--out", "--output", required=True, help="output JSONL file (overwritten atomically)")
    p.add_argument("--skip-bad", action="store_true", help="report and skip bad rows instead of stopping")
    o = p.add_argument_group("format options (each applies to one format)")
    o.add_argument("--neutral", choices=("negative", "positive", "unlabeled"), default=argparse.SUPPRESS,
                   help="prm800k: label for a neutral (0) rating (default negative, as TRL; Qwen uses positive)")
    o.add_argument("--after-error", choices=("unlabeled", "incorrect"), default=argparse.SUPPRESS,
                   help="processbench: label for steps after the first error (default unlabeled)")
    o.add_argument("--aps-label", choices=("soft", "hard"), default=argparse.SUPPRESS,
                   help="math-aps: labels are the MC values (soft, default) or MC value > 0 (hard)")
    o.add_argument("--prmbench-process", choices=("modified", "original"), default=argparse.SUPPRESS,
                   help="prmbench: read the modified (with errors, default) or the original solution")
    o.add_argument("--birm-labels", choices=("step_h_label", "step_s_label", "step_labels"),
                   default=argparse.SUPPRESS,
                   help="birm: which per-step label column becomes `labels` (default step_h_label)")
    o.add_argument("--threshold", type=finite_float, default=argparse.SUPPRESS,
                   help="math-shepherd output: a float label above this is '+' (no default: soft labels are refused "
                        "without it; 0.0 is Math-Shepherd's hard label, any rollout correct)")
    o.add_argument("--step-markers", action="store_true", default=argparse.SUPPRESS,
                   help="math-shepherd / openrlhf output: prefix 'Step k: ' to every step (the layout needs "
                        "'Step 1:' where the question ends; without this flag, steps lacking it are refused)")


# CLI flag -> (formats it belongs to, direction, adapter option name)
_OPTIONS = {
    "neutral": (("prm800k",), "read", "neutral"),
    "after_error": (("processbench",), "read", "after_error"),
    "aps_label": (("math-aps",), "read", "label"),
    "prmbench_process": (("prmbench",), "read", "process"),
    "birm_labels": (("birm",), "read", "labels"),
    "threshold": (("math-shepherd",), "write", "threshold"),
    "step_markers": (("math-shepherd", "openrlhf"), "write", "step_markers"),
}


def run(args) -> int:
    from tqdm import tqdm

    from prm.formats import read_format, write_format
    from prm.paths import check_paths
    from prm.records import ReadStats

    check_paths(inputs={"--input": args.input}, outputs={"--out": args.out})

    read_opts, write_opts = {}, {}
    for flag, (fmts, direction, name) in _OPTIONS.items():
        value = getattr(args, flag, None)
        if value is None:
            continue
        if (args.src if direction == "read" else args.dst) not in fmts:
            verb = {"read": "reading", "write": "writing"}[direction]
            raise UserError(f"--{flag.replace('_', '-')} applies to {verb} {' or '.join(map(repr, fmts))} only")
        (read_opts if direction == "read" else write_opts)[name] = value
    rstats, wstats = ReadStats(), ReadStats()
    # located: a record the output format cannot hold is reported at its input line
    records = tqdm(read_format(args.src, args.input, skip_bad=args.skip_bad, stats=rstats, located=True,
                               **read_opts), desc="convert", unit="rec", disable=None)
    n = write_format(args.dst, records, args.out, skip_bad=args.skip_bad, stats=wstats, located=True,
                     **write_opts)
    for msg in rstats.errors + wstats.errors:
        print(f"skipped {msg}", file=sys.stderr)
    line = f"{args.input} ({args.src}): {rstats.read} rows -> {n} {args.dst} records in {args.out}"
    if rstats.skipped or wstats.skipped:
        line += f"; skipped {rstats.skipped} bad rows, {wstats.skipped} records {args.dst} cannot hold"
    print(line)
    return 1 if rstats.skipped or wstats.skipped else 0
