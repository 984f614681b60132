"""Run code samples against their problems' unit tests in the sandbox.

  prm exec --problems data/code_tasks.jsonl --samples runs/code_samples.jsonl
  prm exec --problems he.jsonl --samples he_samples.jsonl --workers 8 --timeout 20 --out he.exec.jsonl

Writes one JSON line per sample to --out (default: SAMPLES with `.exec.jsonl`): problem_id,
sample_line (its line in --samples), passed, status, reason, n_passed, n_tests, per-test outcomes,
wall_time, the isolation in force and the verifier version; then a summary (pass rate, statuses)
to the terminal and to OUT.summary.json. Rows are appended as they finish, so an interrupted run
resumes with --resume without re-running finished samples. A resume must be the same job: the same
problems and samples files (by content, so `sample_line` still names the same sample) and the same
program and sandbox settings, else it is refused naming what differs (fingerprint in
OUT.resume.json); --workers may change.

The program is the sample's `answer` field when set, else its `text`. With --code-block auto
(default) a program containing Markdown code fences is replaced by the last fenced block.
--prompt auto (default) prepends a HumanEval problem's `question` (the prompt) when the program
does not define the entry point itself, i.e. when it is a completion that continues the prompt.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from prm.commands.argtypes import at_least, positive_float, positive_int
from prm.errors import UserError
from prm.records import JsonlAppender, RecordError, Sample, done_keys, iter_jsonl, read_problems, write_jsonl_atomic

KEEP_TEXT = 2000


def add_arguments(p):
    io = p.add_argument_group("input / output")
    io.add_argument("--problems", required=True, help="problems JSONL (code problems: tests, test_format, entry_point)")
    io.add_argument("--samples", required=True, help="samples JSONL (problem_id, text, steps, optional answer)")
    io.add_argument("--out", help="results JSONL (default: SAMPLES with .exec.jsonl)")
    io.add_argument("--resume", action="store_true", help="skip samples already in --out")
    prog = p.add_argument_group("program")
    prog.add_argument("--code-block", choices=["auto", "none"], default="auto",
                      help="auto: use the last ```fenced``` block when the program has fences")
    prog.add_argument("--prompt", choices=["auto", "always", "never"], default="auto",
                      help="prepend the problem's question: auto = for HumanEval problems when the program "
                           "does not define the entry point itself (a completion of the prompt)")
    box = p.add_argument_group("sandbox")
    box.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1, help="programs run at once")
    box.add_argument("--timeout", type=positive_float, default=10.0, help="wall-clock seconds per program (all its tests)")
    box.add_argument("--memory-mb", type=at_least(64), default=512, help="address-space limit per program")


def _load_samples(path: str, problems: dict) -> list[tuple[int, Sample]]:
    out = []
    for lineno, obj in iter_jsonl(path):
        where = f"{path}:{lineno}"
        s = Sample.from_dict(obj, where=where)
        p = problems.get(s.problem_id)
        if p is None:
            raise RecordError(f"unknown problem id {s.problem_id!r} (not in the problems file)", where=where,
                              field="problem_id")
        if p.test_format is None:  # only code problems carry unit tests (prm/records.py)
            raise RecordError(f"problem {s.problem_id!r} is a {p.domain} problem, not code", where=where,
                              field="problem_id")
        out.append((lineno, s))
    return out


def _row(problem_id: str, line: int, v) -> dict:
    from verifiers.code import VERSION

    if v.detail is None:  # the sandbox itself failed: no per-test evidence
        return {"problem_id": problem_id, "sample_line": line, "passed": False, "status": "sandbox_error",
                "reason": v.reason, "n_passed": 0, "n_tests": 0, "tests": [], "wall_time": 0.0, "isolation": None,
                "stdout": "", "stderr": "", "verifier": f"verifiers.code {VERSION}"}
    r = v.detail
    return {"problem_id": problem_id, "sample_line": line, "passed": r.passed, "status": r.status,
            "reason": r.reason, "n_passed": r.n_passed, "n_tests": len(r.tests),
            "tests": [t.__dict__ for t in r.tests], "wall_time": round(r.wall_time, 4),
            "isolation": r.isolation, "stdout": r.stdout[:KEEP_TEXT], "stderr": r.stderr[:KEEP_TEXT],
            "verifier": f"verifiers.code {VERSION}"}


def run(args) -> int:
    from tqdm.auto import tqdm

    from prm import resume
    from prm.domains import JudgeConfig, judge_many
    from prm.paths import check_paths

    out = Path(args.out) if args.out else Path(args.samples).with_suffix(".exec.jsonl")
    check_paths(inputs={"--problems": args.problems, "--samples": args.samples},
                outputs={"--out": out, "--out (summary)": out.with_suffix(".summary.json"),
                         "--out (resume record)": resume.sidecar(out)}, lock=out)
    problems = read_problems(args.problems)
    samples = _load_samples(args.samples, problems)
    if out.exists() and not args.resume:
        raise UserError(f"{out} exists; pass --resume to continue it or choose another --out")
    # rows are matched by the sample's line: only sound when the samples file is the same one
    settings = {"--code-block": args.code_block, "--prompt": args.prompt, "--timeout": args.timeout,
                "--memory-mb": args.memory_mb}
    resume.begin(out, resume.fingerprint("exec", {"--problems": args.problems, "--samples": args.samples}, settings),
                 restart=None)
    finished = done_keys(out, "sample_line") if args.resume else set()
    todo = [(line, s) for line, s in samples if line not in finished]

    # the one judge every command uses (prm/domains.py), so `prm exec`, `prm label` and `prm search`
    # give a sample the same verdict; chunks keep the output appended as programs finish (resumable)
    cfg = JudgeConfig(workers=args.workers, code_timeout=args.timeout, code_memory_mb=args.memory_mb,
                      code_block=args.code_block, prompt=args.prompt)
    chunk = max(1, args.workers * 16)
    with JsonlAppender(out) as sink, tqdm(total=len(samples), initial=len(samples) - len(todo),
                                          desc="prm exec", unit="prog") as bar:
        for start in range(0, len(todo), chunk):
            part = todo[start:start + chunk]
            verdicts = judge_many([(problems[s.problem_id], s.answer if s.answer is not None else s.text)
                                   for _, s in part], cfg)
            for (line, s), v in zip(part, verdicts):
                sink.write(_row(s.problem_id, line, v))
            bar.update(len(part))

    rows = [obj for _, obj in iter_jsonl(out)]
    summary = _summary(rows)
    summary_path = out.with_suffix(".summary.json")
    write_jsonl_atomic(summary_path, [summary])  # one JSON object, one line
    statuses = ", ".join(f"{k}={v}" for k, v in sorted(summary["statuses"].items()))
    print(f"{summary['samples']} samples on {summary['problems']} problems: {summary['passed']} passed "
          f"({100 * summary['pass_rate']:.1f}%), mean test pass fraction {summary['mean_test_pass_fraction']:.3f} | "
          f"{statuses} | isolation {', '.join(summary['isolation'])}\nresults: {out}\nsummary: {summary_path}")
    return 0


def _summary(rows: list[dict]) -> dict:
    n = len(rows)
    by_problem: dict[str, list[bool]] = {}
    for r in rows:
        by_problem.setdefault(r["problem_id"], []).append(bool(r["passed"]))
    return {
        "samples": n,
        "problems": len(by_problem),
        "passed": sum(bool(r["passed"]) for r in rows),
        "pass_rate": sum(bool(r["passed"]) for r in rows) / n if n else 0.0,
        # the per-problem mean of sample pass rates: pass@1 estimated from all samples
        "pass_at_1": sum(sum(v) / len(v) for v in by_problem.values()) / len(by_problem) if by_problem else 0.0,
        "mean_test_pass_fraction": sum(r["n_passed"] / r["n_tests"] for r in rows if r["n_tests"]) / n if n else 0.0,
        "statuses": dict(Counter(r["status"] for r in rows)),
        "isolation": sorted({r["isolation"] for r in rows if r.get("isolation")}),
        "verifier": rows[0]["verifier"] if rows else None,
    }

