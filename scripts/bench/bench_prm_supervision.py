"""Process vs outcome supervision at equal data, in the implicit (log-ratio) parametrization.

    python scripts/bench/bench_prm_supervision.py                     # 256 to 51,200 from the policy, to 4,096 from the judge
    python scripts/bench/bench_prm_supervision.py --sizes 256,12800 --starts judge
    python scripts/bench/bench_prm_supervision.py --quick             # sizes 256,1024, judge start

The same train samples, labelled two ways by the verifiers (scripts/bench/bench_prm_scaling.py's pools:
`direct` = the sympy step checker's first-error labels, whose records also carry the outcome):
- PRM (process supervision): `prm train --objective implicit --implicit-labels step`: every labelled
  step prefix's cumulative reward q_t = beta * log pi/pi_ref over steps 1..t through a sigmoid against
  that prefix's label;
- ORM (outcome supervision): `--implicit-labels outcome`: only q_T against the final answer's
  correctness (Yuan et al. 2024, "Free Process Rewards without Process Labels").
Two starts, as the issue asks:
- policy: pi_theta and pi_ref both the policy, so the reward starts at exactly zero and whatever
  ranks was learned from the labels (beta 0.05, lr 5e-4: the recipe measured in docs/prm_diagnosis.md);
- judge: pi_theta starts as the judge (prm/judge.py) against the policy, so the reward starts as the
  zero-training likelihood ratio (beta 1, lr 5e-5: chosen on the validation pool, docs/prm_diagnosis.md
  section 7), and the question is whether step labels add to it or erode it.
Steps: max(300, one epoch) at batch 16, warm-up 5%. Reported per size: best-of-16 (min over the step
scores) against majority vote with the paired 95% interval, within-problem AUROC, step AUROC against the
sympy verdicts, PRM minus ORM at equal data with its paired interval, on the validation pool and the
test pool apart (nothing is chosen on the test pool).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_prm_scaling import TRAIN_N, VAL, evaluate, questions, sample_pools, subset  # noqa: E402
from common import Row, report  # noqa: E402

PLOT = Path(__file__).resolve().parents[2] / "docs" / "prm_supervision.png"
RECIPES = {"policy": dict(beta=0.05, learning_rate=5e-4), "judge": dict(beta=1.0, learning_rate=5e-5)}


def train_implicit(model, policy, train_file, out, labels: str, *, max_steps: int, beta: float,
                   learning_rate: float) -> None:
    """One implicit reward model on `labels` ("step" or "outcome") of the direct-labelled `train_file`,
    from `model` against `policy`: the curve's recipe but for the start, beta, rate and step count."""
    from prm.train import TrainConfig, train_rm

    train_rm(TrainConfig(model=str(model), ref_model=str(policy), train_file=str(train_file), output_dir=str(out),
                         objective="implicit", implicit_labels=labels, sep="\n\n", max_steps=max_steps,
                         per_device_train_batch_size=16, warmup_ratio=0.05, resume=False, save_steps=10 ** 6,
                         logging_steps=100, beta=beta, learning_rate=learning_rate), progress=False)


