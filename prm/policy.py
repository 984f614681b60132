"""The tiny default policy: a small Llama trained on the reference solutions of the embedded tasks.

`ensure_policy("math")` returns a normal HF model directory (transformers and vLLM both load it),
training it on first use and reusing it afterwards. Prompts for it come from
`prm.sampler.build_prompt(model_dir, question)` (the plain format: the model has no chat template);
completions are the reference solutions (math: the steps joined by the domain separator), then EOS.

How it departs from a real policy, and why:
- the tokenizer splits every digit into its own token (`TinyConfig.individual_digits`), so a model
  this small can learn column arithmetic instead of memorizing sums;
- the loss is on completion tokens only: question tokens are context, learning to write questions
  would spend the few minutes of training on nothing useful;
- it trains for a fixed number of steps, not a time budget, so the same key gives the same model
  on any machine (the time it takes is printed and stored in `policy.json`).

It is deliberately small and briefly trained, so it is often wrong. Measured (math, full preset,
60 held-out test problems x 8 samples, temperature 1, graded by `verifiers.math.grade`): 40.8%
per-sample accuracy; per-problem solve counts 0/8..8/8 = 9, 8, 11, 8, 5, 2, 9, 6, 2. Its mistakes
are its own: wrong arithmetic ("12 - 8 = 6", "4 + 16 = 30"), a wrong operator ("Then 4 * 4 = 16"
where the boxes are added), errors carried into later steps. `prm policy info --eval N` re-measures.

Where a policy comes from (`find_policy`): its name is `<domain>[-quick]-<key>`, where key hashes
the training texts, the config and `POLICY_VERSION` (bump it when this file's training code
changes). The package ships the trained default policies (`prm.shipped`, prm/assets/policy/<name>),
so a fresh clone trains nothing; a shipped copy is used only when its name, hence its key, is the
one the current recipe gives, so a changed recipe never runs on stale weights: it trains, and says
why. Trained policies go to the cache, `<cache_dir>/<name>/`. A directory is complete when its
`policy.json` exists; training writes to a temp dir and renames, under a file lock, so two
processes never train the same policy at once nor see a half-written one. `rebuild_policy` trains
from scratch whatever exists (`prm policy train`), and `compare_with_shipped` says whether the
rebuild is the shipped copy bit for bit, or else how their held-out accuracies compare.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

from prm import shipped
from prm.errors import UserError
from prm.domains import DOMAINS

POLICY_VERSION = "2"  # 2: newlines are their own tokens (prefix continuations match training)


@dataclass(frozen=True)
class PolicyConfig:
    domain: str = "math"
    n_problems: int = 6000        # training problems drawn from the train split's seeded stream
    vocab_size: int = 512
    hidden_size: int = 128
    intermediate_size: int = 384
    num_hidden_layers: int = 4
    num_attention_heads: int = 4  # head_dim 32: a size vLLM's CPU attention supports
    num_key_value_heads: int = 2
    max_position_embeddings: int = 512
    steps: int = 600
    batch_size: int = 32
    lr: float = 4e-3
    warmup: int = 30
    weight_decay: float = 0.01
    threads: int = 0              # 0: the process's choice (prm/threads.py); not part of the cache key
    seed: int = 0


# Full: ~3 min on 2 idle CPU cores (~3.2 steps/s). Quick: the same model, a third of the steps
# (~1 min): it has the format and copies numbers, but is wrong far more often than the full one.
# Code stops at 400 steps: measured at temperature 1 on 60 held-out tasks x 8, 300 steps gave 16%,
# 400 gave 57% (solve rates spread over 0/8..8/8), 600 gave 80% (too easy to rerank).
PRESETS = {
    ("math", False): PolicyConfig(domain="math"),
    ("math", True): PolicyConfig(domain="math", n_problems=2000, steps=200),
    ("code", False): PolicyConfig(domain="code", steps=400),
    ("code", True): PolicyConfig(domain="code", n_problems=2000, steps=200),
}


def default_cache_dir() -> Path:
    env = os.environ.get("PRM_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "prm-toolkit"


def preset(domain: str, quick: bool = False) -> PolicyConfig:
    if domain not in DOMAINS:
        raise UserError(f"unknown policy domain {domain!r}; choose from {', '.join(DOMAINS)}")
    return PRESETS[(domain, quick)]


# ----------------------------------------------------------------------------- data (pure)
@lru_cache(maxsize=8)  # generating (and, for code, running) thousands of references takes seconds
def training_pairs(cfg: PolicyConfig) -> tuple[tuple[str, str], ...]:
    """(question, completion) pairs: the reference solutions of the train stream."""
    from prm.tasks import training_problems

    # math references are stored as the steps joined with the math separator; code is one program
    return tuple((p.question, p.metadata["reference"]) for p in training_problems(cfg.domain, cfg.n_problems))


def cache_key(cfg: PolicyConfig, pairs) -> str:
    h = hashlib.sha256()
    h.update(POLICY_VERSION.encode())
    # threads is how fast, not what: the same data and config on 1 or 2 threads is the same policy
    h.update(json.dumps({k: v for k, v in asdict(cfg).items() if k != "threads"}, sort_keys=True).encode())
    for q, c in pairs:
        h.update(q.encode() + b"\x00" + c.encode() + b"\x01")
    return h.hexdigest()[:16]


def encode_pairs(tokenizer, pairs) -> list[tuple[list[int], int]]:
    """Token ids of prompt + completion + EOS and the number of prompt tokens.

    Prompt and completion are tokenized apart and concatenated, which is exactly what sampling
    sees (the engine tokenizes the prompt alone and generates the rest), so no BPE merge across
    the boundary can differ between training and use.
    """
    from prm.sampler import build_prompt

    out = []
    for q, c in pairs:
        p_ids = tokenizer(build_prompt(tokenizer, q), add_special_tokens=False)["input_ids"]
        c_ids = tokenizer(c, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        out.append((p_ids + c_ids, len(p_ids)))
    return out


# ----------------------------------------------------------------------------- training
def train_policy(cfg: PolicyConfig, out_dir: str | Path, *, progress: bool = True, snapshot_every: int = 0) -> dict:
    """Train a policy into `out_dir` (created). Returns the report also written to policy.json.

    `snapshot_every=k` also saves the model every k steps under `out_dir/snap-<step>` (for
    choosing the number of steps; not part of the cache)."""
    import torch
    from transformers import AutoModelForCausalLM

    from prm.sampler import build_prompt
    from prm.tiny import TinyConfig, build_tokenizer, llama_config

    t0 = time.time()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pairs = training_pairs(cfg)
    key = cache_key(cfg, pairs)
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads or prev_threads)
    try:
        # the tokenizer sees prompts and completions, so the plain prompt's words get merged too
        texts = [build_prompt(None, q) + c for q, c in pairs]
        tokenizer = build_tokenizer(texts, cfg.vocab_size, individual_digits=True, isolate_newlines=True)
        tiny = TinyConfig(vocab_size=cfg.vocab_size, hidden_size=cfg.hidden_size,
                          intermediate_size=cfg.intermediate_size, num_hidden_layers=cfg.num_hidden_layers,
                          num_attention_heads=cfg.num_attention_heads,
                          num_key_value_heads=cfg.num_key_value_heads,
                          max_position_embeddings=cfg.max_position_embeddings, individual_digits=True,
                          seed=cfg.seed)
        torch.manual_seed(cfg.seed)
        model = AutoModelForCausalLM.from_config(llama_config(tokenizer, tiny))
        data = encode_pairs(tokenizer, pairs)
        too_long = max(len(ids) for ids, _ in data)
        if too_long > cfg.max_position_embeddings:
            raise UserError(f"a training sequence has {too_long} tokens > max_position_embeddings "
                            f"{cfg.max_position_embeddings}")
        losses = lm_train(model, data, pad=tokenizer.pad_token_id, steps=cfg.steps, lr=cfg.lr, warmup=cfg.warmup,
                          floor=0.1, batch_size=cfg.batch_size, weight_decay=cfg.weight_decay, seed=cfg.seed,
                          desc=f"train {cfg.domain} policy", progress=progress,
                          snapshot=(lambda k: (model.save_pretrained(out / f"snap-{k}"),
                                               tokenizer.save_pretrained(out / f"snap-{k}")))
                          if snapshot_every else None, snapshot_every=snapshot_every)
        model.eval()
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
    finally:
        torch.set_num_threads(prev_threads)
    report = {
        "domain": cfg.domain, "key": key, "policy_version": POLICY_VERSION, "config": asdict(cfg),
        "n_params": sum(p.numel() for p in model.parameters()), "train_seconds": round(time.time() - t0, 1),
        "final_loss": round(sum(losses[-20:]) / len(losses[-20:]), 4), "threads": cfg.threads or prev_threads,
        "torch": torch.__version__, "sep": DOMAINS[cfg.domain].sep,
    }
    (out / "policy.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def lm_train(model, data, *, pad: int, steps: int, lr: float, warmup: int, floor: float, batch_size: int,
             weight_decay: float, seed: int, desc: str, progress: bool = True, snapshot=None,
             snapshot_every: int = 0) -> list[float]:
    """The language-model loop shared by the policy and the judge (`prm.judge`): AdamW, linear
    warm-up, cosine decay to `floor` x lr, random batches from `data` = [(ids, n_prompt)], loss on
    completion tokens only. Returns the per-step losses. Deterministic for a seed (no dropout)."""
    import torch
    from tqdm import tqdm

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.98))
    rng = random.Random(seed)
    losses = []
    model.train()
    bar = tqdm(range(steps), desc=desc, unit="step", disable=not progress)
    for step in bar:
        rate = lr * min(1.0, (step + 1) / warmup) * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * step / steps)))
        for g in opt.param_groups:
            g["lr"] = rate
        batch = rng.sample(data, min(batch_size, len(data)))
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        attn = torch.zeros((len(batch), width), dtype=torch.long)
        for i, (ids, n_prompt) in enumerate(batch):
            input_ids[i, :len(ids)] = torch.tensor(ids)
            attn[i, :len(ids)] = 1
            labels[i, n_prompt:len(ids)] = torch.tensor(ids[n_prompt:])
        loss = model(input_ids=input_ids, attention_mask=attn, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if snapshot is not None and (step + 1) % snapshot_every == 0 and step + 1 < steps:
            snapshot(step + 1)
        if step % 10 == 0:
            bar.set_postfix(loss=f"{sum(losses[-10:]) / len(losses[-10:]):.3f}")
    model.eval()
    return losses


def _config(domain: str, quick: bool, cfg: PolicyConfig | None) -> PolicyConfig:
    cfg = cfg or preset(domain, quick)
    return cfg if cfg.domain == domain else replace(cfg, domain=domain)


def _cache_root(cache_dir: str | Path | None) -> Path:
    return Path(cache_dir) if cache_dir is not None else default_cache_dir() / "policy"


def policy_name(cfg: PolicyConfig, quick: bool = False) -> str:
    """`<domain>[-quick]-<key>`: the name of this recipe's policy, shipped or cached."""
    return f"{cfg.domain}{'-quick' if quick else ''}-{cache_key(cfg, training_pairs(cfg))}"


