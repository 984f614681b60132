"""The sampler: prompt helpers (pure), settings checks, and the transformers backend on a tiny model.

The vLLM backend has the same checks in tests/test_sampler_vllm.py (one engine per session).
"""

from __future__ import annotations

import logging

import pytest
import torch

from prm.errors import UserError
from prm.sampler import (PLAIN_FORMAT, Completion, EngineConfig, SamplingConfig, build_prompt,
                         continuation_prompt, make_sampler)

PROMPT = "Tom has 3 apples and buys 4 more, so"


# ----------------------------------------------------------------------------- pure helpers
@pytest.mark.parametrize("steps, sep, expected", [
    ([], "\n\n", "P:\n"),
    (["a"], "\n\n", "P:\na\n\n"),
    (["a", "b"], "\n\n", "P:\na\n\nb\n\n"),
    (["x = 1", "  return x"], "\n", "P:\nx = 1\n  return x\n"),
    (["", "b"], "\n\n", "P:\n\n\nb\n\n"),  # an empty step is kept: nothing lost or invented
])
def test_continuation_prompt(steps, sep, expected):
    assert continuation_prompt("P:\n", steps, sep) == expected


def test_build_prompt_plain_and_chat(tiny_lm_dir):
    from transformers import AutoTokenizer

    q = "What is 2 + 3?"
    assert build_prompt(None, q) == PLAIN_FORMAT.format(question=q)
    # the tiny model has no chat template: plain format, from a tokenizer or from its directory
    assert build_prompt(tiny_lm_dir, q) == PLAIN_FORMAT.format(question=q)
    tok = AutoTokenizer.from_pretrained(tiny_lm_dir)
    tok.chat_template = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
                         "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    assert build_prompt(tok, q) == "<|user|>What is 2 + 3?\n<|assistant|>"


# ----------------------------------------------------------------------------- settings
@pytest.mark.parametrize("kwargs, match", [
    ({"n": 0}, "n must be"),
    ({"n": -3}, "n must be"),
    ({"temperature": -0.1}, "temperature"),
    ({"top_p": 0.0}, "top_p"),
    ({"top_p": 1.5}, "top_p"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"stop": ("",)}, "stop"),
])
def test_sampling_config_rejects(kwargs, match):
    with pytest.raises(UserError, match=match):
        SamplingConfig(**kwargs)


def test_sampling_config_stop_string_is_one_stop():
    assert SamplingConfig(stop="\n\n").stop == ("\n\n",)
    assert SamplingConfig(stop=["a", "b"]).stop == ("a", "b")


@pytest.mark.parametrize("kwargs, match", [
    ({"backend": "tensorrt"}, "unknown backend"),
    ({"gpu_memory_utilization": 0.0}, "gpu_memory_utilization"),
    ({"gpu_memory_utilization": 1.2}, "gpu_memory_utilization"),
    ({"tensor_parallel_size": 0}, "tensor_parallel_size"),
])
def test_engine_config_rejects(kwargs, match):
    with pytest.raises(UserError, match=match):
        EngineConfig(model="x", **kwargs)


def test_missing_model_path(tmp_path):
    with pytest.raises(UserError, match="model path not found"):
        make_sampler(EngineConfig(model=str(tmp_path / "nope"), backend="transformers"))
    with pytest.raises(UserError, match="no config.json"):
        make_sampler(EngineConfig(model=str(tmp_path), backend="transformers"))


def test_auto_says_which_backend(tiny_lm_dir, monkeypatch, caplog):
    import prm.sampler as sampler

    monkeypatch.setattr(sampler, "vllm_available", lambda: False)
    with caplog.at_level(logging.WARNING, logger="prm.sampler"):
        s = make_sampler(EngineConfig(model=str(tiny_lm_dir), backend="auto"))
    assert s.backend == "transformers"
    assert "auto -> transformers" in caplog.text
    s.close()


