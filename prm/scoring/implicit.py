"""The implicit-PRM scorer: step scores from beta * log pi/pi_ref of two causal LMs, trained or not.

    from prm.scoring import load_scorer
    scorer = load_scorer("implicit-out")       # `prm train --objective implicit`: ref and beta from its config
    write_ratio_settings("lr", model="strong-lm", ref_model="policy", beta=0.1, sep="\\n\\n")
    scorer = load_scorer("lr")                 # zero training: a stronger LM against the policy

Two ways in, one scorer:
- a model trained by `prm train --objective implicit` (Yuan et al. 2024, "Free Process Rewards
  without Process Labels"): its config's `prm_toolkit` names the reference (the policy), its sha256,
  beta and the separator;
- a likelihood-ratio settings file, `likelihood_ratio.json` in a directory (or the file itself):
  {"model", "ref_model", "beta", "sep", "step_score"} and the two models' sha256, written by
  `write_ratio_settings`. Any two causal LMs that share a tokenizer: no training at all.
Both references are checked by sha256 of their weight files at load: a scorer refuses a reference
other than the one it was trained (or set up) against, since the log-ratio means nothing then (the
check reads the weights once per load, about a second per GB).

Step scores (`prm.scoring.logratio`): the step reward r_t = beta * sum over step t's tokens of
log pi/pi_ref, q_t = r_1 + ... + r_t, and the score is sigmoid(q_t) by default ("q"): the prefix's
value, as the paper's Proposition makes q_t the Q value of the prefix; it is what a
token-classification PRM trained on MC values estimates too, so `min`, `prod`, `last`, `mean` and
weighted vote work unchanged, beam search ranks partial solutions by their value, and `last` is
exactly the outcome probability sigmoid(r(y)) that the cross-entropy objective trained. The paper
reads per-step rewards r_t = q_t - q_{t-1}; `step_score="r"` returns sigmoid(r_t) instead, so that
aggregation `min` ranks responses by their lowest step reward. Keep |beta * log-ratio| below ~35:
past that sigmoid rounds to exactly 0 or 1 in float64 and samples tie.

Transformers only (vLLM's pooling runner gives no log-probabilities of given tokens here). Too long:
the prompt is cut from the left first; steps with a token past `max_length` score NaN.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from prm.errors import UserError
from prm.scoring.base import read_settings
from prm.scoring.logratio import STEP_SCORES, encode_completion, fit, step_sums, token_logprobs

RATIO_FILE = "likelihood_ratio.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")


def weights_sha256(model: str) -> str | None:
    """sha256 over a model dir's weight files (sorted by name); None for a hub name (not a dir)."""
    d = Path(model)
    if not d.is_dir():
        return None
    files = sorted(f for f in d.iterdir() if f.is_file() and f.name.endswith(WEIGHT_SUFFIXES))
    if not files:
        raise UserError(f"{d}: no weight files (*.safetensors, *.bin) to identify the model by")
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\x00")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def ratio_file(path: str | Path) -> Path | None:
    p = Path(path)
    if p.is_file() and p.suffix == ".json":
        return p
    return p / RATIO_FILE if (p / RATIO_FILE).is_file() else None


def is_implicit(path: str | Path) -> bool:
    """A likelihood-ratio settings file, or a model dir trained with objective "implicit"."""
    return ratio_file(path) is not None or read_settings(path).get("objective") == "implicit"


def write_ratio_settings(out: str | Path, *, model: str, ref_model: str, beta: float, sep: str,
                         step_score: str = "q", max_length: int = 4096) -> Path:
    """Write `out/likelihood_ratio.json` for a zero-training scorer beta * log pi_model / pi_ref."""
    if step_score not in STEP_SCORES:
        raise UserError(f"step_score must be one of {tuple(STEP_SCORES)}, got {step_score!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = {"kind": "prm", "objective": "likelihood_ratio", "model": str(model), "ref_model": str(ref_model),
                "model_sha256": weights_sha256(model), "ref_sha256": weights_sha256(ref_model),
                "beta": float(beta), "sep": sep, "step_score": step_score, "max_length": max_length}
    (out / RATIO_FILE).write_text(json.dumps(settings, indent=1))
    return out / RATIO_FILE


