"""Labelers on fakes: pure rules table-driven, then outcome / direct / mc / binary end to end with a
fake policy whose reachability is known, so every expected label is computed by hand."""

from __future__ import annotations

import math

import pytest

from fakes import prompt_fn, rollout_sampler
from prm.labeling import (BinaryConfig, DirectConfig, JudgeConfig, MCConfig, RolloutConfig, label_binary,
                          label_direct, label_mc, label_outcome, make_items)
from prm.labeling.base import first_false, labels_from_first_error
from prm.labeling.binary import search_first_error
from prm.labeling.direct import direct_labels
from prm.labeling.mc import mc_labels
from prm.records import Problem, Sample, StepwiseRecord

JUDGE = JudgeConfig(workers=2)


def P(pid="p1", q="A farm has 59 cows. It buys 6 pens with 2 cows each, then 10 more cows. How many?", a="81"):
    return Problem(id=pid, domain="math", question=q, answer=a)


def S(steps, pid="p1", **meta):
    return Sample(problem_id=pid, text="\n\n".join(steps), steps=list(steps), metadata=meta)


GOOD = ["6 * 2 = 12", "59 + 12 = 71", "71 + 10 = 81", "The answer is 81."]
BAD1 = ["6 * 2 = 12", "59 + 12 = 72", "72 + 10 = 82", "The answer is 82."]          # first error: step 1
WRONG_END = ["6 * 2 = 12", "59 + 12 = 71", "The answer is 99."]                      # only the answer is wrong
PROSE = ["Let us count the cows.", "6 * 2 = 12", "59 + 12 = 71", "71 + 10 = 81", "The answer is 81."]


# ----------------------------------------------------------------------------- pure rules
@pytest.mark.parametrize("verdicts,outcome,after,unjudged,labels,fe", [
    ([True, True, True], True, "incorrect", "unlabeled", [True, True, True], -1),
    ([True, False, True], False, "incorrect", "unlabeled", [True, False, False], 1),
    ([True, False, True], False, "unlabeled", "unlabeled", [True, False, None], 1),
    ([None, True, False], False, "incorrect", "unlabeled", [None, True, False], 2),
    ([None, True, False], False, "incorrect", "correct", [True, True, False], 2),
    ([None, True, None], True, "incorrect", "unlabeled", [None, True, None], -1),   # outcome vouches: no error
    ([None, True, None], False, "incorrect", "unlabeled", [None, True, None], None),  # wrong, not localized
    ([None, True, None], None, "incorrect", "unlabeled", [None, True, None], None),
    ([True, True], None, "incorrect", "unlabeled", [True, True], -1),                  # all checked
    ([True, True], False, "incorrect", "unlabeled", [True, True], None),               # checks pass, answer wrong
    ([False], False, "unlabeled", "correct", [False], 0),
])
def test_direct_labels_rules(verdicts, outcome, after, unjudged, labels, fe):
    got, got_fe = direct_labels(verdicts, outcome, DirectConfig(after_error=after, unjudged=unjudged))
    assert got == labels and got_fe == fe


@pytest.mark.parametrize("n,fe,after,expected", [
    (3, -1, "incorrect", [True, True, True]),
    (3, 0, "incorrect", [False, False, False]),
    (4, 2, "unlabeled", [True, True, False, None]),
    (2, None, "incorrect", [None, None]),
])
def test_labels_from_first_error(n, fe, after, expected):
    assert labels_from_first_error(n, fe, after) == expected


@pytest.mark.parametrize("labels,expected", [([True, 0.5, 0.0, True], 2), ([True, False], 1), ([True, None, 1.0], None),
                                             ([], None)])
def test_first_false(labels, expected):
    assert first_false(labels) == expected


def test_mc_labels_hard_and_soft_keep_floats():
    assert mc_labels([0.25, 0.0, 1.0], "hard") == [True, False, True]
    soft = mc_labels([0.25, 0.0, 1.0], "soft")
    assert soft == [0.25, 0.0, 1.0] and all(type(v) is float for v in soft)


