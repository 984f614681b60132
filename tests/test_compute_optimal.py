"""prm.eval.compute_optimal: choices on validation only, the probe charged, the frontier honest."""

from __future__ import annotations

import numpy as np
import pytest

from prm.eval.compute_optimal import (Outcome, Split, bin_edges, bin_of, choose_per_bin, frontier, paired_interval,
                                      versus)


def _split(easy: int, hard: int, *, cheap_hard_right: bool = False, probe_cost: float = 10.0) -> Split:
    """`easy` problems any config gets right; `hard` ones only the expensive `big` gets right (unless
    cheap_hard_right). Difficulty: easy 0.0, hard 1.0 (no ground truth needed to know it here)."""
    table = {"cheap": {}, "big": {}}
    diff, probe = {}, {}
    for k in range(easy):
        pid = f"e{k}"
        table["cheap"][pid] = Outcome(True, 100)
        table["big"][pid] = Outcome(True, 800)
        diff[pid], probe[pid] = 0.0, probe_cost
    for k in range(hard):
        pid = f"h{k}"
        table["cheap"][pid] = Outcome(cheap_hard_right, 100)
        table["big"][pid] = Outcome(True, 800)
        diff[pid], probe[pid] = 1.0, probe_cost
    return Split(table, diff, probe, None, probe=1)


def test_bins_from_quantiles():
    edges = bin_edges([0, 1, 2, 3, 4, 5, 6, 7], 4)
    assert len(edges) == 3
    assert [bin_of(v, edges) for v in (0, 3, 7)] == [0, 1, 3]
    assert bin_edges([1, 2], 1).size == 0


@pytest.mark.parametrize("budget,expect", [
    (200.0, {0: "cheap", 1: "cheap"}),    # nothing else fits: the best that fits
    (1000.0, {0: "cheap", 1: "big"}),     # easy bin: same accuracy, cheaper wins the tie
])
def test_choose_per_bin(budget, expect):
    val = _split(10, 10)
    assert choose_per_bin(val, bin_edges([0.0] * 10 + [1.0] * 10, 2), budget) == expect


def test_probe_is_charged():
    val = _split(2, 2, probe_cost=50)
    assert val.cost("cheap", "e0") == 150  # own 100 + the probe's 50


def test_frontier_reaches_the_expensive_config_for_less():
    val, test = _split(30, 10), _split(30, 10)
    front = frontier(val, test, n_bins=2)
    top = front["points"][-1]
    assert top["test_accuracy"] == 1.0
    # easy problems keep the cheap config: 30*110 + 10*810 over 40 problems, not 810 for all
    assert top["test_tokens"] == pytest.approx((30 * 110 + 10 * 810) / 40)
    v = versus(val, test, front, "big")
    assert v["reached"] and v["token_ratio"] < 0.5 and v["delta"] == 0.0


def test_choices_never_read_the_test_split():
    val = _split(30, 10)
    t1, t2 = _split(30, 10), _split(30, 10, cheap_hard_right=True)
    c1 = [p["choice"] for p in frontier(val, t1, n_bins=2)["points"]]
    c2 = [p["choice"] for p in frontier(val, t2, n_bins=2)["points"]]
    assert c1 == c2  # what test says changes accuracy, never the choice


def test_versus_says_when_validation_never_reaches_the_reference():
    val, test = _split(10, 10), _split(10, 10)
    val.table["oracle"] = {p: Outcome(True, 0.0) for p in val.difficulty}
    test.table["oracle"] = {p: Outcome(True, 0.0) for p in test.difficulty}
    front = frontier(Split({"cheap": val.table["cheap"]}, val.difficulty, val.probe_tokens, None, 1),
                     Split({"cheap": test.table["cheap"]}, test.difficulty, test.probe_tokens, None, 1), n_bins=2)
    assert versus(val, test, front, "oracle")["reached"] is False


