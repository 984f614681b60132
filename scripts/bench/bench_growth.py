"""How labeling, training and scoring time grow with the number of samples and with solution length.

    python scripts/bench/bench_growth.py              # 4 sizes per axis, median of 3 repeats
    python scripts/bench/bench_growth.py --quick      # 3 sizes per axis, smaller
    python scripts/bench/bench_growth.py --stages labeling scoring

For each stage and each axis the script times the stage at >= 3 sizes (median of repeats), fits
log(time) = a + slope * log(size) by least squares, and reports the slope: 1.0 = linear, 2.0 =
quadratic. Two axes:
- samples: the number of solutions, at a fixed length (4 steps);
- length:  steps per solution, at a fixed number of solutions.

Stages, on a synthetic arithmetic-chain dataset built here (deterministic, every step checkable,
one sample in three carries a wrong step):
- labeling: `direct` labels (`prm.labeling.label_direct`): the verifiers' per-step checks plus the
  outcome check; no model, so this is the verifier's growth.
- training: `prm.train.train_rm`, 1 epoch, PRM objective, on the tiny Llama of `prm.tiny`.
- scoring:  `Scorer.score_batch` of the PRM trained above (transformers backend); the model
  load is outside the timed region.
Training and scoring also state their physical bound: model FLOPs of the tokens processed
(`common.transformer_flops`, backward = 2x forward for training) over the measured matmul rate;
"x bound" = measured / bound. On a tiny model the bound is far below the measured time: such a
model is dominated by per-call and per-op overhead, not FLOPs, which is why the slope is the
figure of merit here.

Fixed per-call costs (process pools, model set-up) push the slope below 1 at small sizes; the
per-size table shows them. A stage whose module is not importable is reported as not run, with
the reason: never estimated.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))
from common import Row, matmul_gflops, median, median_time, report, transformer_flops  # noqa: E402

MATH_SEP = "\n\n"


# ----------------------------------------------------------------------------- data
def chain(rng: random.Random, n_steps: int, wrong_at: int | None) -> tuple[str, list[str], str]:
    """An arithmetic chain: question, steps (each 'a op b = c.'), gold answer. `wrong_at`: a bad step,
    whose wrong result the later steps carry on from (as a model's would)."""
    x = rng.randint(2, 30)
    ops = [(rng.choice("+-*"), rng.randint(2, 9)) for _ in range(n_steps - 1)]
    question = f"Start from {x}, then " + ", then ".join(f"{o} {y}" for o, y in ops) + ". What is the result?"
    apply = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}
    true, shown_x, steps = x, x, []
    for i, (op, y) in enumerate(ops):
        true = apply[op](true, y)
        z = apply[op](shown_x, y)
        shown = z + rng.randint(1, 3) if wrong_at == i else z
        steps.append(f"Then {shown_x} {op} {y} = {shown}.")
        shown_x = shown
    steps.append(f"The answer is {shown_x}.")
    return question, steps, str(true)


def dataset(n: int, n_steps: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed * 1_000_003 + n * 31 + n_steps)
    rows = []
    for i in range(n):
        wrong = rng.randrange(n_steps - 1) if (i % 3 == 2 and n_steps > 1) else None
        q, steps, gold = chain(rng, n_steps, wrong)
        labels = [True] * len(steps) if wrong is None else [True] * wrong + [False] * (len(steps) - wrong)
        rows.append({"id": f"g{i}", "question": q, "steps": steps, "answer": gold, "labels": labels})
    return rows


# ----------------------------------------------------------------------------- stages
def stage_labeling(rows: list[dict], ctx: dict) -> tuple[float, dict]:
    from prm.labeling.direct import label_direct
    from prm.labeling.inputs import LabelItem
    from prm.records import Problem, Sample

    items = []
    for r in rows:
        p = Problem(id=r["id"], domain="math", question=r["question"], answer=r["answer"])
        s = Sample(problem_id=r["id"], text=MATH_SEP.join(r["steps"]), steps=r["steps"])
        items.append(LabelItem(problem=p, sample=s, sample_id=f"{r['id']}-0", steps=r["steps"]))
    t = median_time(lambda: label_direct(items), repeats=ctx["repeats"], warmup=1)
    return t.median, {}