def find_policy(domain: str, cache_dir: str | Path | None = None, *, quick: bool = False,
                cfg: PolicyConfig | None = None) -> tuple[Path | None, str]:
    """(directory, where it came from) of this recipe's trained policy, without training: the shipped
    copy, else the cache; (None, why neither has it) when it must be trained."""
    cfg = _config(domain, quick, cfg)
    name = policy_name(cfg, quick)
    path, note = shipped.find_trained(f"policy/{name}", _cache_root(cache_dir) / name, "policy.json")
    if path is not None:
        return path, note
    # a name differing from the shipped ones' means another key: a changed recipe, never stale weights
    return None, f"{note}; the key hashes the config, the training texts and POLICY_VERSION"


def _train_into(cfg: PolicyConfig, final: Path, *, progress: bool, rebuild: bool) -> Path:
    """Train `cfg` into `final` (temp dir + rename, under a lock); unless `rebuild`, keep a finished one."""
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / f".{final.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be training this very policy
        if not rebuild and (final / "policy.json").exists():
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        try:
            train_policy(cfg, tmp, progress=progress)
            if final.exists():  # an older build, or a crashed run's leftover without policy.json
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


def ensure_policy(domain: str, cache_dir: str | Path | None = None, *, quick: bool = False,
                  cfg: PolicyConfig | None = None, progress: bool = True) -> Path:
    """The trained tiny policy for `domain` ("math" | "code"): shipped, cached, or trained now."""
    cfg = _config(domain, quick, cfg)
    path, note = find_policy(domain, cache_dir, quick=quick, cfg=cfg)
    if path is not None:
        return path
    if progress:
        print(f"training the {domain}{' quick' if quick else ''} policy ({note})", file=sys.stderr)
    return _train_into(cfg, _cache_root(cache_dir) / policy_name(cfg, quick), progress=progress, rebuild=False)


