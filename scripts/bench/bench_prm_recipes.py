"""PRM training recipes on the VALIDATION pool: can a recipe make the token-classification PRM read what its
backbone knows? (issue #18: learning rate, freezing or a lower rate for the backbone, hard negatives,
overfitting.)

    python scripts/bench/bench_prm_recipes.py                    # every recipe (about 25 min on 2 cores)
    python scripts/bench/bench_prm_recipes.py --only probe,hard-negatives

It reuses the pools of `bench_prm_scaling.py` (run that first, or this samples them the same way) and
reports validation numbers only: problems 320-399 of the train split x 16 samples. The test pool is
never scored here, so these numbers may be used to choose a recipe.

Recipes (each a token-classification PRM from the judge backbone on direct sympy labels):
- baseline        lr 1e-3 for every weight, max(600, 2 epochs) steps: the learning curve's recipe
- probe           backbone frozen (--backbone-lr 0), head at lr 1e-2: is the check linearly readable
                  at the separator of the judge's hidden state?
- low-backbone-lr head at 1e-3, backbone at 1e-4 (--backbone-lr 1e-4)
- hard-negatives  the 12,800 natural samples plus perturbed copies of the correct ones: one checked
                  equation's result changed (n+1, n-10, a digit, ...), relabeled by the sympy checker
                  (so the perturbed step is wrong by the checker, not by assumption), each with its
                  unperturbed twin; one epoch. The contrast is exactly "30 / 2 = 15" vs "= 10".
- best-on-eval    small sets (256 and 1,024 samples): the held-out loss on the validation labels is
                  followed and the best checkpoint kept (--best-on-eval), against overfitting.
- deep-backbone   the baseline recipe from an 8-layer judge: the judge's 4 layers, each followed by a
                  copy whose output projections are zeroed (so it starts as the identity and computes
                  exactly what the judge computes), giving the fine-tune twice the depth to build the
                  "was this the number the model expected" comparison in. No further LM training: the
                  judge's loss on its reference solutions is already 0.005, nothing left to learn there.

Reported per recipe: best-of-16 (min) and PRM-weighted vote against majority, within-problem AUROC,
step AUROC against the sympy verdicts, and the per-step log loss on training labels vs validation labels.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_prm_scaling as scaling  # noqa: E402
from common import Row, report  # noqa: E402

RESULT = re.compile(r"=\s*(-?\d+)(?=[^\d]*$)")     # the last "= N" of a step: the result it states


def mutate(n: int, rng: random.Random) -> int:
    """Another integer a model could plausibly have written for n."""
    s = str(abs(n))
    options = [n + 1, n - 1, n + 10, n - 10, n * 2, n + rng.randint(2, 9), n - rng.randint(2, 9)]
    if len(s) >= 2:
        i = rng.randrange(len(s))
        digit = str((int(s[i]) + rng.randint(1, 9)) % 10)
        sign = "-" if n < 0 else ""
        options += [int(sign + s[:i] + digit + s[i + 1:]), int(sign + s[::-1])]
    return rng.choice([o for o in options if o != n])


def hard_negatives(rows: list[dict], seed: int) -> list[dict]:
    """Perturbed prefixes of the correct samples, each with its unperturbed twin: the prefix up to a step whose
    checked equation states a result, with that result changed, labeled by the sympy step checker."""
    from verifiers.math.steps import check_step

    rng, out = random.Random(seed), []
    for r in rows:
        if not r.get("outcome") or not all(x is True for x in r["labels"]):
            continue
        steps = r["completions"]
        cand = [i for i, s in enumerate(steps[:-1]) if RESULT.search(s) and check_step(s).correct is True]
        if not cand:
            continue
        k = rng.choice(cand)
        m = list(RESULT.finditer(steps[k]))[-1]
        wrong = steps[k][:m.start(1)] + str(mutate(int(m.group(1)), rng)) + steps[k][m.end(1):]
        if check_step(wrong).correct is not False:      # the checker, not the mutation, decides the label
            continue
        base = {"prompt": r["prompt"], "problem_id": r["problem_id"], "domain": r.get("domain", "math")}
        out += [{**base, "sample_id": f"{r['sample_id']}:neg{seed}", "completions": steps[:k] + [wrong],
                 "labels": [True] * k + [False]},
                {**base, "sample_id": f"{r['sample_id']}:pos{seed}", "completions": steps[:k + 1],
                 "labels": [True] * (k + 1)}]
    return out


def deepen(src: Path, dest: Path) -> Path:
    """An up-scaled copy of the causal LM in `src` with twice the layers, computing the same function."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if (dest / "config.json").exists():
        return dest
    base = AutoModelForCausalLM.from_pretrained(str(src), dtype=torch.float32)
    cfg = type(base.config).from_dict({**base.config.to_dict(), "num_hidden_layers": 2 * base.config.num_hidden_layers})
    deep = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    old, new = base.state_dict(), deep.state_dict()
    for k in new:
        if not k.startswith("model.layers."):
            new[k] = old[k].clone()
            continue
        i, rest = int(k.split(".")[2]), ".".join(k.split(".")[3:])
        new[k] = old[f"model.layers.{i // 2}.{rest}"].clone()
        if i % 2 and rest.endswith(("o_proj.weight", "down_proj.weight")):
            new[k].zero_()        # the residual branch adds nothing: an identity layer
    deep.load_state_dict(new)
    deep.save_pretrained(dest)
    AutoTokenizer.from_pretrained(str(src)).save_pretrained(dest)
    return dest


