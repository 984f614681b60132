"""The file runner and `prm label`: rejects with file:line, resume after kill -9, summary, CLI errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fakes import prompt_fn, rollout_sampler
from prm.cli import main
from prm.labeling import JudgeConfig, MCConfig, RolloutConfig, RunConfig, label_direct, run_labeling
from prm.labeling.agreement import compare
from prm.labeling.runner import summarize_records

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


def write_jsonl(path: Path, rows) -> Path:
    with path.open("w") as fh:
        for r in rows:
            fh.write(r if isinstance(r, str) else json.dumps(r))
            fh.write("\n")
    return path


def problems(n: int) -> list[dict]:
    return [{"id": f"p{i}", "domain": "math", "question": f"What is {i} + {i} + 1?", "answer": str(2 * i + 1)}
            for i in range(n)]


def sample(i: int, wrong: bool = False) -> dict:
    e = 1 if wrong else 0
    s = [f"{i} + {i} = {2 * i + e}", f"{2 * i + e} + 1 = {2 * i + 1 + e}", f"The answer is {2 * i + 1 + e}."]
    return {"problem_id": f"p{i}", "text": "\n\n".join(s), "steps": s}


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def direct_batch(items):
    return label_direct(items, judge=JudgeConfig(workers=1))


# ----------------------------------------------------------------------------- rejects
def test_bad_input_is_reported_with_line_and_counted(tmp_path, capsys):
    probs = problems(3) + [{"id": "noanswer", "domain": "math", "question": "?"},
                           {"id": "notests", "domain": "code", "question": "?", "test_format": "mbpp", "tests": []}]
    pf = write_jsonl(tmp_path / "problems.jsonl", probs)
    sf = write_jsonl(tmp_path / "samples.jsonl", [
        sample(0),                                                         # 1 ok
        {"problem_id": "ghost", "text": "x", "steps": ["x"]},              # 2 unknown problem
        {"problem_id": "p1", "text": "", "steps": []},                     # 3 empty
        {"problem_id": "p1", "text": "\n\n", "steps": ["", " "]},          # 4 blank steps only
        {"problem_id": "noanswer", "text": "a", "steps": ["a"]},           # 5 problem without gold
        {"problem_id": "notests", "text": "a", "steps": ["a"]},            # 6 problem without tests
        "{not json",                                                       # 7 malformed
        {"problem_id": "p2", "text": "x"},                                 # 8 missing steps field
        sample(2),                                                         # 9 ok
        {**sample(2), "metadata": {"sample_id": "dup"}},                   # 10 ok
        {**sample(1), "metadata": {"sample_id": "dup"}},                   # 11 duplicate id
    ])
    out = tmp_path / "out.jsonl"
    s = run_labeling(pf, sf, out, direct_batch, RunConfig(progress=False, domains=("math",)))
    assert s["records"] == 3 and len(read(out)) == 3
    rej = read(tmp_path / "out.jsonl.rejects.jsonl")
    assert [r["where"] for r in rej] == [f"{sf}:{i}" for i in (2, 3, 4, 5, 6, 7, 8, 11)]
    assert "unknown problem id 'ghost'" in rej[0]["reason"]
    assert "empty solution" in rej[1]["reason"] and "empty solution" in rej[2]["reason"]
    assert "field 'answer'" in rej[3]["reason"] and f"{pf}:4" in rej[3]["reason"]
    assert "field 'tests'" in rej[4]["reason"]
    assert "invalid JSON" in rej[5]["reason"] and "field 'steps'" in rej[6]["reason"]
    assert "duplicate sample_id 'dup'" in rej[7]["reason"]
    assert s["run"]["rejected"] == {"unknown problem id": 1, "empty solution": 2, "problem without gold/tests": 2,
                                    "malformed sample": 2, "duplicate sample_id": 1}
    err = capsys.readouterr().err
    assert f"{sf}:2: unknown problem id" in err


def test_code_samples_rejected_by_math_only_method(tmp_path):
    pf = write_jsonl(tmp_path / "p.jsonl", [{"id": "c", "domain": "code", "question": "q", "test_format": "mbpp",
                                             "tests": ["assert f() == 1"]}])
    sf = write_jsonl(tmp_path / "s.jsonl", [{"problem_id": "c", "text": "def f():\n    return 1",
                                             "steps": ["def f():", "    return 1"]}])
    s = run_labeling(pf, sf, tmp_path / "o.jsonl", direct_batch, RunConfig(progress=False, domains=("math",)))
    assert s["records"] == 0 and s["run"]["rejected"] == {"domain not supported": 1}


# ----------------------------------------------------------------------------- resume
def test_resume_skips_done_samples_and_repairs_torn_tail(tmp_path):
    pf = write_jsonl(tmp_path / "p.jsonl", problems(10))
    sf = write_jsonl(tmp_path / "s.jsonl", [sample(i, wrong=i % 3 == 0) for i in range(10)])
    out = tmp_path / "o.jsonl"
    run_labeling(pf, sf, out, direct_batch, RunConfig(progress=False, limit=4, batch_size=3))
    assert len(read(out)) == 4
    with out.open("a") as fh:
        fh.write('{"prompt": "torn')  # a crash mid-write
    calls = []

    def counting(items):
        calls.append([it.sample_id for it in items])
        return direct_batch(items)

    s = run_labeling(pf, sf, out, counting, RunConfig(progress=False, batch_size=3))
    rows = read(out)
    assert len(rows) == 10 and len({r["sample_id"] for r in rows}) == 10
    assert s["run"]["already_done"] == 4 and s["run"]["new_records"] == 6
    assert sum(len(c) for c in calls) == 6
    assert s["records"] == 10  # the summary covers the whole file
    again = run_labeling(pf, sf, out, counting, RunConfig(progress=False))
    assert again["run"]["new_records"] == 0 and len(read(out)) == 10
    fresh = run_labeling(pf, sf, out, direct_batch, RunConfig(progress=False, overwrite=True))
    assert fresh["run"]["new_records"] == 10 and len(read(out)) == 10


def _many_samples(tmp_path: Path, n: int) -> tuple[Path, Path]:
    pf = write_jsonl(tmp_path / "p.jsonl", problems(n))
    sf = write_jsonl(tmp_path / "s.jsonl", [sample(i, wrong=i % 4 == 1) for i in range(n)])
    return pf, sf


def _kill_midway(cmd: list[str], out: Path, at_least: int, total: int, env=None) -> int:
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            if out.exists() and out.read_text().count("\n") >= at_least:
                break
            if proc.poll() is not None:
                pytest.fail("the labeling run ended before it could be killed")
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    n = out.read_text().count("\n")
    assert at_least <= n < total, f"killed at {n} of {total} records: not midway"
    return n


def test_cli_resumes_after_kill_9_without_loss_or_duplicates(tmp_path):
    n = 1500
    pf, sf = _many_samples(tmp_path, n)
    out = tmp_path / "labels.jsonl"
    base = [sys.executable, "-m", "prm", "label", "--method", "direct", "--problems", str(pf), "--samples", str(sf),
            "--workers", "1", "--no-progress"]
    cmd = base + ["--out", str(out), "--batch-size", "1"]
    _kill_midway(cmd, out, 20, n)
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    rows = read(out)  # every line parses: no torn record survived
    ids = [r["sample_id"] for r in rows]
    assert len(ids) == n and len(set(ids)) == n
    # identical to an uninterrupted run (labels are deterministic)
    clean = tmp_path / "clean.jsonl"
    subprocess.run(base + ["--out", str(clean), "--batch-size", "64"], cwd=ROOT, check=True, capture_output=True)
    strip = lambda rs: sorted((r["sample_id"], r["labels"], r["first_error"]) for r in rs)  # noqa: E731
    assert strip(rows) == strip(read(clean))


SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from fakes import prompt_fn, rollout_sampler
from prm.labeling import JudgeConfig, MCConfig, RolloutConfig, RunConfig, label_mc, run_labeling
qs = {{f"What is {{i}} + {{i}} + 1?": str(2 * i + 1) for i in range({n})}}
s = rollout_sampler({{q: f"The answer is {{a}}." for q, a in qs.items()}}, {{q: "The answer is -1." for q in qs}},
                p_good=0.5, delay={delay})
run_labeling({pf!r}, {sf!r}, {out!r},
             lambda items: label_mc(items, s, prompt_fn, MCConfig(rollout=RolloutConfig(k=4)), JudgeConfig(workers=1)),
             RunConfig(batch_size=3, progress=False))
"""