def _ratio_settings(path: Path) -> dict:
    try:
        s = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: cannot read likelihood-ratio settings ({e})") from None
    for key in ("model", "ref_model", "beta", "sep"):
        if key not in s:
            raise UserError(f"{path}: field {key!r} missing")
    base = path.parent
    # relative model paths are relative to the settings file, so a folder of models moves as one
    for key in ("model", "ref_model"):
        if not Path(s[key]).is_absolute() and (base / s[key]).exists():
            s[key] = str(base / s[key])
    return s


class ImplicitScorer:
    """beta * log pi_model / pi_ref per step, read from two causal LMs that share a tokenizer."""

    backend = "transformers"
    kind = "prm"

    def __init__(self, model: str, ref_model: str, *, beta: float, sep: str, step_score: str = "q",
                 max_length: int | None = None, device: str | None = None, dtype: str = "float32",
                 max_batch_tokens: int = 16384, max_batch_size: int = 64,
                 expect_sha256: dict | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if step_score not in STEP_SCORES:
            raise UserError(f"step_score must be one of {tuple(STEP_SCORES)}, got {step_score!r}")
        for name, want in (expect_sha256 or {}).items():
            path = model if name == "model" else ref_model
            got = weights_sha256(path) if want else None
            if want and got != want:
                raise UserError(f"{path}: its weights (sha256 {got[:12] if got else None}) are not the {name} this "
                                f"scorer was set up with (sha256 {want[:12]}); the log-ratio needs that exact model")
        self.model_dir, self.ref_dir = str(model), str(ref_model)
        self.beta, self.sep, self.step_score = float(beta), sep, step_score
        self.max_length = int(max_length or 4096)
        self.tokenizer = _load(AutoTokenizer, self.model_dir, "a tokenizer")
        ref_tok = _load(AutoTokenizer, self.ref_dir, "a tokenizer")
        if ref_tok.get_vocab() != self.tokenizer.get_vocab():
            raise UserError(f"{self.model_dir} and {self.ref_dir} do not share a tokenizer: a log-ratio of two "
                            "models needs the same tokens")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        kw = {"dtype": getattr(torch, dtype)}
        self.model = _load(AutoModelForCausalLM, self.model_dir, "a causal LM", **kw).to(self.device).eval()
        self.ref = _load(AutoModelForCausalLM, self.ref_dir, "a causal LM", **kw).to(self.device).eval()
        self.max_batch_tokens, self.max_batch_size = max_batch_tokens, max_batch_size
        self._ref_key = _identity(self.ref_dir, dtype, self.device)
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else 0
        self.stats = {"samples": 0, "truncated_steps": 0}

    @classmethod
    def from_path(cls, path: str | Path, **kw) -> "ImplicitScorer":
        """From a likelihood-ratio settings file / dir, or a dir trained with objective "implicit"."""
        rf = ratio_file(path)
        if rf is not None:
            s = _ratio_settings(rf)
            model, ref, sha = s["model"], s["ref_model"], {"model": s.get("model_sha256"), "ref": s.get("ref_sha256")}
        else:
            s = read_settings(path)
            if not s.get("ref_model"):
                raise UserError(f"{Path(path) / 'config.json'}: field 'prm_toolkit.ref_model' missing")
            model, ref, sha = str(path), _beside(Path(path), s["ref_model"]), {"ref": s.get("ref_sha256")}
        kw.setdefault("max_length", s.get("max_length"))
        kw.setdefault("step_score", s.get("step_score", "q"))   # a keyword overrides the saved choice
        return cls(model, ref, beta=s["beta"], sep=s["sep"], expect_sha256=sha, **kw)

    # -- the numbers
    def step_rewards_batch(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        """r_t per step (NaN for steps past max_length), before any squashing."""
        fitted = [fit(encode_completion(self.tokenizer, q, list(s), self.sep), self.max_length) for q, s in items]
        ids = [seq.input_ids for seq, _ in fitted]
        lp, lp_ref = self._logprobs(self.model, ids), self._ref_logprobs(ids)
        out = []
        for (seq, k), a, b in zip(fitted, lp, lp_ref):
            d = [self.beta * (x - y) for x, y in zip(a[seq.prompt_len - 1:], b[seq.prompt_len - 1:])]
            r = step_sums(d, seq.step_of, seq.n_steps)
            self.stats["truncated_steps"] += seq.n_steps - k
            out.append(r[:k] + [math.nan] * (seq.n_steps - k))
        return out

    def score(self, question: str, steps: list[str]) -> list[float]:
        return self.score_batch([(question, steps)])[0]

    def score_batch(self, items: list[tuple[str, list[str]]], *, progress: bool = False) -> list[list[float]]:
        self.stats["samples"] += len(items)
        to_score = STEP_SCORES[self.step_score]
        # NaN (steps past the window) stays NaN through sigmoid and the cumulative sum
        return [to_score(r) for r in self.step_rewards_batch(items)]

    def _ref_logprobs(self, ids: list[list[int]]) -> list[list[float]]:
        """The reference's log-probabilities, shared by every scorer in this process that has the same
        reference: the demo scores one pool with the ratio, the implicit PRM and its ORM twin, all
        against the policy, and the policy's numbers for a sequence are the same each time."""
        cache = _REF_CACHE.setdefault(self._ref_key, {})
        todo = [x for x in dict.fromkeys(map(tuple, ids)) if x not in cache]
        if len(cache) + len(todo) > REF_CACHE_MAX:
            cache.clear()
        if todo:
            for x, lp in zip(todo, self._logprobs(self.ref, [list(t) for t in todo])):
                cache[x] = lp
        return [cache[tuple(x)] for x in ids]

    def _logprobs(self, model, ids: list[list[int]]) -> list[list[float]]:
        """log p(token i | tokens < i) for i >= 1 of each sequence, batched longest first."""
        import torch

        from prm.scoring.base import length_batches

        batches = length_batches(ids, self.max_batch_tokens, self.max_batch_size)
        out: list = [None] * len(ids)
        with torch.inference_mode():
            for b in batches:
                width = len(ids[b[0]])
                x = torch.full((len(b), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(b), width), dtype=torch.long)
                for row, i in enumerate(b):
                    x[row, :len(ids[i])] = torch.tensor(ids[i])
                    mask[row, :len(ids[i])] = 1
                x = x.to(self.device)
                lp = token_logprobs(model(input_ids=x, attention_mask=mask.to(self.device)).logits, x).cpu()
                for row, i in enumerate(b):
                    out[i] = lp[row, :len(ids[i]) - 1].double().tolist()
        return out

    def close(self) -> None:
        self.model = self.ref = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# token ids -> the reference's log-probabilities, per reference (path, weight files' size and mtime,
# dtype, device); bounded: cleared when full (a pool of 3,200 samples of ~100 tokens is ~3,200 entries)
_REF_CACHE: dict[tuple, dict[tuple, list[float]]] = {}
REF_CACHE_MAX = 50_000


def _beside(model_dir: Path, ref: str) -> str:
    """A relative `ref_model` that names a directory next to the model (a shipped pair, prm.learned,
    writes `../../policy/<name>` so the copy works wherever the package is) is read from the model's
    own directory; anything else (absolute, a hub name, relative to the working directory) as given."""
    near = model_dir / ref
    return str(near.resolve()) if not Path(ref).is_absolute() and near.is_dir() else ref


def _identity(model: str, dtype: str, device: str) -> tuple:
    d = Path(model)
    files = sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in d.iterdir()
                   if f.is_file() and f.name.endswith(WEIGHT_SUFFIXES)) if d.is_dir() else []
    return (str(d.resolve()) if d.is_dir() else model, tuple(files), dtype, str(device))


def _load(cls, name: str, what: str, **kw):
    try:
        return cls.from_pretrained(name, **kw)
    except Exception as e:  # missing dir, no network for a hub name, broken files
        raise UserError(f"cannot load {what} from {name!r}: {type(e).__name__}: "
                        f"{str(e).splitlines()[0][:200] if str(e) else ''}") from None
