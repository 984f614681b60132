"""DVTS (`prm.search.dvts`): n / M independent greedy subtrees, each with its own seeds, against fakes."""

from __future__ import annotations

import pytest

from fakes import EOS, FakeSampler, FakeScorer, good_bad_scorer, menu_sampler, recording, seeded_menu_sampler
from prm.errors import UserError
from prm.records import Problem
from prm.sampler import Completion
from prm.search import STRATEGIES
from prm.search.beam import BeamConfig, beam_search
from prm.search.dvts import DVTSConfig

pytest.importorskip("verifiers.math")

MATH = [Problem(id="m1", domain="math", question="3 + 4?", answer="7"),
        Problem(id="m2", domain="math", question="2 + 2?", answer="4")]


def dvts(problems, sampler, scorer, **cfg):
    return STRATEGIES["dvts"].run(problems, sampler, {"prm": scorer}, DVTSConfig(**cfg))


@pytest.mark.parametrize("n,width,subtrees", [(16, 4, 4), (8, 2, 4), (4, 4, 1), (6, 1, 6)])
def test_the_budget_splits_into_n_over_m_subtrees(n, width, subtrees):
    sampler = menu_sampler()
    out = dvts(MATH, sampler, good_bad_scorer(), n=n, subtree_width=width, seed=0)
    assert [r.extra["subtrees"] for r in out] == [subtrees, subtrees] and all(r.strategy == "dvts" for r in out)
    # depth 0: one request per subtree of every problem, each asking M first steps
    prompts, params = sampler.calls[0]
    assert len(prompts) == 2 * subtrees and params.n == width
    assert [len(r.samples) for r in out] == [1, 1]


@pytest.mark.parametrize("cfg,match", [
    (dict(n=6, subtree_width=4), "multiple of subtree_width"),
    (dict(n=0), "n must be >= 1"),
    (dict(select="weight"), "select must be one of best, vote"),
    (dict(verify_steps="always"), "verify_steps"),
])
def test_config_refusals(cfg, match):
    with pytest.raises(UserError, match=match):
        DVTSConfig(**cfg)


def test_each_subtree_draws_with_its_own_seeds():
    sampler = seeded_menu_sampler()
    [r] = dvts(MATH[:1], sampler, good_bad_scorer(), n=8, subtree_width=2, seed=3)
    depth0 = [s for p, s in sampler.seeds if p.count("\n\n") == 0]
    assert len(depth0) == 4 and len(set(depth0)) == 4  # same prompt, four seeds
    # the subtrees wrote different solutions: the same prompt gave four answers among 1, 2, 3
    assert r.extra["answers_distinct"] > 1 and r.samples[0].extra["subtree"] in range(4)
    # the chosen leaf is a greedy path through the good steps, ended by its answer
    steps = r.samples[0].steps
    assert len(steps) == 3 and all(s.startswith("good") for s in steps) and "The answer is" in steps[-1]


@pytest.mark.parametrize("seed,distinct", [(None, 1), (5, 3)])
def test_answers_distinct_counts_the_diversity(seed, distinct):
    # unseeded, the fake draws alike for every request (a real engine would not): one answer
    sampler = seeded_menu_sampler()
    [r] = dvts(MATH[:1], sampler, good_bad_scorer(), n=12, subtree_width=2, seed=seed)
    finals = {s for p, s in sampler.seeds if p.count("\n\n") == 2}
    assert r.extra["answers_distinct"] == distinct == len({(s or 0) % 3 for s in finals})


def test_beam_search_seed_keys_make_copies_differ():
    items = [("q", "Q:\n")] * 2
    same = beam_search(seeded_menu_sampler(), good_bad_scorer(), items, BeamConfig(beam_width=1, expand=2, seed=0))
    keyed = beam_search(seeded_menu_sampler(), good_bad_scorer(), items, BeamConfig(beam_width=1, expand=2, seed=0),
                        seed_keys=["a", "b"])
    assert same[0].steps == same[1].steps and keyed[0].steps != keyed[1].steps


