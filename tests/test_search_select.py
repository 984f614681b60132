"""Aggregation, selection, grouping and the sympy gate: pure functions, no model."""

import math

import pytest

from prm.search.aggregate import AGGREGATIONS, aggregate, sample_score
from prm.search.select import Method, choose, code_group_key, group_answers
from prm.search.verified import first_false, rerank, step_verdicts


@pytest.mark.parametrize("how,scores,expected", [
    ("min", [0.9, 0.2, 0.8], 0.2),
    ("prod", [0.5, 0.5], 0.25),
    ("last", [0.9, 0.2, 0.8], 0.8),
    ("mean", [0.9, 0.3], 0.6),
    ("min", [], 0.0),                      # nothing written is never preferred
    ("mean", [float("nan"), 1.0], 0.5),    # a broken score counts as 0
    ("last", [0.7], 0.7),
])
def test_aggregate(how, scores, expected):
    assert math.isclose(aggregate(scores, how), expected)


def test_aggregate_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate([0.5], "max")


def test_aggregation_knob_changes_the_best_of_n_pick():
    # sample 0 has one bad step among good ones; sample 1 is uniformly mediocre
    steps = [[0.99, 0.99, 0.99, 0.1], [0.6, 0.6, 0.6, 0.6]]
    picks = {how: choose(Method("naive", rm="prm", aggregation=how), [0, 1], correct=[True, False],
                         groups=[0, 1], scores=[sample_score(s, how) for s in steps]) for how in AGGREGATIONS}
    assert picks["min"] == 1 and picks["last"] == 1
    assert picks["mean"] == 0


def test_orm_score():
    assert sample_score(0.7, "min") == 0.7           # outcome score used as is
    assert sample_score([0.7, 0.1], "last") == 0.1


POOL = dict(correct=[False, True, True, False, True], groups=[0, 1, 1, 2, 1])


@pytest.mark.parametrize("method,scores,expected", [
    (Method("naive", rm="orm"), [0.9, 0.1, 0.2, 0.3, 0.1], 0),
    (Method("majority"), None, 1),                          # group 1 has three votes
    (Method("weighted", rm="orm"), [0.9, 0.1, 0.2, 0.3, 0.1], 0),  # 0.9 outweighs 0.4
    (Method("weighted", rm="orm"), [0.5, 0.1, 0.3, 0.3, 0.2], 2),  # group 1 sum .6 wins, best member 2
    (Method("oracle"), None, 1),
    (Method("random"), None, 0),                            # first of the (already shuffled) draw
])
def test_choose_table(method, scores, expected):
    assert choose(method, range(5), scores=scores, **POOL) == expected


def test_selection_knob_changes_the_pick():
    scores = [0.9, 0.1, 0.2, 0.3, 0.1]
    picks = {m.name: choose(m, range(5), scores=scores, **POOL)
             for m in (Method("naive", rm="orm"), Method("majority"), Method("oracle"))}
    assert len(set(picks.values())) > 1 and picks["majority"] != picks["orm"]


def test_majority_ignores_unanswered_and_falls_back():
    assert choose(Method("majority"), [0, 1, 2], correct=[0, 0, 1], groups=[-1, -1, 3]) == 2
    assert choose(Method("majority"), [1, 0], correct=[0, 0], groups=[-1, -1]) == 1


def test_gate_drops_flagged_unless_all_are():
    m = Method("naive", rm="orm", gated=True)
    assert choose(m, [0, 1], correct=[0, 1], groups=[0, 1], scores=[0.9, 0.1], flagged=[True, False]) == 1
    assert choose(m, [0, 1], correct=[0, 1], groups=[0, 1], scores=[0.9, 0.1], flagged=[True, True]) == 0
    assert choose(Method("naive", rm="orm"), [0, 1], correct=[0, 1], groups=[0, 1], scores=[0.9, 0.1],
                  flagged=[True, False]) == 0


@pytest.mark.parametrize("name", ["prm:min", "weighted:prm:prod", "orm", "weighted:orm", "majority",
                                  "oracle", "random", "sympy", "sympy+prm:min", "sympy+majority"])
def test_method_name_round_trip(name):
    assert Method.parse(name).name == name


def test_method_validation():
    with pytest.raises(ValueError):
        Method("naive")
    with pytest.raises(ValueError):
        Method("majority", rm="prm")


def test_group_answers_uses_equivalence_not_strings():
    same = lambda a, b: abs(float(eval(a)) - float(eval(b))) < 1e-9  # noqa: E731 - stand-in verifier
    assert group_answers(["1/2", "0.5", " 0.5 ", None, "3", "", "6/2"], same) == [0, 0, 0, -1, 1, -1, 1]


def test_group_answers_with_real_math_verifier():
    pytest.importorskip("verifiers.math", exc_type=ImportError)
    from verifiers import math as vm
    if not hasattr(vm, "verify"):
        pytest.skip("verifiers.math.verify not landed yet")
    from prm.search.select import math_same
    g = group_answers(["\\frac{1}{2}", "0.5", "2"], math_same)
    assert g[0] == g[1] != g[2]


def test_code_group_key():
    assert code_group_key([True, True, False], "x") == "PPF"
    assert code_group_key(None, "def f():\n    return 1") == code_group_key([], "def f():  return 1")
    assert code_group_key(None, "  ") is None


class _V:
    def __init__(self, c):
        self.correct = c


@pytest.mark.parametrize("verdicts,expected", [([True, None, False, False], 2), ([None, True], -1), ([], -1)])
def test_first_false(verdicts, expected):
    assert first_false(verdicts) == expected


def test_step_verdicts_never_raise():
    def boom(steps):
        raise RuntimeError("sympy blew up")
    assert step_verdicts(["a", "b"], boom) == [None, None]
    assert step_verdicts(["a", "b"], lambda s: [_V(True)]) == [None, None]          # wrong length
    assert step_verdicts(["a", "b"], lambda s: [_V(False), _V("maybe")]) == [False, None]


def test_rerank_puts_flagged_last():
    assert rerank([True, False, False], [0.9, 0.1, 0.5]) == [2, 1, 0]
    assert rerank([False, True]) == [0, 1]
