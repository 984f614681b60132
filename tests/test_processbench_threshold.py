"""ProcessBench done right: F1 is the harmonic mean of the two accuracies, a threshold for step scores is
chosen on one split and applied to the others (never reported on its own split), the sweep is a
curve, and the threshold used is in the results."""

from __future__ import annotations

import csv
import json
import random

import pytest

from prm.cli import main
from prm.eval.processbench import (SWEEP, best_threshold, evaluate, f1_at, precomputed_predictor,
                                   predict_from_scores, read_processbench, threshold_curve)


def item(label, n=3, i=0):
    return {"id": str(i), "problem": f"q{i}", "steps": [f"s{k}" for k in range(n)], "label": label}


# ---------------------------------------------------------------- F1

@pytest.mark.parametrize("labels,scores,acc_err,acc_ok,want", [
    # 2 erroneous (1 found), 2 correct (both kept): harmonic mean 2*.5*1/1.5, not the mean .75, not accuracy .75
    ([0, 1, -1, -1], [[0.1, .9, .9], [.9, .9, .9], [.9, .9, .9], [.8, .7, .6]], 0.5, 1.0, 2 / 3),
    # all right
    ([1, -1], [[.9, .2, .9], [.9, .9, .9]], 1.0, 1.0, 1.0),
    # an error flagged one step early is a miss, and a correct sample flagged is a miss
    ([2, -1], [[.9, .2, .1], [.9, .4, .9]], 0.0, 0.0, 0.0),
    # 3 erroneous (2 found), 1 correct (missed): F1 0 whenever one side is 0
    ([0, 0, 1, -1], [[.1], [.2], [.9, .9], [.3]], 2 / 3, 0.0, 0.0),
])
def test_f1_is_the_harmonic_mean_of_the_two_accuracies(labels, scores, acc_err, acc_ok, want):
    items = [dict(item(lab, len(s), i)) for i, (lab, s) in enumerate(zip(labels, scores))]
    r = evaluate(items, precomputed_predictor(items, scores, 0.5))
    assert (r["acc_error"], r["acc_correct"]) == pytest.approx((acc_err, acc_ok))
    assert r["f1"] == pytest.approx(want)
    assert f1_at(items, scores, 0.5)["f1"] == pytest.approx(want)


def test_f1_undefined_without_one_class():
    items = [item(0), item(1, i=1)]
    assert f1_at(items, [[.1, .9, .9], [.9, .1, .9]], 0.5)["f1"] is None


# ---------------------------------------------------------------- choosing a threshold

def test_best_threshold_by_hand():
    """Correct samples need t <= their min (0.6, 0.7); erroneous ones need s_label < t <= min before:
    label 1 with [0.8, 0.3]: t in (0.3, 0.8]; label 0 with [0.4]: t in (0.4, inf). All four: t in (0.4, 0.6]."""
    items = [item(-1, 2, 0), item(-1, 2, 1), item(1, 2, 2), item(0, 1, 3)]
    scores = [[0.9, 0.6], [0.7, 0.8], [0.8, 0.3], [0.4]]
    best = best_threshold(items, scores)
    assert best["f1"] == 1.0
    assert 0.4 < best["threshold"] <= 0.6
    assert best["threshold"] == pytest.approx(0.5)       # the middle of the run of best thresholds


def test_best_threshold_beats_every_grid_point_and_matches_brute_force():
    rng = random.Random(3)
    items, scores = [], []
    for i in range(120):
        n = rng.randint(1, 6)
        items.append(item(rng.choice([-1] + list(range(n))), n, i))
        scores.append([round(rng.random(), 3) for _ in range(n)])
    best = best_threshold(items, scores)
    grid = max(c["f1"] for c in threshold_curve(items, scores))
    brute = max(f1_at(items, scores, t / 1000 + 0.0005)["f1"] for t in range(1000))
    assert best["f1"] >= grid and best["f1"] == pytest.approx(brute)
    assert f1_at(items, scores, best["threshold"])["f1"] == best["f1"]


def test_nan_scores_are_never_flagged():
    assert predict_from_scores([0.9, float("nan"), 0.1], 0.5) == 2
    items, scores = [item(-1, 2)], [[float("nan"), 0.9]]
    assert best_threshold(items, scores)["acc_correct"] == 1.0


def test_sweep_is_a_curve_over_the_grid():
    items, scores = [item(0), item(-1, i=1)], [[0.2, .9, .9], [.6, .7, .8]]
    curve = threshold_curve(items, scores)
    assert [c["threshold"] for c in curve] == SWEEP and len(SWEEP) == 99
    assert {c["threshold"] for c in curve if c["f1"] == 1.0} == {t for t in SWEEP if 0.2 < t <= 0.6}


# ---------------------------------------------------------------- the command

@pytest.fixture(scope="module")
def tiny_prm(tmp_path_factory):
    from fixtures_published import build_trl

    return build_trl(tmp_path_factory.mktemp("pb") / "trl")


def write_split(path, n, seed):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        steps = [f"Tom has {rng.randint(1, 9)} apples." for _ in range(rng.randint(1, 4))]
        rows.append({"id": f"{path.stem}-{i}", "problem": f"What is {i} + {i}?", "steps": steps,
                     "label": rng.choice([-1, -1] + list(range(len(steps))))})
    path.write_text(json.dumps(rows))
    return path


