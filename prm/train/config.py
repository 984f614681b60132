"""Settings for one reward-model training run (`prm train`, `prm.train.train_rm`), and its CLI flags.

A frozen dataclass with no side effects: the run's own knobs here, everything else of transformers'
`TrainingArguments` through `extra_args` (or an accelerate config for DDP / FSDP / DeepSpeed, which
`accelerate launch` hands to the Trainer unchanged). Each field is read in one place.

Objectives (ORM and PRM share tokenizer, sequence builder and head; they differ in labels and loss):
- "prm": a label on every judged step. Hard labels (bool) train with cross-entropy over the 2
  classes; soft labels (floats, e.g. MC values) with binary cross-entropy on the same logits
  (target = the float, never cast). On 0/1 targets the two losses are the same number.
- "orm" (outcome): one label, the sample's final correctness, at the last step's position, BCE
  (Lightman et al.; Math-Shepherd's ORM baseline).
- "pairwise": Bradley-Terry, -log sigmoid(r_chosen - r_rejected), r = logit(correct) - logit(wrong)
  at the last step; pairs are correct vs incorrect samples of the same problem.
- "implicit": the implicit PRM (Yuan et al. 2024): the model stays a causal LM, r(y) = beta * log
  pi(y) / pi_ref(y) against a frozen reference (the policy), BCE of sigmoid(r(y)) on the outcome
  label; per-step rewards come out as log-ratio sums over each step's tokens (prm/train/implicit.py).
- "generative": a step verifier that stays a causal LM: it writes its own value at each checked "="
  before the step's value, then a verdict; LM loss on those tokens (prm/train/generative.py).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

OBJECTIVES = ("prm", "orm", "pairwise", "implicit", "generative")
IMPLICIT_LABELS = ("outcome", "step")


# Metadata of a field that is a `prm train` flag (prm/commands/train.py builds the parser from it,
# so a flag's default is the field's default, written once): "help", "group" (the --help section),
# "flag" where the flag's name is not the field's ("--lr"; a True-by-default bool is a "--no-X"
# flag), "old" for deprecated spellings, "choices", and "escaped" for strings typed with
# backslash escapes on the command line ("\\n\\n").
DATA, SEQUENCE, OPTIM, CHECKPOINTS = "data and model", "sequence", "optimisation", "checkpoints and logging"


@dataclass(frozen=True)
class TrainConfig:
    model: str = field(metadata={
        "help": "causal-LM checkpoint dir (or hub name where you have network)", "group": DATA})
    train_file: str = field(metadata={"help": "stepwise JSONL to train on", "group": DATA, "flag": "--train"})
    output_dir: str = field(metadata={
        "help": "final model here; checkpoints in OUT/checkpoints", "group": DATA, "flag": "--out",
        "old": ("--output-dir",)})
    objective: str = field(default="prm", metadata={
        "help": "prm: label per step; orm: final correctness at the last step (BCE); "
                "pairwise: Bradley-Terry on correct vs incorrect samples of one problem; "
                "implicit: outcome CE on beta * log pi/pi_ref (per-step log-ratio rewards); "
                "generative: the LM writes a check value at each '=' and a verdict per step",
        "group": DATA, "choices": OBJECTIVES})
    ref_model: str | None = field(default=None, metadata={   # implicit: None = --model (the paper's setup)
        "help": "implicit: the frozen reference causal LM, the policy; None: --model itself", "group": DATA})
    eval_file: str | None = field(default=None, metadata={
        "help": "stepwise JSONL for step accuracy / AUROC / loss", "group": DATA, "flag": "--eval"})
    sep: str = field(default="\n\n", metadata={
        "help": "step separator (escapes allowed; code: \\n)", "group": SEQUENCE, "escaped": True})
    step_tag: str = field(default="auto", metadata={   # see prm.sequence.resolve_step_tag
        "help": "auto: add a tag token only when needed; none: never; or the tag string to use", "group": SEQUENCE})
    max_length: int = field(default=1024, metadata={    # prompt left-truncated first, else the sample is dropped
        "help": "max tokens per sample", "group": SEQUENCE})
    learning_rate: float = field(default=2e-5, metadata={"help": "learning rate", "group": OPTIM, "flag": "--lr"})
    # The new classification head starts from random weights while the backbone is pretrained, so a rate
    # right for the head can wash out what the backbone knows; a lower backbone rate (or 0: a linear
    # probe on frozen features) is the usual remedy. prm / orm / pairwise only (LoRA has its own split).
    backbone_lr: float | None = field(default=None, metadata={
        "help": "learning rate of everything but the score head (default: --lr; 0 freezes the backbone "
                "and trains the head only, a linear probe)", "group": OPTIM})
    num_train_epochs: float = field(default=1.0, metadata={
        "help": "training epochs", "group": OPTIM, "flag": "--epochs"})
    max_steps: int = field(default=-1, metadata={"help": "optimizer steps (> 0 overrides --epochs)", "group": OPTIM})
    per_device_train_batch_size: int = field(default=8, metadata={
        "help": "per-device train batch size", "group": OPTIM, "flag": "--batch-size"})
    per_device_eval_batch_size: int = field(default=16, metadata={
        "help": "per-device eval batch size", "group": OPTIM, "flag": "--eval-batch-size"})
    gradient_accumulation_steps: int = field(default=1, metadata={
        "help": "gradient accumulation steps", "group": OPTIM, "flag": "--grad-accum"})
    warmup_ratio: float = field(default=0.0, metadata={
        "help": "warm-up as a fraction of the steps", "group": OPTIM, "flag": "--warmup"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay", "group": OPTIM})
    seed: int = field(default=0, metadata={"help": "random seed", "group": OPTIM})
    shard: tuple[int, int] | None = None       # (index, count): train on one of `count` problem shards
    beta: float = field(default=0.05, metadata={"help": "implicit: r = beta * log pi/pi_ref", "group": OPTIM})
    # Outcome supervision is Yuan et al.'s: only r(y) = q_T meets a label. Step supervision is process
    # supervision in the same parametrization: every labelled prefix's q_t = r_1 + ... + r_t meets that
    # prefix's label (first-error labels: "the steps up to t are all correct"), so a PRM and an ORM that
    # differ only in their labels can be compared at equal data (docs/prm_diagnosis.md).
    implicit_labels: str = field(default="outcome", metadata={
        "help": "implicit: outcome (BCE of sigmoid(q_T) on the final answer, Yuan et al.) or step (process "
                "supervision: BCE of sigmoid(q_t) on the label of every labelled step prefix)",
        "group": OPTIM, "choices": IMPLICIT_LABELS})
    # generative: where the verifier writes its checks (prm.scoring.checks.CHECK_POSITIONS); a library
    # knob, no flag: "after_step" exists only for the copying ablation of scripts/bench/bench_prm_generative.py
    check_position: str = "before_value"
    max_pairs_per_problem: int = field(default=8, metadata={
        "help": "pairwise: pairs sampled per problem", "group": OPTIM})
    lora_r: int = field(default=0, metadata={      # > 0: LoRA (peft, token-classification task type)
        "help": "LoRA rank (0 = full fine-tuning)", "group": OPTIM})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha", "group": OPTIM})
    lora_dropout: float = 0.05
    gradient_checkpointing: bool = field(default=False, metadata={
        "help": "trade compute for memory", "group": OPTIM})
    group_by_length: bool = field(default=True, metadata={   # batches of similar length: less padding
        "help": "plain random batches (more padding)", "group": OPTIM, "flag": "--no-group-by-length"})
    bf16: bool = field(default=False, metadata={"help": "bfloat16 mixed precision", "group": OPTIM})
    logging_steps: int = field(default=10, metadata={"help": "log loss every N steps", "group": CHECKPOINTS})
    eval_steps: int | None = field(default=None, metadata={   # None: once per epoch (when eval_file is set)
        "help": "evaluate every N steps (default: each epoch)", "group": CHECKPOINTS})
    save_steps: int = field(default=200, metadata={"help": "checkpoint every N steps", "group": CHECKPOINTS})
    # A reward model trained many epochs on a small set overfits: on the embedded math tasks 600 steps on
    # 256 samples gave a held-out log loss of 2.7 against 0.65 for the label prior (docs/prm_diagnosis.md).
    # Keeping the checkpoint with the lowest held-out loss is transformers' load_best_model_at_end.
    best_on_eval: bool = field(default=False, metadata={
        "help": "keep the checkpoint with the lowest --eval loss, not the last (evaluates and saves every "
                "--eval-steps, or each epoch)", "group": CHECKPOINTS})
    early_stopping: int = field(default=0, metadata={
        "help": "stop after N evaluations without a lower --eval loss (0: never; implies --best-on-eval)",
        "group": CHECKPOINTS})
    save_total_limit: int = 2
    resume: bool = field(default=True, metadata={    # continue from the last checkpoint in output_dir/checkpoints
        "help": "ignore checkpoints already in OUT", "group": CHECKPOINTS, "flag": "--no-resume"})
    keep_checkpoints: bool = field(default=False, metadata={   # else deleted after a successful run
        "help": "keep OUT/checkpoints after success", "group": CHECKPOINTS})
    extra_args: dict = field(default_factory=dict)   # any other TrainingArguments field

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.implicit_labels not in IMPLICIT_LABELS:
            raise ValueError(f"implicit_labels must be one of {IMPLICIT_LABELS}, got {self.implicit_labels!r}")
        if self.implicit_labels != "outcome" and self.objective != "implicit":
            raise ValueError("implicit_labels: only the implicit objective reads it (prm trains on step labels, "
                             "orm on the outcome)")
        if not self.beta > 0:
            raise ValueError(f"beta must be > 0, got {self.beta}")
        if self.keeps_best and not self.eval_file:
            raise ValueError("best_on_eval / early_stopping need an eval file (--eval) to measure the held-out loss on")
        if self.early_stopping < 0:
            raise ValueError(f"early_stopping must be >= 0, got {self.early_stopping}")
        if self.backbone_lr is not None:
            if not (math.isfinite(self.backbone_lr) and self.backbone_lr >= 0):
                raise ValueError(f"backbone_lr must be a finite number >= 0, got {self.backbone_lr}")
            if self.objective in ("implicit", "generative"):
                raise ValueError(f"backbone_lr: the {self.objective} objective has no separate head (it trains the whole LM)")
            if self.lora_r > 0:
                raise ValueError("backbone_lr: with LoRA the backbone is already frozen and only adapters train; "
                                 "give one or the other")
        if self.check_position not in ("before_value", "after_step"):
            raise ValueError(f"check_position must be 'before_value' or 'after_step', got {self.check_position!r}")
        if self.max_length < 8:
            raise ValueError(f"max_length {self.max_length} is too small")
        if self.shard is not None and not (len(self.shard) == 2 and 0 <= self.shard[0] < self.shard[1]):
            raise ValueError(f"shard must be (index, count) with 0 <= index < count, got {self.shard}")

    @property
    def keeps_best(self) -> bool:
        """Whether the saved model is the checkpoint with the lowest held-out loss (early stopping implies it)."""
        return self.best_on_eval or self.early_stopping > 0

    @property
    def kind(self) -> str:
        """What the scorer returns: per-step scores ("prm") or one score per sample ("orm")."""
        return "prm" if self.objective in ("prm", "implicit", "generative") else "orm"

    def to_dict(self) -> dict:
        return asdict(self)

    def training_arguments(self, checkpoint_dir: str, has_eval: bool):
        """The transformers TrainingArguments for this run (built here only)."""
        import torch
        from transformers import TrainingArguments

        eval_strategy = "no" if not has_eval else ("steps" if self.eval_steps else "epoch")
        kw = dict(
            output_dir=checkpoint_dir,
            learning_rate=self.learning_rate,
            num_train_epochs=self.num_train_epochs,
            max_steps=self.max_steps,
            per_device_train_batch_size=self.per_device_train_batch_size,
            per_device_eval_batch_size=self.per_device_eval_batch_size,
            gradient_accumulation_steps=self.gradient_accumulation_steps,
            warmup_steps=self.warmup_ratio,   # transformers 5: a float < 1 is a ratio of total steps
            weight_decay=self.weight_decay,
            seed=self.seed,
            data_seed=self.seed,
            train_sampling_strategy="group_by_length" if self.group_by_length else "random",
            gradient_checkpointing=self.gradient_checkpointing,
            # non-reentrant checkpointing works with LoRA (frozen inputs) without extra hooks
            gradient_checkpointing_kwargs={"use_reentrant": False} if self.gradient_checkpointing else None,
            bf16=self.bf16,
            logging_steps=self.logging_steps,
            eval_strategy=eval_strategy,
            eval_steps=self.eval_steps,
            save_strategy="steps",
            save_steps=self.save_steps,
            save_total_limit=self.save_total_limit,
            report_to="none",
            # our collator builds every tensor; the Trainer must not drop our columns
            remove_unused_columns=False,
            dataloader_num_workers=0,
            disable_tqdm=False,
            label_names=["labels"],
            # on a machine without CUDA, say so: under torchrun / `accelerate launch --multi_gpu`
            # accelerate then sets up multi-CPU DDP (gloo) instead of a single process
            use_cpu=not torch.cuda.is_available(),
            dataloader_pin_memory=torch.cuda.is_available(),
        )
        if self.keeps_best and has_eval:
            # the best checkpoint can only be reloaded if one was saved at every evaluation
            kw.update(save_strategy=eval_strategy, save_steps=self.eval_steps or self.save_steps,
                      load_best_model_at_end=True, metric_for_best_model="eval_loss", greater_is_better=False)
        kw.update(self.extra_args)
        return TrainingArguments(**kw)
