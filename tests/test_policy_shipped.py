"""Shipped policies: a fresh clone trains nothing, a changed recipe never runs on the shipped weights,
a damaged copy is not loaded, and `prm policy train` rebuilds and compares with the shipped copy.

The mechanism is tested on a micro recipe shipped into a temporary assets folder; the real shipped
policies are checked for what a fresh clone needs (their names match the current recipe, their files
match SHA256SUMS, git and the package data keep them), never retrained.
"""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import prm.policy as policy
from prm import shipped
from prm.cli import main
from prm.eval.manifest import sha256_file
from prm.policy import (PRESETS, PolicyConfig, compare_with_shipped, ensure_policy, find_policy, policy_name,
                        rebuild_policy, resolve_policy)

ROOT = Path(__file__).resolve().parents[1]
MICRO = PolicyConfig(domain="math", n_problems=40, steps=3, batch_size=4, hidden_size=32, intermediate_size=64,
                     num_hidden_layers=1, num_attention_heads=1, num_key_value_heads=1, vocab_size=300)


def no_training(*a, **k):
    pytest.fail("trained a policy that is shipped")


def fake_training(cfg, out, **k):
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "policy.json").write_text('{"fake": true}\n')
    return {}


# ----------------------------------------------------------------------------- the real shipped policies
@pytest.mark.parametrize("domain,quick", sorted(PRESETS))
def test_fresh_clone_uses_the_shipped_policy_without_training(tmp_path, monkeypatch, capsys, domain, quick):
    monkeypatch.setattr(policy, "train_policy", no_training)
    path, note, given = resolve_policy(domain, None, tmp_path, quick=quick)
    assert path == shipped.ROOT / "policy" / policy_name(PRESETS[(domain, quick)], quick) and not given
    digest = sha256_file(path / "model.safetensors")
    assert note == f"shipped policy/{path.name} (model.safetensors sha256 {digest})"  # what the demo records
    assert ensure_policy(domain, tmp_path, quick=quick) == path and list(tmp_path.iterdir()) == []
    assert capsys.readouterr().err == ""


def test_every_shipped_file_is_summed_packaged_and_tracked():
    files = sorted(str(p.relative_to(shipped.ROOT)) for p in shipped.ROOT.rglob("*") if p.is_file())
    summed = sorted(f"{model}/{name}" for model, names in shipped.manifest().items() for name in names)
    assert summed and summed == [f for f in files if f != shipped.SUMS]
    if sys.version_info >= (3, 11):
        import tomllib

        patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["prm"]
        for f in files:
            assert any(fnmatch.fnmatch(f"assets/{f}", pat) for pat in patterns), f"{f} is not package data"
    if shutil.which("git") and (ROOT / ".git").exists():  # a clone: .gitignore must not drop them
        ignored = subprocess.run(["git", "check-ignore", *[str(shipped.ROOT / f) for f in files]], cwd=ROOT,
                                 capture_output=True, text=True)
        assert ignored.stdout == "", f"git ignores shipped files: {ignored.stdout}"


# ----------------------------------------------------------------------------- the mechanism, on a micro recipe
@pytest.fixture
def micro_shipped(tmp_path, monkeypatch):
    """MICRO trained once and shipped in a temporary assets folder (with its SHA256SUMS)."""
    built = ensure_policy("math", tmp_path / "build", cfg=MICRO, progress=False)
    assets = tmp_path / "assets"
    shutil.copytree(built, assets / "policy" / built.name)
    _write_sums(assets)
    monkeypatch.setattr(shipped, "ROOT", assets)
    return assets / "policy" / built.name


def _write_sums(assets: Path):
    lines = [f"{sha256_file(p)}  {p.relative_to(assets)}" for p in sorted(assets.rglob("*"))
             if p.is_file() and p.name != shipped.SUMS]
    (assets / shipped.SUMS).write_text("\n".join(lines) + "\n")


