"""Held-out math grading: `verifiers.math` next to math-verify on (gold, response) pairs, dev and test apart.

    .venv/bin/python scripts/bench/bench_math_heldout.py                  # the dev set (look freely)
    .venv/bin/python scripts/bench/bench_math_heldout.py --split test     # the held-out set: run once, at the end
    .venv/bin/python scripts/bench/bench_math_heldout.py --show 30         # print 30 misses of each side
    .venv/bin/python scripts/bench/bench_math_heldout.py --all             # both splits, as `make bench` records them

The cases (every one is a full response graded against a gold answer, by `grade` and by
math-verify's `parse(response)` / `verify(parse(gold), ...)`):

- phrasing: tests/fixtures/math_phrasing.jsonl, hand-written cases of each kind issue 14 lists
  (separators, LaTeX wrappers, units, matrices, relations, several answers, percent, "Final
  Answer:" sentences, long traces) and negatives that must stay wrong; labelled by hand;
- processbench-olympiad: ProcessBench's OlympiadBench solutions (8 models; Qwen2.5-Math-7B/72B
  reported apart) with their published `final_answer_correct`, gold from Qwen2.5-Math's OlympiadBench eval set
  (matched by problem text; 986 of 1000 match). Read from ../shared/data, never copied;
- birm: 450 BiRM responses (Llama-3-8B, Qwen2.5-3B/7B on MATH) with their published outcome labels.

Each case goes to dev or test by a hash of (seed, case id): the split never changes when cases are
added. Metrics per split and source: balanced accuracy (mean of the true-positive and true-negative
rates; "can't tell" counts as not correct), agreement with the labels, throughput (cases/s over the
whole split, median of --repeats; answer caches emptied before each run, long-lived parser state
kept on both sides: our sympy workers, math-verify's ANTLR tables) and the slowest single case over
all runs, cold first run included.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

FIXTURE = ROOT / "tests" / "fixtures" / "math_phrasing.jsonl"


@dataclass(frozen=True)
class Case:
    source: str
    id: str
    gold: str
    response: str
    label: bool


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="public data folder")
    p.add_argument("--split", choices=("dev", "test"), default="dev")
    p.add_argument("--all", action="store_true",
                   help="both splits in turn, each its own result (what `make bench` records: run it once the grader "
                        "is final, since it reads the held-out test split)")
    p.add_argument("--seed", type=int, default=14, help="split seed (fixed: changing it leaks the test set)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per verifier (median reported)")
    p.add_argument("--show", type=int, default=0, help="print up to N misses of each side")
    p.add_argument("--source", default=None, help="only cases whose source starts with this")
    p.add_argument("--no-save", action="store_true", help="do not append the result to scripts/bench/results")
    return p.parse_args()


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def phrasing_cases(path: Path = FIXTURE) -> list[Case]:
    return [Case(f"phrasing/{r['category']}", r["id"], r["gold"], r["response"], bool(r["label"]))
            for r in _jsonl(path)]


def processbench_cases(data: Path) -> list[Case]:
    golds = {}
    for r in _jsonl(data / "qwen25math_eval" / "olympiadbench_test.jsonl"):
        golds[r["question"].strip()] = r["final_answer"][0].strip().strip("$").strip()
    out = []
    for r in json.loads((data / "processbench" / "olympiadbench.json").read_text(encoding="utf-8")):
        gold = golds.get(r["problem"].strip())
        if gold is not None:
            models = "qwen2.5-math" if "Qwen2.5-Math" in r["generator"] else "other-models"
            out.append(Case(f"processbench-olympiad/{models}", r["id"], gold, "\n\n".join(r["steps"]),
                            bool(r["final_answer_correct"])))
    return out


def birm_cases(data: Path) -> list[Case]:
    out = []
    for f in sorted((data / "step_labeled" / "birm").glob("*.jsonl")):
        for i, row in enumerate(_jsonl(f)):
            for j, o in enumerate(row["outputs"]):
                out.append(Case("birm", f"{f.stem}/{i}/{j}", row["ground_truth"], o["response"].replace("ки", ""),
                                o["label"] in (True, "True", "true", 1)))
    return out


def split_of(case: Case, seed: int) -> str:
    h = hashlib.sha256(f"{seed}:{case.source.split('/')[0]}:{case.id}".encode()).digest()
    return "dev" if h[0] % 2 == 0 else "test"


def all_cases(data: Path | None) -> list[Case]:
    cases = phrasing_cases()
    if data is not None and data.is_dir():
        cases += processbench_cases(data) + birm_cases(data)
    return cases


def run_ours(cases: list[Case]) -> tuple[list[bool], list[float]]:
    from verifiers.math import grade, grader

    from verifiers.math import timeout as bounded

    grader.cache_clear()  # verdicts and the workers' parse caches; the workers stay up, as math-verify's
    bounded.clear_worker_caches()  # parser state (ANTLR tables) does
    preds, times = [], []
    for c in cases:
        t = time.perf_counter()
        preds.append(grade(c.response, c.gold).correct is True)
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
            preds.append(bool(verify(parse(f"${c.gold}$"), parse(c.response))))
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
    """Median total over `repeats` runs, and the slowest single case over all runs (the first run of
    each side is cold: our sympy workers start, math-verify's ANTLR parser builds its tables)."""
    runs = [fn(cases) for _ in range(repeats)]
    totals = [sum(t) for _, t in runs]
    worst = max(max(t) for _, t in runs)
    slowest = max(range(len(cases)), key=lambda i: max(r[1][i] for r in runs))
    return runs[0][0], statistics.median(totals), worst, slowest


def main():
    args = parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.all:
        for split in ("dev", "test"):
            measure(argparse.Namespace(**{**vars(args), "split": split}))
            print()
        return
    measure(args)


def measure(args):
    import logging

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    data = Path(args.data)
    cases = [c for c in all_cases(data) if split_of(c, args.seed) == args.split]
    if args.source:
        cases = [c for c in cases if c.source.startswith(args.source)]
    labels = [c.label for c in cases]
    load = os.getloadavg()[0]
    ours, t_ours, w_ours, s_ours = _timed(run_ours, cases, args.repeats)
    mv, t_mv, w_mv, s_mv = _timed(run_math_verify, cases, args.repeats)
    load = max(load, os.getloadavg()[0])

    groups = {}
    for i, c in enumerate(cases):
        for key in (c.source.split("/")[0], c.source) if "/" in c.source else (c.source,):
            groups.setdefault(key, []).append(i)
    print(f"# held-out math grading, split={args.split} (seed {args.seed}), {len(cases)} cases, "
          f"load average {load:.2f}\n")
    print(f"{'source':<36}{'n':>5}{'pos':>5}  {'bal.acc ours':>12} {'math-verify':>11}  {'agree ours':>10} {'math-verify':>11}")
    for key in sorted(groups):
        idx = groups[key]
        y = [labels[i] for i in idx]
        row = [balanced_accuracy([p[i] for i in idx], y) for p in (ours, mv)]
        row += [agreement([p[i] for i in idx], y) for p in (ours, mv)]
        print(f"{key:<36}{len(idx):>5}{sum(y):>5}  {100 * row[0]:>11.2f}% {100 * row[1]:>10.2f}%  "
              f"{100 * row[2]:>9.2f}% {100 * row[3]:>10.2f}%")
    print(f"\nthroughput: ours {len(cases) / t_ours:,.0f} cases/s ({t_ours:.2f} s), math-verify "
          f"{len(cases) / t_mv:,.0f} cases/s ({t_mv:.2f} s), ratio {t_mv / t_ours:.1f}x (median of {args.repeats})")
    print(f"slowest case: ours {w_ours:.3f} s ({cases[s_ours].id}), math-verify {w_mv:.3f} s ({cases[s_mv].id})")
    for name, preds in (("ours", ours), ("math-verify", mv)):
        wrong = [i for i in range(len(cases)) if preds[i] != labels[i]]
        print(f"\n{name} misses {len(wrong)}" + (f"; first {min(args.show, len(wrong))}:" if args.show else ""))
        for i in wrong[: args.show]:
            c = cases[i]
            print(f"  [{c.id}] label={c.label} gold={c.gold!r} response=...{c.response[-160:]!r}")

    from common import Row, report

    phr = groups.get("phrasing", [])
    real = [i for i in range(len(cases)) if not cases[i].source.startswith("phrasing")]
    rows = []
    for name, idx in (("phrasing", phr), ("published labels", real)):
        if idx:
            y = [labels[i] for i in idx]
            rows.append(Row(f"balanced accuracy, {name} (n={len(idx)})", 100 * balanced_accuracy([ours[i] for i in idx], y),
                            100 * balanced_accuracy([mv[i] for i in idx], y), "%", "higher"))
            rows.append(Row(f"agreement, {name} (n={len(idx)})", 100 * agreement([ours[i] for i in idx], y),
                            100 * agreement([mv[i] for i in idx], y), "%", "higher"))
    rows += [Row("throughput", len(cases) / t_ours, len(cases) / t_mv, "cases/s", "higher"),
             Row("slowest case", w_ours, w_mv, "s", "lower")]
    report(f"math_heldout_{args.split}", f"Math grading on held-out phrasing, {args.split} split", rows,
           theirs="math-verify", save=not args.no_save,
           notes=[f"split seed {args.seed}; {len(cases)} cases; load average {load:.2f}",
                  f"median of {args.repeats} runs, answer caches emptied before each; slowest case over all runs"])


if __name__ == "__main__":
    main()