def _write_stepwise(rows: list[dict], path: Path) -> None:
    with path.open("w") as fh:
        for r in rows:
            fh.write(json.dumps({"prompt": r["question"], "completions": r["steps"], "labels": r["labels"]}) + "\n")


def _tokens(model_dir: str, rows: list[dict]) -> tuple[int, float]:
    from transformers import AutoTokenizer

    from prm.sequence import build_sequence

    tok = AutoTokenizer.from_pretrained(model_dir)
    lens = [len(build_sequence(tok, r["question"], r["steps"], MATH_SEP)[0]) for r in rows]
    return sum(lens), sum(lens) / len(lens)


def stage_training(rows: list[dict], ctx: dict) -> tuple[float, dict]:
    from prm.train import TrainConfig, train_rm

    work = Path(ctx["tmp"]) / f"train_{len(rows)}_{len(rows[0]['steps'])}"
    work.mkdir(parents=True, exist_ok=True)
    data = work / "train.jsonl"
    _write_stepwise(rows, data)
    run = {"i": 0}

    def once():
        run["i"] += 1
        out = work / f"out{run['i']}"
        cfg = TrainConfig(model=ctx["backbone"], train_file=str(data), output_dir=str(out), objective="prm",
                          num_train_epochs=1.0, per_device_train_batch_size=8, logging_steps=10_000,
                          save_steps=10_000, resume=False, learning_rate=1e-3, group_by_length=False,
                          extra_args={"disable_tqdm": True})
        ctx["last_model"] = str(train_rm(cfg, progress=False))
        rep = json.loads((out / "train_report.json").read_text())
        loops.append(float(rep["train"]["train_runtime"]))

    loops: list[float] = []
    t = median_time(once, repeats=ctx["repeats"], warmup=0)
    tokens, mean_len = _tokens(ctx["backbone"], rows)
    flops = transformer_flops(ctx["backbone"], tokens, context=mean_len / 2, backward=True, head_outputs=2)
    # the Trainer's own train_runtime: the optimisation loop without load, tokenization and save
    return t.median, {"tokens": tokens, "flops": flops, "loop_s": median(loops)}


def stage_scoring(rows: list[dict], ctx: dict) -> tuple[float, dict]:
    from prm.scoring import load_scorer

    if "scorer" not in ctx:
        ctx["scorer"] = load_scorer(ctx["prm_dir"], backend="transformers")
    scorer = ctx["scorer"]
    items = [(r["question"], r["steps"]) for r in rows]
    t = median_time(lambda: scorer.score_batch(items), repeats=ctx["repeats"], warmup=1)
    tokens, mean_len = _tokens(ctx["prm_dir"], rows)
    flops = transformer_flops(ctx["prm_dir"], tokens, context=mean_len / 2, head_outputs=2)
    return t.median, {"tokens": tokens, "flops": flops}


STAGES = {"labeling": stage_labeling, "training": stage_training, "scoring": stage_scoring}

SIZES = {  # stage -> (samples axis at 4 steps, length axis in steps, samples for the length axis)
    "full": {"labeling": ([100, 200, 400, 800], [2, 4, 8, 16], 200),
             "training": ([64, 128, 256, 512], [2, 4, 8, 16], 128),
             "scoring": ([64, 128, 256, 512], [2, 4, 8, 16], 128)},
    "quick": {"labeling": ([50, 100, 200], [2, 4, 8], 100),
              "training": ([32, 64, 128], [2, 4, 8], 64),
              "scoring": ([32, 64, 128], [2, 4, 8], 64)},
}