@pytest.mark.parametrize("n", range(1, 17))
def test_binary_search_finds_every_first_error_in_log_steps(n):
    for fe in range(n):
        got, asked = search_first_error(n, lambda i: i <= fe)
        assert got == fe
        assert len(asked) <= math.ceil(math.log2(n)) if n > 1 else asked == []


def test_config_validation():
    with pytest.raises(ValueError):
        DirectConfig(after_error="maybe")
    with pytest.raises(ValueError):
        DirectConfig(unjudged="wrong")
    with pytest.raises(ValueError):
        MCConfig(label="medium")
    with pytest.raises(ValueError):
        BinaryConfig(after_error="x")


# ----------------------------------------------------------------------------- outcome / direct
def test_outcome_labels_last_step_only():
    recs = label_outcome(make_items([(P(), S(GOOD)), (P(), S(BAD1)), (P(), S(["I give up."]))]), JUDGE)
    assert [r.labels for r in recs] == [[None, None, None, True], [None, None, None, False], [False]]
    assert [r.extra["first_error"] for r in recs] == [-1, None, None]
    assert recs[0].extra["provenance"]["labeler"] == "outcome"
    assert recs[0].extra["provenance"]["cost"]["verifier_calls"] == 1
    assert recs[2].extra["outcome_reason"]  # says why (no answer found)


def test_direct_end_to_end():
    items = make_items([(P(), S(GOOD)), (P(), S(BAD1)), (P(), S(WRONG_END)), (P(), S(PROSE))])
    recs = label_direct(items, DirectConfig(), JUDGE)
    good, bad, wrong_end, prose = recs
    assert good.labels == [True] * 4 and good.extra["first_error"] == -1
    assert bad.labels == [True, False, False, False] and bad.extra["first_error"] == 1
    assert wrong_end.labels == [True, True, False] and wrong_end.extra["first_error"] == 2  # rule 2
    assert prose.labels == [None, True, True, True, True]
    assert prose.extra["judged"] == [False, True, True, True, True]
    assert prose.extra["first_error"] == -1
    for r in recs:
        StepwiseRecord.from_dict(r.to_dict())  # valid against the data contract
        assert r.extra["provenance"]["verifier"]["version"]
    # the knobs change the output
    alt = label_direct(items, DirectConfig(after_error="unlabeled", unjudged="correct"), JUDGE)
    assert alt[1].labels == [True, False, None, None]
    assert alt[3].labels == [True] * 5
    off = label_direct(items, DirectConfig(final_answer_check=False), JUDGE)
    assert off[2].labels == [True, True, None] and off[2].extra["first_error"] is None


@pytest.mark.parametrize("gold,last,label", [
    # issue 25: the last step is graded by `grade`, the one path the outcome judge takes too
    ("2, 3", r"(a) The first count is $\boxed{2}$. (b) The second is $\boxed{3}$.", True),
    ("2, 4", r"(a) The first count is $\boxed{2}$. (b) The second is $\boxed{3}$.", False),  # stays wrong
    (r"Counting gives two. The answer is $\boxed{2}$.", "The answer is 2.", True),       # worked-solution gold
    (r"Counting gives two. The answer is $\boxed{2}$.", "The answer is 5.", False),
])
def test_direct_final_step_graded_like_the_outcome(gold, last, label):
    items = make_items([(P(a=gold), S(["Let us count.", last]))])
    rec = label_direct(items, DirectConfig(), JUDGE)[0]
    assert rec.labels[-1] is label
    assert rec.extra["outcome"] is label  # the outcome judge and the step rule agree


def test_direct_refuses_code():
    code = Problem(id="c", domain="code", question="q", tests=["assert f() == 1"], test_format="mbpp")
    sample = Sample(problem_id="c", text="def f():\n    return 1", steps=["def f():", "    return 1"])
    items = make_items([(code, sample)])
    with pytest.raises(ValueError, match="math-only"):
        label_direct(items)


# ----------------------------------------------------------------------------- mc / binary with the fake
def fake(p_good=1.0, **kw):
    q = P().question
    return rollout_sampler({q: "The answer is 81."}, {q: "The answer is 80."}, p_good=p_good, **kw)