def rebuild_policy(domain: str, cache_dir: str | Path | None = None, *, quick: bool = False,
                   cfg: PolicyConfig | None = None, progress: bool = True) -> Path:
    """Train this recipe's policy from scratch into the cache, replacing a cached one (never the shipped)."""
    cfg = _config(domain, quick, cfg)
    return _train_into(cfg, _cache_root(cache_dir) / policy_name(cfg, quick), progress=progress, rebuild=True)


def compare_with_shipped(rebuilt: str | Path, domain: str, *, quick: bool = False, cfg: PolicyConfig | None = None,
                         n_problems: int = 30, n: int = 8) -> dict:
    """How a rebuilt policy compares with the shipped copy of the same recipe: identical weights and
    tokenizer (sha256), or else both held-out accuracies (`evaluate_policy`, same problems and seed)."""
    cfg = _config(domain, quick, cfg)
    ship, note = shipped.find(f"policy/{policy_name(cfg, quick)}")
    if ship is None:
        return {"shipped": None, "note": note}
    sha = {k: {f: shipped.sha256_file(Path(d) / f) for f in ("model.safetensors", "tokenizer.json")}
           for k, d in (("rebuilt", rebuilt), ("shipped", ship))}
    out = {"shipped": str(ship), "identical": sha["rebuilt"] == sha["shipped"],
           "sha256": {k: v["model.safetensors"] for k, v in sha.items()}}
    if not out["identical"]:
        out["accuracy"] = {k: evaluate_policy(path, domain, n_problems=n_problems, n=n)["accuracy"]
                           for k, path in (("rebuilt", rebuilt), ("shipped", ship))}
        out["held_out"] = f"{n_problems} test problems x {n} samples"
    return out


