"""The output-path guard (prm/paths.py) and that every writing command calls it before it writes or deletes."""

from __future__ import annotations

import os

import pytest

from prm.cli import main
from prm.errors import UserError
from prm.paths import check_paths

PROBLEM = '{"id": "m1", "domain": "math", "question": "1+1?", "answer": "2"}\n'
SAMPLE = '{"problem_id": "m1", "text": "1+1=2\\n\\nThe answer is 2.", "steps": ["1+1=2", "The answer is 2."]}\n'


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "in.jsonl").write_text(PROBLEM)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    os.symlink(tmp_path / "in.jsonl", tmp_path / "link.jsonl")
    os.link(tmp_path / "in.jsonl", tmp_path / "hard.jsonl")
    return tmp_path


@pytest.mark.parametrize("kw, message", [
    ({"inputs": {"--in": "in.jsonl"}, "outputs": {"--out": "in.jsonl"}}, "is the input --in"),
    ({"inputs": {"--in": "in.jsonl"}, "outputs": {"--out": "./sub/../in.jsonl"}}, "is the input --in"),
    ({"inputs": {"--in": "in.jsonl"}, "outputs": {"--out": "link.jsonl"}}, "is the input --in"),   # symlink
    ({"inputs": {"--in": "in.jsonl"}, "outputs": {"--out": "hard.jsonl"}}, "is the input --in"),   # hard link
    ({"inputs": {"--in": ["x.jsonl", "in.jsonl"]}, "outputs": {"--out": "in.jsonl"}}, "no such file"),
    ({"models": {"--model": "model"}, "output_dirs": {"--out": "model"}}, "is the input --model"),
    ({"models": {"--model": "model"}, "output_dirs": {"--out": "model/sub"}}, "is inside the input --model"),
    ({"models": {"--model": "model"}, "output_dirs": {"--out": "."}}, "contains the input --model"),
    ({"inputs": {"--in": "in.jsonl"}, "output_dirs": {"--out": "."}}, "contains the input --in"),
    ({"inputs": {"--in": "model"}}, "is a directory"),
    ({"outputs": {"--out": "model"}}, "is a directory"),
    ({"inputs": {"--in": "absent.jsonl"}}, "no such file"),
    ({"outputs": {"--out": "a.jsonl", "--summary": "a.jsonl"}}, "are the same file"),
])
def test_guard_refuses(tree, monkeypatch, kw, message):
    monkeypatch.chdir(tree)
    with pytest.raises(UserError, match=message) as err:
        check_paths(**kw)
    assert "--overwrite" not in str(err.value)  # no flag makes writing over an input safe


@pytest.mark.parametrize("kw", [
    {"inputs": {"--in": "in.jsonl"}, "outputs": {"--out": "out.jsonl"}},
    {"inputs": {"--in": "in.jsonl", "--opt": None}, "outputs": {"--out": "sub/in.jsonl"}},
    {"models": {"--model": "model", "--hub": "org/name-not-local"}, "output_dirs": {"--out": "model2"}},
    {"inputs": {"--in": "in.jsonl"}, "outputs": {"--out": "model/x.jsonl"}},  # a file input is no folder
])
def test_guard_allows(tree, monkeypatch, kw):
    monkeypatch.chdir(tree)
    check_paths(**kw)


def _files(tmp_path):
    p, s = tmp_path / "p.jsonl", tmp_path / "s.jsonl"
    p.write_text(PROBLEM)
    s.write_text(SAMPLE)
    (tmp_path / "m").mkdir()
    return str(p), str(s), str(tmp_path / "m")