def marked(n, bad_at, start=0):
    steps = [f"{i} + 1 = {i + 1}" for i in range(start, start + n - 1)] + ["The answer is 80."]
    if bad_at is not None:
        steps[bad_at] = "BAD " + steps[bad_at]
    else:
        steps[-1] = "The answer is 81."
    return steps


def test_mc_values_hard_soft_and_one_engine_call():
    s = fake(p_good=0.5)
    items = make_items([(P(), S(marked(5, 2))), (P(), S(marked(4, None, start=10)))])
    recs = label_mc(items, s, prompt_fn, MCConfig(rollout=RolloutConfig(k=4)), JUDGE)
    assert len(s.calls) == 1 and len(s.calls[0][0]) == 4 + 3  # every prefix of both samples in ONE call
    a, b = recs
    assert a.extra["mc_values"] == [0.5, 0.5, 0.0, 0.0, 0.0] and a.labels == [True, True, False, False, False]
    assert a.extra["first_error"] == 2 and a.extra["n_rollouts"] == [4, 4, 4, 4, 0]
    assert a.extra["mc_hard"] == [True, True, False, False, False]
    assert b.extra["mc_values"] == [0.5, 0.5, 0.5, 1.0] and b.extra["first_error"] == -1
    cost = a.extra["provenance"]["cost"]
    assert cost["rollouts"] == 16 and cost["completion_tokens"] == 16 * 3 and cost["verifier_calls"] == 17
    prov = a.extra["provenance"]
    assert prov["labeler"] == "mc" and prov["settings"]["k"] == 4 and prov["sampler"]["model"] == "fake-policy"
    assert prov["sampler"]["temperature"] == 0.7 and prov["verifier"]["name"] == "verifiers.math.grade"
    soft = label_mc(items, fake(p_good=0.5), prompt_fn, MCConfig(rollout=RolloutConfig(k=4), label="soft"), JUDGE)
    assert soft[0].labels == [0.5, 0.5, 0.0, 0.0, 0.0] and isinstance(soft[0].labels[0], float)
    StepwiseRecord.from_dict(soft[0].to_dict())


def test_mc_prompts_continue_the_prefix_exactly():
    s = fake()
    items = make_items([(P(), S(marked(3, 1)))])
    label_mc(items, s, prompt_fn, MCConfig(rollout=RolloutConfig(k=1)), JUDGE)
    assert s.prompts == [prompt_fn(P().question) + "0 + 1 = 1\n\n",
                         prompt_fn(P().question) + "0 + 1 = 1\n\nBAD 1 + 1 = 2\n\n"]


@pytest.mark.parametrize("n,bad_at", [(1, 0), (2, 0), (2, 1), (5, 0), (5, 3), (8, 6), (9, 4), (12, 11), (6, None)])
def test_binary_agrees_with_mc_on_monotone_policy_and_costs_less(n, bad_at):
    items = make_items([(P(), S(marked(n, bad_at)))])
    k = 4
    mc = label_mc(items, fake(p_good=0.75), prompt_fn, MCConfig(rollout=RolloutConfig(k=k)), JUDGE)[0]
    sb = fake(p_good=0.75)
    bi = label_binary(items, sb, prompt_fn, BinaryConfig(rollout=RolloutConfig(k=k)), JUDGE)[0]
    assert bi.extra["first_error"] == mc.extra["first_error"] == (-1 if bad_at is None else bad_at)
    assert bi.labels == mc.labels  # after_error="incorrect" == MC hard labels under monotonicity
    used = bi.extra["provenance"]["cost"]["rollouts"]
    assert used <= k * math.ceil(math.log2(n)) if n > 1 else used == 0
    assert used <= mc.extra["provenance"]["cost"]["rollouts"]
    if bad_at is None:
        assert used == 0 and sb.calls == []
    assert len(bi.extra["mc_values"]) == n and bi.extra["judged"][-1] is True


