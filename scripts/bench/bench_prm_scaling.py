"""PRM learning curve: best-of-16 and step/sample AUROC against training-set size, PRM vs ORM vs majority.

    python scripts/bench/bench_prm_scaling.py                      # sizes 256,1024,4096,12800 (~40 min, 2 cores)
    python scripts/bench/bench_prm_scaling.py --quick              # sizes 256,1024 on smaller pools (~8 min)
    python scripts/bench/bench_prm_scaling.py --sizes 256,4096 --backbone policy

What it does, on the embedded math tasks with the shipped tiny policy (vLLM when installed):
1. pools, cached under --work: a TEST pool (the math_test split, 200 problems x 16 samples), a
   VALIDATION pool (problems 320-399 of the train split, x 16) and a TRAIN pool (the rest of the
   train stream, 8 samples each, up to the largest size); train samples are labeled `direct` (the
   sympy step checker: no rollouts) and `outcome` (the ORM's label) on the very same samples;
2. for each size: a token-classification PRM on the first SIZE direct-labeled samples and an ORM on
   their outcome labels, both from --backbone (the judge by default, prm/judge.py), at the fixed
   recipe below; every model is scored on the validation and the test pool;
3. reported per size: best-of-16 accuracy of the PRM (min aggregation) and the ORM next to majority
   vote, with the paired 95% interval of PRM - majority; step AUROC against the sympy verdicts; pooled
   sample AUROC and the within-problem AUROC (correct vs wrong samples of the same problem, averaged
   over problems: what best-of-N needs); plus the zero-training likelihood ratio judge / policy.

The recipe (lr 1e-3, batch 16, max(600, 2 epochs) steps, bare "\\n\\n" separator) was fixed on the
validation pool before the test pool was scored (docs/prm_diagnosis.md); nothing here is chosen on
the test pool. Validation numbers are printed beside the test numbers, apart. MC and binary labels
at these sizes are not run here: a rollout per step prefix per sample at 12,800 samples is hours of
CPU (`prm label --method binary` does it on a GPU machine).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import Row, report  # noqa: E402

TEST_N, VAL_N, TRAIN_N = 16, 16, 8
VAL = (320, 400)            # train-stream indices held out for validation


def sample_pools(work: Path, n_train_problems: int, n_test: int) -> None:
    """Sample and label the three pools into `work` (skipped when present)."""
    from prm.labeling import label_pairs
    from prm.policy import ensure_policy
    from prm.records import Sample, write_jsonl_atomic
    from prm.sampler import EngineConfig, make_sampler
    from prm.search import STRATEGIES
    from prm.search.best_of_n import BestOfNConfig
    from prm.tasks import generate_split, load_tasks

    stream = generate_split("math_train", max(VAL[1], n_train_problems + (VAL[1] - VAL[0])))
    train = stream[:VAL[0]] + stream[VAL[1]:][: max(0, n_train_problems - VAL[0])]
    todo = [(name, probs, n) for name, probs, n in (("test", load_tasks("math_test")[:n_test], TEST_N),
                                                     ("val", stream[VAL[0]:VAL[1]], VAL_N), ("train", train, TRAIN_N))
            if not (work / f"{name}_outcome.jsonl").exists()]
    if not todo:
        return
    sampler = make_sampler(EngineConfig(model=str(ensure_policy("math")), seed=0))
    try:
        for name, probs, n in todo:
            res = STRATEGIES["bon"].run(probs, sampler, {}, BestOfNConfig(n=n, temperature=1.0, max_tokens=160))
            write_jsonl_atomic(work / f"{name}.jsonl", [s for r in res for s in r.samples])
            pairs = [(p, Sample(p.id, s.extra["text"], s.steps)) for p, r in zip(probs, res) for s in r.samples
                     if s.steps]
            write_jsonl_atomic(work / f"{name}_direct.jsonl", label_pairs("direct", pairs))
            write_jsonl_atomic(work / f"{name}_outcome.jsonl", label_pairs("outcome", pairs))
            print(f"pool {name}: {len(probs)} problems x {n}", flush=True)
    finally:
        sampler.close()


def questions() -> dict:
    from prm.tasks import generate_split, load_tasks

    return {p.id: p.question for p in [*load_tasks("math_test"), *generate_split("math_train", 4000)]}


def first_error(verdicts) -> list:
    out, bad = [], False
    for v in verdicts or []:
        bad = bad or v is False
        out.append(None if (v is None and not bad) else not bad)
    return out


def evaluate(recs, step_scores, *, seed: int = 0) -> dict:
    """The numbers best-of-N needs, from a pool and per-step scores in (0, 1)."""
    from prm.eval.metrics import auroc
    from prm.eval.summary import pool_summary
    from prm.records import PoolRecord
    from prm.search.aggregate import aggregate

    agg = [aggregate(s, "min") for s in step_scores]
    ss, ll = zip(*[(s, bool(v)) for r, sc in zip(recs, step_scores) for s, v in zip(sc, r.step_verdicts or [])
                   if v is not None and not math.isnan(s)]) or ([], [])
    by = defaultdict(list)
    for r, a in zip(recs, agg):
        by[r.problem_id].append((a, r.correct))
    within = [x for x in (auroc([a for a, _ in v], [c for _, c in v]) for v in by.values()) if x is not None]
    scored = [PoolRecord.from_dict({**r.to_dict(), "scores": {"rm": [float(x) for x in sc] or [0.0]}})
              for r, sc in zip(recs, step_scores)]
    curves, _, block = pool_summary(scored, "math", repeats=200, seed=seed, aggregation="min")
    m, d = block["bon"]["methods"], curves.paired_delta("rm:min", "majority")
    return {"bo16": m["rm:min"]["mean"][-1], "majority": m["majority"]["mean"][-1], "random": m["random"]["mean"][-1],
            "oracle": m["oracle"]["mean"][-1], "weighted": m["weighted:rm:min"]["mean"][-1],
            "delta_vs_majority": [d["mean"][-1], d["lo"][-1], d["hi"][-1]],
            "step_auroc": auroc(list(ss), list(ll)), "sample_auroc": auroc(agg, [r.correct for r in recs]),
            "within_auroc": sum(within) / len(within) if within else None}


def score(scorer, recs, qs) -> list[list[float]]:
    out = scorer.score_batch([(qs[r.problem_id], r.steps or [""]) for r in recs])
    if scorer.kind == "orm":   # one score per sample: as a one-step PRM, so min/prod/last are that score
        out = [[s[0]] for s in out]
    return out


def subset(path: Path, size: int, dest: Path) -> Path:
    lines = path.read_text().splitlines()
    if size > len(lines):
        raise SystemExit(f"{path}: {len(lines)} records < size {size}; give fewer/smaller --sizes")
    dest.write_text("\n".join(lines[:size]) + "\n")
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="256,1024,4096,12800", help="training-set sizes (samples), comma-separated")
    ap.add_argument("--backbone", default="judge", help="judge | policy | a model directory")
    ap.add_argument("--work", default="runs/bench_prm_scaling", help="pools, models and results (reused)")
    ap.add_argument("--quick", action="store_true", help="sizes 256,1024; 60 test problems")
    ap.add_argument("--no-save", action="store_true", help="print only (no scripts/bench/results line)")
    a = ap.parse_args()
    import torch

    from prm.eval.plots import plt   # matplotlib with the Agg backend chosen
    from prm.judge import ensure_judge
    from prm.policy import ensure_policy
    from prm.records import PoolRecord
    from prm.scoring import load_scorer
    from prm.scoring.implicit import write_ratio_settings
    from prm.train import TrainConfig, train_rm

    torch.set_num_threads(1)
    sizes = [256, 1024] if a.quick else [int(x) for x in a.sizes.split(",")]
    work = Path(a.work)
    (work / "pools").mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    sample_pools(work / "pools", n_train_problems=math.ceil(max(sizes) / TRAIN_N) + VAL[1] - VAL[0],
                 n_test=60 if a.quick else 200)
    policy = ensure_policy("math")
    backbone = {"judge": lambda: ensure_judge("math", policy_dir=policy), "policy": lambda: policy}.get(
        a.backbone, lambda: Path(a.backbone))()
    qs = questions()
    pools = {k: [PoolRecord.from_dict(json.loads(x)) for x in (work / "pools" / f"{k}.jsonl").read_text().splitlines()]
             for k in ("val", "test")}
    results: dict = {"sizes": sizes, "backbone": str(backbone), "pools": {k: len(v) for k, v in pools.items()}, "runs": {}}
    if Path(backbone) != Path(policy):
        write_ratio_settings(work / "ratio", model=str(backbone), ref_model=str(policy), beta=1.0, sep="\n\n",
                             step_score="r")
        sc = load_scorer(str(work / "ratio"))
        results["runs"]["ratio"] = {k: evaluate(v, score(sc, v, qs)) for k, v in pools.items()}
    for size in sizes:
        for kind, labels in (("prm", "direct"), ("orm", "outcome")):
            out = work / f"{kind}-{size}"
            if not (out / "config.json").exists():
                train_file = subset(work / "pools" / f"train_{labels}.jsonl", size, work / f"train_{labels}_{size}.jsonl")
                train_rm(TrainConfig(model=str(backbone), train_file=str(train_file), output_dir=str(out), objective=kind,
                                     sep="\n\n", max_steps=max(600, math.ceil(2 * size / 16)),
                                     per_device_train_batch_size=16, learning_rate=1e-3, warmup_ratio=0.05,
                                     resume=False, save_steps=10 ** 6, logging_steps=100), progress=False)
            sc = load_scorer(str(out), backend="transformers")
            results["runs"][f"{kind}-{size}"] = {k: evaluate(v, score(sc, v, qs)) for k, v in pools.items()}
            t = results["runs"][f"{kind}-{size}"]["test"]
            print(f"{kind} n={size}: test best-of-16 {t['bo16']:.3f} (majority {t['majority']:.3f}), "
                  f"within-problem AUROC {t['within_auroc']:.3f}, step AUROC {t['step_auroc']}", flush=True)
    results["seconds"] = round(time.time() - t0)
    (work / "results.json").write_text(json.dumps(results, indent=1))
    fig, ax = plt.subplots(figsize=(6, 4))
    for kind, style in (("prm", "o-"), ("orm", "s--")):
        ax.plot(sizes, [results["runs"][f"{kind}-{n}"]["test"]["bo16"] for n in sizes], style, label=f"{kind} best-of-16")
    t0r = results["runs"][f"prm-{sizes[0]}"]["test"]
    for name, y, style in (("majority", t0r["majority"], ":"), ("random sample", t0r["random"], "-."),
                           ("pass@16", t0r["oracle"], "-")):
        ax.axhline(y, linestyle=style, color="grey", label=name)
    if "ratio" in results["runs"]:
        ax.axhline(results["runs"]["ratio"]["test"]["bo16"], color="green", label="likelihood ratio (no training)")
    ax.set_xscale("log"), ax.set_xlabel("training samples"), ax.set_ylabel("accuracy (test, N=16)"), ax.legend(fontsize=7)
    fig.savefig(work / "prm_scaling.png", dpi=120)
    rows = []
    for n in sizes:
        t, v = results["runs"][f"prm-{n}"]["test"], results["runs"][f"prm-{n}"]["val"]
        o = results["runs"][f"orm-{n}"]["test"]
        d = t["delta_vs_majority"]
        rows += [Row(f"n={n}: PRM best-of-16 vs majority (test)", t["bo16"], t["majority"],
                     note=f"paired diff {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]; val {v['bo16']:.3f} vs {v['majority']:.3f}"),
                 Row(f"n={n}: PRM vs ORM best-of-16 (test)", t["bo16"], o["bo16"]),
                 Row(f"n={n}: PRM within-problem AUROC vs 0.5 (test)", t["within_auroc"], 0.5,
                     note=f"step AUROC {t['step_auroc']:.3f}, sample AUROC {t['sample_auroc']:.3f}")]
    if "ratio" in results["runs"]:
        r = results["runs"]["ratio"]["test"]
        rows.append(Row("likelihood ratio judge/policy, no training: best-of-16 vs majority (test)", r["bo16"],
                        r["majority"], note=f"within-problem AUROC {r['within_auroc']:.3f}, step AUROC {r['step_auroc']:.3f}"))
    report("prm_scaling", "PRM learning curve: best-of-16 vs training-set size (math, tiny policy)", rows,
           ours="reward model", theirs="baseline", save=not a.no_save, extra=results,
           notes=[f"backbone {Path(backbone).name}; test pool {len(pools['test'])} samples, validation "
                  f"{len(pools['val'])}; plot {work / 'prm_scaling.png'}; {results['seconds']} s"])


if __name__ == "__main__":
    main()
