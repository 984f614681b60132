"""PRM / ORM training: the pure parts (loss, metrics, pairs, features, collator) table-driven, then
tiny-model runs: loss falls and step accuracy rises, soft labels are learned as floats, ORM and
pairwise train, LoRA merges, resume continues, ensembles combine."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import torch
from fixtures_scoring import first_error_records, write_jsonl

from prm.errors import UserError
from prm.records import StepwiseRecord
from prm.train import (IGNORE, Collator, DataStats, TrainConfig, auroc, build_pairs, featurize,
                       make_features, outcome_label, rm_loss, step_metrics, train_ensemble, train_rm)


def rec(labels, **extra):
    return StepwiseRecord(prompt="Q", completions=[f"s{i}" for i in range(len(labels))], labels=labels, extra=extra)


# ----------------------------------------------------------------------------- loss
def test_hard_cross_entropy_equals_bce_on_the_margin():
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 2)
    labels = torch.full((3, 5), IGNORE)
    labels[0, 1], labels[1, 4], labels[2, 0] = 1.0, 0.0, 1.0
    m = labels != IGNORE
    ce = torch.nn.functional.cross_entropy(logits[m], labels[m].long())
    bce = torch.nn.functional.binary_cross_entropy_with_logits((logits[..., 1] - logits[..., 0])[m], labels[m])
    assert torch.allclose(rm_loss(logits, labels, "prm"), ce, atol=1e-6)
    assert torch.allclose(ce, bce, atol=1e-6)


@pytest.mark.parametrize("target", [0.0, 0.25, 0.7, 1.0])
def test_soft_label_loss_is_bce_with_the_float_target(target):
    logits = torch.tensor([[[0.3, -0.2], [0.0, 0.0]]])
    labels = torch.tensor([[target, IGNORE]])
    want = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(-0.5), torch.tensor(target))
    assert torch.allclose(rm_loss(logits, labels, "prm"), want, atol=1e-6)


def test_soft_loss_minimum_is_at_the_soft_target_not_at_a_cast():
    labels = torch.tensor([[0.7]])
    losses = {m: float(rm_loss(torch.tensor([[[0.0, m]]]), labels, "prm")) for m in np.linspace(-3, 3, 61)}
    best = min(losses, key=losses.get)
    assert abs(1 / (1 + math.exp(-best)) - 0.7) < 0.03


def test_pairwise_is_bradley_terry_on_interleaved_rows():
    logits = torch.zeros(4, 3, 2)
    logits[0, 2, 1], logits[1, 1, 1], logits[2, 0, 1], logits[3, 2, 1] = 2.0, 0.5, -1.0, 1.0
    labels = torch.full((4, 3), IGNORE)
    labels[0, 2], labels[1, 1], labels[2, 0], labels[3, 2] = 1, 0, 1, 0
    want = -(torch.nn.functional.logsigmoid(torch.tensor(1.5)) + torch.nn.functional.logsigmoid(torch.tensor(-2.0))) / 2
    assert torch.allclose(rm_loss(logits, labels, "pairwise"), want, atol=1e-6)


def test_batch_without_labels_gives_zero_loss_with_a_graph():
    logits = torch.randn(2, 3, 2, requires_grad=True)
    loss = rm_loss(logits, torch.full((2, 3), IGNORE), "prm")
    loss.backward()
    assert loss.item() == 0.0 and logits.grad is not None


# ----------------------------------------------------------------------------- metrics
def brute_auroc(s, y):
    pos, neg = [a for a, b in zip(s, y) if b], [a for a, b in zip(s, y) if not b]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(5))
def test_auroc_matches_pairwise_count_with_ties(seed):
    rng = random.Random(seed)
    s = [rng.choice([0.1, 0.2, 0.5, 0.9]) for _ in range(40)]
    y = [rng.random() < 0.4 for _ in range(40)]
    assert auroc(np.array(s), np.array(y)) == pytest.approx(brute_auroc(s, y))


def test_auroc_one_class_is_nan():
    assert math.isnan(auroc(np.array([0.1, 0.2]), np.array([True, True])))


def test_step_metrics_reads_only_labeled_positions():
    margins = np.array([[5.0, -5.0, 9.0], [-5.0, 5.0, 9.0]])
    labels = np.array([[1.0, 0.0, IGNORE], [0.0, IGNORE, IGNORE]])
    m = step_metrics(margins, labels, "prm")
    assert m["step_accuracy"] == 1.0 and m["labeled_steps"] == 3 and m["auroc"] == 1.0
    m = step_metrics(np.array([[2.0, 1.0], [3.0, 4.0]]), None, "pairwise")
    assert m == {"pair_accuracy": 0.5, "pairs": 2}


def test_pair_rewards_one_row_per_pair():
    from prm.train.trainer import _pair_rewards

    logits = torch.zeros(4, 3, 2)
    logits[0, 2, 1], logits[1, 1, 1], logits[2, 0, 1], logits[3, 2, 1] = 2.0, 0.5, -1.0, 1.0
    labels = torch.full((4, 3), IGNORE)
    labels[0, 2], labels[1, 1], labels[2, 0], labels[3, 2] = 1, 0, 1, 0
    assert _pair_rewards(logits, labels).tolist() == [[2.0, 0.5], [-1.0, 1.0]]


# ----------------------------------------------------------------------------- labels, pairs, features
@pytest.mark.parametrize("r,want", [
    (rec([True, False]), 0.0),
    (rec([True, True]), 1.0),
    (rec([True, 0.4]), 0.4),
    (rec([True, None]), None),
    (rec([True, None], outcome=True), 1.0),
    (rec([True, True], correct=False), 0.0),
    (rec([]), None),
])
def test_outcome_label(r, want):
    assert outcome_label(r) == want


def test_pairs_stay_within_a_problem_and_are_capped():
    items = [(rec([True], problem_id="a"), 0), (rec([False], problem_id="a"), 1), (rec([False], problem_id="a"), 2),
             (rec([True], problem_id="b"), 3), (rec([True], problem_id="c"), 4), (rec([False], problem_id="c"), 5)]
    stats = DataStats()
    pairs = build_pairs(items, max_per_problem=1, seed=0, stats=stats)
    assert len(pairs) == 2 and stats.problems_without_pair == 1
    assert pairs[0] in [(0, 1), (0, 2)] and pairs[1] == (4, 5)
    assert build_pairs(items, 8, 0) == build_pairs(items, 8, 0)
    assert len(build_pairs(items, 8, 0)) == 3


def test_featurize_keeps_floats_and_skips_unjudged(tiny_lm_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_lm_dir)
    feat, _ = featurize(tok, rec([True, 0.7, None, 0.0]), objective="prm", sep="\n\n", step_tag=None, max_length=512)
    assert sorted(v for v in feat["labels"] if v != IGNORE) == [0.0, 0.7, 1.0]
    assert isinstance([v for v in feat["labels"] if v != IGNORE][0], float)
    assert featurize(tok, rec([None, None]), objective="prm", sep="\n\n", step_tag=None, max_length=512) == (None, "unlabeled")
    feat, _ = featurize(tok, rec([True, False]), objective="orm", sep="\n\n", step_tag=None, max_length=512)
    assert [v for v in feat["labels"] if v != IGNORE] == [0.0]


def test_too_long_sample_is_dropped_and_counted(tiny_lm_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_lm_dir)
    long_steps = StepwiseRecord(prompt="Q", completions=["apples " * 200, "ok"], labels=[True, False])
    long_prompt = StepwiseRecord(prompt="apples " * 200, completions=["ok", "fine"], labels=[True, False])
    cfg = TrainConfig(model="x", train_file="x", output_dir="x", max_length=64, step_tag="none")
    stats = DataStats()
    feats = make_features(tok, [long_steps, long_prompt, rec([True])], cfg, None, stats, progress=False)
    assert stats.dropped_too_long == 1 and stats.used == 2 and len(feats) == 2
    # the long prompt was left-truncated, and both of its labels survived
    assert len(feats[0]["input_ids"]) == 64 and sorted(v for v in feats[0]["labels"] if v != IGNORE) == [0.0, 1.0]


def test_collator_pads_and_interleaves_pairs():
    c = Collator(pad_id=0)
    b = c([{"input_ids": [5, 6, 7], "labels": [IGNORE, IGNORE, 1.0],
            "rejected_input_ids": [5, 8], "rejected_labels": [IGNORE, 0.0]}])
    assert b["input_ids"].tolist() == [[5, 6, 7], [5, 8, 0]]
    assert b["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert b["labels"].tolist() == [[IGNORE, IGNORE, 1.0], [IGNORE, 0.0, IGNORE]]
    assert b["labels"].dtype == torch.float32


def test_bad_record_names_file_and_line(tmp_path, tiny_lm_dir):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"prompt": "Q", "completions": ["a"], "labels": [true]}\n{"prompt": "Q", "completions": ["a"], "labels": [2]}\n')
    with pytest.raises(UserError, match=r"bad.jsonl:2.*labels"):
        train_rm(TrainConfig(model=str(tiny_lm_dir), train_file=str(p), output_dir=str(tmp_path / "o")), progress=False)


def test_missing_model_is_a_user_error(tmp_path):
    p = write_jsonl(tmp_path / "t.jsonl", [rec([True]).to_dict()])
    with pytest.raises(UserError, match="no-such-model"):
        train_rm(TrainConfig(model=str(tmp_path / "no-such-model"), train_file=str(p), output_dir=str(tmp_path / "o")))


# ----------------------------------------------------------------------------- tiny-model runs
def _report(d):
    return json.loads((d / "train_report.json").read_text())


def test_prm_learns_first_error_labels(trained_prm_dir, synth_dir):
    rep = _report(trained_prm_dir)
    losses = [h["loss"] for h in rep["log_history"] if "loss" in h]
    assert np.mean(losses[-3:]) < 0.5 * np.mean(losses[:3])
    eval_recs = [json.loads(line) for line in (synth_dir / "eval.jsonl").read_text().splitlines()]
    flat = [x for r in eval_recs for x in r["labels"]]
    majority = max(np.mean(flat), 1 - np.mean(flat))
    assert rep["eval"]["eval_step_accuracy"] > max(0.9, majority + 0.15)
    assert rep["eval"]["eval_auroc"] > 0.9


def test_saved_dir_is_a_plain_hf_model_with_toolkit_settings(trained_prm_dir):
    from transformers import AutoConfig, AutoModelForTokenClassification

    cfg = AutoConfig.from_pretrained(trained_prm_dir)
    s = cfg.prm_toolkit
    assert s["kind"] == "prm" and s["objective"] == "prm" and s["sep"] == "\n\n" and s["label_index"] == 1
    assert s["step_tag"] == "<|prm_step|>" and isinstance(s["step_tag_id"], int)
    assert len(s["data"]["sha256"]) == 64 and s["data"]["used"] == 300 and s["label_type"] == "hard"
    assert AutoModelForTokenClassification.from_pretrained(trained_prm_dir).config.num_labels == 2
    assert not (trained_prm_dir / "checkpoints").exists()


def test_soft_labels_move_predictions_toward_the_soft_targets(tmp_path, synth_dir):
    """Type-A steps have target 0.8, type-B 0.2. A trainer that casts floats to 0/1 would push
    both to 0 (int(0.8) == 0); BCE on the floats lands near 0.8 and 0.2."""
    from prm.scoring import load_scorer

    rng = random.Random(0)
    A, B = "we add the numbers", "oops a wrong guess"
    rows = []
    for i in range(200):
        steps = [rng.choice([A, B]) for _ in range(3)]
        rows.append({"prompt": f"Problem {i}:", "completions": steps, "labels": [0.8 if s == A else 0.2 for s in steps]})
    p = write_jsonl(tmp_path / "soft.jsonl", rows)
    out = train_rm(TrainConfig(model=str(synth_dir / "lm"), train_file=str(p), output_dir=str(tmp_path / "soft"),
                               learning_rate=3e-3, num_train_epochs=3, per_device_train_batch_size=16,
                               save_steps=1000), progress=False)
    assert json.loads((out / "config.json").read_text())["prm_toolkit"]["label_type"] == "soft"
    with load_scorer(out, backend="transformers") as sc:
        scores = sc.score_batch([(f"Problem {i}:", [A, B, A, B]) for i in range(500, 520)])
    a = np.mean([s[0] for s in scores] + [s[2] for s in scores])
    b = np.mean([s[1] for s in scores] + [s[3] for s in scores])
    # a 0/1 cast would put both near 0; the soft targets are 0.6 apart
    assert abs(a - 0.8) < 0.12 and abs(b - 0.2) < 0.12


@pytest.mark.slow
@pytest.mark.parametrize("objective,metric", [("orm", "eval_step_accuracy"), ("pairwise", "eval_pair_accuracy")])
def test_outcome_and_pairwise_orms_train(tmp_path, synth_dir, objective, metric):
    from prm.scoring import load_scorer

    out = train_rm(TrainConfig(model=str(synth_dir / "lm"), train_file=str(synth_dir / "train.jsonl"),
                               eval_file=str(synth_dir / "eval.jsonl"), output_dir=str(tmp_path / objective),
                               objective=objective, learning_rate=3e-3, num_train_epochs=2,
                               per_device_train_batch_size=16, save_steps=1000), progress=False)
    rep = _report(out)
    assert rep["eval"][metric] > 0.85
    with load_scorer(out, backend="transformers") as sc:
        assert sc.kind == "orm"
        good, bad = sc.score_batch([("Problem 7: add 7 and 8.", ["we add the numbers", "so the total is ten"]),
                                    ("Problem 7: add 7 and 8.", ["oops a wrong guess", "so the total is ten"])])
    assert len(good) == 1 and len(bad) == 1 and good[0] > bad[0]


def test_lora_run_saves_a_merged_model_that_scores_like_the_adapter(tmp_path, synth_dir):
    """The merged save gives the LoRA model's probabilities, and training moved the adapter."""
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    out = train_rm(TrainConfig(model=str(synth_dir / "lm"), train_file=str(synth_dir / "train.jsonl"),
                               output_dir=str(tmp_path / "lora"), lora_r=4, max_steps=4, learning_rate=1e-3,
                               per_device_train_batch_size=8, gradient_checkpointing=True, save_steps=4,
                               keep_checkpoints=True), progress=False)
    assert not (out / "adapter_config.json").exists()  # merged: a plain model, no adapter to resolve
    ckpt = out / "checkpoints" / "checkpoint-4"       # the adapter as the Trainer held it after step 4
    tok = AutoTokenizer.from_pretrained(ckpt)
    base = AutoModelForTokenClassification.from_pretrained(synth_dir / "lm", num_labels=2)
    base.resize_token_embeddings(len(tok))
    lora = PeftModel.from_pretrained(base, ckpt).eval()
    merged = AutoModelForTokenClassification.from_pretrained(out).eval()
    ids = tok(["Problem 1: add 1 and 2.\n\nwe add the numbers\n\noops a wrong guess\n\n",
               "Problem 2: add 2 and 3.\n\nso the total is ten\n\n"], return_tensors="pt", padding=True)
    with torch.no_grad():
        p_lora = lora(**ids).logits.softmax(-1)[..., 1]
        p_merged = merged(**ids).logits.softmax(-1)[..., 1]
    assert float((p_lora - p_merged).abs().max()) < 1e-5
    # LoRA's B matrices start at exactly zero: nonzero ones (and a merged backbone that differs from
    # the causal LM's) mean the 4 steps trained the adapter
    adapter = load_file(str(ckpt / "adapter_model.safetensors"))
    lora_b = [v for k, v in adapter.items() if "lora_B" in k]
    assert lora_b and all(float(v.abs().max()) > 0 for v in lora_b)
    lm, saved = load_file(str(synth_dir / "lm" / "model.safetensors")), load_file(str(out / "model.safetensors"))
    key = next(k for k in saved if k.endswith("self_attn.q_proj.weight"))
    assert float((saved[key] - lm[key]).abs().max()) > 1e-6


