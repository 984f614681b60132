"""Check that `accelerate launch` with 2 CPU processes (DDP, gloo) trains a PRM like one process does.

    .venv/bin/python scripts/train_multiproc_check.py                 # ~2-3 min on 2 cores
    .venv/bin/python scripts/train_multiproc_check.py --json out.json # the numbers also in a file

Builds a tiny Llama and 16 first-error records in a temp dir, then trains `prm train` on them twice:
once as one process with batch 16, once as `accelerate launch --config_file
scripts/accelerate/ddp_cpu.yaml -m prm train ...` (2 ranks, per-device batch 8). Prints one JSON
object with the numbers: world size and distributed type of the DDP run, the logged loss of each
run at every optimizer step, the largest loss difference, the largest weight difference between the
two saved models, and how far training moved the weights from the backbone. Exit 0 when the DDP run
had 2 CPU processes and matched the single process within the tolerances, 1 otherwise (the JSON
says which check failed).

Why every step holds all 16 records: the single process orders samples with torch's RandomSampler,
DDP with accelerate's seedable sampler, so smaller batches would group different samples and the
losses would differ for a reason that is not DDP. With the whole set in every step, the gradient is
the same sum either way, and rank 0 alone (half the data) would train visibly differently.

Why not `accelerate launch --num_processes 2 --cpu`: in accelerate 1.15 that flag starts several CPU
processes only through mpirun (an Intel MPI / OpenMPI install with a hostfile); without one it runs a
single process. The config file uses torchrun instead, and prm.train sets `use_cpu` on machines
without CUDA, which makes accelerate choose MULTI_CPU with gloo. `--cpu-flag` tries the plain flag
and reports how many processes it really got.
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

N_RECORDS = 16  # = the global batch: see the docstring


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_argument_group("run")
    g.add_argument("--max-steps", type=int, default=4, help="optimizer steps of each run")
    g.add_argument("--cpu-flag", action="store_true", help="launch with `--num_processes 2 --cpu` instead of the config")
    g.add_argument("--workdir", default=None, help="keep the runs here (default: a new temp dir)")
    g = ap.add_argument_group("tolerances")
    g.add_argument("--loss-tol", type=float, default=1e-4, help="max |loss single - loss DDP| at any step")
    g.add_argument("--weight-tol", type=float, default=1e-4, help="max |weight single - weight DDP| over all tensors")
    g = ap.add_argument_group("output")
    g.add_argument("--json", default=None, help="also write the JSON result here")
    return ap.parse_args(argv)


def weights(model_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


def max_abs_diff(a: dict, b: dict) -> float:
    """Largest elementwise |a - b| over the tensors both hold with the same shape (NaN when none;
    the embedding grows by the step-tag row during training, so it is left out against the backbone)."""
    common = sorted(k for k in set(a) & set(b) if a[k].shape == b[k].shape)
    if not common:
        return math.nan
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in common)


def compare(single: Path, ddp: Path, backbone: Path, loss_tol: float, weight_tol: float) -> dict:
    """The numbers of the two finished runs and whether each check holds (pure reading of the dirs)."""
    ra = json.loads((single / "train_report.json").read_text())
    rb = json.loads((ddp / "train_report.json").read_text())
    la = [h["loss"] for h in ra["log_history"] if "loss" in h]
    lb = [h["loss"] for h in rb["log_history"] if "loss" in h]
    wa, wb = weights(single), weights(ddp)
    res = {
        "world_size": rb.get("world_size"), "distributed_type": str(rb.get("distributed_type")),
        "data_single": ra["data"], "data_ddp": rb["data"],
        "losses_single": la, "losses_ddp": lb,
        "max_loss_diff": max((abs(x - y) for x, y in zip(la, lb)), default=math.nan),
        "max_weight_diff": max_abs_diff(wa, wb),
        # how far training moved the shared (backbone) tensors: the DDP difference must be far below it
        "max_weight_change": max_abs_diff(weights(backbone), wa),
        "saved_kind": json.loads((ddp / "config.json").read_text()).get("prm_toolkit", {}).get("kind"),
        "loss_tol": loss_tol, "weight_tol": weight_tol,
    }
    res["checks"] = {
        "two CPU processes": res["world_size"] == 2 and "MULTI_CPU" in res["distributed_type"],
        "same data": ra["data"] == rb["data"],
        "same logged steps": len(la) == len(lb) > 0 and all(math.isfinite(x) for x in la + lb),
        "losses within loss_tol": res["max_loss_diff"] <= loss_tol,
        "weights within weight_tol": res["max_weight_diff"] <= weight_tol,
        "training moved the weights": res["max_weight_change"] > 100 * max(res["max_weight_diff"], 1e-12),
        "saved a PRM": res["saved_kind"] == "prm",
    }
    res["ok"] = all(res["checks"].values())
    return res


def main(argv=None) -> int:
    args = parse_args(argv)
    from fixtures_scoring import first_error_records, texts_for, write_jsonl

    from prm.tiny import TinyConfig, build_tiny_causal_lm

    work = Path(args.workdir or tempfile.mkdtemp(prefix="prm_ddp_"))
    work.mkdir(parents=True, exist_ok=True)
    recs = first_error_records(N_RECORDS)
    write_jsonl(work / "train.jsonl", recs)
    build_tiny_causal_lm(work / "lm", texts_for(first_error_records(64)), TinyConfig(regex_pretokenize=False))
    accelerate = str(Path(sys.executable).parent / "accelerate")
    launch = ([accelerate, "launch", "--num_processes", "2", "--cpu"] if args.cpu_flag else
              [accelerate, "launch", "--config_file", str(ROOT / "scripts/accelerate/ddp_cpu.yaml")])
    train = ["-m", "prm", "train", "--model", str(work / "lm"), "--train", str(work / "train.jsonl"),
             "--max-steps", str(args.max_steps), "--lr", "1e-3", "--logging-steps", "1", "--seed", "0",
             "--no-group-by-length", "--save-steps", "100000", "--no-resume"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "TQDM_DISABLE": "1"}
    runs = {"single": [sys.executable, *train, "--batch-size", str(N_RECORDS)],
            "ddp": [*launch, *train, "--batch-size", str(N_RECORDS // 2)]}
    for name, cmd in runs.items():
        cmd = cmd + ["--out", str(work / name)]
        print("$", " ".join(cmd), file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=sys.stderr)
        if proc.returncode != 0:
            print(json.dumps({"ok": False, "error": f"{name} run exited {proc.returncode}", "workdir": str(work)}))
            return 1
    res = {**compare(work / "single", work / "ddp", work / "lm", args.loss_tol, args.weight_tol), "workdir": str(work)}
    text = json.dumps(res, indent=1)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
