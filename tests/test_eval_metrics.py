"""Metrics (AUROC, ECE, F1, intervals, correlations) and ProcessBench scoring, table-driven."""

import json

import pytest
from fakes import FakeScorer

from prm.errors import RecordError
from prm.eval.metrics import auroc, ece, f1, interval, pearson, reliability, spearman
from prm.eval.processbench import evaluate, predict_from_scores, read_processbench, scorer_predictor, sympy_predictor


@pytest.mark.parametrize("scores,labels,expected", [
    ([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0], 1.0),
    ([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0], 0.0),
    ([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0], 0.5),      # ties count half
    ([0.9, 0.3, 0.6, 0.1], [1, 1, 0, 0], 0.75),
    ([0.9, 0.8], [1, 1], None),                     # one class: undefined, not a number
    ([], [], None),
])
def test_auroc(scores, labels, expected):
    got = auroc(scores, labels)
    assert got == expected if expected is None else got == pytest.approx(expected)


def test_auroc_matches_pairwise_definition():
    import random
    rng = random.Random(1)
    s = [rng.choice([0.1, 0.2, 0.3, 0.5, 0.9]) for _ in range(60)]
    y = [rng.random() < 0.4 for _ in range(60)]
    pos = [a for a, b in zip(s, y) if b]
    neg = [a for a, b in zip(s, y) if not b]
    brute = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))
    assert auroc(s, y) == pytest.approx(brute)


@pytest.mark.parametrize("probs,labels,expected", [
    ([1.0, 1.0, 0.0, 0.0], [1, 1, 0, 0], 0.0),        # perfectly calibrated and sharp
    ([0.9] * 10, [1] * 9 + [0], pytest.approx(0.0)),  # 90% confident, 90% right
    ([0.9] * 10, [0] * 10, pytest.approx(0.9)),
    ([0.05, 0.95], [1, 0], pytest.approx(0.95)),
    ([], [], None),
])
def test_ece(probs, labels, expected):
    assert ece(probs, labels) == expected


def test_reliability_counts():
    rows = reliability([0.05, 0.15, 0.15, 1.0], [0, 1, 0, 1], n_bins=10)
    assert [r["count"] for r in rows] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 1]
    assert rows[1]["accuracy"] == 0.5


def test_f1_interval_correlations():
    assert f1(0.5, 1.0) == pytest.approx(2 / 3)
    assert f1(0.0, 0.0) == 0.0 and f1(None, 0.3) is None
    assert interval([1, 2, 3, 4, 5], 0.5) == (2.0, 4.0)
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 1, 1], [1, 2, 3]) is None
    assert spearman([1, 2, 3, 4], [1, 4, 9, 100]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)


@pytest.mark.parametrize("scores,threshold,expected", [
    ([0.9, 0.8, 0.4, 0.2], 0.5, 2),
    ([0.9, 0.8], 0.5, -1),
    ([0.9, 0.6], 0.7, 1),
    ([], 0.5, -1),
])
def test_threshold_rule(scores, threshold, expected):
    assert predict_from_scores(scores, threshold) == expected


class _V:
    def __init__(self, c):
        self.correct = c


ITEMS = [
    {"id": "a", "problem": "p", "steps": ["1+1=2", "2*3=7", "so 7"], "label": 1},
    {"id": "b", "problem": "p", "steps": ["1+1=2", "so 2"], "label": -1},
    {"id": "c", "problem": "p", "steps": ["x", "y", "z"], "label": 2},
    {"id": "d", "problem": "p", "steps": ["4-1=3"], "label": -1},
]


def fake_check(steps):
    # proves false exactly the steps containing '=7'
    return [_V(False if "=7" in s else (True if "=" in s else None)) for s in steps]


def test_evaluate_with_sympy_style_predictor():
    r = evaluate(ITEMS, sympy_predictor(fake_check))
    assert (r["n_error"], r["n_correct"]) == (2, 2)
    assert r["acc_error"] == 0.5     # finds 'a', misses 'c' (nothing checkable)
    assert r["acc_correct"] == 1.0
    assert r["f1"] == pytest.approx(2 / 3)
    assert r["flag_precision"] == 1.0
    # steps with a verdict: a 2 of 3 ("so 7" has no '='), b 1 of 2, c 0 of 3, d 1 of 1
    assert r["checked_step_fraction"] == pytest.approx(4 / 9)


def test_evaluate_with_scorer_predictor_and_step_auroc():
    scorer = FakeScorer(lambda problem, steps: [0.1 if ("=7" in s or s == "z") else 0.9 for s in steps])
    r = evaluate(ITEMS, scorer_predictor(scorer, 0.5))
    assert r["acc_error"] == 1.0 and r["acc_correct"] == 1.0 and r["f1"] == 1.0
    # judged steps: a: 2 (0 ok, 1 wrong), b: 2 ok, c: 3 (2 wrong), d: 1 ok; steps after an error are not judged
    assert r["n_judged_steps"] == 8 and r["step_auroc"] == 1.0


def test_real_sympy_checker_on_a_handmade_item():
    pytest.importorskip("verifiers.math")
    r = evaluate([{"id": "x", "problem": "q", "steps": ["3 + 4 = 7", "7 * 2 = 15", "The answer is 15."], "label": 1}],
                 sympy_predictor())
    assert r["acc_error"] == 1.0


@pytest.mark.parametrize("record,field", [
    ({"steps": ["a"], "label": -1}, "problem"),
    ({"problem": "p", "steps": "a", "label": -1}, "steps"),
    ({"problem": "p", "steps": ["a"], "label": 3}, "label"),
    ({"problem": "p", "steps": ["a"], "label": True}, "label"),
])
def test_read_processbench_errors(tmp_path, record, field):
    f = tmp_path / "pb.json"
    f.write_text(json.dumps([{"problem": "ok", "steps": ["a"], "label": 0}, record]))
    with pytest.raises(RecordError) as e:
        read_processbench(f)
    assert "record 2" in str(e.value) and field in str(e.value)


def test_read_processbench_jsonl(tmp_path):
    f = tmp_path / "pb.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in ITEMS) + "\n")
    assert [r["id"] for r in read_processbench(f)] == ["a", "b", "c", "d"]


def test_sympy_on_real_processbench_subset(shared_data):
    items = read_processbench(shared_data / "processbench" / "omnimath.json")
    items = [r for r in items if r["label"] == -1][:5] + [r for r in items if r["label"] >= 0][:5]
    r = evaluate(items, sympy_predictor())
    # the same metrics from the step checker called directly: predicted first error = first step it
    # proves false (-1: none), right when it equals the label
    from verifiers.math import check_steps

    preds = [next((i for i, v in enumerate(check_steps(x["steps"])) if v.correct is False), -1) for x in items]
    assert [p["pred"] for p in r["predictions"]] == preds
    acc_err = sum(p == x["label"] for p, x in zip(preds, items) if x["label"] >= 0) / 5
    acc_ok = sum(p == -1 for p, x in zip(preds, items) if x["label"] == -1) / 5
    assert (r["n"], r["acc_error"], r["acc_correct"]) == (10, acc_err, acc_ok)
    assert r["f1"] == pytest.approx(f1(acc_err, acc_ok))
