"""Hostile input gets a verdict within a bounded time, from threads and from processes."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from verifiers.math import Verdict, check_steps, grade, verify
from verifiers.math import timeout as bounded

HOSTILE = [
    "9**9**9**9",
    r"10^{10^{10^{10}}}",
    "factorial(10**9)",
    r"(10^{9})!",
    r"\binom{10^{9}}{10^{8}}",
    r"\prod_{i=1}^{100000000} i",
    r"2^{1000000000}",
    "(" * 10_000 + "1" + ")" * 10_000,
    "(" * 900 + "x" + ")" * 900,
    r"\left(" * 3000,
    "1" * 1_000_000,
    "x" * 1_000_000,
    r"\frac{1}{",
    r"\sqrt{\sqrt{\sqrt{",
    r"\begin{pmatrix} 1 & 2",
    "}}}}{{{{",
    "\x00\xff\x01binary\x80" * 100,
    bytes(range(256)).decode("latin-1"),
    r"x^{x^{x^{x}}} + \int_0^{\infty} e^{-x^{100}} dx",
    r"\sum_{k=1}^{10^{12}} k^{k}",
    r"\lim_{x \to 0} \frac{\sin(x^{99999})}{x}",
    r"\{" * 500 + "1" + r"\}" * 500,
    ",".join(["1"] * 5000),
]


@pytest.mark.parametrize("hostile", HOSTILE, ids=[h[:30] for h in HOSTILE])
def test_hostile_answers_are_bounded(hostile):
    for gold, pred in ((hostile, "1"), ("1", hostile), (hostile, hostile + " ")):
        start = time.perf_counter()
        v = verify(gold, pred, timeout=1.0)
        elapsed = time.perf_counter() - start
        assert isinstance(v, Verdict)
        assert v.correct in (True, False, None)
        # 1 s budget, plus at most one fresh worker start (~0.5 s) after a kill.
        assert elapsed < 3.0, (elapsed, v)
    g = grade("The answer is " + hostile, "1", timeout=1.0)
    assert g.correct is not True or hostile.strip("()") == "1"


def test_hostile_prediction_is_never_correct_against_a_number():
    for hostile in HOSTILE:
        v = verify("7", hostile, timeout=1.0)
        assert v.correct is not True, (hostile[:30], v)


def test_timeout_is_configurable():
    start = time.perf_counter()
    v = verify(r"\binom{10^{9}}{10^{8}} + x", "3 + x", timeout=0.3)
    assert v.correct is None and "timed out" in v.reason
    assert time.perf_counter() - start < 2.0


def test_hard_kill_when_the_worker_ignores_its_soft_timer():
    # A request whose own soft timer is far away: only the parent's hard deadline can stop it.
    w = bounded._Worker()
    try:
        assert w.wait_ready()
        start = time.perf_counter()
        reply = w.request({"op": "parse", "args": [r"(10^{9})!"], "soft": 100.0}, timeout=0.5)
        assert reply is None
        assert time.perf_counter() - start < 1.5
    finally:
        w.kill()
    assert w.proc.poll() is not None  # really gone


def _verify_in_thread(results, i):
    results[i] = (verify(r"\frac{\sqrt{%d}}{2}" % (i + 2), r"\frac{%d}{2\sqrt{%d}}" % (i + 2, i + 2)),
                  verify(r"(10^{9})! + %d" % i, "1", timeout=0.5))


def test_works_from_worker_threads():
    results = [None] * 6
    threads = [threading.Thread(target=_verify_in_thread, args=(results, i)) for i in range(6)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert all(r is not None for r in results)
    assert all(r[0].correct is True for r in results), results
    assert all(r[1].correct is None for r in results), results
    assert time.perf_counter() - start < 20


def _pool_job(i: int):
    v = verify(r"\sqrt{%d}" % (i * i + 1), r"\sqrt{%d}" % (i * i + 1) + "+0")
    h = verify(r"(10^{9})! + %d" % i, "1", timeout=0.5)
    s = check_steps(["3 * 4 = 12", "3 * 4 = 13"])
    return v.correct, h.correct, [x.correct for x in s]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_works_from_daemonic_pool_processes(method):
    # multiprocessing pool workers are daemonic and may not start multiprocessing children;
    # the sympy helper is a plain subprocess, so this works.
    ctx = multiprocessing.get_context(method)
    verify(r"\sqrt{5}", r"\sqrt{5}+0")  # make sure the parent has live workers before forking
    with ctx.Pool(2) as pool:
        out = pool.map(_pool_job, range(4), chunksize=1)
    assert out == [(True, None, [True, False])] * 4


def test_shutdown_and_restart():
    bounded.shutdown()
    assert verify(r"\sqrt{8}", r"2\sqrt{2}").correct is True
