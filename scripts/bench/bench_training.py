"""PRM training: prm-toolkit's trainer vs TRL 1.13's PRMTrainer, same tiny model, data, batch size.

    .venv/bin/pip install "trl==1.13.*"          # TRL removed PRMTrainer after 1.13
    .venv/bin/python scripts/bench/bench_training.py --repeats 3

Both train a token-classification PRM from the same randomly initialised tiny Llama (built here,
offline) on the synthetic first-error labeling (tests/fixtures_scoring.py; variable-length samples of
2-8 steps), with the same optimiser settings, epochs and per-device batch size, on CPU. Runs are
interleaved (TRL, ours, TRL, ours, ...) so machine load hits both alike; we report the median of
`--repeats` runs of:
- train samples/s (Trainer's train_runtime; tokenization excluded for both),
- final training loss (mean of the last 3 logged values),
- held-out step accuracy, each measured by its own trainer's evaluation on the same eval records
  (TRL: argmax accuracy at its label positions; ours: P(correct) >= 0.5 at ours). The two read
  positions differ when a tokenizer merges across steps: TRL tokenizes steps one by one.
Ratios are ours / TRL (> 1 = ours faster / more accurate). TRL's PRMConfig turns gradient
checkpointing and bf16 autocast on by default; both are off in the main rows so both sides run the
same float32 computation. One extra TRL run with its bf16 default is reported apart: on a CPU
without bf16 matrix units, bf16 autocast is what a TRL user gets, and it is much slower.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")


def make_data(work: Path, n_train: int, n_eval: int):
    from fixtures_scoring import GOOD, BAD, texts_for, write_jsonl

    from prm.tiny import TinyConfig, build_tiny_causal_lm

    rng = random.Random(0)
    recs = []
    for i in range(n_train + n_eval):
        steps, labels, bad = [], [], False
        for _ in range(rng.randint(2, 8)):         # wide length spread: where length grouping pays
            if rng.random() < 0.25:
                steps.append(rng.choice(BAD))
                bad = True
            else:
                steps.append(" ".join(rng.choice(GOOD) for _ in range(rng.randint(1, 3))))
            labels.append(not bad)
        recs.append({"prompt": f"Problem {i}: add {i} and {i + 1}.", "completions": steps, "labels": labels})
    write_jsonl(work / "train.jsonl", recs[:n_train])
    write_jsonl(work / "eval.jsonl", recs[n_train:])
    build_tiny_causal_lm(work / "lm", texts_for(recs), TinyConfig())      # 2 layers x 128: CPU-sized
    return recs[:n_train], recs[n_train:]


def run_trl(work: Path, train, ev, a, k: int, *, bf16: bool = False) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForTokenClassification, AutoTokenizer
    from trl.experimental.prm import PRMConfig, PRMTrainer

    tok = AutoTokenizer.from_pretrained(work / "lm")
    model = AutoModelForTokenClassification.from_pretrained(work / "lm", num_labels=2, dtype=torch.float32)
    model.config.pad_token_id = tok.pad_token_id
    args = PRMConfig(output_dir=str(work / f"trl{k}"), learning_rate=a.lr, num_train_epochs=a.epochs,
                     per_device_train_batch_size=a.batch_size, per_device_eval_batch_size=32, seed=0,
                     logging_steps=5, save_strategy="no", report_to="none", step_separator="\n\n",
                     max_length=1024, use_cpu=True, dataloader_pin_memory=False, disable_tqdm=True,
                     gradient_checkpointing=False,   # PRMConfig defaults to True; ours runs without
                     bf16=bf16)   # PRMConfig defaults to True: bf16 autocast, which on a CPU without bf16
                                  # matrix units is far slower than float32; ours trains in float32
    tr = PRMTrainer(model=model, args=args, processing_class=tok,
                    train_dataset=Dataset.from_list(train), eval_dataset=Dataset.from_list(ev))
    res = tr.train()
    losses = [h["loss"] for h in tr.state.log_history if "loss" in h]
    m = tr.evaluate()
    return {"samples_per_s": res.metrics["train_samples_per_second"], "final_loss": statistics.mean(losses[-3:]) if losses else float("nan"),
            "step_accuracy": m["eval_accuracy"], "train_runtime": res.metrics["train_runtime"]}


def run_ours(work: Path, a, k: int) -> dict:
    from prm.train import TrainConfig, train_rm

    out = train_rm(TrainConfig(model=str(work / "lm"), train_file=str(work / "train.jsonl"),
                               eval_file=str(work / "eval.jsonl"), output_dir=str(work / f"ours{k}"),
                               learning_rate=a.lr, num_train_epochs=a.epochs, per_device_train_batch_size=a.batch_size,
                               per_device_eval_batch_size=32, logging_steps=5, save_steps=10 ** 6,
                               extra_args={"disable_tqdm": True, "eval_strategy": "no"}), progress=False)
    rep = json.loads((out / "train_report.json").read_text())
    losses = [h["loss"] for h in rep["log_history"] if "loss" in h]
    return {"samples_per_s": rep["train"]["train_samples_per_second"], "final_loss": statistics.mean(losses[-3:]) if losses else float("nan"),
            "step_accuracy": rep["eval"]["eval_step_accuracy"], "train_runtime": rep["train"]["train_runtime"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-train", type=int, default=320)
    ap.add_argument("--n-eval", type=int, default=96)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    a = ap.parse_args()

    import torch
    import transformers
    import trl

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    work = Path(tempfile.mkdtemp(prefix="bench_train_"))
    train, ev = make_data(work, a.n_train, a.n_eval)
    runs = {"trl": [], "ours": []}
    for k in range(a.repeats):
        t = time.time()
        for side, fn in (("trl", lambda: run_trl(work, train, ev, a, k)), ("ours", lambda: run_ours(work, a, k))):
            t0 = time.perf_counter()
            res = fn()
            runs[side].append({**res, "wall_s": time.perf_counter() - t0})
        print(f"repeat {k}: trl {runs['trl'][-1]} | ours {runs['ours'][-1]} ({time.time() - t:.0f}s)", flush=True)

    t0 = time.perf_counter()
    trl_defaults = run_trl(work, train, ev, a, a.repeats, bf16=True)   # once: TRL as a user gets it
    trl_defaults["wall_s"] = time.perf_counter() - t0
    print(f"TRL with its default bf16=True: {trl_defaults}", flush=True)
    med = {side: {m: statistics.median(r[m] for r in rs) for m in rs[0]} for side, rs in runs.items()}
    for m in ("samples_per_s", "final_loss", "step_accuracy"):
        print(f"{m:<16} TRL {med['trl'][m]:.4f}  ours {med['ours'][m]:.4f}")

    # The physical floor: forward + backward FLOPs of the tokens trained on, at the measured matmul rate.
    from transformers import AutoTokenizer

    from common import Row, bound_rows, matmul_gflops, report, transformer_flops, transformer_params
    from prm.sequence import build_sequence

    tok = AutoTokenizer.from_pretrained(work / "lm")
    step_tag = json.loads((work / "ours0" / "config.json").read_text()).get("prm_toolkit", {}).get("step_tag")
    lens = [len(build_sequence(tok, r["prompt"], r["completions"], "\n\n", step_tag)[0]) for r in train]
    tokens = int(sum(lens) * a.epochs)
    flops = transformer_flops(work / "lm", tokens, context=sum(lens) / len(lens) / 2, backward=True, head_outputs=2)
    gflops = matmul_gflops()
    rows = [Row("train samples/s", med["ours"]["samples_per_s"], med["trl"]["samples_per_s"], "samples/s", "higher"),
            Row("train time (Trainer train_runtime)", med["ours"]["train_runtime"], med["trl"]["train_runtime"], "s",
                "lower"),
            Row("wall time: load, tokenize, train, evaluate", med["ours"]["wall_s"], med["trl"]["wall_s"], "s",
                "lower"),
            Row("final training loss (mean of last 3 logs)", med["ours"]["final_loss"], med["trl"]["final_loss"], "",
                "lower"),
            Row("held-out step accuracy", med["ours"]["step_accuracy"], med["trl"]["step_accuracy"], "", "higher"),
            *bound_rows(med["ours"]["train_runtime"], med["trl"]["train_runtime"], flops, gflops),
            Row("train samples/s, TRL with its default bf16=True (1 run)", med["ours"]["samples_per_s"],
                trl_defaults["samples_per_s"], "samples/s", "higher"),
            Row("held-out step accuracy, TRL with its default bf16=True (1 run)", med["ours"]["step_accuracy"],
                trl_defaults["step_accuracy"], "", "higher")]
    report("training", "PRM training: prm-toolkit trainer vs TRL 1.13 PRMTrainer", rows, theirs="TRL PRMTrainer",
           notes=["the main rows run the same computation on both sides: float32, no gradient checkpointing "
                  "(TRL's PRMConfig defaults to bf16=True and gradient_checkpointing=True; the last two rows run TRL "
                  "with its bf16 default, which on a CPU without bf16 matrix units is much slower)",
                  f"data: {a.n_train} train / {a.n_eval} eval records of 2-8 steps, batch {a.batch_size}, "
                  f"{a.epochs} epochs, lr {a.lr}; median of {a.repeats} interleaved runs",
                  f"model: tiny Llama built offline, {transformer_params(work / 'lm')['non_embedding'] / 1e6:.2f}M "
                  f"non-embedding parameters; {sum(lens)} tokens per epoch, mean {sum(lens) / len(lens):.0f} per sample",
                  f"bound: {tokens} trained tokens x forward+backward = {flops / 1e9:.2f} GFLOP at the measured "
                  f"{gflops:.1f} GFLOP/s (float32 torch.matmul 1024^3); padding, the optimizer step and per-batch "
                  "overhead are the gap",
                  f"torch {torch.__version__}, transformers {transformers.__version__}, trl {trl.__version__}",
                  "this synthetic task is easy: both sides reach the same held-out accuracy, so the accuracy rows "
                  "show that neither side loses quality, not which learns better; "
                  "step accuracy: each trainer's own evaluation; the read positions differ when the tokenizer "
                  "merges across steps (TRL tokenizes steps one by one)"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