def answer_per_subtree(answers):
    """Subtree j (its place in the depth-2 request) answers answers[j]; depth 3 ends with EOS."""
    def reply(prompt, params):
        depth = prompt.count(params.stop[0])
        if depth >= 3:
            return [Completion("", [EOS], None, "stop", 1, 1) for _ in range(params.n)]
        text = f"step {depth}"
        if depth == 2:
            text = f"The answer is {answers[reply.count % len(answers)]}."
            reply.count += 1
        return [Completion(f"{text} #{k}" if depth < 2 else text, [1, 2], None, "stop", 1, 2) for k in range(params.n)]

    reply.count = 0
    return FakeSampler(reply, eos_ids=(EOS,))


@pytest.mark.parametrize("select,answer", [("best", "5"), ("vote", "7")])
def test_best_leaf_or_weighted_vote(select, answer):
    # one leaf says 5 and the PRM loves it (0.95); three say 7 at 0.6 each: 1.8 outvotes 0.95
    scorer = FakeScorer(lambda q, steps: [0.95 if "is 5" in s else 0.6 for s in steps])
    [r] = dvts(MATH[:1], answer_per_subtree(["5", "7", "7", "7"]), scorer, n=8, subtree_width=2, select=select)
    assert r.samples[0].answer == answer and r.extra["answers_distinct"] == 2
    assert r.samples[0].correct is (answer == "7")


def test_dvts_cost_is_summed_over_subtrees():
    sampler, scorer = recording(seeded_menu_sampler()), good_bad_scorer()
    out = dvts(MATH, sampler, scorer, n=8, subtree_width=2, seed=1)
    costs = [r.extra["cost"] for r in out]
    assert sum(c["generated_tokens"] for c in costs) == sum(c.completion_tokens for cs in sampler.completions
                                                            for c in cs)
    assert [r.generated_tokens for r in out] == [c["generated_tokens"] for c in costs]
    assert sum(c["engine_calls"] for c in costs) == len(sampler.prompts)
    assert sum(c["scorer_calls"] for c in costs) == sum(scorer.batches)
    assert all(r.samples[0].extra["cost"] == r.extra["cost"] for r in out)


def test_dvts_refuses_what_beam_refuses():
    code = [Problem(id="c", domain="code", question="q", test_format="mbpp", tests=["assert 1"])]
    with pytest.raises(UserError, match="'code' has none"):
        dvts(code, menu_sampler(), good_bad_scorer(), n=4, subtree_width=2, verify_steps="prune")
    with pytest.raises(UserError, match="one domain"):
        dvts(MATH + code, menu_sampler(), good_bad_scorer())
    with pytest.raises(UserError, match="a PRM"):
        STRATEGIES["dvts"].run(MATH, menu_sampler(), {}, DVTSConfig())


def test_dvts_with_pruning_reports_counts():
    [r] = dvts(MATH[:1], menu_sampler(), good_bad_scorer(), n=4, subtree_width=2, verify_steps="prune")
    assert r.extra["pruned"] == 0 and r.extra["refilled"] == 0  # sympy finds nothing to check in the menu


@pytest.mark.parametrize("flags,expect", [
    (["--n", "8", "--subtree-width", "2", "--select", "vote"], dict(n=8, subtree_width=2, select="vote")),
    (["--verify-steps", "prune", "--refill", "1"], dict(n=16, subtree_width=4, verify_steps="prune", refill=1)),
    (["--select", "weight"], "select must be one of best, vote"),   # pf's choice, not dvts's
    (["--n", "6"], "multiple of subtree_width"),
])
def test_prm_search_flags_fill_the_dvts_config(flags, expect):
    from prm.commands.search import strategy_config

    from test_cli_vocab import parser_for

    args = parser_for("search").parse_args(["--method", "dvts", "--problems", "p", "--model", "m", "--out", "o",
                                            *flags])
    if isinstance(expect, str):
        with pytest.raises(UserError, match=expect):
            strategy_config(STRATEGIES["dvts"], args)
    else:
        cfg = strategy_config(STRATEGIES["dvts"], args)
        assert {k: getattr(cfg, k) for k in expect} == expect
