"""Train a PRM (per-step token classification) or an ORM (outcome / pairwise) on stepwise records.

    from prm.train import train_rm
    from prm.train_config import TrainConfig
    out_dir = train_rm(TrainConfig(model="path/to/causal-lm", train_file="labels.jsonl", output_dir="prm-out"))

Built on transformers' `Trainer`, so `accelerate launch` runs it under DDP, FSDP or DeepSpeed
unchanged (configs in scripts/accelerate/). The pieces, top to bottom:

1. features  -- stepwise record -> {input_ids, labels}: `prm.sequence.encode` (the builder scoring
   uses), label on each step's position, -100 elsewhere. Labels stay floats: True -> 1.0, 0.7 -> 0.7,
   None (not judged) -> -100. A sample whose steps do not fit after left-truncating the prompt is
   dropped and counted in `DataStats`, never cut into mislabeled pieces.
2. pairs     -- pairwise ORM: correct vs incorrect samples of one problem (grouped by `problem_id`,
   else by prompt), at most `max_pairs_per_problem` per problem, chosen with a seeded RNG.
3. loss      -- `rm_loss`: hard labels cross-entropy, soft labels BCE on logit(1) - logit(0) (the
   same number on 0/1 targets), pairwise Bradley-Terry on the same margin at the last step.
4. metrics   -- step accuracy (threshold 0.5), AUROC, mean abs error to soft targets; pair accuracy.
5. save      -- a normal HF model dir (LoRA merged) with the toolkit settings in `config.prm_toolkit`:
   separator, step tag (+ id), objective, label semantics, training-data hash, verifier versions.

Where this departs from TRL's PRMTrainer (<= 1.13): floats are never cast with int(); the prompt is
followed by the separator in training as in scoring; steps are tokenized as one joined text, not one
by one; over-long samples are dropped and counted instead of silently truncated.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

import prm
from prm.errors import UserError
from prm.records import StepwiseRecord, iter_records
from prm.sequence import add_step_tag, encode, resolve_step_tag, truncate_left
from prm.train_config import TrainConfig

IGNORE = -100.0
ID2LABEL = {0: "LABEL_0", 1: "LABEL_1"}   # index 1 = correct (TRL's LABEL_1, Qwen's positive column)
LABEL_SEMANTICS = "softmax(logits)[..., 1] at each step's last separator token = P(step is correct)"


# ----------------------------------------------------------------------------- 1. features
@dataclass
class DataStats:
    read: int = 0
    used: int = 0
    dropped_too_long: int = 0
    dropped_unlabeled: int = 0      # no judged step (prm) / no outcome (orm)
    dropped_merged: int = 0         # two step boundaries inside one token (no step tag)
    dropped_other_shard: int = 0
    pairs: int = 0
    problems_without_pair: int = 0
    hard_labels: int = 0
    soft_labels: int = 0
    verifiers: set = field(default_factory=set)
    labelers: set = field(default_factory=set)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["verifiers"] = sorted(self.verifiers)
        d["labelers"] = sorted(self.labelers)
        return d

    @property
    def label_type(self) -> str:
        return "mixed" if self.hard_labels and self.soft_labels else "soft" if self.soft_labels else "hard"


def is_soft(label) -> bool:
    return isinstance(label, float) and label not in (0.0, 1.0)


def outcome_label(rec: StepwiseRecord) -> float | None:
    """Final correctness: an `outcome` / `correct` column when the labeler wrote one, else the last
    step's label (a sample's last step is correct iff its answer is, for every labeler here)."""
    for key in ("outcome", "correct"):
        v = rec.extra.get(key)
        if isinstance(v, bool) or (isinstance(v, (int, float)) and 0 <= v <= 1):
            return float(v)
    last = rec.labels[-1] if rec.labels else None
    return None if last is None else float(last)


def group_key(rec: StepwiseRecord) -> str:
    pid = rec.extra.get("problem_id")
    return str(pid) if pid is not None else rec.prompt


def in_shard(rec: StepwiseRecord, shard: tuple[int, int] | None) -> bool:
    if shard is None:
        return True
    # stable across runs and machines (Python's hash() is salted per process)
    h = int(hashlib.sha1(group_key(rec).encode("utf-8")).hexdigest()[:12], 16)
    return h % shard[1] == shard[0]


def featurize(tokenizer, rec: StepwiseRecord, *, objective: str, sep: str, step_tag: str | None,
              max_length: int) -> tuple[dict | None, str]:
    """One record -> ({"input_ids", "labels"}, "ok") or (None, reason) with reason in
    {"too_long", "merged", "unlabeled"}. Pure apart from the tokenizer."""
    e = truncate_left(encode(tokenizer, rec.prompt, rec.completions, sep, step_tag), max_length)
    if e is None:
        return None, "too_long"
    bounds = [e.prompt_end - 1, *e.step_positions]
    if any(a >= b for a, b in zip(bounds, bounds[1:])):
        # one token spans two step boundaries (possible without a step tag): two labels would land
        # on one position; drop and count rather than keep only one of them
        return None, "merged"
    labels = [IGNORE] * len(e.input_ids)
    if objective == "prm":
        for pos, lab in zip(e.step_positions, rec.labels):
            if lab is not None:
                labels[pos] = float(lab)      # never int(): 0.7 stays 0.7
        if all(lab is None for lab in rec.labels):
            return None, "unlabeled"
    else:
        y = outcome_label(rec)
        if y is None or not e.step_positions:
            return None, "unlabeled"
        labels[e.step_positions[-1]] = y
    return {"input_ids": e.input_ids, "labels": labels}, "ok"


def _note_provenance(rec: StepwiseRecord, stats: DataStats) -> None:
    prov = rec.extra.get("provenance")
    if isinstance(prov, dict):
        v = prov.get("verifier")
        if isinstance(v, dict) and v.get("name"):
            stats.verifiers.add(f"{v.get('name')}=={v.get('version')}")
        if isinstance(prov.get("labeler"), str):
            stats.labelers.add(prov["labeler"])


def read_stepwise(path: str, shard: tuple[int, int] | None, stats: DataStats) -> list[StepwiseRecord]:
    """All records of a stepwise file (strict: a bad line raises naming file, line and field)."""
    out = []
    for rec in iter_records(path, "stepwise"):
        stats.read += 1
        if not in_shard(rec, shard):
            stats.dropped_other_shard += 1
            continue
        out.append(rec)
    return out


def make_features(tokenizer, records: list[StepwiseRecord], cfg: TrainConfig, step_tag: str | None,
                  stats: DataStats, *, progress: bool = True, desc: str = "tokenize") -> list[dict]:
    from tqdm import tqdm

    kw = dict(objective=cfg.objective, sep=cfg.sep, step_tag=step_tag, max_length=cfg.max_length)
    feats: dict[int, dict] = {}
    for i, rec in enumerate(tqdm(records, desc=desc, unit="rec", disable=not progress)):
        feat, why = featurize(tokenizer, rec, **kw)
        if feat is None:
            setattr(stats, f"dropped_{why}", getattr(stats, f"dropped_{why}") + 1)
            continue
        feats[i] = feat
        _note_provenance(rec, stats)
        for lab in rec.labels if cfg.objective == "prm" else [outcome_label(rec)]:
            if lab is not None:
                if is_soft(lab):
                    stats.soft_labels += 1
                else:
                    stats.hard_labels += 1
    if cfg.objective != "pairwise":
        stats.used = len(feats)
        return list(feats.values())
    pairs = build_pairs([(records[i], i) for i in feats], cfg.max_pairs_per_problem, cfg.seed, stats)
    stats.used = len({i for pair in pairs for i in pair})
    return [{"input_ids": feats[c]["input_ids"], "labels": feats[c]["labels"],
             "rejected_input_ids": feats[r]["input_ids"], "rejected_labels": feats[r]["labels"]}
            for c, r in pairs]


# ----------------------------------------------------------------------------- 2. pairs
def build_pairs(items: list[tuple[StepwiseRecord, int]], max_per_problem: int, seed: int,
                stats: DataStats | None = None) -> list[tuple[int, int]]:
    """(chosen, rejected) index pairs: outcome > 0.5 vs < 0.5 within a problem; seeded sample."""
    groups: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for rec, idx in items:
        y = outcome_label(rec)
        if y is None or y == 0.5:
            continue
        groups[group_key(rec)][0 if y > 0.5 else 1].append(idx)
    rng = random.Random(seed)
    pairs = []
    for key in sorted(groups):
        good, bad = groups[key]
        if not good or not bad:
            if stats is not None:
                stats.problems_without_pair += 1
            continue
        allp = [(g, b) for g in good for b in bad]
        pairs += rng.sample(allp, min(max_per_problem, len(allp)))
    if stats is not None:
        stats.pairs = len(pairs)
    return pairs


class Collator:
    """Right-pads a batch. Pairwise items become two rows each, interleaved (chosen, rejected), so
    rows 2i and 2i+1 stay a pair through the Trainer's prediction loop."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, features: list[dict]) -> dict:
        import torch

        rows = []
        for f in features:
            rows.append((f["input_ids"], f["labels"]))
            if "rejected_input_ids" in f:
                rows.append((f["rejected_input_ids"], f["rejected_labels"]))
        n = max(len(ids) for ids, _ in rows)
        input_ids = torch.full((len(rows), n), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(rows), n), dtype=torch.long)
        labels = torch.full((len(rows), n), IGNORE, dtype=torch.float32)
        for i, (ids, labs) in enumerate(rows):
            input_ids[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
            attention[i, :len(ids)] = 1
            labels[i, :len(labs)] = torch.tensor(labs, dtype=torch.float32)
        return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}


