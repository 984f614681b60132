"""The sequence builder: label positions, step tags, truncation, and train/score agreement, with
real BPE tokenizers whose merges cross step boundaries."""

from __future__ import annotations

import random

import pytest
from fixtures_scoring import first_error_records, texts_for

from prm.records import StepwiseRecord
from prm.sequence import (DEFAULT_STEP_TAG, Encoded, add_step_tag, build_sequence, encode, prefix_stable,
                          resolve_step_tag, sequence_text, truncate_left)

RECS = first_error_records(60, seed=1)


@pytest.fixture(scope="module")
def merging_tok(tmp_path_factory):
    """A BPE trained without the GPT-2 pre-tokenizer split: "8.\\n\\nHe" style tokens cross boundaries."""
    from prm.tiny import build_tokenizer

    # 330: enough merges to cross boundaries in most samples, few enough that no token swallows a
    # whole step (see test_featurize_drops_samples_whose_boundaries_share_a_token for that case)
    return build_tokenizer(texts_for(first_error_records(300)), 330, regex_pretokenize=False)


@pytest.fixture(scope="module")
def greedy_tok():
    from prm.tiny import build_tokenizer

    return build_tokenizer(texts_for(first_error_records(300)), 512, regex_pretokenize=False)


@pytest.fixture(scope="module")
def regex_tok():
    from prm.tiny import build_tokenizer

    return build_tokenizer(texts_for(first_error_records(300)), 512, regex_pretokenize=True)


@pytest.mark.parametrize("prompt,steps,sep,tag,text,ends", [
    ("Q", ["a", "b"], "\n\n", None, "Q\n\na\n\nb\n\n", [3, 6, 9]),
    ("Q", [], "\n\n", None, "Q\n\n", [3]),
    ("Q", ["a"], "\n", "<t>", "Q\n<t>a\n<t>", [5, 10]),
    ("", ["x\n\ny"], "\n\n", None, "\n\nx\n\ny\n\n", [2, 8]),
])
def test_sequence_text_layout(prompt, steps, sep, tag, text, ends):
    assert sequence_text(prompt, steps, sep, tag) == (text, ends)


def test_merges_cross_boundaries_in_this_tokenizer(merging_tok):
    # the premise of the placement tests: without a tag, some token spans a step boundary
    text, ends = sequence_text(RECS[0]["prompt"], RECS[0]["completions"], "\n\n")
    offs = merging_tok(text, return_offsets_mapping=True)["offset_mapping"]
    assert any(s < c < e for s, e in offs for c in ends)


@pytest.mark.parametrize("tag", [None, DEFAULT_STEP_TAG])
def test_label_token_covers_the_last_separator_char(merging_tok, tag):
    tok = merging_tok
    add_step_tag(tok, tag)
    for r in RECS:
        text, ends = sequence_text(r["prompt"], r["completions"], "\n\n", tag)
        enc = tok(text, return_offsets_mapping=True)
        ids, pos = build_sequence(tok, r["prompt"], r["completions"], "\n\n", tag)
        assert ids == enc["input_ids"] and len(pos) == len(r["completions"])
        for p, c in zip(pos, ends[1:]):
            s, e = enc["offset_mapping"][p]
            assert s < c <= e                  # token p contains the separator's last character
            if tag:
                assert tok.convert_ids_to_tokens(ids[p]) == tag and e == c


def test_step_tag_is_one_special_token(merging_tok):
    tid = add_step_tag(merging_tok, DEFAULT_STEP_TAG)
    assert merging_tok.encode(DEFAULT_STEP_TAG, add_special_tokens=False) == [tid]
    assert add_step_tag(merging_tok, DEFAULT_STEP_TAG) == tid          # idempotent
    assert add_step_tag(merging_tok, None) is None


def test_auto_tag_when_merges_break_prefixes(merging_tok, regex_tok):
    probe = [(r["prompt"], r["completions"]) for r in RECS]
    assert not all(prefix_stable(merging_tok, p, s, "\n\n", None) for p, s in probe)
    assert resolve_step_tag(merging_tok, "\n\n", "auto", probe) == DEFAULT_STEP_TAG
    # the GPT-2 pre-tokenizer splits "\n\n" into "\n" "\n" before a word but keeps "\n\n" at the end
    # of a text: one token in isolation, still not prefix-stable -> auto must add the tag
    assert resolve_step_tag(regex_tok, "\n\n", "auto", probe) == DEFAULT_STEP_TAG
    assert resolve_step_tag(merging_tok, "\n\n", "none", probe) is None
    assert resolve_step_tag(merging_tok, "\n\n", "<s1>", probe) == "<s1>"


