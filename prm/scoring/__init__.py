"""Score samples with a trained PRM or ORM, in transformers or vLLM, with the same numbers.

    from prm.scoring import load_scorer
    scorer = load_scorer("prm-out")                    # reads sep, step tag, kind from the config
    scorer.score("What is 1+1?", ["1+1=2", "The answer is 2."])   # PRM: [P(step 1 ok), P(step 2 ok)]
    scorer.score_batch([(question, steps), ...])       # ORM: one float per sample, in a 1-element list
    scorer.close()

Files: `base.py` the settings reader, the `Scorer` base (sequences and reading scores, shared by both
backends), the `ScorerLike` protocol; `formats.py` how each published PRM family (Qwen2.5-Math-PRM,
Math-Shepherd, RLHFlow, Skywork value heads, TRL) builds its sequence and is read, picked from the
checkpoint's config.json; `hf.py` the transformers backend (`heads.py` its model per head kind); `vllm.py` the vLLM backend
(engine start-up in `prm/vllm_engine.py`, shared with the sampler); `ensemble.py` min / mean ensembles;
`implicit.py` the implicit-PRM / likelihood-ratio scorer (two causal LMs; `logratio.py` its sequence
and sums), which `load_scorer` picks for a dir trained with objective "implicit" or holding
`likelihood_ratio.json` (transformers only); `generative.py` the generative step verifier (`checks.py`
its checks and sequence layout), which `load_scorer` picks for a dir trained with objective
"generative" (transformers or vLLM); `remote.py` scorers over HTTP (`RemoteScorer` for a
`prm serve` URL, which `load_scorer` also takes, and `VLLMPoolingScorer` for `vllm serve`). This
file picks the backend and loads.

`backend="auto"` picks vLLM when a CUDA GPU and vLLM are present, else transformers: on a CPU the
vLLM pooling runner scored a small PRM slower than a plain forward pass (0.55x, idle, 2 cores;
scripts/bench/bench_scoring.py and BENCHMARKS.md) and its engine start costs 30 s to 2 min.
Ensembles: several model dirs (or a dir with ensemble.json) combine member scores per step with
`min` (pessimistic: the mitigation for reward hacking) or `mean`.
"""

from __future__ import annotations

from pathlib import Path

from prm.errors import UserError
from prm.scoring.base import BACKENDS, Scorer, ScorerLike, p_correct, read_settings
from prm.scoring.ensemble import ENSEMBLES, EnsembleScorer, expand_dirs
from prm.scoring.formats import FORMATS, check_format, detect
from prm.scoring.hf import HFScorer
from prm.scoring.generative import GenerativeScorer, is_generative
from prm.scoring.implicit import ImplicitScorer, is_implicit, ratio_file, write_ratio_settings
from prm.scoring.remote import RemoteScorer, VLLMPoolingScorer, is_url

__all__ = ["BACKENDS", "ENSEMBLES", "FORMATS", "EnsembleScorer", "GenerativeScorer", "HFScorer", "ImplicitScorer", "RemoteScorer", "SETTINGS",
           "Scorer", "ScorerLike", "VLLMPoolingScorer", "load_scorer", "p_correct", "pick_backend", "read_settings", "write_ratio_settings"]

# The load_scorer settings each backend takes; a setting left at None is the backend's own default.
SETTINGS = {
    "transformers": ("max_length", "device", "dtype", "max_batch_tokens", "max_batch_size"),
    "vllm": ("max_length", "dtype", "gpu_memory_utilization", "max_model_len", "enforce_eager", "seed"),
}
SHARED_GPU_MEMORY = 0.3  # vLLM ensembles: the members share one device, this much of it in all


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


