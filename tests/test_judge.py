"""The judge backbone (prm/judge.py): shipped for the shipped math policy, keyed by its recipe,
deterministic to rebuild, never trained when a shipped or cached copy exists."""

import hashlib
from pathlib import Path

import pytest

from prm import judge as J
from prm.errors import UserError
from prm.policy import PolicyConfig, ensure_policy, train_policy


def sha(path: Path) -> str:
    return hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()


@pytest.mark.parametrize("domain", ["math", "code"])
def test_the_shipped_policy_has_its_shipped_judge(monkeypatch, domain):
    # fails when the recipe (JudgeConfig, JUDGE_VERSION, training texts) changes and the shipped copy goes stale
    monkeypatch.setattr(J, "train_judge", lambda *a, **k: pytest.fail("the shipped judge must not be retrained"))
    policy = ensure_policy(domain, progress=False)
    path, note = J.find_judge(policy, domain)
    assert path is not None, note
    assert path.parent.name == "judge" and path.name == J.judge_name(J.RECIPES[domain], policy)
    assert note.startswith(f"shipped judge/{domain}-")
    assert J.ensure_judge(domain, policy_dir=policy, progress=False) == path


def test_no_judge_recipe_for_an_unknown_domain(tmp_path):
    path, note = J.find_judge(tmp_path, "chemistry")
    assert path is None and "no judge recipe for 'chemistry'" in note
    with pytest.raises(UserError, match="no judge recipe"):
        J.ensure_judge("chemistry", policy_dir=tmp_path)


@pytest.fixture(scope="module")
def tiny_policy(tmp_path_factory):
    out = tmp_path_factory.mktemp("policy") / "math-tiny"
    train_policy(PolicyConfig(domain="math", n_problems=64, steps=2, hidden_size=32, intermediate_size=64,
                              num_hidden_layers=1, num_attention_heads=1, num_key_value_heads=1, threads=1),
                 out, progress=False)
    return out


TINY = J.JudgeConfig(n_problems=64, steps=3, batch_size=4)


def test_rebuild_is_deterministic_and_starts_from_the_policy(tiny_policy, tmp_path):
    a = J.train_judge(TINY, tiny_policy, tmp_path / "a", progress=False)
    J.train_judge(TINY, tiny_policy, tmp_path / "b", progress=False)
    assert sha(tmp_path / "a") == sha(tmp_path / "b") != sha(tiny_policy)
    assert a["policy"] == tiny_policy.name and a["config"]["steps"] == 3
    # same tokenizer as the policy: the likelihood ratio compares them token by token
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (tiny_policy / "tokenizer.json").read_bytes()


def test_ensure_trains_once_then_reuses_the_cache(tiny_policy, tmp_path, monkeypatch):
    first = J.ensure_judge("math", tmp_path, policy_dir=tiny_policy, cfg=TINY, progress=False)
    assert first == tmp_path / J.judge_name(TINY, tiny_policy) and (first / "judge.json").exists()
    monkeypatch.setattr(J, "train_judge", lambda *a, **k: pytest.fail("a cached judge must not be retrained"))
    assert J.ensure_judge("math", tmp_path, policy_dir=tiny_policy, cfg=TINY, progress=False) == first
    assert J.find_judge(tiny_policy, "math", tmp_path, cfg=TINY)[1].startswith("reused from cache")


@pytest.mark.parametrize("change", [dict(steps=4), dict(seed=2), dict(n_problems=65)])
def test_the_key_follows_the_recipe(tiny_policy, change):
    from dataclasses import replace

    assert J.judge_name(replace(TINY, **change), tiny_policy) != J.judge_name(TINY, tiny_policy)


# ----------------------------------------------------------------------------- the size curve's judges
@pytest.mark.parametrize("layers,hidden,params_over", [(4, 64, 0.2e6), (4, 256, 3.0e6), (8, 256, 6.0e6)])
def test_sized_judges_are_fresh_models_of_that_shape_with_the_policys_tokenizer(layers, hidden, params_over):
    policy = ensure_policy("math", progress=False)
    cfg = J.sized("math", layers, hidden)
    assert cfg.from_scratch and cfg.size == f"{layers}x{hidden}"
    model = J._fresh_model(cfg, policy)
    c = model.config
    assert (c.num_hidden_layers, c.hidden_size, c.intermediate_size) == (layers, hidden, 3 * hidden)
    assert c.hidden_size // c.num_attention_heads == 32          # head_dim vLLM's CPU attention takes
    assert sum(p.numel() for p in model.parameters()) > params_over
    from transformers import AutoConfig

    pc = AutoConfig.from_pretrained(str(policy))
    assert (c.vocab_size, c.bos_token_id, c.eos_token_id, c.pad_token_id) == (
        pc.vocab_size, pc.bos_token_id, pc.eos_token_id, pc.pad_token_id)
    # its own cache key, never the shipped judge's
    assert J.judge_name(cfg, policy) != J.judge_name(J.RECIPES["math"], policy)


def test_the_shape_fields_leave_the_shipped_judges_key_alone():
    # the key hashes only the shape fields that are set: the shipped judge (shape 0 = the policy's) keeps it
    policy = ensure_policy("math", progress=False)
    assert J.judge_name(J.RECIPES["math"], policy) == "math-8c0c615830672d1d"
    assert not J.RECIPES["math"].from_scratch and J.RECIPES["math"].size == "policy"


@pytest.mark.parametrize("layers,hidden", [(4, 100), (0, 128)])
def test_sized_refuses_shapes_vllm_cannot_run(layers, hidden):
    with pytest.raises(UserError, match="judge size"):
        J.sized("math", layers, hidden)


def test_a_sized_judge_trains_from_scratch(tiny_policy, tmp_path):
    cfg = J.JudgeConfig(n_problems=64, steps=2, batch_size=4, hidden_size=64, num_hidden_layers=1, intermediate_size=96)
    rep = J.train_judge(cfg, tiny_policy, tmp_path / "j", progress=False)
    from transformers import AutoConfig

    c = AutoConfig.from_pretrained(str(tmp_path / "j"))
    assert (c.hidden_size, c.num_hidden_layers) == (64, 1) and rep["size"] == "1x64"
    assert (tmp_path / "j" / "tokenizer.json").read_bytes() == (tiny_policy / "tokenizer.json").read_bytes()
