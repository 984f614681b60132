"""The learned pair (prm/learned.py): shipped beside the policy it was trained against, found by that
policy only, refused when a file is damaged, and loadable wherever the package lives (its reference is
written relative to the copy). Built on two micro implicit models in a temporary assets folder; the
real shipped pair is checked at the end (skipped where the assets are absent)."""

import json
import shutil

import pytest

from prm import shipped
from prm.errors import UserError
from prm.learned import asset_name, find_pair, ship


def _fake_model(d, labels, ref):
    d.mkdir(parents=True)
    for f in ("generation_config.json", "tokenizer.json", "tokenizer_config.json"):
        (d / f).write_text("{}")
    (d / "model.safetensors").write_bytes(b"weights of " + labels.encode())
    (d / "config.json").write_text(json.dumps({"prm_toolkit": {"objective": "implicit", "implicit_labels": labels,
                                                               "ref_model": str(ref), "kind": "prm", "sep": "\n\n"}}))
    return d


@pytest.fixture
def assets(tmp_path):
    root = tmp_path / "assets"
    policy = root / "policy" / "math-0123456789abcdef"
    policy.mkdir(parents=True)
    trained = tmp_path / "runs"
    step = _fake_model(trained / "step", "step", policy)
    outcome = _fake_model(trained / "outcome", "outcome", policy)
    return root, policy, step, outcome


def test_shipped_pair_is_found_by_its_policy_with_a_relative_reference(assets):
    root, policy, step, outcome = assets
    names = ship(step, outcome, root)
    assert names == ["learned/math-step-0123456789abcdef", "learned/math-outcome-0123456789abcdef"]
    found, note = find_pair(policy, "math", root)
    assert set(found) == {"lprm", "lorm"} and "shipped learned/math-step-" in note
    cfg = json.loads((found["lprm"] / "config.json").read_text())["prm_toolkit"]
    assert cfg["ref_model"] == "../../policy/math-0123456789abcdef"
    assert (found["lprm"] / cfg["ref_model"]).resolve() == policy.resolve()
    # another policy (another key) or another domain has no pair
    other = root / "policy" / "math-ffffffffffffffff"
    assert find_pair(other, "math", root)[0] is None
    assert find_pair(policy, "code", root)[0] is None


@pytest.mark.parametrize("damage", ["edit", "remove"])
def test_a_damaged_shipped_file_is_refused(assets, damage):
    root, policy, step, outcome = assets
    ship(step, outcome, root)
    target = root / "learned" / "math-outcome-0123456789abcdef" / "model.safetensors"
    target.write_bytes(b"edited") if damage == "edit" else target.unlink()
    found, note = find_pair(policy, "math", root)
    assert found is None and "math-outcome" in note


@pytest.mark.parametrize("field,value", [("objective", "prm"), ("implicit_labels", "outcome")])
def test_ship_refuses_a_model_that_is_not_the_pair(assets, field, value):
    root, policy, step, outcome = assets
    cfg = json.loads((step / "config.json").read_text())
    cfg["prm_toolkit"][field] = value
    (step / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="config.json"):
        ship(step, outcome, root)
    assert not (root / "learned").exists() or not any((root / "learned").iterdir())


def test_ship_refuses_to_overwrite(assets):
    root, policy, step, outcome = assets
    ship(step, outcome, root)
    with pytest.raises(UserError, match="exists"):
        ship(step, outcome, root)


def test_the_real_pair_loads_from_a_copy_of_the_assets_elsewhere(tmp_path):
    """The shipped math pair scores from a copy of prm/assets in another folder: the reference is found
    beside the copy and checked by its sha256, so a copied package works and a swapped policy does not."""
    from prm.scoring import load_scorer

    found, note = find_pair(shipped.ROOT / "policy" / _math_policy_name(), "math")
    if found is None:
        pytest.skip(f"no shipped learned pair: {note}")
    copy = tmp_path / "assets"
    for name in ("learned", "policy"):
        shutil.copytree(shipped.ROOT / name, copy / name)
    lprm = copy / "learned" / found["lprm"].name
    scorer = load_scorer(str(lprm))
    assert scorer.ref_dir.startswith(str(copy))
    q = "A shop has 12 apples. It sells 8 apples. How many apples does the shop have now?"
    right = scorer.score(q, ["It sells 8 apples, so 12 - 8 = 4.", "The answer is 4."])
    wrong = scorer.score(q, ["It sells 8 apples, so 12 - 8 = 5.", "The answer is 5."])
    assert min(right) > min(wrong)      # a false step scores lower than the true one
    scorer.close()
    # swap the policy for another model's weights: refused by the reference's sha256
    ref = copy / "policy" / _math_policy_name() / "model.safetensors"
    ref.write_bytes(ref.read_bytes()[:-8] + b"\x00" * 8)
    with pytest.raises(UserError, match="sha256"):
        load_scorer(str(lprm))


def _math_policy_name() -> str:
    names = sorted(m.split("/", 1)[1] for m in shipped.manifest() if m.startswith("policy/math-")
                   and "-quick-" not in m)
    return names[0] if names else "math-none"
