"""The scorer (transformers backend): round trip from training, the prefix property, batching,
truncation, ORM shape, ensembles and config errors. vLLM agreement is in test_scoring_vllm.py."""

from __future__ import annotations

import json
import math

import pytest
from fakes import table_scorer
from fixtures_scoring import first_error_records

from prm.errors import UserError
from prm.scoring import EnsembleScorer, load_scorer, p_correct, pick_backend, read_settings

EVAL = first_error_records(40, seed=7)


@pytest.fixture(scope="module")
def hf(trained_prm_dir):
    with load_scorer(trained_prm_dir, backend="transformers") as sc:
        yield sc


def test_reads_everything_from_the_saved_config(hf):
    assert (hf.kind, hf.sep, hf.step_tag, hf.backend) == ("prm", "\n\n", "<|prm_step|>", "transformers")


def test_round_trip_scores_predict_the_labels(hf):
    scores = hf.score_batch([(r["prompt"], r["completions"]) for r in EVAL])
    pairs = [(s, y) for sc, r in zip(scores, EVAL) for s, y in zip(sc, r["labels"])]
    assert all(len(sc) == len(r["completions"]) for sc, r in zip(scores, EVAL))
    assert all(0.0 <= s <= 1.0 for s, _ in pairs)
    assert sum((s >= 0.5) == y for s, y in pairs) / len(pairs) > 0.9


def test_prefix_scores_equal_the_first_k_of_the_whole(hf):
    for r in EVAL[:15]:
        whole = hf.score(r["prompt"], r["completions"])
        for k in range(1, len(r["completions"]) + 1):
            assert hf.score(r["prompt"], r["completions"][:k]) == pytest.approx(whole[:k], abs=1e-5)


def test_batch_equals_one_by_one(hf):
    items = [(r["prompt"], r["completions"]) for r in EVAL[:12]]
    batch = hf.score_batch(items)
    for item, got in zip(items, batch):
        assert hf.score(*item) == pytest.approx(got, abs=1e-5)


def test_batching_limits_do_not_change_scores(trained_prm_dir, hf):
    items = [(r["prompt"], r["completions"]) for r in EVAL[:12]]
    with load_scorer(trained_prm_dir, backend="transformers", max_batch_size=3, max_batch_tokens=64) as small:
        for a, b in zip(small.score_batch(items), hf.score_batch(items)):
            assert a == pytest.approx(b, abs=1e-5)


@pytest.mark.parametrize("steps", [[], ["", "  "], ["\n\n\n\n"], ["<|prm_step|>", "x"], ["\u00e9\u4e2d" * 5]])
def test_adversarial_steps_give_one_finite_score_each(hf, steps):
    got = hf.score("Problem 1:", steps)
    assert len(got) == len(steps) and all(0.0 <= s <= 1.0 for s in got)


def test_too_long_scores_nan_past_the_window_and_counts(trained_prm_dir):
    with load_scorer(trained_prm_dir, backend="transformers", max_length=40) as sc:
        steps = ["we add the numbers"] * 30
        with pytest.warns(UserWarning, match="max_length"):
            got = sc.score("Problem 1: " + "add " * 50, steps)
        assert len(got) == 30
        finite = [s for s in got if not math.isnan(s)]
        assert 0 < len(finite) < 30 and all(math.isnan(s) for s in got[len(finite):])
        assert sc.stats["truncated_steps"] == 30 - len(finite)
        # a long prompt alone is left-truncated: every step still scored
        assert not any(math.isnan(s) for s in sc.score("Problem 1: " + "add " * 50, steps[:2]))


def test_p_correct_is_a_stable_softmax():
    assert p_correct(0.0, 0.0) == 0.5
    assert p_correct(-1000.0, 1000.0) == 1.0 and p_correct(1000.0, -1000.0) == 0.0
    assert p_correct(0.3, 1.1) == pytest.approx(math.exp(1.1) / (math.exp(0.3) + math.exp(1.1)))


@pytest.mark.parametrize("how,want", [("min", [0.2, 0.5]), ("mean", [0.5, 0.6])])
def test_ensemble_combines_per_step(how, want):
    ens = EnsembleScorer([table_scorer({"q": [0.8, 0.5]}), table_scorer({"q": [0.2, 0.7]})], how)
    assert ens.score("q", ["a", "b"]) == pytest.approx(want)


def test_ensemble_refuses_mixed_members():
    with pytest.raises(UserError, match="disagree"):
        EnsembleScorer([table_scorer({}, kind="prm"), table_scorer({}, kind="orm")])
    with pytest.raises(UserError, match="ensemble must be"):
        EnsembleScorer([table_scorer({})], "median")


def test_config_errors_name_the_file(tmp_path):
    with pytest.raises(UserError, match="config.json: no such file"):
        read_settings(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    with pytest.raises(UserError, match="prm_toolkit"):
        load_scorer(tmp_path)
    with pytest.raises(UserError, match="backend must be"):
        pick_backend("tpu")


@pytest.mark.parametrize("backend, setting, match", [
    ("transformers", {"gpu_memory_utilization": 0.5}, "transformers scorer backend does not take gpu_memory_util"),
    ("transformers", {"seed": 1, "enforce_eager": True}, "does not take enforce_eager, seed"),
    ("vllm", {"device": "cpu"}, "vllm scorer backend does not take device"),
    ("vllm", {"max_batch_size": 8}, "does not take max_batch_size; it takes max_length, dtype"),
])
def test_load_scorer_refuses_a_setting_the_backend_does_not_take(tmp_path, backend, setting, match):
    # a valid config is enough: the setting is refused before any weights (or vLLM) load
    (tmp_path / "config.json").write_text(json.dumps({"prm_toolkit": {"kind": "prm", "sep": "\n\n"}}))
    with pytest.raises(UserError, match=match):
        load_scorer(tmp_path, backend=backend, **setting)


def test_cli_score_writes_scores(trained_prm_dir, tmp_path):
    from prm.cli import main

    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in EVAL[:5]))
    out = tmp_path / "out.jsonl"
    assert main(["score", "--model", str(trained_prm_dir), "--input", str(inp), "--out", str(out),
                 "--backend", "transformers"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 5 and all(len(r["scores"]) == len(r["completions"]) for r in rows)
    assert rows[0]["labels"] == EVAL[0]["labels"]          # input columns kept


def test_cli_score_bad_input_is_one_line_error(trained_prm_dir, tmp_path, capsys):
    from prm.cli import main

    inp = tmp_path / "in.jsonl"
    inp.write_text('{"prompt": "Q", "completions": ["a"]}\n{"prompt": 3, "completions": ["a"]}\n')
    assert main(["score", "--model", str(trained_prm_dir), "--input", str(inp), "--out",
                 str(tmp_path / "o.jsonl"), "--backend", "transformers"]) == 2
    err = capsys.readouterr().err
    assert "in.jsonl:2" in err and "prompt" in err and not (tmp_path / "o.jsonl").exists()
