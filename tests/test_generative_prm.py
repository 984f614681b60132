"""The generative step verifier: check extraction (table), the sequence layout (the check sits before
the step's own value; the loss covers exactly check and verdict tokens), a short run that learns the
verdict, the scorer's scores and prefix property, refusals, and `prm train --objective generative` +
`prm score` through the CLI. Tiny models, built here."""

from __future__ import annotations

import json
import random
from fractions import Fraction

import pytest

from prm.errors import UserError
from prm.scoring.checks import (CALC_OPEN, VERDICTS, Check, calc_text, encode_training, find_checks, layout,
                                parse_value, render)

SEP = "\n\n"
GOOD = ["we add them", "so the sum is"]
BAD = ["oops a guess", "we skip one"]


# ----------------------------------------------------------------------------- check extraction (pure)
# (step, [(text up to the checked "=", value the verifier writes, the written value)])
CHECKS = [
    ("The herd grows to 2 times its size, so 16 * 2 = 32.", [("The herd grows to 2 times its size, so 16 * 2 =", "32", 32)]),
    ("so 27 / 3 = 8.", [("so 27 / 3 =", "9", 8)]),                       # a wrong written value
    ("Each gets 7 / 2 = 3.5 cakes.", [("Each gets 7 / 2 =", "3.5", Fraction(7, 2))]),
    ("so 7 / 3 = 2.33", [("so 7 / 3 =", "7/3", Fraction(233, 100))]),    # not a finite decimal: a/b
    ("(3 + 4) * 2 - 1 = 13.", [("(3 + 4) * 2 - 1 =", "13", 13)]),        # chained operations
    ("1/4 - 1/2 = -0.25", [("1/4 - 1/2 =", "-0.25", Fraction(-1, 4))]),
    ("4 * 2 = 8 and 8 + 3 = 11.", [("4 * 2 =", "8", 8), ("4 * 2 = 8 and 8 + 3 =", "11", 11)]),   # two equations
    ("2 * 3 + 4 = 6 + 4 = 10", [("2 * 3 + 4 =", "10", 10), ("2 * 3 + 4 = 6 + 4 =", "10", 10)]),  # a chain
    ("The answer is 9.", []),                                            # no equation
    ("x = 5 and 5 = 5", []),                                             # a variable; two bare numbers
    ("half of 8 = 4", []),                                               # operand of a word
    ("3 boxes * 12 = 36", []),                                           # an operand is a word
    ("so 4 / 0 = 1", []),                                                # cannot be computed
    ("@@ = ## 3 +* = 4 ((( = ", []),                                     # unparseable
    ("", []),
]


@pytest.mark.parametrize("step,want", CHECKS)
def test_find_checks(step, want):
    got = find_checks(step)
    assert [(step[:c.at], render(c.value), c.written) for c in got] == [(a, v, Fraction(w)) for a, v, w in want]


@pytest.mark.parametrize("value", [Fraction(32), Fraction(5, 2), Fraction(7, 3), Fraction(-1, 4), Fraction(0), Fraction(10 ** 12)])
def test_render_parses_back(value):
    assert parse_value(render(value)) == value


def test_parse_value_of_model_output_never_raises():
    for text in ["", "abc", "3 +", "((", "1/0", "9" * 5000, "2.5.5"]:
        assert parse_value(text) is None or isinstance(parse_value(text), Fraction)


# ----------------------------------------------------------------------------- the layout (pure)
def test_layout_puts_the_check_before_the_written_value():
    steps = ["so 16 * 2 = 30.", "The answer is 30."]
    pieces = layout(steps, SEP, [False, False])
    assert [(p.kind, p.text, p.label) for p in pieces] == [
        ("text", "so 16 * 2 =", None), ("calc", "32", None), ("text", " 30.", None), ("verdict", "", False),
        ("text", SEP + "The answer is 30.", None), ("verdict", "", False)]
    # scoring: the same pieces, the check value left for the verifier to write
    assert [(p.kind, p.text) for p in layout(steps, SEP)] == [
        ("text", "so 16 * 2 ="), ("calc", ""), ("text", " 30."), ("verdict", ""), ("text", SEP + "The answer is 30."),
        ("verdict", "")]


