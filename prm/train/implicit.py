"""The implicit PRM's training (`prm train --objective implicit`): an ORM parameterised as a log-ratio.

Yuan et al. 2024, "Free Process Rewards without Process Labels" (arXiv 2412.01981), CE variant:

    r(y) = beta * log pi_theta(y) / pi_ref(y)        (summed over the completion's tokens)
    loss = BCE(sigmoid(r(y)), outcome)               (outcome = the record's final correctness)

pi_theta is the trainable causal LM (`--model`, kept a causal LM: no head is added), pi_ref the
frozen reference (`--ref-model`, default the same checkpoint as `--model`, the paper's setup where
both start from the policy). Per-step rewards then come for free: beta * the log-ratio summed over a
step's tokens (`prm.scoring.implicit`). Sequences are built by `prm.scoring.logratio.encode_completion`,
the function the scorer uses: prompt and completion tokenized apart, as the policy saw them.

How this departs from the paper's code, and why:
- the reference's log-probabilities are computed once, before training, in eval mode with no
  gradient (one float per sample), instead of a second forward pass at every step: the reference
  is frozen, so the numbers are the same, and the Trainer (DDP, checkpoints, resume) sees one model;
- the final EOS is not part of r(y): a stepwise record does not say whether the sample finished,
  and scoring a prefix in step-level search has none, so training and scoring sum the same tokens;
- soft outcome labels (floats in [0, 1]) are BCE targets as they are, as everywhere in this package.

Saved as a plain HF causal-LM directory; config.json's `prm_toolkit` adds objective "implicit", beta,
the reference's path and the sha256 of its weights (a scorer refuses another reference).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from prm.errors import UserError
from prm.records import StepwiseRecord
from prm.scoring.implicit import weights_sha256
from prm.scoring.logratio import completion_logprobs, encode_completion, truncate_prompt
from prm.train.config import TrainConfig
from prm.train.data import DataStats, is_soft, outcome_label, read_stepwise
from prm.train.save import file_sha256, save_run, toolkit_settings

LABEL_SEMANTICS = ("step reward r_t = beta * sum over step t's tokens of log pi/pi_ref; "
                   "score sigmoid(q_t), q_t = r_1 + ... + r_t (last = P(outcome correct))")


# ----------------------------------------------------------------------------- features (pure but for the tokenizer)
def featurize_implicit(tokenizer, rec: StepwiseRecord, *, sep: str, max_length: int) -> tuple[dict | None, str]:
    """One record -> ({"input_ids", "prompt_len", "labels"}, "ok") or (None, "unlabeled" | "too_long")."""
    y = outcome_label(rec)
    if y is None:
        return None, "unlabeled"
    seq = encode_completion(tokenizer, rec.prompt, list(rec.completions), sep)
    if len(seq.input_ids) == seq.prompt_len:
        return None, "unlabeled"              # no completion token: nothing to score
    t = truncate_prompt(seq, max_length)
    if t is None:
        return None, "too_long"
    return {"input_ids": t.input_ids, "prompt_len": t.prompt_len, "labels": float(y)}, "ok"


class ImplicitCollator:
    """Right-pads a batch: input_ids, attention_mask, completion_mask (1.0 on completion tokens),
    labels (one outcome per row) and, once computed, ref_logp (one float per row)."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, features: list[dict]) -> dict:
        import torch

        n = max(len(f["input_ids"]) for f in features)
        ids = torch.full((len(features), n), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(features), n), dtype=torch.long)
        completion = torch.zeros((len(features), n), dtype=torch.float32)
        for i, f in enumerate(features):
            k = len(f["input_ids"])
            ids[i, :k] = torch.tensor(f["input_ids"], dtype=torch.long)
            attention[i, :k] = 1
            completion[i, f["prompt_len"]:k] = 1.0
        out = {"input_ids": ids, "attention_mask": attention, "completion_mask": completion,
               "labels": torch.tensor([f["labels"] for f in features], dtype=torch.float32)}
        if "ref_logp" in features[0]:
            out["ref_logp"] = torch.tensor([f["ref_logp"] for f in features], dtype=torch.float64).float()
        return out


