"""The report writer and the `prm eval` / `prm search` command lines (no model)."""

import json

import pytest

from prm.cli import main
from prm.eval.bon import CurveConfig, bon_curves
from prm.eval.pool import build_pools, parse_sample
from prm.eval.report import comparisons, reading, render_report, verdict_word, write_outputs

from tests.test_eval_bon import synthetic


@pytest.mark.parametrize("lo,hi,word", [(0.01, 0.2, "won"), (-0.2, -0.01, "lost"), (-0.1, 0.1, "no clear difference"),
                                        (0.0, 0.3, "no clear difference"), (None, 0.1, "not measured")])
def test_verdict_word(lo, hi, word):
    assert verdict_word(lo, hi) == word


def _domain(prm_informative=True):
    pools = build_pools([parse_sample(r, f"m:{i}") for i, r in enumerate(synthetic(prm_informative=prm_informative))],
                        same=lambda a, b: a == b)
    c = bon_curves(pools, cfg=CurveConfig(repeats=20))
    return {"stages": {"curves": {"status": "ran", "seconds": 1.0, "detail": ""}},
            "bon": c.to_dict(), "deltas": comparisons(c)}


def test_reading_says_when_the_prm_wins_and_when_it_does_not():
    win = " ".join(reading("math", _domain(True)))
    assert "**prm:min** vs **orm**" in win and "prm:min **won**" in win
    flat = " ".join(reading("math", _domain(False)))
    assert "prm:min **won**" not in flat.split("vs **random**")[0] or "no clear difference" in flat


@pytest.mark.parametrize("headline,lo,hi,says", [
    ("prm:min", -0.30, -0.20, True),      # the demo's headline lost: point at the curve and the diagnosis
    ("prm:min", -0.10, 0.05, False),      # no clear loss: no excuse offered
    ("prm:min", 0.05, 0.20, False),       # a win
    (None, -0.30, -0.20, False),          # `prm eval bon` on a user's pool: no headline, nothing about tiny models
])
def test_reading_points_a_losing_demo_headline_at_the_learning_curve(headline, lo, hi, says):
    d = {"bon": {"ns": [1, 16], "methods": {}},
         "deltas": {"prm:min - majority": {"mean": [0.0, (lo + hi) / 2], "lo": [0.0, lo], "hi": [0.0, hi]}}}
    if headline:
        d["headline"] = headline
    text = " ".join(reading("math", d))
    assert ("expected result" in text and "prm_scaling" in text and "docs/prm_diagnosis.md" in text) is says


def test_report_warns_loudly_about_missing_stages(tmp_path):
    d = _domain()
    d["stages"]["train PRM"] = {"status": "missing", "seconds": 0.0, "detail": "ImportError: no prm.train"}
    results = {"command": "prm demo", "created": "now", "domains": {"math": d, "code": {
        "stages": {"tasks": {"status": "failed", "seconds": 0.1, "detail": "boom"}}}}}
    paths = write_outputs(tmp_path, results, {"backend": "transformers"})
    text = paths["report"].read_text()
    assert "not every stage ran" in text and "math/train PRM" in text and "code/tasks" in text
    assert "**MISSING**" in text and "**FAILED**" in text
    assert "code: no best-of-N result" in text
    saved = json.loads(paths["results"].read_text())
    assert saved["schema_version"] == 1 and "prm:min" in saved["domains"]["math"]["bon"]["methods"]
    assert json.loads(paths["manifest"].read_text())["backend"] == "transformers"


def test_eval_bon_cli(tmp_path, capsys):
    pool = tmp_path / "pool.jsonl"
    rows = synthetic(n_problems=6, n=4)
    pool.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    assert main(["eval", "bon", "--pool", str(pool), "--out", str(out), "--repeats", "5"]) == 0
    assert (out / "bon.png").stat().st_size > 1000
    res = json.loads((out / "results.json").read_text())
    bon = res["domains"]["math"]["bon"]
    assert bon["ns"] == [1, 2, 4] and bon["n_problems"] == 6 and bon["repeats"] == 5
    # N=4 is the whole pool: oracle is exactly the share of problems with a correct sample
    solved = {r["problem_id"] for r in rows if r["correct"]}
    assert bon["methods"]["oracle"]["mean"][-1] == pytest.approx(len(solved) / 6)
    # the report states results.json's numbers: the oracle row, "mean [lo, hi]" per N
    o = bon["methods"]["oracle"]
    row = "| oracle | " + " | ".join(f"{100 * a:.1f}% [{100 * lo:.1f}%, {100 * hi:.1f}%]"
                                    for a, lo, hi in zip(o["mean"], o["lo"], o["hi"])) + " |"
    assert row in (out / "report.md").read_text().splitlines()
    assert "prm:min" in capsys.readouterr().out


def test_eval_bon_cli_methods_without_random_or_oracle(tmp_path, capsys):
    """--methods may leave out the random pick and the oracle: the report says what was measured
    (it raised KeyError 'random' before)."""
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps(r) + "\n" for r in synthetic(n_problems=6, n=4)))
    out = tmp_path / "out"
    assert main(["eval", "bon", "--pool", str(pool), "--out", str(out), "--repeats", "5",
                 "--methods", "prm:min,majority"]) == 0
    report = (out / "report.md").read_text()
    assert "prm:min" in report and "Policy alone (random pick)" not in report
    assert set(json.loads((out / "results.json").read_text())["domains"]["math"]["bon"]["methods"]) == {"prm:min", "majority"}