def test_threshold_from_one_split_applied_to_the_others(tmp_path, tiny_prm, capsys):
    a, b, c = (write_split(tmp_path / f"{n}.json", 12, s) for n, s in (("gsm8k", 1), ("math", 2), ("omni", 3)))
    out = tmp_path / "o"
    assert main(["eval", "processbench", "--data", str(a), "--data", str(b), "--data", str(c),
                 "--scorer", str(tiny_prm), "--sep", "\n", "--threshold-from", "gsm8k", "--threshold-sweep",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    res = json.loads((out / "results.json").read_text())
    # the threshold is the one that maximises F1 on gsm8k's own scores
    from prm.eval.processbench import collect_scores
    from prm.scoring import load_scorer

    with load_scorer(tiny_prm, backend="transformers", sep="\n") as sc:
        items = read_processbench(a)
        want = best_threshold(items, collect_scores(sc, items))["threshold"]
    t = res["threshold"]
    assert t["chosen_on"] == "gsm8k" and t["value"] == pytest.approx(want)
    pb = res["processbench"]
    assert pb["gsm8k"]["tuned_on_this_split"] is True
    for name in ("math", "omni"):
        assert pb[name]["threshold"] == pytest.approx(want) and pb[name]["threshold_chosen_on"] == "gsm8k"
        assert "tuned_on_this_split" not in pb[name]
    assert "gsm8k" in printed and "not a result" in printed
    avg = (pb["math"]["f1"] + pb["omni"]["f1"]) / 2 if None not in (pb["math"]["f1"], pb["omni"]["f1"]) else None
    if avg is not None:
        assert f"average F1 {100 * avg:.1f}% (without gsm8k)" in printed
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert len(rows) == 3 * len(SWEEP) and {r["split"] for r in rows} == {"gsm8k", "math", "omni"}
    assert set(res["sweep"]) == {"gsm8k", "math", "omni"}


def test_fixed_threshold_is_written_into_the_results(tmp_path, tiny_prm):
    a = write_split(tmp_path / "gsm8k.json", 6, 1)
    assert main(["eval", "processbench", "--data", str(a), "--scorer", str(tiny_prm), "--sep", "\n",
                 "--threshold", "0.3", "--out", str(tmp_path / "o")]) == 0
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    assert res["threshold"] == {"value": 0.3, "chosen_on": None}
    assert res["processbench"]["gsm8k"]["threshold"] == 0.3 and res["processbench"]["gsm8k"]["format"] == "trl"


@pytest.mark.parametrize("extra,match", [
    (["--threshold-from", "gsm8k"], "only --data file"),
    (["--threshold-from", "nope"], "neither the name of a --data file"),
    (["--threshold", "0.4", "--threshold-from", "gsm8k"], "not both"),
    (["--threshold-sweep"], "give --out"),
])
def test_threshold_misuse_is_refused(tmp_path, tiny_prm, capsys, extra, match):
    a = write_split(tmp_path / "gsm8k.json", 4, 1)
    assert main(["eval", "processbench", "--data", str(a), "--scorer", str(tiny_prm), "--sep", "\n", *extra]) == 2
    assert match in capsys.readouterr().err


def test_sympy_takes_no_threshold(tmp_path, capsys):
    a = write_split(tmp_path / "gsm8k.json", 4, 1)
    assert main(["eval", "processbench", "--data", str(a), "--scorer", "sympy", "--threshold", "0.4"]) == 2
    assert "sympy" in capsys.readouterr().err


def test_threshold_from_another_file(tmp_path, tiny_prm):
    a, b = write_split(tmp_path / "dev.json", 8, 4), write_split(tmp_path / "test.json", 8, 5)
    assert main(["eval", "processbench", "--data", str(b), "--scorer", str(tiny_prm), "--sep", "\n",
                 "--threshold-from", str(a), "--out", str(tmp_path / "o")]) == 0
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    assert res["threshold"]["chosen_on"] == "dev" and res["processbench"]["dev"]["tuned_on_this_split"]
    assert "tuned_on_this_split" not in res["processbench"]["test"]


def test_shared_processbench_threshold_transfer(shared_data):
    """On the real ProcessBench files: a threshold chosen on one split is the F1 maximum there (with
    deterministic pseudo-scores standing in for a model), and applying it elsewhere is a plain lookup."""
    rng = random.Random(0)
    # the files are sorted by label: a seeded sample holds both classes
    splits = {n: rng.sample(read_processbench(shared_data / "processbench" / f"{n}.json"), 200)
              for n in ("olympiadbench", "omnimath")}
    scores = {n: [[rng.random() for _ in r["steps"]] for r in items] for n, items in splits.items()}
    best = best_threshold(splits["olympiadbench"], scores["olympiadbench"])
    assert best["f1"] >= max(c["f1"] for c in threshold_curve(splits["olympiadbench"], scores["olympiadbench"]))
    other = f1_at(splits["omnimath"], scores["omnimath"], best["threshold"])
    assert other["acc_error"] is not None and other["acc_correct"] is not None
