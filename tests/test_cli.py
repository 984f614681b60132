"""The `prm` CLI: help lists the commands, bad input gives one line and a non-zero exit, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prm.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]


def prm(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "prm", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=300)


def test_help_lists_every_command():
    r = prm("--help")
    assert r.returncode == 0
    for name in COMMANDS:
        assert name in r.stdout


def test_every_command_module_imports_and_has_help():
    for name in COMMANDS:
        r = prm(name, "--help")
        assert r.returncode == 0, (name, r.stderr[-2000:])
        assert "usage: prm " + name in r.stdout


def test_unknown_command_fails_cleanly():
    r = prm("frobnicate")
    assert r.returncode == 2 and "unknown command" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("content,needle", [
    ('{"prompt": "p", "completions": ["a"], "labels": [true]}\n{"prompt": "p", "completions": ["a"]}\n',
     "bad.jsonl:2: field 'labels': missing required field"),
    ('{"prompt": "p"\n', "bad.jsonl:1: invalid JSON"),
])
def test_check_reports_file_line_field_without_traceback(tmp_path, content, needle):
    f = tmp_path / "bad.jsonl"
    f.write_text(content)
    r = prm("check", f, "--kind", "stepwise")
    assert r.returncode == 2
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_check_skip_bad_counts(tmp_path):
    f = tmp_path / "mixed.jsonl"
    f.write_text('{"prompt": "p", "completions": ["a"], "labels": [0.5]}\nnope\n')
    r = prm("check", f, "--skip-bad")
    assert r.returncode == 1
    assert "1 valid stepwise records, 1 bad lines skipped" in r.stdout
    assert "mixed.jsonl:2" in r.stderr


def test_segment_writes_samples_that_join_back(tmp_path):
    src = tmp_path / "sol.jsonl"
    texts = ["Step one.\n\n2 + 3 = 5.\n\nThe answer is 5.", "def f(x):\n    y = x * 2\n    return y\n"]
    src.write_text("".join(json.dumps({"problem_id": str(i), "text": t}) + "\n" for i, t in enumerate(texts)))
    out = tmp_path / "samples.jsonl"
    assert prm("segment", "--input", src, "--out", out).returncode == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["steps"] == ["Step one.", "2 + 3 = 5.", "The answer is 5."]
    out2 = tmp_path / "code.jsonl"
    assert prm("segment", "--input", src, "--out", out2, "--mode", "code").returncode == 0
    code = [json.loads(line) for line in out2.read_text().splitlines()][1]
    assert "\n".join(code["steps"]) == texts[1] and len(code["steps"]) == 3


def test_segment_bad_field_leaves_no_partial_output(tmp_path):
    src = tmp_path / "sol.jsonl"
    src.write_text('{"text": "a"}\n{"txt": "b"}\n')
    out = tmp_path / "samples.jsonl"
    r = prm("segment", "--input", src, "--out", out)
    assert r.returncode == 2 and "sol.jsonl:2: field 'text'" in r.stderr
    assert not out.exists()


def test_demo_quick_keeps_the_full_policies_unless_asked():
    """--quick shrinks the stages; only --quick-policy swaps in the fast-trained (near-useless) policies."""
    from prm.demo_config import preset

    assert preset(True).quick and not preset(True).quick_policy
    assert preset(True, quick_policy=True).quick_policy
    assert not preset(False).quick_policy
