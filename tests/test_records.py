"""The data contract: validation names file/line/field, skip mode counts, writes are crash-safe,
files round-trip through `datasets` with no custom loader."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from prm.errors import RecordError
from prm.records import (JsonlAppender, Problem, ReadStats, Sample, StepwiseRecord, done_keys, iter_records,
                         read_problems, read_records, repair_tail, write_jsonl_atomic)

GOOD_MATH = {"id": "m1", "domain": "math", "question": "1+1?", "answer": "2"}
GOOD_CODE = {"id": "c1", "domain": "code", "question": "add", "test_format": "mbpp",
             "tests": ["assert add(1, 2) == 3"], "entry_point": "add"}


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


# (kind, record, field named in the error)
BAD_RECORDS = [
    ("problem", {"domain": "math", "question": "q", "answer": "1"}, "id"),
    ("problem", {"id": "a", "domain": "physics", "question": "q"}, "domain"),
    ("problem", {"id": "a", "domain": "math", "question": "q"}, "answer"),
    ("problem", {"id": "a", "domain": "math", "question": 5, "answer": "1"}, "question"),
    ("problem", {"id": "a", "domain": "code", "question": "q", "tests": ["assert 1"]}, "test_format"),
    ("problem", {"id": "a", "domain": "code", "question": "q", "test_format": "mbpp", "tests": []}, "tests"),
    ("problem", {"id": "a", "domain": "code", "question": "q", "test_format": "mbpp", "tests": [1]}, "tests"),
    ("problem", {"id": "a", "domain": "code", "question": "q", "test_format": "humaneval", "tests": "def check(c): pass"}, "entry_point"),
    ("problem", {"id": "a", "domain": "code", "question": "q", "test_format": "stdio", "tests": [{"input": "1"}]}, "tests"),
    ("sample", {"text": "x", "steps": ["x"]}, "problem_id"),
    ("sample", {"problem_id": "p", "text": "x", "steps": "x"}, "steps"),
    ("sample", {"problem_id": "p", "text": "x", "steps": ["x", 3]}, "steps"),
    ("stepwise", {"prompt": "p", "completions": ["a", "b"], "labels": [True]}, "labels"),
    ("stepwise", {"prompt": "p", "completions": ["a"], "labels": ["yes"]}, "labels"),
    ("stepwise", {"prompt": "p", "completions": ["a"], "labels": [1.5]}, "labels"),
    ("stepwise", {"prompt": "p", "completions": ["a"], "labels": [float("nan")]}, "labels"),
    ("stepwise", {"prompt": "p", "completions": "a", "labels": [True]}, "completions"),
    ("stepwise", {"completions": ["a"], "labels": [True]}, "prompt"),
    ("stepwise", {"prompt": True, "completions": ["a"], "labels": [True]}, "prompt"),
]


@pytest.mark.parametrize("kind,record,field", BAD_RECORDS)
def test_bad_record_names_file_line_and_field(tmp_path, kind, record, field):
    # a blank first line: the error must count physical lines, not records
    f = _write(tmp_path / "in.jsonl", ["", json.dumps(record, allow_nan=True)])
    with pytest.raises(RecordError) as err:
        read_records(f, kind)
    msg = str(err.value)
    assert f"{f}:2" in msg and f"'{field}'" in msg, msg
    assert err.value.field == field


@pytest.mark.parametrize("line,expect", [
    ("{not json", "invalid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"id": "m1", "domain": "math", "question": "q", "answer": "1"', "invalid JSON"),  # torn write
])
def test_malformed_lines_raise_with_location(tmp_path, line, expect):
    f = _write(tmp_path / "p.jsonl", [json.dumps(GOOD_MATH), line])
    with pytest.raises(RecordError, match=f"p.jsonl:2.*{expect}"):
        read_records(f, "problem")


def test_skip_mode_counts_and_keeps_good_lines(tmp_path):
    f = _write(tmp_path / "p.jsonl", [json.dumps(GOOD_MATH), "garbage", json.dumps({"id": "x"}),
                                      json.dumps(GOOD_CODE)])
    stats = ReadStats()
    recs = read_records(f, "problem", skip_bad=True, stats=stats)
    assert [r.id for r in recs] == ["m1", "c1"]
    assert (stats.read, stats.skipped) == (2, 2)
    assert "p.jsonl:2" in stats.errors[0] and "p.jsonl:3" in stats.errors[1]


def test_not_utf8_and_missing_file(tmp_path):
    f = tmp_path / "bin.jsonl"
    f.write_bytes(json.dumps(GOOD_MATH).encode() + b"\n\xff\xfe\x00junk\n")
    with pytest.raises(RecordError, match="not UTF-8"):
        read_records(f, "problem")
    with pytest.raises(RecordError, match="no such file"):
        read_records(tmp_path / "absent.jsonl", "problem")


def test_duplicate_problem_ids_refused(tmp_path):
    f = _write(tmp_path / "p.jsonl", [json.dumps(GOOD_MATH), json.dumps(GOOD_MATH)])
    with pytest.raises(RecordError, match="p.jsonl:2.*duplicate problem id"):
        read_problems(f)


def test_labels_keep_types_floats_never_cast():
    rec = StepwiseRecord.from_dict({"prompt": "p", "completions": ["a", "b", "c", "d"],
                                    "labels": [True, 0.25, None, 1]})
    assert rec.labels == [True, 0.25, None, True]
    assert isinstance(rec.labels[1], float)
    assert StepwiseRecord.from_dict({"prompt": "p", "completions": ["a"], "labels": [0.0]}).labels == [0.0]


def test_extra_columns_round_trip(tmp_path):
    d = {"prompt": "p", "completions": ["a", "b"], "labels": [True, False], "first_error": 1,
         "mc_values": [1.0, 0.0], "provenance": {"labeler": "mc", "k": 8}}
    f = tmp_path / "s.jsonl"
    write_jsonl_atomic(f, [StepwiseRecord.from_dict(d)])
    assert json.loads(f.read_text()) == d
    prob = Problem.from_dict({**GOOD_CODE, "metadata": {"reference": "def add(a, b):\n    return a + b"}})
    assert Problem.from_dict(prob.to_dict()) == prob
    s = Sample(problem_id="m1", text="a\n\nb", steps=["a", "b"], answer="b", source={"model": "tiny"})
    assert Sample.from_dict(json.loads(json.dumps(s.to_dict()))) == s


@pytest.mark.parametrize("labels", [[True, False, None], [0.5, 1.0, None]])
def test_stepwise_file_loads_in_datasets_without_custom_loader(tmp_path, labels):
    datasets = pytest.importorskip("datasets")
    rows = [StepwiseRecord("q", ["a", "b", "c"], labels, {"problem_id": "1", "provenance": {"labeler": "direct"}}),
            StepwiseRecord("q2", ["x", "y", "z"], labels[::-1], {"problem_id": "2", "provenance": {"labeler": "direct"}})]
    f = tmp_path / "s.jsonl"
    write_jsonl_atomic(f, rows)
    ds = datasets.load_dataset("json", data_files=str(f), split="train")
    assert ds.num_rows == 2
    assert ds[0]["labels"] == labels  # None stays None: -100 / unjudged must never become True
    back = [StepwiseRecord.from_dict(r) for r in ds]
    assert [b.to_dict() for b in back] == [r.to_dict() for r in rows]


def test_atomic_write_keeps_old_file_when_writer_crashes(tmp_path):
    f = tmp_path / "out.jsonl"
    write_jsonl_atomic(f, [GOOD_MATH])

    def rows():
        yield GOOD_MATH
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        write_jsonl_atomic(f, rows())
    assert f.read_text() == json.dumps(GOOD_MATH) + "\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temp file left behind


@pytest.mark.parametrize("content,kept", [
    (b"", b""),
    (b'{"a": 1}\n', b'{"a": 1}\n'),
    (b'{"a": 1}\n{"a": 2', b'{"a": 1}\n'),
    (b'{"a": 1', b""),
    (b'{"a": 1}\n' * 10000 + b'{"b": "' + b"x" * 100000, b'{"a": 1}\n' * 10000),
])
def test_repair_tail_cuts_only_a_torn_last_line(tmp_path, content, kept):
    f = tmp_path / "a.jsonl"
    f.write_bytes(content)
    assert repair_tail(f) == len(content) - len(kept)
    assert f.read_bytes() == kept


def test_appender_survives_kill_9_and_resumes_without_loss_or_duplicates(tmp_path):
    out = tmp_path / "out.jsonl"
    script = f"""