@pytest.mark.parametrize("a,b,sign", [([1, 1, 1, 0], [0, 0, 0, 0], 1), ([0, 0], [0, 0], 0), ([0, 0, 1], [1, 1, 1], -1)])
def test_paired_interval(a, b, sign):
    d, lo, hi = paired_interval(np.array(a), np.array(b))
    assert np.sign(d) == sign and lo <= d <= hi


def test_pool_outcomes_and_probe_from_a_real_pool_shape():
    from prm.eval.compute_optimal import prepare
    from prm.eval.pool import build_pools
    from prm.records import PoolRecord

    recs = []
    for k, (ans, ok, s) in enumerate([("1", False, 0.9), ("2", True, 0.1), ("2", True, 0.2), ("2", True, 0.3)]):
        recs.append(PoolRecord("p", ok, {"rm": s}, answer=ans, completion_tokens=10 + k))
    pools = build_pools(recs, same=lambda a, b: a == b)
    split = prepare(pools, ("rm", None), probe=2, ns=[1, 4])
    assert split.table["bon-naive@1"]["p"] == Outcome(False, 10)
    assert split.table["bon-naive@4"]["p"] == Outcome(False, 46)       # the top score is the wrong one
    assert split.table["bon-majority@4"]["p"].correct is True
    assert split.difficulty["p"] == pytest.approx(-0.5)                # minus the mean of the first 2 scores
    assert split.cost("bon-naive@1", "p") == 21                         # bon reuses the probe's 2 samples
    assert split.cost("bon-naive@4", "p") == 46


def _write(path, rows):
    import json

    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_cli_end_to_end(tmp_path, capsys):
    """`prm eval compute-optimal` on pools where hard problems (low probe score) need the pf run."""
    import json

    from prm.cli import main

    def pool(prefix, n_easy, n_hard):
        rows = []
        for k in range(n_easy):
            for j in range(4):
                rows.append({"problem_id": f"{prefix}e{k}", "correct": True, "answer": "1", "scores": {"r": [0.9]},
                             "completion_tokens": 10})
        for k in range(n_hard):
            for j in range(4):
                rows.append({"problem_id": f"{prefix}h{k}", "correct": False, "answer": str(j), "scores": {"r": [0.1]},
                             "completion_tokens": 10})
        return rows

    def run(prefix, n_easy, n_hard):
        return [{"problem_id": f"{prefix}{kind}{k}", "correct": True, "scores": {}, "cost": {"generated_tokens": 60}}
                for kind, n in (("e", n_easy), ("h", n_hard)) for k in range(n)]

    vp, tp = _write(tmp_path / "v.jsonl", pool("v", 12, 4)), _write(tmp_path / "t.jsonl", pool("t", 12, 4))
    vr, tr = _write(tmp_path / "vr.jsonl", run("v", 12, 4)), _write(tmp_path / "tr.jsonl", run("t", 12, 4))
    out = tmp_path / "co"
    assert main(["eval", "compute-optimal", "--val-pool", vp, "--test-pool", tp, "--scorer", "r",
                 "--run", f"pf={vr},{tr}", "--bins", "2", "--probe", "1", "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    vs = res["versus"]
    # best-of-4 is no better than best-of-1 here: reached at a quarter of its tokens
    assert vs["reference"] == "bon-naive@4" and vs["reached"] and vs["test_accuracy"] == 0.75
    assert vs["token_ratio"] == pytest.approx(10 / 40)
    # the frontier's top: pf on the hard bin (probe charged), best-of-1 on the easy one: 12*10 + 4*(60+10) over 16
    top = res["frontier"]["points"][-1]
    assert top["test_accuracy"] == 1.0 and top["test_tokens"] == pytest.approx((12 * 10 + 4 * 70) / 16)
    assert top["choice"]["0"].endswith("@1") and top["choice"]["1"] == "pf"
    assert main(["eval", "compute-optimal", "--val-pool", vp, "--test-pool", tp, "--run", "bad-spec"]) == 2
    assert "NAME=VAL_FILE,TEST_FILE" in capsys.readouterr().err
