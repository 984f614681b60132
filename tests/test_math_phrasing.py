"""Answers as models phrase them (issues 14 and 17): table-driven, and adversarial in both directions.

Each table holds rows that must grade right and rows that must stay wrong: no reading added here may
turn a wrong answer into a right one. The hand-written held-out cases live in
tests/fixtures/math_phrasing.jsonl; only their dev half is checked here, the test half is kept for
`scripts/bench/bench_math_heldout.py --split test` (a held-out set that the tests do not tune on).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from verifiers.math import extract_answer, grade, verify
from verifiers.math.extract import last_boxes

T, F = True, False
FIXTURE = Path(__file__).parent / "fixtures" / "math_phrasing.jsonl"
SPLIT_SEED = 14  # the benchmark's seed: the same case is dev (or test) in both places

# --- (gold, prediction, expected) for verify ---------------------------------------------------
SEPARATORS = [
    ("1000.99", "1000,99", T), ("2.74", r"2,74 \$", T), ("0.25", "0,25", T), ("25", "0,25", F),
    ("15", "1,5", F), ("1.5", "1,5", T), ("1.5", "1,500", F), ("1500", "1,500", T), ("2, 5", "2,5", T),
    ("1000", "1 000", T), ("1234567", "1 234 567", T), ("4500", "4 500", T), ("45", "4 500", F), ("12", "1 2", F),
    ("1000.5", "1 000,5", T), ("32349", r"32,\! 349", T), ("1234567", r"1\,234\,567", T),
]
WRAPPERS_UNITS = [
    ("10", r"\mathrm{10\ cm}", T), ("12", r"12\textnormal{ miles}", T), ("13", r"12\textnormal{ miles}", F),
    ("12", r"\text{12 miles}", T), ("28", "28 pct", T), ("29", "28 pct", F), ("0.28", "28 pct", T),
]
NAMED_VALUES = [  # a prediction `LHS = value` states the value when the gold is not an equation
    ("16", "|r-s| = 16", T), ("17", "|r-s| = 16", F), ("0", "I(6,3) = 0", T), ("4027", "x + y = 4027", T),
    (r"\frac{-1+\sqrt{5}}{2}", r"\sin \theta = \frac{-1 + \sqrt{5}}{2}", T),
    ("11a+c", "7 = 11a+c", F), ("11a+c", "11a+c = 7", F), ("3", "2x = 6", F), ("6", "7 = 6 + x", F),
    ("x^2+y^2=25", "(x-1)^2+y^2=25", F), ("x^2+y^2=25", "y^2+x^2=25", T),  # a gold equation stays an equation
    ("f(x)=x+22", "x+22", T), ("f(x)=x+22", "x+21", F), (r"p(x)=\frac{(x-1)(x-2)}{6}", r"\frac{(x-1)(x-2)}{6}", T),
]
FUNCTIONS = [  # functional-equation answers: lists of `f(x) = ...`, another variable name
    ("f(x)=x$,$f(x)=2-x", r"f(x) = x \text{ or } f(x) = -x + 2", T), ("f(x)=x,f(x)=2-x", r"f(x) = x \text{ or } f(x) = x + 2", F),
    ("f(x)=x,f(x)=-x", r"f(x) = x \quad \text{and} \quad f(x) = -x", T), ("f(x)=x,f(x)=-x", r"f(x) = x", F),
    ("f(x)=1", "f(y) = 1", T), ("f(x)=x^2", "f(y) = y^2", T), ("f(x)=x^2", "f(x) = x^3", F),
    ("f(x)=x^2", "f(y) = x^2", None),  # constant in y: not renamed, and sympy cannot compare f(x) with f(y)
    ("f(x)=1", "g(x) = 2", None),  # another function: "can't tell", which grading counts as not correct
]
GENERAL_SOLUTIONS = [
    (r"\frac{\pi}{6}+k\pi", r"\frac{\pi}{6}+k\pi \text{ for } k \in \mathbb{Z}", T),
    (r"\frac{\pi}{6}+k\pi", r"\frac{\pi}{3}+k\pi, k \in \mathbb{Z}", F),
]
BASES = [
    ("52_8", "52_{10}", F), ("52_8", "52_{8}", T), ("52_8", "52", T), ("52_8", "42", F), ("42", "52_8", T),
    ("10_2", "2", T), ("52_8", "58", F), ("1011_2", "11_{10}", T), ("2516_8", "2516_{8}", T), ("a_1", "a_{1}", T),
]
VERIFY_ROWS = SEPARATORS + WRAPPERS_UNITS + NAMED_VALUES + FUNCTIONS + GENERAL_SOLUTIONS + BASES


@pytest.mark.parametrize("gold,pred,expected", VERIFY_ROWS, ids=[f"{g}|{p}" for g, p, _ in VERIFY_ROWS])
def test_verify(gold, pred, expected):
    v = verify(gold, pred, timeout=5.0)
    assert v.correct is expected, v.reason


# --- (response, the answer it states) for extract_answer ---------------------------------------
STATED = [
    ("So the answer is 15 dollars for 3 items.", "15"),
    ("The answer is 5 apples, not 6.", "5"),
    ("The answer is 81" * 50, "81"),                         # a looping model: no space before "The"
    ("The answer is 2e5.", "2e5"), ("The answer is 3x.", "3x"),
    ("The answer is -3, not 3.", "-3"),
    ("The answer is $1,500, which is more than last year's 1,200.", "1,500"),
    ("The answer is $100 per week for 4 weeks.", "100"),
    ("The answer is 12, since 3 x 4 = 12.", "12"),
    ("Answer: 20 cookies (10 for each of the 2 kids)", "20"),
    ("The answer is 2.5 km, which is 2500 m.", "2.5"),
    ("The answer is 360 degrees, i.e. a full turn of 2 pi radians.", "360"),
    ("The answer is x = 9 (and y = 3).", "x = 9"),
    ("The answer is 28 percent.", "28%"),
    ("The answer is 4 500 dollars.", "4500"),
    ("The answer is probably 41 or 42.", "41 or 42"),
    ("The answer is 2 and 3.", "2 and 3"),
    ("The answer is f(x) = (x+1)^2.", "f(x) = (x+1)^2"),
    ("Final Answer: The largest $n$ is 34.", "34"),
    ("Final answer: x equals 2.", "x = 2"),
    ("### Final Answer\nThe product of the digits of \\(N\\) when \\(T\\) is 3 is **6**.", "6"),
    ("**Final Answer:** The values of \\(x\\) are \\(x = 5\\) and \\(x = -2\\).", "x = 5, x = -2"),
    (r"are \(\boxed{-1}\) and \(\boxed{-9}\), respectively.", "-1, -9"),
    (r"\[ \boxed{1, 2} \quad \text{and} \quad \boxed{3, 4} \]", "1, 2, 3, 4"),
    (r"$\boxed{15\frac{39}{40}},$ or $\boxed{\frac{639}{40}}$ inches.", r"\frac{639}{40}"),  # one answer, restated
]


@pytest.mark.parametrize("text,expected", STATED)
def test_extract_states_the_answer_of_the_sentence(text, expected):
    assert extract_answer(text) == expected


# --- (response, gold, expected) for grade ------------------------------------------------------
GRADE_ROWS = [
    ("So the answer is 15 dollars for 3 items.", "15", T), ("So the answer is 15 dollars for 3 items.", "3", F),
    ("The answer is 5 apples, not 6.", "5", T), ("The answer is 5 apples, not 6.", "6", F),
    ("The answer is probably 41 or 42.", "42", F), ("The answer is 8 hours, which is 480 minutes.", "480", F),
    ("The answer is 7/2 or 3.5.", "3.5", T), ("The answer is 7/2 or 3.4.", "3.5", F),  # restated vs two candidates
    ("The answer is 12, since 3 x 4 = 12.", "4", F), ("Answer: 20 cookies (10 for each of the 2 kids)", "2", F),
    # parts answered in separate boxes form the gold's list; a retracted box does not
    ("(a) The first part gives $\\boxed{2}$.\n\n(b) The second part gives $\\boxed{3}$.", "2, 3", T),
    ("(a) The first part gives $\\boxed{2}$.\n\n(b) The second part gives $\\boxed{4}$.", "2, 3", F),
    (r"So $\boxed{2}$. Wait, actually it is $\boxed{3}$.", "2, 3", F),
    (r"It is $\boxed{3}$ or $\boxed{4}$.", "3", F),
    (r"The values are \(\boxed{-2}\) and \(\boxed{-2}\), respectively.", "-2,-2", T),
    (r"$\boxed{7 = 11a+c}$", "11a+c", F),
    (r"Therefore \[ \boxed{x + 22}. \]", "f(x)=x+22", T),
    (r"Thus, \( \boxed{|r-s| = 16} \).", "16", T),
]


@pytest.mark.parametrize("response,gold,expected", GRADE_ROWS)
def test_grade(response, gold, expected):
    v = grade(response, gold, timeout=5.0)
    assert v.correct is expected, v.reason


def test_last_boxes_needs_parts_close_together_and_unretracted():
    assert last_boxes(r"\boxed{1} then \boxed{2} then \boxed{3}", 2) == ["2", "3"]
    assert last_boxes(r"\boxed{1}" + " x" * 400 + r"\boxed{2}", 2) is None  # too far apart
    assert last_boxes(r"\boxed{1}, but no: \boxed{2}", 2) is None
    assert last_boxes(r"only \boxed{1}", 2) is None
    assert last_boxes(r"\boxed{1} \boxed{2}", 1) is None  # one answer is extract_answer's job


# --- the hand-written held-out fixture: hygiene, and its dev half -------------------------------
def _fixture() -> list[dict]:
    with FIXTURE.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _split(row: dict) -> str:
    h = hashlib.sha256(f"{SPLIT_SEED}:phrasing:{row['id']}".encode()).digest()
    return "dev" if h[0] % 2 == 0 else "test"


def test_fixture_is_well_formed_and_has_negatives_in_every_category():
    rows = _fixture()
    assert len({r["id"] for r in rows}) == len(rows)
    assert all(isinstance(r["label"], bool) and r["gold"] and r["response"] for r in rows)
    by_cat: dict[str, list[bool]] = {}
    for r in rows:
        by_cat.setdefault(r["category"], []).append(r["label"])
    assert len(by_cat) >= 9
    assert all(False in labels for labels in by_cat.values()), "every category needs cases that must stay wrong"
    splits = [_split(r) for r in rows]
    assert 0.35 < splits.count("dev") / len(rows) < 0.65


def test_split_matches_the_benchmark():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "bench"))
    import bench_math_heldout as bench

    for case in bench.phrasing_cases(FIXTURE)[:50]:
        row = {"id": case.id}
        assert bench.split_of(case, SPLIT_SEED) == _split(row)


DEV = [r for r in _fixture() if _split(r) == "dev"]


@pytest.mark.parametrize("row", DEV, ids=[r["id"] for r in DEV])
def test_fixture_dev_cases(row):
    v = grade(row["response"], row["gold"], timeout=5.0)
    assert v.correct is row["label"], f"{row['note']} | {v.reason}"


@pytest.mark.parametrize("text", [
    "The answer is " + "$5 " * 20_000,
    "The answer is " + "(" * 50_000,
    "The answer is " + "\\(" * 20_000,
    "The answer is 1, " * 20_000,
    "Final Answer: The " + "x is " * 50_000,
    "\\boxed{1} and " * 20_000,
    "\\boxed{" * 50_000 + "}" * 10,
])
def test_hostile_phrasing_returns_quickly(text):
    import time

    start = time.perf_counter()
    assert grade(text, "1, 2", timeout=1.0).correct in (True, False, None)
    assert last_boxes(text, 3) is None or isinstance(last_boxes(text, 3), list)
    assert time.perf_counter() - start < 2.0
