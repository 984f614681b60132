"""The generative step verifier's training (`prm train --objective generative`): a causal LM that
writes a check at each checked "=" of a step and a verdict after the step.

Sequence (`prm.scoring.checks.layout`, the one the scorer reads): the prompt as sampling laid it
out, then per step its text cut at each checked "=", a check " [calc V]" at each cut (V: the exact
value of the left side, from `verifiers.math.arith`), the rest of the step as written, and the
verdict " [ok]" / " [bad]" from the step's label. The loss is the LM loss on the check and verdict
tokens only (the model's own shifted cross-entropy, every other label -100).

Why the check goes in the middle of the step: a check written after the step ("check 16 * 2 = V")
was learned as a copy of the step's own value (the earlier try: 83.7% verdict agreement, against 77%
for always "correct"). Here V is written before the step's value is in context, so the verifier has
to compute it, and the verdict compares two values that are both in context.

Labels: hard labels as `prm label --method direct` writes them (first-error semantics: after the
first bad step every step is bad). A step labelled None trains nothing at its verdict (it is written
for context, as the greedy scorer would). A soft label (an MC value) cannot be a written verdict: the
file is refused, naming file, line and field. Records without any labelled step and no check are
dropped and counted; steps whose "=" cannot be computed simply get no check.

How this departs from ThinkPRM / GenPRM, and why: their verifiers write free-form rationales (and
GenPRM code) before a verdict; here the checks come free from the arithmetic, so the rationale is a
value, and its position (inside the step) is what stops copying. Saved as a plain HF causal-LM
directory; config.json's `prm_toolkit` adds objective "generative", the check and verdict strings
and `max_check_tokens` (the scorer's bound on one check's tokens; edit it there to change it).
"""

from __future__ import annotations

from pathlib import Path

from prm.errors import UserError
from prm.records import StepwiseRecord, iter_jsonl
from prm.scoring.base import pad_ids
from prm.scoring.checks import CALC_OPEN, VERDICTS, encode_training, find_checks
from prm.scoring.generative import MAX_CHECK_TOKENS
from prm.train.checkpoints import resume_point, train_and_save
from prm.train.config import TrainConfig
from prm.train.data import IGNORE, DataStats, in_shard, is_soft
from prm.train.save import file_sha256, save_run, toolkit_settings

LABEL_SEMANTICS = ("P(' [ok]') / (P(' [ok]') + P(' [bad]')) at the verdict written after each step, once "
                   "the verifier has written its own value at each checked '=' (' [calc V]')")


def read_labelled(path: str, shard, stats: DataStats) -> list[tuple[str, StepwiseRecord]]:
    """(FILE:LINE, record) of a stepwise file; a soft label is refused naming file, line and field."""
    out = []
    for lineno, obj in iter_jsonl(path):
        where = f"{path}:{lineno}"
        rec = StepwiseRecord.from_dict(obj, where=where)
        stats.read += 1
        if not in_shard(rec, shard):
            stats.dropped_other_shard += 1
            continue
        for i, lab in enumerate(rec.labels):
            if is_soft(lab):
                raise UserError(f"{where}: field 'labels[{i}]': soft label {lab}: the generative verifier writes a "
                                "verdict, it needs hard labels (True / False / None), e.g. `prm label --method direct`")
        out.append((where, rec))
    return out


def featurize_generative(tokenizer, rec: StepwiseRecord, *, sep: str, max_length: int,
                         position: str = "before_value") -> tuple[dict | None, str]:
    """One record -> ({"input_ids", "labels"}, "ok") or (None, "unlabeled" | "too_long"): labels = the
    ids on check and verdict tokens, IGNORE elsewhere. The prompt is cut from the left to fit."""
    ids, mask, n_prompt = encode_training(tokenizer, rec.prompt, list(rec.completions), list(rec.labels), sep, position)
    if not any(mask):
        return None, "unlabeled"
    over = len(ids) - max_length
    if over > 0:
        if over > n_prompt - 1:
            return None, "too_long"
        ids, mask = ids[over:], mask[over:]
    return {"input_ids": ids, "labels": [t if m else int(IGNORE) for t, m in zip(ids, mask)]}, "ok"


