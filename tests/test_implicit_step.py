"""Process supervision in the implicit parametrization (`prm train --objective implicit
--implicit-labels step`): each labelled step prefix's cumulative reward q_t meets that prefix's label.
Positions, the loss against a hand computation, the reference sums, a short run that learns which
step is wrong, and the CLI. Tiny models built here (fixtures from test_implicit_prm)."""

from __future__ import annotations

import json
import math

import pytest

from prm.records import StepwiseRecord
from prm.scoring.logratio import encode_completion, sigmoid
from tests.test_implicit_prm import SEP, lms, tok, toy_records, write_jsonl  # noqa: F401 (fixtures)


@pytest.mark.parametrize("step_of,n,want", [
    ([0, 0, 1, 1, 2], 3, [1, 3, 4]),
    ([0, 2, 2], 3, [0, 0, 2]),          # step 1 has no token of its own: it ends where step 0 did
    ([1, 1], 3, [None, 1, 1]),          # no token before step 1: step 0 has no prefix to read
    ([], 2, [None, None]),
])
def test_step_ends(step_of, n, want):
    from prm.train.implicit import step_ends

    assert step_ends(step_of, n) == want


@pytest.mark.parametrize("labels,want_steps", [
    ([True, False, False], [0, 1, 2]),
    ([None, True, None], [1]),          # unjudged steps carry no loss
    ([True, 0.25, 0.0], [0, 1, 2]),     # soft labels stay floats
])
def test_step_features_sit_on_each_labelled_steps_last_token(tok, labels, want_steps):
    from prm.train.implicit import featurize_implicit

    steps = ["we add the numbers", "so the total is ten", "The answer is 3."]
    rec = StepwiseRecord(prompt="Add 1 and 2.", completions=steps, labels=labels)
    feat, why = featurize_implicit(tok, rec, sep=SEP, max_length=512, labels="step")
    assert why == "ok"
    seq = encode_completion(tok, rec.prompt, steps, SEP)
    last = {k: j for j, k in enumerate(seq.step_of)}
    assert feat["step_pos"] == [seq.prompt_len - 1 + last[k] for k in want_steps]
    assert feat["labels"] == [float(labels[k]) for k in want_steps]
    # the token at step_pos + 1 is the step's last token, and the next one (if any) opens the next step
    for k, p in zip(want_steps, feat["step_pos"]):
        j = p + 1 - seq.prompt_len
        assert seq.step_of[j] == k and (j + 1 == len(seq.step_of) or seq.step_of[j + 1] == k + 1)


def test_a_record_without_a_labelled_step_is_unlabeled(tok):
    from prm.train.implicit import featurize_implicit

    rec = StepwiseRecord(prompt="Add 1 and 2.", completions=["a", "b"], labels=[None, None])
    assert featurize_implicit(tok, rec, sep=SEP, max_length=512, labels="step") == (None, "unlabeled")
    # the outcome reading of the same record has no outcome either
    assert featurize_implicit(tok, rec, sep=SEP, max_length=512, labels="outcome") == (None, "unlabeled")


def test_step_loss_equals_a_hand_computation():
    import torch

    from prm.train.implicit import implicit_loss

    # one row, 4 positions, vocab 2; completion = positions 1..3; steps end at positions 2 and 3
    logits = torch.tensor([[[0.0, 1.0], [2.0, 0.0], [0.0, 0.5], [1.0, 1.0]]])
    ids = torch.tensor([[0, 1, 0, 1]])
    mask = torch.tensor([[0.0, 1.0, 1.0, 1.0]])
    step_pos = torch.tensor([[1, 2]])          # token_logprobs index of positions 2 and 3
    ref = torch.tensor([[-1.0, -2.0]])
    y = torch.tensor([[1.0, 0.0]])
    beta = 0.5

    def logp(pos):
        a, b = logits[0, pos - 1].tolist()
        return (a if ids[0, pos] == 0 else b) - math.log(math.exp(a) + math.exp(b))

    q1 = beta * (logp(1) + logp(2) - (-1.0))
    q2 = beta * (logp(1) + logp(2) + logp(3) - (-2.0))
    want = -(math.log(sigmoid(q1)) + math.log(1 - sigmoid(q2))) / 2
    loss, q = implicit_loss(logits, ids, mask, ref, y, beta, step_pos)
    assert q.tolist()[0] == pytest.approx([q1, q2], abs=1e-6)
    assert loss.item() == pytest.approx(want, abs=1e-6)
    # a padded step (-100) changes nothing
    loss2, _ = implicit_loss(logits, ids, mask, torch.tensor([[-1.0, -2.0, 0.0]]), torch.tensor([[1.0, 0.0, -100.0]]),
                             beta, torch.tensor([[1, 2, 0]]))
    assert loss2.item() == pytest.approx(want, abs=1e-6)