# ----------------------------------------------------------------------------- loss and metrics
def implicit_loss(logits, input_ids, completion_mask, ref_logp, labels, beta: float):
    """(mean BCE of sigmoid(r) against the outcome labels, r) with r = beta * (log pi(y) - log pi_ref(y))."""
    import torch.nn.functional as F

    r = beta * (completion_logprobs(logits, input_ids, completion_mask) - ref_logp)
    return F.binary_cross_entropy_with_logits(r, labels.float()), r


def outcome_metrics(r: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy of sigmoid(r) >= 0.5 and AUROC of r against outcome >= 0.5 (nan with one class)."""
    from prm.eval.metrics import auroc

    r, y = np.asarray(r, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    a = auroc(r, y >= 0.5)
    return {"outcome_accuracy": float(np.mean((r >= 0) == (y >= 0.5))),
            "outcome_auroc": float("nan") if a is None else a, "samples": int(len(r))}


def _trainer_class():
    from transformers import Trainer

    class ImplicitTrainer(Trainer):
        """Trainer with the implicit-PRM loss; one mean over the batch's samples (the Trainer divides
        by the accumulation steps)."""

        def __init__(self, *args, beta: float, **kwargs):
            super().__init__(*args, **kwargs)
            self.beta = beta
            self.model_accepts_loss_kwargs = False
            self.loss_is_scaled_for_ga = False

        def _loss(self, model, inputs):
            inputs = dict(inputs)
            out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
            loss, r = implicit_loss(out.logits, inputs["input_ids"], inputs["completion_mask"], inputs["ref_logp"],
                                    inputs["labels"], self.beta)
            return loss, r, out

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss, _, out = self._loss(model, inputs)
            return (loss, out) if return_outputs else loss

        def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
            import torch

            inputs = self._prepare_inputs(inputs)
            with torch.no_grad():
                loss, r, _ = self._loss(model, inputs)
            return loss.detach(), (None if prediction_loss_only else r.detach()), inputs["labels"]

    return ImplicitTrainer


# ----------------------------------------------------------------------------- models
def _tokenizer(name: str):
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(name)
    except Exception as e:  # missing dir, no network for a hub name, broken files
        raise UserError(f"cannot load a tokenizer from {name!r}: {type(e).__name__}: "
                        f"{str(e).splitlines()[0][:200]}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token     # right padding is masked out; any id works
    return tok


def load_causal_lm(name: str):
    import torch
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(name, dtype=torch.float32)
    except Exception as e:
        raise UserError(f"cannot load {name!r} as a causal LM: {type(e).__name__}: "
                        f"{str(e).splitlines()[0][:200]}") from None


def reference_logprobs(ref_model, feats: list[dict], pad_id: int, batch_size: int) -> list[float]:
    """log pi_ref(completion | prompt) of each feature: eval mode, no gradient, batched."""
    import torch

    ref_model.eval()
    # each rank of a multi-GPU run on its own device (accelerate has not set one up yet)
    device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu"
    ref_model.to(device)
    collate, out = ImplicitCollator(pad_id), []
    with torch.inference_mode():
        for i in range(0, len(feats), batch_size):
            b = collate(feats[i:i + batch_size])
            logits = ref_model(input_ids=b["input_ids"].to(device), attention_mask=b["attention_mask"].to(device)).logits
            out += completion_logprobs(logits, b["input_ids"].to(device), b["completion_mask"].to(device)).cpu().tolist()
    return out


def make_implicit_features(tokenizer, records: list[StepwiseRecord], cfg: TrainConfig, stats: DataStats) -> list[dict]:
    """Features of the records that have an outcome and fit; counts the rest in `stats`."""
    feats = []
    for rec in records:
        feat, why = featurize_implicit(tokenizer, rec, sep=cfg.sep, max_length=cfg.max_length)
        if feat is None:
            setattr(stats, f"dropped_{why}", getattr(stats, f"dropped_{why}") + 1)
            continue
        feats.append(feat)
        if is_soft(feat["labels"]):
            stats.soft_labels += 1
        else:
            stats.hard_labels += 1
    stats.used = len(feats)
    return feats


# ----------------------------------------------------------------------------- entry point
def prepare_implicit(cfg: TrainConfig, tokenizer) -> tuple[list[dict], list[dict], DataStats, str]:
    """Read, tokenize and attach the reference's log-probabilities. Returns (train, eval, stats, ref)."""
    ref_name = cfg.ref_model or cfg.model
    if _tokenizer(ref_name).get_vocab() != tokenizer.get_vocab():
        raise UserError(f"--ref-model {ref_name!r} does not share --model {cfg.model!r}'s tokenizer: "
                        "a log-ratio of two models needs the same tokens")
    stats = DataStats()
    train = make_implicit_features(tokenizer, read_stepwise(cfg.train_file, cfg.shard, stats), cfg, stats)
    if not train:
        raise UserError(f"{cfg.train_file}: no usable training samples for objective 'implicit' (read {stats.read}, "
                        f"too long {stats.dropped_too_long}, without an outcome {stats.dropped_unlabeled})")
    ev_recs = read_stepwise(cfg.eval_file, None, DataStats()) if cfg.eval_file else []
    ev = make_implicit_features(tokenizer, ev_recs, cfg, DataStats())
    ref = load_causal_lm(ref_name)
    for feats in (train, ev):
        lps = reference_logprobs(ref, feats, tokenizer.pad_token_id, cfg.per_device_eval_batch_size)
        for f, lp in zip(feats, lps):
            f["ref_logp"] = lp
    del ref
    return train, ev, stats, ref_name


