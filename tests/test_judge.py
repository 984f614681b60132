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


def test_the_shipped_policy_has_its_shipped_judge(monkeypatch):
    # fails when the recipe (JudgeConfig, JUDGE_VERSION, training texts) changes and the shipped copy goes stale
    monkeypatch.setattr(J, "train_judge", lambda *a, **k: pytest.fail("the shipped judge must not be retrained"))
    policy = ensure_policy("math", progress=False)
    path, note = J.find_judge(policy, "math")
    assert path is not None, note
    assert path.parent.name == "judge" and path.name == J.judge_name(J.RECIPES["math"], policy)
    assert note.startswith("shipped judge/math-")
    assert J.ensure_judge("math", policy_dir=policy, progress=False) == path


def test_no_judge_recipe_for_code(tmp_path):
    path, note = J.find_judge(tmp_path, "code")
    assert path is None and "no judge recipe for 'code'" in note
    with pytest.raises(UserError, match="no judge recipe"):
        J.ensure_judge("code", policy_dir=tmp_path)


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
