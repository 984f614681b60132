"""Generative step verifiers that cannot copy: does writing the check BEFORE the step's own value stop
the verifier from repeating that value? Validation pool only.

    python scripts/bench/bench_prm_generative.py              # sizes 1024,4096,12800 x lr 1e-3,3e-3 at 400 steps,
                                                              # 4096 at 1200 steps, the ablation (~60 min, 2 busy cores)
    python scripts/bench/bench_prm_generative.py --quick      # size 1024, 150 steps, lr 1e-3, its ablation (~8 min)
    python scripts/bench/bench_prm_generative.py --sizes 4096 --lrs 1e-3 --steps 400 --long none --ablation-size 0

What it does, on scripts/bench/bench_prm_scaling.py's pools (runs/bench_prm_scaling/pools, read only):
1. for each size and learning rate, `prm train --objective generative` from the judge (prm/judge.py) on
   the first SIZE direct-labelled train samples (batch 16, --steps optimizer steps, warm-up 5%), and one
   longer run (--long SIZE:LR:STEPS): the
   verifier writes " [calc V]" right after each checked "=" (V: the left side's exact value) and
   " [ok]" / " [bad]" after each step (prm/train/generative.py);
2. scores the VALIDATION pool (80 problems x 16 samples) with the trained verifier (greedy checks,
   P(ok) at each verdict; prm/scoring/generative.py) and reports:
   - verdict agreement with the checker's first-error labels (val_direct.jsonl), P(ok) >= 0.5, against
     always "correct";
   - copying, measured directly: on checks whose WRITTEN value is wrong, how often the verifier's value
     equals the written (wrong) value, the true value, or neither; and its value accuracy on all checks;
   - step AUROC against the sympy verdicts, within-problem AUROC, best-of-16 (min) vs majority vote
     (`bench_prm_scaling.evaluate`);
   - a diagnostic, the check-match rule: a checked step scored by whether the verifier's own values
     equal the written ones (no verdict read), to tell whether the verdict or the check is weak;
3. the same numbers for the zero-training likelihood ratio judge / policy (beta 1, step score r);
4. the ablation: the same training with the check written AFTER the whole step (`check_position=
   "after_step"`, the written value already in context), with the --long run's settings (without
   --long: at --ablation-size, with that size's picked rate): how often does that verifier copy a
   wrong written value?
The learning rate is picked by within-problem AUROC on this validation pool; the test pool is never read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_prm_scaling import evaluate, questions, subset  # noqa: E402
from common import Row, report  # noqa: E402


def align_labels(recs, direct_path: Path) -> list:
    """The direct labels (first-error, with the final-answer check) of each pool record, None where
    the record has no steps; the files are in the same order (samples without steps were never labelled)."""
    from prm.records import StepwiseRecord

    direct = [StepwiseRecord.from_dict(json.loads(x)) for x in direct_path.read_text().splitlines() if x.strip()]
    out, j = [], 0
    for r in recs:
        if not r.steps:
            out.append(None)
            continue
        d = direct[j]
        if list(d.completions) != list(r.steps) or d.extra.get("problem_id") != r.problem_id:
            raise SystemExit(f"{direct_path}: record {j + 1} does not match the pool's sample ({r.problem_id})")
        out.append(list(d.labels))
        j += 1
    return out


def agreement(step_scores, labels) -> dict:
    pairs = [(s >= 0.5, bool(lab)) for ss, ls in zip(step_scores, labels) if ls for s, lab in zip(ss, ls)
             if lab is not None]
    return {"agreement": sum(p == y for p, y in pairs) / len(pairs), "always_correct": sum(y for _, y in pairs) / len(pairs),
            "labelled_steps": len(pairs),
            "bad_recall": sum(not p for p, y in pairs if not y) / max(1, sum(not y for _, y in pairs))}


def copying(traces) -> dict:
    """What the verifier wrote at each check, split by whether the step's written value was right."""
    from prm.scoring.checks import parse_value

    tally = Counter()
    for t in traces:
        for _, c, value in t.checks:
            v = parse_value(value)
            if c.written is None:
                continue
            if c.written == c.value:
                tally["right_written"] += 1
                tally["right_written_true"] += v == c.value
            else:
                tally["wrong_written"] += 1
                tally["copied"] += v == c.written
                tally["computed"] += v == c.value
                tally["neither"] += v not in (c.written, c.value)
    n = max(1, tally["wrong_written"])
    return {"wrong_written": tally["wrong_written"], "copied": tally["copied"] / n, "computed": tally["computed"] / n,
            "neither": tally["neither"] / n, "right_written": tally["right_written"],
            "value_accuracy_when_written_right": tally["right_written_true"] / max(1, tally["right_written"])}