def policy_info(model_dir: str | Path) -> dict:
    path = Path(model_dir) / "policy.json"
    if not path.exists():
        raise UserError(f"{model_dir}: not a policy directory (no policy.json)")
    return json.loads(path.read_text())


# ----------------------------------------------------------------------------- evaluation
def evaluate_policy(model_dir: str | Path, domain: str, *, n_problems: int = 50, n: int = 8,
                    temperature: float = 1.0, backend: str = "transformers", seed: int = 0,
                    max_tokens: int = 160, sampler=None) -> dict:
    """Sample `n` solutions for each of the first `n_problems` held-out test problems and grade them
    with the verifiers (math: `grade` against the gold answer; code: the unit tests in the sandbox).

    Returns per-sample accuracy, the per-problem solve rates and their histogram, tokens/s, and a
    few wrong samples (the policy's own mistakes) next to the reference.
    """
    from prm.sampler import EngineConfig, SamplingConfig, build_prompt, make_sampler
    from prm.tasks import load_tasks

    problems = load_tasks(f"{domain}_test")[:n_problems]
    own = sampler is None
    sampler = sampler or make_sampler(EngineConfig(model=str(model_dir), backend=backend, seed=seed))
    try:
        t0 = time.time()
        outs = sampler.generate([build_prompt(sampler.tokenizer, p.question) for p in problems],
                                SamplingConfig(n=n, temperature=temperature, max_tokens=max_tokens, seed=seed))
        seconds = time.time() - t0
    finally:
        if own:
            sampler.close()
    from prm.domains import judge_many

    verdicts = judge_many([(p, c.text) for p, group in zip(problems, outs) for c in group])
    flat = [v.correct is True for v in verdicts]
    ok = [flat[i * n:(i + 1) * n] for i in range(len(problems))]
    rates = [sum(row) / n for row in ok]
    hist = {f"{k}/{n}": sum(1 for row in ok if sum(row) == k) for k in range(n + 1)}
    examples = [{"question": p.question, "reference": p.metadata.get("reference"), "text": c.text}
                for p, group, row in zip(problems, outs, ok) for c, good in zip(group, row) if not good][:10]
    tokens = sum(c.completion_tokens for group in outs for c in group)
    return {"domain": domain, "problems": len(problems), "n": n, "temperature": temperature,
            "backend": sampler.backend, "accuracy": round(sum(rates) / max(1, len(rates)), 4),
            "solve_rate_histogram": hist, "never_solved": sum(r == 0 for r in rates),
            "always_solved": sum(r == 1 for r in rates), "tokens_per_s": round(tokens / max(seconds, 1e-9), 1),
            "examples": examples}


def resolve_policy(domain: str, given: str | None = None, cache_dir: str | Path | None = None, *,
                   quick: bool = False) -> tuple[Path, str, bool]:
    """(model dir, what happened, whether it was given): `given` when set (it must hold a config.json),
    else the embedded tiny policy for `domain`: shipped, cached, or trained now (and why)."""
    if given:
        path = Path(given)
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"--{domain}-policy {given}: no config.json there")
        return path, f"given: {path}", True
    path, note = find_policy(domain, cache_dir, quick=quick)
    if path is not None:
        return path, note, False
    path = ensure_policy(domain, cache_dir, quick=quick)
    return path, f"trained {path} ({note})", False