def make_generative_features(tokenizer, recs: list[tuple[str, StepwiseRecord]], cfg: TrainConfig,
                             stats: DataStats, counts: dict | None = None) -> list[dict]:
    """Features of the usable records; `counts` (if given) gets "steps", "checks" (calc spans written),
    "steps_without_check" and "unlabelled_verdicts" (context only) of the records used."""
    feats = []
    for _, rec in recs:
        feat, why = featurize_generative(tokenizer, rec, sep=cfg.sep, max_length=cfg.max_length,
                                         position=cfg.check_position)
        if feat is None:
            setattr(stats, f"dropped_{why}", getattr(stats, f"dropped_{why}") + 1)
            continue
        feats.append(feat)
        if counts is not None:
            n = [len(find_checks(step)) for step in rec.completions]
            for key, v in (("steps", len(n)), ("checks", sum(n)), ("steps_without_check", n.count(0)),
                           ("unlabelled_verdicts", sum(lab is None for lab in rec.labels))):
                counts[key] = counts.get(key, 0) + v
        stats.hard_labels += sum(lab is not None for lab in rec.labels)
        prov = rec.extra.get("provenance") or {}
        if isinstance(prov, dict):
            if isinstance(prov.get("labeler"), str):
                stats.labelers.add(prov["labeler"])
            if isinstance(prov.get("verifier"), dict) and isinstance(prov["verifier"].get("name"), str):
                stats.verifiers.add(prov["verifier"]["name"])
    stats.used = len(feats)
    return feats


class GenerativeCollator:
    """Right-pads input_ids (pad id), attention_mask and labels (IGNORE)."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, features: list[dict]) -> dict:
        import torch

        ids, attention = pad_ids([f["input_ids"] for f in features], self.pad_id)
        labels = torch.full(ids.shape, int(IGNORE), dtype=torch.long)
        for i, f in enumerate(features):
            labels[i, :len(f["labels"])] = torch.tensor(f["labels"])
        return {"input_ids": ids, "attention_mask": attention, "labels": labels}


def _trainer_class():
    from transformers import Trainer

    class GenerativeTrainer(Trainer):
        """The model's own LM loss; evaluation keeps the loss only (no full-vocabulary logits gathered)."""

        def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
            import torch

            inputs = self._prepare_inputs(inputs)
            with torch.no_grad():
                loss = model(**inputs).loss
            return loss.detach(), None, None

    return GenerativeTrainer


def generative_settings(cfg: TrainConfig, stats: DataStats, data_hash: str, counts: dict) -> dict:
    settings = toolkit_settings(cfg, None, None, stats, data_hash)
    settings.update({"objective": "generative", "kind": "prm", "label_index": None, "label_semantics": LABEL_SEMANTICS,
                     "calc_open": CALC_OPEN, "verdicts": list(VERDICTS), "max_check_tokens": MAX_CHECK_TOKENS,
                     "check_position": cfg.check_position, "checks": dict(counts)})
    return settings


def train_generative(cfg: TrainConfig, *, progress: bool = True) -> Path:
    """Train a generative step verifier; returns the output directory (a plain HF causal-LM dir)."""
    from transformers import set_seed

    from prm.train.implicit import _tokenizer, trainable_causal_lm

    out = Path(cfg.output_dir)
    ckpt_dir = out / "checkpoints"
    tokenizer = _tokenizer(cfg.model)
    stats, counts = DataStats(), {}
    train = make_generative_features(tokenizer, read_labelled(cfg.train_file, cfg.shard, stats), cfg, stats, counts)
    if not train:
        raise UserError(f"{cfg.train_file}: no usable training samples for objective 'generative' (read {stats.read}, "
                        f"too long {stats.dropped_too_long}, without a labelled step or a check "
                        f"{stats.dropped_unlabeled}); label them with `prm label --method direct`")
    ev = (make_generative_features(tokenizer, read_labelled(cfg.eval_file, None, DataStats()), cfg, DataStats())
          if cfg.eval_file else [])
    if cfg.keeps_best and not ev:
        raise UserError(f"{cfg.eval_file}: no usable eval samples for objective 'generative', so there is no "
                        "held-out loss for --best-on-eval / --early-stopping to follow")
    data_hash = file_sha256(cfg.train_file)
    run = {"data_sha256": data_hash, "objective": cfg.objective, "check_position": cfg.check_position}
    last = resume_point(cfg.resume, ckpt_dir, run)
    set_seed(cfg.seed)
    model = trainable_causal_lm(cfg, tokenizer)
    callbacks = []
    if cfg.early_stopping:
        from transformers import EarlyStoppingCallback

        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping))
    trainer = _trainer_class()(
        model=model, args=cfg.training_arguments(str(ckpt_dir), has_eval=bool(ev)), train_dataset=train,
        eval_dataset=ev or None, data_collator=GenerativeCollator(tokenizer.pad_token_id), processing_class=tokenizer,
        callbacks=callbacks)
    train_and_save(trainer, ckpt_dir=ckpt_dir, out=out, run=run, last=last, has_eval=bool(ev),
                   keep_checkpoints=cfg.keep_checkpoints, save=lambda metrics, eval_metrics: save_run(
                       trainer, tokenizer, cfg, generative_settings(cfg, stats, data_hash, counts), stats, metrics,
                       eval_metrics, last))
    return out
