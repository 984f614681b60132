"""Published PRM formats (prm/scoring/formats.py) on tiny random checkpoints of each family: the scores
equal a forward pass written the way each model card writes it (so they are read at the card's
positions), a prefix's scores are the first scores of the whole, detection from config.json, and
the errors a user meets. vLLM agreement: tests/test_published_formats_vllm.py."""

from __future__ import annotations

import json
import math

import pytest
import torch
from fixtures_published import BUILDERS, ITEMS, QWEN_TEMPLATE

from prm.errors import UserError
from prm.scoring import load_scorer
from prm.scoring.formats import FORMATS, Options, build_math_shepherd, detect

FAMILIES = list(BUILDERS)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    root = tmp_path_factory.mktemp("published")
    return {name: build(root / name) for name, build in BUILDERS.items()}


def scorer_for(ckpt, name):
    return load_scorer(ckpt[name], backend="transformers", **({"sep": "\n"} if name == "trl" else {}))


@pytest.fixture(scope="module")
def scorers(ckpt):
    s = {name: scorer_for(ckpt, name) for name in FAMILIES}
    yield s
    for x in s.values():
        x.close()


# ---------------------------------------------------------------- the model cards' own recipes

def ref_qwen(d, q, steps):
    """Qwen2.5-Math-PRM-7B card: chat template, `tokenizer.encode`, softmax, class 1 at <extra_0>."""
    from transformers import AutoTokenizer

    from prm.scoring.heads import qwen2_prm_class

    tok = AutoTokenizer.from_pretrained(d)
    model = qwen2_prm_class().from_pretrained(d).eval()
    msgs = [{"role": "system", "content": "Please reason step by step, and put your final answer within \\boxed{}."},
            {"role": "user", "content": q}, {"role": "assistant", "content": "<extra_0>".join(steps) + "<extra_0>"}]
    ids = torch.tensor([tok.encode(tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=False))])
    probs = model(ids).softmax(-1)[0]
    return probs[ids[0] == tok.encode("<extra_0>")[0]][:, 1].tolist()


def ref_shepherd(d, q, steps):
    """math-shepherd-mistral-7b-prm card: f"{question} {output}", steps each ending " ки", softmax over
    the "+"/"-" logits, index 0 ("+") where input_id == step_tag_id."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(d)
    model = AutoModelForCausalLM.from_pretrained(d).eval()
    cand = [tok.encode("+")[-1], tok.encode("-")[-1]]
    tag = tok.encode("ки")[-1]
    output = "\n".join(f"{s} ки" for s in steps)
    ids = torch.tensor([tok.encode(f"{q} {output}")])
    assert ids[0, 0] == tok.bos_token_id            # the card's tokenizer adds BOS; so does ours
    scores = model(ids).logits[:, :, cand].softmax(-1)[:, :, 0]
    return scores[ids == tag].tolist()


def ref_rlhflow(d, q, steps):
    """RLHFlow Llama3.1-8B-PRM card: one conversation per prefix, logits[:, -3, [+, -]], softmax [0]."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(d)
    model = AutoModelForCausalLM.from_pretrained(d).eval()
    cand = [tok.encode("+")[-1], tok.encode("-")[-1]]
    conv, out = [], []
    for k, s in enumerate(steps):
        conv += [{"content": f"{q} {s}" if k == 0 else s, "role": "user"}, {"content": "+", "role": "assistant"}]
        ids = torch.tensor([tok.apply_chat_template(conv, tokenize=True, return_dict=False)])
        out.append(model(ids).logits[:, -3, cand].softmax(-1)[0, 0].item())
    return out


def ref_value(d, q, steps):
    """Skywork prepare_input + derive_step_rewards: sigmoid(v_head(h)) at the "\\n" after each step."""
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, Qwen2Model

    tok = AutoTokenizer.from_pretrained(d)
    w = load_file(str(d / "model.safetensors"))
    base = Qwen2Model.from_pretrained(d).eval()
    ids = tok.encode((tok.bos_token or "") + q + "\n", add_special_tokens=False)
    flags = [0] * len(ids)
    nl = tok.encode("\n", add_special_tokens=False)[-1]
    for s in steps:
        step_ids = tok.encode(s, add_special_tokens=False) + [nl]
        ids += step_ids
        flags += [0] * (len(step_ids) - 1) + [1]
    h = base(torch.tensor([ids])).last_hidden_state[0]
    v = h @ w["v_head.summary.weight"].T + w["v_head.summary.bias"]
    return [torch.sigmoid(v[i, 0]).item() for i, f in enumerate(flags) if f]