def test_mc_run_killed_midway_resumes_to_the_same_records(tmp_path):
    n = 30
    pf, sf = _many_samples(tmp_path, n)
    out = tmp_path / "mc.jsonl"
    script = tmp_path / "run.py"

    def write_script(target: Path, delay: float):
        script.write_text(SCRIPT.format(tests=str(Path(__file__).parent), n=n, delay=delay, pf=str(pf), sf=str(sf),
                                        out=str(target)))
        return [sys.executable, str(script)]

    _kill_midway(write_script(out, 0.15), out, 6, n)
    subprocess.run(write_script(out, 0.0), cwd=ROOT, check=True, capture_output=True)
    clean = tmp_path / "clean.jsonl"
    subprocess.run(write_script(clean, 0.0), cwd=ROOT, check=True, capture_output=True)
    rows, ref = read(out), read(clean)
    assert len(rows) == n and len({r["sample_id"] for r in rows}) == n
    key = lambda rs: sorted((r["sample_id"], r["labels"], r["mc_values"]) for r in rs)  # noqa: E731
    assert key(rows) == key(ref)


# ----------------------------------------------------------------------------- summary, agreement
def test_summary_counts_balance_and_cost():
    recs = [{"labels": [True, False, None], "first_error": 1, "outcome": False,
             "provenance": {"labeler": "mc", "cost": {"rollouts": 8, "prompt_tokens": 10, "completion_tokens": 20,
                                                       "verifier_calls": 9, "seconds": 0.5}}},
            {"labels": [0.5, 1.0], "first_error": -1, "outcome": True,
             "provenance": {"labeler": "mc", "cost": {"rollouts": 4, "verifier_calls": 5, "seconds": 0.25}}}]
    s = summarize_records(recs)
    assert s["records"] == 2 and s["steps"] == 5
    assert s["labels"] == {"correct": 1, "incorrect": 1, "unlabeled": 1, "soft": 2} and s["soft_mean"] == 0.75
    assert s["first_error"] == {"found": 1, "none": 1}
    assert s["cost"]["rollouts"] == 12 and s["cost"]["verifier_calls"] == 14 and s["cost"]["seconds"] == 0.75


