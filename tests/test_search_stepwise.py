"""Step-level rejection sampling with adaptive chains (`prm.search.stepwise`), against fakes."""

from __future__ import annotations

import pytest

from fakes import EOS, FakeSampler, FakeScorer, good_bad_scorer, recording
from prm.errors import UserError
from prm.records import Problem
from prm.sampler import Completion
from prm.search import STRATEGIES
from prm.search.beam import _Search
from prm.search.cost import Cost
from prm.search.stepwise import StepwiseConfig, agreed, run_chains

pytest.importorskip("verifiers.math")

MATH = [Problem(id="m1", domain="math", question="3 + 4?", answer="7"),
        Problem(id="m2", domain="math", question="2 + 2?", answer="4")]


def stepwise(problems, sampler, scorer, **cfg):
    return STRATEGIES["stepwise"].run(problems, sampler, {"prm": scorer}, StepwiseConfig(**cfg))


def bad_first(fails: int, *, depth_end: int = 3, tokens: int = 3):
    """The first `fails` draws of the first step are 'bad', later ones and every later step 'good';
    from depth `depth_end` on the model ends the solution (EOS)."""
    tries: dict[str, int] = {}

    def reply(prompt, params):
        depth = prompt.count(params.stop[0])
        if depth >= depth_end:
            return [Completion("", [EOS], None, "stop", 1, 1) for _ in range(params.n)]
        k = tries.get(prompt, 0)
        tries[prompt] = k + params.n
        return [Completion(f"{'bad' if depth == 0 and k + j < fails else 'good'} {depth}.{k + j}", [1] * tokens, None, "stop", 1,
                           tokens) for j in range(params.n)]

    return FakeSampler(reply, eos_ids=(EOS,))


def search(sampler, scorer, cfg: StepwiseConfig, n: int = 1, check=None):
    items = [("q", "Q:\n")] * n
    s = _Search(sampler, scorer, items, cfg.beam(), "\n\n", None, check, [f"k{i}" for i in range(n)],
                {EOS}, [Cost() for _ in items], [0] * n, [0] * n)
    return s, run_chains(s, cfg)


# ----------------------------------------------------------------------------- one chain
@pytest.mark.parametrize("fails,tries,batch,rejected,first", [
    (0, 4, 1, 0, "good"),    # right the first time: one sample per step
    (2, 4, 1, 2, "good"),    # two bad draws turned down at depth 0, the third accepted
    (5, 4, 1, 4, "bad"),     # four tries all bad: the chain takes the best it saw (all bad, 0.1 each)
    (1, 4, 2, 1, "good"),    # a batch of two: the bad one is looked at and turned down, the good one taken
    (1, 1, 3, 1, "good"),    # one round of three: bad, then good accepted; the third drawn, never examined
])
def test_a_chain_samples_a_step_until_one_is_accepted(fails, tries, batch, rejected, first):
    sampler = recording(bad_first(fails))
    cfg = StepwiseConfig(chains=1, max_chains=1, tries=tries, step_batch=batch, accept=0.5)
    s, ([chain], [rej], [pru], [doubt]) = search(sampler, good_bad_scorer(), cfg)
    assert chain.steps[0].startswith(first) and all(x.startswith("good") for x in chain.steps[1:])
    assert len(chain.steps) == 3 and chain.finished and not chain.truncated
    assert rej == rejected and pru == 0 and doubt is (first == "bad")
    # every sampled token is paid for, turned-down and unexamined candidates included
    assert s.cost[0].generated_tokens == sum(c.completion_tokens for cs in sampler.completions for c in cs)


@pytest.mark.parametrize("accept,steps_bad", [(0.0, 3), (0.5, 0), (0.95, 0)])
def test_the_reward_threshold_decides_what_is_doubted(accept, steps_bad):
    # accept 0: nothing is doubted and the first draw (bad) always stays; 0.95: nothing reaches it, so
    # the chain takes the best of its tries, which is the good one
    sampler = bad_first(1)
    cfg = StepwiseConfig(chains=1, max_chains=1, tries=2, accept=accept)
    _, ([chain], _, _, _) = search(sampler, good_bad_scorer(), cfg)
    assert sum(x.startswith("bad") for x in chain.steps) == (1 if steps_bad else 0)


def test_the_checker_vetoes_what_the_prm_loves():
    def flags_bad(steps):
        return [False if "bad" in x else None for x in steps]

    loves_bad = FakeScorer(lambda q, steps: [0.9 if x.startswith("bad") else 0.2 for x in steps])
    cfg = StepwiseConfig(chains=1, max_chains=1, tries=4, accept=0.0, verify_steps="prune")
    _, ([chain], [rej], [pru], _) = search(bad_first(2), loves_bad, cfg, check=flags_bad)
    assert chain.steps[0].startswith("good") and not chain.flagged and rej == pru == 2
    _, ([chain], _, [pru], [doubt]) = search(bad_first(9), loves_bad, cfg, check=flags_bad)
    assert chain.flagged and doubt and pru == 4  # depth 0's four tries all bad: the chain goes on from one


