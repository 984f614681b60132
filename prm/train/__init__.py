"""Train a PRM (per-step token classification) or an ORM (outcome / pairwise) on stepwise records.

    from prm.train import TrainConfig, train_rm
    out_dir = train_rm(TrainConfig(model="path/to/causal-lm", train_file="labels.jsonl", output_dir="prm-out"))

The package, in the order a run goes through it:
  config.py   TrainConfig: the run's settings (also the `prm train` flags) -> TrainingArguments
  data.py     stepwise records -> token features, pairs, DataStats, the collator (pure but for the tokenizer)
  trainer.py  loss, metrics, the Trainer subclass, model loading, prepare / train_rm / train_ensemble
  save.py     the saved model dir: LoRA merged, toolkit settings in config.json, train_report.json
  implicit.py objective "implicit": a causal LM against a frozen reference, BCE on beta * log-ratio sums
              against the outcome (--implicit-labels outcome) or every step prefix's label (step)
  generative.py objective "generative": a causal LM that writes its own value of each checked step, then a verdict
  checkpoints.py which checkpoint a resume loads (never a half-written one); the run around each Trainer

Where this departs from TRL's PRMTrainer (<= 1.13): floats are never cast with int(); the prompt is
followed by the separator in training as in scoring; steps are tokenized as one joined text, not one
by one; over-long samples are dropped and counted instead of silently truncated.
"""

from prm.train.config import OBJECTIVES, TrainConfig
from prm.train.data import (IGNORE, Collator, DataStats, build_pairs, featurize, group_key, in_shard, is_soft,
                            make_features, outcome_label, read_stepwise)
from prm.train.save import LABEL_SEMANTICS, file_sha256, save_run, toolkit_settings
from prm.train.trainer import (ID2LABEL, auroc, load_backbone, load_tokenizer, prepare, rm_loss, step_metrics,
                               train_ensemble, train_rm)

__all__ = [
    "OBJECTIVES", "TrainConfig",
    "IGNORE", "Collator", "DataStats", "build_pairs", "featurize", "group_key", "in_shard", "is_soft",
    "make_features", "outcome_label", "read_stepwise",
    "LABEL_SEMANTICS", "file_sha256", "save_run", "toolkit_settings",
    "ID2LABEL", "auroc", "load_backbone", "load_tokenizer", "prepare", "rm_loss", "step_metrics",
    "train_ensemble", "train_rm",
]