def test_vllm_memory_check_refuses_before_starting():
    """On CPU, asking for all of RAM is refused by our check, with the knob named, not by a hang."""
    from prm.vllm_engine import check_cpu_memory

    if torch.cuda.is_available():
        pytest.skip("the RAM check applies to CPU only")
    with pytest.raises(UserError, match="lower gpu_memory_utilization"):
        check_cpu_memory(EngineConfig(model="x", gpu_memory_utilization=1.0).gpu_memory_utilization)


# ----------------------------------------------------------------------------- shared checks
def check_structure(outs, prompts, n, max_tokens):
    """Both backends: one list of n Completions per prompt, fields typed and consistent."""
    assert len(outs) == len(prompts)
    for group in outs:
        assert len(group) == n
        prompt_tokens = {c.prompt_tokens for c in group}
        assert len(prompt_tokens) == 1 and prompt_tokens.pop() > 0
        for c in group:
            assert isinstance(c, Completion)
            assert isinstance(c.text, str)
            assert all(isinstance(t, int) for t in c.token_ids)
            assert c.completion_tokens == len(c.token_ids) and 1 <= c.completion_tokens <= max_tokens
            assert c.finish_reason in ("stop", "length")
            assert isinstance(c.cumulative_logprob, float) and c.cumulative_logprob <= 0
            if c.finish_reason == "length":
                assert c.completion_tokens == max_tokens


def check_stop(sampler, stop: str):
    outs = sampler.generate([PROMPT] * 2, SamplingConfig(n=8, max_tokens=40, stop=(stop,), seed=3))
    comps = [c for g in outs for c in g]
    assert all(stop not in c.text for c in comps)
    stopped = [c for c in comps if c.finish_reason == "stop"]
    assert stopped, "a random model over this vocabulary emits a space within 40 tokens"
    for c in stopped:
        decoded = sampler.tokenizer.decode(c.token_ids, skip_special_tokens=True)
        if decoded.isascii():  # random bytes may decode differently at a cut; ASCII cannot
            # the text stops right before the stop string, and the last token completed it
            assert decoded.startswith(c.text + stop) or decoded == c.text, (c.text, decoded)
            assert stop in decoded
            shorter = sampler.tokenizer.decode(c.token_ids[:-1], skip_special_tokens=True)
            assert stop not in shorter


def model_logprob(model_dir, prompt_ids: list[int], gen: list[int]) -> float:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(torch.tensor([prompt_ids + gen])).logits[0].float().log_softmax(-1)
    start = len(prompt_ids)
    return float(sum(logits[start - 1 + k, t] for k, t in enumerate(gen)))


# ----------------------------------------------------------------------------- transformers backend
def test_hf_structure_and_distinct(hf_sampler):
    prompts = [PROMPT, "def add(a, b):\n"]
    outs = hf_sampler.generate(prompts, SamplingConfig(n=4, temperature=1.0, max_tokens=12, seed=0))
    check_structure(outs, prompts, 4, 12)
    for group in outs:
        assert len({tuple(c.token_ids) for c in group}) == 4  # n distinct samples, not one copied


def test_hf_same_seed_same_samples(hf_sampler):
    params = SamplingConfig(n=3, max_tokens=10, seed=123)
    a = hf_sampler.generate([PROMPT], params)
    b = hf_sampler.generate([PROMPT], params)
    c = hf_sampler.generate([PROMPT], SamplingConfig(n=3, max_tokens=10, seed=124))
    assert [x.token_ids for x in a[0]] == [x.token_ids for x in b[0]]
    assert [x.token_ids for x in a[0]] != [x.token_ids for x in c[0]]
    # seed per prompt: a prompt's samples do not depend on the other prompts in the call
    d = hf_sampler.generate(["other prompt", PROMPT], params)
    assert [x.token_ids for x in d[1]] == [x.token_ids for x in a[0]]


def test_hf_stop_honoured(hf_sampler):
    check_stop(hf_sampler, " ")


def test_hf_greedy_is_deterministic_without_seed(hf_sampler):
    a = hf_sampler.generate([PROMPT], SamplingConfig(n=2, temperature=0.0, max_tokens=8))
    b = hf_sampler.generate([PROMPT], SamplingConfig(n=1, temperature=0.0, max_tokens=8))
    assert a[0][0].token_ids == a[0][1].token_ids == b[0][0].token_ids