def test_max_steps_cuts_a_chain():
    cfg = StepwiseConfig(chains=1, max_chains=1, max_steps=2)
    _, ([chain], _, _, _) = search(bad_first(0, depth_end=9), good_bad_scorer(), cfg)
    assert len(chain.steps) == 2 and chain.truncated


# ----------------------------------------------------------------------------- adaptive chains
def answers_in_order(answers, *, wrong_step: str | None = None):
    """Chain j (its place among the depth-1 requests, in order) answers answers[j]; depth 0 is a
    plain step (or `wrong_step` for the chains whose answer is 'W'), depth 2 ends with EOS."""
    state = {"n": 0}

    def reply(prompt, params):
        depth = prompt.count(params.stop[0])
        if depth >= 2:
            return [Completion("", [EOS], None, "stop", 1, 1) for _ in range(params.n)]
        if depth == 0:
            return [Completion("3 + 4 = 7", [1, 2], None, "stop", 1, 2) for _ in range(params.n)]
        a = answers[state["n"] % len(answers)]
        state["n"] += 1
        return [Completion(f"The answer is {a}.", [1, 2], None, "stop", 1, 2) for _ in range(params.n)]

    return FakeSampler(reply, eos_ids=(EOS,))


@pytest.mark.parametrize("answers,chains,max_chains,stop_share,used,rounds", [
    (["7", "7"], 2, 8, 1.0, 2, 1),                 # the first two agree: stop
    (["7", "8", "7", "7"], 2, 8, 1.0, 8, 4),       # 7 leads 3:1 after round 2, never unanimous: to the budget
    (["7", "8", "7", "7"], 2, 8, 0.7, 4, 2),       # ... a 0.75 share is enough at 0.7
    (["7", "8", "9", "7"], 2, 3, 1.0, 2, 1),       # a second round would not fit in max_chains 3
    (["7"], 1, 4, 1.0, 2, 2),                      # agree=2: one chain never stops alone
])
def test_more_chains_only_while_answers_disagree(answers, chains, max_chains, stop_share, used, rounds):
    [r] = stepwise(MATH[:1], answers_in_order(answers), FakeScorer(lambda q, s: [0.5] * len(s)),
                   chains=chains, max_chains=max_chains, stop_share=stop_share)
    assert r.extra["chains"] == used and r.extra["rounds"] == rounds
    assert r.samples[0].answer == "7" and r.samples[0].correct and r.strategy == "stepwise"


@pytest.mark.parametrize("groups,weights,trusted,agree,share,stop", [
    ([0, 0], [0.5, 0.5], [True, True], 2, 1.0, True),
    ([0, 1], [0.5, 0.5], [True, True], 2, 1.0, False),
    ([0, 1], [0.5, 0.5], [True, False], 1, 1.0, True),     # the untrusted chain has no vote
    ([0, 1], [0.5, 0.5], [True, False], 2, 1.0, False),    # ... and one trusted chain is not two
    ([0, 0], [0.5, 0.5], [False, False], 1, 0.0, False),   # agreement among doubted chains stops nothing
    ([0, 0, 1], [0.3, 0.3, 0.4], [True] * 3, 2, 0.6, True),
    ([0, 0, 1], [0.3, 0.3, 0.4], [True] * 3, 2, 0.7, False),
    ([0, 0, 1], [0.2, 0.2, 0.6], [True] * 3, 2, 0.4, False),  # the vote's leader is one chain
    ([-1, -1], [0.5, 0.5], [True, True], 1, 0.0, False),       # no answers, nothing agreed
])
def test_the_stopping_rule(groups, weights, trusted, agree, share, stop):
    cfg = StepwiseConfig(agree=agree, stop_share=share)
    assert agreed(groups, weights, trusted, cfg) is stop


def test_chains_agreeing_through_a_doubted_step_do_not_stop_the_search():
    # every chain answers 7, but through a first step the PRM doubts (0.1 < accept) and no try fixes
    sampler = answers_in_order(["7"])
    doubts_first = FakeScorer(lambda q, steps: [0.1] + [0.9] * (len(steps) - 1))
    [r] = stepwise(MATH[:1], sampler, doubts_first, chains=2, max_chains=6, tries=2, accept=0.5)
    assert r.extra["chains"] == 6 and r.extra["trusted"] == 0 and r.extra["rounds"] == 3
    [r] = stepwise(MATH[:1], answers_in_order(["7"]), FakeScorer(lambda q, s: [0.9] * len(s)),
                   chains=2, max_chains=6, tries=2, accept=0.5)
    assert r.extra["chains"] == 2 and r.extra["trusted"] == 2


