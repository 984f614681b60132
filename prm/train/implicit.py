"""The implicit PRM's training (`prm train --objective implicit`): a reward parameterised as a log-ratio,
trained on outcome labels (an ORM, Yuan et al.) or on step labels (process supervision).

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

Process supervision in the same parametrization (`implicit_labels="step"`): the loss is the mean over
every labelled step prefix of BCE(sigmoid(q_t), label_t), with q_t = r_1 + ... + r_t the cumulative
reward up to the end of step t (the prefix's value, Yuan et al. Prop. 3.1) and label_t the record's
step label (first-error labels: "steps 1..t are all correct"). Steps labelled None carry no loss.
Outcome and step supervision then differ only in which labels meet which sums, so a PRM and an ORM
trained on the same samples from the same start are compared like for like.

Saved as a plain HF causal-LM directory; config.json's `prm_toolkit` adds objective "implicit", beta,
the reference's path and the sha256 of its weights (a scorer refuses another reference).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from prm.errors import UserError
from prm.records import StepwiseRecord
from prm.scoring.base import pad_ids
from prm.scoring.implicit import weights_sha256
from prm.scoring.logratio import completion_logprobs, encode_completion, token_logprobs, truncate_prompt
from prm.train.checkpoints import resume_point, train_and_save
from prm.train.config import TrainConfig
from prm.train.data import IGNORE, DataStats, is_soft, outcome_label, read_stepwise
from prm.train.save import file_sha256, save_run, toolkit_settings

LABEL_SEMANTICS = ("step reward r_t = beta * sum over step t's tokens of log pi/pi_ref; "
                   "score sigmoid(q_t), q_t = r_1 + ... + r_t (last = P(outcome correct))")


# ----------------------------------------------------------------------------- features (pure but for the tokenizer)
def step_ends(step_of: list[int], n_steps: int) -> list[int | None]:
    """Index of each step's last completion token; a step with no token of its own ends where the
    step before it ended (its q_t equals q_{t-1}); None before the first token."""
    last: list[int | None] = [None] * n_steps
    for j, k in enumerate(step_of):
        last[k] = j
    out, prev = [], None
    for x in last:
        prev = x if x is not None else prev
        out.append(prev)
    return out


def featurize_implicit(tokenizer, rec: StepwiseRecord, *, sep: str, max_length: int,
                       labels: str = "outcome") -> tuple[dict | None, str]:
    """One record -> (feature, "ok") or (None, "unlabeled" | "too_long").

    outcome: {"input_ids", "prompt_len", "labels": the outcome}. step: also "step_pos" (for each
    labelled step, the index in `token_logprobs`' output of its last token: prompt_len - 1 + j) and
    "labels" = those steps' labels as floats, so q_t is read as a cumulative sum at step_pos."""
    y = outcome_label(rec)
    if y is None and labels == "outcome":
        return None, "unlabeled"
    seq = encode_completion(tokenizer, rec.prompt, list(rec.completions), sep)
    if len(seq.input_ids) == seq.prompt_len:
        return None, "unlabeled"              # no completion token: nothing to score
    t = truncate_prompt(seq, max_length)
    if t is None:
        return None, "too_long"
    if labels == "outcome":
        return {"input_ids": t.input_ids, "prompt_len": t.prompt_len, "labels": float(y)}, "ok"
    pos, ys = [], []
    for end, lab in zip(step_ends(t.step_of, t.n_steps), rec.labels):
        if lab is not None and end is not None:
            pos.append(t.prompt_len - 1 + end)
            ys.append(float(lab))
    if not ys:
        return None, "unlabeled"
    return {"input_ids": t.input_ids, "prompt_len": t.prompt_len, "step_pos": pos, "labels": ys}, "ok"


class ImplicitCollator:
    """Right-pads a batch: input_ids, attention_mask, completion_mask (1.0 on completion tokens),
    labels (one outcome per row) and, once computed, ref_logp (one float per row)."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, features: list[dict]) -> dict:
        import torch

        ids, attention = pad_ids([f["input_ids"] for f in features], self.pad_id)
        completion = torch.zeros(ids.shape, dtype=torch.float32)
        for i, f in enumerate(features):
            completion[i, f["prompt_len"]:len(f["input_ids"])] = 1.0
        out = {"input_ids": ids, "attention_mask": attention, "completion_mask": completion}
        if "step_pos" not in features[0]:
            out["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.float32)
            if "ref_logp" in features[0]:
                out["ref_logp"] = torch.tensor([f["ref_logp"] for f in features], dtype=torch.float64).float()
            return out
        # step supervision: (B, S) step positions, labels (-100 = padding) and reference sums
        s = max(len(f["step_pos"]) for f in features)
        pos = torch.zeros((len(features), s), dtype=torch.long)
        labels = torch.full((len(features), s), IGNORE, dtype=torch.float32)
        ref = torch.zeros((len(features), s), dtype=torch.float32)
        for i, f in enumerate(features):
            k = len(f["step_pos"])
            pos[i, :k] = torch.tensor(f["step_pos"], dtype=torch.long)
            labels[i, :k] = torch.tensor(f["labels"], dtype=torch.float32)
            if "ref_logp" in f:
                ref[i, :k] = torch.tensor(f["ref_logp"], dtype=torch.float64).float()
        out.update(step_pos=pos, labels=labels, ref_logp=ref)
        return out


# ----------------------------------------------------------------------------- loss and metrics
def prefix_logprobs(logits, input_ids, completion_mask, step_pos):
    """log pi(steps 1..t | prompt) at each (B, S) position of `step_pos`: cumulative sums of the
    completion tokens' log-probabilities, read at each step's last token. Torch."""
    lp = token_logprobs(logits, input_ids) * completion_mask[:, 1:]
    return lp.cumsum(dim=1).gather(1, step_pos)


def implicit_loss(logits, input_ids, completion_mask, ref_logp, labels, beta: float, step_pos=None):
    """(mean BCE, the rewards it was computed on).

    Outcome (step_pos None): r = beta * (log pi(y) - log pi_ref(y)) per row against the outcome.
    Step: q_t = beta * (log pi(y_<=t) - log pi_ref(y_<=t)) per labelled prefix against its label,
    the mean over all labelled prefixes of the batch (a long sample weighs by its steps)."""
    import torch.nn.functional as F

    if step_pos is None:
        r = beta * (completion_logprobs(logits, input_ids, completion_mask) - ref_logp)
        return F.binary_cross_entropy_with_logits(r, labels.float()), r
    q = beta * (prefix_logprobs(logits, input_ids, completion_mask, step_pos) - ref_logp)
    mask = labels != IGNORE
    if not mask.any():
        return q.sum() * 0.0, q
    return F.binary_cross_entropy_with_logits(q[mask], labels[mask].float()), q


def outcome_metrics(r: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy of sigmoid(r) >= 0.5 and AUROC of r against outcome >= 0.5 (nan with one class).
    Step supervision: the same of q_t against each labelled prefix's label (padding dropped)."""
    from prm.eval.metrics import auroc

    r, y = np.asarray(r, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    keep = y != IGNORE
    if not keep.all():
        a = auroc(r[keep], y[keep] >= 0.5)
        return {"step_accuracy": float(np.mean((r[keep] >= 0) == (y[keep] >= 0.5))),
                "step_auroc": float("nan") if a is None else a, "labeled_steps": int(keep.sum())}
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
                                    inputs["labels"], self.beta, inputs.get("step_pos"))
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


def trainable_causal_lm(cfg: TrainConfig, tokenizer):
    """`cfg.model` as the causal LM a log-ratio or generative objective trains (LoRA adapters when
    `cfg.lora_r` > 0); call after seeding."""
    model = load_causal_lm(cfg.model)
    model.config.pad_token_id = tokenizer.pad_token_id
    if cfg.lora_r > 0:
        from peft import LoraConfig, TaskType, get_peft_model

        model = get_peft_model(model, LoraConfig(task_type=TaskType.CAUSAL_LM, r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                                                 lora_dropout=cfg.lora_dropout, target_modules="all-linear"))
    return model


def reference_logprobs(ref_model, feats: list[dict], pad_id: int, batch_size: int) -> list:
    """log pi_ref(completion | prompt) of each feature (step supervision: of each labelled prefix, a
    list): eval mode, no gradient, batched."""
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
            ids, mask = b["input_ids"].to(device), b["completion_mask"].to(device)
            if "step_pos" not in b:
                out += completion_logprobs(logits, ids, mask).cpu().tolist()
                continue
            values = prefix_logprobs(logits, ids, mask, b["step_pos"].to(device)).double().cpu().tolist()
            out += [v[:len(f["step_pos"])] for v, f in zip(values, feats[i:i + batch_size])]
    return out


def make_implicit_features(tokenizer, records: list[StepwiseRecord], cfg: TrainConfig, stats: DataStats) -> list[dict]:
    """Features of the records that have an outcome and fit; counts the rest in `stats`."""
    feats = []
    for rec in records:
        feat, why = featurize_implicit(tokenizer, rec, sep=cfg.sep, max_length=cfg.max_length,
                                       labels=cfg.implicit_labels)
        if feat is None:
            setattr(stats, f"dropped_{why}", getattr(stats, f"dropped_{why}") + 1)
            continue
        feats.append(feat)
        for y in feat["labels"] if isinstance(feat["labels"], list) else [feat["labels"]]:
            if is_soft(y):
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
                     "beta": cfg.beta, "step_score": "q", "implicit_labels": cfg.implicit_labels,
                     "ref_model": str(ref_dir.resolve()) if ref_dir.is_dir() else ref_name,
                     "ref_sha256": weights_sha256(ref_name)})
    return settings


