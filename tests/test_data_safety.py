"""Issue #17's smaller data-safety items: file modes of atomic writes, NaN, duplicate ids in `prm check`,
a one-record ProcessBench JSONL, and `eval bon` saying when one small pool caps every curve."""

from __future__ import annotations

import json
import os

import pytest

from prm.cli import main
from prm.errors import RecordError
from prm.records import iter_jsonl, write_jsonl_atomic

PROBLEM = {"id": "a", "domain": "math", "question": "q", "answer": "1"}


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize("before, want", [(None, 0o644), (0o640, 0o640), (0o664, 0o664)])
def test_atomic_write_keeps_the_mode(tmp_path, umask_022, before, want):
    path = tmp_path / "o.jsonl"
    if before is not None:
        path.write_text("old\n")
        path.chmod(before)
    write_jsonl_atomic(path, [{"a": 1}])
    assert os.stat(path).st_mode & 0o777 == want and path.read_text() == '{"a": 1}\n'


@pytest.mark.parametrize("before, want", [(None, 0o644), (0o640, 0o640)])
def test_report_json_write_keeps_the_mode_too(tmp_path, umask_022, before, want):
    # results.json / report.md went through a second atomic writer that left mkstemp's 0600
    from prm.eval.report import write_json

    path = tmp_path / "results.json"
    if before is not None:
        path.write_text("{}")
        path.chmod(before)
    write_json(path, {"a": 1})
    assert os.stat(path).st_mode & 0o777 == want and json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]      # no temporary file left


@pytest.mark.parametrize("argv", [["--eval", "-1"], ["--eval-n", "0"], ["--compare-problems", "0"], ["--eval", "x"]])
def test_policy_counts_are_checked_at_parse_time(argv, capsys):
    from prm.cli import main

    assert main(["policy", "info", "--domain", "math", *argv]) == 2
    assert argv[0] in capsys.readouterr().err


@pytest.mark.parametrize("line, field", [
    ('{"id": "a", "metadata": {"x": NaN}}', "metadata.x"),
    ('{"labels": [true, Infinity]}', "labels"),
    ('{"score": -Infinity}', "score"),
    ('[NaN]', None),
    ('{"mc_values": [0.5, 1e400]}', "mc_values"),   # a literal too large for a float reads as inf
])
def test_nan_is_refused_by_every_reader(tmp_path, line, field):
    path = tmp_path / "x.jsonl"
    path.write_text('{"ok": 1}\n' + line + "\n")
    with pytest.raises(RecordError) as err:
        list(iter_jsonl(path))
    assert err.value.where == f"{path}:2" and err.value.field == field
    assert [n for n, _ in iter_jsonl(path, skip_bad=True)] == [1]


@pytest.mark.parametrize("rows, message", [
    ([PROBLEM, {**PROBLEM, "answer": "2"}], "field 'id': duplicate problem id 'a' (first at"),
    ([PROBLEM, {**PROBLEM, "id": "b", "metadata": {"difficulty": float("nan")}}], "field 'metadata.difficulty'"),
])
def test_check_refuses_what_the_commands_refuse(tmp_path, capsys, rows, message):
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["check", str(path), "--kind", "problem"]) == 2
    assert f"{path}:2: {message}" in capsys.readouterr().err
    assert main(["check", str(path), "--kind", "problem", "--skip-bad"]) == 1


def test_check_skip_bad_passes_over_a_line_that_is_not_utf8(tmp_path, capsys):
    path = tmp_path / "p.jsonl"
    path.write_bytes(json.dumps(PROBLEM).encode() + b'\n{"id": "\xff"}\n' + json.dumps({**PROBLEM, "id": "b"}).encode())
    assert main(["check", str(path), "--kind", "problem", "--skip-bad"]) == 1
    out = capsys.readouterr()
    assert f"{path}:2: not UTF-8" in out.err and "2 valid problem records, 1 bad lines skipped" in out.out


def test_processbench_reads_a_one_record_jsonl(tmp_path, capsys):
    from prm.eval.processbench import read_processbench

    path = tmp_path / "pb.jsonl"
    path.write_text(json.dumps({"id": "x", "problem": "1+1?", "steps": ["1+1=3", "so 3"], "label": 0}) + "\n")
    assert read_processbench(path) == [{"id": "x", "problem": "1+1?", "steps": ["1+1=3", "so 3"], "label": 0}]
    assert main(["eval", "processbench", "--data", str(path), "--scorer", "sympy"]) == 0
    assert "pb: n=1" in capsys.readouterr().out


def _pool(tmp_path, sizes):
    rows = [{"problem_id": f"p{i}", "correct": k % 2 == 0, "scores": {"orm": k / 10}, "answer": str(k % 3)}
            for i, n in enumerate(sizes) for k in range(n)]
    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_pool_cap_names_the_small_pools():
    from prm.eval.bon import pool_cap

    class P:
        def __init__(self, pid, n):
            self.problem_id, self.n = pid, n

        def __len__(self):
            return self.n

    assert pool_cap([P("a", 8), P("b", 8)]) is None
    assert pool_cap([P("a", 8), P("b", 2), P("c", 4)]) == {"n_max": 8, "capped_at": 2, "problems": ["b", "c"],
                                                           "n_small": 2}


def test_eval_bon_says_when_one_pool_caps_every_curve(tmp_path, capsys):
    pool = _pool(tmp_path, [8, 8, 2])
    base = ["eval", "bon", "--pool", pool, "--repeats", "3", "--no-sympy", "--methods", "orm,majority,random,oracle"]
    assert main(base + ["--out", str(tmp_path / "all")]) == 0
    err = capsys.readouterr().err
    assert "1 problem(s) have fewer than 8 samples (smallest first: p2)" in err and "stops at N=2" in err
    res = json.loads((tmp_path / "all" / "results.json").read_text())["domains"]["math"]
    assert res["bon"]["ns"][-1] == 2 and res["setup"]["pool_cap"]["problems"] == ["p2"]
    assert main(base + ["--out", str(tmp_path / "big"), "--min-pool", "8"]) == 0
    assert "dropped 1 problem(s) with smaller pools: p2" in capsys.readouterr().err
    res = json.loads((tmp_path / "big" / "results.json").read_text())["domains"]["math"]
    assert res["bon"]["ns"][-1] == 8 and res["setup"]["problems"] == 2 and res["setup"]["pool_cap"] is None