def test_step_collator_pads_steps():
    from prm.train.implicit import ImplicitCollator

    b = ImplicitCollator(pad_id=9)([
        {"input_ids": [1, 2, 3, 4], "prompt_len": 2, "step_pos": [1, 2], "labels": [1.0, 0.0], "ref_logp": [-1.0, -2.5]},
        {"input_ids": [5, 6], "prompt_len": 1, "step_pos": [0], "labels": [1.0], "ref_logp": [-0.5]}])
    assert b["step_pos"].tolist() == [[1, 2], [0, 0]]
    assert b["labels"].tolist() == [[1.0, 0.0], [1.0, -100.0]]
    assert b["ref_logp"].tolist() == [[-1.0, -2.5], [-0.5, 0.0]]


def test_reference_prefix_sums_are_the_models_own_logprobs(lms, tok):
    import torch
    from transformers import AutoModelForCausalLM

    from prm.train.implicit import featurize_implicit, reference_logprobs

    ref = AutoModelForCausalLM.from_pretrained(str(lms / "policy"), dtype=torch.float32).eval()
    recs = [StepwiseRecord(prompt=r["prompt"], completions=r["completions"], labels=r["labels"])
            for r in toy_records(3)]
    feats = [featurize_implicit(tok, r, sep=SEP, max_length=512, labels="step")[0] for r in recs]
    got = reference_logprobs(ref, feats, tok.pad_token_id, batch_size=2)
    for f, g in zip(feats, got):
        with torch.no_grad():
            lp = torch.log_softmax(ref(input_ids=torch.tensor([f["input_ids"]])).logits[0], -1)
        per_token = [lp[i - 1, f["input_ids"][i]].item() for i in range(f["prompt_len"], len(f["input_ids"]))]
        want = [sum(per_token[:p + 2 - f["prompt_len"]]) for p in f["step_pos"]]
        assert g == pytest.approx(want, abs=1e-4)


@pytest.fixture(scope="module")
def trained_step(lms, tmp_path_factory):
    """Toy records whose middle step is BAD in odd samples; step labels say so (first error at step 1)."""
    from prm.train import TrainConfig, train_rm

    d = tmp_path_factory.mktemp("implicit_step")
    recs = toy_records(64)
    for r in recs:
        r["labels"] = [True, True, True] if r["outcome"] else [True, False, False]
    write_jsonl(d / "train.jsonl", recs)
    out = train_rm(TrainConfig(model=str(lms / "policy"), train_file=str(d / "train.jsonl"), output_dir=str(d / "m"),
                               objective="implicit", implicit_labels="step", beta=0.5, learning_rate=3e-3,
                               num_train_epochs=3, per_device_train_batch_size=16, logging_steps=1, save_steps=1000),
                   progress=False)
    return out, recs


def test_step_training_starts_at_log2_and_learns_which_step_is_wrong(trained_step):
    from prm.scoring import load_scorer

    out, recs = trained_step
    rep = json.loads((out / "train_report.json").read_text())
    losses = [h["loss"] for h in rep["log_history"] if "loss" in h]
    assert losses[0] == pytest.approx(math.log(2), abs=1e-3)   # model == reference: q = 0 everywhere
    assert losses[-1] < 0.5 * losses[0]
    s = json.loads((out / "config.json").read_text())["prm_toolkit"]
    assert (s["objective"], s["implicit_labels"], s["step_score"]) == ("implicit", "step", "q")
    sc = load_scorer(str(out))
    scores = sc.score_batch([(r["prompt"], r["completions"]) for r in recs[:16]])
    good = [x for r, x in zip(recs[:16], scores) if r["outcome"]]
    bad = [x for r, x in zip(recs[:16], scores) if not r["outcome"]]
    # the first step is the same kind in both: its value is high in both; step 1 separates them
    assert min(x[0] for x in good + bad) > 0.5
    assert min(x[1] for x in good) > max(x[1] for x in bad)