import sys, time
sys.path.insert(0, {str(os.getcwd())!r})
from prm.records import JsonlAppender, done_keys
done = done_keys({str(out)!r}, "i")
with JsonlAppender({str(out)!r}) as w:
    for i in range(200):
        if i in done:
            continue
        w.write({{"i": i, "pad": "x" * 2000}})
        print(i, flush=True)
        time.sleep(0.002)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    for _ in range(50):
        proc.stdout.readline()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # simulate a torn half-record as a crash between write() calls can leave
    with out.open("a") as fh:
        fh.write('{"i": 9999, "pad": "xx')
    subprocess.run([sys.executable, "-c", script], check=True, stdout=subprocess.DEVNULL)
    ids = [json.loads(line)["i"] for line in out.read_text().splitlines()]
    assert sorted(ids) == list(range(200))


def test_appender_context_and_count(tmp_path):
    f = tmp_path / "a.jsonl"
    with JsonlAppender(f) as w:
        w.write(StepwiseRecord("p", ["a"], [True]))
        w.write({"prompt": "p2", "completions": [], "labels": []})
    assert w.written == 2
    assert [r.prompt for r in iter_records(f, "stepwise")] == ["p", "p2"]
    assert done_keys(f, "prompt") == {"p", "p2"}


def test_nan_is_refused_on_write(tmp_path):
    with pytest.raises(ValueError):
        write_jsonl_atomic(tmp_path / "x.jsonl", [{"a": float("nan")}])
