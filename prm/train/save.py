"""Saving a trained reward model: a normal HF model directory that scorers load with nothing else.

The model is saved with LoRA merged (vLLM and any scorer load a plain model) and the toolkit
settings in `config.json` under `prm_toolkit`: separator, step tag (+ id), objective, label
semantics, training-data hash, verifier versions. Next to it, `train_report.json`: the config,
data counts, train / eval metrics and the log history.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import prm
from prm.train.config import TrainConfig
from prm.train.data import DataStats

LABEL_SEMANTICS = "softmax(logits)[..., 1] at each step's last separator token = P(step is correct)"


def file_sha256(*paths: str | None) -> str:
    h = hashlib.sha256()
    for p in paths:
        if p is None:
            continue
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def toolkit_settings(cfg: TrainConfig, step_tag: str | None, step_tag_id: int | None,
                     stats: DataStats, data_hash: str) -> dict:
    """What goes into config.prm_toolkit: everything a scorer needs, and where the labels came from."""
    return {
        "format": 1,
        "toolkit_version": prm.__version__,
        "kind": cfg.kind,
        "objective": cfg.objective,
        "sep": cfg.sep,
        "step_tag": step_tag,
        "step_tag_id": step_tag_id,
        "label_index": 1,
        "label_semantics": LABEL_SEMANTICS,
        "label_type": stats.label_type,
        "max_length": cfg.max_length,
        "base_model": cfg.model,
        "seed": cfg.seed,
        "shard": list(cfg.shard) if cfg.shard else None,
        "data": {"train_file": Path(cfg.train_file).name, "sha256": data_hash, **stats.to_dict()},
        "verifiers": sorted(stats.verifiers),
        "labelers": sorted(stats.labelers),
    }


def save_run(trainer, tokenizer, cfg: TrainConfig, settings: dict, stats: DataStats, train_metrics: dict,
             eval_metrics: dict, resumed_from: str | None) -> None:
    """Write the model (LoRA merged, `settings` as config.prm_toolkit), its tokenizer and
    train_report.json into cfg.output_dir. Call on the main process only."""
    out = Path(cfg.output_dir)
    model = trainer.accelerator.unwrap_model(trainer.model)
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()      # a plain HF model: vLLM and any scorer load it
    model.config.prm_toolkit = settings
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    report = {"config": _jsonable(cfg.to_dict()), "data": stats.to_dict(),
              "train": _jsonable(train_metrics), "eval": _jsonable(eval_metrics),
              "log_history": _jsonable(trainer.state.log_history),
              # with --best-on-eval the saved weights are this step's, not the last step's
              "best": ({"step": trainer.state.best_global_step, "eval_loss": trainer.state.best_metric}
                       if trainer.args.load_best_model_at_end else None),
              "resumed_from": resumed_from, "world_size": trainer.args.world_size,
              "distributed_type": str(trainer.accelerator.distributed_type)}
    (out / "train_report.json").write_text(json.dumps(report, indent=1))


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)
