"""scripts/compare_runs.py: which differences between two results.json count, and its exit codes."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "compare_runs.py"

BASE = {
    "schema_version": 1, "command": "prm demo --quick", "created": "2026-01-01T00:00:00+00:00",
    "domains": {"math": {
        "stages": {"tasks": {"status": "ran", "seconds": 0.4, "detail": "16 train / 16 test problems"}},
        "labels": {"mc": {"records": 60, "steps": 240, "judged": 200, "positive": 31, "correct_samples": 4}},
        "bon": {"ns": [1, 2, 4], "n_problems": 16,
                "methods": {"random": {"mean": [0.25, 0.25, 0.25], "proxy": [None, None, None]},
                            "oracle": {"mean": [0.25, 0.375, 0.5], "proxy": [None, None, None]}}},
        "beam": {"accuracy": 0.3125, "tokens_per_problem": 812.5,
                 "bon_at_equal_compute": {"n_equivalent": 3.2, "clamped": False}},
        "plot": "bon_math.png"}},
    "notes": ["Total time 143 s on Linux."],
}


def edit(path: str, value):
    """A copy of BASE with the leaf at dotted `path` set to `value` (or deleted when value is DELETE)."""
    def apply(d):
        keys = path.split(".")
        node = d
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        last = keys[-1]
        if value is DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
        return d
    return apply(copy.deepcopy(BASE))


DELETE = object()


def run(tmp_path: Path, a, b, *extra: str) -> subprocess.CompletedProcess:
    files = []
    for name, obj in (("a", a), ("b", b)):
        d = tmp_path / name
        d.mkdir()
        if obj is not None:
            (d / "results.json").write_text(obj if isinstance(obj, str) else json.dumps(obj))
        files.append(str(d))
    return subprocess.run([sys.executable, str(SCRIPT), *files, *extra], capture_output=True, text=True, timeout=60)


# (case, run B, extra args, exit code, lines expected in stdout (each: all of these words))
CASES = [
    ("identical", BASE, (), 0, [["equal:"]]),
    ("timings, date, command, plot and notes differ only",
     {**edit("domains.math.stages.tasks.seconds", 9.9), "created": "2027-05-05", "command": "prm demo",
      "notes": ["Total time 999 s"], "domains": edit("domains.math.plot", "x.png")["domains"]}, (), 0, [["equal:"]]),
    ("a float differs", edit("domains.math.beam.accuracy", 0.375), (), 1,
     [["domains.math.beam.accuracy", "0.3125", "0.375", "+0.0625"], ["1 of"]]),
    ("a list element differs", edit("domains.math.bon.methods.oracle.mean", [0.25, 0.375, 0.5625]), (), 1,
     [["domains.math.bon.methods.oracle.mean[2]", "0.5", "0.5625"]]),
    ("an int differs", edit("domains.math.labels.mc.positive", 32), (), 1,
     [["domains.math.labels.mc.positive", "31", "32", "+1"]]),
    ("within --tol", edit("domains.math.beam.tokens_per_problem", 812.5 + 1e-9), ("--tol", "1e-6"), 0, [["equal:"]]),
    ("beyond --tol", edit("domains.math.beam.tokens_per_problem", 812.6), ("--tol", "1e-6"), 1,
     [["domains.math.beam.tokens_per_problem", "812.5", "812.6"]]),
    ("default is exact", edit("domains.math.beam.tokens_per_problem", 812.5 + 1e-9), (), 1,
     [["domains.math.beam.tokens_per_problem"]]),
    ("key missing in B", edit("domains.math.labels.mc.judged", DELETE), (), 1,
     [["domains.math.labels.mc.judged", "200", "(missing)"]]),
    ("null vs a number", edit("domains.math.bon.methods.random.proxy", [None, 0.5, None]), (), 1,
     [["domains.math.bon.methods.random.proxy[1]", "null", "0.5"]]),
    ("boolean differs", edit("domains.math.beam.bon_at_equal_compute.clamped", True), (), 1,
     [["domains.math.beam.bon_at_equal_compute.clamped", "false", "true"]]),
]


@pytest.mark.parametrize("case,b,extra,rc,lines", CASES, ids=[c[0] for c in CASES])
def test_compare_runs(tmp_path, case, b, extra, rc, lines):
    r = run(tmp_path, BASE, b, *extra)
    assert r.returncode == rc, r.stdout + r.stderr
    out = r.stdout.splitlines()
    for words in lines:
        assert any(all(w in line for w in words) for line in out), (words, r.stdout)
    if rc == 1:
        assert out[0].split() == ["path", "A", "B", "B", "-", "A"]


def test_key_missing_in_a_is_a_difference_too(tmp_path):
    r = run(tmp_path, edit("domains.math.labels.mc.judged", DELETE), BASE)
    assert r.returncode == 1
    assert any("domains.math.labels.mc.judged" in line and "(missing)" in line and "200" in line
               for line in r.stdout.splitlines())


@pytest.mark.parametrize("b,message", [
    (None, "results.json: cannot read"),        # no results.json in the folder
    ("{not json", "results.json:1: bad JSON"),
    ("[1, 2]", "expected a JSON object"),
])
def test_bad_input_is_one_line_naming_the_file(tmp_path, b, message):
    r = run(tmp_path, BASE, b)
    assert r.returncode == 2 and r.stdout == ""
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and message in err[0] and str(tmp_path / "b") in err[0]


def test_a_results_file_can_be_given_directly(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps(BASE))
    r = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "x.json"), str(tmp_path / "x.json")],
                       capture_output=True, text=True, timeout=60)
    # schema_version 1 + labels 5 + ns 3 + n_problems 1 + two methods x (3 means + 3 proxies) 12 + beam 4
    assert r.returncode == 0 and r.stdout.startswith("equal: 26 numbers compared")
