"""Probe: how far the shipped judge's ratio is from the sound ceiling on harder math problems (prm_diagnosis section 12)

The shipped math policy samples 200 new problems x 16 (none in the train or test splits), and the
zero-training ratio judge / policy picks one per problem.

    python scripts/bench/probe_harder_tasks.py h45 4 5 9 99 256     # 4-5 changes per problem
    python scripts/bench/probe_harder_tasks.py op20 2 3 20 99 160   # operands up to 20

Arguments: TAG MIN_OPS MAX_OPS MAX_OPERAND MAX_VALUE MAX_TOKENS (prm.tasks.MathTaskConfig); the pool is
cached under runs/probe_harder/TAG. Prints accuracy, majority, pass@16, the sound ceiling (a right answer
with no step the checker proves false) and what the ratio picks."""
import json, sys, time
from pathlib import Path
sys.path.insert(0, "scripts/bench")
from bench_prm_scaling import evaluate
import torch
torch.set_num_threads(1)
from prm.policy import ensure_policy
from prm.judge import ensure_judge
from prm.records import PoolRecord, write_jsonl_atomic
from prm.sampler import EngineConfig, make_sampler
from prm.search import STRATEGIES
from prm.search.best_of_n import BestOfNConfig
from prm.search.aggregate import aggregate
from prm.tasks import generate_math_tasks, MathTaskConfig, generate_split
from prm.scoring.implicit import ImplicitScorer, write_ratio_settings

def main():
    if len(sys.argv) != 7 or sys.argv[1] in ('-h', '--help'):
        raise SystemExit(__doc__)
    tag, mn, mx, mo, mv, mt = sys.argv[1], *map(int, sys.argv[2:7])
    cfg = MathTaskConfig(min_ops=mn, max_ops=mx, max_operand=mo, max_value=mv)
    work = Path("runs/probe_harder") / tag
    work.mkdir(parents=True, exist_ok=True)
    exclude = {p.question for p in generate_split("math_test")} | {p.question for p in generate_split("math_train", 4000)}
    probs = generate_math_tasks(200, 777, cfg, prefix="hard-test", exclude=exclude)
    policy = ensure_policy("math"); judge = ensure_judge("math", policy_dir=policy)
    t0 = time.time()
    if not (work / "test.jsonl").exists():
        sampler = make_sampler(EngineConfig(model=str(policy), seed=0))
        res = STRATEGIES["bon"].run(probs, sampler, {}, BestOfNConfig(n=16, temperature=1.0, max_tokens=mt, seed=1))
        sampler.close()
        write_jsonl_atomic(work / "test.jsonl", [s for r in res for s in r.samples])
    print("sampled", round(time.time() - t0))
    recs = [PoolRecord.from_dict(json.loads(x)) for x in (work / "test.jsonl").read_text().splitlines()]
    qs = {p.id: p.question for p in probs}
    write_ratio_settings(work / "ratio", model=str(judge), ref_model=str(policy), beta=1.0, sep="\n\n", step_score="q")
    sc = ImplicitScorer.from_path(str(work / "ratio"))
    scores = sc.score_batch([(qs[r.problem_id], r.steps or [""]) for r in recs])
    e = evaluate(recs, scores)
    import collections
    by = collections.defaultdict(list)
    for r, s in zip(recs, scores):
        by[r.problem_id].append((aggregate(s, "min"), r))
    sound = lambda r: r.correct and not any(v is False for v in (r.step_verdicts or []))
    ceil = sum(any(sound(r) for _, r in v) for v in by.values()) / len(by)
    pick_sound = sum(sound(max(v, key=lambda x: x[0])[1]) for v in by.values()) / len(by)
    pick_right = sum(max(v, key=lambda x: x[0])[1].correct for v in by.values()) / len(by)
    import statistics
    print(tag, f"acc {statistics.mean(r.correct for r in recs):.3f} tokens {statistics.mean(r.completion_tokens for r in recs):.0f} max {max(r.completion_tokens for r in recs)}")
    print(tag, f"majority {e['majority']:.3f} pass16 {e['oracle']:.3f} sound-ceiling {ceil:.3f} ratio bo16 {e['bo16']:.3f} (one-draw right {pick_right:.3f} sound {pick_sound:.3f}) within {e['within_auroc']:.3f} step {e['step_auroc']:.3f}")


if __name__ == '__main__':
    main()
