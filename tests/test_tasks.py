"""The embedded default tasks: reproducible byte for byte, well-formed, and verified by the verifiers."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from prm.records import read_problems
from prm.domains import DOMAINS
from prm.steps import split_code_steps, split_steps
from prm.tasks import SPLITS, TASKS_DIR, generate_split, training_problems
from prm.tasks.math_tasks import MathTaskConfig, make_math_problem

ROOT = Path(__file__).resolve().parents[1]


def test_files_reproduce_byte_for_byte(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_tasks.py"), "--out-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    for name in SPLITS:
        assert (tmp_path / f"{name}.jsonl").read_bytes() == (TASKS_DIR / f"{name}.jsonl").read_bytes(), name


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_files_are_valid_problems(name):
    problems = read_problems(TASKS_DIR / f"{name}.jsonl")  # validates every record, refuses duplicate ids
    spec = SPLITS[name]
    assert len(problems) == spec["n"]
    assert {p.domain for p in problems.values()} == {spec["domain"]}
    assert len({p.question for p in problems.values()}) == spec["n"]


@pytest.mark.parametrize("domain", ["math", "code"])
def test_train_and_test_do_not_overlap(domain):
    test_q = {p.question for p in generate_split(f"{domain}_test")}
    # the policy's longer training stream too, not only the train file
    assert not test_q & {p.question for p in training_problems(domain, 3000)}


def test_training_stream_extends_the_train_file():
    file_q = [p.question for p in generate_split("math_train")]
    assert [p.question for p in training_problems("math", 600)][:len(file_q)] == file_q


def test_math_references_verify():
    from verifiers.math import check_steps, grade

    for p in read_problems(TASKS_DIR / "math_test.jsonl").values():
        ref = p.metadata["reference"]
        steps = p.metadata["steps"]
        assert split_steps(ref, DOMAINS["math"].sep) == steps
        assert grade(ref, p.answer).correct is True, (p.id, ref)
        verdicts = check_steps(steps[:-1])  # the arithmetic lines; the last is "The answer is N."
        assert all(v.correct is True for v in verdicts), (p.id, steps, verdicts)


def test_math_check_steps_catches_a_wrong_line():
    """The verifier can fail on these steps: a corrupted sum is caught (guards the test above)."""
    from verifiers.math import check_steps

    p = read_problems(TASKS_DIR / "math_test.jsonl")["math-test-00000"]
    step = p.metadata["steps"][0]
    head, _, result = step.rpartition("= ")
    assert check_steps([f"{head}= {int(result.rstrip('.')) + 1}."])[0].correct is False


@pytest.mark.parametrize("cfg", [MathTaskConfig(min_ops=1, max_ops=1), MathTaskConfig(min_ops=4, max_ops=5),
                                 MathTaskConfig(max_start=15, max_operand=5, max_factor=3),
                                 MathTaskConfig(max_start=400, max_operand=200, max_value=5000)])
def test_math_knobs(cfg):
    rng = random.Random(0)
    for i in range(200):
        p = make_math_problem(rng, str(i), cfg)
        ops = p.metadata["ops"]
        assert cfg.min_ops <= len(ops) <= cfg.max_ops
        assert len(p.metadata["steps"]) - 1 == len(ops) + ops.count("boxes")
        values = [int(s.rpartition("= ")[2].rstrip(".")) for s in p.metadata["steps"][:-1]]
        assert all(1 <= v <= cfg.max_value for v in values)
        assert p.answer == str(values[-1])


def test_code_references_pass_the_code_verifier():
    from verifiers.code import run_many

    problems = list(read_problems(TASKS_DIR / "code_test.jsonl").values())
    jobs = [{"program": p.metadata["reference"], "tests": p.tests, "entry_point": p.entry_point,
             "setup": p.setup} for p in problems]
    results = run_many(jobs, progress=False)
    failed = [(p.id, r.status) for p, r in zip(problems, results) if not r.passed]
    assert not failed


def test_code_tests_can_fail():
    """A reference with one constant changed fails its tests (the tests are not vacuous)."""
    from verifiers.code import run_many

    problems = [p for p in read_problems(TASKS_DIR / "code_test.jsonl").values()][:40]
    jobs = []
    for p in problems:
        ref = p.metadata["reference"]
        lines = ref.split("\n")
        # drop the first operation: the program still runs but computes something else
        jobs.append({"program": "\n".join(lines[:1] + lines[2:]), "tests": p.tests, "entry_point": p.entry_point})
    passed = [r.passed for r in run_many(jobs, progress=False)]
    assert sum(passed) <= 0.1 * len(passed)


def test_code_shape():
    for p in read_problems(TASKS_DIR / "code_train.jsonl").values():
        assert 3 <= len(p.tests) <= 5
        steps = split_code_steps(p.metadata["reference"])
        # def line, one statement per operation, the return
        assert len(steps) == len(p.metadata["ops"]) + 2, (p.id, steps)
        assert "\n".join(steps) == p.metadata["reference"]
