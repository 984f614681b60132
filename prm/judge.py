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


# The domains with a judge recipe. Code has none yet: its policy is right on 57% of samples and
# reward models there are judged by the tests' pass/fail pattern; a code judge is future work.
RECIPES = {"math": JudgeConfig(domain="math")}


def _pairs(cfg: JudgeConfig):
    from prm.policy import PolicyConfig, training_pairs

    return training_pairs(PolicyConfig(domain=cfg.domain, n_problems=cfg.n_problems))


def judge_name(cfg: JudgeConfig, policy_dir: str | Path) -> str:
    """`<domain>-<key>`: the key hashes JUDGE_VERSION, this config, the policy it starts from (its
    directory name carries the policy's own key) and the training texts."""
    h = hashlib.sha256()
    h.update(JUDGE_VERSION.encode())
    h.update(json.dumps(asdict(cfg), sort_keys=True).encode())
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
    model = AutoModelForCausalLM.from_pretrained(str(policy_dir), dtype=torch.float32)
    data = encode_pairs(tokenizer, _pairs(cfg))
    losses = lm_train(model, data, pad=tokenizer.pad_token_id, steps=cfg.steps, lr=cfg.lr, warmup=cfg.warmup,
                      floor=cfg.floor, batch_size=cfg.batch_size, weight_decay=cfg.weight_decay, seed=cfg.seed,
                      desc=f"train {cfg.domain} judge", progress=progress)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    report = {"domain": cfg.domain, "judge_version": JUDGE_VERSION, "config": asdict(cfg),
              "policy": Path(policy_dir).name, "train_seconds": round(time.time() - t0, 1),
              "final_loss": round(sum(losses[-20:]) / len(losses[-20:]), 4), "torch": torch.__version__}
    (out / "judge.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


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
