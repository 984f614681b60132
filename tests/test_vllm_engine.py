"""The shared vLLM start/close helper, with a fake `vllm.LLM` (no engine starts here): what it hands
vLLM on CPU and GPU, start-up errors as one-line UserErrors, and a close that never raises.
The real engines run in tests/test_sampler_vllm.py and tests/test_scoring_vllm.py."""

from __future__ import annotations

import pytest

import prm.vllm_engine as ve
from prm.errors import UserError


class FakeLLM:
    calls: list[dict] = []

    def __init__(self, **kw):
        FakeLLM.calls.append(kw)


@pytest.fixture
def fake_vllm(monkeypatch):
    def setup(on_cpu: bool, bf16: bool, llm=FakeLLM):
        FakeLLM.calls = []
        monkeypatch.setattr(ve, "check_cpu_memory", lambda frac: None)
        monkeypatch.setattr(ve, "_import_llm", lambda: llm)
        monkeypatch.setattr(ve, "_cpu_backend", lambda: on_cpu)
        monkeypatch.setattr(ve, "cpu_has_bf16", lambda: bf16)
    return setup


@pytest.mark.parametrize("on_cpu, bf16, dtype, seeds, want_dtype, want_chunked", [
    (True, False, "auto", True, "float32", False),    # the sampler on an AVX2 CPU
    (True, False, "auto", False, "float32", None),    # the scorer: chunked prefill left to vLLM
    (True, True, "auto", True, "auto", False),        # a CPU with bfloat16: vLLM's own dtype
    (True, False, "bfloat16", True, "bfloat16", False),  # an explicit dtype is kept
    (False, False, "auto", True, "auto", None),       # a GPU: nothing changed
])
def test_start_llm_settings(fake_vllm, on_cpu, bf16, dtype, seeds, want_dtype, want_chunked):
    fake_vllm(on_cpu, bf16)
    ve.start_llm("m", dtype=dtype, gpu_memory_utilization=0.3, max_model_len=64, seed=1, per_request_seeds=seeds,
                 runner="pooling")
    [kw] = FakeLLM.calls
    assert kw["dtype"] == want_dtype and kw.get("enable_chunked_prefill") is want_chunked
    assert (kw["model"], kw["gpu_memory_utilization"], kw["max_model_len"], kw["seed"], kw["runner"]) == \
        ("m", 0.3, 64, 1, "pooling")


@pytest.mark.parametrize("err, first", [
    (RuntimeError("Engine core initialization failed\ntraceback..."), "Engine core initialization failed"),
    (ValueError(""), "ValueError"),
])
def test_start_failure_is_one_line_user_error(fake_vllm, err, first):
    def broken(**kw):
        raise err

    fake_vllm(True, False, llm=broken)
    with pytest.raises(UserError) as e:
        ve.start_llm("m", dtype="auto", gpu_memory_utilization=0.3, max_model_len=None, seed=0, tensor_parallel_size=2)
    assert str(e.value) == (f"vLLM engine failed to start for m: {first} (settings: dtype=float32, "
                            f"gpu_memory_utilization=0.3, max_model_len=None, tensor_parallel_size=2; "
                            f"the engine log above has the root cause)")


class _Core:
    def __init__(self, fail: bool):
        self.fail, self.calls = fail, 0

    def shutdown(self):
        self.calls += 1
        if self.fail:
            raise RuntimeError("already gone")


class _Engine:
    def __init__(self, core):
        self.engine_core = core


class _LLM:
    def __init__(self, core):
        self.llm_engine = _Engine(core)


@pytest.mark.parametrize("fail", [False, True])
def test_close_shuts_the_core_down_and_never_raises(fail):
    core = _Core(fail)
    ve.close_llm(_LLM(core))
    assert core.calls == 1


@pytest.mark.parametrize("llm", [None, object()])
def test_close_without_an_engine_is_a_no_op(llm):
    assert ve.close_llm(llm) is None