def ref_trl(d, q, steps):
    """TRL PRMTrainer.tokenize_row with step_separator "\\n": BOS + prompt, each step + separator
    tokenized alone, label on each piece's last token."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(d)
    model = AutoModelForTokenClassification.from_pretrained(d).eval()
    prompt_ids = [tok.bos_token_id] + tok(q, add_special_tokens=False)["input_ids"]
    sep_ids = tok.encode("\n", add_special_tokens=False)
    comps = [tok(s, add_special_tokens=False)["input_ids"] + sep_ids for s in steps]
    ids, pos = list(prompt_ids), []
    for c in comps:
        ids += c
        pos.append(len(ids) - 1)
    probs = model(torch.tensor([ids])).logits.softmax(-1)[0]
    return [probs[p, 1].item() for p in pos]


REFERENCES = {"qwen2.5-math-prm": ref_qwen, "math-shepherd": ref_shepherd, "rlhflow": ref_rlhflow,
              "value-head": ref_value, "trl": ref_trl}


@pytest.mark.parametrize("name", FAMILIES)
def test_scores_equal_the_model_card_recipe(name, ckpt, scorers):
    """Same numbers as the card's own code: the right sequence, read at the right positions."""
    with torch.inference_mode():
        for q, steps in ITEMS:
            if not steps:
                continue
            want = REFERENCES[name](ckpt[name], q, steps)
            got = scorers[name].score(q, steps)
            assert len(got) == len(steps) == len(want)
            assert got == pytest.approx(want, abs=1e-5), (name, q)


@pytest.mark.parametrize("name", FAMILIES)
def test_scores_are_not_position_blind(name, scorers):
    """Adversarial: the random models give distinct step scores, so a reader off by one token (or
    reading one position for all steps) could not match the reference above by luck."""
    got = scorers[name].score(*ITEMS[1])
    assert len({round(x, 4) for x in got}) == len(got)


@pytest.mark.parametrize("name", FAMILIES)
def test_prefix_scores_are_the_first_scores_of_the_whole(name, scorers):
    sc = scorers[name]
    for q, steps in ITEMS[:4]:
        whole = sc.score(q, steps)
        for k in range(1, len(steps) + 1):
            assert sc.score(q, steps[:k]) == pytest.approx(whole[:k], abs=1e-5), (name, q, k)


@pytest.mark.parametrize("name", FAMILIES)
def test_batch_equals_one_by_one_and_empty(name, scorers):
    sc = scorers[name]
    batch = sc.score_batch(ITEMS)
    assert batch[-1] == []
    for (q, s), b in zip(ITEMS, batch):
        assert b == pytest.approx(sc.score(q, s), abs=1e-5)


@pytest.mark.parametrize("name", [f for f in FAMILIES if f != "trl"])
def test_steps_past_max_length_are_nan(name, ckpt):
    """Published formats are cut on the right only (a cut chat template is a sequence the model never
    saw): the steps inside keep their scores, the rest are NaN and counted."""
    q, steps = ITEMS[1]
    with load_scorer(ckpt[name], backend="transformers") as full:
        whole = full.score(q, steps)
        e, _ = full.encode(q, steps)
    cut = e.step_positions[1] + 1           # the window ends right after step 2's position
    with load_scorer(ckpt[name], backend="transformers", max_length=cut) as sc:
        got = sc.score(q, steps)
        assert got[:2] == pytest.approx(whole[:2], abs=1e-5)
        assert math.isnan(got[2]) and sc.stats["truncated_steps"] == 1


# ---------------------------------------------------------------- detection and errors

@pytest.mark.parametrize("cfg,chat,want", [
    ({"prm_toolkit": {"kind": "prm", "sep": "\n"}, "architectures": ["LlamaForTokenClassification"]}, False, "toolkit"),
    ({"architectures": ["Qwen2ForProcessRewardModel"], "model_type": "qwen2"}, True, "qwen2.5-math-prm"),
    ({"architectures": ["Qwen2ForPrmModel"]}, False, "value-head"),
    ({"architectures": ["Qwen2ForTokenClassification"]}, False, "trl"),
    ({"architectures": ["MistralForCausalLM"]}, "\u2581ки", "math-shepherd"),     # SentencePiece spelling
    ({"architectures": ["LlamaForCausalLM"]}, "ĠÐºÐ¸", "math-shepherd"),          # byte-level " ки"
    ({"architectures": ["LlamaForCausalLM"]}, True, "rlhflow"),
])
def test_detect_from_config(tmp_path, cfg, chat, want):
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    if chat is True:
        (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": QWEN_TEMPLATE}))
    elif chat:
        (tmp_path / "tokenizer.json").write_text(json.dumps({"model": {"vocab": {"a": 0, chat: 1}}}))
    assert detect(tmp_path) == want


@pytest.mark.parametrize("cfg", [{"architectures": ["BertModel"]}, {}, {"architectures": None},
                                 {"architectures": ["LlamaForCausalLM"]}])     # a policy, not a PRM
def test_unknown_checkpoint_names_config_and_lists_formats(tmp_path, cfg):
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "tokenizer.json").write_text(json.dumps({"model": {"vocab": {"к": 0, "и": 1}}}))
    with pytest.raises(UserError) as e:
        detect(tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "config.json") in msg and "--format" in msg
    assert all(name in msg for name in FORMATS)