# each writing command, with its output pointed at one of its inputs: refused, input unchanged
CASES = {
    "label --overwrite onto samples": ["label", "--method", "outcome", "--problems", "{p}", "--samples", "{s}",
                                       "--out", "{s}", "--overwrite", "--no-progress"],
    "label onto problems": ["label", "--method", "outcome", "--problems", "{p}", "--samples", "{s}", "--out", "{p}",
                            "--no-progress"],
    "label rejects file onto samples": ["label", "--method", "outcome", "--problems", "{p}", "--samples", "{r}",
                                        "--out", "{d}/o.jsonl", "--no-progress"],
    "label summary onto problems": ["label", "--method", "outcome", "--problems", "{p}", "--samples", "{s}",
                                    "--out", "{d}/o.jsonl", "--summary-json", "{p}", "--no-progress"],
    "sample": ["sample", "--problems", "{p}", "--model", "{m}", "--out", "{p}"],
    "exec --resume": ["exec", "--problems", "{p}", "--samples", "{s}", "--out", "{s}", "--resume"],
    "score": ["score", "--model", "{m}", "--input", "{s}", "--out", "{s}"],
    "score into the model": ["score", "--model", "{m}", "--input", "{s}", "--out", "{m}/scored.jsonl"],
    "search": ["search", "--method", "bon", "--problems", "{p}", "--model", "{m}", "--out", "{p}"],
    "segment": ["segment", "--input", "{s}", "--out", "{s}"],
    "verify": ["verify", "--file", "{s}", "--out", "{s}"],
    "convert": ["convert", "--from", "stepwise", "--to", "stepwise", "--input", "{s}", "--out", "{s}"],
    "data convert": ["data", "convert", "--dataset", "gsm8k", "--input", "{s}", "--out", "{s}"],
    "train --out = --model": ["train", "--model", "{m}", "--train", "{s}", "--out", "{m}"],
    "train --out around --train": ["train", "--model", "{m}", "--train", "{s}", "--out", "{d}"],
    "eval bon": ["eval", "bon", "--pool", "{d}/results.json", "--out", "{d}"],
    "eval processbench": ["eval", "processbench", "--data", "{d}/results.json", "--scorer", "sympy", "--out", "{d}"],
    "demo --out = --math-policy": ["demo", "--math-policy", "{m}", "--out", "{m}"],
}


@pytest.mark.parametrize("name", list(CASES))
def test_no_command_writes_over_its_input(tmp_path, capsys, name):
    p, s, m = _files(tmp_path)
    (tmp_path / "results.json").write_text(SAMPLE)
    (tmp_path / "m" / "config.json").write_text("{}")
    (tmp_path / "o.jsonl.rejects.jsonl").write_text(SAMPLE)  # the rejects file `--out o.jsonl` would write
    before = {f: f.read_bytes() for f in tmp_path.rglob("*") if f.is_file()}
    argv = [a.format(p=p, s=s, m=m, d=tmp_path, r=tmp_path / "o.jsonl.rejects.jsonl") for a in CASES[name]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "input" in err and "--overwrite" not in err and "Traceback" not in err
    after = {f: f.read_bytes() for f in tmp_path.rglob("*") if f.is_file()}
    assert after == before  # nothing deleted, nothing written


@pytest.mark.parametrize("argv", [
    ["check", "{d}"],
    ["label", "--method", "outcome", "--problems", "{d}", "--samples", "{s}", "--out", "{d}/o.jsonl"],
    ["sample", "--problems", "{d}", "--model", "x", "--out", "{d}/o.jsonl"],
    ["exec", "--problems", "{p}", "--samples", "{d}", "--out", "{d}/o.jsonl"],
    ["score", "--model", "x", "--input", "{d}", "--out", "{d}/o.jsonl"],
    ["segment", "--input", "{d}", "--out", "{d}/o.jsonl"],
    ["verify", "--file", "{d}"],
    ["convert", "--from", "stepwise", "--to", "stepwise", "--input", "{d}", "--out", "{d}/o.jsonl"],
    ["data", "convert", "--dataset", "gsm8k", "--input", "{d}", "--out", "{d}/o.jsonl"],
    ["eval", "bon", "--pool", "{d}"],
    ["eval", "processbench", "--data", "{d}", "--scorer", "sympy"],
    ["eval", "steps", "--data", "{d}", "--scorer", "x"],
    ["train", "--model", "x", "--train", "{d}", "--out", "{d}/o"],
])
def test_a_directory_as_input_is_a_clean_error(tmp_path, capsys, argv):
    p, s, _ = _files(tmp_path)
    assert main([a.format(p=p, s=s, d=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert "is a directory" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
