"""The reward-model trainer: loss, metrics, transformers' Trainer with our loss, and the entry points.

    from prm.train import TrainConfig, train_rm
    out_dir = train_rm(TrainConfig(model="path/to/causal-lm", train_file="labels.jsonl", output_dir="prm-out"))

Built on transformers' `Trainer`, so `accelerate launch` runs it under DDP, FSDP or DeepSpeed
unchanged (configs in scripts/accelerate/).

- loss     -- `rm_loss`: hard labels cross-entropy, soft labels BCE on logit(1) - logit(0) (the
  same number on 0/1 targets), pairwise Bradley-Terry on the same margin at the last step.
- metrics  -- step accuracy (threshold 0.5), AUROC, mean abs error to soft targets; pair accuracy.
- model    -- the causal LM loaded as a 2-label token classifier (optionally LoRA).
- entry    -- `prepare` (data, step tag), `train_rm` (one model), `train_ensemble` (K members).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from prm.errors import UserError
from prm.sequence import add_step_tag, resolve_step_tag
from prm.train.checkpoints import resume_point, train_and_save
from prm.train.config import TrainConfig
from prm.train.data import IGNORE, Collator, DataStats, make_features, read_stepwise
from prm.train.save import file_sha256, save_run, toolkit_settings

ID2LABEL = {0: "LABEL_0", 1: "LABEL_1"}   # index 1 = correct (TRL's LABEL_1, Qwen's positive column)


# ----------------------------------------------------------------------------- loss
def rm_loss(logits, labels, objective: str, normalizer=None):
    """Loss from token logits (B, T, 2) and float labels (B, T) with -100 = no label.

    prm / orm: mean over labeled positions of CE (hard 0/1 targets) or BCE on the margin
    logit1 - logit0 (soft targets); CE over 2 classes equals that BCE on 0/1 targets, so hard and
    soft positions mix in one batch on one scale. pairwise: -log sigmoid(r_c - r_r), r = the margin
    at each row's single labeled position, rows interleaved (chosen, rejected).

    `normalizer` (prm / orm): divide the summed loss by this count of labeled positions instead of
    this batch's own count. The trainer passes the count over the whole global batch (all
    gradient-accumulation steps, all ranks), so 2-rank DDP and gradient accumulation give the
    gradient of one big batch: a per-micro-batch mean would weight a step by its batch-mates.
    """
    import torch
    import torch.nn.functional as F

    logits = logits.float()
    margin = logits[..., 1] - logits[..., 0]
    mask = labels != IGNORE
    if objective == "pairwise":
        # one labeled position per row: its index is argmax of the mask
        pos = mask.float().argmax(dim=1)
        r = margin.gather(1, pos[:, None]).squeeze(1)
        return -F.logsigmoid(r[0::2] - r[1::2]).mean()
    if not mask.any():
        return margin.sum() * 0.0      # keeps the graph for DDP when a batch has no label
    y = labels[mask]
    hard = (y == 0.0) | (y == 1.0)
    total = logits.new_zeros(())
    if hard.any():
        total = total + F.cross_entropy(logits[mask][hard], y[hard].long(), reduction="sum")
    if (~hard).any():
        total = total + F.binary_cross_entropy_with_logits(margin[mask][~hard], y[~hard], reduction="sum")
    return total / (normalizer if normalizer is not None else y.numel())


# ----------------------------------------------------------------------------- metrics
def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve; nan with one class (Trainer metrics must be floats)."""
    from prm.eval.metrics import auroc as _auroc

    value = _auroc(scores, positive)
    return float("nan") if value is None else value