def test_agreement():
    a = [{"sample_id": "x", "labels": [True, False, False], "first_error": 1},
         {"sample_id": "y", "labels": [True, True], "first_error": -1},
         {"sample_id": "z", "labels": [True], "first_error": -1}]
    b = [{"sample_id": "x", "labels": [0.5, 0.25, 0.0], "first_error": 2},
         {"sample_id": "y", "labels": [None, True], "first_error": -1}]
    d = compare(a, b)
    assert d["matched"] == 2 and d["steps"] == 4 and d["step_agree"] == 3
    assert d["confusion"] == {"TT": 2, "TF": 0, "FT": 1, "FF": 1}
    assert d["first_error_pairs"] == 2 and d["first_error_agreement"] == 0.5


# ----------------------------------------------------------------------------- CLI
def test_cli_label_direct_with_compare_and_summary(tmp_path, capsys):
    pf = write_jsonl(tmp_path / "p.jsonl", problems(6))
    sf = write_jsonl(tmp_path / "s.jsonl", [sample(i, wrong=i % 2 == 1) for i in range(6)])
    a, b, sj = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "summary.json"
    assert main(["label", "--method", "outcome", "--problems", str(pf), "--samples", str(sf), "--out", str(b),
                 "--no-progress"]) == 0
    assert main(["label", "--method", "direct", "--problems", str(pf), "--samples", str(sf), "--out", str(a),
                 "--no-progress", "--compare", str(b), "--summary-json", str(sj)]) == 0
    out = capsys.readouterr().out
    assert "records: 6" in out and "agreement direct vs b.jsonl" in out
    summary = json.loads(sj.read_text())
    assert summary["first_error"] == {"found": 3, "none": 3}
    assert summary["agreement"]["first_error_pairs"] == 3  # outcome knows the first error only for correct ones


