"""Particle filtering (`prm.search.particle`, strategy `pf`) against fake samplers and scorers: the
pure weight and resampling functions, the search's behaviour, its ledger, and `prm search --method pf`."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace

import pytest

from fakes import EOS, FakeSampler, FakeScorer, good_bad_scorer, menu_sampler
from prm.errors import UserError
from prm.records import PoolRecord, Problem
from prm.sampler import Completion
from prm.search import STRATEGIES
from prm.search.particle import ParticleConfig, ess, multinomial, normalize, particle_filter, resample, systematic

MATH = [Problem(id="m1", domain="math", question="3 + 4?", answer="7"),
        Problem(id="m2", domain="math", question="2 + 2?", answer="4")]


def coin_sampler(p_good: float = 0.5, depth_end: int = 3) -> FakeSampler:
    """One step per request, 'good d.s' or 'bad d.s' drawn from the request's own seed s (so copies of
    a particle with different seeds diverge); EOS at depth `depth_end`. Tokens: 3 per step, 1 for EOS."""
    def reply(prompt, params):
        depth = prompt.count(params.stop[0])
        if depth >= depth_end:
            return [Completion("", [EOS], None, "stop", 1, 1)]
        s = params.seed if params.seed is not None else random.randrange(1 << 30)
        kind = "good" if random.Random(s).random() < p_good else "bad"
        return [Completion(f"{kind} {depth}.{s % 997}", [1, 2, 3], None, "stop", 1, 3)]

    return FakeSampler(reply, eos_ids=(EOS,))


def bad_checker(steps):
    """A step checker that proves every step containing 'bad' false and knows nothing else."""
    return [False if "bad" in s else None for s in steps]


@pytest.fixture
def math_checker(monkeypatch):
    from prm.domains import DOMAINS

    monkeypatch.setitem(DOMAINS, "math", replace(DOMAINS["math"], check_steps=bad_checker))


# ----------------------------------------------------------------------------- pure functions
@pytest.mark.parametrize("weights,want", [
    ([0.25] * 4, 4.0),
    ([1.0, 0.0, 0.0, 0.0], 1.0),
    ([0.5, 0.5, 0.0, 0.0], 2.0),
    ([2.0, 2.0], 2.0),                    # normalised first
    ([0.0, 0.0], 0.0),
])
def test_ess(weights, want):
    assert ess(weights) == pytest.approx(want)


@pytest.mark.parametrize("log_weights,want", [
    ([0.0, 0.0], [0.5, 0.5]),
    ([-math.inf, 1.0], [0.0, 1.0]),       # a proven-false particle weighs 0
    ([-math.inf, -math.inf], [0.5, 0.5]),  # nothing to prefer
    ([1000.0, 1000.0 + math.log(3)], [0.25, 0.75]),  # no overflow
])
def test_normalize(log_weights, want):
    assert normalize(log_weights) == pytest.approx(want)


class FixedRng:
    """random() returns a fixed number: systematic resampling's one draw."""

    def __init__(self, x):
        self.x = x

    def random(self):
        return self.x


@pytest.mark.parametrize("weights,draw,want", [
    ([0.5, 0.25, 0.125, 0.125], 0.2, [0, 0, 1, 2]),    # u = 0.05: positions .05 .30 .55 .80
    ([0.5, 0.25, 0.125, 0.125], 0.8, [0, 0, 1, 3]),    # u = 0.20: positions .20 .45 .70 .95
    ([0.25] * 4, 0.5, [0, 1, 2, 3]),                   # equal weights: every particle once
    ([0.0, 1.0, 0.0], 0.99, [1, 1, 1]),
    ([1.0, 0.0, 0.0], 0.999999, [0, 0, 0]),            # a weight-0 particle is never drawn
])
def test_systematic_resampling(weights, draw, want):
    assert systematic(weights, FixedRng(draw)) == want


