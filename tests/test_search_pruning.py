"""The step checker inside beam search (`BeamConfig.verify_steps`) and the compute ledger of beam
search and best-of-N (`prm.search.cost.Cost`), against fakes only."""

from __future__ import annotations

import pytest

from fakes import (EOS, FakeSampler, FakeScorer, canned_sampler, good_bad_scorer, length_scorer, menu_sampler,
                   recording)
from prm.errors import UserError
from prm.records import Problem
from prm.sampler import Completion
from prm.search import STRATEGIES
from prm.search.beam import BeamConfig, beam_search
from prm.search.best_of_n import BestOfNConfig


def flags_bad(steps):
    """A step checker that proves every step containing 'bad' false and knows nothing else."""
    return [False if "bad" in s else None for s in steps]


def bad_loving_scorer() -> FakeScorer:
    """The PRM gets it backwards: 'bad' steps 0.9, the rest 0.1, so only the checker saves the beam."""
    return FakeScorer(lambda q, steps: [0.9 if s.startswith("bad") else 0.1 for s in steps])


# ----------------------------------------------------------------------------- prune / weight
@pytest.mark.parametrize("verify,first,pruned", [
    (None, "bad", 0),        # the PRM alone follows its taste
    ("prune", "good", 6),    # 2 of 4 candidates dropped at each of depths 0-2; the good ones fill the beam
    ("weight", "good", 0),   # kept in the pool, ranked last: nothing dropped
])
def test_the_checker_overrules_the_prm(verify, first, pruned):
    cfg = BeamConfig(beam_width=2, expand=2, max_steps=6, verify_steps=verify)
    [r] = beam_search(menu_sampler(), bad_loving_scorer(), [("q", "Q:\n")], cfg,
                      check_steps=flags_bad if verify else None)
    assert len(r.steps) == 3 and all(s.startswith(first) for s in r.steps), r.steps
    assert r.pruned == pruned and r.refilled == 0 and r.flagged is (first == "bad" and verify is not None)
    assert len(r.completed) == 2  # pruning left the beam full: two survivors at every depth


def bad_at_depth_1(rounds_bad: int):
    """A menu whose depth-1 steps are all 'bad' for the first `rounds_bad` requests at that depth."""
    seen = {"depth1": 0}

    def reply(prompt, params):
        depth = prompt.count(params.stop[0])
        if depth >= 3:
            return [Completion("", [EOS], None, "stop", 1, 1) for _ in range(params.n)]
        bad = depth == 1 and seen["depth1"] < rounds_bad
        seen["depth1"] += depth == 1
        return [Completion(f"{'bad' if bad or k % 2 else 'good'} {depth}.{k}.{seen['depth1']}", [1, 2, 3], None,
                           "stop", 1, 3) for k in range(params.n)]

    return FakeSampler(reply, eos_ids=(EOS,))


@pytest.mark.parametrize("rounds_bad,refill,refilled,second", [
    (1, 2, 1, "good"),   # one more round found good steps
    (3, 2, 2, "bad"),    # two more rounds found none: the proven-false ones are ranked after all
    (1, 0, 0, "bad"),    # no refill allowed: straight to the fallback
])
def test_refill_when_every_candidate_is_pruned(rounds_bad, refill, refilled, second):
    sampler = bad_at_depth_1(rounds_bad)
    cfg = BeamConfig(beam_width=1, expand=2, max_steps=6, verify_steps="prune", refill=refill, seed=0)
    [r] = beam_search(sampler, good_bad_scorer(), [("q", "Q:\n")], cfg, check_steps=flags_bad)
    assert r.refilled == refilled and r.steps[1].startswith(second) and len(r.steps) == 3
    depths = [p[0].count("\n\n") for p, _ in sampler.calls]
    assert depths.count(1) == 1 + refilled  # each refill round is one more request
    seeds = [q.seed for (p, q) in sampler.calls if p[0].count("\n\n") == 1]
    assert len(set(seeds)) == len(seeds)  # a refill round draws with its own seed


