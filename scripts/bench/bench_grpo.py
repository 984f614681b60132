"""GRPO with a PRM reward: outcome vs PRM vs outcome + PRM on the tiny math policy, held-out accuracy before and after.

    python scripts/bench/bench_grpo.py                         # 3 settings x 100 GRPO steps (~15-25 min, 2 cores)
    python scripts/bench/bench_grpo.py --quick                 # 3 settings x 30 steps, 60 eval problems
    python scripts/bench/bench_grpo.py --results runs/grpo/results.json   # report a finished scripts/grpo_demo.py run

Runs `scripts/grpo_demo.py` (TRL GRPOTrainer on CPU, the same seed, steps and training problems for every
setting; the PRM is the zero-training likelihood ratio judge / policy) and reports, per setting, the
held-out accuracy on the first math_test problems after training next to the starting policy's, the
proxy (the PRM's score of the policy's held-out samples), the mean solution length, and the drift flags
of `prm.eval.hacking.training_drift` (proxy up while accuracy down; length moved by more than 20%).
The 95% interval of each accuracy change is a paired bootstrap over problems.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from common import ROOT, Row, report  # noqa: E402


def paired_interval(after: list[int], before: list[int], samples: int, repeats: int = 2000, seed: int = 0):
    """95% bootstrap interval of the accuracy change, problems resampled with replacement (paired)."""
    import numpy as np

    d = (np.asarray(after, float) - np.asarray(before, float)) / samples
    if len(d) == 0:
        return None
    idx = np.random.default_rng(seed).integers(0, len(d), size=(repeats, len(d)))
    lo, hi = np.percentile(d[idx].mean(axis=1), [2.5, 97.5])
    return float(lo), float(hi)


def rows_and_notes(r: dict) -> tuple[list[Row], list[str]]:
    b = r["before"]
    rows, notes = [], []
    for name, s in r["settings"].items():
        a, d = s["after"], s["drift"]
        flags = ", ".join(d["flags"]) or "none"
        ci = paired_interval(a.get("solved", []), b.get("solved", []), r["config"]["eval_samples"])
        ci = f", change {a['accuracy'] - b['accuracy']:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""
        rows += [Row(f"{name}: held-out accuracy, after vs before ({a['n']} samples{ci})", a["accuracy"], b["accuracy"],
                     "", "higher"),
                 Row(f"{name}: proxy (PRM min score of held-out samples), after vs before", a["proxy"], b["proxy"],
                     "", ""),
                 Row(f"{name}: mean solution length, after vs before — drift flags: {flags}", a["length"], b["length"],
                     "chars", "")]
        log = s["log"]
        k = max(1, len(log) // 5)
        first = sum(h["reward"] for h in log[:k]) / k
        last = sum(h["reward"] for h in log[-k:]) / k
        notes.append(f"{name}: training reward {first:.3f} (first {k} steps) -> {last:.3f} (last {k}); "
                     f"GRPO {s['train_seconds']:.0f} s, evaluation {s['eval_seconds']:.0f} s")
    names = list(r["settings"])
    for other in names[1:]:
        x, y = r["settings"][other]["after"], r["settings"][names[0]]["after"]
        ci = paired_interval(x.get("solved", []), y.get("solved", []), r["config"]["eval_samples"])
        ci = f" — paired diff {x['accuracy'] - y['accuracy']:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""
        rows.append(Row(f"{other} vs {names[0]}: held-out accuracy after training{ci}", x["accuracy"], y["accuracy"],
                        "", "higher"))
    c = r["config"]
    notes.insert(0, f"PRM: {r['prm']}; GRPO: {c['steps']} steps x {c['prompts_per_step']} problems x {c['num_generations']} "
                    f"generations, lr {c['learning_rate']}, beta 0 (no KL), temperature {c['temperature']}, max "
                    f"{c['max_completion_length']} tokens, seed {c['seed']}, the first {c['train_problems']} math_train "
                    f"problems; held-out: the first {c['eval_problems']} math_test problems x {c['eval_samples']} samples "
                    f"at temperature 1, seeded per problem; total {r['seconds']:.0f} s")
    return rows, notes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="30 steps per setting, 60 held-out problems")
    ap.add_argument("--results", default=None, help="report this finished grpo_demo results.json instead of running")
    ap.add_argument("--out", default=str(ROOT / "runs" / "bench_grpo"), help="work folder")
    a = ap.parse_args()
    if a.results:
        r = json.loads(Path(a.results).read_text())
    else:
        import grpo_demo
        from prm.threads import apply

        apply()
        cfg = replace(grpo_demo.GrpoDemoConfig(), out=a.out)
        if a.quick:
            cfg = replace(cfg, steps=30, eval_problems=60)
        r = grpo_demo.run(cfg)
    rows, notes = rows_and_notes(r)
    report("grpo", "GRPO with a PRM reward: outcome vs PRM vs outcome + PRM (tiny math policy, TRL, CPU)", rows,
           ours="after GRPO", theirs="before", notes=notes, extra={"results": r})


if __name__ == "__main__":
    main()
