"""Building a scored pool from a (fake) sampler and (fake) scorers, judged by the real verifiers."""

import pytest

from prm.eval.bon import CurveConfig, bon_curves
from prm.eval.pool import build_pools, parse_sample
from prm.records import Problem
from prm.sampler import Completion
from prm.search.pool import judge_rows, sample_problems, score_rows, steps_of


class CannedSampler:
    def __init__(self, texts):
        self.texts = texts

    def generate(self, prompts, params):
        return [[Completion(self.texts[k % len(self.texts)], [1] * 5, None, "stop", 3, 5) for k in range(params.n)]
                for _ in prompts]


class Params:
    n = 4


class LengthScorer:
    """A PRM that likes short steps, an ORM that likes the letter 7."""
    def __init__(self, kind):
        self.kind = kind

    def score_batch(self, items):
        if self.kind == "prm":
            return [[1.0 / (1 + len(s)) for s in steps] for _, steps in items]
        return [[0.9 if "7" in " ".join(steps) else 0.1] for _, steps in items]


MATH = Problem(id="m1", domain="math", question="3 + 4?", answer="7")
TEXTS = ["3 + 4 = 7\n\nThe answer is 7.", "3 + 4 = 8\n\nThe answer is 8.", "", "3+4 = 7.0\n\nThe answer is 7.0"]


def test_steps_of():
    assert steps_of("a\n\n\n\nb", "math") == ["a", "b"]
    assert steps_of("def f():\n    return 1\n", "code") == ["def f():", "    return 1"]


def test_sample_judge_score_round_trip():
    pytest.importorskip("verifiers.math")
    rows = sample_problems(CannedSampler(TEXTS), [MATH], lambda q: "Q: " + q, Params())
    judge_rows([MATH], rows)
    score_rows([MATH], rows, {"prm": LengthScorer("prm"), "orm": LengthScorer("orm")})
    rs = rows[0]
    assert [r["correct"] for r in rs] == [True, False, False, True]
    assert rs[1]["step_verdicts"][0] is False           # sympy proves 3 + 4 = 8 false
    assert rs[2]["scores"] == {"prm": [0.0], "orm": 0.0}  # nothing written: lowest score, no scorer call
    assert isinstance(rs[0]["scores"]["prm"], list) and isinstance(rs[0]["scores"]["orm"], float)
    # "7" and "7.0" vote together through the verifier, not string equality
    pools = build_pools([parse_sample(r, f"m:{i}") for i, r in enumerate(rs)])
    g = pools[0].groups.tolist()
    assert g[0] == g[3] != g[1] and g[2] == -1
    assert pools[0].flagged.tolist() == [False, True, False, False]
    m = bon_curves(pools, cfg=CurveConfig(ns=(4,), repeats=3)).to_dict()["methods"]
    assert m["majority"]["mean"] == [1.0] and m["sympy"]["mean"][0] > 0.5
