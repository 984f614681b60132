"""Pure parts of the code verifier: test plans, stdio comparison, the verdict rule, the value guard.
Nothing here starts a sandbox."""

from __future__ import annotations

import array
import collections
import fractions
import types
from collections import namedtuple

import pytest

from verifiers.code.formats import build_plan, stdio_equal
from verifiers.code.harness import UntrustedValue, check_value
from verifiers.code.result import CodeResult, Evidence, TestOutcome, decide

# ----------------------------------------------------------------------------- stdio comparison
STDIO_ROWS = [
    ("3\n", "3\n", True),
    ("3", "3\n", True),                      # missing final newline
    ("3\n\n\n", "3\n", True),                # trailing blank lines
    ("1  2\t3 \n", "1 2 3\n", True),         # runs of spaces/tabs, trailing space
    ("1 2\r\n3\r\n", "1 2\n3\n", True),      # CRLF
    ("  1 2\n", "1 2\n", True),              # leading spaces
    ("1 2\n", "1\n2\n", False),              # line breaks still matter
    ("1.0\n", "1\n", False),                 # no float tolerance
    ("YES\n", "yes\n", False),               # case matters
    ("", "", True),
    ("", "0\n", False),
    ("1\n\n2\n", "1\n2\n", False),           # an empty line in the middle matters
]


@pytest.mark.parametrize("got,expected,same", STDIO_ROWS)
def test_stdio_equal(got, expected, same):
    assert stdio_equal(got, expected) is same


# ----------------------------------------------------------------------------- plans
HE_TEST = '''
METADATA = {}

def check(candidate):
    import math
    x = 3
    assert candidate(x) == 4
    for i in range(3):
        assert candidate(i) == i + 1
    def helper():
        assert False
    assert True
'''


def test_humaneval_plan_splits_top_level_asserts():
    plan = build_plan(HE_TEST, entry_point="f")
    assert plan["kind"] == "humaneval"
    assert plan["names"] == ["assert candidate(x) == 4", "for i in range(3): assert candidate(i) == i + 1",
                             "assert True"]
    assert "__prm_record__(0, None)" in plan["code"] and "__prm_record__(2" in plan["code"]
    assert not plan["whole"]


def test_humaneval_plan_without_top_level_assert_is_one_unit():
    plan = build_plan("def check(candidate):\n    if candidate(1) != 2:\n        raise ValueError\n", entry_point="f")
    assert plan["names"] == ["check(f)"] and plan["whole"]