def test_hf_cumulative_logprob_is_the_models(hf_sampler, tiny_lm_dir):
    [[c]] = hf_sampler.generate([PROMPT], SamplingConfig(n=1, temperature=1.3, top_p=0.9, max_tokens=8, seed=5))
    prompt_ids = hf_sampler.tokenizer(PROMPT)["input_ids"]
    assert c.cumulative_logprob == pytest.approx(model_logprob(tiny_lm_dir, prompt_ids, c.token_ids), abs=1e-3)


def test_hf_prompt_too_long_and_clamp(hf_sampler):
    with pytest.raises(UserError, match="prompt 1 has .* tokens but the context is 256"):
        hf_sampler.generate([PROMPT, "7 " * 400], SamplingConfig(max_tokens=4))
    with pytest.raises(UserError, match="list of prompts"):
        hf_sampler.generate(PROMPT, SamplingConfig())
    # a prompt near the end of the context gets only the room that is left
    ids = hf_sampler.tokenizer("7 " * 400)["input_ids"][:250]
    near_end = hf_sampler.tokenizer.decode(ids)
    n_prompt = len(hf_sampler.tokenizer(near_end)["input_ids"])
    [[c]] = hf_sampler.generate([near_end], SamplingConfig(max_tokens=50, seed=0))
    assert c.completion_tokens <= 256 - n_prompt


def test_hf_large_n_in_chunks(hf_sampler, monkeypatch):
    import prm.sampler.hf as hf

    monkeypatch.setattr(hf, "MAX_ROWS", 3)
    outs = hf_sampler.generate([PROMPT], SamplingConfig(n=7, max_tokens=5, seed=1))
    assert len(outs[0]) == 7 and len({tuple(c.token_ids) for c in outs[0]}) > 1


def test_hf_no_hidden_top_k(hf_sampler, tiny_lm_dir):
    """transformers would apply top_k=50 unless told not to; vLLM applies none. On a random model
    (near-flat next-token distribution over ~500 tokens) 64 draws must reach beyond the top 50."""
    from transformers import AutoModelForCausalLM

    [group] = hf_sampler.generate([PROMPT], SamplingConfig(n=64, max_tokens=1, seed=0))
    model = AutoModelForCausalLM.from_pretrained(tiny_lm_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(torch.tensor([hf_sampler.tokenizer(PROMPT)["input_ids"]])).logits[0, -1]
    rank = {t: r for r, t in enumerate(logits.argsort(descending=True).tolist())}
    assert max(rank[c.token_ids[0]] for c in group) >= 50


# ----------------------------------------------------------------------------- vLLM dtype on CPU (pure)
@pytest.mark.parametrize("requested, on_cpu, bf16, expected", [
    ("auto", True, False, "float32"),       # the trap: vLLM would run bfloat16 in software
    ("auto", True, True, "auto"),           # a CPU with AVX512-BF16 / AMX: vLLM's own choice
    ("auto", False, False, "auto"),         # a GPU: vLLM's own choice
    ("bfloat16", True, False, "bfloat16"),  # an explicit dtype is never overridden
    ("float16", False, True, "float16"),
])
def test_vllm_dtype_resolution(requested, on_cpu, bf16, expected):
    from prm.vllm_engine import resolve_dtype

    assert resolve_dtype(requested, on_cpu=on_cpu, cpu_bf16=bf16) == expected


@pytest.mark.parametrize("flags, expected", [
    ("flags : fpu sse avx2 fma", False),
    ("flags : fpu avx512f avx512_bf16 amx_tile", True),
    ("flags : fpu amx_bf16 amx_tile", True),
    ("flags : avx512_bf16x", False),        # whole words only
])
def test_cpu_bf16_flags(flags, expected):
    from prm.vllm_engine import cpu_has_bf16

    assert cpu_has_bf16(flags) is expected