def log_loss(scorer, path: Path, limit: int) -> float:
    """Mean per-step log loss of the scorer's probabilities against a stepwise file's hard labels."""
    recs = [json.loads(x) for x in path.read_text().splitlines()[:limit]]
    scores = scorer.score_batch([(r["prompt"], r["completions"]) for r in recs])
    total = n = 0
    for r, s in zip(recs, scores):
        for y, p in zip(r["labels"], s):
            if y is None or p is None or math.isnan(p):
                continue
            p = min(max(p, 1e-7), 1 - 1e-7)
            total -= math.log(p if y else 1 - p)
            n += 1
    return total / n


RECIPES = {   # name -> (training-set sizes, TrainConfig overrides, label file maker)
    "baseline": ((12800,), {}, "natural"),
    "probe": ((12800,), {"learning_rate": 1e-2, "backbone_lr": 0.0}, "natural"),
    "low-backbone-lr": ((12800,), {"backbone_lr": 1e-4}, "natural"),
    "hard-negatives": ((12800,), {"epochs": 1}, "hard-negatives"),
    "best-on-eval": ((256, 1024), {"best_on_eval": True, "eval_steps": 50}, "natural"),
    "deep-backbone": ((12800,), {"deep": True}, "natural"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(RECIPES), help=f"comma list of recipes: {', '.join(RECIPES)}")
    ap.add_argument("--work", default="runs/bench_prm_scaling", help="the learning-curve benchmark's folder (pools reused)")
    ap.add_argument("--no-save", action="store_true", help="print only (no scripts/bench/results line)")
    a = ap.parse_args()
    names = [x for x in a.only.split(",") if x]
    if set(names) - set(RECIPES):
        raise SystemExit(f"--only: unknown {sorted(set(names) - set(RECIPES))}; known: {', '.join(RECIPES)}")
    import torch

    from prm.judge import ensure_judge
    from prm.policy import ensure_policy
    from prm.records import PoolRecord
    from prm.scoring import load_scorer
    from prm.train import TrainConfig, train_rm

    torch.set_num_threads(1)
    work, t0 = Path(a.work), time.time()
    pools = work / "pools"
    pools.mkdir(parents=True, exist_ok=True)
    scaling.sample_pools(pools, n_train_problems=math.ceil(12800 / scaling.TRAIN_N) + scaling.VAL[1] - scaling.VAL[0],
                         n_test=200)
    backbone = ensure_judge("math", policy_dir=ensure_policy("math"))
    qs = scaling.questions("math")
    val = [PoolRecord.from_dict(json.loads(x)) for x in (pools / "val.jsonl").read_text().splitlines()]
    natural = (pools / "train_direct.jsonl").read_text().splitlines()
    results, rows = {}, []
    for name in names:
        sizes, over, data = RECIPES[name]
        for size in sizes:
            key, out = f"{name}-{size}", work / "recipes" / f"{name}-{size}"
            train_file = work / "recipes" / f"{key}.train.jsonl"
            if not (out / "config.json").exists():
                out.parent.mkdir(parents=True, exist_ok=True)
                lines = natural[:size]
                if data == "hard-negatives":
                    first = [json.loads(x) for x in lines]
                    lines = lines + [json.dumps(r) for s in (0, 1) for r in hard_negatives(first, s)]
                    random.Random(0).shuffle(lines)
                train_file.write_text("\n".join(lines) + "\n")
                kw = {k: v for k, v in over.items() if k not in ("epochs", "deep")}
                steps = max(600, math.ceil(over.get("epochs", 2) * len(lines) / 16))
                if kw.get("best_on_eval"):
                    kw["eval_file"] = str(pools / "val_direct.jsonl")
                model = deepen(backbone, work / "recipes" / "deep-judge") if over.get("deep") else backbone
                train_rm(TrainConfig(**{"learning_rate": 1e-3, **kw}, model=str(model), train_file=str(train_file),
                                     output_dir=str(out), objective="prm", sep="\n\n", max_steps=steps,
                                     per_device_train_batch_size=16, warmup_ratio=0.05, resume=False,
                                     save_steps=kw.get("eval_steps", 10 ** 6), logging_steps=100), progress=False)
            sc = load_scorer(str(out), backend="transformers")
            r = scaling.evaluate(val, scaling.score(sc, val, qs))
            rep = json.loads((out / "train_report.json").read_text())
            r.update(records=sum(1 for _ in train_file.open()) if train_file.exists() else None,
                     train_loss=log_loss(sc, pools / "train_direct.jsonl", min(size, 2000)),
                     val_loss=log_loss(sc, pools / "val_direct.jsonl", 1280), best=rep.get("best"),
                     train_seconds=rep["train"].get("train_runtime"))
            sc.close()
            results[key] = r
            d = r["delta_vs_majority"]
            print(f"{key}: val best-of-16 {r['bo16']:.3f} (majority {r['majority']:.3f}), weighted {r['weighted']:.3f}, "
                  f"within {r['within_auroc']:.3f}, step AUROC {r['step_auroc']:.3f}, log loss train "
                  f"{r['train_loss']:.3f} / val {r['val_loss']:.3f}", flush=True)
            rows += [Row(f"{key}: best-of-16 vs majority (val)", r["bo16"], r["majority"],
                         note=f"paired {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]; within-problem AUROC {r['within_auroc']:.3f}, "
                              f"step AUROC {r['step_auroc']:.3f}"),
                     Row(f"{key}: weighted vote vs majority (val)", r["weighted"], r["majority"],
                         note=f"log loss train {r['train_loss']:.3f}, val {r['val_loss']:.3f}"
                              + (f"; best step {r['best']['step']}" if r.get("best") else ""))]
    report("prm_recipes", "PRM training recipes (math, validation pool only)", rows, ours="recipe",
           theirs="majority vote", save=not a.no_save, extra={"runs": results, "seconds": round(time.time() - t0)},
           notes=[f"backbone {Path(backbone).name}; validation pool {len(val)} samples; {round(time.time() - t0)} s"])


if __name__ == "__main__":
    main()
