"""Hard (gold, prediction) pairs from graders' own tests: `verifiers.math` next to math-verify, dev and test apart.

    .venv/bin/python scripts/bench/bench_math_hardpairs.py                  # the dev split (look freely)
    .venv/bin/python scripts/bench/bench_math_hardpairs.py --split test     # the held-out split: run at the end
    .venv/bin/python scripts/bench/bench_math_hardpairs.py --show 30        # print 30 misses of each side
    .venv/bin/python scripts/bench/bench_math_hardpairs.py --set outside    # other projects' grader tests
    .venv/bin/python scripts/bench/bench_math_hardpairs.py --all            # every set and split, as `make bench` records them

`--set math_verify` (the default) is described below. `--set outside` is
tests/fixtures/outside_cases.jsonl (scripts/import_outside_cases.py, see
tests/fixtures/outside_cases.NOTICE.md): the grader tests of NVIDIA/NeMo-Skills, MARIO_EVAL and the
rows of lighteval's that math-verify does not already hold, labelled by their authors, split by the
same hash. Those graders take bare answers (`\\frac{1}{2}`), which math-verify's default LaTeX reader
does not look at without delimiters, so each bare string is put in `$...$` (`as_math`) and both
verifiers get the same wrapped strings (as-is, math-verify scores 68% on the dev half instead of 88%).

The cases (issue 25) are the parametrized rows of math-verify's own test files at commit 5d148cf
(tests/fixtures/math_verify_cases.jsonl, written by scripts/import_math_verify_cases.py; Apache-2.0
per the repository's LICENCE, see tests/fixtures/math_verify_cases.NOTICE.md): the kinds of input
math-verify is built for, labelled by its authors. Each side is called the way a new user calls it,
with defaults: ours `grade(pred, gold)`, math-verify `verify(parse(gold), parse(pred))`.

Each case goes to dev or test by a hash of (seed 25, case id), fixed before any result was looked
at. Metrics per split: balanced accuracy ("can't tell" counts as not correct), agreement with the
labels, throughput (cases/s, median of --repeats, answer caches emptied before each run) and the
slowest single case over all runs (the first, cold run included).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

FIXTURE = ROOT / "tests" / "fixtures" / "math_verify_cases.jsonl"
SETS = {  # --set -> (fixture, what the report calls it, where its rows come from, wrap bare answers in `$`?)
    "math_verify": (FIXTURE, "Math-verify's own hard pairs", "math-verify's tests at 5d148cf", False),
    "outside": (ROOT / "tests" / "fixtures" / "outside_cases.jsonl", "Other graders' hard pairs",
                "NeMo-Skills 0b012df, lighteval 3fd1526 (rows math-verify lacks), MARIO_EVAL 13584f2", True),
}
SEED = 25


@dataclass(frozen=True)
class Case:
    id: str
    test: str
    gold: str
    pred: str
    label: bool


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set", choices=tuple(SETS), default="math_verify", dest="case_set",
                   help="which fixture: math-verify's own test rows, or other projects' grader tests")
    p.add_argument("--split", choices=("dev", "test"), default="dev")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per verifier (median reported)")
    p.add_argument("--show", type=int, default=0, help="print up to N misses of each side")
    p.add_argument("--all", action="store_true",
                   help="every set and split in turn, each its own result (what `make bench` records: run it once the "
                        "grader is final, since it reads the held-out test splits)")
    p.add_argument("--no-save", action="store_true", help="do not append the result to scripts/bench/results")
    return p.parse_args()


def load_cases(path: Path = FIXTURE) -> list[Case]:
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [Case(r["id"], f"{r['source']}::{r['test']}" if "source" in r else r["test"], r["gold"], r["pred"],
                 bool(r["label"])) for r in rows]


def as_math(s: str) -> str:
    """`\\frac{1}{2}` -> `$\\frac{1}{2}$`: a bare answer (no `$`, `\\(`, `\\[` or box) in math delimiters, as
    math-verify's own examples pass it (`parse("$...$")`); its default LaTeX reader looks for them."""
    return s if any(t in s for t in ("$", "\\boxed", "\\(", "\\[")) else f"${s}$"


def split_of(case_id: str, seed: int = SEED) -> str:
    return "dev" if hashlib.sha256(f"{seed}:{case_id}".encode()).digest()[0] % 2 == 0 else "test"


def run_ours(cases: list[Case]) -> tuple[list[bool], list[float]]:
    from verifiers.math import grade, grader
    from verifiers.math import timeout as bounded

    grader.cache_clear()
    bounded.clear_worker_caches()
    preds, times = [], []
    for c in cases:
        t = time.perf_counter()
        preds.append(grade(c.pred, c.gold).correct is True)
        times.append(time.perf_counter() - t)
    return preds, times