@pytest.mark.slow
def test_resume_continues_from_the_last_checkpoint(tmp_path, synth_dir):
    base = dict(model=str(synth_dir / "lm"), train_file=str(synth_dir / "train.jsonl"),
                output_dir=str(tmp_path / "r"), per_device_train_batch_size=8, save_steps=2, logging_steps=1)
    first = _report(train_rm(TrainConfig(**base, max_steps=2, seed=1, keep_checkpoints=True), progress=False))
    assert (tmp_path / "r" / "checkpoints" / "checkpoint-2").is_dir()
    # seed 0 now: a fresh start would initialise the head and order the data differently, so the
    # first two logged losses match the seed-1 run only if steps 1-2 really came from the checkpoint
    rep = _report(train_rm(TrainConfig(**base, max_steps=4), progress=False))
    assert rep["resumed_from"].endswith("checkpoint-2")
    logged = {h["step"]: h["loss"] for h in rep["log_history"] if "loss" in h}
    assert sorted(logged) == [1, 2, 3, 4]
    assert [logged[1], logged[2]] == [h["loss"] for h in first["log_history"] if "loss" in h]
    fresh = _report(train_rm(TrainConfig(**{**base, "output_dir": str(tmp_path / "fresh")}, max_steps=2), progress=False))
    assert [h["loss"] for h in fresh["log_history"] if "loss" in h] != [logged[1], logged[2]]
    # different data in the same output dir: refuse to mix runs
    train_rm(TrainConfig(**base, max_steps=2, keep_checkpoints=True), progress=False)
    other = write_jsonl(tmp_path / "other.jsonl", first_error_records(40, seed=9))
    with pytest.raises(UserError, match="different run"):
        train_rm(TrainConfig(**{**base, "train_file": str(other)}, max_steps=4), progress=False)


