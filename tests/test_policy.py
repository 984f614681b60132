"""The tiny policy: data and cache key (pure), cache reuse, and a micro training run end to end.

The real presets (minutes of training) are checked by `scripts/bench/bench_sampling.py` and the
slow test at the bottom, which also checks the accuracy band the demo relies on.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from prm.policy import PolicyConfig, cache_key, encode_pairs, ensure_policy, policy_info, preset, training_pairs
from prm.sampler import EngineConfig, SamplingConfig, build_prompt, make_sampler

MICRO = PolicyConfig(domain="math", n_problems=60, steps=4, batch_size=4, hidden_size=64, intermediate_size=128,
                     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, vocab_size=300)


def test_training_pairs_are_references():
    pairs = training_pairs(replace(MICRO, n_problems=5))
    assert len(pairs) == 5
    for q, c in pairs:
        assert q.endswith("now?") and "\n\n" in c and c.splitlines()[-1].startswith("The answer is ")
    code = training_pairs(replace(MICRO, domain="code", n_problems=3))
    assert all(c.startswith("def ") for _, c in code)


def test_cache_key_follows_config_and_data():
    pairs = training_pairs(MICRO)
    k = cache_key(MICRO, pairs)
    assert k == cache_key(MICRO, list(pairs))
    assert k != cache_key(replace(MICRO, steps=5), pairs)
    assert k != cache_key(MICRO, pairs[:-1])
    assert k != cache_key(MICRO, pairs[:-1] + ((pairs[-1][0], pairs[-1][1] + " "),))


def test_prompt_and_completion_tokenize_apart_as_together():
    """Training concatenates separately tokenized prompt and completion; that must equal what the
    tokenizer gives for the joined text, or sampling would see a different boundary."""
    from prm.tiny import build_tokenizer

    pairs = training_pairs(replace(MICRO, n_problems=200))
    tok = build_tokenizer([build_prompt(None, q) + c for q, c in pairs], 400, individual_digits=True)
    for (ids, n_prompt), (q, c) in zip(encode_pairs(tok, pairs), pairs):
        assert ids[:-1] == tok(build_prompt(None, q) + c, add_special_tokens=False)["input_ids"]
        assert ids[-1] == tok.eos_token_id and n_prompt == len(tok(build_prompt(None, q))["input_ids"])
    # digits are single tokens: numbers share one 10-symbol alphabet
    assert [tok.decode([i]) for i in tok("4096", add_special_tokens=False)["input_ids"]] == list("4096")


def test_unknown_domain():
    from prm.errors import UserError

    with pytest.raises(UserError, match="unknown policy domain"):
        preset("chemistry")


def test_micro_policy_trains_caches_and_samples(tmp_path, monkeypatch):
    path = ensure_policy("math", tmp_path, cfg=MICRO, progress=False)
    info = policy_info(path)
    assert info["config"]["steps"] == 4 and info["key"] in path.name
    # cached: a second call must not train
    import prm.policy as policy

    monkeypatch.setattr(policy, "train_policy", lambda *a, **k: pytest.fail("retrained a cached policy"))
    assert ensure_policy("math", tmp_path, cfg=MICRO) == path
    # a leftover temp dir from a crash is not mistaken for a policy
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == [path.name]
    # a normal HF directory: the sampler loads it, prompts use the plain format
    s = make_sampler(EngineConfig(model=str(path), backend="transformers"))
    [[c]] = s.generate([build_prompt(path, "A shop has 12 pens. It sells 3 pens. How many pens does the shop have now?")],
                       SamplingConfig(n=1, max_tokens=5, seed=0))
    assert c.completion_tokens >= 1
    s.close()


@pytest.mark.slow
def test_quick_math_policy_is_a_useful_policy(tmp_path):
    """The quick preset (what `prm demo --quick` uses; shipped, so this samples the shipped copy)
    is right sometimes and makes mistakes of its own."""
    from prm.policy import evaluate_policy

    path = ensure_policy("math", tmp_path, quick=True, progress=False)
    report = evaluate_policy(path, "math", n_problems=30, n=4)
    hist = report["solve_rate_histogram"]  # problems by how many of their 4 samples are right
    assert sum(hist.values()) == 30 and (hist["0/4"], hist["4/4"]) == (report["never_solved"], report["always_solved"])
    assert report["accuracy"] == round(sum(int(k.split("/")[0]) * v for k, v in hist.items()) / (30 * 4), 4)
    # useful to a reranker: right sometimes, and with mistakes of its own
    assert hist["0/4"] < 30 and hist["4/4"] < 30
    assert report["examples"], "a policy with no mistakes is no use to a reranker"
