"""The sandbox end to end on honest programs: each test format, each status, per-test outcomes,
run_many ordering, and no leaks of processes, pipes or temp dirs across many runs."""

from __future__ import annotations

import os
import threading

import pytest

from verifiers.code import STATUSES, VERSION, CodeResult, run_many, run_tests

ADD = "def add(a, b):\n    return a + b\n"
HE_TEST = '''
def check(candidate):
    assert candidate(1, 2) == 3
    assert candidate(-1, 1) == 0, "negatives"
    for a in range(5):
        assert candidate(a, a) == 2 * a
'''


def test_version_and_statuses():
    assert VERSION and isinstance(VERSION, str)
    assert STATUSES == ("passed", "failed", "timeout", "memory", "crashed", "syntax_error", "sandbox_error")


def test_mbpp_pass_and_per_test_outcomes():
    r = run_tests(ADD, ["assert add(1, 2) == 3", "assert add(2, 2) == 5", "assert add(0, 0) == 0"])
    assert isinstance(r, CodeResult)
    assert r.status == "failed" and not r.passed
    assert [t.passed for t in r.tests] == [True, False, True]
    assert r.tests[1].name == "assert add(2, 2) == 5" and "AssertionError" in r.tests[1].error
    assert r.pass_fraction == pytest.approx(2 / 3)
    assert r.wall_time > 0 and r.isolation


def test_mbpp_setup_runs_before_tests():
    r = run_tests("def root(x):\n    return x ** 0.5\n", ["assert math.isclose(root(2), math.sqrt(2))"],
                  setup="import math")
    assert r.passed, r


def test_solution_named_like_a_builtin_is_tested():
    # MBPP 126 names its solution `sum`; it must be the function the tests call
    prog = "def sum(a, b):\n    return a * b\n"
    assert run_tests(prog, ["assert sum(2, 3) == 6"]).passed
    assert not run_tests(prog, ["assert sum(2, 3) == 5"]).passed
    assert run_tests(prog, ["assert sum(2, 3) == 6"], entry_point="sum").passed


def test_humaneval_format_reports_each_assertion():
    r = run_tests(ADD, HE_TEST, entry_point="add")
    assert r.passed and len(r.tests) == 3, r
    r = run_tests("def add(a, b):\n    return abs(a) + b\n", HE_TEST, entry_point="add")
    assert [t.passed for t in r.tests] == [True, False, True]
    assert "negatives" in r.tests[1].error


def test_humaneval_missing_entry_point_fails():
    r = run_tests("def plus(a, b):\n    return a + b\n", HE_TEST, entry_point="add")
    assert r.status == "crashed" and "add" in r.reason


def test_humaneval_helpers_from_the_program_are_visible_to_the_test():
    # HumanEval/38-style: the test calls a helper defined in the prompt
    test = "def check(candidate):\n    assert candidate(encode('abc')) == 'abc'\n"
    prog = "def encode(s):\n    return s[::-1]\ndef decode(s):\n    return s[::-1]\n"
    assert run_tests(prog, test, entry_point="decode").passed


def test_syntax_error_status():
    r = run_tests("def add(a, b)\n    return a + b\n", ["assert add(1, 2) == 3"])
    assert r.status == "syntax_error" and "SyntaxError" in r.reason
    assert [t.status for t in r.tests] == ["not_run"]


def test_exception_in_program_load_is_crashed():
    r = run_tests("raise RuntimeError('boom')\n", ["assert add(1, 2) == 3"])
    assert r.status == "crashed" and "boom" in r.reason


def test_stdout_and_stderr_are_captured():
    r = run_tests("import sys\nprint('hello')\nsys.stderr.write('warn\\n')\n" + ADD, ["assert add(1, 2) == 3"])
    assert r.passed and r.stdout == "hello\n" and r.stderr == "warn\n"


# ----------------------------------------------------------------------------- stdio
STDIO_TESTS = [{"input": "1 2\n", "output": "3\n"}, {"input": "10 -4\n", "output": "6"}]
STDIO_PROGRAMS = {
    "input()": ("a, b = map(int, input().split())\nprint(a + b)\n", True),
    "sys.stdin": ("import sys\na, b = map(int, sys.stdin.read().split())\nprint(a + b)\n", True),
    "open(0)": ("a, b = map(int, open(0).read().split())\nprint(a+b, end='  ')\n", True),
    "main guard + sys.exit(0)": ("import sys\ndef main():\n    a, b = map(int, input().split())\n    print(a + b)\n"
                                 "    sys.exit(0)\nif __name__ == '__main__':\n    main()\n", True),
    "wrong answer": ("a, b = map(int, input().split())\nprint(a - b)\n", False),
    "nonzero exit": ("import sys\na, b = map(int, input().split())\nprint(a + b)\nsys.exit(3)\n", False),
    "forges channel": ("import os\nfor fd in range(3, 30):\n    try:\n        os.write(fd, b'{\"k\": \"done\"}\\n')\n"
                       "    except OSError:\n        pass\nprint(0)\n", False),
}