def test_shipped_copy_used_when_the_key_matches(micro_shipped, tmp_path, monkeypatch):
    monkeypatch.setattr(policy, "train_policy", no_training)
    cache = tmp_path / "empty-cache"
    assert ensure_policy("math", cache, cfg=MICRO) == micro_shipped
    assert find_policy("math", cache, cfg=MICRO)[0] == micro_shipped and not cache.exists()


def test_changed_recipe_trains_and_says_why(micro_shipped, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(policy, "train_policy", fake_training)
    changed = replace(MICRO, steps=4)
    path = ensure_policy("math", tmp_path / "cache", cfg=changed)
    assert path == tmp_path / "cache" / policy_name(changed) and path != micro_shipped
    err = capsys.readouterr().err
    assert f"none shipped is policy/{policy_name(changed)} (shipped: {micro_shipped.name})" in err
    assert "the key hashes the config, the training texts and POLICY_VERSION" in err


def test_damaged_shipped_copy_is_not_loaded(micro_shipped, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(policy, "train_policy", fake_training)
    with open(micro_shipped / "model.safetensors", "r+b") as fh:
        fh.seek(-1, 2)
        last = fh.read(1)
        fh.seek(-1, 2)
        fh.write(bytes([last[0] ^ 1]))
    assert ensure_policy("math", tmp_path / "cache", cfg=MICRO) == tmp_path / "cache" / micro_shipped.name
    assert "model.safetensors does not match its sha256 in SHA256SUMS" in capsys.readouterr().err


def test_rebuild_trains_from_scratch_and_compares(micro_shipped, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    rebuilt = rebuild_policy("math", cache, cfg=MICRO, progress=False)
    assert rebuilt == cache / micro_shipped.name  # the cache, never the shipped folder
    same = compare_with_shipped(rebuilt, "math", cfg=MICRO)
    assert same["identical"] and same["sha256"]["rebuilt"] == same["sha256"]["shipped"]  # deterministic on CPU
    # shipped weights that differ (another machine's build): both accuracies, same held-out problems
    (micro_shipped / "model.safetensors").write_bytes(b"other weights")
    _write_sums(micro_shipped.parents[1])
    seen = []

    def fake_eval(path, domain, **k):
        seen.append((Path(path), k))
        return {"accuracy": 0.5 if Path(path) == rebuilt else 0.25}

    monkeypatch.setattr(policy, "evaluate_policy", fake_eval)
    diff = compare_with_shipped(rebuilt, "math", cfg=MICRO, n_problems=7, n=2)
    assert not diff["identical"] and diff["accuracy"] == {"rebuilt": 0.5, "shipped": 0.25}
    assert [p for p, _ in seen] == [rebuilt, micro_shipped] and all(k == {"n_problems": 7, "n": 2} for _, k in seen)


def test_cli_policy_train_rebuilds_and_reports(micro_shipped, tmp_path, monkeypatch, capsys):
    import torch

    monkeypatch.setitem(PRESETS, ("math", False), MICRO)
    # the CLI picks torch threads by the machine's load (prm/threads.py), and another thread count sums
    # in another order: pin it to the count the fixture built the shipped copy with, so "identical"
    # tests the rebuild and not how busy the machine was (it failed beside a busy neighbour)
    monkeypatch.setenv("PRM_THREADS", str(torch.get_num_threads()))
    assert main(["policy", "info", "--domain", "math", "--cache-dir", str(tmp_path / "c")]) == 0
    assert f"policy: shipped policy/{micro_shipped.name}" in capsys.readouterr().out
    assert main(["policy", "train", "--domain", "math", "--cache-dir", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert f"rebuilt from scratch: {tmp_path / 'c' / micro_shipped.name}" in out
    assert f"compared with the shipped copy: identical (model.safetensors sha256 " \
           f"{sha256_file(micro_shipped / 'model.safetensors')})" in out
