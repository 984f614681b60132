"""A PRM (or a verifier, or both) as the reward for policy training: GRPO / PPO trainers.

    from prm.rewards import RewardConfig, RewardFunction, trl_reward
    fn = RewardFunction(RewardConfig(shape="outcome+prm", prm_weight=0.5), scorer=load_scorer("prm-out"))
    GRPOTrainer(model=..., reward_funcs=[trl_reward(fn)], train_dataset=ds)   # ds: prompt, question, answer

Files: `shapes.py` the config, the `Reward` value, the shapes (outcome, PRM aggregate, outcome +
weight x PRM, dense per-step rewards with the character offset where each step ends) and the guards
against PRM reward hacking (filler steps, clipping, PURE's min-form credit), all pure; `reward.py`
`RewardFunction`: steps split in text, one scorer batch, the verifier, the shape; `trainers.py` the
TRL `reward_funcs` and veRL `compute_score` adapters; `openrlhf.py` OpenRLHF's remote reward-model
HTTP protocol (served at POST /get_reward by `prm serve`).

The GRPO run on the tiny math policy (outcome vs PRM vs outcome + PRM) is `scripts/grpo_demo.py`;
its numbers are in BENCHMARKS.md ("GRPO with a PRM reward").
"""

from prm.rewards.reward import VERIFIERS, RewardFunction
from prm.rewards.shapes import SHAPES, Reward, RewardConfig, min_form, shape, step_spans
from prm.rewards.trainers import trl_reward, verl_compute_score

__all__ = ["SHAPES", "VERIFIERS", "Reward", "RewardConfig", "RewardFunction", "min_form", "shape", "step_spans",
           "trl_reward", "verl_compute_score"]
