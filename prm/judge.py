"""The judge backbone: the tiny policy trained further as a language model, to judge the policy.

A reward model is only as good as what its backbone knows. The tiny math policy does not know its
own arithmetic (it gives the wrong "30 / 2 = 10" a higher log-probability than the right "= 15"),
so a PRM initialised from it has to learn arithmetic from a few thousand step labels, and does not
(docs/prm_diagnosis.md). The judge is the same architecture and tokenizer, started from the policy's
weights and trained 1,500 more steps on 20,000 train-split problems. It is the backbone `prm demo`
gives its reward models, and the strong side of the zero-training likelihood-ratio scorer
(`prm.scoring.implicit.write_ratio_settings`: beta * log pi_judge / pi_policy per step).

Measured on 80 validation problems of the train split x 16 policy samples (never the test split):
the judge's own per-step log-probabilities rank a problem's correct samples above its wrong ones
with AUROC 0.94 (the policy's: 0.83), and best-of-16 by them picks 86% correct against majority
vote's 68% (pass@16: 90%).

Same tokenizer as the policy on purpose: the likelihood ratio compares the two models token by
token, and a reward model initialised from the judge reads exactly the ids the policy wrote.

Like the policy, it is shipped (`prm.shipped`, prm/assets/judge/<domain>-<key>) and otherwise trained
once and cached; the key hashes this recipe, the policy's name (its own key) and the training texts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from prm import shipped
from prm.errors import UserError

JUDGE_VERSION = "1"


@dataclass(frozen=True)
class JudgeConfig:
    domain: str = "math"
    n_problems: int = 20000   # train-split stream problems (their reference solutions are the texts)
    steps: int = 1500
    batch_size: int = 32
    lr: float = 2e-3
    warmup: int = 30
    floor: float = 0.05       # cosine decay to floor x lr
    weight_decay: float = 0.01
    seed: int = 1             # batch order; the policy used 0, so the judge sees other batches
    # Shape. 0 = the policy's own shape, continued from the policy's weights (the shipped judge). Any
    # other shape cannot start from those weights: it is a fresh model with the policy's tokenizer,
    # trained from scratch for `steps` (the size curve gives it the policy's 600 + the judge's 1,500).
    hidden_size: int = 0
    num_hidden_layers: int = 0
    intermediate_size: int = 0

    @property
    def from_scratch(self) -> bool:
        return bool(self.hidden_size or self.num_hidden_layers or self.intermediate_size)

    @property
    def size(self) -> str:
        """"layers x hidden" ("policy" for the policy's own shape)."""
        return f"{self.num_hidden_layers}x{self.hidden_size}" if self.from_scratch else "policy"


SHAPE = ("hidden_size", "num_hidden_layers", "intermediate_size")

# The domains with a judge recipe: the same recipe for both, each continuing its own policy on its own
# train split's references (code: the reference programs), so that each domain's reward models start
# from a backbone stronger than the policy they judge.
RECIPES = {"math": JudgeConfig(domain="math"), "code": JudgeConfig(domain="code")}


def sized(domain: str, layers: int, hidden: int) -> JudgeConfig:
    """The size curve's judge of `layers` x `hidden` (head_dim 32, a size vLLM's CPU attention takes;
    MLP 3 x hidden like the policy), trained from scratch on the judge's texts.

    Every size gets the same recipe, the policy's own length: 600 steps of 32 texts (a pass over the
    20,000 texts; the references are templated, so the training loss falls below 0.3 within 150 steps
    at every size), so the sizes differ in shape only. The 4 x 128 point of this family is the control
    for the shipped judge, which saw 600 policy steps and then 1,500 judge steps. 600 rather than the
    shipped judge's 2,100 steps is what CPU time allowed for 4 x 256 (2-4 s a step on a shared core)."""
    if hidden % 64 or layers < 1:
        raise UserError(f"judge size {layers}x{hidden}: hidden must be a multiple of 64 and layers >= 1")
    return JudgeConfig(domain=domain, hidden_size=hidden, num_hidden_layers=layers, intermediate_size=3 * hidden,
                       steps=600, lr=1e-3 if hidden > 128 else 2e-3)


def _pairs(cfg: JudgeConfig):
    from prm.policy import PolicyConfig, training_pairs

    return training_pairs(PolicyConfig(domain=cfg.domain, n_problems=cfg.n_problems))


def judge_name(cfg: JudgeConfig, policy_dir: str | Path) -> str:
    """`<domain>-<key>`: the key hashes JUDGE_VERSION, this config, the policy it starts from (its
    directory name carries the policy's own key) and the training texts."""
    h = hashlib.sha256()
    h.update(JUDGE_VERSION.encode())
    # the shape fields enter the key only when set, so the shipped judge keeps the key it was shipped under
    h.update(json.dumps({k: v for k, v in asdict(cfg).items() if v or k not in SHAPE}, sort_keys=True).encode())
    h.update(Path(policy_dir).name.encode())
    for q, c in _pairs(cfg):
        h.update(q.encode() + b"\x00" + c.encode() + b"\x01")
    return f"{cfg.domain}-{h.hexdigest()[:16]}"


def train_judge(cfg: JudgeConfig, policy_dir: str | Path, out_dir: str | Path, *, progress: bool = True) -> dict:
    """Continue training the policy in `policy_dir` as a language model into `out_dir`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prm.policy import encode_pairs, lm_train

    t0 = time.time()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(policy_dir))
    if cfg.from_scratch:
        model = _fresh_model(cfg, policy_dir)
    else:
        model = AutoModelForCausalLM.from_pretrained(str(policy_dir), dtype=torch.float32)
    data = encode_pairs(tokenizer, _pairs(cfg))
    losses = lm_train(model, data, pad=tokenizer.pad_token_id, steps=cfg.steps, lr=cfg.lr, warmup=cfg.warmup,
                      floor=cfg.floor, batch_size=cfg.batch_size, weight_decay=cfg.weight_decay, seed=cfg.seed,
                      desc=f"train {cfg.domain} judge", progress=progress)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    report = {"domain": cfg.domain, "judge_version": JUDGE_VERSION, "config": asdict(cfg), "size": cfg.size,
              "n_params": sum(p.numel() for p in model.parameters()),
              "policy": Path(policy_dir).name, "train_seconds": round(time.time() - t0, 1),
              "final_loss": round(sum(losses[-20:]) / len(losses[-20:]), 4), "torch": torch.__version__}
    (out / "judge.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _fresh_model(cfg: JudgeConfig, policy_dir: str | Path):
    """A randomly initialised causal LM of cfg's shape with the policy's vocabulary and special ids."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(str(policy_dir))
    heads = cfg.hidden_size // 32
    config.update({"hidden_size": cfg.hidden_size, "num_hidden_layers": cfg.num_hidden_layers,
                   "intermediate_size": cfg.intermediate_size, "num_attention_heads": heads,
                   "num_key_value_heads": max(1, heads // 2), "head_dim": 32})
    torch.manual_seed(cfg.seed)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32)


def _cache_root(cache_dir: str | Path | None) -> Path:
    from prm.policy import default_cache_dir

    return Path(cache_dir) if cache_dir is not None else default_cache_dir() / "judge"


def find_judge(policy_dir: str | Path, domain: str = "math", cache_dir: str | Path | None = None, *,
               cfg: JudgeConfig | None = None) -> tuple[Path | None, str]:
    """(directory, where it came from) of the judge of the policy in `policy_dir`, without training:
    shipped, else cached; (None, why not) otherwise."""
    if domain not in RECIPES:
        return None, f"no judge recipe for {domain!r} (recipes: {', '.join(RECIPES)})"
    cfg = cfg or RECIPES[domain]
    name = judge_name(cfg, policy_dir)
    path, note = shipped.find_trained(f"judge/{name}", _cache_root(cache_dir) / name, "judge.json")
    if path is not None:
        return path, note
    return None, f"{note}; train it once with prm.judge.ensure_judge (about 25 minutes on 2 CPU cores)"


def ensure_judge(domain: str = "math", cache_dir: str | Path | None = None, *, policy_dir: str | Path | None = None,
                 cfg: JudgeConfig | None = None, progress: bool = True) -> Path:
    """The judge for `domain`: shipped, cached, or trained now (about 25 minutes on 2 CPU cores)."""
    from prm.policy import ensure_policy

    if domain not in RECIPES:
        raise UserError(f"no judge recipe for {domain!r} (recipes: {', '.join(RECIPES)})")
    cfg = cfg or RECIPES[domain]
    policy_dir = Path(policy_dir) if policy_dir is not None else ensure_policy(domain, progress=progress)
    path, note = find_judge(policy_dir, domain, cache_dir, cfg=cfg)
    if path is not None:
        return path
    name = judge_name(cfg, policy_dir)
    root = _cache_root(cache_dir)
    final = root / name
    if progress:
        print(f"training the {domain} judge backbone ({note})", file=sys.stderr)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        train_judge(cfg, policy_dir, tmp, progress=progress)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