def implicit_settings(cfg: TrainConfig, stats: DataStats, data_hash: str, ref_name: str) -> dict:
    ref_dir = Path(ref_name)
    settings = toolkit_settings(cfg, None, None, stats, data_hash)
    settings.update({"objective": "implicit", "kind": "prm", "label_index": None, "label_semantics": LABEL_SEMANTICS,
                     "beta": cfg.beta, "step_score": "q",
                     "ref_model": str(ref_dir.resolve()) if ref_dir.is_dir() else ref_name,
                     "ref_sha256": weights_sha256(ref_name)})
    return settings


def train_implicit(cfg: TrainConfig, *, progress: bool = True) -> Path:
    """Train an implicit PRM; returns the output directory (a plain HF causal-LM dir)."""
    from transformers import set_seed
    from transformers.trainer_utils import get_last_checkpoint

    out = Path(cfg.output_dir)
    ckpt_dir = out / "checkpoints"
    tokenizer = _tokenizer(cfg.model)
    train, ev, stats, ref_name = prepare_implicit(cfg, tokenizer)
    data_hash = file_sha256(cfg.train_file)
    run = {"data_sha256": data_hash, "objective": cfg.objective, "ref_model": ref_name, "beta": cfg.beta}
    last, run_file = None, ckpt_dir / "run.json"
    if cfg.resume and ckpt_dir.is_dir():
        last = get_last_checkpoint(str(ckpt_dir))
        if last and run_file.exists() and json.loads(run_file.read_text()) != run:
            raise UserError(f"{ckpt_dir}: checkpoints are from a different run (data, objective, reference or "
                            "beta changed); use a new --out (output_dir) or --no-resume")
    set_seed(cfg.seed)
    model = load_causal_lm(cfg.model)
    model.config.pad_token_id = tokenizer.pad_token_id
    if cfg.lora_r > 0:
        from peft import LoraConfig, TaskType, get_peft_model

        model = get_peft_model(model, LoraConfig(task_type=TaskType.CAUSAL_LM, r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                                                 lora_dropout=cfg.lora_dropout, target_modules="all-linear"))
    trainer = _trainer_class()(
        model=model, args=cfg.training_arguments(str(ckpt_dir), has_eval=bool(ev)), train_dataset=train,
        eval_dataset=ev or None, data_collator=ImplicitCollator(tokenizer.pad_token_id), processing_class=tokenizer,
        compute_metrics=lambda p: outcome_metrics(p.predictions, p.label_ids), beta=cfg.beta)
    if trainer.is_world_process_zero():
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        run_file.write_text(json.dumps(run))
    result = trainer.train(resume_from_checkpoint=last)
    eval_metrics = trainer.evaluate() if ev else {}
    if trainer.is_world_process_zero():
        save_run(trainer, tokenizer, cfg, implicit_settings(cfg, stats, data_hash, ref_name), stats,
                 result.metrics, eval_metrics, last)
    trainer.accelerator.wait_for_everyone()
    if trainer.is_world_process_zero() and not cfg.keep_checkpoints:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    return out