def test_systematic_counts_are_floor_or_ceil_of_n_w():
    rng = random.Random(0)
    for _ in range(200):
        w = [rng.random() ** 3 for _ in range(8)]
        total = sum(w)
        idx = systematic(w, rng)
        for i, x in enumerate(w):
            assert math.floor(8 * x / total) <= idx.count(i) <= math.ceil(8 * x / total)


def test_multinomial_resampling():
    assert multinomial([0.0, 1.0, 0.0], random.Random(0)) == [1, 1, 1]
    draws = multinomial([0.1, 0.6, 0.3], random.Random(1))
    assert len(draws) == 3 and draws == sorted(draws)
    assert multinomial([0.1, 0.6, 0.3], random.Random(1)) == draws  # one seed, one draw
    big = [i for _ in range(50) for i in multinomial([0.2, 0.8], random.Random(_))]
    assert big.count(1) > big.count(0)
    with pytest.raises(ValueError):
        resample([0.5, 0.5], "stratified", random.Random(0))


# ----------------------------------------------------------------------------- the search
def run_pf(cfg, sampler=None, scorer=None, items=(("p", "q", "Q:\n"),), **kw):
    return particle_filter(sampler or coin_sampler(), scorer or good_bad_scorer(), list(items), cfg, **kw)


@pytest.mark.parametrize("threshold,resamples", [(0.5, 0), (0.0, 0), (1.0, 3)])
def test_equal_weights_resample_only_when_told_to_every_step(threshold, resamples):
    flat = FakeScorer(lambda q, steps: [0.5] * len(steps))
    [r] = run_pf(ParticleConfig(n_particles=4, ess_threshold=threshold, seed=1), scorer=flat)
    assert r.resamples == resamples   # 1.0: depths 0-2; never after depth 3, where all have ended
    assert r.ess == [4.0] * 4 and r.depth == 4
    assert all(p.finished and not p.truncated and len(p.steps) == 3 for p in r.particles)


@pytest.mark.parametrize("scheme", ["systematic", "multinomial"])
def test_good_paths_win_over_bad_ones(scheme):
    cfg = ParticleConfig(n_particles=8, ess_threshold=1.0, softmax_temperature=0.1, resampling=scheme, seed=4)
    [r] = run_pf(cfg)
    all_good = [p for p in r.particles if all(s.startswith("good") for s in p.steps)]
    # a fair coin per step: without resampling 1 in 8 particles would be all good
    assert len(all_good) >= 6 and r.resamples == 3
    [plain] = run_pf(replace(cfg, ess_threshold=0.0))
    assert plain.resamples == 0
    assert sum(all(s.startswith("good") for s in p.steps) for p in plain.particles) < len(all_good)


def test_finished_particles_stay_in_the_population():
    # a particle whose first step is good is done there; the others go on to depth 3
    cfg = ParticleConfig(n_particles=8, ess_threshold=0.0, seed=2)
    [r] = run_pf(cfg, is_done=lambda steps: steps[-1].startswith("good"))
    assert len(r.particles) == 8
    short = [p for p in r.particles if len(p.steps) == 1]
    assert short and all(p.finished and p.steps[0].startswith("good") for p in short)
    assert any(len(p.steps) > 1 for p in r.particles)
    # with resampling every step, a finished particle can be copied: its copies stay finished
    [r] = run_pf(replace(cfg, ess_threshold=1.0), is_done=lambda steps: steps[-1].startswith("good"))
    assert len(r.particles) == 8 and all(p.finished for p in r.particles)


def test_max_steps_truncates():
    [r] = run_pf(ParticleConfig(n_particles=2, max_steps=2, seed=0))
    assert r.depth == 2 and all(p.truncated and len(p.steps) == 2 for p in r.particles)


