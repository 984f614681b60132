"""Best-of-N curves, the pool format, and the Goodhart diagnostics on synthetic pools."""

import json
import random

import numpy as np
import pytest

from prm.errors import RecordError
from prm.eval.bon import CurveConfig, at_compute, bon_curves, default_methods, default_ns
from prm.eval.hacking import _p_any, false_step_rate, goodhart, length_bias, sound_ceiling
from prm.eval.pool import build_pools, parse_sample, read_pool
from prm.search.select import Method


def _same(a, b):
    return a == b


def _spearman(x, y) -> float:
    """Rank correlation written out here (apart from prm.eval.metrics): Pearson on average ranks."""
    def ranks(v):
        return [sum(w < a for w in v) + (sum(w == a for w in v) + 1) / 2 for a in v]
    return float(np.corrcoef(ranks(x), ranks(y))[0, 1])


def synthetic(n_problems=20, n=8, seed=0, prm_informative=True):
    """A policy right 30% of the time; wrong answers scatter over 4 values; the PRM's last step is
    higher for correct samples when informative; the ORM is noise."""
    rng = random.Random(seed)
    rows = []
    for p in range(n_problems):
        for k in range(n):
            ok = rng.random() < 0.3
            ans = "42" if ok else str(rng.randint(0, 3))
            good = 0.8 if (ok and prm_informative) else 0.3
            rows.append({"problem_id": f"p{p}", "sample_id": k, "correct": ok, "answer": ans,
                         "scores": {"prm": [0.9, good + rng.random() * 0.15], "orm": rng.random()},
                         "steps": ["x" * rng.randint(1, 50), "The answer is " + ans],
                         "step_verdicts": [None, False if (k % 3 == 0) else None],
                         "completion_tokens": 10 + k})
    return rows


def _pools(rows, **kw):
    return build_pools([parse_sample(r, f"mem:{i}") for i, r in enumerate(rows)], same=_same, **kw)


def test_default_ns():
    pools = _pools(synthetic(n=6))
    assert default_ns(pools) == [1, 2, 4, 6]


def test_curves_order_methods_sensibly():
    pools = _pools(synthetic())
    curves = bon_curves(pools, cfg=CurveConfig(repeats=30, seed=1))
    d = curves.to_dict()
    m = d["methods"]
    assert d["ns"] == [1, 2, 4, 8]
    # N=1: every method picks the one sample, so all equal random
    assert len({round(m[k]["mean"][0], 9) for k in m}) == 1
    # oracle is an upper bound at every N and grows with N
    for k in m:
        assert all(a <= o + 1e-12 for a, o in zip(m[k]["mean"], m["oracle"]["mean"]))
    assert m["oracle"]["mean"][-1] > m["oracle"]["mean"][0]
    # an informative PRM beats random at N=8; majority too (wrong answers scatter)
    assert m["prm:last"]["mean"][-1] > m["random"]["mean"][-1] + 0.2
    assert m["majority"]["mean"][-1] > m["random"]["mean"][-1]
    # intervals bracket the mean
    for k in m:
        for lo, mu, hi in zip(m[k]["lo"], m[k]["mean"], m[k]["hi"]):
            assert lo <= mu + 0.05 and mu - 0.05 <= hi


def test_curves_are_reproducible_and_seed_matters():
    pools = _pools(synthetic())
    a = bon_curves(pools, cfg=CurveConfig(repeats=10, seed=3)).to_dict()
    b = bon_curves(pools, cfg=CurveConfig(repeats=10, seed=3)).to_dict()
    c = bon_curves(pools, cfg=CurveConfig(repeats=10, seed=4)).to_dict()
    assert a == b
    assert a != c