def test_tag_makes_every_prefix_stable(merging_tok):
    add_step_tag(merging_tok, DEFAULT_STEP_TAG)
    for r in RECS:
        assert prefix_stable(merging_tok, r["prompt"], r["completions"], "\n\n", DEFAULT_STEP_TAG)


def test_auto_keeps_bare_sep_for_a_prefix_stable_tokenizer():
    """A byte-level tokenizer with no merges: "|" is one token and nothing merges across it."""
    from prm.tiny import build_tokenizer

    tok = build_tokenizer(["abc | def"], vocab_size=10)      # below the byte alphabet: no merges
    probe = [("Q one", ["a b", "c d", "e"]), ("Q two", ["x", "y z"])]
    assert all(prefix_stable(tok, p, s, "|", None) for p, s in probe)
    assert resolve_step_tag(tok, "|", "auto", probe) is None
    # two tokens, but nothing merges across them: the label sits on the second "|", no new token
    # (a fresh tag embedding at every label position was a measured defect, docs/prm_diagnosis.md)
    assert resolve_step_tag(tok, "||", "auto", probe) is None
    assert resolve_step_tag(tok, "||", "auto", []) == DEFAULT_STEP_TAG      # no evidence: tag


def test_auto_keeps_two_newlines_for_the_tiny_policy_tokenizer():
    """The tiny policies' tokenizer isolates newlines, so the math separator "\n\n" is two tokens that
    never merge with a step: auto must not add a tag, and the label is on the second newline."""
    from prm.tiny import build_tokenizer

    texts = ["Question: 2 + 3?\nAnswer:\nSo 2 + 3 = 5.\n\nThe answer is 5."] * 4
    tok = build_tokenizer(texts, vocab_size=300, individual_digits=True, isolate_newlines=True)
    probe = [("Question: 2 + 3?\nAnswer:\n", ["So 2 + 3 = 5.", "The answer is 5."])]
    assert len(tok.encode("\n\n", add_special_tokens=False)) == 2
    assert resolve_step_tag(tok, "\n\n", "auto", probe) is None
    e = encode(tok, *probe[0], "\n\n", None)
    assert [tok.decode([e.input_ids[p]]) for p in e.step_positions] == ["\n", "\n"]
    assert [tok.decode(e.input_ids[p - 1:p + 1]) for p in e.step_positions] == ["\n\n", "\n\n"]


def test_training_positions_equal_scoring_positions(merging_tok):
    """featurize (training) and Scorer.encode (scoring) put/read labels on the same tokens, with and
    without a tag, including when the separator is merged with its neighbours."""
    from prm.scoring import Scorer
    from prm.train import featurize

    add_step_tag(merging_tok, DEFAULT_STEP_TAG)
    for tag in (None, DEFAULT_STEP_TAG):
        scorer = Scorer.__new__(Scorer)       # the pure part only: no model needed
        scorer.tokenizer, scorer.sep, scorer.step_tag, scorer.max_length = merging_tok, "\n\n", tag, 4096
        for r in RECS:
            rec = StepwiseRecord.from_dict(r)
            feat, why = featurize(merging_tok, rec, objective="prm", sep="\n\n", step_tag=tag, max_length=4096)
            e, k = scorer.encode(rec.prompt, rec.completions)
            labelled = [i for i, v in enumerate(feat["labels"]) if v != -100.0]
            assert feat["input_ids"] == e.input_ids
            assert labelled == e.step_positions and k == len(rec.completions)
            assert [feat["labels"][p] for p in labelled] == [float(x) for x in rec.labels]