def test_a_refused_prompt_ends_its_particles_not_the_run():
    sampler = menu_sampler(max_len=len("B:\n") + 40)
    rs = run_pf(ParticleConfig(n_particles=2, seed=0), sampler=sampler,
                items=[("a", "q1", "A:\n"), ("b", "q2", "B:\n" + "x" * 200)])
    assert all(len(p.steps) == 3 and not p.truncated for p in rs[0].particles)
    assert all(p.steps == [] and p.truncated for p in rs[1].particles)
    assert rs[1].cost.engine_calls == 2 and rs[1].cost.generated_tokens == 0  # refused requests count as calls


def test_one_generate_and_one_score_batch_per_depth_for_all_problems():
    sampler, scorer = coin_sampler(), good_bad_scorer()
    run_pf(ParticleConfig(n_particles=3, seed=0), sampler=sampler, scorer=scorer,
           items=[("a", "q1", "A:\n"), ("b", "q2", "B:\n")])
    assert len(sampler.calls) == 4 and len(sampler.calls[0][0]) == 6    # 2 problems x 3 particles
    assert all(params.n == 1 for _, params in sampler.calls)
    assert scorer.batches == [6, 6, 6]   # depth 3 only ends them: nothing new to score


def test_copies_of_a_particle_draw_with_distinct_seeds():
    seeds = []
    inner = coin_sampler()

    def reply(prompt, params):
        seeds.append((prompt, params.seed))
        return inner.reply(prompt, params)

    sampler = FakeSampler(reply, eos_ids=(EOS,))
    [r] = run_pf(ParticleConfig(n_particles=4, ess_threshold=1.0, softmax_temperature=0.01, seed=7), sampler=sampler)
    by_call = [seeds[4 * d: 4 * d + 4] for d in range(4)]
    assert all(len({s for _, s in call}) == 4 for call in by_call)   # one seed per particle and depth
    assert len({s for _, s in seeds}) == 16
    # resampling at depth 0 copied the best first step: the copies share a prompt, and still diverge
    assert len({p for p, _ in by_call[1]}) < 4 and len({tuple(p.steps) for p in r.particles}) > 1


# ----------------------------------------------------------------------------- the strategy
def test_pf_returns_the_chosen_particle_as_a_judged_pool_record():
    pytest.importorskip("verifiers.math")
    sampler = coin_sampler()
    seen = []
    inner = sampler.generate

    def counting(prompts, params):
        out = inner(prompts, params)
        seen.append(out)
        return out

    sampler.generate = counting
    cfg = ParticleConfig(n_particles=4, ess_threshold=1.0, softmax_temperature=0.1, reward="min", seed=3)
    rs = STRATEGIES["pf"].run(MATH, sampler, {"prm": good_bad_scorer()}, cfg)
    assert [r.problem_id for r in rs] == ["m1", "m2"] and all(r.strategy == "pf" for r in rs)
    for r in rs:
        [rec] = r.samples
        assert rec.steps and all(s.startswith("good") for s in rec.steps)
        assert rec.scores == {"prm": [0.9] * len(rec.steps)} and rec.extra["score"] == pytest.approx(0.9)
        assert rec.extra["text"] == "\n\n".join(rec.steps) and rec.correct is False
        assert 0 < rec.extra["weight"] <= 1 and rec.extra["truncated"] is False and rec.extra["depth"] == 4
        assert rec.extra["resamples"] == 3 and len(rec.extra["ess"]) == 4 and rec.extra["pruned"] == 0
        assert rec.extra["cost"] == r.extra["cost"] and r.extra["n_particles"] == 4
        assert 1 <= r.extra["answers_distinct"] <= 4
        cost = r.extra["cost"]
        assert cost["generated_tokens"] == r.generated_tokens == rec.extra["generated_tokens"]
        # every particle: 3 steps of 3 tokens and one EOS token, one request per step and one for EOS
        assert r.generated_tokens == 4 * (3 * 3 + 1) and cost["engine_calls"] == 4 * 4
        assert cost["scorer_calls"] == 4 * 3 and cost["scored_unit"] == "words" and cost["scored_tokens"] > 0
    total = sum(c.completion_tokens for out in seen for comps in out for c in comps)
    assert total == sum(r.generated_tokens for r in rs)


