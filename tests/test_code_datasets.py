"""The sandbox on the public benchmarks (skipped where ../shared/data is absent):
every HumanEval canonical solution passes and a `return None` body fails; every sanitized MBPP
reference solution passes."""

from __future__ import annotations

import gzip
import json

import pytest

from verifiers.code import run_many


@pytest.fixture(scope="module")
def humaneval(shared_data):
    with gzip.open(shared_data / "humaneval" / "HumanEval.jsonl.gz", "rt") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def mbpp(shared_data):
    return json.loads((shared_data / "mbpp" / "sanitized-mbpp.json").read_text())


def _failures(items, results, key):
    return [(item[key], r.status, r.reason, [t.error for t in r.tests if not t.passed][:1])
            for item, r in zip(items, results) if not r.passed]


def test_humaneval_canonical_solutions_pass(humaneval):
    assert len(humaneval) == 164
    jobs = [dict(program=p["prompt"] + p["canonical_solution"], tests=p["test"], entry_point=p["entry_point"],
                 timeout=20) for p in humaneval]
    results = run_many(jobs, progress=False)
    assert _failures(humaneval, results, "task_id") == []
    assert all(len(r.tests) >= 1 and r.pass_fraction == 1.0 for r in results)


def test_humaneval_return_none_variants_fail(humaneval):
    jobs = [dict(program=p["prompt"] + "    return None\n", tests=p["test"], entry_point=p["entry_point"],
                 timeout=20) for p in humaneval]
    results = run_many(jobs, progress=False)
    passed = [p["task_id"] for p, r in zip(humaneval, results) if r.passed]
    assert passed == []
    assert {r.status for r in results} <= {"failed", "crashed", "timeout"}


def test_mbpp_sanitized_reference_solutions_pass(mbpp):
    assert len(mbpp) == 427
    jobs = [dict(program=x["code"], tests=x["test_list"], setup="\n".join(x["test_imports"]), timeout=20)
            for x in mbpp]
    results = run_many(jobs, progress=False)
    assert _failures(mbpp, results, "task_id") == []