# ----------------------------------------------------------------------------- 3. loss
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


# ----------------------------------------------------------------------------- 4. metrics
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

        def __init__(self, *args, objective: str, **kwargs):
            super().__init__(*args, **kwargs)
            self.objective = objective
            # prm / orm: ask the Trainer for the number of labeled positions in the global batch
            # (summed over accumulation steps and gathered over ranks) and normalise by it, so the
            # loss is already scaled for accumulation. pairwise keeps a per-batch mean over pairs.
            token_level = objective != "pairwise"
            self.model_accepts_loss_kwargs = token_level
            self.loss_is_scaled_for_ga = token_level
            self._loss_shifts_labels = False   # a label sits on its own token: nothing is shifted

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
    if cfg.lora_r > 0:
        from peft import LoraConfig, TaskType, get_peft_model

        # a new step tag needs a trained embedding row, which LoRA on linear layers cannot give
        save = ["score"] + (["embed_tokens"] if new_tokens else [])
        model = get_peft_model(model, LoraConfig(
            task_type=TaskType.TOKEN_CLS, r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout, target_modules="all-linear", modules_to_save=save))
    return model


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
    from transformers.trainer_utils import get_last_checkpoint

    out = Path(cfg.output_dir)
    ckpt_dir = out / "checkpoints"
    tokenizer = load_tokenizer(cfg.model)
    step_tag, step_tag_id, train, ev, stats = prepare(cfg, tokenizer, progress=progress)
    data_hash = file_sha256(cfg.train_file)

    last = None
    run_file = ckpt_dir / "run.json"
    if cfg.resume and ckpt_dir.is_dir():
        last = get_last_checkpoint(str(ckpt_dir))
        if last and run_file.exists():
            before = json.loads(run_file.read_text())
            if before.get("data_sha256") != data_hash or before.get("objective") != cfg.objective:
                raise UserError(f"{ckpt_dir}: checkpoints are from a different run (training data or "
                                "objective changed); use a new --output-dir or --no-resume")
    from transformers import set_seed

    set_seed(cfg.seed)  # the new score head is drawn from torch's RNG: unseeded, two runs (or a DDP run) differ
    model = load_backbone(cfg, tokenizer)
    args = cfg.training_arguments(str(ckpt_dir), has_eval=bool(ev))
    RMTrainer = _trainer_class()
    trainer = RMTrainer(
        model=model, args=args, train_dataset=train, eval_dataset=ev or None,
        data_collator=Collator(tokenizer.pad_token_id), processing_class=tokenizer,
        compute_metrics=(lambda p: step_metrics(p.predictions, p.label_ids, cfg.objective)),
        preprocess_logits_for_metrics=_pair_rewards if cfg.objective == "pairwise" else _margin_for_metrics,
        objective=cfg.objective)
    if trainer.is_world_process_zero():
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        run_file.write_text(json.dumps({"data_sha256": data_hash, "objective": cfg.objective}))
    result = trainer.train(resume_from_checkpoint=last)
    eval_metrics = trainer.evaluate() if ev else {}

    if trainer.is_world_process_zero():
        model = trainer.accelerator.unwrap_model(trainer.model)
        if hasattr(model, "merge_and_unload"):
            model = model.merge_and_unload()      # a plain HF model: vLLM and any scorer load it
        model.config.prm_toolkit = toolkit_settings(cfg, step_tag, step_tag_id, stats, data_hash)
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        report = {"config": _jsonable(cfg.to_dict()), "data": stats.to_dict(),
                  "train": _jsonable(result.metrics), "eval": _jsonable(eval_metrics),
                  "log_history": _jsonable(trainer.state.log_history),
                  "resumed_from": last, "world_size": trainer.args.world_size,
                  "distributed_type": str(trainer.accelerator.distributed_type)}
        (out / "train_report.json").write_text(json.dumps(report, indent=1))
    trainer.accelerator.wait_for_everyone()
    if trainer.is_world_process_zero() and not cfg.keep_checkpoints:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
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


__all__ = ["train_rm", "train_ensemble", "featurize", "rm_loss", "step_metrics", "auroc", "build_pairs",
           "Collator", "DataStats", "outcome_label", "TrainConfig"]