def run_math_verify(cases: list[Case]) -> tuple[list[bool], list[float]]:
    from math_verify import parse, verify
    from math_verify import parser as mv_parser

    for name in ("parse_latex_cached", "parse_expr_cached"):
        fn = getattr(mv_parser, name, None)
        if fn is not None and hasattr(fn, "cache_clear"):
            fn.cache_clear()
    preds, times = [], []
    for c in cases:
        t = time.perf_counter()
        try:
            preds.append(bool(verify(parse(c.gold), parse(c.pred))))
        except Exception:
            preds.append(False)
        times.append(time.perf_counter() - t)
    return preds, times


def balanced_accuracy(preds: list[bool], labels: list[bool]) -> float:
    pos = [p for p, y in zip(preds, labels) if y]
    neg = [not p for p, y in zip(preds, labels) if not y]
    rates = [sum(x) / len(x) for x in (pos, neg) if x]
    return sum(rates) / len(rates) if rates else float("nan")


def agreement(preds: list[bool], labels: list[bool]) -> float:
    return sum(p == y for p, y in zip(preds, labels)) / len(labels) if labels else float("nan")


def _timed(fn, cases, repeats):
    runs = [fn(cases) for _ in range(repeats)]
    totals = [sum(t) for _, t in runs]
    slowest = max(range(len(cases)), key=lambda i: max(r[1][i] for r in runs))
    return runs[0][0], statistics.median(totals), max(max(t) for _, t in runs), slowest


def main():
    args = parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.all:
        for case_set in SETS:
            for split in ("dev", "test"):
                measure(argparse.Namespace(**{**vars(args), "case_set": case_set, "split": split}))
                print()
        return
    measure(args)


def measure(args):
    import logging

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    fixture, title, origin, wrap = SETS[args.case_set]
    cases = [c for c in load_cases(fixture) if split_of(c.id) == args.split]
    if wrap:  # both sides see the same strings
        cases = [replace(c, gold=as_math(c.gold), pred=as_math(c.pred)) for c in cases]
    labels = [c.label for c in cases]
    load = os.getloadavg()[0]
    ours, t_ours, w_ours, s_ours = _timed(run_ours, cases, args.repeats)
    mv, t_mv, w_mv, s_mv = _timed(run_math_verify, cases, args.repeats)
    load = max(load, os.getloadavg()[0])

    print(f"# {title}, split={args.split} (seed {SEED}), {len(cases)} cases "
          f"({sum(labels)} equivalent), load average {load:.2f}\n")
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(cases):
        groups.setdefault(c.test, []).append(i)
    print(f"{'source test':<40}{'n':>4}{'pos':>5}  {'agree ours':>10} {'math-verify':>11}")
    for key in sorted(groups):
        idx = groups[key]
        y = [labels[i] for i in idx]
        print(f"{key:<40}{len(idx):>4}{sum(y):>5}  {100 * agreement([ours[i] for i in idx], y):>9.1f}% "
              f"{100 * agreement([mv[i] for i in idx], y):>10.1f}%")
    bal = [balanced_accuracy(p, labels) for p in (ours, mv)]
    print(f"\nbalanced accuracy: ours {bal[0]:.3f}, math-verify {bal[1]:.3f}")
    print(f"throughput: ours {len(cases) / t_ours:,.0f} cases/s ({t_ours:.2f} s), math-verify "
          f"{len(cases) / t_mv:,.0f} cases/s ({t_mv:.2f} s), ratio {t_mv / t_ours:.1f}x (median of {args.repeats})")
    print(f"slowest case: ours {w_ours:.3f} s ({cases[s_ours].id}), math-verify {w_mv:.3f} s ({cases[s_mv].id})")
    for name, preds in (("ours", ours), ("math-verify", mv)):
        wrong = [i for i in range(len(cases)) if preds[i] != labels[i]]
        print(f"\n{name} misses {len(wrong)}" + (f"; first {min(args.show, len(wrong))}:" if args.show else ""))
        for i in wrong[: args.show]:
            c = cases[i]
            print(f"  [{c.id}] label={c.label} gold={c.gold[-200:]!r} pred={c.pred[-200:]!r}")

    from common import Row, report

    rows = [Row(f"balanced accuracy (n={len(cases)}, {sum(labels)} equivalent)", 100 * bal[0], 100 * bal[1], "%", "higher"),
            Row("agreement with the labels", 100 * agreement(ours, labels), 100 * agreement(mv, labels), "%", "higher"),
            Row("throughput", len(cases) / t_ours, len(cases) / t_mv, "cases/s", "higher"),
            Row("slowest case", w_ours, w_mv, "s", "lower")]
    name = f"math_hardpairs_{args.split}" if args.case_set == "math_verify" \
        else f"math_hardpairs_{args.case_set}_{args.split}"
    report(name, f"{title}, {args.split} split", rows,
           theirs="math-verify", save=not args.no_save,
           notes=[f"split seed {SEED}; {len(cases)} cases from {origin}; load average {load:.2f}"
                  + ("; bare answers wrapped in $...$ for both" if wrap else ""),
                  f"median of {args.repeats} runs, answer caches emptied before each; slowest case over all runs"])


if __name__ == "__main__":
    main()