@pytest.mark.parametrize("argv,msg", [
    (["--problems", "missing.jsonl"], "no such file"),
    (["--batch-size", "0"], "--batch-size"),
    (["--compare", "missing.jsonl"], "--compare"),
    (["--method", "mc", "--temperature", "-1"], "temperature"),
    (["--method", "binary", "--rollouts", "0"], "--rollouts"),
])
def test_cli_errors_are_one_line(tmp_path, capsys, argv, msg):
    pf = write_jsonl(tmp_path / "p.jsonl", problems(1))
    sf = write_jsonl(tmp_path / "s.jsonl", [sample(0)])
    base = {"--problems": str(pf), "--samples": str(sf), "--out": str(tmp_path / "o.jsonl")}
    args = ["label", "--no-progress"]
    over = dict(zip(argv[::2], argv[1::2]))
    for k, v in {"--method": "direct", **base, **over}.items():
        args += [k, v]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and msg in err[0]


def test_cli_refuses_to_mix_methods_in_one_output(tmp_path, capsys):
    pf = write_jsonl(tmp_path / "p.jsonl", problems(2))
    sf = write_jsonl(tmp_path / "s.jsonl", [sample(0), sample(1)])
    out = tmp_path / "o.jsonl"
    base = ["label", "--problems", str(pf), "--samples", str(sf), "--out", str(out), "--no-progress"]
    assert main(base + ["--method", "outcome"]) == 0
    capsys.readouterr()
    assert main(base + ["--method", "direct"]) == 2
    err = capsys.readouterr().err
    assert "was made by another job" in err and '--method ("outcome" then, "direct" now)' in err
    assert main(base + ["--method", "direct", "--overwrite"]) == 0
    assert {json.loads(x)["provenance"]["labeler"] for x in out.read_text().splitlines()} == {"direct"}


def test_cli_malformed_problem_file_names_line(tmp_path, capsys):
    pf = write_jsonl(tmp_path / "p.jsonl", problems(1) + [{"id": "x", "domain": "chemistry", "question": "?"}])
    sf = write_jsonl(tmp_path / "s.jsonl", [sample(0)])
    assert main(["label", "--method", "direct", "--problems", str(pf), "--samples", str(sf), "--out",
                 str(tmp_path / "o.jsonl"), "--no-progress"]) == 2
    assert f"{pf}:2: field 'domain'" in capsys.readouterr().err


def test_fake_sampler_sanity():
    s = rollout_sampler({"q": "right"}, {"q": "wrong"}, p_good=0.5)

    class Params:
        n = 4
    out = s.generate([prompt_fn("q")], Params())
    assert [c.text for c in out[0]] == ["right", "right", "wrong", "wrong"]
    assert MCConfig(rollout=RolloutConfig(k=2)).rollout.sampling().n == 2


def test_cli_outcome_on_mixed_math_and_code_fixture(tmp_path, capsys):
    out = tmp_path / "orm.jsonl"
    assert main(["label", "--method", "outcome", "--problems", str(FIXTURES / "label_problems.jsonl"),
                 "--samples", str(FIXTURES / "label_samples.jsonl"), "--out", str(out), "--no-progress",
                 "--workers", "2"]) == 0
    recs = read(out)
    assert [(r["problem_id"], r["outcome"]) for r in recs] == [("m1", True), ("m1", False), ("c1", True),
                                                               ("c1", False), ("m2", True)]
    assert recs[2]["completions"] == ["def double(x):", "    y = x * 2", "    return y"]
    rej = read(tmp_path / "orm.jsonl.rejects.jsonl")
    assert [r["where"].rsplit(":", 1)[1] for r in rej] == ["5", "6", "7"]
    printed = capsys.readouterr().out
    assert "records: 5" in printed and "3 rejected" in printed
    # direct is math-only: the code samples are rejected, not dropped
    out2 = tmp_path / "direct.jsonl"
    assert main(["label", "--method", "direct", "--problems", str(FIXTURES / "label_problems.jsonl"),
                 "--samples", str(FIXTURES / "label_samples.jsonl"), "--out", str(out2), "--no-progress"]) == 0
    assert [r["problem_id"] for r in read(out2)] == ["m1", "m1", "m2"]
    assert sum("not supported" in r["reason"] for r in read(tmp_path / "direct.jsonl.rejects.jsonl")) == 2
