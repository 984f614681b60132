"""Check that a short PRM training runs under `accelerate launch` with 2 CPU processes (DDP, gloo).

    .venv/bin/python scripts/train_multiproc_check.py            # ~1-2 min on 2 cores

Builds a tiny Llama + the synthetic first-error labeling in a temp dir, then runs
`accelerate launch --config_file scripts/accelerate/ddp_cpu.yaml -m prm train ...` and checks the
saved report: world size 2, distributed type MULTI_CPU, loss finite, a loadable model with the
toolkit settings. Exit 0 on success, 1 with the reason otherwise.

Why not `accelerate launch --num_processes 2 --cpu`: in accelerate 1.15 that flag starts several CPU
processes only through mpirun (an Intel MPI / OpenMPI install with a hostfile); without one it runs a
single process. The config file uses torchrun instead, and prm.train sets `use_cpu` on machines
without CUDA, which makes accelerate choose MULTI_CPU with gloo. `--cpu-flag` tries the plain flag
too and reports how many processes it really got.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu-flag", action="store_true", help="launch with `--num_processes 2 --cpu` instead of the config")
    ap.add_argument("--max-steps", type=int, default=6)
    args = ap.parse_args()

    from fixtures_scoring import first_error_records, texts_for, write_jsonl

    from prm.tiny import TinyConfig, build_tiny_causal_lm

    work = Path(tempfile.mkdtemp(prefix="prm_ddp_"))
    recs = first_error_records(64)
    write_jsonl(work / "train.jsonl", recs)
    build_tiny_causal_lm(work / "lm", texts_for(recs), TinyConfig(regex_pretokenize=False))
    accelerate = str(Path(sys.executable).parent / "accelerate")
    launch = ([accelerate, "launch", "--num_processes", "2", "--cpu"] if args.cpu_flag else
              [accelerate, "launch", "--config_file", str(ROOT / "scripts/accelerate/ddp_cpu.yaml")])
    cmd = launch + ["-m", "prm", "train", "--model", str(work / "lm"), "--train", str(work / "train.jsonl"),
                    "--output-dir", str(work / "out"), "--max-steps", str(args.max_steps), "--batch-size", "4",
                    "--lr", "1e-3", "--logging-steps", "1"]
    print("$", " ".join(cmd), flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env)
    if proc.returncode != 0:
        print(f"FAIL: accelerate launch exited {proc.returncode}")
        return 1
    rep = json.loads((work / "out" / "train_report.json").read_text())
    losses = [h["loss"] for h in rep["log_history"] if "loss" in h]
    cfg = json.loads((work / "out" / "config.json").read_text())
    print(f"world_size={rep['world_size']} distributed_type={rep['distributed_type']} "
          f"losses={[round(x, 4) for x in losses]}")
    problems = []
    if rep["world_size"] != 2 or "MULTI_CPU" not in rep["distributed_type"]:
        problems.append(f"expected 2 CPU processes, got world_size={rep['world_size']} ({rep['distributed_type']})")
    if not losses or not all(math.isfinite(x) for x in losses):
        problems.append("no finite loss logged")
    if cfg.get("prm_toolkit", {}).get("kind") != "prm":
        problems.append("saved config lacks prm_toolkit settings")
    if problems:
        print("FAIL: " + "; ".join(problems))
        return 1
    print(f"OK: 2-process CPU DDP training ran; model in {work / 'out'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
