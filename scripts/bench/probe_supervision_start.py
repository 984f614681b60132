"""Probe: process vs outcome supervision from another start than the policy or the shipped judge (prm_diagnosis section 12)

    python scripts/bench/probe_supervision_start.py ~/.cache/prm-toolkit/judge/math-<4x128 key> 4096 2e-4 1.0 300 f128

Arguments: JUDGE_DIR SIZE LR BETA STEPS TAG. Trains the implicit pair (step / outcome labels of the first
SIZE direct-labelled train samples) from JUDGE_DIR against the policy, and prints best-of-16, majority,
within-problem and step AUROC for the zero-training ratio and both models, with the paired differences,
on the validation and the test pool apart. Models under runs/probe_supervision/TAG."""
import json, math, sys, time
from pathlib import Path
sys.path.insert(0, "scripts/bench")
from bench_prm_scaling import evaluate, questions, subset
from bench_prm_supervision import paired, train_implicit
import torch
torch.set_num_threads(1)
from prm.policy import ensure_policy
from prm.records import PoolRecord
from prm.scoring.implicit import ImplicitScorer, write_ratio_settings

if len(sys.argv) != 7 or sys.argv[1] in ('-h', '--help'):
    raise SystemExit(__doc__)
judge, size, lr, beta, steps, tag = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
work = Path("runs/probe_supervision") / tag
work.mkdir(parents=True, exist_ok=True)
pools_dir = Path("runs/bench_prm_scaling/pools")
policy = ensure_policy("math")
qs = questions("math")
pools = {k: [PoolRecord.from_dict(json.loads(x)) for x in (pools_dir / f"{k}.jsonl").read_text().splitlines()] for k in ("val", "test")}
def scores_of(d):
    sc = ImplicitScorer.from_path(str(d))
    return {k: sc.score_batch([(qs[r.problem_id], r.steps or [""]) for r in v]) for k, v in pools.items()}
res = {}
t0 = time.time()
if not (work / "ratio").exists():
    write_ratio_settings(work / "ratio", model=judge, ref_model=str(policy), beta=beta, sep="\n\n", step_score="q")
got = {"ratio": scores_of(work / "ratio")}
res["ratio"] = {k: evaluate(pools[k], got["ratio"][k]) for k in pools}
for labels in ("step", "outcome"):
    out = work / labels
    if not (out / "config.json").exists():
        tf = subset(pools_dir / "train_direct.jsonl", size, work / f"train_{size}.jsonl")
        train_implicit(judge, policy, tf, out, labels, max_steps=steps, beta=beta, learning_rate=lr)
    got[labels] = scores_of(out)
    res[labels] = {k: evaluate(pools[k], got[labels][k]) for k in pools}
res["p-o"] = {k: paired(pools[k], got["step"][k], got["outcome"][k]) for k in pools}
res["p-ratio"] = {k: paired(pools[k], got["step"][k], got["ratio"][k]) for k in pools}
for k in ("val", "test"):
    for m in ("ratio", "step", "outcome"):
        e = res[m][k]
        print(f"{tag} {k} {m}: bo16 {e['bo16']:.3f} maj {e['majority']:.3f} oracle {e['oracle']:.3f} within {e['within_auroc']:.3f} step {e['step_auroc']:.3f} vsmaj {[round(x,3) for x in e['delta_vs_majority']]}")
    print(f"{tag} {k} process-outcome {[round(x,3) for x in res['p-o'][k]]} process-ratio {[round(x,3) for x in res['p-ratio'][k]]}")
print("seconds", round(time.time() - t0))
(work / "res.json").write_text(json.dumps(res))