def test_same_seed_same_result():
    pytest.importorskip("verifiers.math")

    def once(seed, scheme):
        cfg = ParticleConfig(n_particles=6, ess_threshold=0.9, resampling=scheme, seed=seed)
        return [(r.samples[0].to_dict(), r.extra) for r in
                STRATEGIES["pf"].run(MATH, coin_sampler(), {"prm": good_bad_scorer()}, cfg)]

    for scheme in ("systematic", "multinomial"):
        assert once(11, scheme) == once(11, scheme)
    assert len({json.dumps(once(s, "multinomial"), sort_keys=True) for s in (1, 2, 3)}) > 1


@pytest.mark.parametrize("select,answer,correct", [("weight", "8", False), ("vote", "7", True)])
def test_select_weight_or_weighted_vote(select, answer, correct):
    pytest.importorskip("verifiers.math")
    order = iter(["7", "7", "8", "7"])
    sampler = FakeSampler(lambda prompt, params: [Completion(f"The answer is {next(order)}.", [1], None, "stop", 1, 1)])
    scorer = FakeScorer(lambda q, steps: [0.9 if "8" in steps[-1] else 0.8])
    cfg = ParticleConfig(n_particles=4, ess_threshold=0.0, select=select, seed=0)
    [r] = STRATEGIES["pf"].run(MATH[:1], sampler, {"prm": scorer}, cfg)
    [rec] = r.samples
    # one step each (a marked final answer ends the solution); the 8 weighs most, the 7s weigh most together
    assert rec.answer == answer and rec.correct is correct and rec.extra["depth"] == 1
    assert r.extra["answers_distinct"] == 2


def test_verify_steps_gives_proven_false_steps_weight_zero(math_checker):
    pytest.importorskip("verifiers.math")
    likes_bad = FakeScorer(lambda q, steps: [0.9 if s.startswith("bad") else 0.1 for s in steps])
    cfg = ParticleConfig(n_particles=8, ess_threshold=1.0, softmax_temperature=0.1, reward="min", seed=5)
    [plain] = STRATEGIES["pf"].run(MATH[:1], coin_sampler(), {"prm": likes_bad}, cfg)
    assert any(s.startswith("bad") for s in plain.samples[0].steps) and plain.samples[0].extra["pruned"] == 0
    for mode in ("prune", "weight"):
        [r] = STRATEGIES["pf"].run(MATH[:1], coin_sampler(), {"prm": likes_bad}, replace(cfg, verify_steps=mode))
        [rec] = r.samples
        assert all(s.startswith("good") for s in rec.steps) and rec.extra["pruned"] > 0
        assert rec.step_verdicts == [None] * len(rec.steps) and "verify_fallback" not in rec.extra


def test_verify_steps_falls_back_when_every_particle_is_proven_false(math_checker):
    pytest.importorskip("verifiers.math")
    cfg = ParticleConfig(n_particles=3, verify_steps="prune", seed=0)
    [r] = STRATEGIES["pf"].run(MATH[:1], coin_sampler(p_good=0.0), {"prm": good_bad_scorer()}, cfg)
    [rec] = r.samples
    assert len(rec.steps) == 3 and rec.extra["pruned"] == 9 and rec.extra["verify_fallback"] == 4
    assert rec.extra["ess"] == [3.0, 3.0, 3.0, 3.0]   # the unchecked weights, all equal


def test_verify_steps_needs_a_step_checker():
    code = [Problem(id="c", domain="code", question="q", test_format="mbpp", tests=["assert 1"])]
    with pytest.raises(UserError, match="'code'"):
        STRATEGIES["pf"].run(code, coin_sampler(), {"prm": good_bad_scorer()}, ParticleConfig(verify_steps="prune"))