def test_binary_batches_samples_in_lockstep_rounds():
    s = fake()
    items = make_items([(P(), S(marked(16, b))) for b in (0, 5, 9, 15)])
    recs = label_binary(items, s, prompt_fn, BinaryConfig(rollout=RolloutConfig(k=2)), JUDGE)
    assert [r.extra["first_error"] for r in recs] == [0, 5, 9, 15]
    # log2(16) rounds, one call each with every sample still searching (identical prefixes drawn once:
    # in round 1 the samples erring at steps 9 and 15 share the same clean 8-step prefix)
    assert [len(prompts) for prompts, _ in s.calls] == [3, 4, 4, 4]
    assert sum(r.extra["provenance"]["cost"]["rollouts"] for r in recs) == 2 * 15


def test_identical_prefixes_are_drawn_once_and_paid_once():
    s = fake(p_good=0.5)
    items = make_items([(P(), S(marked(4, 2))), (P(), S(marked(4, 2))), (P(), S(marked(4, None)))])
    recs = label_mc(items, s, prompt_fn, MCConfig(rollout=RolloutConfig(k=4)), JUDGE)
    assert len(s.calls[0][0]) == 4  # 9 prefixes, 4 distinct
    assert recs[0].labels == recs[1].labels and recs[0].extra["mc_values"] == recs[1].extra["mc_values"]
    assert recs[1].extra["n_rollouts"] == [4, 4, 4, 0]  # the evidence behind each label...
    costs = [r.extra["provenance"]["cost"]["rollouts"] for r in recs]
    assert costs == [12, 0, 4] and sum(costs) == 4 * 4  # ...but each rollout is paid once


def test_binary_non_monotone_policy_can_differ_from_mc_and_says_what_it_evaluated():
    # reachable everywhere except the prefix of exactly 2 steps: MC's first zero is step 1, binary
    # search of 8 steps asks 4, 6, 7 and never sees it
    s = fake(p_fn=lambda q, prefix: 0.0 if prefix.count("\n\n") == 2 else 1.0)
    steps = marked(8, None)[:-1] + ["The answer is 80."]
    items = make_items([(P(), S(steps))])
    bi = label_binary(items, s, prompt_fn, BinaryConfig(rollout=RolloutConfig(k=2)), JUDGE)[0]
    mc = label_mc(items, fake(p_fn=lambda q, prefix: 0.0 if prefix.count("\n\n") == 2 else 1.0), prompt_fn,
                  MCConfig(rollout=RolloutConfig(k=2)), JUDGE)[0]
    assert mc.extra["first_error"] == 1
    assert bi.extra["first_error"] == 7
    assert [i for i, j in enumerate(bi.extra["judged"]) if j] == [3, 5, 6, 7]


# The verifier grades prefix + rollout. A rollout with no answer in it leaves the prefix's last
# number as the answer: after "71 + 10 = 81" (3 steps) that is the gold 81, before it 12 or 71. A
# rollout that states an answer is graded by it. The last step is the sample's own final answer (no
# rollouts): 81, correct.
@pytest.mark.parametrize("garbage,mc_values", [
    ("", [0.0, 0.0, 1.0, 1.0]),
    ("\x00\x01", [0.0, 0.0, 1.0, 1.0]),
    ("The answer is " + "9" * 5000, [0.0, 0.0, 0.0, 1.0]),
    ("\\boxed{" * 200, [0.0, 0.0, 1.0, 1.0]),                  # unclosed: no answer extracted
    ("The answer is ∞∞∞.", [0.0, 0.0, 0.0, 1.0]),
    ("The answer is 81" * 300, [1.0, 1.0, 1.0, 1.0]),            # the first "81" is taken: right
])
def test_model_output_never_raises(garbage, mc_values):
    q = P().question
    s = rollout_sampler({q: garbage}, {q: garbage})
    recs = label_mc(make_items([(P(), S(GOOD))]), s, prompt_fn, MCConfig(rollout=RolloutConfig(k=2)), JUDGE)
    assert recs[0].extra["mc_values"] == mc_values
    assert recs[0].labels == [v > 0 for v in mc_values]
    assert recs[0].extra["n_rollouts"] == [2, 2, 2, 0]
