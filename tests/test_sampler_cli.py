"""`prm sample`: problems -> samples, resumable after a crash, clear errors; `prm policy` errors."""

from __future__ import annotations

import json

import pytest

from prm.cli import main
from prm.records import read_records
from prm.tasks import TASKS_DIR


@pytest.fixture()
def problems(tmp_path):
    path = tmp_path / "problems.jsonl"
    lines = (TASKS_DIR / "math_test.jsonl").read_text().splitlines()[:3]
    path.write_text("\n".join(lines) + "\n")
    return path


def sample(tiny_lm_dir, problems, out, *extra):
    return main(["sample", "--problems", str(problems), "--model", str(tiny_lm_dir), "--backend", "transformers",
                 "-n", "2", "--max-tokens", "6", "--out", str(out), *extra])


def test_sample_writes_and_resumes(tiny_lm_dir, problems, tmp_path):
    out = tmp_path / "samples.jsonl"
    assert sample(tiny_lm_dir, problems, out) == 0
    full = out.read_text()
    rows = read_records(out, "sample")
    assert len(rows) == 6
    assert [(r.problem_id, r.metadata["sample_index"]) for r in rows] == [
        (f"math-test-0000{i}", k) for i in range(3) for k in range(2)]
    for r in rows:
        assert r.source["backend"] == "transformers" and r.source["finish_reason"] in ("stop", "length")
        assert "\n\n".join(r.steps) == r.text
        assert r.metadata["sample_id"] == f"{r.problem_id}:{r.metadata['sample_index']}"
    # a re-run has nothing to do
    assert sample(tiny_lm_dir, problems, out) == 0
    assert out.read_text() == full
    # a crash: the last record lost and a torn half line left behind
    kept = full.splitlines(keepends=True)[:-1]
    out.write_text("".join(kept) + full.splitlines()[-1][:20])
    assert sample(tiny_lm_dir, problems, out) == 0
    # per-problem seeds: the resumed run writes exactly what the uninterrupted one did
    assert out.read_text() == full


@pytest.mark.parametrize("args, message", [
    (["--policy", "math", "--model", "x"], "exactly one of --model"),
    (["-n", "0"], "argument -n: must be at least 1"),
    (["--batch-size", "0"], "--batch-size"),
    (["--policy", "code"], "is not code"),
])
def test_sample_errors(tiny_lm_dir, problems, tmp_path, capsys, args, message):
    base = ["sample", "--problems", str(problems), "--out", str(tmp_path / "o.jsonl")]
    if "--policy" not in args:
        base += ["--model", str(tiny_lm_dir), "--backend", "transformers"]
    assert main(base + args) == 2
    assert message in capsys.readouterr().err


def test_sample_missing_model_and_bad_problems(tmp_path, problems, capsys):
    assert main(["sample", "--problems", str(problems), "--model", str(tmp_path / "none"),
                 "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "model path not found" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "1", "domain": "math"}) + "\n")
    assert main(["sample", "--problems", str(bad), "--model", "x", "--out", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl:1" in err and "question" in err


def test_policy_info_without_cache(tmp_path, capsys, monkeypatch):
    # an empty cache still has the shipped copy; without one (a changed recipe) info says how to train
    assert main(["policy", "info", "--domain", "math", "--cache-dir", str(tmp_path)]) == 0
    assert "shipped policy/math-" in capsys.readouterr().out
    from prm import shipped
    monkeypatch.setattr(shipped, "find", lambda model, root=None: (None, "none shipped (test)"))
    assert main(["policy", "info", "--domain", "math", "--cache-dir", str(tmp_path)]) == 2
    assert "prm policy train --domain math" in capsys.readouterr().err