@pytest.mark.slow
def test_ensemble_of_seeds_scores_with_min_and_mean(tmp_path, synth_dir):
    from prm.scoring import load_scorer

    cfg = TrainConfig(model=str(synth_dir / "lm"), train_file=str(synth_dir / "train.jsonl"),
                      output_dir=str(tmp_path / "ens"), max_steps=3, per_device_train_batch_size=8)
    dirs = train_ensemble(cfg, seeds=[0, 1], progress=False)
    assert [d.name for d in dirs] == ["seed0", "seed1"]
    item = [("Problem 3:", ["we add the numbers", "oops a wrong guess"])]
    each = []
    for d in dirs:
        with load_scorer(d, backend="transformers") as sc:
            each.append(sc.score_batch(item)[0])
    assert each[0] != each[1]
    with load_scorer(tmp_path / "ens", backend="transformers", ensemble="min") as sc:
        assert sc.score_batch(item)[0] == pytest.approx([min(a, b) for a, b in zip(*each)])
    with load_scorer([str(d) for d in dirs], backend="transformers", ensemble="mean") as sc:
        assert sc.score_batch(item)[0] == pytest.approx([(a + b) / 2 for a, b in zip(*each)])


def test_shards_split_problems_disjointly(tmp_path, synth_dir):
    from prm.train import in_shard

    recs = [StepwiseRecord.from_dict(r) for r in first_error_records(100)]
    for r in recs:
        assert sum(in_shard(r, (k, 3)) for k in range(3)) == 1
    counts = [sum(in_shard(r, (k, 3)) for r in recs) for k in range(3)]
    assert all(c > 10 for c in counts)


def test_cli_train_and_its_user_errors(tmp_path, synth_dir, capsys):
    from prm.cli import main

    base = ["train", "--model", str(synth_dir / "lm"), "--train", str(synth_dir / "train.jsonl"),
            "--out", str(tmp_path / "cli"), "--max-steps", "2", "--batch-size", "4", "--sep", "\\n\\n"]
    assert main(base) == 0
    s = json.loads((tmp_path / "cli" / "config.json").read_text())["prm_toolkit"]
    assert s["sep"] == "\n\n" and s["objective"] == "prm"
    assert main(base + ["--seeds", "a,b"]) == 2
    assert main([*base[:-2], "--max-length", "4"]) == 2
    err = capsys.readouterr().err
    assert "--seeds" in err and "max_length" in err
