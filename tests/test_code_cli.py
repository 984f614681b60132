"""`prm exec`: a result line per sample, a summary, resume, and clear errors for bad input."""

from __future__ import annotations

import json

import pytest

from prm.cli import main
from verifiers.code import extract_program, needs_prompt

PROBLEMS = [
    {"id": "add", "domain": "code", "question": "def add(a, b):\n", "test_format": "mbpp", "entry_point": "add",
     "tests": ["assert add(1, 2) == 3", "assert add(2, 2) == 4"]},
    {"id": "inc", "domain": "code", "question": "def inc(x):\n    \"\"\"x + 1\"\"\"\n", "test_format": "humaneval",
     "entry_point": "inc", "tests": "def check(candidate):\n    assert candidate(1) == 2\n"},
    {"id": "sum", "domain": "code", "question": "print a+b", "test_format": "stdio",
     "tests": [{"input": "1 2\n", "output": "3\n"}]},
    {"id": "m", "domain": "math", "question": "1+1?", "answer": "2"},
]
SAMPLES = [
    {"problem_id": "add", "text": "Sure:\n```python\ndef add(a, b):\n    return a + b\n```\nDone.", "steps": []},
    {"problem_id": "add", "text": "def add(a, b):\n    return a - b\n", "steps": []},
    {"problem_id": "inc", "text": "    return x + 1\n", "steps": []},            # a completion of the prompt
    {"problem_id": "sum", "text": "print(sum(map(int, input().split())))\n", "steps": []},
    {"problem_id": "sum", "text": "import os\nos._exit(0)\n", "steps": []},
]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


@pytest.fixture
def files(tmp_path):
    return _write(tmp_path / "problems.jsonl", PROBLEMS), _write(tmp_path / "samples.jsonl", SAMPLES), tmp_path


def test_exec_writes_a_row_per_sample_and_a_summary(files, capsys):
    problems, samples, tmp = files
    out = tmp / "res.jsonl"
    assert main(["exec", "--problems", problems, "--samples", samples, "--out", str(out),
                 "--workers", "2"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["sample_line"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["passed"] for r in rows] == [True, False, True, True, False]
    assert rows[1]["n_passed"] == 0 and rows[1]["n_tests"] == 2 and rows[1]["status"] == "failed"
    assert rows[0]["verifier"].startswith("verifiers.code ")
    summary = json.loads((tmp / "res.summary.json").read_text())
    assert summary["samples"] == 5 and summary["passed"] == 3 and summary["problems"] == 3
    assert summary["pass_at_1"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert "3 passed (60.0%)" in capsys.readouterr().out


def test_exec_resume_skips_finished_rows(files):
    problems, samples, tmp = files
    out = tmp / "res.jsonl"
    assert main(["exec", "--problems", problems, "--samples", samples, "--out", str(out)]) == 0
    whole = out.read_text().splitlines()
    out.write_text("\n".join(whole[:2]) + "\n" + whole[2][:15])  # a crash after two rows, mid-write
    assert main(["exec", "--problems", problems, "--samples", samples, "--out", str(out)]) == 2  # exists
    assert main(["exec", "--problems", problems, "--samples", samples, "--out", str(out), "--resume"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["sample_line"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[:2] == [json.loads(x) for x in whole[:2]]  # the finished rows were kept, not re-run


def test_exec_resume_refuses_another_samples_file(files, capsys):
    # rows are keyed by line number: another samples file would reuse verdicts of other programs
    problems, samples, tmp = files
    out = tmp / "res.jsonl"
    other = _write(tmp / "other.jsonl", list(reversed(SAMPLES)))
    assert main(["exec", "--problems", problems, "--samples", other, "--out", str(out)]) == 0
    before = out.read_bytes()
    assert main(["exec", "--problems", problems, "--samples", samples, "--out", str(out), "--resume"]) == 2
    assert "--samples (a different file" in capsys.readouterr().err and out.read_bytes() == before
    assert main(["exec", "--problems", problems, "--samples", other, "--out", str(out), "--resume",
                 "--timeout", "3"]) == 2
    assert '--timeout (10.0 then, 3.0 now)' in capsys.readouterr().err


@pytest.mark.parametrize("sample,message", [
    ({"problem_id": "nope", "text": "x", "steps": []}, "unknown problem id 'nope'"),
    ({"problem_id": "m", "text": "x", "steps": []}, "math problem"),
    ({"problem_id": "add", "steps": []}, "field 'text'"),
])
def test_exec_bad_samples_name_file_line_field(files, sample, message, capsys):
    problems, _, tmp = files
    bad = _write(tmp / "bad.jsonl", [SAMPLES[0], sample])
    assert main(["exec", "--problems", problems, "--samples", bad]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2" in err and message in err


def test_exec_bad_flags(files, capsys):
    problems, samples, _ = files
    assert main(["exec", "--problems", problems, "--samples", samples, "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err


@pytest.mark.parametrize("text,mode,program", [
    ("def f():\n    pass\n", "auto", "def f():\n    pass\n"),
    ("x\n```python\na = 1\n```\ny\n```py\nb = 2\n```\n", "auto", "b = 2\n"),
    ("```\nc = 3\n```", "auto", "c = 3\n"),
    ("x\n```python\na = 1\n```\n", "none", "x\n```python\na = 1\n```\n"),
    ("unterminated ```python\na = 1\n", "auto", "unterminated ```python\na = 1\n"),
])
def test_extract_program(text, mode, program):
    assert extract_program(text, mode) == program


@pytest.mark.parametrize("program,mode,fmt,expected", [
    ("    return x + 1\n", "auto", "humaneval", True),
    ("def inc(x):\n    return x + 1\n", "auto", "humaneval", False),
    ("import math\n\ndef  inc (x):\n    return x + 1\n", "auto", "humaneval", False),
    ("    return x + 1\n", "auto", "mbpp", False),
    ("def inc(x):\n    return x + 1\n", "always", "humaneval", True),
    ("    return x + 1\n", "never", "humaneval", False),
])
def test_needs_prompt(program, mode, fmt, expected):
    assert needs_prompt(program, test_format=fmt, entry_point="inc", prompt=mode) is expected
