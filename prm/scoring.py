"""Score samples with a trained PRM or ORM, in transformers or vLLM, with the same numbers.

    from prm.scoring import load_scorer
    scorer = load_scorer("prm-out")                    # reads sep, step tag, kind from the config
    scorer.score("What is 1+1?", ["1+1=2", "The answer is 2."])   # PRM: [P(step 1 ok), P(step 2 ok)]
    scorer.score_batch([(question, steps), ...])       # ORM: one float per sample, in a 1-element list
    scorer.close()

Both backends build token ids with `prm.sequence.encode` (the builder training used) and read the
probabilities at the step positions themselves: the transformers backend runs a forward pass, the
vLLM backend (`prm.scoring_vllm`) sends the same ids as `TokensPrompt` to the pooling runner
(`token_classify`, raw logits) so vLLM never re-tokenizes, and never relies on STEP pooling. Score =
softmax(logits)[1] computed here in float32 for both.

Prefix property: the model is causal and the label token of step k ends at step k's separator (the
step tag guarantees it when the tokenizer would merge across), so scoring steps[:k] gives exactly the
first k scores of scoring all steps. Step-level beam search relies on it.

Too long: the prompt is left-truncated first (as in training); steps whose positions still fall
outside `max_length` get NaN, and `scorer.stats["truncated_steps"]` counts them (model output never
raises). An empty step list gives [] for a PRM and [NaN] for an ORM.

`backend="auto"` picks vLLM when a CUDA GPU and vLLM are present, else transformers: on CPU vLLM
scores ~6x faster once started (scripts/bench/bench_scoring.py) but its engine start (30 s to 2 min)
pays off only past roughly a thousand samples; pass backend="vllm" for big CPU jobs.
Ensembles: several model dirs (or a dir with ensemble.json) combine member scores per step with
`min` (pessimistic: the mitigation for reward hacking) or `mean`.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

from prm.errors import UserError
from prm.sequence import Encoded, encode, truncate_left

BACKENDS = ("auto", "transformers", "vllm")
ENSEMBLES = {"min": min, "mean": lambda xs: sum(xs) / len(xs)}


def read_settings(model_dir: str | Path) -> dict:
    """config.prm_toolkit of a saved model; UserError naming the file when it is missing."""
    cfg_path = Path(model_dir) / "config.json"
    if not cfg_path.exists():
        raise UserError(f"{cfg_path}: no such file (is {model_dir} a model directory trained by `prm train`?)")
    try:
        cfg = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{cfg_path}: invalid JSON ({e.msg})") from None
    settings = cfg.get("prm_toolkit")
    if not isinstance(settings, dict):
        raise UserError(f"{cfg_path}: field 'prm_toolkit' missing: the model was not trained by prm-toolkit")
    for key in ("kind", "sep"):
        if key not in settings:
            raise UserError(f"{cfg_path}: field 'prm_toolkit.{key}' missing")
    return settings


def p_correct(logit0: float, logit1: float) -> float:
    """softmax([l0, l1])[1] = sigmoid(l1 - l0), written stably."""
    d = float(logit1) - float(logit0)
    return 1.0 / (1.0 + math.exp(-d)) if d >= 0 else math.exp(d) / (1.0 + math.exp(d))


class Scorer:
    """One model; `_logits(list of id lists) -> list of (T, 2) float arrays` is the backend part."""

    backend = "base"

    def __init__(self, model_dir: str | Path, max_length: int | None = None):
        from transformers import AutoTokenizer

        self.model_dir = str(model_dir)
        self.settings = read_settings(model_dir)
        self.kind: str = self.settings["kind"]
        self.sep: str = self.settings["sep"]
        self.step_tag: str | None = self.settings.get("step_tag")
        self.max_length = int(max_length or self.settings.get("max_length") or 4096)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self.stats = {"samples": 0, "truncated_steps": 0}
        self._warned = False

    # -- pure part: sequences and reading positions
    def encode(self, question: str, steps: list[str]) -> tuple[Encoded, int]:
        """The ids the model sees, and how many leading steps are scorable (the rest fall outside)."""
        e = encode(self.tokenizer, question, list(steps), self.sep, self.step_tag)
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


class HFScorer(Scorer):
    """transformers forward pass; batches of similar length, padded right (causal: padding after a
    sequence cannot change its logits)."""

    backend = "transformers"

    def __init__(self, model_dir, max_length=None, *, device: str | None = None, dtype: str = "float32",
                 max_batch_tokens: int = 16384, max_batch_size: int = 64):
        super().__init__(model_dir, max_length)
        import torch
        from transformers import AutoModelForTokenClassification

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = AutoModelForTokenClassification.from_pretrained(
            self.model_dir, dtype=getattr(torch, dtype)).to(self.device).eval()
        self.max_batch_tokens, self.max_batch_size = max_batch_tokens, max_batch_size
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    def _logits(self, ids, progress=False):
        import torch
        from tqdm import tqdm

        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        batches, cur = [], []
        for i in order:
            # longest first: the first item of a batch sets its padded width
            if cur and ((len(cur) + 1) * len(ids[cur[0]]) > self.max_batch_tokens or len(cur) >= self.max_batch_size):
                batches.append(cur)
                cur = []
            cur.append(i)
        if cur:
            batches.append(cur)
        out = [None] * len(ids)
        with torch.inference_mode():
            for b in tqdm(batches, desc="score", unit="batch", disable=not progress):
                width = len(ids[b[0]])
                x = torch.full((len(b), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(b), width), dtype=torch.long)
                for r, i in enumerate(b):
                    x[r, :len(ids[i])] = torch.tensor(ids[i])
                    mask[r, :len(ids[i])] = 1
                lg = self.model(input_ids=x.to(self.device), attention_mask=mask.to(self.device)).logits
                lg = lg.float().cpu().numpy()
                for r, i in enumerate(b):
                    out[i] = lg[r, :len(ids[i])]
        return out

    def close(self):
        self.model = None


class EnsembleScorer:
    """Members' scores combined per step with min or mean; members must agree on kind and separator."""

    def __init__(self, members: list[Scorer], how: str = "min"):
        if how not in ENSEMBLES:
            raise UserError(f"ensemble must be one of {tuple(ENSEMBLES)}, got {how!r}")
        kinds = {m.kind for m in members}
        seps = {m.sep for m in members}
        if len(kinds) > 1 or len(seps) > 1:
            raise UserError(f"ensemble members disagree: kinds {sorted(kinds)}, separators {sorted(map(repr, seps))}")
        self.members, self.how = members, how
        self.kind, self.sep = members[0].kind, members[0].sep
        self.backend = f"ensemble({self.how}) of {getattr(members[0], 'backend', '?')}"
        self.stats = members[0].stats

    def score(self, question, steps):
        return self.score_batch([(question, steps)])[0]

    def score_batch(self, items, *, progress: bool = False):
        per = [m.score_batch(items, progress=progress) for m in self.members]
        combine = ENSEMBLES[self.how]
        return [[combine([p[i][j] for p in per]) for j in range(len(per[0][i]))] for i in range(len(items))]

    def close(self):
        for m in self.members:
            m.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _expand(model_dirs: str | Path | list) -> list[str]:
    dirs = [model_dirs] if isinstance(model_dirs, (str, Path)) else list(model_dirs)
    out = []
    for d in dirs:
        ens = Path(d) / "ensemble.json"
        if ens.exists() and not (Path(d) / "config.json").exists():
            out += [str(Path(d) / m) for m in json.loads(ens.read_text())["members"]]
        else:
            out.append(str(d))
    if not out:
        raise UserError("no model directory given")
    return out


def pick_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise UserError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend != "auto":
        return backend
    try:
        import torch
        import vllm  # noqa: F401
    except ImportError:
        return "transformers"
    return "vllm" if torch.cuda.is_available() else "transformers"


def load_scorer(model_dirs: str | Path | list, backend: str = "auto", ensemble: str = "min", **kw):
    """A Scorer for one model dir, or an EnsembleScorer for several (or a dir with ensemble.json).

    kw: max_length; transformers: device, dtype, max_batch_tokens, max_batch_size;
    vLLM: dtype, gpu_memory_utilization, max_model_len, enforce_eager, seed.
    """
    dirs = _expand(model_dirs)
    for d in dirs:
        read_settings(d)              # fail early with the file named, before loading any weights
    chosen = pick_backend(backend)
    if chosen == "vllm":
        from prm.scoring_vllm import VLLMScorer

        if len(dirs) > 1 and "gpu_memory_utilization" not in kw:
            kw["gpu_memory_utilization"] = 0.3 / len(dirs)   # the members share one device
        members = [VLLMScorer(d, **kw) for d in dirs]
    else:
        members = [HFScorer(d, **kw) for d in dirs]
    return members[0] if len(members) == 1 else EnsembleScorer(members, ensemble)
