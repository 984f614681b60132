"""Accuracy and throughput of `verifiers.math` next to HF math-verify, on the same inputs, one run.

    .venv/bin/python scripts/bench/bench_math_verify.py                 # all sets, 3 repeats
    .venv/bin/python scripts/bench/bench_math_verify.py --repeats 5 --show-disagreements 20

Needs `pip install math-verify` (the benchmark extra). These cases were also developed against; the
held-out comparison (phrasing cases and published labels, dev and test apart) is the sibling
`bench_math_heldout.py`. Data comes from ../shared/data (read-only, never copied); every labelled
case below is built from it deterministically:

- birm: 450 model responses (Llama-3-8B, Qwen2.5-3B/7B on MATH) with outcome labels from BiRM;
- math500-solution: each reference solution graded against its `answer` (all True);
- math500-format: gold answers re-spelled (a/b, \\dfrac, decimals, units, `x =`, `\\left(`) -> True;
- math500-wrong: each answer against a different problem's answer (string-different) -> False,
  perturbed numbers (n+1, swapped fraction) -> False, and gaming lists "gold, other" -> False;
- gsm8k: reference solution vs `####` answer -> True, and "The answer is N+1" -> False.

Both verifiers see identical strings: full responses go to `grade` / `parse(response)`, answer pairs
to `verify` / `parse("$gold$")`. Timing: wall clock over the whole list with every cache emptied
(ours: the verdict cache and the sympy workers; math-verify: its parse caches), median of
--repeats runs. math-verify runs in the main thread (its signal timeouts require it).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("data")
    g.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="public data folder")
    g.add_argument("--seed", type=int, default=0)
    r = p.add_argument_group("run")
    r.add_argument("--repeats", type=int, default=3, help="timed runs per verifier (median reported)")
    r.add_argument("--timeout", type=float, default=1.0, help="our per-comparison budget (s)")
    r.add_argument("--show-disagreements", type=int, default=10, help="print up to N cases each gets wrong")
    return p.parse_args()


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# (set, kind, gold, text, label): kind "grade" -> text is a response; "verify" -> text is an answer
def build_cases(data: Path, seed: int) -> list[tuple[str, str, str, str, bool]]:
    rng = random.Random(seed)
    cases = []
    for f in sorted((data / "step_labeled" / "birm").glob("*.jsonl")):
        for row in _jsonl(f):
            for out in row["outputs"]:
                label = out["label"] in (True, "True", "true", 1)
                cases.append(("birm", "grade", row["ground_truth"], out["response"].replace("ки", ""), label))
    m5 = _jsonl(data / "math500" / "test.jsonl")
    for r in m5:
        cases.append(("math500-solution", "grade", r["answer"], r["solution"], True))
    import re

    for r in m5:
        a = r["answer"]
        for variant in _variants(a):
            cases.append(("math500-format", "verify", a, variant, True))
        m = re.fullmatch(r"-?\d+", a)
        if m:
            cases.append(("math500-wrong", "verify", a, str(int(a) + 1), False))
            cases.append(("math500-wrong", "verify", a, f"{a}, {int(a) + 2}", False))
        m = re.fullmatch(r"\\[dt]?frac\{(\d+)\}\{(\d+)\}", a)
        if m and m.group(1) != m.group(2):
            cases.append(("math500-wrong", "verify", a, rf"\frac{{{m.group(2)}}}{{{m.group(1)}}}", False))
    answers = [r["answer"] for r in m5]
    shuffled = answers[:]
    rng.shuffle(shuffled)
    for a, b in zip(answers, shuffled):
        if a.replace(" ", "") != b.replace(" ", ""):
            cases.append(("math500-wrong", "verify", a, b, False))
    for r in _jsonl(data / "gsm8k" / "test.jsonl"):
        gold = r["answer"].split("####")[-1].strip()
        cases.append(("gsm8k", "grade", gold, r["answer"], True))
        try:
            cases.append(("gsm8k", "grade", gold, f"So the total is 5.\nThe answer is {int(gold.replace(',', '')) + 1}.", False))
        except ValueError:
            pass
    return cases


def _variants(a: str) -> list[str]:
    import re
    from fractions import Fraction

    out = []
    m = re.fullmatch(r"(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}", a)
    if m:
        sign, n, d = m.groups()
        out += [f"{sign}{n}/{d}", rf"{sign}\dfrac{{{n}}}{{{d}}}"]
        value = Fraction(int(n), int(d))
        if (value * 10**6).denominator == 1:
            out.append(f"{sign}{float(value):g}")
    if re.fullmatch(r"-?\d+", a):
        out += [f"{a}.0", rf"{a}\text{{ units}}", f"x = {a}", f"{int(a):,}" if abs(int(a)) >= 1000 else f"+{a}".replace("+-", "-")]
    if a.startswith("(") and a.endswith(")") and "," in a:
        out.append(r"\left" + a[:-1] + r"\right)")
    if r"\sqrt" in a and "{" in a:
        out.append(a.replace(" ", ""))
    return [v for v in out if v != a]


def run_ours(cases, timeout):
    from verifiers.math import grade, verify
    from verifiers.math import grader, timeout as bounded

    grader.cache_clear()
    bounded.shutdown()
    out = []
    start = time.perf_counter()
    for _, kind, gold, text, _ in cases:
        v = grade(text, gold, timeout=timeout) if kind == "grade" else verify(gold, text, timeout=timeout)
        out.append(v.correct is True)
    return out, time.perf_counter() - start


def run_math_verify(cases):
    from math_verify import parse, verify
    from math_verify import parser as mv_parser

    for name in ("parse_latex_cached", "parse_expr_cached"):
        fn = getattr(mv_parser, name, None)
        if fn is not None and hasattr(fn, "cache_clear"):
            fn.cache_clear()
    out = []
    start = time.perf_counter()
    for _, kind, gold, text, _ in cases:
        try:
            g = parse(f"${gold}$")
            p = parse(text) if kind == "grade" else parse(f"${text}$")
            out.append(bool(verify(g, p)))
        except Exception:
            out.append(False)
    return out, time.perf_counter() - start


def main():
    args = parse_args()
    data = Path(args.data)
    if not data.is_dir():
        sys.exit(f"public data not found at {data}")
    try:
        import math_verify  # noqa: F401
        from importlib.metadata import version
    except ImportError:
        sys.exit("math-verify is not installed: pip install math-verify (the benchmark extra)")
    import logging

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    cases = build_cases(data, args.seed)
    labels = [c[4] for c in cases]
    results = {}
    for name, fn in (("ours", lambda: run_ours(cases, args.timeout)), ("math-verify", lambda: run_math_verify(cases))):
        times, preds = [], None
        for _ in range(args.repeats):
            preds, seconds = fn()
            times.append(seconds)
        results[name] = (preds, statistics.median(times), times)

    print(f"# math verifier benchmark  {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}")
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()} "
          f"| math-verify {version('math-verify')} | latex2sympy2_extended {version('latex2sympy2_extended')} "
          f"| sympy {version('sympy')}")
    print(f"cases: {len(cases)} ({sum(labels)} equivalent, {len(labels) - sum(labels)} not); repeats: {args.repeats}\n")
    sets = sorted({c[0] for c in cases})
    header = f"{'set':<18}{'n':>6}" + "".join(f"{n + ' acc':>18}" for n in results)
    print(header)
    for s in sets + ["ALL"]:
        idx = [i for i, c in enumerate(cases) if s == "ALL" or c[0] == s]
        row = f"{s:<18}{len(idx):>6}"
        for name, (preds, _, _) in results.items():
            acc = sum(preds[i] == labels[i] for i in idx) / len(idx)
            row += f"{100 * acc:>17.2f}%"
        print(row)
    (ours, t_ours, all_ours), (mv, t_mv, all_mv) = results["ours"], results["math-verify"]
    acc_ours = sum(p == y for p, y in zip(ours, labels)) / len(labels)
    acc_mv = sum(p == y for p, y in zip(mv, labels)) / len(labels)
    print(f"\naccuracy: ours {100 * acc_ours:.2f}%  math-verify {100 * acc_mv:.2f}%  "
          f"(difference {100 * (acc_ours - acc_mv):+.2f} points)")
    print(f"throughput: ours {len(cases) / t_ours:,.0f} cases/s ({t_ours:.2f} s)  math-verify "
          f"{len(cases) / t_mv:,.0f} cases/s ({t_mv:.2f} s)  ratio ours/math-verify {t_mv / t_ours:.1f}x")
    print(f"all runs (s): ours {[round(t, 2) for t in all_ours]}  math-verify {[round(t, 2) for t in all_mv]}")
    for name, preds in (("ours", ours), ("math-verify", mv)):
        wrong = [i for i in range(len(cases)) if preds[i] != labels[i]]
        print(f"\n{name} gets {len(wrong)} wrong; first {min(len(wrong), args.show_disagreements)}:")
        for i in wrong[: args.show_disagreements]:
            s, kind, gold, text, label = cases[i]
            shown = text if kind == "verify" else "..." + text[-120:].replace("\n", " ")
            print(f"  [{s}] label={label} gold={gold!r} {kind}={shown!r}")

    from common import Row, report

    rows = [Row("accuracy, all cases", 100 * acc_ours, 100 * acc_mv, "%", "higher"),
            Row("throughput", len(cases) / t_ours, len(cases) / t_mv, "answers/s", "higher"),
            Row("wall time for all cases", t_ours, t_mv, "s", "lower")]
    for s in sets:
        idx = [i for i, c in enumerate(cases) if c[0] == s]
        rows.append(Row(f"accuracy, {s} (n={len(idx)})", 100 * sum(ours[i] == labels[i] for i in idx) / len(idx),
                        100 * sum(mv[i] == labels[i] for i in idx) / len(idx), "%", "higher"))
    report("math_verify", "Math verifier vs math-verify: accuracy and answers/s", rows, theirs="math-verify",
           notes=[f"{len(cases)} cases ({sum(labels)} equivalent, {len(labels) - sum(labels)} not), "
                  f"median of {args.repeats} runs, every cache emptied before each",
                  f"math-verify {version('math-verify')}, latex2sympy2_extended {version('latex2sympy2_extended')}",
                  "no FLOP bound: symbolic checking is not matrix arithmetic"])


if __name__ == "__main__":
    main()
