"""Scoring samples with a trained PRM or ORM: the part both backends share (sequences, reading scores).

Both backends build token ids with the checkpoint's format (`prm.scoring.formats`: for this
toolkit's own models `prm.sequence.encode`, the builder training used; for published PRMs their
model card's recipe) and read the probabilities at the step positions themselves: the transformers
backend (`hf.py`, heads in `heads.py`) runs a forward pass, the vLLM backend (`vllm.py`) sends the
same ids as `TokensPrompt` to the pooling runner (`token_classify`, raw logits) so vLLM never
re-tokenizes, and never relies on STEP pooling. Score = softmax(logits)[1] computed here in float32
for both.

Prefix property: the model is causal and the label token of step k ends at step k's separator (the
step tag guarantees it when the tokenizer would merge across), so scoring steps[:k] gives exactly the
first k scores of scoring all steps. Step-level beam search relies on it.

Too long: the prompt is left-truncated first (as in training; published chat formats are only cut
on the right, see `formats.py`); steps whose positions still fall outside `max_length` get NaN,
and `scorer.stats["truncated_steps"]` counts them (model output never raises). An empty step list gives [] for a PRM and [NaN] for an ORM.

`ScorerLike` is what pipeline code may rely on; the backends, `EnsembleScorer` and the test fakes
(`tests/fakes.py`) all satisfy it (`tests/test_engine_protocols.py`).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Protocol, runtime_checkable

from prm.errors import UserError
from prm.scoring.formats import FORMATS, Options, check_format, detect, read_config
from prm.sequence import Encoded, truncate_left

BACKENDS = ("auto", "transformers", "vllm")


def read_settings(model_dir: str | Path, cfg: dict | None = None) -> dict:
    """config.prm_toolkit of a saved model (from `cfg`, its config.json when already read); UserError
    naming the file when it is missing."""
    cfg_path = Path(model_dir) / "config.json"
    if cfg is None:
        cfg = read_config(model_dir, what="a model directory trained by `prm train`")
    settings = cfg.get("prm_toolkit")
    if not isinstance(settings, dict):
        raise UserError(f"{cfg_path}: field 'prm_toolkit' missing: the model was not trained by prm-toolkit")
    for key in ("kind", "sep"):
        if key not in settings:
            raise UserError(f"{cfg_path}: field 'prm_toolkit.{key}' missing")
    return settings


def pad_ids(seqs: list[list[int]], pad_id: int, *, left: bool = False):
    """(input_ids, attention_mask) LongTensors of `seqs` padded to the longest with `pad_id`, on the
    right (reading scores at known positions) or the left (generating: every row ends at the edge)."""
    import torch

    n = max(len(x) for x in seqs)
    ids = torch.full((len(seqs), n), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for row, x in enumerate(seqs):
        span = slice(n - len(x), n) if left else slice(0, len(x))
        ids[row, span] = torch.tensor(x, dtype=torch.long)
        mask[row, span] = 1
    return ids, mask


def length_batches(ids: list[list[int]], max_tokens: int, max_size: int) -> list[list[int]]:
    """Indices of `ids` in batches of similar length, longest first: the first item of a batch sets its
    padded width, a batch holds at most `max_size` items and `max_tokens` padded tokens (at least one)."""
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    batches, cur = [], []
    for i in order:
        if cur and ((len(cur) + 1) * len(ids[cur[0]]) > max_tokens or len(cur) >= max_size):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches

def p_correct(logit0: float, logit1: float) -> float:
    """softmax([l0, l1])[1] = sigmoid(l1 - l0), written stably."""
    d = float(logit1) - float(logit0)
    return 1.0 / (1.0 + math.exp(-d)) if d >= 0 else math.exp(d) / (1.0 + math.exp(d))


@runtime_checkable
class ScorerLike(Protocol):
    """What pipeline code (`prm score`, `prm eval`, search, the demo) may use of a scorer."""

    backend: str   # "transformers" | "vllm" | "ensemble(min) of ..." | a fake's name
    kind: str      # "prm": one score per step; "orm": one score per sample, in a 1-element list

    def score(self, question: str, steps: list[str]) -> list[float]: ...

    def score_batch(self, items: list[tuple[str, list[str]]], *, progress: bool = False) -> list[list[float]]: ...

    def close(self) -> None: ...


class Scorer:
    """One model; `_logits(list of id lists) -> list of (T, 2) float arrays` is the backend part.
    `format` (`prm.scoring.formats`): how the sequence is built and the rows read; default: from
    config.json. `sep`: the trl format's separator (TRL does not save it)."""

    backend = "base"
    format, fmt = "toolkit", FORMATS["toolkit"]    # set per model in __init__

    def __init__(self, model_dir: str | Path, max_length: int | None = None, *, format: str | None = None,
                 sep: str | None = None):
        from transformers import AutoTokenizer

        self.model_dir = str(model_dir)
        cfg = read_config(model_dir)
        self.format = format or detect(model_dir, cfg)
        self.fmt = check_format(self.format)
        if self.format == "toolkit":
            if sep is not None:
                raise UserError(f"{self.model_dir}: a `prm train` model reads its separator from config.json; "
                                "--sep is for the trl format")
            self.settings = read_settings(model_dir, cfg)
        else:
            if sep is not None and self.format != "trl":
                raise UserError(f"--sep is for the trl format; the {self.format} format writes steps its own way")
            # the longest window: the model's own context (published checkpoints carry no training length)
            longest = cfg.get("max_position_embeddings")
            self.settings = {"kind": "prm", "sep": sep,
                             "max_length": min(4096, longest) if isinstance(longest, int) and longest > 0 else None}
        self.kind: str = self.settings["kind"]
        self.sep: str | None = self.settings["sep"]
        self.step_tag: str | None = self.settings.get("step_tag")
        self.max_length = int(max_length or self.settings.get("max_length") or 4096)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self.stats = {"samples": 0, "truncated_steps": 0}
        self._warned = False

    # -- pure part: sequences and reading positions
    def encode(self, question: str, steps: list[str]) -> tuple[Encoded, int]:
        """The ids the model sees, and how many leading steps are scorable (the rest fall outside)."""
        e = self.fmt.build(self.tokenizer, question, list(steps), Options(self.sep, self.step_tag))
        t = truncate_left(e, self.max_length)
        if t is not None:
            return t, len(steps)
        # the steps alone do not fit: keep the prompt's tail only as far as the prompt's separator
        # (as truncate_left would), then cut the right end off at max_length
        cut = e.prompt_end - e.n_lead - 1
        ids = e.input_ids[:e.n_lead] + e.input_ids[e.n_lead + cut:]
        pos = [p - cut for p in e.step_positions]
        ids = ids[:self.max_length]
        k = sum(p < self.max_length for p in pos)
        return Encoded(ids, pos[:k], e.prompt_end - cut, e.n_lead), k

    def _read(self, logits, e: Encoded, n_steps: int, k: int) -> list[float]:
        if n_steps - k:
            self.stats["truncated_steps"] += n_steps - k
            if not self._warned:
                warnings.warn(f"{self.model_dir}: a sample is longer than max_length={self.max_length}; "
                              "steps past it score NaN (counted in scorer.stats)")
                self._warned = True
        probs = [p_correct(logits[p][0], logits[p][1]) for p in e.step_positions[:k]]
        probs += [float("nan")] * (n_steps - k)
        if self.kind == "prm":
            return probs
        # ORM: one score per sample, at the last step (the position it was trained on)
        return [probs[-1] if probs else float("nan")]

    def score(self, question: str, steps: list[str]) -> list[float]:
        return self.score_batch([(question, steps)])[0]

    def score_batch(self, items: list[tuple[str, list[str]]], *, progress: bool = False) -> list[list[float]]:
        enc = [self.encode(q, s) for q, s in items]
        logits = self._logits([e.input_ids for e, _ in enc], progress=progress)
        self.stats["samples"] += len(items)
        return [self._read(lg, e, len(s), k) for lg, (e, k), (_, s) in zip(logits, enc, items)]

    def _logits(self, ids: list[list[int]], progress: bool = False):
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