@pytest.mark.parametrize("extra,msg", [
    (["--ns", "1,16"], "exceeds the smallest pool"),
    (["--ns", "a,b"], "--ns"),
    (["--aggregations", "max"], "unknown 'max'"),
    (["--methods", "nope:min"], "needs scores"),
])
def test_eval_bon_cli_bad_flags(tmp_path, capsys, extra, msg):
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps(r) + "\n" for r in synthetic(n_problems=2, n=4)))
    assert main(["eval", "bon", "--pool", str(pool), "--out", str(tmp_path / "o"), "--repeats", "2", *extra]) == 2
    assert msg in capsys.readouterr().err


def test_eval_bon_cli_bad_pool_line(tmp_path, capsys):
    pool = tmp_path / "pool.jsonl"
    pool.write_text(json.dumps({"problem_id": "p", "correct": True, "scores": {"a": 1}}) + "\n{not json\n")
    assert main(["eval", "bon", "--pool", str(pool), "--out", str(tmp_path / "o")]) == 2
    assert f"{pool}:2" in capsys.readouterr().err


def test_eval_processbench_cli_with_sympy(tmp_path, capsys):
    data = tmp_path / "pb.json"
    data.write_text(json.dumps([{"id": "1", "problem": "q", "steps": ["2 + 2 = 5", "so 5"], "label": 0},
                                {"id": "2", "problem": "q", "steps": ["2 + 2 = 4", "so 4"], "label": -1}]))
    assert main(["eval", "processbench", "--data", str(data), "--scorer", "sympy", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "F1 100.0%" in out
    assert json.loads((tmp_path / "o" / "results.json").read_text())["processbench"]["pb"]["f1"] == 1.0


def test_eval_processbench_cli_missing_model(tmp_path, capsys):
    data = tmp_path / "pb.json"
    data.write_text(json.dumps([{"problem": "q", "steps": ["a"], "label": -1}]))
    assert main(["eval", "processbench", "--data", str(data), "--scorer", str(tmp_path / "nope")]) == 2
    assert "no such model directory" in capsys.readouterr().err


def test_search_cli_refuses_missing_scorer(tmp_path, capsys):
    probs = tmp_path / "p.jsonl"
    probs.write_text(json.dumps({"id": "1", "domain": "math", "question": "q", "answer": "1"}) + "\n")
    (tmp_path / "policy").mkdir()  # not tmp_path itself: an output inside an input folder is refused (#17)
    rc = main(["search", "--method", "beam", "--problems", str(probs), "--model", str(tmp_path / "policy"),
               "--scorer", str(tmp_path / "nope"), "--out", str(tmp_path / "o.jsonl")])
    assert rc == 2 and "no such model directory" in capsys.readouterr().err


@pytest.mark.parametrize("domain,headline,says", [
    ("math", "iprm:min", True),    # the demo's math report cites the size curve in one sentence
    ("code", "iprm:min", False),   # the curve is a math measurement
    ("math", None, False),         # `prm eval bon` on a user's pool: nothing about the embedded models
])
def test_the_demo_states_the_size_finding_with_its_number(domain, headline, says):
    from prm.eval.report import SIZE_FINDING

    d = {"bon": {"ns": [1, 16], "methods": {}}, "deltas": {}}
    if headline:
        d["headline"] = headline
    text = " ".join(reading(domain, d))
    assert (SIZE_FINDING in text) is says
    assert "3.3M" in SIZE_FINDING and "prm_size" in SIZE_FINDING


@pytest.mark.parametrize("head_sound, ceiling, says_room, says_no_room", [
    (0.79, 0.80, "at most 1.0 points", True),     # the demo's math pool: at the ceiling
    (0.60, 0.80, "at most 20.0 points", False),   # room left: no excuse
])
def test_reading_states_the_sound_ceiling(head_sound, ceiling, says_room, says_no_room):
    d = {"bon": {"ns": [1, 16], "methods": {}}, "deltas": {}, "headline": "iprm:min",
         "hacking": {"sound": {"_n": 16, "_ceiling": ceiling, "_pass": 0.885, "iprm:min": head_sound}}}
    text = " ".join(reading("math", d))
    assert says_room in text and f"{100 * ceiling:.1f}%" in text and "88.5%" in text
    assert ("too little room" in text) is says_no_room
    d.pop("headline")   # a user's pool (`prm eval bon`): no headline, no sentence
    assert "Sound solutions" not in " ".join(reading("math", d))


@pytest.mark.parametrize("headline,delta,says", [
    ("lprm:min", -0.14, "lprm:min minus ratio: -14.0 points"),   # the demo's math headline: learned from zero
    ("lprm:min", None, "starts from zero reward"),               # no ratio row (no judge): the sentence, no number
    ("iprm:min", -0.14, None),                                   # a judge-started headline: not said
])
def test_reading_says_what_a_learned_headline_is_read_for(headline, delta, says):
    d = {"bon": {"ns": [1, 16], "methods": {}}, "deltas": {}, "headline": headline}
    if delta is not None:
        d["deltas"][f"{headline} - ratio:min"] = {"mean": [0.0, delta], "lo": [0.0, delta - 0.05], "hi": [0.0, delta + 0.05]}
    text = " ".join(reading("math", d))
    if says is None:
        assert "starts from zero reward" not in text
    else:
        assert says in text and "read the judge-started rows" in text