def test_aggregation_changes_the_curve():
    # min sees the same first step (0.9) and a last step that separates; but make the first step
    # carry anti-signal so that min and last disagree
    rows = synthetic()
    for r in rows:
        r["scores"]["prm"][0] = 0.2 if r["correct"] else 0.25
    pools = _pools(rows)
    m = bon_curves(pools, [Method("naive", rm="prm", aggregation="min"), Method("naive", rm="prm", aggregation="last")],
                   CurveConfig(repeats=20)).to_dict()["methods"]
    assert m["prm:last"]["mean"][-1] > m["prm:min"]["mean"][-1] + 0.2


def test_paired_delta_and_compute_match():
    pools = _pools(synthetic())
    curves = bon_curves(pools, cfg=CurveConfig(repeats=20))
    d = curves.paired_delta("prm:last", "random")
    assert d["mean"][0] == pytest.approx(0.0)
    assert d["lo"][-1] > 0
    s = curves.summary("prm:last")
    x = at_compute(s, tokens_per_problem=4 * 12.0, tokens_per_sample=12.0)
    assert x["n_equivalent"] == pytest.approx(4.0) and x["mean"] == pytest.approx(s["mean"][2])
    assert at_compute(s, 1000.0, 1.0)["clamped"]


def test_default_methods_include_gated_when_verdicts_present():
    names = [m.name for m in default_methods(_pools(synthetic()))]
    assert {"sympy", "sympy+prm:min", "sympy+orm", "weighted:prm:min", "majority", "oracle"} <= set(names)
    rows = synthetic()
    for r in rows:
        del r["step_verdicts"], r["steps"]
    assert "sympy" not in [m.name for m in default_methods(_pools(rows))]


def test_hacking_flags_proxy_up_accuracy_down():
    # an RM that loves wrong answers at high scores: more samples -> higher proxy, lower accuracy
    rows = []
    rng = random.Random(0)
    for p in range(30):
        for k in range(8):
            ok = k % 2 == 0
            rows.append({"problem_id": str(p), "correct": ok, "answer": str(k),
                         "scores": {"bad": 0.5 if ok else rng.random()}, "steps": ["a" * (k + 1)]})
    pools = _pools(rows)
    curves = bon_curves(pools, cfg=CurveConfig(repeats=20))
    g = goodhart(curves)["bad"]
    assert g["flags"] and g["flags"][0]["proxy_change"] > 0 and g["flags"][0]["accuracy_change"] < 0
    lb = length_bias(pools)
    # Spearman of the score with the length ("a" * (k + 1): k + 1 characters), pair by pair
    scores, lengths = [r["scores"]["bad"] for r in rows], [len(r["steps"][0]) for r in rows]
    assert lb["bad"]["vs_length"] == pytest.approx(_spearman(scores, lengths))
    assert lb["_length_vs_correct"] == pytest.approx(_spearman(lengths, [float(r["correct"]) for r in rows]))


def test_honest_rm_is_not_flagged():
    curves = bon_curves(_pools(synthetic()), cfg=CurveConfig(repeats=20))
    assert goodhart(curves)["prm:last"]["flags"] == []
    rate = false_step_rate(curves)
    # at N=8 every draw is the whole pool, so prm:last always picks the same sample: the rate is
    # over problems whose top-scored sample is correct, the share of those with a step proven false
    rows = synthetic()
    top = [max((r for r in rows if r["problem_id"] == f"p{p}"), key=lambda r: r["scores"]["prm"][-1]) for p in range(20)]
    correct = [r for r in top if r["correct"]]
    assert rate["_n"] == 8 and correct
    assert rate["prm:last"] == pytest.approx(sum(r["sample_id"] % 3 == 0 for r in correct) / len(correct))


@pytest.mark.parametrize("m, k, n, want", [
    (8, 0, 4, 0.0),          # nothing marked
    (8, 1, 8, 1.0),          # the whole pool always holds it
    (8, 1, 1, 1 / 8),
    (8, 2, 2, 1 - (6 * 5) / (8 * 7)),
    (4, 4, 1, 1.0),
    (3, 1, 5, 1.0),          # n past the pool: the whole pool
])
def test_chance_that_a_subset_holds_a_marked_sample(m, k, n, want):
    assert _p_any(m, k, n) == pytest.approx(want)


