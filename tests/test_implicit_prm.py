"""The implicit PRM (Yuan et al. 2024): the sequence it scores (the policy's own layout), the loss
against a hand computation, a short run that learns a separable outcome, step scores equal to log
ratios computed directly, the reference check, the zero-training likelihood-ratio scorer, and
`prm train --objective implicit` + `prm score` through the CLI. Tiny models, built here."""

from __future__ import annotations

import json
import math
import random
import shutil

import pytest

from prm.errors import UserError
from prm.sampler import build_prompt
from prm.scoring.logratio import (RatioSequence, encode_completion, fit, step_sums, sigmoid, truncate_prompt)

SEP = "\n\n"
GOOD = ["we add the numbers", "so the total is ten", "check the sum again"]
BAD = ["oops a wrong guess", "we skip a digit badly"]


def toy_records(n: int, seed: int = 0) -> list[dict]:
    """Separable outcomes: a sample is correct iff its middle step is a GOOD phrase."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ok = i % 2 == 0
        steps = [rng.choice(GOOD), rng.choice(GOOD if ok else BAD), f"The answer is {i}."]
        out.append({"prompt": f"Add {i} and {i + 1}.", "completions": steps, "labels": [True, ok, ok],
                    "outcome": ok, "problem_id": str(i // 2)})
    return out


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _texts(recs):
    return [build_prompt(None, r["prompt"]) + SEP.join(r["completions"]) for r in recs]


def _save_lm(tok, out, seed):
    import torch
    from transformers import AutoModelForCausalLM

    from prm.tiny import TinyConfig, llama_config

    torch.manual_seed(seed)
    cfg = TinyConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                     num_key_value_heads=1)
    AutoModelForCausalLM.from_config(llama_config(tok, cfg)).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def lms(tmp_path_factory):
    """Two tiny causal LMs ("policy", "other") on one tokenizer that isolates newlines (as the tiny
    policy's does), a third ("alien") on another tokenizer, and the toy train file."""
    from prm.tiny import build_tokenizer

    d = tmp_path_factory.mktemp("implicit")
    recs = toy_records(64)
    tok = build_tokenizer(_texts(recs), 300, individual_digits=True, isolate_newlines=True)
    _save_lm(tok, d / "policy", 0)
    _save_lm(tok, d / "other", 1)
    _save_lm(build_tokenizer(_texts(recs), 280), d / "alien", 2)
    write_jsonl(d / "train.jsonl", recs)
    return d


@pytest.fixture(scope="module")
def tok(lms):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(lms / "policy")


@pytest.fixture(scope="module")
def merging_tok():
    """Merges across whitespace: a token may start in a separator and end inside the next step."""
    from prm.tiny import build_tokenizer

    return build_tokenizer(_texts(toy_records(64)), 400, regex_pretokenize=False)


# ----------------------------------------------------------------------------- the sequence
CASES = [
    ("Add 2 and 3.", ["we add the numbers", "so the total is ten", "The answer is 5."]),
    ("Add 7 and 8.", ["oops a wrong guess"]),
    ("Add 1 and 1.", ["a", "", "b"]),
    ("Q?", ["x\n\ny", "z"]),
]


@pytest.mark.parametrize("question,steps", CASES)
def test_ids_are_what_the_policy_was_trained_and_sampled_on(tok, question, steps):
    from prm.policy import encode_pairs

    seq = encode_completion(tok, question, steps, SEP)
    (ids, n_prompt), = encode_pairs(tok, [(question, SEP.join(steps))])
    assert seq.input_ids == ids[:-1] and seq.prompt_len == n_prompt      # all but the policy's EOS


@pytest.mark.parametrize("question,steps", CASES)
@pytest.mark.parametrize("which", ["tok", "merging_tok"])
def test_each_token_belongs_to_the_step_holding_its_first_character(request, question, steps, which):
    t = request.getfixturevalue(which)
    seq = encode_completion(t, question, steps, SEP)
    text = SEP.join(steps)
    offs = t(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    # step k's span starts at the separator before it (step 0: at 0) and ends where step k+1's starts
    starts, pos = [], 0
    for k, s in enumerate(steps):
        starts.append(pos - (len(SEP) if k else 0))
        pos += len(s) + len(SEP)
    ends = starts[1:] + [len(text) + 1]
    assert len(seq.step_of) == len(offs)
    for (a, _), k in zip(offs, seq.step_of):
        assert starts[k] <= a < ends[k] or starts[k] == ends[k] == a


@pytest.mark.parametrize("question,steps", CASES[:1] + CASES[2:3])
def test_tokens_of_a_step_decode_to_its_separator_and_text(tok, question, steps):
    seq = encode_completion(tok, question, steps, SEP)
    comp = seq.input_ids[seq.prompt_len:]
    for k, s in enumerate(steps):
        got = tok.decode([i for i, j in zip(comp, seq.step_of) if j == k])
        assert got == (SEP if k else "") + s


@pytest.mark.parametrize("n_prompt,n_comp,max_length,want", [
    (5, 3, 8, (5, 8)),        # fits
    (5, 3, 6, (3, 6)),        # prompt cut from the left
    (5, 3, 4, (1, 4)),        # one prompt token stays
    (5, 3, 3, None),          # the completion alone does not fit after one prompt token
])
def test_truncate_prompt(n_prompt, n_comp, max_length, want):
    seq = RatioSequence(list(range(n_prompt + n_comp)), n_prompt, [0] * n_comp, 1)
    t = truncate_prompt(seq, max_length)
    assert (None if t is None else (t.prompt_len, len(t.input_ids))) == want
    if t is not None:
        assert t.input_ids[-n_comp:] == seq.input_ids[-n_comp:]


def test_fit_cuts_the_completion_and_counts_whole_steps():
    seq = RatioSequence(list(range(10)), 4, [0, 0, 1, 1, 2, 2], 3)
    t, k = fit(seq, 5)          # one prompt token + 4 completion tokens: steps 0 and 1 whole
    assert (t.prompt_len, t.input_ids, t.step_of, k) == (1, [3, 4, 5, 6, 7], [0, 0, 1, 1], 2)


def test_step_sums_and_empty_steps():
    assert step_sums([1.0, 2.0, 4.0], [0, 2, 2], 3) == [1.0, 0.0, 6.0]


# ----------------------------------------------------------------------------- the loss
def test_loss_equals_a_hand_computation():
    import torch

    from prm.train.implicit import implicit_loss

    # 2 rows, 3 positions, vocab 2; completion = the last two tokens of row 0, the last one of row 1
    logits = torch.tensor([[[0.0, 1.0], [2.0, 0.0], [0.0, 0.0]],
                           [[1.0, 1.0], [0.0, 3.0], [5.0, 5.0]]])
    ids = torch.tensor([[0, 1, 0], [1, 0, 1]])
    mask = torch.tensor([[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
    ref = torch.tensor([-1.0, -0.5])
    y = torch.tensor([1.0, 0.0])
    beta = 0.5

    def logp(row, pos):                     # log p(ids[pos]) read at pos - 1
        a, b = logits[row, pos - 1].tolist()
        z = math.log(math.exp(a) + math.exp(b))
        return (a if ids[row, pos] == 0 else b) - z

    r = [beta * (logp(0, 1) + logp(0, 2) - (-1.0)), beta * (logp(1, 2) - (-0.5))]
    want = -(math.log(sigmoid(r[0])) + math.log(1 - sigmoid(r[1]))) / 2
    loss, got_r = implicit_loss(logits, ids, mask, ref, y, beta)
    assert got_r.tolist() == pytest.approx(r, abs=1e-6)
    assert loss.item() == pytest.approx(want, abs=1e-6)


def test_collator_marks_completion_tokens():
    from prm.train.implicit import ImplicitCollator

    b = ImplicitCollator(pad_id=9)([{"input_ids": [1, 2, 3], "prompt_len": 2, "labels": 1.0, "ref_logp": -1.5},
                                    {"input_ids": [4, 5], "prompt_len": 1, "labels": 0.25, "ref_logp": -0.5}])
    assert b["input_ids"].tolist() == [[1, 2, 3], [4, 5, 9]]
    assert b["completion_mask"].tolist() == [[0, 0, 1], [0, 1, 0]]
    assert b["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert b["labels"].tolist() == [1.0, 0.25] and b["ref_logp"].tolist() == [-1.5, -0.5]


# ----------------------------------------------------------------------------- training and scoring
@pytest.fixture(scope="module")
def trained(lms, tmp_path_factory):
    from prm.train import TrainConfig, train_rm

    out = tmp_path_factory.mktemp("implicit_out") / "model"
    return train_rm(TrainConfig(model=str(lms / "policy"), train_file=str(lms / "train.jsonl"), output_dir=str(out),
                                objective="implicit", beta=0.5, learning_rate=3e-3, num_train_epochs=3,
                                per_device_train_batch_size=16, logging_steps=1, save_steps=1000), progress=False)


def test_training_lowers_the_loss_on_a_separable_toy_set(trained):
    rep = json.loads((trained / "train_report.json").read_text())
    losses = [h["loss"] for h in rep["log_history"] if "loss" in h]
    assert losses[0] == pytest.approx(math.log(2), abs=1e-3)   # model == reference: r = 0 at the start
    assert losses[-1] < 0.5 * losses[0]


def test_saved_dir_is_a_causal_lm_with_reference_and_beta(trained, lms):
    from prm.scoring.implicit import weights_sha256

    cfg = json.loads((trained / "config.json").read_text())
    s = cfg["prm_toolkit"]
    assert cfg["architectures"] == ["LlamaForCausalLM"]
    assert (s["objective"], s["kind"], s["beta"], s["sep"]) == ("implicit", "prm", 0.5, SEP)
    assert s["ref_model"] == str((lms / "policy").resolve()) and s["ref_sha256"] == weights_sha256(str(lms / "policy"))


def _direct_step_rewards(model_dir, ref_dir, tok, question, steps, beta):
    """beta * log pi/pi_ref per step, from full forward passes and the decoded step texts."""
    import torch
    from transformers import AutoModelForCausalLM

    seq = encode_completion(tok, question, steps, SEP)
    ids = torch.tensor([seq.input_ids])
    lps = []
    for d in (model_dir, ref_dir):
        m = AutoModelForCausalLM.from_pretrained(d).eval()
        with torch.no_grad():
            lp = torch.log_softmax(m(ids).logits[0].double(), -1)
        lps.append([lp[i - 1, ids[0, i]].item() for i in range(seq.prompt_len, len(seq.input_ids))])
    r = [0.0] * len(steps)
    for a, b, k in zip(*lps, seq.step_of):
        r[k] += beta * (a - b)
    return r


@pytest.mark.parametrize("i", [0, 1, 5])
def test_scorer_step_scores_are_the_log_ratios(trained, lms, tok, i):
    from prm.scoring import ImplicitScorer, ScorerLike, load_scorer

    rec = toy_records(64)[i]
    want = _direct_step_rewards(str(trained), str(lms / "policy"), tok, rec["prompt"], rec["completions"], 0.5)
    s = load_scorer(str(trained))
    assert isinstance(s, ImplicitScorer) and isinstance(s, ScorerLike) and s.kind == "prm"
    assert s.step_rewards_batch([(rec["prompt"], rec["completions"])])[0] == pytest.approx(want, abs=1e-4)
    q = [sum(want[:k + 1]) for k in range(len(want))]
    assert s.score(rec["prompt"], rec["completions"]) == pytest.approx([sigmoid(x) for x in q], abs=1e-5)
    r_scorer = ImplicitScorer.from_path(str(trained), step_score="r")
    assert r_scorer.score(rec["prompt"], rec["completions"]) == pytest.approx([sigmoid(x) for x in want], abs=1e-5)


def test_trained_scorer_separates_the_outcomes(trained):
    from prm.scoring import load_scorer

    recs = toy_records(20, seed=5)
    s = load_scorer(str(trained))
    last = [x[-1] for x in s.score_batch([(r["prompt"], r["completions"]) for r in recs])]
    good = [v for v, r in zip(last, recs) if r["outcome"]]
    bad = [v for v, r in zip(last, recs) if not r["outcome"]]
    assert min(good) > max(bad)


def test_prefix_scores_are_the_first_scores_of_the_whole(trained):
    from prm.scoring import load_scorer

    s = load_scorer(str(trained))
    rec = toy_records(4)[1]
    full = s.score(rec["prompt"], rec["completions"])
    for k in range(1, len(rec["completions"])):
        assert s.score(rec["prompt"], rec["completions"][:k]) == pytest.approx(full[:k], abs=1e-6)


def test_steps_past_the_window_score_nan(trained):
    from prm.scoring import ImplicitScorer

    rec = toy_records(4)[0]
    s = ImplicitScorer.from_path(str(trained), max_length=8)
    got = s.score(rec["prompt"], rec["completions"])
    assert len(got) == 3 and math.isnan(got[-1]) and s.stats["truncated_steps"] >= 1
    assert s.score(rec["prompt"], []) == []


def test_a_different_reference_is_refused(trained, lms, tmp_path):
    from prm.scoring import load_scorer

    moved = tmp_path / "m"
    shutil.copytree(trained, moved)
    cfg = json.loads((moved / "config.json").read_text())
    cfg["prm_toolkit"]["ref_model"] = str(lms / "other")
    (moved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="not the ref"):
        load_scorer(str(moved))
    with pytest.raises(UserError, match="transformers only"):
        load_scorer(str(trained), backend="vllm")


# ----------------------------------------------------------------------------- zero training
def test_likelihood_ratio_of_two_untrained_models(lms, tok, tmp_path):
    from prm.scoring import ImplicitScorer, load_scorer
    from prm.scoring.implicit import write_ratio_settings

    write_ratio_settings(tmp_path / "lr", model=str(lms / "other"), ref_model=str(lms / "policy"), beta=0.1, sep=SEP)
    rec = toy_records(3)[2]
    want = _direct_step_rewards(str(lms / "other"), str(lms / "policy"), tok, rec["prompt"], rec["completions"], 0.1)
    for path in (tmp_path / "lr", tmp_path / "lr" / "likelihood_ratio.json"):
        s = load_scorer(str(path))
        assert isinstance(s, ImplicitScorer)
        assert s.step_rewards_batch([(rec["prompt"], rec["completions"])])[0] == pytest.approx(want, abs=1e-4)
    write_ratio_settings(tmp_path / "bad", model=str(lms / "alien"), ref_model=str(lms / "policy"), beta=0.1, sep=SEP)
    with pytest.raises(UserError, match="share a tokenizer"):
        load_scorer(str(tmp_path / "bad"))


# ----------------------------------------------------------------------------- the CLI
def test_cli_train_implicit_then_score(lms, tmp_path):
    from prm.cli import main

    out = tmp_path / "imp"
    assert main(["train", "--objective", "implicit", "--model", str(lms / "other"), "--ref-model", str(lms / "policy"),
                 "--beta", "0.05", "--train", str(lms / "train.jsonl"), "--out", str(out), "--max-steps", "2",
                 "--batch-size", "8"]) == 0
    s = json.loads((out / "config.json").read_text())["prm_toolkit"]
    assert (s["objective"], s["beta"], s["base_model"]) == ("implicit", 0.05, str(lms / "other"))
    assert main(["score", "--model", str(out), "--input", str(lms / "train.jsonl"),
                 "--out", str(tmp_path / "scored.jsonl")]) == 0
    rows = [json.loads(x) for x in (tmp_path / "scored.jsonl").read_text().splitlines()]
    assert len(rows) == 64
    assert all(len(r["scores"]) == len(r["completions"]) and all(0 < v < 1 for v in r["scores"]) for r in rows)
    assert main(["train", "--objective", "implicit", "--model", str(lms / "alien"), "--ref-model",
                 str(lms / "policy"), "--train", str(lms / "train.jsonl"), "--out", str(tmp_path / "x")]) == 2
