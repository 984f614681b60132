"""PRM size curve: does a bigger backbone make the token-classification PRM rank? Judges of several
sizes, each with a PRM (direct step labels) and an ORM (outcome labels) on the same samples.

    python scripts/bench/bench_prm_size.py                             # sizes 4x64, 4x128, 4x256 and the shipped judge
    python scripts/bench/bench_prm_size.py --sizes 4x64,policy --n 1024  # smaller, faster
    python scripts/bench/bench_prm_size.py --train-judges              # train the judges not yet cached (hours)

What it does, on the embedded math tasks with the shipped tiny policy:
1. the pools of scripts/bench/bench_prm_scaling.py (a 200 x 16 TEST pool, an 80 x 16 VALIDATION pool of
   train-split problems, a TRAIN pool labelled `direct` and `outcome`), sampled once and shared;
2. a judge per size (prm/judge.py). "policy" is the shipped judge: the policy's own shape (4 x 128, about
   0.8M parameters), continued from the policy's weights for 1,500 steps. Any LxH is a fresh model with
   the policy's tokenizer trained from scratch on the judge's texts for the policy's own 600 steps
   (`prm.judge.sized`; 4x128 is the control for the shipped judge); trained once into the cache
   (--train-judges; 4x256 took about 35 minutes on a shared core);
3. at each size: the zero-training likelihood ratio judge / policy, a token-classification PRM on the first
   --n direct-labelled samples and an ORM on their outcome labels, both from that judge at one fixed recipe
   (the learning curve's: lr 1e-3, batch 16, warm-up 5%, max(600, 2 epochs) steps; --steps overrides);
4. reported per size and model: best-of-16 against majority vote with the paired 95% interval,
   within-problem AUROC (what best-of-N needs), step AUROC against the sympy verdicts, on the
   validation pool and the test pool apart. Nothing is chosen on the test pool.

The question it answers is the one a user sizing a PRM asks: at what size does the token-classification
PRM cross majority vote? The report says where the curve crosses, or that it does not within the sizes
measured, and extrapolates nothing it did not measure.
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
from bench_prm_scaling import TRAIN_N, VAL, evaluate, questions, sample_pools, score, subset  # noqa: E402
from common import Row, report  # noqa: E402

PLOT = Path(__file__).resolve().parents[2] / "docs" / "prm_size.png"


def judge_for(size: str, policy: Path, train: bool) -> tuple[Path | None, str]:
    """(judge dir, note): "policy" is the shipped judge; LxH the size curve's judge from the cache
    (trained now with `train`)."""
    from prm.judge import ensure_judge, find_judge, sized

    if size == "policy":
        return find_judge(policy, "math")
    layers, hidden = (int(x) for x in size.split("x"))
    cfg = sized("math", layers, hidden)
    path, note = find_judge(policy, "math", cfg=cfg)
    if path is None and train:
        return ensure_judge("math", policy_dir=policy, cfg=cfg), "trained now"
    return path, note


def n_params(model_dir: Path) -> int:
    from transformers import AutoConfig

    c = AutoConfig.from_pretrained(str(model_dir))
    emb = c.vocab_size * c.hidden_size   # tied input/output embedding
    kv = c.num_key_value_heads * (c.hidden_size // c.num_attention_heads)
    layer = c.hidden_size * (2 * c.hidden_size + 2 * kv) + 3 * c.hidden_size * c.intermediate_size + 2 * c.hidden_size
    return emb + c.num_hidden_layers * layer + c.hidden_size


def label(size: str, model_dir: Path) -> str:
    from transformers import AutoConfig

    c = AutoConfig.from_pretrained(str(model_dir))
    return f"{c.num_hidden_layers}x{c.hidden_size}"


def plot(results: dict, sizes: list) -> None:
    """docs/prm_size.png: best-of-16 and within-problem AUROC (test) against judge parameters."""
    from prm.eval.plots import plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    fresh = [(r["params"] / 1e6, n, r) for n, r in sizes if not r["from_policy"]]   # one recipe: the curve's lines
    shipped = [(r["params"] / 1e6, n, r) for n, r in sizes if r["from_policy"]]    # the shipped judge: markers apart
    for kind, style, colour, what in (("prm", "o-", "tab:blue", "token-classification PRM (direct labels)"),
                                      ("orm", "s--", "tab:orange", "ORM (outcome labels)"),
                                      ("ratio", "^-", "tab:green", "likelihood ratio judge/policy (no training)")):
        for ax, metric in zip(axes, ("bo16", "within_auroc")):
            ax.plot([x for x, _, _ in fresh], [r["runs"][kind]["test"][metric] for _, _, r in fresh], style,
                    color=colour, label=what)
            ax.plot([x for x, _, _ in shipped], [r["runs"][kind]["test"][metric] for _, _, r in shipped], "*",
                    color=colour, markersize=11, label=f"{what.split(' (')[0]}, shipped 4x128 judge")
    t0r = sizes[0][1]["runs"]["prm"]["test"]
    for name, y, style in (("majority", t0r["majority"], ":"), ("random sample", t0r["random"], "-."),
                           ("pass@16", t0r["oracle"], "-")):
        axes[0].axhline(y, linestyle=style, color="grey", label=name)
    axes[1].axhline(0.5, linestyle=":", color="grey", label="chance")
    for ax, ylab in zip(axes, ("best-of-16 accuracy (test)", "within-problem AUROC (test)")):
        ax.set_xscale("log"), ax.set_xlabel("judge parameters (fresh judges trained from scratch)"), ax.set_ylabel(ylab)
        ax.set_xticks([x for x, _, _ in fresh], [f"{n}\n{x:.2f}M" for x, n, _ in fresh]), ax.minorticks_off()
    axes[0].legend(fontsize=6, loc="center left")
    fig.suptitle(f"math, tiny policy: reward models by backbone size ({results['n']} training samples, "
                 f"{results['steps']} steps)", fontsize=9)
    fig.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(PLOT, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="4x64,4x128,4x256,policy",
                    help="judge sizes, comma-separated: LAYERSxHIDDEN (fresh, trained from scratch) or policy "
                         "(the shipped judge, 4x128 continued from the policy)")
    ap.add_argument("--n", type=int, default=4096, help="training samples per reward model")
    ap.add_argument("--steps", type=int, default=0,
                    help="optimizer steps per reward model (batch 16); 0: the learning curve's max(600, 2 epochs)")
    ap.add_argument("--train-judges", action="store_true",
                    help="train the judges not yet cached (4x256: about 35 min on one busy core); else skip them")
    ap.add_argument("--work", default="runs/bench_prm_size", help="models and results, reused")
    ap.add_argument("--pools", default="runs/bench_prm_scaling/pools", help="pools shared with bench_prm_scaling.py")
    ap.add_argument("--quick", action="store_true", help="--sizes 4x64,policy --n 256 --steps 100")
    ap.add_argument("--no-save", action="store_true", help="print only (no scripts/bench/results line)")
    ap.add_argument("--replot", action="store_true", help="only redraw docs/prm_size.png from WORK/results.json")
    a = ap.parse_args()
    if a.replot:
        res = json.loads((Path(a.work) / "results.json").read_text())
        return plot(res, sorted(res["sizes"].items(), key=lambda kv: kv[1]["params"]))
    if a.quick:
        a.sizes, a.n, a.steps = "4x64,policy", 256, 100
    a.steps = a.steps or max(600, math.ceil(2 * a.n / 16))
    import torch

    from prm.policy import ensure_policy
    from prm.records import PoolRecord
    from prm.scoring import load_scorer
    from prm.scoring.implicit import write_ratio_settings
    from prm.train import TrainConfig, train_rm

    torch.set_num_threads(1)
    t0 = time.time()
    work, pools_dir = Path(a.work), Path(a.pools)
    work.mkdir(parents=True, exist_ok=True)
    pools_dir.mkdir(parents=True, exist_ok=True)
    sample_pools(pools_dir, n_train_problems=math.ceil(max(a.n, 12800) / TRAIN_N) + VAL[1] - VAL[0], n_test=200)
    policy = ensure_policy("math")
    qs = questions("math")
    pools = {k: [PoolRecord.from_dict(json.loads(x)) for x in (pools_dir / f"{k}.jsonl").read_text().splitlines()]
             for k in ("val", "test")}
    results: dict = {"n": a.n, "steps": a.steps, "sizes": {}, "skipped": {}}
    for size in [s.strip() for s in a.sizes.split(",") if s.strip()]:
        judge, note = judge_for(size, policy, a.train_judges)
        if judge is None:
            results["skipped"][size] = note
            print(f"size {size}: skipped ({note}; --train-judges trains it)", flush=True)
            continue
        name = label(size, judge)
        name = "4x128 shipped" if size == "policy" else name
        row: dict = {"judge": str(judge), "params": n_params(judge), "from_policy": size == "policy", "runs": {}}
        tag = name.replace(" ", "-")
        write_ratio_settings(work / f"ratio-{tag}", model=str(judge), ref_model=str(policy), beta=1.0, sep="\n\n",
                             step_score="r")
        sc = load_scorer(str(work / f"ratio-{tag}"))
        row["runs"]["ratio"] = {k: evaluate(v, score(sc, v, qs)) for k, v in pools.items()}
        for kind, labels in (("prm", "direct"), ("orm", "outcome")):
            out = work / f"{kind}-{tag}-{a.n}-s{a.steps}"
            if not (out / "config.json").exists():
                tf = subset(pools_dir / f"train_{labels}.jsonl", a.n, work / f"train_{labels}_{a.n}.jsonl")
                train_rm(TrainConfig(model=str(judge), train_file=str(tf), output_dir=str(out), objective=kind, sep="\n\n",
                                     max_steps=a.steps, per_device_train_batch_size=16,
                                     learning_rate=1e-3, warmup_ratio=0.05, resume=False, save_steps=10 ** 6,
                                     logging_steps=100), progress=False)
            sc = load_scorer(str(out), backend="transformers")
            row["runs"][kind] = {k: evaluate(v, score(sc, v, qs)) for k, v in pools.items()}
        results["sizes"][name] = row
        for kind in ("prm", "orm", "ratio"):
            t = row["runs"][kind]["test"]
            print(f"{name} ({row['params'] / 1e6:.2f}M) {kind}: test best-of-16 {t['bo16']:.3f} (majority "
                  f"{t['majority']:.3f}), within-problem AUROC {t['within_auroc']:.3f}, step AUROC {t['step_auroc']:.3f}",
                  flush=True)
    results["seconds"] = round(time.time() - t0)
    (work / "results.json").write_text(json.dumps(results, indent=1))
    sizes = sorted(results["sizes"].items(), key=lambda kv: kv[1]["params"])
    if not sizes:
        raise SystemExit("no size had a judge: run with --train-judges")
    plot(results, sizes)
    rows, crossed = [], []
    for name, r in sizes:
        for kind in ("prm", "orm", "ratio"):
            t, v = r["runs"][kind]["test"], r["runs"][kind]["val"]
            d = t["delta_vs_majority"]
            if kind == "prm" and d[1] > 0:
                crossed.append(name)
            rows.append(Row(f"{name} ({r['params'] / 1e6:.2f}M) {kind}: best-of-16 vs majority (test)", t["bo16"],
                            t["majority"], note=f"paired diff {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]; within-problem "
                                                f"AUROC {t['within_auroc']:.3f}, step AUROC {t['step_auroc']:.3f}; val "
                                                f"best-of-16 {v['bo16']:.3f} vs majority {v['majority']:.3f}, within "
                                                f"{v['within_auroc']:.3f}"))
    finding = (f"the token-classification PRM beats majority vote (interval above zero) from {crossed[0]} on"
               if crossed else
               f"the token-classification PRM does not cross majority vote at any size measured "
               f"({', '.join(n for n, _ in sizes)}; {sizes[0][1]['params'] / 1e6:.2f}M to "
               f"{sizes[-1][1]['params'] / 1e6:.2f}M parameters)")
    results["finding"] = finding
    (work / "results.json").write_text(json.dumps(results, indent=1))
    print("finding:", finding)
    report("prm_size", f"PRM size curve: best-of-16 and within-problem AUROC vs judge size (math, {a.n} samples)", rows,
           ours="reward model", theirs="majority vote", save=not a.no_save, extra=results,
           notes=[f"finding: {finding}", f"plot {PLOT.relative_to(PLOT.parents[1])}; skipped sizes: "
                  f"{results['skipped'] or 'none'}; {results['seconds']} s"])


if __name__ == "__main__":
    main()