def test_cli_implicit_labels(lms, tmp_path):
    from prm.cli import main

    recs = toy_records(16)
    write_jsonl(tmp_path / "t.jsonl", recs)
    assert main(["train", "--objective", "implicit", "--implicit-labels", "step", "--model", str(lms / "policy"),
                 "--train", str(tmp_path / "t.jsonl"), "--out", str(tmp_path / "m"), "--max-steps", "2",
                 "--batch-size", "8"]) == 0
    assert json.loads((tmp_path / "m" / "config.json").read_text())["prm_toolkit"]["implicit_labels"] == "step"
    # step labels belong to the implicit objective only: the token-classification PRM reads step labels anyway
    assert main(["train", "--objective", "prm", "--implicit-labels", "step", "--model", str(lms / "policy"),
                 "--train", str(tmp_path / "t.jsonl"), "--out", str(tmp_path / "x")]) == 2


def test_scorers_with_one_reference_share_its_logprobs(lms, tmp_path, monkeypatch):
    """The reference's log-probabilities are computed once per sequence for every scorer against it
    (the demo scores one pool with three), and the scores are the ones computed without sharing."""
    from prm.scoring import implicit as I

    recs = toy_records(6)
    items = [(r["prompt"], r["completions"]) for r in recs]
    I._REF_CACHE.clear()
    a = I.ImplicitScorer(str(lms / "other"), str(lms / "policy"), beta=0.5, sep=SEP)
    calls = []
    real = I.ImplicitScorer._logprobs

    def counting(self, model, ids):
        calls.append((model is self.ref, len(ids)))
        return real(self, model, ids)

    monkeypatch.setattr(I.ImplicitScorer, "_logprobs", counting)
    first = a.score_batch(items)
    b = I.ImplicitScorer(str(lms / "other"), str(lms / "policy"), beta=0.5, sep=SEP, step_score="r")
    second = b.score_batch(items)
    assert [c for c in calls if c[0]] == [(True, 6)]          # the reference ran once, for all six
    I._REF_CACHE.clear()
    assert b.score_batch(items) == second and a.score_batch(items) == first   # same numbers without the cache
    assert [c for c in calls if c[0]] == [(True, 6), (True, 6)]
    # another reference is another cache entry
    I.ImplicitScorer(str(lms / "policy"), str(lms / "other"), beta=0.5, sep=SEP).score_batch(items)
    assert len(I._REF_CACHE) == 2


def test_implicit_resume_skips_a_half_written_checkpoint(lms, tmp_path, capsys):
    """The implicit objective resumes like the others: a checkpoint cut mid-write (here its
    optimizer.pt truncated, as a SIGKILL during the save leaves it) is named, removed and never loaded."""
    from prm.train import TrainConfig, train_rm

    write_jsonl(tmp_path / "t.jsonl", toy_records(32))
    cfg = TrainConfig(model=str(lms / "policy"), train_file=str(tmp_path / "t.jsonl"), output_dir=str(tmp_path / "m"),
                      objective="implicit", implicit_labels="step", beta=0.5, learning_rate=1e-3, max_steps=4,
                      per_device_train_batch_size=8, save_steps=2, save_total_limit=5, keep_checkpoints=True,
                      logging_steps=1)
    train_rm(cfg, progress=False)
    ckpts = tmp_path / "m" / "checkpoints"
    opt = ckpts / "checkpoint-4" / "optimizer.pt"
    opt.write_bytes(opt.read_bytes()[: opt.stat().st_size // 2])
    (tmp_path / "m" / "config.json").unlink()              # the run "died" before its final save
    capsys.readouterr()
    train_rm(cfg, progress=False)
    err = capsys.readouterr().err
    assert "checkpoint-4" in err and "incomplete" in err and "checkpoint-2" in err
    assert (tmp_path / "m" / "config.json").exists()
    rep = json.loads((tmp_path / "m" / "train_report.json").read_text())
    assert rep["resumed_from"].endswith("checkpoint-2")