def paired(recs, a_scores, b_scores, seed: int = 0) -> list[float]:
    """Best-of-16 of A minus B on the same pool, with the paired 95% interval (prm.eval's curves)."""
    from prm.eval.summary import pool_summary
    from prm.records import PoolRecord

    scored = [PoolRecord.from_dict({**r.to_dict(), "scores": {"a": [float(x) for x in sa] or [0.0],
                                                              "b": [float(x) for x in sb] or [0.0]}})
              for r, sa, sb in zip(recs, a_scores, b_scores)]
    curves, _, _ = pool_summary(scored, "math", repeats=200, seed=seed, aggregation="min")
    d = curves.paired_delta("a:min", "b:min")
    return [d["mean"][-1], d["lo"][-1], d["hi"][-1]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="256,1024,4096,12800,51200",
                    help="training-set sizes (samples), comma-separated; a size past the cached train pool samples "
                         "the missing problems first (51,200: about 12 minutes of vLLM sampling, then 2 x 11 minutes "
                         "of training)")
    ap.add_argument("--judge-max", type=int, default=4096,
                    help="largest size trained from the judge (each judge-start pair at 12,800 costs ~25 min of CPU; "
                         "there the two stay level with the ratio from 256 on)")
    ap.add_argument("--starts", default="policy,judge", help="policy (reward starts at zero) and/or judge (starts "
                                                             "as the likelihood ratio)")
    ap.add_argument("--work", default="runs/bench_prm_supervision", help="models and results, reused")
    ap.add_argument("--pools", default="runs/bench_prm_scaling/pools", help="pools shared with bench_prm_scaling.py")
    ap.add_argument("--quick", action="store_true", help="--sizes 256,1024 --starts judge")
    ap.add_argument("--no-save", action="store_true", help="print only (no scripts/bench/results line)")
    a = ap.parse_args()
    if a.quick:
        a.sizes, a.starts = "256,1024", "judge"
    import torch

    from prm.eval.plots import plt
    from prm.judge import ensure_judge
    from prm.policy import ensure_policy
    from prm.records import PoolRecord
    from prm.scoring.implicit import ImplicitScorer, write_ratio_settings

    torch.set_num_threads(1)
    t0 = time.time()
    sizes = [int(x) for x in a.sizes.split(",")]
    starts = [s for s in a.starts.split(",") if s]
    if set(starts) - set(RECIPES):
        raise SystemExit(f"--starts: choose from {', '.join(RECIPES)}")
    work, pools_dir = Path(a.work), Path(a.pools)
    work.mkdir(parents=True, exist_ok=True)
    pools_dir.mkdir(parents=True, exist_ok=True)
    sample_pools(pools_dir, n_train_problems=math.ceil(max(max(sizes), 12800) / TRAIN_N) + VAL[1] - VAL[0], n_test=200)
    policy = ensure_policy("math")
    judge = ensure_judge("math", policy_dir=policy)
    qs = questions("math")
    pools = {k: [PoolRecord.from_dict(json.loads(x)) for x in (pools_dir / f"{k}.jsonl").read_text().splitlines()]
             for k in ("val", "test")}

    def scores_of(model_dir: Path) -> dict:
        sc = ImplicitScorer.from_path(str(model_dir))
        return {k: sc.score_batch([(qs[r.problem_id], r.steps or [""]) for r in v]) for k, v in pools.items()}

    results: dict = {"sizes": sizes, "starts": starts, "judge_max": a.judge_max, "recipes": RECIPES, "runs": {}}
    write_ratio_settings(work / "ratio", model=str(judge), ref_model=str(policy), beta=1.0, sep="\n\n", step_score="q")
    ratio = scores_of(work / "ratio")
    results["runs"]["ratio"] = {k: evaluate(pools[k], ratio[k]) for k in pools}
    todo = {s: [n for n in sizes if s == "policy" or n <= a.judge_max] for s in starts}
    for start in starts:
        for size in todo[start]:
            got = {}
            for labels in ("step", "outcome"):
                out = work / f"{start}-{labels}-{size}"
                if not (out / "config.json").exists():
                    tf = subset(pools_dir / "train_direct.jsonl", size, work / f"train_direct_{size}.jsonl")
                    train_implicit(judge if start == "judge" else policy, policy, tf, out, labels,
                                   max_steps=max(300, math.ceil(size / 16)), **RECIPES[start])
                got[labels] = scores_of(out)
                results["runs"][f"{start}-{labels}-{size}"] = {k: evaluate(pools[k], got[labels][k]) for k in pools}
            results["runs"][f"{start}-{size}-process-minus-outcome"] = {
                k: paired(pools[k], got["step"][k], got["outcome"][k]) for k in pools}
            for labels in ("step", "outcome"):
                t = results["runs"][f"{start}-{labels}-{size}"]["test"]
                print(f"{start} {labels} n={size}: test best-of-16 {t['bo16']:.3f} (majority {t['majority']:.3f}), "
                      f"within-problem AUROC {t['within_auroc']:.3f}, step AUROC {t['step_auroc']:.3f}", flush=True)
    results["seconds"] = round(time.time() - t0)
    (work / "results.json").write_text(json.dumps(results, indent=1))

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for start, colour in (("policy", "tab:blue"), ("judge", "tab:green")):
        if start not in starts:
            continue
        for labels, style in (("step", "o-"), ("outcome", "s--")):
            ys = [results["runs"][f"{start}-{labels}-{n}"]["test"] for n in todo[start]]
            name = f"{'PRM (step labels)' if labels == 'step' else 'ORM (outcome labels)'}, from the {start}"
            axes[0].plot(todo[start], [y["bo16"] for y in ys], style, color=colour, label=name)
            axes[1].plot(todo[start], [y["within_auroc"] for y in ys], style, color=colour, label=name)
    r = results["runs"]["ratio"]["test"]
    for name, y, style in (("majority", r["majority"], ":"), ("random sample", r["random"], "-."), ("pass@16", r["oracle"], "-")):
        axes[0].axhline(y, linestyle=style, color="grey", label=name)
    axes[0].axhline(r["bo16"], color="black", linewidth=0.8, label="likelihood ratio (no training)")
    axes[1].axhline(r["within_auroc"], color="black", linewidth=0.8, label="likelihood ratio (no training)")
    axes[1].axhline(0.5, linestyle=":", color="grey", label="chance")
    for ax, ylab in zip(axes, ("best-of-16 accuracy (test)", "within-problem AUROC (test)")):
        ax.set_xscale("log"), ax.set_xlabel("training samples"), ax.set_ylabel(ylab)
        ax.set_xticks(sizes, [f"{n:,}" for n in sizes]), ax.minorticks_off()
    axes[0].legend(fontsize=6)
    fig.suptitle("math, implicit parametrization: process (step labels) vs outcome supervision at equal data", fontsize=9)
    fig.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(PLOT, dpi=120)

    rows = []
    for start in starts:
        for n in todo[start]:
            p, o = (results["runs"][f"{start}-{lab}-{n}"] for lab in ("step", "outcome"))
            d, dv = (results["runs"][f"{start}-{n}-process-minus-outcome"][k] for k in ("test", "val"))
            rows.append(Row(f"from {start}, n={n}: best-of-16, PRM (step) vs ORM (outcome) (test)", p["test"]["bo16"],
                            o["test"]["bo16"], note=f"paired diff {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]; majority "
                                                    f"{p['test']['majority']:.3f}; val {p['val']['bo16']:.3f} vs "
                                                    f"{o['val']['bo16']:.3f} (diff {dv[0]:+.3f} [{dv[1]:+.3f}, {dv[2]:+.3f}])"))
            rows.append(Row(f"from {start}, n={n}: within-problem AUROC, PRM vs ORM (test)", p["test"]["within_auroc"],
                            o["test"]["within_auroc"], note=f"step AUROC {p['test']['step_auroc']:.3f} vs "
                                                            f"{o['test']['step_auroc']:.3f}; val within "
                                                            f"{p['val']['within_auroc']:.3f} vs {o['val']['within_auroc']:.3f}"))
    rows.append(Row("likelihood ratio judge/policy (q), no training: best-of-16 vs majority (test)", r["bo16"], r["majority"],
                    note=f"within-problem AUROC {r['within_auroc']:.3f}, step AUROC {r['step_auroc']:.3f}"))
    report("prm_supervision", "Process vs outcome supervision at equal data (implicit parametrization, math)", rows,
           ours="PRM (step labels)", theirs="ORM (outcome labels)", save=not a.no_save, extra=results,
           notes=[f"recipes {RECIPES}; steps max(300, one epoch) at batch 16", f"plot "
                  f"{PLOT.relative_to(PLOT.parents[1])}; {results['seconds']} s"])


if __name__ == "__main__":
    main()
