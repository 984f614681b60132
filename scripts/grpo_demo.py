"""GRPO with TRL on the tiny math policy: outcome reward vs PRM reward vs outcome + PRM, same steps and seed.

    python scripts/grpo_demo.py                                  # the three settings -> runs/grpo/results.json (~7 min)
    python scripts/grpo_demo.py --rewards prm --steps 20         # one setting, fewer steps
    python scripts/grpo_demo.py --smoke --out /tmp/grpo          # 2 steps at tiny sizes (what the test runs)

Needs TRL (`pip install -e ".[bench]"`). What it does, all on CPU:
1. the PRM: the zero-training likelihood ratio of the shipped judge against the policy
   (`prm.scoring.write_ratio_settings`, beta 1, per-step reading "r", the demo's settings), the
   scorer that ranks this policy's samples well (BENCHMARKS.md, prm_scaling: 79.8% best-of-16 where
   the token-classification PRMs trained here stay near 20-28%);
2. held-out evaluation of the starting policy: the first --eval-problems of data/tasks/math_test.jsonl,
   --eval-samples each at temperature 1, seeded per problem; accuracy by `verifiers.math.grade`, the
   proxy = the PRM's min-aggregated score of the same samples, mean length and step count;
3. for each reward setting, from the same starting weights, the same seed and the same training
   problems (the first --train-problems of math_train): TRL's GRPOTrainer for --steps steps with
   `prm.rewards.trl_reward` as the reward, then the same held-out evaluation;
4. `prm.eval.hacking.training_drift` before -> after: proxy up while accuracy down, length drift.

The hyperparameters below are the same for the three settings; the learning rate was chosen with
--validation (math_train problems 320-399, the outcome reward), never on the test problems. The rewards:
- outcome:      1 if the final answer is right, else 0 (`verifiers.math.grade`)
- prm:          the PRM's min over steps (no verifier in the reward)
- outcome+prm:  outcome + 0.5 x the PRM's min over steps
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REWARDS = ("outcome", "prm", "outcome+prm")


@dataclass(frozen=True)
class GrpoDemoConfig:
    rewards: tuple[str, ...] = REWARDS
    steps: int = 100                  # GRPO steps per setting
    train_problems: int = 128         # the first N of math_train
    prompts_per_step: int = 2         # problems per step; x num_generations completions
    num_generations: int = 8          # GRPO group size
    max_completion_length: int = 160  # tokens; the policy's solutions are 40-120
    # chosen on validation problems (math_train 320-399 x 4, outcome reward, 40 steps; start 46.9%): 2e-4
    # fell to 28.8%, 5e-5 gave 48.1%, 1e-5 49.1% (a tie at this size); 5e-5 for 100 steps gave 50.3%
    learning_rate: float = 5e-5
    temperature: float = 1.0
    prm_weight: float = 0.5
    aggregation: str = "min"
    ratio_beta: float = 1.0
    eval_problems: int = 100          # the first N of math_test
    validation: bool = False          # evaluate on math_train problems 320-399 instead (for choosing settings)
    eval_samples: int = 4
    seed: int = 0
    out: str = "runs/grpo"


SMOKE = dict(steps=2, train_problems=4, prompts_per_step=2, num_generations=4, max_completion_length=96,
             eval_problems=4, eval_samples=2)


def setup(cfg: GrpoDemoConfig) -> tuple[Path, object, str]:
    """(policy dir, the PRM scorer, what the PRM is)."""
    from prm.judge import find_judge
    from prm.policy import ensure_policy
    from prm.scoring import load_scorer, write_ratio_settings

    policy = ensure_policy("math", progress=False)
    judge, note = find_judge(policy, "math")
    if judge is None:
        raise SystemExit(f"no judge for the math policy ({note})")
    ratio = Path(cfg.out) / "ratio"
    write_ratio_settings(ratio, model=str(judge), ref_model=str(policy), beta=cfg.ratio_beta, sep="\n\n",
                         step_score="r")
    return policy, load_scorer(str(ratio)), f"likelihood ratio {cfg.ratio_beta} x log pi_judge / pi_policy, step 'r'"


def evaluate(model_dir: Path, problems, scorer, cfg: GrpoDemoConfig) -> dict:
    """Held-out accuracy, proxy (PRM min), mean length (chars) and steps of the policy's samples."""
    from prm.rewards import RewardConfig, RewardFunction
    from prm.sampler import EngineConfig, SamplingConfig, build_prompt, make_sampler

    sampler = make_sampler(EngineConfig(model=str(model_dir), backend="transformers", seed=cfg.seed))
    try:
        params = [SamplingConfig(n=cfg.eval_samples, temperature=1.0, max_tokens=cfg.max_completion_length,
                                 seed=cfg.seed + 1000 * i) for i in range(len(problems))]
        outs = sampler.generate([build_prompt(sampler.tokenizer, p.question) for p in problems], params)
    finally:
        sampler.close()
    fn = RewardFunction(RewardConfig(shape="prm", aggregation=cfg.aggregation), scorer=scorer)
    jobs = [(p, c.text) for p, group in zip(problems, outs) for c in group]
    got = fn.rewards([p.question for p, _ in jobs], [t for _, t in jobs], [p.answer for p, _ in jobs])
    n, k = len(got), cfg.eval_samples
    return {"n": n, "accuracy": sum(r.correct is True for r in got) / n, "proxy": sum(r.prm for r in got) / n,
            "length": sum(len(t) for _, t in jobs) / n, "steps": sum(r.n_steps for r in got) / n,
            "solved": [sum(r.correct is True for r in got[i:i + k]) for i in range(0, n, k)]}  # per problem