def test_trl_left_truncates_the_prompt_as_trl_did(ckpt):
    """TRL cut the prompt from the left (max_prompt_length): a short window keeps every step."""
    q, steps = ITEMS[1]
    with load_scorer(ckpt["trl"], backend="transformers", sep="\n") as full:
        e, _ = full.encode(q, steps)
    with load_scorer(ckpt["trl"], backend="transformers", sep="\n", max_length=len(e.input_ids) - 3) as sc:
        got = sc.score(q, steps)
        assert len(got) == 3 and not any(map(math.isnan, got)) and sc.stats["truncated_steps"] == 0


def test_detected_from_the_built_checkpoints(ckpt):
    for name, d in ckpt.items():
        assert detect(d) == name


def test_format_flag_overrides_detection(ckpt):
    """An RLHFlow-style checkpoint read as math-shepherd gives other numbers: the flag is used."""
    q, steps = ITEMS[0]
    with load_scorer(ckpt["rlhflow"], backend="transformers") as a, \
            load_scorer(ckpt["rlhflow"], backend="transformers", format="math-shepherd") as b:
        assert a.format == "rlhflow" and b.format == "math-shepherd"
        assert a.score(q, steps) != pytest.approx(b.score(q, steps), abs=1e-3)


def test_trl_needs_its_separator_and_uses_it(ckpt):
    with pytest.raises(UserError, match="--sep"):
        load_scorer(ckpt["trl"], backend="transformers").score(*ITEMS[0])
    q, steps = ITEMS[0]
    with load_scorer(ckpt["trl"], backend="transformers", sep="\n") as a, \
            load_scorer(ckpt["trl"], backend="transformers", sep="\n\n") as b:
        assert a.score(q, steps) != pytest.approx(b.score(q, steps), abs=1e-4)


@pytest.mark.parametrize("fmt,sep,match", [
    ("nope", None, "unknown scorer format"),
    ("rlhflow", "\n", "--sep is for the trl format"),
])
def test_bad_format_settings(ckpt, fmt, sep, match):
    with pytest.raises(UserError, match=match):
        load_scorer(ckpt["rlhflow"], backend="transformers", format=fmt, sep=sep)


def test_value_head_format_on_a_checkpoint_without_v_head(ckpt):
    with pytest.raises(UserError, match="v_head"):
        load_scorer(ckpt["qwen2.5-math-prm"], backend="transformers", format="value-head")


def test_value_head_refuses_vllm_with_the_reason(ckpt):
    pytest.importorskip("vllm")
    with pytest.raises(UserError, match="Qwen2ForPrmModel"):
        load_scorer(ckpt["value-head"], backend="vllm")


def test_a_merged_step_tag_raises_instead_of_moving_scores(ckpt):
    """A tokenizer in which " ки" is not the tag token on its own (here: no "ки" token at all)."""
    from prm.tiny import build_tokenizer

    tok = build_tokenizer(["plain text with no tag", "кики ки"], 300)
    with pytest.raises(ValueError, match="wrong tokens"):
        build_math_shepherd(tok, "Q", ["a step", "b step"], Options())


# ---------------------------------------------------------------- the commands, unchanged

@pytest.mark.slow
@pytest.mark.parametrize("name", ["qwen2.5-math-prm", "math-shepherd"])
def test_beam_search_and_eval_bon_with_a_published_prm(name, ckpt, tiny_lm_dir, tmp_path, capsys):
    from prm.cli import main
    from prm.records import PoolRecord

    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps({"id": f"p{i}", "domain": "math", "answer": str(i + 3),
                                            "question": f"Tom has {i} apples and buys 3 more. How many?"}) + "\n"
                                for i in range(2)))
    out = tmp_path / "beam.jsonl"
    rc = main(["search", "--method", "beam", "--problems", str(problems), "--model", str(tiny_lm_dir),
               "--scorer", f"prm={ckpt[name]}", "--backend", "transformers", "--scorer-backend", "transformers",
               "--beam-width", "2", "--expand", "2", "--max-steps", "2", "--max-step-tokens", "12", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    rows = [PoolRecord.from_dict(json.loads(line), f"{out}:{i}") for i, line in enumerate(out.read_text().splitlines())]
    assert len(rows) == 2
    for r in rows:
        if r.steps:
            assert len(r.scores["prm"]) == len(r.steps) and all(0.0 <= x <= 1.0 for x in r.scores["prm"])
    assert main(["eval", "bon", "--pool", str(out), "--out", str(tmp_path / "eval")]) == 0


def test_prm_score_with_format_and_sep_flags(ckpt, tmp_path, capsys):
    from prm.cli import main

    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"prompt": q, "completions": s}) + "\n" for q, s in ITEMS))
    out = tmp_path / "out.jsonl"
    assert main(["score", "--model", str(ckpt["trl"]), "--input", str(inp), "--out", str(out),
                 "--backend", "transformers"]) == 2
    assert "--sep" in capsys.readouterr().err
    assert main(["score", "--model", str(ckpt["trl"]), "--sep", "\n", "--input", str(inp), "--out", str(out),
                 "--backend", "transformers", "--overwrite"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    with scorer_for(ckpt, "trl") as sc:
        for row, (q, s) in zip(rows, ITEMS):
            assert row["scores"] == pytest.approx(sc.score(q, s), abs=1e-6)
            assert row["scored_by"]["format"] == "trl"
