"""The demo end to end: wall time per stage and peak memory, default preset vs --quick, one run.

    python scripts/bench/bench_demo.py                  # both presets (~7 min on 2 cores with the policies cached)
    python scripts/bench/bench_demo.py --quick          # only the --quick preset
    python scripts/bench/bench_demo.py --repeats 3      # median of 3 runs per preset
    python scripts/bench/bench_demo.py --backend transformers --domains math

Each run is `prm demo [--quick] --out DIR` in a child process. Per-stage seconds come from the
demo's own manifest.json (`domains.<d>.timings`, measured inside the run); the total is the wall
time of the whole command as the user sees it (start-up and imports included). Peak memory is
the largest summed resident memory of the demo's whole process tree (vLLM engine and verifier
workers included), sampled every 0.2 s with psutil; the largest single process (getrusage of the
waited-for children) is reported too.

The two sides are the two presets: ratio = default / quick. The tiny policy is cached across runs
(as for a user); a stage that trained it shows that in its time, and the manifest says so.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import ROOT, Row, median, peak_rss_mb, report  # noqa: E402


def tree_peak_sampler(pid: int, stop: threading.Event, out: dict) -> None:
    """Record the peak of the summed RSS of `pid` and all its descendants."""
    import psutil

    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    peak = 0
    while not stop.is_set():
        total = 0
        try:
            procs = [root] + root.children(recursive=True)
        except psutil.NoSuchProcess:
            break
        for p in procs:
            try:
                total += p.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        peak = max(peak, total)
        out["peak_mb"] = peak / 2**20
        stop.wait(0.2)


def run_demo(quick: bool, out_dir: Path, args) -> dict:
    cmd = [sys.executable, "-m", "prm", "demo", "--out", str(out_dir), "--domains", args.domains,
           "--backend", args.backend] + (["--quick"] if quick else [])
    if args.cache_dir:
        cmd += ["--cache-dir", args.cache_dir]
    mem: dict = {}
    stop = threading.Event()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watcher = threading.Thread(target=tree_peak_sampler, args=(proc.pid, stop, mem), daemon=True)
    watcher.start()
    output, _ = proc.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    watcher.join()
    if proc.returncode != 0:
        tail = "\n".join(output.splitlines()[-30:])
        raise SystemExit(f"`{' '.join(cmd[1:])}` failed (exit {proc.returncode}):\n{tail}")
    manifest = json.loads((out_dir / "manifest.json").read_text())
    stages = {}
    for domain, d in (manifest.get("domains") or {}).items():
        for stage, secs in (d.get("timings") or {}).items():
            if isinstance(secs, (int, float)):
                stages[f"{domain}: {stage}"] = float(secs)
    return {"wall_s": wall, "stages": stages, "peak_tree_mb": mem.get("peak_mb"), "found": found(out_dir),
            "backend": manifest.get("backend"), "total_seconds": manifest.get("total_seconds"),
            "command": " ".join(["prm"] + cmd[3:])}


def found(out_dir: Path) -> dict:
    """What the demo concluded, from its results.json: per domain, accuracy of every best-of-N method at
    the largest N, and of beam search (docs/results_schema.md)."""
    try:
        res = json.loads((out_dir / "results.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    out = {}
    for domain, d in (res.get("domains") or {}).items():
        bon = d.get("bon") or {}
        ns = bon.get("ns") or [None]
        row = {"n": ns[-1], "problems": bon.get("n_problems")}
        row.update({m: v["mean"][-1] for m, v in (bon.get("methods") or {}).items() if v.get("mean")})
        if (d.get("beam") or {}).get("accuracy") is not None:
            row["beam"] = d["beam"]["accuracy"]
        out[domain] = row
    return out


def summarize(runs: list[dict]) -> dict:
    """Median over repeats of every number (stages present in every run)."""
    keys = set.intersection(*(set(r["stages"]) for r in runs))
    order = [k for k in runs[0]["stages"] if k in keys]
    return {"wall_s": median([r["wall_s"] for r in runs]),
            "peak_tree_mb": median([r["peak_tree_mb"] or 0 for r in runs]),
            "stages": {k: median([r["stages"][k] for r in runs]) for k in order},
            "backend": runs[0]["backend"], "command": runs[0]["command"], "repeats": len(runs),
            "found": runs[0]["found"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="run only the --quick preset (no default-preset side)")
    ap.add_argument("--repeats", type=int, default=1, help="runs per preset; the median is reported")
    ap.add_argument("--domains", default="math,code", help="passed to prm demo")
    ap.add_argument("--backend", default="auto", choices=["auto", "vllm", "transformers"], help="passed to prm demo")
    ap.add_argument("--cache-dir", default=None, help="tiny-policy cache passed to prm demo (default: the user's)")
    args = ap.parse_args()

    presets = [True] if args.quick else [False, True]
    res: dict[bool, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench_demo_") as tmp:
        for quick in presets:
            runs = []
            for i in range(args.repeats):
                name = f"{'quick' if quick else 'default'}_{i}"
                print(f"running prm demo {'--quick' if quick else '(default)'} [{i + 1}/{args.repeats}] ...", flush=True)
                runs.append(run_demo(quick, Path(tmp) / name, args))
                print(f"  {runs[-1]['wall_s']:.1f} s, peak {runs[-1]['peak_tree_mb'] or 0:.0f} MiB", flush=True)
            res[quick] = summarize(runs)
    largest_child = peak_rss_mb(children=True)

    default, quick = res.get(False), res[True]
    rows = []
    stage_names = list((default or quick)["stages"])
    for k in quick["stages"]:
        if k not in stage_names:
            stage_names.append(k)
    for k in stage_names:
        rows.append(Row(f"{k}", default["stages"].get(k) if default else None, quick["stages"].get(k), "s", ""))
    rows.append(Row("total wall time (command)", default["wall_s"] if default else None, quick["wall_s"], "s", ""))
    rows.append(Row("peak memory, whole process tree", default["peak_tree_mb"] if default else None,
                    quick["peak_tree_mb"], "MiB", ""))
    notes = [f"commands: `{(default or quick)['command']}`" + (f" and `{quick['command']}`" if default else ""),
             f"sampler backend: {quick['backend']}; median of {args.repeats} run(s) per preset",
             f"largest single child process (getrusage): {largest_child:.0f} MiB",
             "stage times come from the demo's manifest.json; the total is the command's wall time"]
    for name, res_ in (("default", default), ("--quick", quick)):
        for domain, row in ((res_ or {}).get("found") or {}).items():
            accs = ", ".join(f"{m} {100 * v:.0f}%" for m, v in row.items() if m not in ("n", "problems"))
            notes.append(f"what the {name} demo found ({domain}, {row.get('problems')} test problems, "
                         f"best-of-{row.get('n')}; first run): {accs}")
    report("demo", "The demo: wall time per stage and peak memory (default preset vs --quick)", rows,
           ours="default", theirs="--quick", notes=notes, extra={"default": default, "quick": quick})
    return 0


if __name__ == "__main__":
    sys.exit(main())