def step_metrics(margins: np.ndarray, labels: np.ndarray, objective: str) -> dict:
    """Metrics from per-token margins and labels (both (N, T), -100 = no label); for pairwise,
    `margins` holds one [r_chosen, r_rejected] row per pair and labels are not used."""
    margins = np.asarray(margins, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    mask = labels != IGNORE
    if objective == "pairwise":
        # margins is (pairs, 2) = [r_chosen, r_rejected] from _pair_rewards
        r = np.asarray(margins, dtype=np.float64).reshape(-1, 2)
        return {"pair_accuracy": float(np.mean(r[:, 0] > r[:, 1])), "pairs": int(len(r))}
    p = 1.0 / (1.0 + np.exp(-margins[mask]))
    y = labels[mask]
    return {"step_accuracy": float(np.mean((p >= 0.5) == (y >= 0.5))),
            "auroc": auroc(p, y >= 0.5),
            "mae": float(np.mean(np.abs(p - y))),
            "labeled_steps": int(mask.sum())}


def _margin_for_metrics(logits, labels):
    # keep (B, T) instead of (B, T, 2): halves what the eval loop gathers
    return (logits[..., 1] - logits[..., 0]).float()


def _pair_rewards(logits, labels):
    # one row per pair: the Trainer truncates gathered predictions to len(eval_dataset) = pairs,
    # so two rows per pair would be cut in half
    margin = (logits[..., 1] - logits[..., 0]).float()
    pos = (labels != IGNORE).float().argmax(dim=1)
    r = margin.gather(1, pos[:, None]).squeeze(1)
    return r.view(-1, 2)


# ----------------------------------------------------------------------------- trainer
def _trainer_class():
    from transformers import Trainer

    class RMTrainer(Trainer):
        """Trainer with the reward-model losses; everything else (DDP/FSDP/DeepSpeed, checkpoints,
        resume, logging) is the stock Trainer."""

        def __init__(self, *args, objective: str, backbone_lr: float | None = None, **kwargs):
            super().__init__(*args, **kwargs)
            self.objective = objective
            self.backbone_lr = backbone_lr
            # prm / orm: ask the Trainer for the number of labeled positions in the global batch
            # (summed over accumulation steps and gathered over ranks) and normalise by it, so the
            # loss is already scaled for accumulation. pairwise keeps a per-batch mean over pairs.
            token_level = objective != "pairwise"
            self.model_accepts_loss_kwargs = token_level
            self.loss_is_scaled_for_ga = token_level
            self._loss_shifts_labels = False   # a label sits on its own token: nothing is shifted

        def create_optimizer(self, model=None):
            # the stock optimizer (AdamW, decay split) with one more split: the score head at
            # --lr, the rest at --backbone-lr; the scheduler scales each group from its own rate
            if self.backbone_lr is None or self.optimizer is not None:
                return super().create_optimizer(model)
            opt_model = self.model if model is None else model
            decay = set(self.get_decay_parameter_names(opt_model))
            groups: dict[tuple[bool, bool], list] = {}
            for name, p in opt_model.named_parameters():
                if p.requires_grad:
                    groups.setdefault((is_head(name), name in decay), []).append(p)
            cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
            self.optimizer = cls([{"params": ps, "lr": self.args.learning_rate if head else self.backbone_lr,
                                   "weight_decay": self.args.weight_decay if dec else 0.0}
                                  for (head, dec), ps in groups.items()], **kwargs)
            return self.optimizer

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs = dict(inputs)
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            if self.objective != "pairwise" and num_items_in_batch is not None:
                loss = rm_loss(outputs.logits, labels, self.objective, normalizer=num_items_in_batch)
                if self.args.average_tokens_across_devices and self.accelerator.num_processes > 1:
                    # DDP averages gradients over ranks; the count already spans all ranks
                    loss = loss * self.accelerator.num_processes
            else:
                loss = rm_loss(outputs.logits, labels, self.objective)
            return (loss, outputs) if return_outputs else loss

    return RMTrainer


# ----------------------------------------------------------------------------- model
HEAD_MODULES = ("score", "classifier")   # the token-classification head's name across HF architectures


def is_head(param_name: str) -> bool:
    """Whether a parameter belongs to the classification head ("score.weight", "base_model...classifier.bias")."""
    parts = param_name.split(".")
    return any(p in HEAD_MODULES for p in parts[:-1])


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(name)
    except Exception as e:  # missing dir, no network for a hub name, broken files
        raise UserError(f"cannot load a tokenizer from {name!r}: {type(e).__name__}: {str(e).splitlines()[0][:200]}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token     # right padding is masked out; any id works
    return tok


def load_backbone(cfg: TrainConfig, tokenizer):
    import torch
    from transformers import AutoConfig, AutoModelForTokenClassification

    try:
        # classifier_dropout=0: transformers' token-classification head defaults to dropout 0.1,
        # whose random masks make the loss depend on the RNG stream, so 2-rank DDP and one process
        # trained different models from the same data; reward models are trained without it
        # (OpenRLHF, Qwen PRMs), and scoring runs in eval mode anyway.
        config = AutoConfig.from_pretrained(
            cfg.model, num_labels=2, id2label=ID2LABEL, label2id={v: k for k, v in ID2LABEL.items()})
        config.classifier_dropout = 0.0
        model = AutoModelForTokenClassification.from_pretrained(cfg.model, config=config, dtype=torch.float32)
    except Exception as e:
        raise UserError(f"cannot load {cfg.model!r} as a token-classification model: "
                        f"{type(e).__name__}: {str(e).splitlines()[0][:200]}") from None
    new_tokens = model.get_input_embeddings().weight.shape[0] < len(tokenizer)
    if new_tokens:
        model.resize_token_embeddings(len(tokenizer))   # the step tag; new rows start at the mean
    model.config.pad_token_id = tokenizer.pad_token_id
    if cfg.backbone_lr == 0:
        if new_tokens:
            raise UserError(f"--backbone-lr 0 freezes the embeddings, but the step tag {tokenizer.convert_ids_to_tokens(len(tokenizer) - 1)!r} "
                            "is a new token whose embedding must be trained; give --step-tag none, a tag the "
                            "tokenizer already has, or a small --backbone-lr instead of 0")
        heads = [n for n, _ in model.named_parameters() if is_head(n)]
        if not heads:
            raise UserError(f"--backbone-lr 0: found no head module named one of {HEAD_MODULES} in {cfg.model!r}")
        for name, p in model.named_parameters():
            p.requires_grad_(is_head(name))
    if cfg.lora_r > 0:
        from peft import LoraConfig, TaskType, get_peft_model

        # a new step tag needs a trained embedding row, which LoRA on linear layers cannot give
        save = ["score"] + (["embed_tokens"] if new_tokens else [])
        model = get_peft_model(model, LoraConfig(
            task_type=TaskType.TOKEN_CLS, r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout, target_modules="all-linear", modules_to_save=save))
    return model


# ----------------------------------------------------------------------------- entry points
def prepare(cfg: TrainConfig, tokenizer, *, progress: bool = True):
    """Read, tokenize and (pairwise) pair the data; adds the step tag to `tokenizer` when one is
    needed. Returns (step_tag, step_tag_id, train, eval, stats)."""
    stats = DataStats()
    train_recs = read_stepwise(cfg.train_file, cfg.shard, stats)
    eval_recs = read_stepwise(cfg.eval_file, None, DataStats()) if cfg.eval_file else []
    step_tag = resolve_step_tag(tokenizer, cfg.sep, cfg.step_tag,
                                probe=((r.prompt, r.completions) for r in train_recs[:512]))
    step_tag_id = add_step_tag(tokenizer, step_tag)     # before tokenizing: the tag must be one token
    train = make_features(tokenizer, train_recs, cfg, step_tag, stats, progress=progress)
    if not train:
        raise UserError(f"{cfg.train_file}: no usable training samples for objective {cfg.objective!r} "
                        f"(read {stats.read}, too long {stats.dropped_too_long}, unlabeled "
                        f"{stats.dropped_unlabeled}, boundaries merged {stats.dropped_merged}, pairs {stats.pairs})")
    ev = make_features(tokenizer, eval_recs, cfg, step_tag, DataStats(), progress=progress, desc="tokenize eval")
    return step_tag, step_tag_id, train, ev, stats


def train_rm(cfg: TrainConfig, *, progress: bool = True) -> Path:
    """Train one reward model; returns the output directory (a loadable HF model dir)."""
    if cfg.objective == "implicit":       # a causal LM against a frozen reference: its own loop
        from prm.train.implicit import train_implicit

        return train_implicit(cfg, progress=progress)
    if cfg.objective == "generative":     # a causal LM that writes checks and verdicts: its own loop
        from prm.train.generative import train_generative

        return train_generative(cfg, progress=progress)
    out = Path(cfg.output_dir)
    ckpt_dir = out / "checkpoints"
    tokenizer = load_tokenizer(cfg.model)
    step_tag, step_tag_id, train, ev, stats = prepare(cfg, tokenizer, progress=progress)
    data_hash = file_sha256(cfg.train_file)
    if cfg.keeps_best and not ev:
        raise UserError(f"{cfg.eval_file}: no usable eval samples for objective {cfg.objective!r}, so there is no "
                        "held-out loss for --best-on-eval / --early-stopping to follow")

    run = {"data_sha256": data_hash, "objective": cfg.objective}
    last = resume_point(cfg.resume, ckpt_dir, run)
    from transformers import set_seed

    set_seed(cfg.seed)  # the new score head is drawn from torch's RNG: unseeded, two runs (or a DDP run) differ
    model = load_backbone(cfg, tokenizer)
    args = cfg.training_arguments(str(ckpt_dir), has_eval=bool(ev))
    RMTrainer = _trainer_class()
    callbacks = []
    if cfg.early_stopping:
        from transformers import EarlyStoppingCallback

        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping))
    trainer = RMTrainer(
        model=model, args=args, train_dataset=train, eval_dataset=ev or None,
        data_collator=Collator(tokenizer.pad_token_id), processing_class=tokenizer,
        compute_metrics=(lambda p: step_metrics(p.predictions, p.label_ids, cfg.objective)),
        preprocess_logits_for_metrics=_pair_rewards if cfg.objective == "pairwise" else _margin_for_metrics,
        objective=cfg.objective, backbone_lr=cfg.backbone_lr, callbacks=callbacks)
    train_and_save(trainer, ckpt_dir=ckpt_dir, out=out, run=run, last=last, has_eval=bool(ev),
                   keep_checkpoints=cfg.keep_checkpoints, save=lambda metrics, eval_metrics: save_run(
                       trainer, tokenizer, cfg, toolkit_settings(cfg, step_tag, step_tag_id, stats, data_hash), stats,
                       metrics, eval_metrics, last))
    return out


def train_ensemble(cfg: TrainConfig, *, seeds: list[int] | None = None, shards: int | None = None,
                   progress: bool = True) -> list[Path]:
    """K members: one per seed (output_dir/seed{s}) or one per problem shard (output_dir/shard{k}).
    Writes output_dir/ensemble.json listing them, which `load_scorer(output_dir)` understands."""
    if bool(seeds) == bool(shards):
        raise UserError("give either seeds or a shard count for an ensemble")
    if seeds:
        members = [replace(cfg, seed=s, output_dir=str(Path(cfg.output_dir) / f"seed{s}")) for s in seeds]
    else:
        members = [replace(cfg, shard=(k, shards), seed=cfg.seed + k,
                           output_dir=str(Path(cfg.output_dir) / f"shard{k}")) for k in range(shards)]
    dirs = [train_rm(m, progress=progress) for m in members]
    Path(cfg.output_dir).mkdir(parents=True, exist_ok=True)
    (Path(cfg.output_dir) / "ensemble.json").write_text(
        json.dumps({"members": [d.name for d in dirs]}, indent=1))
    return dirs
