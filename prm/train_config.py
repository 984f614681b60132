"""Settings for one reward-model training run (`prm train`, `prm.train.train_rm`).

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
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

OBJECTIVES = ("prm", "orm", "pairwise")


@dataclass(frozen=True)
class TrainConfig:
    model: str                                 # causal-LM checkpoint dir (or hub name where there is network)
    train_file: str                            # stepwise JSONL (ANCHORS.md format)
    output_dir: str                            # final model here; checkpoints in output_dir/checkpoints
    objective: str = "prm"                     # "prm" | "orm" | "pairwise"
    eval_file: str | None = None               # stepwise JSONL for step accuracy / AUROC / loss
    sep: str = "\n\n"                          # step separator (code: "\n")
    step_tag: str = "auto"                     # "auto" | "none" | a token string (see prm.sequence)
    max_length: int = 1024                     # tokens; prompt left-truncated first, else sample dropped
    learning_rate: float = 2e-5
    num_train_epochs: float = 1.0
    max_steps: int = -1                        # > 0 overrides epochs
    per_device_train_batch_size: int = 8
    per_device_eval_batch_size: int = 16
    gradient_accumulation_steps: int = 1
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    seed: int = 0
    shard: tuple[int, int] | None = None       # (index, count): train on one of `count` problem shards
    max_pairs_per_problem: int = 8             # pairwise only
    lora_r: int = 0                            # > 0: LoRA (peft, token-classification task type)
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    gradient_checkpointing: bool = False
    group_by_length: bool = True               # batches of similar length: less padding
    bf16: bool = False
    logging_steps: int = 10
    eval_steps: int | None = None              # None: evaluate once per epoch (when eval_file is set)
    save_steps: int = 200                      # checkpoint every N optimizer steps
    save_total_limit: int = 2
    resume: bool = True                        # continue from the last checkpoint in output_dir/checkpoints
    keep_checkpoints: bool = False             # delete output_dir/checkpoints after a successful run
    extra_args: dict = field(default_factory=dict)   # any other TrainingArguments field

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.max_length < 8:
            raise ValueError(f"max_length {self.max_length} is too small")
        if self.shard is not None and not (len(self.shard) == 2 and 0 <= self.shard[0] < self.shard[1]):
            raise ValueError(f"shard must be (index, count) with 0 <= index < count, got {self.shard}")

    @property
    def kind(self) -> str:
        """What the scorer returns: per-step scores ("prm") or one score per sample ("orm")."""
        return "prm" if self.objective == "prm" else "orm"

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
        kw.update(self.extra_args)
        return TrainingArguments(**kw)