def load_scorer(model_dirs: str | Path | list, backend: str = "auto", ensemble: str = "min", *,
                max_length: int | None = None, dtype: str | None = None, device: str | None = None,
                max_batch_tokens: int | None = None, max_batch_size: int | None = None,
                gpu_memory_utilization: float | None = None, max_model_len: int | None = None,
                enforce_eager: bool | None = None, seed: int | None = None, format: str | None = None,
                sep: str | None = None):
    """A Scorer for one model dir, or an EnsembleScorer for several (or a dir with ensemble.json).

    format: how the checkpoint wants its steps written and its scores read (`prm.scoring.formats`:
    toolkit, trl, qwen2.5-math-prm, math-shepherd, rlhflow, value-head); default: detected per dir
    from its config.json. sep: the trl format's step separator (TRL does not save it).

    max_length: the longest sequence scored (default: the one the model was trained with).
    transformers: device, dtype (default float32), max_batch_tokens, max_batch_size.
    vLLM: dtype (default float32), gpu_memory_utilization, max_model_len, enforce_eager, seed.
    A setting the chosen backend does not take is a UserError (see SETTINGS).
    An implicit PRM (objective "implicit") or a likelihood-ratio dir (`write_ratio_settings`) loads an
    `ImplicitScorer`, in transformers whatever `backend` "auto" would pick. A dir trained with objective
    "generative" loads a `GenerativeScorer` (transformers or vLLM, as `backend` picks).
    An http:// or https:// URL of a `prm serve` server gives a `RemoteScorer` (backend ignored: the server's).
    """
    if is_url(model_dirs) or (isinstance(model_dirs, list) and any(map(is_url, model_dirs))):
        if format is not None or sep is not None:
            raise UserError(f"{model_dirs}: a remote scorer takes no --format / --sep: the server's model has its own")
        return _remote(model_dirs, max_length, dtype, device, max_batch_tokens, max_batch_size,
                       gpu_memory_utilization, max_model_len, enforce_eager, seed)
    dirs = expand_dirs(model_dirs)
    # reads every dir's settings: fails early with the file named, before loading any weights
    if format is not None:
        check_format(format)
    formats = [format or ("toolkit" if ratio_file(d) else detect(d)) for d in dirs]
    implicit = [f == "toolkit" and is_implicit(d) for d, f in zip(dirs, formats)]
    if any(implicit) and (format is not None or sep is not None):
        raise UserError("--format / --sep do not apply to an implicit / likelihood-ratio scorer")
    generative = [f == "toolkit" and not imp and is_generative(d) for d, f, imp in zip(dirs, formats, implicit)]
    if any(generative) and (format is not None or sep is not None):
        raise UserError("--format / --sep do not apply to a generative verifier: it reads its own from config.json")
    if any(implicit) and backend == "vllm":
        raise UserError("the implicit / likelihood-ratio scorer runs in transformers only (backend 'vllm' given)")
    chosen = "transformers" if any(implicit) else pick_backend(backend)
    given = {k: v for k, v in dict(max_length=max_length, dtype=dtype, device=device,
                                   max_batch_tokens=max_batch_tokens, max_batch_size=max_batch_size,
                                   gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len,
                                   enforce_eager=enforce_eager, seed=seed).items() if v is not None}
    unknown = [k for k in given if k not in SETTINGS[chosen]]
    if unknown:
        picked = f" (backend 'auto' picked {chosen})" if backend == "auto" else ""
        raise UserError(f"the {chosen} scorer backend does not take {', '.join(unknown)}{picked}; "
                        f"it takes {', '.join(SETTINGS[chosen])}")
    if chosen == "vllm":
        from prm.scoring.vllm import VLLMScorer

        if len(dirs) > 1 and "gpu_memory_utilization" not in given:
            given["gpu_memory_utilization"] = SHARED_GPU_MEMORY / len(dirs)
        members = [GenerativeScorer(d, backend="vllm", **given) if gen else VLLMScorer(d, format=f, sep=sep, **given)
                   for d, f, gen in zip(dirs, formats, generative)]
    else:
        members = [ImplicitScorer.from_path(d, **given) if imp else GenerativeScorer(d, **given) if gen
                   else HFScorer(d, format=f, sep=sep, **given)
                   for d, imp, gen, f in zip(dirs, implicit, generative, formats)]
    return members[0] if len(members) == 1 else EnsembleScorer(members, ensemble)


def _remote(spec, *settings):
    """A `prm serve` URL as a scorer (RemoteScorer, key from $PRM_API_KEY): the server chose the backend and
    its settings, so none is taken here."""
    if not is_url(spec):
        raise UserError(f"give one server URL or model directories, not a mix: {spec}")
    if any(v is not None for v in settings):
        raise UserError(f"{spec}: a remote scorer takes no scoring settings (max_length, dtype, ...): they are the "
                        f"server's; set them on `prm serve`")
    return RemoteScorer(spec)
