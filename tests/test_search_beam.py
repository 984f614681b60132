"""Beam search against a fake sampler and a fake scorer (no model)."""

import pytest

from fakes import EOS, FakeScorer, FakeSampler, good_bad_scorer, menu_sampler
from prm.errors import UserError
from prm.sampler import Completion
from prm.search.beam import BeamConfig, beam_search

def test_beam_keeps_good_prefixes_and_counts_tokens():
    sampler, scorer = menu_sampler(), good_bad_scorer()
    cfg = BeamConfig(beam_width=2, expand=2, max_steps=6)
    [r] = beam_search(sampler, scorer, [("q", "Q:\n")], cfg, sep="\n\n")
    assert len(r.steps) == 3 and all(s.startswith("good") for s in r.steps)
    assert r.score == pytest.approx(0.9) and not r.truncated
    # depth 0: 4 samples x 3 tokens; depth 1,2: 2 beams x 2 x 3; depth 3: the 2 beams end (1 token each)
    assert r.generated_tokens == 4 * 3 + 2 * (2 * 2 * 3) + 2 * 2 * 1
    assert sampler.calls[0][1].n == 4 and sampler.calls[1][1].n == 2
    assert sampler.calls[0][1].stop == ("\n\n",)


def test_aggregation_knob_changes_the_beam():
    # a good step after a bad one looks very good: `last` follows that path, `min` does not
    def one(i, steps):
        if steps[i].startswith("bad"):
            return 0.5
        return 0.9 if i == 0 else (0.95 if steps[i - 1].startswith("bad") else 0.7)

    def scorer():
        return FakeScorer(lambda q, steps: [one(i, steps) for i in range(len(steps))])

    res = {agg: beam_search(menu_sampler(), scorer(), [("q", "Q:\n")], BeamConfig(beam_width=2, expand=1, aggregation=agg))[0]
           for agg in ("min", "last")}
    assert res["min"].steps[0].startswith("good") and res["last"].steps[0].startswith("bad")


def test_is_done_stops_early_and_max_steps_truncates():
    [r] = beam_search(menu_sampler(), good_bad_scorer(), [("q", "Q:\n")], BeamConfig(beam_width=2, expand=2),
                      is_done=lambda steps: len(steps) == 1)
    assert len(r.steps) == 1 and r.depth == 1
    [r] = beam_search(menu_sampler(), good_bad_scorer(), [("q", "Q:\n")], BeamConfig(beam_width=2, expand=2, max_steps=2))
    assert len(r.steps) == 2 and r.truncated


def test_many_problems_share_calls():
    sampler, scorer = menu_sampler(), good_bad_scorer()
    rs = beam_search(sampler, scorer, [("q1", "A:\n"), ("q2", "B:\n"), ("q3", "C:\n")], BeamConfig(beam_width=2, expand=2))
    assert len(rs) == 3 and len(sampler.calls) == 4  # one generate call per depth, not per problem
    assert len(sampler.calls[0][0]) == 3


def test_context_overflow_finishes_the_beam_not_the_run():
    sampler = menu_sampler(max_len=len("B:\n") + 20)
    rs = beam_search(sampler, good_bad_scorer(), [("q1", "A:\n"), ("q2", "B:\n" + "x" * 200)], BeamConfig(beam_width=2, expand=2))
    assert len(rs[0].steps) == 3
    assert rs[1].steps == []


def test_config_validation():
    with pytest.raises(UserError):
        BeamConfig(beam_width=0)


def test_blank_step_that_is_not_eos_is_kept():
    def blank_reply(prompt, params):
        depth = prompt.count(params.stop[0])
        text, ids = {0: ("def f():", [1]), 1: ("", [2]), 2: ("    return 1", [3])}.get(depth, ("", [EOS]))
        return [Completion(text, ids, None, "stop", 1, len(ids)) for _ in range(params.n)]

    def no_blank_steps(q, steps):
        assert all(s.strip() for s in steps), "blank steps are not scored"
        return [0.9] * len(steps)

    [r] = beam_search(FakeSampler(blank_reply, eos_ids=(EOS,)), FakeScorer(no_blank_steps), [("q", "Q:")],
                      BeamConfig(beam_width=1, expand=1), sep="\n")
    assert "\n".join(r.steps) == "def f():\n\n    return 1"