def test_sound_ceiling_counts_only_right_answers_without_a_false_step():
    """Problem a: the only right sample has a step proven false (a lucky answer): pass@N counts it,
    the sound ceiling does not, and a method picking it is right but not sound. Problem b: one sound
    sample the RM ranks top. Problem c: none right."""
    rows = []
    for pid, spec in {"a": [(True, False, 0.9), (False, None, 0.1)],
                      "b": [(True, None, 0.8), (True, False, 0.7), (False, None, 0.2)],
                      "c": [(False, None, 0.5), (False, None, 0.4)]}.items():
        for i, (ok, verdict, score) in enumerate(spec):
            rows.append({"problem_id": pid, "sample_id": i, "correct": ok, "answer": str(ok),
                         "scores": {"rm": [score]}, "steps": ["x = 1"], "step_verdicts": [verdict]})
    pools = _pools(rows)
    curves = bon_curves(pools, cfg=CurveConfig(ns=(2,), repeats=10))
    s = sound_ceiling(pools, curves)
    assert s["_n"] == 2
    assert s["_pass"] == pytest.approx((1 + 1 + 0) / 3)
    assert s["_ceiling"] == pytest.approx((0 + _p_any(3, 1, 2) + 0) / 3)
    assert curves.summary("rm:last")["mean"][-1] > s["rm:last"]       # a's lucky answer is right, not sound
    assert "oracle" not in s and 0.0 <= s["random"] <= s["_ceiling"] + 1e-9


@pytest.mark.parametrize("row,field", [
    ({"correct": True, "scores": {"a": 1.0}}, "problem_id"),
    ({"problem_id": "p", "correct": "yes", "scores": {"a": 1.0}}, "correct"),
    ({"problem_id": "p", "correct": True, "scores": {"a": "high"}}, "scores"),
    ({"problem_id": "p", "correct": True, "scores": {"a": []}}, "scores"),
    ({"problem_id": "p", "correct": True, "scores": [0.1]}, "scores"),
    ({"problem_id": "p", "correct": True, "scores": {"a": 1.0}, "steps": ["a"], "step_verdicts": [1, 2]}, "step_verdicts"),
    ({"problem_id": "p", "correct": True, "scores": {"a": 1.0}, "domain": "poetry"}, "domain"),
    ({"problem_id": "p", "correct": True, "scores": {"a": 1.0}, "completion_tokens": -3}, "completion_tokens"),
])
def test_pool_errors_name_line_and_field(tmp_path, row, field):
    f = tmp_path / "pool.jsonl"
    f.write_text(json.dumps({"problem_id": "p", "correct": True, "scores": {"a": 1.0}}) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(RecordError) as e:
        read_pool(f)
    assert f"{f}:2" in str(e.value) and field in str(e.value)


def test_pool_rm_mismatch_is_an_error():
    rows = [{"problem_id": "p", "correct": True, "scores": {"a": 1.0}},
            {"problem_id": "p", "correct": False, "scores": {"b": 1.0}}]
    with pytest.raises(RecordError, match="differ"):
        _pools(rows)


def test_code_groups_win_over_answers():
    rows = [{"problem_id": "c", "domain": "code", "correct": k < 2, "group": "PP" if k < 2 else f"F{k}",
             "answer": None, "scores": {"orm": 0.1}} for k in range(5)]
    pools = _pools(rows)
    assert pools[0].groups.tolist() == [0, 0, 1, 2, 3]
    m = bon_curves(pools, [Method("majority")], CurveConfig(ns=(5,), repeats=5)).to_dict()["methods"]
    assert m["majority"]["mean"] == [1.0]


def test_n_larger_than_pool_is_refused():
    with pytest.raises(ValueError, match="smallest pool"):
        bon_curves(_pools(synthetic(n=4)), cfg=CurveConfig(ns=(8,), repeats=2))