def test_verify_steps_needs_a_checker():
    with pytest.raises(UserError, match="verify_steps"):
        BeamConfig(verify_steps="sometimes")
    with pytest.raises(UserError, match="step checker"):
        beam_search(menu_sampler(), good_bad_scorer(), [("q", "Q:\n")], BeamConfig(verify_steps="prune"))
    code = [Problem(id="c", domain="code", question="q", test_format="mbpp", tests=["assert 1"])]
    for method, cfg in (("beam", BeamConfig(verify_steps="prune")), ("beam", BeamConfig(verify_steps="weight"))):
        with pytest.raises(UserError, match="'code' has none"):
            STRATEGIES[method].run(code, menu_sampler(), {"prm": good_bad_scorer()}, cfg)


def test_beam_run_reports_pruning_with_the_math_checker():
    pytest.importorskip("verifiers.math")
    math = [Problem(id="m", domain="math", question="3 + 4?", answer="7")]
    [r] = STRATEGIES["beam"].run(math, menu_sampler(), {"prm": good_bad_scorer()},
                                 BeamConfig(beam_width=2, expand=2, verify_steps="prune"))
    # sympy finds nothing checkable in the menu's steps: nothing pruned, and it says so
    assert r.extra["pruned"] == 0 and r.extra["refilled"] == 0 and r.samples[0].extra["pruned"] == 0


# ----------------------------------------------------------------------------- the compute ledger
def test_beam_cost_counts_every_request_and_reading():
    sampler, scorer = recording(menu_sampler()), good_bad_scorer()
    items = [("q1", "A:\n"), ("q2", "B: two words\n")]
    rs = beam_search(sampler, scorer, items, BeamConfig(beam_width=2, expand=2))
    sent = sum(len(c) for c in sampler.completions)
    assert sum(r.cost.generated_tokens for r in rs) == sum(c.completion_tokens for cs in sampler.completions
                                                           for c in cs)
    assert all(r.cost.generated_tokens == r.generated_tokens for r in rs)
    assert sum(r.cost.engine_calls for r in rs) == len(sampler.prompts) == len(sampler.completions) and sent
    assert sum(r.cost.scorer_calls for r in rs) == sum(scorer.batches)
    assert sum(r.cost.prompt_tokens for r in rs) == sum(len(p.split()) for p in sampler.prompts)
    assert all(r.cost.scored_unit == "words" and r.cost.scored_tokens > 0 for r in rs)  # fakes have no tokenizer
    # both problems search alike, so they cost alike but for the longer prompt
    assert rs[0].cost.scorer_calls == rs[1].cost.scorer_calls and rs[1].cost.prompt_tokens > rs[0].cost.prompt_tokens


def test_beam_run_puts_the_cost_in_the_result_and_the_record():
    pytest.importorskip("verifiers.math")
    math = [Problem(id="m", domain="math", question="3 + 4?", answer="7")]
    [r] = STRATEGIES["beam"].run(math, menu_sampler(), {"prm": good_bad_scorer()}, BeamConfig(beam_width=2, expand=2))
    assert r.extra["cost"] == r.samples[0].extra["cost"]
    assert r.extra["cost"]["generated_tokens"] == r.generated_tokens == 40 and "pruned" not in r.extra


def test_best_of_n_cost_counts_every_scorer():
    pytest.importorskip("verifiers.math")
    math = [Problem(id="m1", domain="math", question="3 + 4?", answer="7"),
            Problem(id="m2", domain="math", question="2 + 2?", answer="4")]
    sampler = recording(canned_sampler(["3 + 4 = 7\n\nThe answer is 7.", "The answer is 4."]))
    scorers = {"prm": length_scorer("prm"), "orm": length_scorer("orm")}
    out = STRATEGIES["bon"].run(math, sampler, scorers, BestOfNConfig(n=3))
    costs = [r.extra["cost"] for r in out]
    assert sum(c["generated_tokens"] for c in costs) == sum(c.completion_tokens for cs in sampler.completions
                                                            for c in cs) == 30
    assert [c["engine_calls"] for c in costs] == [1, 1] and len(sampler.prompts) == 2
    assert sum(c["scorer_calls"] for c in costs) == sum(s.stats["samples"] for s in scorers.values()) == 12
    for r in out:  # the records' shares add up to the problem's cost; the request is on sample 0
        assert [s.extra["cost"]["engine_calls"] for s in r.samples] == [1, 0, 0]
        for k in r.extra["cost"]:
            if k != "scored_unit":
                assert sum(s.extra["cost"][k] for s in r.samples) == r.extra["cost"][k]