def train_implicit(cfg: TrainConfig, *, progress: bool = True) -> Path:
    """Train an implicit PRM; returns the output directory (a plain HF causal-LM dir)."""
    from transformers import set_seed

    out = Path(cfg.output_dir)
    ckpt_dir = out / "checkpoints"
    tokenizer = _tokenizer(cfg.model)
    train, ev, stats, ref_name = prepare_implicit(cfg, tokenizer)
    data_hash = file_sha256(cfg.train_file)
    run = {"data_sha256": data_hash, "objective": cfg.objective, "ref_model": ref_name, "beta": cfg.beta,
           "implicit_labels": cfg.implicit_labels}
    last = resume_point(cfg.resume, ckpt_dir, run)
    set_seed(cfg.seed)
    model = trainable_causal_lm(cfg, tokenizer)
    trainer = _trainer_class()(
        model=model, args=cfg.training_arguments(str(ckpt_dir), has_eval=bool(ev)), train_dataset=train,
        eval_dataset=ev or None, data_collator=ImplicitCollator(tokenizer.pad_token_id), processing_class=tokenizer,
        compute_metrics=lambda p: outcome_metrics(p.predictions, p.label_ids), beta=cfg.beta)
    train_and_save(trainer, ckpt_dir=ckpt_dir, out=out, run=run, last=last, has_eval=bool(ev),
                   keep_checkpoints=cfg.keep_checkpoints, save=lambda metrics, eval_metrics: save_run(
                       trainer, tokenizer, cfg, implicit_settings(cfg, stats, data_hash, ref_name), stats, metrics,
                       eval_metrics, last))
    return out