@pytest.mark.parametrize("problems,scorers,cfg,match", [
    (MATH, {}, ParticleConfig(), "needs a PRM"),
    (MATH, {"prm": None}, ParticleConfig(guide="x"), "no scorer named 'x'"),
    (MATH[:1] + [Problem(id="c", domain="code", question="q", test_format="mbpp", tests=["assert 1"])],
     {"prm": None}, ParticleConfig(), "one domain"),
])
def test_run_refuses(problems, scorers, cfg, match):
    with pytest.raises(UserError, match=match):
        STRATEGIES["pf"].run(problems, coin_sampler(), scorers, cfg)


@pytest.mark.parametrize("field,value", [
    ("n_particles", 0), ("max_steps", 0), ("max_step_tokens", 0), ("softmax_temperature", 0.0),
    ("resampling", "stratified"), ("ess_threshold", 1.5), ("ess_threshold", -0.1), ("reward", "max"),
    ("select", "best"), ("verify_steps", "drop"), ("temperature", -1.0), ("top_p", 0.0),
])
def test_config_validation_names_the_field(field, value):
    with pytest.raises(UserError, match=field):
        ParticleConfig(**{field: value})


# ----------------------------------------------------------------------------- prm search --method pf
def test_pf_flags_fill_the_config():
    from prm.commands.search import strategy_config

    from test_cli_vocab import parser_for

    args = parser_for("search").parse_args(
        ["--method", "pf", "--problems", "p", "--model", "m", "--out", "o", "--seed", "9", "--n-particles", "5",
         "--softmax-temperature", "0.5", "--resampling", "multinomial", "--ess-threshold", "1", "--reward", "min",
         "--select", "vote", "--max-steps", "4"])
    cfg = strategy_config(STRATEGIES["pf"], args)
    assert (cfg.seed, cfg.n_particles, cfg.softmax_temperature, cfg.resampling, cfg.ess_threshold, cfg.reward,
            cfg.select, cfg.max_steps) == (9, 5, 0.5, "multinomial", 1.0, "min", "vote", 4)
    args = parser_for("search").parse_args(["--method", "pf", "--problems", "p", "--model", "m", "--out", "o"])
    defaults = ParticleConfig()
    cfg = strategy_config(STRATEGIES["pf"], args)
    assert (cfg.n_particles, cfg.resampling, cfg.ess_threshold, cfg.reward, cfg.select) == (
        defaults.n_particles, defaults.resampling, defaults.ess_threshold, defaults.reward, defaults.select)


def test_prm_search_method_pf_end_to_end(monkeypatch, tmp_path):
    pytest.importorskip("verifiers.math")
    from prm.cli import main

    monkeypatch.setattr("prm.sampler.make_sampler", lambda cfg: coin_sampler())
    monkeypatch.setattr("prm.scoring.load_scorer", lambda path, **kw: good_bad_scorer())
    problems = tmp_path / "p.jsonl"
    problems.write_text("".join(json.dumps(p.to_dict()) + "\n" for p in MATH))
    for d in ("m", "s"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "config.json").write_text("{}")
    out = tmp_path / "pf.jsonl"
    assert main(["search", "--method", "pf", "--problems", str(problems), "--model", str(tmp_path / "m"),
                 "--scorer", f"prm={tmp_path / 's'}", "--n-particles", "4", "--ess-threshold", "1",
                 "--reward", "min", "--softmax-temperature", "0.1", "--seed", "3", "--out", str(out)]) == 0
    rows = [PoolRecord.from_dict(json.loads(line)) for line in out.read_text().splitlines()]
    assert [r.problem_id for r in rows] == ["m1", "m2"]
    for r in rows:
        assert all(s.startswith("good") for s in r.steps) and len(r.scores["prm"]) == len(r.steps)
        assert r.extra["resamples"] == 3 and r.extra["cost"]["generated_tokens"] == 4 * 10
