"""Training data: stepwise records -> token features (and pairs) for the reward-model trainer.

1. features  -- stepwise record -> {input_ids, labels}: `prm.sequence.encode` (the builder scoring
   uses), label on each step's position, -100 elsewhere. Labels stay floats: True -> 1.0, 0.7 -> 0.7,
   None (not judged) -> -100. A sample whose steps do not fit after left-truncating the prompt is
   dropped and counted in `DataStats`, never cut into mislabeled pieces.
2. pairs     -- pairwise ORM: correct vs incorrect samples of one problem (grouped by `problem_id`,
   else by prompt), at most `max_pairs_per_problem` per problem, chosen with a seeded RNG.
3. collator  -- right-pads a batch; pairwise items become two interleaved rows.

Pure apart from the tokenizer: nothing here loads a model.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass, field

from prm.records import StepwiseRecord, iter_records
from prm.sequence import encode, truncate_left
from prm.train.config import TrainConfig

IGNORE = -100.0


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
