"""The resume fingerprint (prm/resume.py): a resumed run continues the same job or refuses, naming what differs."""

from __future__ import annotations

import argparse
import json

import pytest

from prm import resume
from prm.cli import main
from prm.errors import UserError

PROBLEMS = [{"id": f"m{i}", "domain": "math", "question": f"What is {i} + {i}?", "answer": str(2 * i)}
            for i in range(3)]
SAMPLES = [{"problem_id": f"m{i}", "text": f"{i} + {i} = {2 * i + k}\n\nThe answer is {2 * i + k}.",
            "steps": [f"{i} + {i} = {2 * i + k}", f"The answer is {2 * i + k}."]} for i in range(3) for k in (0, 1)]


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


@pytest.fixture
def files(tmp_path):
    return write(tmp_path / "p.jsonl", PROBLEMS), write(tmp_path / "s.jsonl", SAMPLES), tmp_path / "o.jsonl"


def test_fingerprint_follows_content_not_path(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("x\n")
    b.write_text("x\n")
    assert resume.fingerprint("c", {"--in": a}, {}) == resume.fingerprint("c", {"--in": b}, {})
    b.write_text("y\n")
    old, new = resume.fingerprint("c", {"--in": a}, {"--k": 1}), resume.fingerprint("c", {"--in": b}, {"--k": 2})
    assert resume.differences(old, new) == [
        "--in (a different file: its content is not the one the output was made from)", "--k (1 then, 2 now)"]
    assert resume.differences(old, old) == []


@pytest.mark.parametrize("content, sidecar, resumed, message", [
    (None, None, False, None),                      # no output yet: a fresh start, fingerprint stored
    ("", None, False, None),                        # an empty output counts as none
    ('{"a": 1', None, False, None),                 # only a torn line (a crash in the first write)
    ('{"a": 1}\n', "same", True, None),
    ('{"a": 1}\n', None, None, "no resume record"),  # records of unknown provenance
    ('{"a": 1}\n', "other", None, "--k (1 then, 2 now)"),
    ('{"a": 1}\n', "garbage", None, "unreadable resume record"),
])
def test_begin(tmp_path, content, sidecar, resumed, message):
    out = tmp_path / "o.jsonl"
    fp = resume.fingerprint("c", {}, {"--k": 2})
    if content is not None:
        out.write_text(content)
    if sidecar == "garbage":
        resume.sidecar(out).write_text("{")
    elif sidecar:
        resume.write(out, fp if sidecar == "same" else resume.fingerprint("c", {}, {"--k": 1}))
    if message:
        with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
            resume.begin(out, fp)
        return
    assert resume.begin(out, fp) is resumed
    assert json.loads(resume.sidecar(out).read_text()) == fp


LABEL = ["label", "--method", "direct", "--no-progress"]


@pytest.mark.parametrize("change, differs", [
    (["--after-error", "unlabeled"], '--after-error ("incorrect" then, "unlabeled" now)'),
    (["--unjudged", "correct"], '--unjudged ("unlabeled" then, "correct" now)'),
    (["--method", "outcome"], '--method ("direct" then, "outcome" now)'),
    (["--code-timeout", "2"], "--code-timeout (5.0 then, 2.0 now)"),
])
def test_label_resume_with_other_settings_is_refused(files, capsys, change, differs):
    p, s, out = files
    io = ["--problems", p, "--samples", s, "--out", str(out)]
    assert main(LABEL + io + ["--limit", "2"]) == 0       # a run stopped after 2 of 6
    before = out.read_bytes()
    assert main(LABEL + io + change) == 2
    err = capsys.readouterr().err
    assert differs in err and "--overwrite" in err and out.read_bytes() == before
    assert main(LABEL + io) == 0                          # the same job continues
    assert len(out.read_text().splitlines()) == 6


def test_label_resume_with_edited_samples_is_refused(files, capsys):
    p, s, out = files
    io = ["--problems", p, "--samples", s, "--out", str(out)]
    assert main(LABEL + io + ["--limit", "2"]) == 0
    write(out.parent / "s.jsonl", SAMPLES[::-1])
    assert main(LABEL + io) == 2
    assert "--samples (a different file" in capsys.readouterr().err


def test_label_refuses_records_without_a_fingerprint(files, capsys):
    p, s, out = files
    out.write_text('{"prompt": "q", "completions": ["a"], "labels": [true]}\n')
    assert main(LABEL + ["--problems", p, "--samples", s, "--out", str(out)]) == 2
    assert "no resume record" in capsys.readouterr().err
    assert main(LABEL + ["--problems", p, "--samples", s, "--out", str(out), "--overwrite"]) == 0


def _stored(command_module, argv, out):
    """Store the fingerprint a run with `argv` would leave, next to one record in `out`."""
    p = argparse.ArgumentParser()
    command_module.add_arguments(p)
    args = p.parse_args(argv)
    out.write_text('{"x": 1}\n')
    return args


@pytest.mark.parametrize("change, differs", [
    (["--temperature", "0.5"], "--temperature (1.0 then, 0.5 now)"),
    (["--seed", "1"], "--seed (0 then, 1 now)"),
    (["--max-tokens", "9"], "--max-tokens (256 then, 9 now)"),
    (["-n", "2"], "-n (4 then, 2 now)"),
    (["--model", "other"], '--model/--policy ("m" then, "other" now)'),
    (["--stop", "ки"], '--stop ([] then, ["ки"] now)'),
])
def test_sample_resume_with_other_settings_is_refused(files, capsys, change, differs):
    from prm.commands import sample

    p, _, out = files
    argv = ["--problems", p, "--model", "m", "--out", str(out)]
    args = _stored(sample, argv, out)
    resume.write(out, resume.fingerprint("sample", {"--problems": p}, sample.record_settings(args)))
    assert main(["sample", *argv, *change]) == 2        # refused before any model is loaded
    assert differs in capsys.readouterr().err and out.read_text() == '{"x": 1}\n'


@pytest.mark.parametrize("change, differs", [
    (["--max-length", "64"], "--max-length (null then, 64 now)"),
    (["--ensemble", "mean"], '--ensemble ("min" then, "mean" now)'),
])
def test_score_resume_with_other_settings_is_refused(files, capsys, change, differs):
    from prm.commands import score

    p, s, out = files
    argv = ["--model", "m", "--input", s, "--problems", p, "--out", str(out)]
    args = _stored(score, argv, out)
    resume.write(out, score._fingerprint(args))
    assert main(["score", *argv, *change]) == 2
    assert differs in capsys.readouterr().err and out.read_text() == '{"x": 1}\n'


def test_score_resumes_after_a_crash(trained_prm_dir, tmp_path, capsys):
    # score is resumable like label/sample: a crash keeps the scored lines, a rerun does the rest
    rows = [{"prompt": f"What is {i} + {i}?", "completions": [f"{i} + {i} = {2 * i}", f"The answer is {2 * i}."],
             "labels": [True, True]} for i in range(5)]
    inp, out = write(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl"
    argv = ["score", "--model", str(trained_prm_dir), "--input", inp, "--out", str(out), "--backend", "transformers",
            "--batch-size", "2"]
    assert main(argv) == 0
    whole = out.read_text().splitlines(keepends=True)
    out.write_text("".join(whole[:3]) + whole[3][:10])   # killed while writing line 4
    assert main(argv) == 0
    assert "(3 already there)" in capsys.readouterr().out
    again = out.read_text().splitlines(keepends=True)
    assert again[:3] == whole[:3] and len(again) == 5
    flat = lambda lines: [v for x in lines for v in json.loads(x)["scores"]]  # noqa: E731
    assert flat(again) == pytest.approx(flat(whole))


# label flags that never change a record: inputs/outputs, how much and how fast
LABEL_NOT_RECORD = {"problems", "samples", "out", "overwrite", "limit", "compare", "summary_json", "batch_size",
                    "workers", "fsync", "no_progress", "gpu_memory_utilization", "tensor_parallel_size"}


def test_every_label_flag_is_in_the_fingerprint_or_said_not_to_matter():
    # a new flag must be classified: in RECORD_SETTINGS (it changes records) or in LABEL_NOT_RECORD
    from prm.commands import label

    p = argparse.ArgumentParser()
    label.add_arguments(p)
    dests = {a.dest for a in p._actions if a.dest != "help"}
    settings = {name for names in label.RECORD_SETTINGS.values() for name in names}
    assert dests - LABEL_NOT_RECORD == settings
    for method in label.METHODS:  # every method has its entry, and it holds
        args = p.parse_args(["--method", method, "--problems", "p", "--samples", "s", "--out", "o"])
        assert label.record_settings(args)["--method"] == method