@pytest.mark.parametrize("name", list(STDIO_PROGRAMS))
def test_stdio_programs(name):
    program, ok = STDIO_PROGRAMS[name]
    r = run_tests(program, STDIO_TESTS)
    assert r.passed is ok, r
    assert r.status == ("passed" if ok else "failed"), r


def test_stdio_wrong_output_names_expected_and_got():
    r = run_tests("print(42)\n", STDIO_TESTS)
    assert "expected '3\\n', got '42\\n'" in r.tests[0].error


def test_stdio_output_limit_per_case():
    r = run_tests("print('x' * 10_000_000)\n", STDIO_TESTS, output_limit=100_000)
    assert not r.passed and "output limit" in r.tests[0].error


# ----------------------------------------------------------------------------- batches
def test_run_many_keeps_input_order():
    jobs = [dict(program=f"def f(x):\n    return x + {i % 3}\n", tests=["assert f(1) == 2"]) for i in range(12)]
    jobs.append(dict(program="x", tests=[]))  # a malformed job gets its own error result
    results = run_many(jobs, workers=3, progress=False)
    assert [r.passed for r in results[:12]] == [i % 3 == 1 for i in range(12)]
    assert results[12].status == "sandbox_error" and "no tests" in results[12].reason


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        run_tests(b"bytes", ["assert True"])
    with pytest.raises(ValueError):
        run_tests("pass", ["assert True"], timeout=0)
    with pytest.raises(ValueError):
        run_tests("pass", ["assert True"], memory_mb=1)


# ----------------------------------------------------------------------------- leaks
def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _children() -> int:
    me = str(os.getpid())
    n = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = open(f"/proc/{name}/stat", "rb").read()
            except OSError:
                continue
            if stat[stat.rfind(b")") + 2:].split()[1].decode() == me:
                n += 1
    return n


def _rss_kb() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _leak_check(n: int, workers: int, chunks: int = 5) -> None:
    """Run n programs in `chunks` batches (results dropped after each, as a labeler would) and
    check that fds, child processes and threads are exactly as before and that the caller's RSS
    after the last batch is within 2 MB of that after the first (flat, not growing). Work dirs:
    test_work_dir_is_gone_after_the_run."""
    job = dict(program=ADD, tests=["assert add(1, 2) == 3"])
    run_many([job] * 20, workers=workers, progress=False)  # warm: start the servers
    before = (_open_fds(), _children(), threading.active_count())
    rss = []
    for _ in range(chunks):
        results = run_many([job] * (n // chunks), workers=workers, progress=False)
        assert all(r.passed for r in results)
        del results
        rss.append(_rss_kb())
    after = (_open_fds(), _children(), threading.active_count())
    assert after == before, (before, after)
    assert rss[-1] - rss[0] < 2048, f"caller RSS grew {rss} kB across {n} runs"


@pytest.mark.parametrize("namespaces", [True, False])
def test_work_dir_is_gone_after_the_run(namespaces):
    prog = "import os\nopen('junk.bin', 'wb').write(b'x' * 1000)\nos.mkdir('sub')\nprint(os.getcwd())\n" + ADD
    r = run_tests(prog, ["assert add(1, 2) == 3"], namespaces=namespaces)
    assert r.passed, r
    workdir = r.stdout.strip()
    assert workdir.startswith("/") and not os.path.exists(os.path.join(workdir, "junk.bin"))


def test_no_leaks_over_300_runs():
    _leak_check(300, workers=2)


@pytest.mark.slow
def test_no_leaks_over_10000_runs():
    _leak_check(10_000, workers=2)


def test_server_without_pidfd_polls(monkeypatch):
    """Kernels before 5.3 have no pidfd_open: the server polls waitpid instead (run in-process,
    without namespaces or uid, on benign programs only)."""
    from verifiers.code import isolation, server
    from verifiers.code.formats import build_plan

    monkeypatch.delattr(os, "pidfd_open", raising=False)
    srv = server.Server(isolation.probe(False, False, allow_namespaces=False, allow_uid=False))
    try:
        statuses = []
        for prog, timeout in [(ADD, 5), ("def add(a, b):\n    while True:\n        pass\n", 1),
                              ("import os\ndef add(a, b):\n    os._exit(0)\n", 5)]:
            job = {"program": prog, "plan": build_plan(["assert add(1, 2) == 3"]), "timeout": timeout,
                   "memory_mb": 512, "output_limit": 1 << 20, "max_procs": 64}
            statuses.append(srv.run(job)["status"])
        assert statuses == ["passed", "timeout", "crashed"]
    finally:
        srv.close()