def match_scores(traces) -> list[list[float]]:
    """Diagnostic: each step with a check scored by whether the verifier's own values all equal the
    written ones (0.99 / 0.01), steps without one keep P(ok): is the verdict or the check the weak part?"""
    from prm.scoring.checks import parse_value

    out = []
    for t in traces:
        s = list(t.scores)
        bad: dict = {}
        for k, c, value in t.checks:
            bad[k] = bad.get(k, False) or c.written is None or parse_value(value) != c.written
        out.append([(0.01 if bad[k] else 0.99) if k in bad else x for k, x in enumerate(s)])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_argument_group("data")
    g.add_argument("--pools", default="runs/bench_prm_scaling/pools", help="bench_prm_scaling's pools (read only)")
    g.add_argument("--work", default="runs/bench_prm_generative", help="models and subsets go here")
    g = ap.add_argument_group("training")
    g.add_argument("--sizes", default="1024,4096,12800", help="training-set sizes (direct-labelled samples), comma-separated")
    g.add_argument("--lrs", default="1e-3,3e-3", help="learning rates tried (picked on the validation pool)")
    g.add_argument("--steps", type=int, default=400, help="optimizer steps at batch 16")
    g.add_argument("--long", default="4096:3e-3:1200", help="one longer run SIZE:LR:STEPS ('none': skip it)")
    g = ap.add_argument_group("run")
    g.add_argument("--quick", action="store_true", help="size 1024, 150 steps, lr 1e-3")
    g.add_argument("--no-ratio", action="store_true", help="skip the likelihood-ratio baseline")
    g.add_argument("--ablation-size", type=int, default=4096,
                   help="size of the check-after-the-step ablation (0: skip it; --quick: the quick size)")
    a = ap.parse_args()

    import torch

    from prm.judge import ensure_judge
    from prm.policy import ensure_policy
    from prm.records import PoolRecord
    from prm.scoring import load_scorer
    from prm.scoring.implicit import write_ratio_settings
    from prm.train import TrainConfig, train_rm

    torch.set_num_threads(1)
    sizes = [1024] if a.quick else [int(x) for x in a.sizes.split(",")]
    lrs = [1e-3] if a.quick else [float(x) for x in a.lrs.split(",")]
    steps = 150 if a.quick else a.steps
    pools, work = Path(a.pools), Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    if not (pools / "val.jsonl").exists():
        raise SystemExit(f"{pools}: no pools; run scripts/bench/bench_prm_scaling.py first")
    policy, judge = ensure_policy("math"), ensure_judge("math")
    qs = questions("math")
    recs = [PoolRecord.from_dict(json.loads(x)) for x in (pools / "val.jsonl").read_text().splitlines() if x.strip()]
    labels = align_labels(recs, pools / "val_direct.jsonl")
    items = [(qs[r.problem_id], r.steps or [""]) for r in recs]
    results: dict = {"pool": "val", "samples": len(recs), "runs": {}}
    t0 = time.time()
    if not a.no_ratio:
        write_ratio_settings(work / "ratio", model=str(judge), ref_model=str(policy), beta=1.0, sep="\n\n",
                             step_score="r")
        sc = load_scorer(str(work / "ratio"))
        s = sc.score_batch(items)
        results["runs"]["ratio"] = {**evaluate(recs, s), **agreement(s, labels), "seconds": round(time.time() - t0, 1)}
        print("ratio", json.dumps({k: results["runs"]["ratio"][k] for k in ("bo16", "majority", "within_auroc",
                                                                           "step_auroc", "agreement")}), flush=True)

    def run_one(size: int, lr: float, position: str = "before_value", steps: int = steps) -> str:
        name = f"gen-{size}-lr{lr:g}-s{steps}" + ("-after" if position == "after_step" else "")
        out = work / name
        t1 = time.time()
        if not (out / "config.json").exists():
            train_file = subset(pools / "train_direct.jsonl", size, work / f"train_direct_{size}.jsonl")
            train_rm(TrainConfig(model=str(judge), train_file=str(train_file), output_dir=str(out),
                                 objective="generative", sep="\n\n", max_steps=steps, per_device_train_batch_size=16,
                                 learning_rate=lr, warmup_ratio=0.05, resume=False, save_steps=10 ** 6,
                                 logging_steps=50, check_position=position), progress=False)
        t_train = time.time() - t1
        sc = load_scorer(str(out), backend="transformers")
        t2 = time.time()
        traces = sc.trace_batch(items)
        s = [t.scores for t in traces]
        run = {**evaluate(recs, s), **agreement(s, labels), **copying(traces), "size": size, "lr": lr,
               "steps": steps, "check_position": position, "train_seconds": round(t_train, 1),
               "score_seconds": round(time.time() - t2, 1),
               "final_train_loss": json.loads((out / "train_report.json").read_text())["train"].get("train_loss")}
        m = evaluate(recs, match_scores(traces))
        run["check_match_rule"] = {k: m[k] for k in ("bo16", "within_auroc", "step_auroc")}
        sc.close()
        results["runs"][name] = run
        print(name, json.dumps({k: run[k] for k in ("bo16", "majority", "within_auroc", "step_auroc", "agreement",
                                                    "always_correct", "copied", "computed", "neither",
                                                    "train_seconds", "score_seconds")}), flush=True)
        return name

    for size in sizes:
        for lr in lrs:
            run_one(size, lr)
    gens = {k: v for k, v in results["runs"].items() if k != "ratio"}
    picked = {size: max((k for k, v in gens.items() if v["size"] == size), key=lambda k: gens[k]["within_auroc"] or 0)
              for size in sizes}
    long_name = after_name = None
    if a.long != "none" and not a.quick:
        size, lr, n = a.long.split(":")
        long_name = run_one(int(size), float(lr), steps=int(n))
        after_name = run_one(int(size), float(lr), "after_step", steps=int(n))
    elif a.quick or a.ablation_size:
        ab_size = sizes[0] if a.quick else a.ablation_size
        if ab_size not in picked:
            raise SystemExit(f"--ablation-size {ab_size} is not one of --sizes {sizes}")
        after_name = run_one(ab_size, gens[picked[ab_size]]["lr"], "after_step")
    after = results["runs"][after_name] if after_name else None
    gens = {k: v for k, v in results["runs"].items() if k != "ratio"}
    rows, notes = [], []
    ratio = results["runs"].get("ratio")
    shown = [(f"size {size}", picked[size], "picked on validation within-problem AUROC") for size in sizes]
    if long_name:
        shown.append((f"size {gens[long_name]['size']}, {gens[long_name]['steps']} steps", long_name,
                      "given by --long, the only rate tried at that length"))
    for size, name, how in shown:
        b = gens[name]
        rows += [
            Row(f"{size}: verdict agreement with the checker vs always 'correct' (val)", b["agreement"],
                b["always_correct"]),
            Row(f"{size}: wrong written value: verifier computes the true value vs copies it (val)",
                b["computed"], b["copied"]),
            Row(f"{size}: within-problem AUROC, generative vs likelihood ratio (val)", b["within_auroc"],
                ratio["within_auroc"] if ratio else None),
            Row(f"{size}: step AUROC, generative vs likelihood ratio (val)", b["step_auroc"],
                ratio["step_auroc"] if ratio else None),
            Row(f"{size}: best-of-16 (min), generative vs majority vote (val)", b["bo16"], b["majority"]),
            Row(f"{size}: within-problem AUROC, verdicts vs the check-match rule (diagnostic, val)",
                b["within_auroc"], b["check_match_rule"]["within_auroc"]),
        ]
        notes.append(f"{size}: lr {b['lr']:g} ({how}); {b['wrong_written']} checks with a wrong written value, "
                     f"{b['right_written']} with a right one (value accuracy there "
                     f"{b['value_accuracy_when_written_right']:.3f})")
    if after:
        b = gens[long_name or picked[after["size"]]]
        ab_size = f"{after['size']}, {after['steps']} steps"
        rows += [
            Row(f"{ab_size}: wrong written value copied, check before the value vs after the step (val)",
                b["copied"], after["copied"], better="lower"),
            Row(f"{ab_size}: wrong written value computed, check before the value vs after the step (val)",
                b["computed"], after["computed"]),
            Row(f"{ab_size}: verdict agreement, check before the value vs after the step (val)",
                b["agreement"], after["agreement"]),
            Row(f"{ab_size}: within-problem AUROC, check before the value vs after the step (val)",
                b["within_auroc"], after["within_auroc"]),
        ]
    if ratio:
        rows.append(Row("likelihood ratio judge/policy (no training): best-of-16 vs majority (val)", ratio["bo16"],
                        ratio["majority"]))
    notes.append(f"validation pool only ({len(recs)} samples); total {time.time() - t0:.0f} s")
    report("prm_generative", "Generative step verifier: check before the written value (validation pool)", rows,
           ours="generative verifier", theirs="baseline", notes=notes, extra=results)


if __name__ == "__main__":
    main()
