"""Sampler fixtures, shared by every test session (registered in conftest's `pytest_plugins`).

- `hf_sampler`: the transformers backend on the tiny random model (`tiny_lm_dir`), per session.
- `vllm_sampler`: ONE vLLM engine on the same model for the whole test session (start-up costs
  ~25-50 s on CPU); skips where vLLM is not installed. Tests that use it are marked `vllm`.
"""

from __future__ import annotations

import importlib.util

import pytest


@pytest.fixture(scope="session")
def hf_sampler(tiny_lm_dir):
    from prm.sampler import EngineConfig, make_sampler

    s = make_sampler(EngineConfig(model=str(tiny_lm_dir), backend="transformers", max_model_len=256))
    yield s
    s.close()


@pytest.fixture(scope="session")
def vllm_sampler(tiny_lm_dir):
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vllm is not installed")
    from prm.sampler import EngineConfig, make_sampler

    s = make_sampler(EngineConfig(model=str(tiny_lm_dir), backend="vllm", max_model_len=256,
                                  gpu_memory_utilization=0.3))
    yield s
    s.close()
