"""The domain table (`prm.domains.DOMAINS`): what each domain's entries do, and that every command
gives a sample the same verdict (`prm exec`, `prm label --method outcome`, `prm search`)."""

from __future__ import annotations

import json

import pytest

from prm.cli import main
from prm.domains import DOMAINS, JudgeConfig, code_group_key, domain_of, judge_many
from prm.records import DOMAINS as RECORD_DOMAINS
from prm.records import _GOLD_FIELDS, Problem
from prm.search.pool import judge_records, new_record


def test_one_table_names_every_domain():
    assert tuple(DOMAINS) == RECORD_DOMAINS == tuple(_GOLD_FIELDS) == ("math", "code")
    assert all(d.name == name for name, d in DOMAINS.items())
    with pytest.raises(ValueError, match="known: math, code"):
        domain_of("chemistry")


@pytest.mark.parametrize("domain,text,steps", [
    ("math", "3 + 4 = 7\n\n\n\n  The answer is 7.  ", ["3 + 4 = 7", "The answer is 7."]),
    ("math", "", []),
    ("code", "def f(x):\n    y = x + 1\n\n    return y\n", ["def f(x):", "    y = x + 1", "    return y"]),
    ("code", "x = 1\n   \nprint(x)", ["x = 1", "print(x)"]),
])
def test_steps_are_segment_then_clean(domain, text, steps):
    d = DOMAINS[domain]
    assert d.join(d.segment(text)) == text  # the raw split loses nothing
    assert d.steps(text) == steps


@pytest.mark.parametrize("domain,text,expected", [
    ("math", "so 3 * 4 = 12.\n\nThe answer is 12.", "12"),
    ("math", "I give up", None),
    ("code", "Here:\n```python\ndef f():\n    return 1\n```\nand a test\n```python\nf()\n```", "f()\n"),
    ("code", "def f():\n    return 1\n", "def f():\n    return 1\n"),
])
def test_extract(domain, text, expected):
    assert DOMAINS[domain].extract(text) == expected


@pytest.mark.parametrize("domain,steps,final", [
    ("math", ["3 + 4 = 7"], False),            # a step with a number is not yet an answer
    ("math", ["3 + 4 = 7", "The answer is 7."], True),
    ("math", ["so \\boxed{7}"], True),
    ("code", ["def f():", "    return 1"], False),  # a program ends when the model stops
])
def test_is_final_step(domain, steps, final):
    assert DOMAINS[domain].is_final_step(steps) is final


def test_verifier_info_reads_the_package_version():
    from verifiers.code import VERSION as CODE_VERSION
    from verifiers.math import VERSION as MATH_VERSION

    assert DOMAINS["math"].verifier_info() == {"name": "verifiers.math.grade", "version": MATH_VERSION}
    assert DOMAINS["math"].verifier_info("check_steps")["name"] == "verifiers.math.check_steps"
    assert DOMAINS["code"].verifier_info() == {"name": "verifiers.code.run_tests", "version": CODE_VERSION}
    assert DOMAINS["math"].check_steps is not None and DOMAINS["code"].check_steps is None


def test_code_group_key():
    assert code_group_key([True, False], "x") == "PF"
    assert code_group_key(None, "def f():\n    return 1") == code_group_key([], "def f():  return 1")
    assert code_group_key(None, " \n") is None


# ----------------------------------------------------------------------------- one verdict everywhere
PROBLEMS = [
    {"id": "add", "domain": "code", "question": "Write add(a, b).", "test_format": "mbpp", "entry_point": "add",
     "tests": ["assert add(1, 2) == 3", "assert add(2, 2) == 4"]},
    {"id": "inc", "domain": "code", "question": "def inc(x):\n    \"\"\"x + 1\"\"\"\n", "test_format": "humaneval",
     "entry_point": "inc", "tests": "def check(candidate):\n    assert candidate(1) == 2\n"},
]
# (problem, text, right?): plain, fenced after prose, fenced but wrong, a continuation of the prompt
SAMPLES = [
    ("add", "def add(a, b):\n    return a + b\n", True),
    ("add", "Sure, here it is:\n```python\ndef add(a, b):\n    return a + b\n```\nHope it helps.", True),
    ("add", "```python\ndef add(a, b):\n    return a * b\n```", False),
    ("inc", "    return x + 1\n", True),
    ("inc", "    return x - 1\n", False),
    ("inc", "def inc(x):\n    return x + 1\n", True),
]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_exec_label_and_search_give_the_same_verdict(tmp_path):
    problems = _write(tmp_path / "problems.jsonl", PROBLEMS)
    samples = _write(tmp_path / "samples.jsonl", [
        {"problem_id": pid, "text": text, "steps": DOMAINS["code"].segment(text)} for pid, text, _ in SAMPLES])
    expected = [ok for _, _, ok in SAMPLES]

    assert main(["exec", "--problems", problems, "--samples", samples, "--out", str(tmp_path / "x.jsonl")]) == 0
    by_exec = [json.loads(line)["passed"] for line in (tmp_path / "x.jsonl").read_text().splitlines()]

    assert main(["label", "--method", "outcome", "--problems", problems, "--samples", samples,
                 "--out", str(tmp_path / "o.jsonl"), "--no-progress"]) == 0
    by_label = [json.loads(line)["outcome"] for line in (tmp_path / "o.jsonl").read_text().splitlines()]

    probs = {p["id"]: Problem.from_dict(p) for p in PROBLEMS}
    records = [[new_record(probs[pid], 0, text)] for pid, text, _ in SAMPLES]
    judge_records([probs[pid] for pid, _, _ in SAMPLES], records)
    by_search = [rs[0].correct for rs in records]

    by_library = [j.correct for j in judge_many([(probs[pid], text) for pid, text, _ in SAMPLES], JudgeConfig())]
    assert by_exec == by_label == by_search == by_library == expected
