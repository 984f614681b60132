"""Building a scored pool from a (fake) sampler and (fake) scorers, judged by the real verifiers."""

import pytest

from fakes import canned_sampler, length_scorer
from prm.eval.bon import CurveConfig, bon_curves
from prm.eval.pool import build_pools
from prm.records import PoolRecord, Problem
from prm.sampler import SamplingConfig
from prm.search.pool import judge_records, sample_records, score_records, steps_of

MATH = Problem(id="m1", domain="math", question="3 + 4?", answer="7")
TEXTS = ["3 + 4 = 7\n\nThe answer is 7.", "3 + 4 = 8\n\nThe answer is 8.", "", "3+4 = 7.0\n\nThe answer is 7.0"]


def test_steps_of():
    assert steps_of("a\n\n\n\nb", "math") == ["a", "b"]
    assert steps_of("def f():\n    return 1\n", "code") == ["def f():", "    return 1"]


def test_sample_judge_score_round_trip():
    pytest.importorskip("verifiers.math")
    records = sample_records(canned_sampler(TEXTS), [MATH], ["Q: 3 + 4?"], SamplingConfig(n=4))
    judge_records([MATH], records)
    score_records([MATH], records, {"prm": length_scorer("prm"), "orm": length_scorer("orm")})
    rs = records[0]
    assert [r.correct for r in rs] == [True, False, False, True]
    assert [r.answer for r in rs] == ["7", "8", None, "7.0"]
    assert rs[1].step_verdicts[0] is False           # sympy proves 3 + 4 = 8 false
    assert rs[2].scores == {"prm": [0.0], "orm": 0.0}  # nothing written: lowest score, no scorer call
    assert rs[0].scores["prm"] == [1 / 10, 1 / 17] and rs[0].scores["orm"] == 0.9
    # a pool line survives the JSONL round trip unchanged
    back = [PoolRecord.from_dict(r.to_dict(), f"m:{i}") for i, r in enumerate(rs)]
    assert [b.to_dict() for b in back] == [r.to_dict() for r in rs]
    # "7" and "7.0" vote together through the verifier, not string equality
    pools = build_pools(back)
    g = pools[0].groups.tolist()
    assert g[0] == g[3] != g[1] and g[2] == -1
    assert pools[0].flagged.tolist() == [False, True, False, False]
    m = bon_curves(pools, cfg=CurveConfig(ns=(4,), repeats=400)).to_dict()["methods"]
    # sympy: a random pick among the 3 unflagged samples, 2 of them right: 2/3 (random alone: 2 of 4,
    # 1/2); 400 draws put the estimate within 4 standard errors (0.094) of 2/3, and 1/2 outside them
    assert m["majority"]["mean"] == [1.0]
    assert m["sympy"]["mean"][0] == pytest.approx(2 / 3, abs=4 * (2 / 9 / 400) ** 0.5)


def test_best_of_n_seeds_each_problem_by_its_id_not_its_batch_position():
    """Reproducible pools: problem p draws with request_seed(seed, p.id), so its samples do not depend
    on which problems came with it or in what order (one seed for all requests made them depend on
    the engine's batching: two `prm demo` runs differed in 1,189 of 1,908 numbers)."""
    from fakes import FakeSampler
    from prm.sampler import Completion
    from prm.sampler.base import request_seed
    from prm.search.best_of_n import BestOfNConfig, run

    seen = {}

    def reply(prompt, params):
        seen.setdefault(prompt, set()).add(params.seed)
        return [Completion(text="2 + 2 = 4.\n\nThe answer is 4.", token_ids=[1], cumulative_logprob=0.0,
                           finish_reason="stop", prompt_tokens=1, completion_tokens=1)] * params.n

    probs = [Problem(id=f"p{i}", question=f"What is {i} + 4?", domain="math", answer="4") for i in range(3)]
    run(probs, FakeSampler(reply), {}, BestOfNConfig(n=2, seed=7))
    run(list(reversed(probs)), FakeSampler(reply), {}, BestOfNConfig(n=2, seed=7))
    run(probs[1:2], FakeSampler(reply), {}, BestOfNConfig(n=2, seed=7))
    seeds = {q: s for q, s in seen.items()}
    assert all(len(s) == 1 for s in seeds.values()), seeds                      # same seed in every batch
    assert len({next(iter(s)) for s in seeds.values()}) == 3                    # a different one per problem
    assert seeds["Question: What is 0 + 4?\nAnswer:\n"] == {request_seed(7, "p0")}
    run(probs, FakeSampler(reply), {}, BestOfNConfig(n=2, seed=None))
    assert all(None in s for s in seen.values())                                # None: the engine decides