def test_the_vote_leaves_proven_false_chains_out():
    # two chains say 8 through a false step (the PRM loves them), two say 7 through true ones
    def reply(prompt, params):
        depth = prompt.count(params.stop[0])
        if depth >= 2:
            return [Completion("", [EOS], None, "stop", 1, 1) for _ in range(params.n)]
        if depth == 0:
            reply.n += 1
            wrong = reply.n % 2 == 1
            return [Completion("3 + 4 = 8" if wrong else "3 + 4 = 7", [1], None, "stop", 1, 1)]
        return [Completion("The answer is 8." if "= 8" in prompt else "The answer is 7.", [1], None, "stop", 1, 1)]

    reply.n = 0
    scorer = FakeScorer(lambda q, steps: [0.9 if "8" in " ".join(steps) else 0.3 for _ in steps])
    args = dict(chains=4, max_chains=4, tries=1, accept=0.0)
    [plain] = stepwise(MATH[:1], FakeSampler(reply, eos_ids=(EOS,)), scorer, **args)
    reply.n = 0
    [checked] = stepwise(MATH[:1], FakeSampler(reply, eos_ids=(EOS,)), scorer, verify_steps="prune", **args)
    assert plain.samples[0].answer == "8" and checked.samples[0].answer == "7"
    assert checked.extra["pruned"] == 2 and "pruned" not in plain.extra


def test_cost_counts_every_request_of_every_round():
    sampler, scorer = recording(answers_in_order(["7", "8", "7", "7"])), good_bad_scorer()
    out = stepwise(MATH, sampler, scorer, chains=2, max_chains=4, stop_share=1.0)
    costs = [r.extra["cost"] for r in out]
    assert sum(c["generated_tokens"] for c in costs) == sum(c.completion_tokens for cs in sampler.completions
                                                            for c in cs)
    assert sum(c["engine_calls"] for c in costs) == len(sampler.prompts)
    assert [r.generated_tokens for r in out] == [c["generated_tokens"] for c in costs]


@pytest.mark.parametrize("cfg,match", [
    (dict(chains=3, max_chains=2), "chains .3. must be <= max_chains"),
    (dict(tries=0), "tries must be >= 1"),
    (dict(stop_share=1.5), "stop_share"),
    (dict(select="weight"), "select must be one of vote, best"),
    (dict(verify_steps="always"), "verify_steps"),
    (dict(aggregation="max"), "aggregation"),
])
def test_config_refusals(cfg, match):
    with pytest.raises(UserError, match=match):
        StepwiseConfig(**cfg)


def test_refuses_what_every_step_strategy_refuses():
    code = [Problem(id="c", domain="code", question="q", test_format="mbpp", tests=["assert 1"])]
    with pytest.raises(UserError, match="'code' has none"):
        stepwise(code, bad_first(0), good_bad_scorer(), verify_steps="prune")
    with pytest.raises(UserError, match="a PRM"):
        STRATEGIES["stepwise"].run(MATH, bad_first(0), {}, StepwiseConfig())


@pytest.mark.parametrize("flags,expect", [
    (["--chains", "1", "--max-chains", "6", "--tries", "3", "--accept", "0.4", "--stop-share", "0.8",
      "--agree", "3", "--step-batch", "2"],
     dict(chains=1, max_chains=6, tries=3, accept=0.4, stop_share=0.8, agree=3, step_batch=2)),
    (["--verify-steps", "prune", "--select", "best"], dict(verify_steps="prune", select="best")),
    (["--accept", "1.5"], SystemExit),
    (["--chains", "9"], "must be <= max_chains"),
])
def test_prm_search_flags_fill_the_stepwise_config(flags, expect):
    from prm.commands.search import strategy_config

    from test_cli_vocab import parser_for

    argv = ["--method", "stepwise", "--problems", "p", "--model", "m", "--out", "o", *flags]
    if expect is SystemExit:
        with pytest.raises(SystemExit):
            parser_for("search").parse_args(argv)
        return
    args = parser_for("search").parse_args(argv)
    if isinstance(expect, str):
        with pytest.raises(UserError, match=expect):
            strategy_config(STRATEGIES["stepwise"], args)
        return
    cfg = strategy_config(STRATEGIES["stepwise"], args)
    assert {k: getattr(cfg, k) for k in expect} == expect


def test_a_server_budget_is_the_most_chains():
    from prm.serve.searcher import methods, search_config

    assert "stepwise" in methods()
    cfg = search_config("stepwise", 8, {"accept": 0.3})
    assert (cfg.max_chains, cfg.chains, cfg.accept) == (8, 2, 0.3)
    assert search_config("stepwise", 1).chains == 1


def test_programs_are_grouped_by_their_text_not_by_the_grading_tests():
    from prm.records import PoolRecord
    from prm.search.dvts import answer_groups

    def rec(text, group):
        return PoolRecord("c", group == "PP", domain="code", group=group, extra={"text": text})

    # two different programs that both pass the tests ("PP") must not count as agreeing: the stopping
    # rule would read the grading tests; the same program, spaced differently, does agree
    recs = [rec("def f(x):\n    return x + 1", "PP"), rec("def f(x):\n    return 1 + x", "PP"),
            rec("def f(x):\n  return x + 1", "PP"), rec("def f(x):\n    return x", "FF")]
    assert answer_groups(recs) == [0, 1, 0, 2]
    maths = [PoolRecord("m", True, domain="math", answer=a) for a in ("1/2", "0.5", "2", None)]
    assert answer_groups(maths) == [0, 0, 1, -1]