def test_the_ablation_layout_puts_the_check_after_the_step():
    steps = ["4 * 2 = 8 and 8 + 3 = 12.", "The answer is 12."]
    assert [(p.kind, p.text) for p in layout(steps, SEP, [False, False], position="after_step")] == [
        ("text", "4 * 2 = 8 and 8 + 3 = 12."), ("calc", "8"), ("calc", "11"), ("verdict", ""),
        ("text", SEP + "The answer is 12."), ("verdict", "")]
    with pytest.raises(ValueError, match="position must be one of"):
        layout(steps, SEP, position="middle")


def test_layout_prefix_property():
    steps = ["4 * 2 = 8 and 8 + 3 = 11.", "so 11 - 1 = 10.", "The answer is 10."]
    for k in range(len(steps) + 1):
        assert layout(steps[:k], SEP) == [p for p in layout(steps, SEP) if p.step < k]


# ----------------------------------------------------------------------------- tiny models
def toy_records(n: int, seed: int = 0) -> list[dict]:
    """Steps with an equation; a step is correct iff its phrase is a GOOD one (separable verdicts)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        ok = i % 2 == 0
        steps = [f"{rng.choice(GOOD if ok else BAD)}, so {a} + {b} = {a + b}.", f"The answer is {a + b}."]
        out.append({"prompt": f"Add {a} and {b}.", "completions": steps, "labels": [ok, ok], "outcome": ok,
                    "problem_id": str(i // 2)})
    return out


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    """A tiny causal LM on a tokenizer trained on the toy texts and the check / verdict strings."""
    import torch
    from transformers import AutoModelForCausalLM

    from prm.sampler import build_prompt
    from prm.tiny import TinyConfig, build_tokenizer, llama_config

    d = tmp_path_factory.mktemp("generative")
    recs = toy_records(64)
    texts = [build_prompt(None, r["prompt"]) + SEP.join(r["completions"]) + calc_text("12") + "".join(VERDICTS)
             for r in recs]
    tok = build_tokenizer(texts, 300, individual_digits=True, isolate_newlines=True)
    torch.manual_seed(0)
    # head_dim 32: vLLM's CPU attention has no kernel for 16
    cfg = TinyConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=2,
                     num_key_value_heads=1)
    AutoModelForCausalLM.from_config(llama_config(tok, cfg)).save_pretrained(d / "base")
    tok.save_pretrained(d / "base")
    write_jsonl(d / "train.jsonl", recs)
    return d


@pytest.fixture(scope="module")
def tok(lm):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(lm / "base")


def test_loss_mask_covers_exactly_check_and_verdict_tokens(tok):
    from prm.scoring.checks import prompt_ids

    steps = ["so 16 * 2 = 30.", "The answer is 30.", "more words"]
    ids, mask, n_prompt = encode_training(tok, "Q?", steps, [False, False, None], SEP)
    assert ids[:n_prompt] == prompt_ids(tok, "Q?") and not any(mask[:n_prompt])
    enc = lambda s: tok(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    calc, bad, ok = enc(calc_text("32")), enc(VERDICTS[1]), enc(VERDICTS[0])
    want = (enc("so 16 * 2 =") + calc + enc(" 30.") + bad + enc(SEP + "The answer is 30.") + bad
            + enc(SEP + "more words") + bad)          # None after a bad step: " [bad]" for context, no loss
    assert ids[n_prompt:] == want
    trained = [i for i, m in zip(ids[n_prompt:], mask[n_prompt:]) if m]
    assert trained == calc + bad + bad
    # the check's value is in the sequence before the step's own (wrong) value
    text = tok.decode(ids[n_prompt:])
    assert text.index(" [calc 32]") < text.index(" 30.")
    # and before any unlabelled verdict the context verdict is " [ok]"
    ids2, mask2, n2 = encode_training(tok, "Q?", ["so 1 + 1 = 2.", "end"], [None, True], SEP)
    assert ids2[n2:] == enc("so 1 + 1 =") + enc(calc_text("2")) + enc(" 2.") + ok + enc(SEP + "end") + ok
    assert [i for i, m in zip(ids2[n2:], mask2[n2:]) if m] == enc(calc_text("2")) + ok


def test_the_scorer_opens_checks_and_reads_verdicts_where_training_wrote_them(tok):
    from prm.scoring.checks import verdict_ids

    enc = lambda s: tok(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    assert enc(calc_text("32"))[:len(enc(CALC_OPEN))] == enc(CALC_OPEN)
    prefix, ok_id, bad_id, ok, bad = verdict_ids(tok)
    assert ok[:len(prefix)] == bad[:len(prefix)] == prefix and ok[len(prefix)] == ok_id != bad_id == bad[len(prefix)]


@pytest.fixture(scope="module")
def trained(lm):
    from prm.train import TrainConfig, train_rm

    out = lm / "gen"
    train_rm(TrainConfig(model=str(lm / "base"), train_file=str(lm / "train.jsonl"), output_dir=str(out),
                         objective="generative", max_steps=120, per_device_train_batch_size=16, learning_rate=1e-2,
                         warmup_ratio=0.05, logging_steps=1000, save_steps=10 ** 6, resume=False), progress=False)
    return out


def test_training_learns_the_verdict_and_scores_are_probabilities(lm, trained):
    from prm.scoring import load_scorer

    settings = json.loads((trained / "config.json").read_text())["prm_toolkit"]
    assert settings["objective"] == "generative" and settings["kind"] == "prm" and settings["sep"] == SEP
    # every toy sample: one checked step and one answer step without a check, both labelled
    assert settings["checks"] == {"steps": 128, "checks": 64, "steps_without_check": 64, "unlabelled_verdicts": 0}
    recs = toy_records(32, seed=1)
    with load_scorer(str(trained)) as sc:
        assert type(sc).__name__ == "GenerativeScorer" and sc.backend == "transformers"
        scores = sc.score_batch([(r["prompt"], r["completions"]) for r in recs])
    assert all(0.0 < s < 1.0 for ss in scores for s in ss)
    assert [len(s) for s in scores] == [len(r["completions"]) for r in recs]
    good = [ss[0] for ss, r in zip(scores, recs) if r["labels"][0]]
    bad = [ss[0] for ss, r in zip(scores, recs) if not r["labels"][0]]
    assert min(good) > max(bad), (good, bad)


def test_prefix_property_and_duplicates(trained):
    from prm.scoring import load_scorer

    recs = toy_records(6, seed=2)
    q, steps = recs[0]["prompt"], recs[0]["completions"] + ["so 1 + 2 = 3.", "so 3 * 3 = 9."]
    with load_scorer(str(trained)) as sc:
        full = sc.score(q, steps)
        items = [(q, steps[:k]) for k in range(len(steps) + 1)] + [(q, steps)]
        out = sc.score_batch(items)
        traces = sc.trace_batch([(q, steps)])
    assert out[0] == [] and out[-1] == pytest.approx(full, abs=1e-6)
    for k in range(1, len(steps) + 1):
        assert out[k] == pytest.approx(full[:k], abs=1e-6)
    # one check per checked "=", at the step it belongs to, with the value the verifier wrote
    assert [(s, c.written) for s, c, _ in traces[0].checks] == [
        (0, find_checks(steps[0])[0].written), (2, Fraction(3)), (3, Fraction(9))]
    assert all(isinstance(v, str) and "]" not in v for _, _, v in traces[0].checks)


# ----------------------------------------------------------------------------- refusals
def test_refuses_soft_labels_naming_file_and_line(lm, tmp_path):
    from prm.train import TrainConfig, train_rm

    rows = toy_records(4)
    rows[2]["labels"] = [0.7, True]
    path = write_jsonl(tmp_path / "soft.jsonl", rows)
    with pytest.raises(UserError, match=r"soft\.jsonl:3: field 'labels\[0\]': soft label 0\.7"):
        train_rm(TrainConfig(model=str(lm / "base"), train_file=str(path), output_dir=str(tmp_path / "o"),
                             objective="generative", max_steps=1), progress=False)


def test_refuses_a_file_with_nothing_to_learn(lm, tmp_path):
    from prm.train import TrainConfig, train_rm

    rows = [{"prompt": "Q?", "completions": ["no numbers here"], "labels": [None]}] * 3
    path = write_jsonl(tmp_path / "empty.jsonl", rows)
    with pytest.raises(UserError, match=r"empty\.jsonl: no usable training samples for objective 'generative'"):
        train_rm(TrainConfig(model=str(lm / "base"), train_file=str(path), output_dir=str(tmp_path / "o"),
                             objective="generative", max_steps=1), progress=False)


def test_config_refusals():
    from prm.train import TrainConfig

    with pytest.raises(ValueError, match="check_position"):
        TrainConfig(model="m", train_file="t", output_dir="o", objective="generative", check_position="middle")
    with pytest.raises(ValueError, match="no separate head"):
        TrainConfig(model="m", train_file="t", output_dir="o", objective="generative", backbone_lr=0.0)


def test_the_scorer_reads_the_check_position_from_the_model(trained, tmp_path):
    import shutil

    from prm.scoring import load_scorer

    other = tmp_path / "after"
    shutil.copytree(trained, other)
    cfg = json.loads((other / "config.json").read_text())
    assert cfg["prm_toolkit"]["check_position"] == "before_value"
    cfg["prm_toolkit"]["check_position"] = "after_step"
    (other / "config.json").write_text(json.dumps(cfg))
    r = toy_records(2, seed=4)[0]
    with load_scorer(str(trained)) as a, load_scorer(str(other)) as b:
        before, after = a.score(r["prompt"], r["completions"]), b.score(r["prompt"], r["completions"])
    assert len(after) == len(before) == 2 and all(0 < x < 1 for x in after)
    assert after != pytest.approx(before, abs=1e-9)     # another sequence was read


def test_scorer_refuses_a_model_of_another_objective(lm, trained, tmp_path):
    import shutil

    from prm.scoring.generative import GenerativeScorer

    other = tmp_path / "other"
    shutil.copytree(trained, other)
    cfg = json.loads((other / "config.json").read_text())
    cfg["prm_toolkit"]["objective"] = "prm"
    (other / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="not 'generative'"):
        GenerativeScorer(other)
    from prm.scoring import load_scorer

    with pytest.raises(UserError, match="--format / --sep do not apply to a generative verifier"):
        load_scorer(str(trained), sep="\n")


# ----------------------------------------------------------------------------- the CLI
def test_cli_train_generative_then_score(lm, tmp_path):
    from prm.cli import main

    out = tmp_path / "cli-gen"
    assert main(["train", "--objective", "generative", "--model", str(lm / "base"), "--train", str(lm / "train.jsonl"),
                 "--out", str(out), "--max-steps", "3", "--batch-size", "8"]) == 0
    assert json.loads((out / "config.json").read_text())["prm_toolkit"]["max_check_tokens"] == 12
    scored = tmp_path / "scored.jsonl"
    assert main(["score", "--model", str(out), "--input", str(lm / "train.jsonl"), "--out", str(scored)]) == 0
    rows = [json.loads(line) for line in scored.read_text().splitlines()]
    assert len(rows) == 64
    assert all(len(r["scores"]) == len(r["completions"]) and all(0 < v < 1 for v in r["scores"]) for r in rows)
    # refusals through the CLI: a clear message and exit code 2, not a traceback
    soft = write_jsonl(tmp_path / "soft.jsonl", [{"prompt": "Q?", "completions": ["1 + 1 = 2"], "labels": [0.5]}])
    assert main(["train", "--objective", "generative", "--model", str(lm / "base"), "--train", str(soft),
                 "--out", str(tmp_path / "x")]) == 2


# ----------------------------------------------------------------------------- vLLM (slow; skips where it cannot start)
@pytest.mark.vllm
@pytest.mark.slow
def test_vllm_engine_writes_the_same_checks_and_scores(trained):
    pytest.importorskip("vllm")
    from prm.scoring import load_scorer

    recs = toy_records(8, seed=3)
    items = [(r["prompt"], r["completions"] + ["so 2 * 3 = 6."]) for r in recs]
    with load_scorer(str(trained), backend="transformers") as hf:
        want = hf.trace_batch(items)
    try:
        sc = load_scorer(str(trained), backend="vllm", gpu_memory_utilization=0.1)
    except UserError as e:            # no room, no CPU backend, a broken install: not this code's failure
        pytest.skip(f"vLLM cannot start here: {e}")
    try:
        assert sc.backend == "vllm"
        got = sc.trace_batch(items)
        prefix = sc.score_batch([(q, s[:1]) for q, s in items])
    finally:
        sc.close()
    assert [[v for _, _, v in t.checks] for t in got] == [[v for _, _, v in t.checks] for t in want]
    for g, w, p in zip(got, want, prefix):
        assert g.scores == pytest.approx(w.scores, abs=1e-3) and p == pytest.approx(g.scores[:1], abs=1e-6)