def test_featurize_drops_samples_whose_boundaries_share_a_token(greedy_tok):
    """A big BPE on repetitive text can swallow a whole step and both separators in one token: two
    labels would land on one position. Such samples are dropped ("merged"), never half-labeled;
    with the step tag every sample is kept."""
    from prm.train import featurize

    dropped = 0
    for r in RECS:
        rec = StepwiseRecord.from_dict(r)
        feat, why = featurize(greedy_tok, rec, objective="prm", sep="\n\n", step_tag=None, max_length=4096)
        e = encode(greedy_tok, rec.prompt, rec.completions, "\n\n", None)
        bounds = [e.prompt_end - 1, *e.step_positions]
        collide = len(set(bounds)) < len(bounds)
        assert (feat is None) == collide and (why == "merged") == collide
        dropped += collide
    assert dropped > 0
    add_step_tag(greedy_tok, DEFAULT_STEP_TAG)
    for r in RECS:
        feat, _ = featurize(greedy_tok, StepwiseRecord.from_dict(r), objective="prm", sep="\n\n",
                            step_tag=DEFAULT_STEP_TAG, max_length=4096)
        assert feat is not None


def _enc(n_lead, prompt_end, n, steps):
    return Encoded(list(range(n)), steps, prompt_end, n_lead)


@pytest.mark.parametrize("e,max_len,want", [
    (_enc(0, 5, 10, [6, 9]), 10, ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [6, 9], 5)),        # fits
    (_enc(0, 5, 10, [6, 9]), 8, ([2, 3, 4, 5, 6, 7, 8, 9], [4, 7], 3)),               # prompt cut
    (_enc(1, 5, 10, [6, 9]), 7, ([0, 4, 5, 6, 7, 8, 9], [3, 6], 2)),                  # BOS kept
    (_enc(0, 5, 10, [6, 9]), 6, ([4, 5, 6, 7, 8, 9], [2, 5], 1)),                     # prompt's last token kept
    (_enc(0, 5, 10, [6, 9]), 5, None),                                                # steps do not fit
    (_enc(1, 5, 10, [6, 9]), 6, None),
])
def test_truncate_left(e, max_len, want):
    t = truncate_left(e, max_len)
    if want is None:
        assert t is None
    else:
        assert (t.input_ids, t.step_positions, t.prompt_end) == want
        assert len(t.input_ids) <= max_len


def test_truncation_keeps_labels_on_the_same_tokens(merging_tok):
    r = RECS[3]
    full = encode(merging_tok, r["prompt"] * 20, r["completions"], "\n\n", None)
    t = truncate_left(full, len(full.input_ids) - 7)
    assert [t.input_ids[p] for p in t.step_positions] == [full.input_ids[p] for p in full.step_positions]


def test_bos_tokenizer_positions_skip_special_tokens(merging_tok):
    """A tokenizer that adds BOS: offsets of the special token are empty and must not count."""
    from tokenizers import Tokenizer, processors
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer.from_str(merging_tok.backend_tokenizer.to_str())
    bos = backend.token_to_id("<|bos|>")
    backend.post_processor = processors.TemplateProcessing(single="<|bos|> $A", special_tokens=[("<|bos|>", bos)])
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<|bos|>", eos_token="<|eos|>",
                                  pad_token="<|pad|>")
    r = RECS[5]
    e = encode(tok, r["prompt"], r["completions"], "\n\n", None)
    plain = encode(merging_tok, r["prompt"], r["completions"], "\n\n", None)
    assert e.input_ids[0] == bos and e.n_lead == 1
    assert e.input_ids[1:] == plain.input_ids
    assert e.step_positions == [p + 1 for p in plain.step_positions]
    t = truncate_left(e, len(e.input_ids) - 2)
    assert t.input_ids[0] == bos and t.step_positions == [p - 2 for p in e.step_positions]


@pytest.mark.parametrize("tag", [None, DEFAULT_STEP_TAG])
def test_random_texts_positions_are_ordered(merging_tok, tag):
    """Adversarial step texts (empty, only newlines). Without a tag two separators around an empty
    step may share a token (positions merely non-decreasing); with the tag they never do."""
    add_step_tag(merging_tok, tag)
    rng = random.Random(0)
    alphabet = "ab \n.=+1"
    for _ in range(200):
        steps = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))) for _ in range(rng.randint(0, 5))]
        e = encode(merging_tok, "Q:" + "".join(rng.choice(alphabet) for _ in range(5)), steps, "\n\n", tag)
        pos = [e.prompt_end - 1] + e.step_positions
        assert len(e.step_positions) == len(steps)
        assert all(a < b if tag else a <= b for a, b in zip(pos, pos[1:]))
        assert pos[-1] < len(e.input_ids)