# ----------------------------------------------------------------------------- the fit
def loglog_slope(sizes: list[float], times: list[float]) -> float:
    """Least-squares slope of log(time) on log(size)."""
    xs, ys = [math.log(s) for s in sizes], [math.log(max(t, 1e-9)) for t in times]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def prepare(ctx: dict, stages: list[str]) -> dict[str, str]:
    """Build the tiny backbone and (for scoring) a trained PRM; returns {stage: why not runnable}."""
    problems = {}
    for name in stages:
        mod = {"labeling": "prm.labeling.direct", "training": "prm.train", "scoring": "prm.scoring"}[name]
        try:
            __import__(mod)
        except Exception as e:  # report, do not estimate
            problems[name] = f"{mod} not importable: {type(e).__name__}: {e}"
    if {"training", "scoring"} & (set(stages) - set(problems)):
        from prm.tiny import build_tiny_causal_lm

        rows = dataset(300, 6, seed=99)
        texts = [r["question"] + MATH_SEP + MATH_SEP.join(r["steps"]) for r in rows]
        ctx["backbone"] = str(build_tiny_causal_lm(Path(ctx["tmp"]) / "backbone", texts))
    if "scoring" in stages and "scoring" not in problems:
        if "training" in problems:
            problems["scoring"] = "needs a trained PRM and training is not available: " + problems["training"]
        else:
            saved = ctx["repeats"]
            ctx["repeats"] = 1
            stage_training(dataset(64, 4, seed=7), ctx)
            ctx["repeats"] = saved
            ctx["prm_dir"] = ctx["last_model"]
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 smaller sizes per axis")
    ap.add_argument("--stages", nargs="*", default=list(STAGES), choices=list(STAGES))
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats per size (median reported)")
    args = ap.parse_args()

    sizes = SIZES["quick" if args.quick else "full"]
    gflops = matmul_gflops()
    rows_out: list[Row] = []
    notes: list[str] = [f"measured matmul rate: {gflops:.1f} GFLOP/s (float32, torch.matmul 1024^3)"]
    table: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench_growth_") as tmp:
        ctx = {"tmp": tmp, "repeats": args.repeats}
        problems = prepare(ctx, args.stages)
        for stage in args.stages:
            if stage in problems:
                notes.append(f"{stage}: NOT RUN — {problems[stage]}")
                continue
            by_samples, by_len, n_for_len = sizes[stage]
            for axis, points in (("samples", [(n, 4) for n in by_samples]), ("length", [(n_for_len, k) for k in by_len])):
                times, infos = [], []
                for n, k in points:
                    t0 = time.perf_counter()
                    secs, info = STAGES[stage](dataset(n, k), ctx)
                    times.append(secs)
                    infos.append(info)
                    print(f"  {stage:<9} {axis:<7} n={n:<4} steps={k:<3} median {secs:.3f} s "
                          f"(wall {time.perf_counter() - t0:.1f} s)", flush=True)
                xs = [n if axis == "samples" else k for n, k in points]
                slope = loglog_slope(xs, times)
                table[f"{stage}/{axis}"] = {"sizes": xs, "seconds": times, "slope": slope, "info": infos}
                rows_out.append(Row(f"{stage} time vs #{'samples' if axis == 'samples' else 'steps per solution'}: "
                                    f"log-log slope", slope, 1.0, "", "",
                                    note=", ".join(f"{x}: {t:.3f}s" for x, t in zip(xs, times))))
                if infos and "loop_s" in infos[-1]:
                    loops = [i["loop_s"] for i in infos]
                    rows_out.append(Row(f"{stage} loop only (Trainer train_runtime) vs "
                                        f"#{'samples' if axis == 'samples' else 'steps per solution'}: log-log slope",
                                        loglog_slope(xs, loops), 1.0, "", "",
                                        note=", ".join(f"{x}: {t:.3f}s" for x, t in zip(xs, loops))))
                if infos and "flops" in infos[-1]:
                    bound = infos[-1]["flops"] / (gflops * 1e9)
                    notes.append(f"{stage}/{axis} at the largest size: {infos[-1]['tokens']} tokens, "
                                 f"{infos[-1]['flops'] / 1e9:.2f} GFLOP -> bound {bound:.4f} s, measured {times[-1]:.3f} s "
                                 f"({times[-1] / bound:.0f}x bound)"
                                 + (f"; training loop alone {infos[-1]['loop_s']:.3f} s ({infos[-1]['loop_s'] / bound:.0f}x bound)"
                                    if "loop_s" in infos[-1] else ""))
        if "scorer" in ctx:
            ctx["scorer"].close()
    report("growth", "Growth: labeling, training and scoring time vs #samples and solution length", rows_out,
           ours="measured slope", theirs="linear", notes=notes, extra={"table": table, "quick": args.quick})
    return 0


if __name__ == "__main__":
    sys.exit(main())