@pytest.mark.parametrize("tests,kwargs,message", [
    ("def check(candidate):\n    assert candidate(1)\n", {}, "entry_point"),
    ("def nope(candidate):\n    pass\n", {"entry_point": "f"}, "def check"),
    ("def check(:\n", {"entry_point": "f"}, "does not parse"),
    ("def check():\n    pass\n", {"entry_point": "f"}, "first argument"),
    (["assert f(1) ==="], {}, "does not compile"),
    (["assert f(1) == 2"], {"setup": "import ("}, "setup"),
    ("def check(candidate):\n    assert candidate(1)\n", {"entry_point": "f", "setup": "import ("}, "setup"),
    ([], {}, "no tests"),
    ([{"input": "1"}], {}, "stdio test 0"),
    ([1, 2], {}, "tests must be"),
    (None, {}, "tests must be"),
])
def test_malformed_tests_raise(tests, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_plan(tests, kwargs.get("entry_point"), kwargs.get("setup"))


def test_mbpp_and_stdio_plans():
    plan = build_plan(["assert f(1) == 2", "assert f(2) == 3"], setup="import math")
    assert plan["kind"] == "mbpp" and plan["names"] == ["assert f(1) == 2", "assert f(2) == 3"]
    assert plan["setup"] == "import math"
    plan = build_plan([{"input": "1 2\n", "output": "3\n"}])
    assert plan["kind"] == "stdio" and plan["inputs"] == ["1 2\n"] and plan["outputs"] == ["3\n"]


# ----------------------------------------------------------------------------- the verdict rule
NAMES = ["t0", "t1"]
START = {"k": "start"}
LOAD = {"k": "load", "ok": True}
OK0, OK1 = {"k": "t", "i": 0, "ok": True}, {"k": "t", "i": 1, "ok": True}
BAD1 = {"k": "t", "i": 1, "ok": False, "err": "AssertionError"}
DONE = {"k": "done"}

DECIDE_ROWS = [
    # (records, extra evidence, status)
    ([START, LOAD, OK0, OK1, DONE], {}, "passed"),
    ([START, LOAD, OK0, BAD1, DONE], {}, "failed"),
    ([START, LOAD, OK0, OK1], {"exit_code": 0}, "crashed"),            # os._exit(0) before `done`
    ([START, LOAD, OK0], {"exit_code": 0}, "crashed"),
    ([START, LOAD, OK0, OK1, DONE], {"tampered": 1}, "crashed"),      # a forged line on the channel
    ([START, LOAD, OK0, OK0, OK1, DONE], {}, "crashed"),              # a unit recorded twice
    ([START, LOAD, OK0, {"k": "t", "i": 7, "ok": True}, OK1, DONE], {}, "crashed"),  # unknown unit
    ([START, LOAD, OK0, OK1, DONE], {"output_exceeded": True}, "crashed"),
    ([START, LOAD, OK0], {"timed_out": True, "exit_code": -9}, "timeout"),
    ([START, LOAD, OK0, {"k": "t", "i": 1, "ok": False, "mem": True, "err": "MemoryError"}, DONE], {}, "memory"),
    ([START, {"k": "load", "ok": False, "syntax": True, "err": "SyntaxError"}, DONE], {}, "syntax_error"),
    ([START, {"k": "load", "ok": False, "err": "SystemExit: 0"}, DONE], {}, "crashed"),
    ([], {"sandbox_error": "set-up failed"}, "sandbox_error"),
    ([START, LOAD, {"k": "t", "i": 0, "ok": "yes"}, OK1, DONE], {}, "failed"),  # only `true` counts
    ([START, LOAD, DONE], {}, "failed"),                               # nothing ran
]


@pytest.mark.parametrize("records,extra,status", DECIDE_ROWS)
def test_decide(records, extra, status):
    got, reason, outcomes = decide(Evidence(names=NAMES, records=records, **extra))
    assert got == status, reason
    assert len(outcomes) == len(NAMES)
    assert (got == "passed") == all(o.passed for o in outcomes) or got != "passed"


def test_decide_reports_not_run_tests():
    _, _, outcomes = decide(Evidence(names=NAMES, records=[START, LOAD, OK0], exit_code=0))
    assert [o.status for o in outcomes] == ["passed", "not_run"]


def test_no_tests_never_pass():
    assert decide(Evidence(names=[], records=[START, LOAD, DONE]))[0] == "failed"


def test_result_round_trip():
    r = CodeResult(passed=False, status="failed", tests=[TestOutcome(0, "t0", False, "failed", "AssertionError")],
                   stdout="x", wall_time=0.5, isolation="rlimits", reason="1/1 tests failed")
    assert CodeResult.from_dict(r.to_dict()) == r
    assert r.pass_fraction == 0.0 and r.to_dict()["n_passed"] == 0


# ----------------------------------------------------------------------------- the return-value guard
class AlwaysEq:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


class FakeInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class Truthy:
    def __bool__(self):
        return True


class Plain:  # no comparison methods: compared by identity, cannot fake equality
    def __repr__(self):
        return "Plain()"


class Meta(type):
    def __instancecheck__(cls, obj):
        return True


Point = namedtuple("Point", "x y")
ACCEPTED = [None, True, 3, 2.5, 1j, "s", b"b", [1, [2, (3,)]], {"a": {1, 2}}, frozenset({1}), Point(1, 2),
            collections.Counter("aab"), fractions.Fraction(1, 3), collections.OrderedDict(a=1),
            collections.deque([1]), range(3), Plain(), bytearray(b"x"), {1: 2}.items(), array.array("i", [1]),
            types.SimpleNamespace(a=1), types.MappingProxyType({1: [2]}), ValueError("x")]
class LyingMeta(type):
    """A metaclass that claims its classes are static (non-heap) built-in types."""
    __flags__ = property(lambda cls: 0)


class Liar(metaclass=LyingMeta):
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


REFUSED = [AlwaysEq(), FakeInt(3), Truthy(), [1, AlwaysEq()], {"k": AlwaysEq()}, {AlwaysEq(): 1},
           (1, (2, [FakeInt(0)])), Point(AlwaysEq(), 1), Meta("C", (), {}), Liar(),
           types.MappingProxyType({1: AlwaysEq()}), {1: AlwaysEq()}.values(), {1: AlwaysEq()}.items(),
           types.SimpleNamespace(a=AlwaysEq())]


@pytest.mark.parametrize("value", ACCEPTED, ids=lambda v: type(v).__name__)
def test_plain_values_are_accepted(value):
    assert check_value(value) is value


@pytest.mark.parametrize("value", REFUSED, ids=lambda v: type(v).__name__)
def test_values_that_can_fake_comparisons_are_refused(value):
    with pytest.raises(UntrustedValue):
        check_value(value)


def test_lazy_iterators_are_checked_on_consumption():
    assert list(check_value(iter([1, 2]))) == [1, 2]
    wrapped = check_value(x for x in [1, AlwaysEq()])
    assert next(wrapped) == 1
    with pytest.raises(UntrustedValue):
        next(wrapped)


def test_self_referencing_container_terminates():
    x = [1]
    x.append(x)
    assert check_value(x) is x