def train(reward: str, policy: Path, scorer, problems, cfg: GrpoDemoConfig, out: Path) -> dict:
    """GRPO from `policy` with one reward setting; the trained policy is saved to `out`."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from prm.rewards import RewardConfig, RewardFunction, trl_reward
    from prm.sampler import build_prompt

    torch.manual_seed(cfg.seed)
    tok = AutoTokenizer.from_pretrained(policy)
    tok.padding_side = "left"  # GRPOTrainer's requirement for its processing class
    ds = Dataset.from_list([{"prompt": build_prompt(tok, p.question), "question": p.question, "answer": p.answer}
                            for p in problems])
    fn = RewardFunction(RewardConfig(shape=reward, prm_weight=cfg.prm_weight, aggregation=cfg.aggregation),
                        scorer=scorer)
    args = GRPOConfig(output_dir=str(out / "trainer"), max_steps=cfg.steps,
                      per_device_train_batch_size=cfg.prompts_per_step * cfg.num_generations,
                      num_generations=cfg.num_generations, max_completion_length=cfg.max_completion_length,
                      learning_rate=cfg.learning_rate, temperature=cfg.temperature, beta=0.0, seed=cfg.seed,
                      logging_steps=1, save_strategy="no", report_to="none", use_cpu=True, bf16=False,
                      disable_tqdm=True)
    trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(policy), reward_funcs=[trl_reward(fn)],
                          args=args, train_dataset=ds, processing_class=tok)
    t0 = time.time()
    trainer.train()
    seconds = time.time() - t0
    trainer.model.config.use_cache = True  # GRPOTrainer turns the KV cache off for training; sampling wants it
    trainer.save_model(str(out / "policy"))
    tok.save_pretrained(str(out / "policy"))
    logs = [h for h in trainer.state.log_history if "reward" in h]
    return {"seconds": seconds, "log": [{k: h.get(k) for k in ("step", "reward", "reward_std", "prm/prm", "prm/correct",
                                                                 "completions/mean_length", "frac_reward_zero_std")}
                                        for h in logs]}


def run(cfg: GrpoDemoConfig, log=print) -> dict:
    from prm.eval.hacking import training_drift
    from prm.tasks import load_tasks

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    policy, scorer, what = setup(cfg)
    train_set = load_tasks("math_train")[:cfg.train_problems]
    # validation: problems 320-399 of the train split (as bench_prm_scaling), disjoint from the training ones
    test_set = (load_tasks("math_train")[320:320 + min(cfg.eval_problems, 80)] if cfg.validation
                else load_tasks("math_test")[:cfg.eval_problems])
    t0 = time.time()
    before = evaluate(policy, test_set, scorer, cfg)
    log(f"before: {before} ({time.time() - t0:.0f} s)")
    results = {"config": asdict(cfg), "prm": what, "policy": str(policy), "before": before, "settings": {}}
    for reward in cfg.rewards:
        sub = out / reward.replace("+", "_")
        tr = train(reward, policy, scorer, train_set, cfg, sub)
        t1 = time.time()
        after = evaluate(sub / "policy", test_set, scorer, cfg)
        results["settings"][reward] = {"train_seconds": tr["seconds"], "eval_seconds": time.time() - t1,
                                       "after": after, "drift": training_drift(before, after), "log": tr["log"]}
        log(f"{reward}: train {tr['seconds']:.0f} s, after {after}, drift {results['settings'][reward]['drift']}")
    scorer.close()
    results["seconds"] = time.time() - t0
    (out / "results.json").write_text(json.dumps(results, indent=1))
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_argument_group("what to run")
    g.add_argument("--rewards", nargs="+", choices=REWARDS, default=list(REWARDS), help="reward settings, in order")
    g.add_argument("--smoke", action="store_true", help="2 steps at tiny sizes: checks the pipeline, not a result")
    g.add_argument("--out", default=GrpoDemoConfig.out, help="folder for the ratio settings, policies, results.json")
    g = ap.add_argument_group("GRPO (the same for every setting)")
    g.add_argument("--steps", type=int, default=None, help=f"GRPO steps per setting (default {GrpoDemoConfig.steps})")
    g.add_argument("--train-problems", type=int, default=None, help="first N math_train problems")
    g.add_argument("--seed", type=int, default=GrpoDemoConfig.seed, help="training and evaluation sampling seed")
    g.add_argument("--lr", type=float, default=GrpoDemoConfig.learning_rate, help="learning rate")
    g = ap.add_argument_group("held-out evaluation")
    g.add_argument("--eval-problems", type=int, default=None, help="first N math_test problems")
    g.add_argument("--eval-samples", type=int, default=None, help="samples per problem at temperature 1")
    g.add_argument("--validation", action="store_true",
                   help="evaluate on math_train problems 320-399 (at most 80; for choosing settings) instead of math_test")
    a = ap.parse_args()
    from prm.threads import apply

    apply()
    cfg = replace(GrpoDemoConfig(), **SMOKE) if a.smoke else GrpoDemoConfig()
    given = {"steps": a.steps, "train_problems": a.train_problems, "eval_problems": a.eval_problems,
             "eval_samples": a.eval_samples}
    cfg = replace(cfg, rewards=tuple(a.rewards), out=a.out, seed=a.seed, learning_rate=a.lr, validation=a.validation,
                  **{k: v for k, v in given.items() if v})
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    r = run(cfg)
    print(json.dumps({k: {"after": v["after"], "flags": v["drift"]["flags"]} for k, v in r["settings"].items()}, indent=1))


if __name__ == "__main__":
    main()
