"""Answer equivalence: table-driven, both directions of the ladder (equal and not equal).

Each row is (gold, prediction, expected) with expected True / False / None ("can't tell").
Rows are grouped by the feature the issue lists; every group has non-equivalent rows too.
"""

from __future__ import annotations

import pytest

from verifiers.math import Verdict, VERSION, grade, verify

T, F = True, False

NUMBERS = [
    ("72", "72", T), ("72", "72.0", T), ("72", "072", T), ("72", "73", F), ("72", "-72", F),
    ("1,000", "1000", T), ("1000", "1,000", T), ("1,234,567", "1234567", T), ("1,234.5", "1234.5", T),
    ("1000", "100", F), ("1,000", "1,001", F), ("12,345", "12.345", F),
    ("0", "0", T), ("0", "-0", T), ("0", "0.0", T), ("0", "1", F),
    ("3.5", "3.50", T), ("3.5", "3.05", F), (".5", "0.5", T), ("5", "5.", T),
    ("-5", "-5", T), ("-5", "−5", T), ("−5", "-5.0", T), ("-5", "5", F), ("-3.2", "−3.2", T),
    ("1000000", "1000001", F), ("123456789", "123456788", F),
]
FRACTIONS = [
    ("0.5", r"\frac{1}{2}", T), (r"\frac{1}{2}", "0.5", T), (r"\frac{1}{2}", "1/2", T), ("1/2", r"\frac12", T),
    (r"\frac{1}{2}", r"\dfrac{1}{2}", T), (r"\frac{1}{2}", r"\tfrac{1}{2}", T), (r"\dfrac{3}{4}", "0.75", T),
    (r"\frac{2}{4}", r"\frac{1}{2}", T), (r"\frac{1}{2}", r"\frac{1}{3}", F), ("1/2", "2/1", F),
    (r"-\frac{1}{2}", "-0.5", T), (r"-\frac{1}{2}", r"\frac{-1}{2}", T), (r"-\frac{1}{2}", r"\frac{1}{2}", F),
    (r"\frac{3}{2}", "1.5", T), (r"\frac{3}{2}", "1.6", F), (r"\frac{7}{3}", r"2\frac{1}{3}", T),
    (r"\frac{10}{4}", r"\frac{5}{2}", T), (r"\frac{1}{3}", "0.3333333", T), (r"\frac{1}{3}", "0.33", F),
    ("0.33", r"\frac{1}{3}", T), ("0.3", r"\frac{1}{3}", T), ("0.67", r"\frac{2}{3}", T), ("0.66", r"\frac{2}{3}", F),
    (r"\frac{11}{36}", r"\frac{11}{36}", T), (r"\frac{17}{21}", r"\frac{21}{17}", F),
]
MIXED = [
    (r"2\frac{1}{2}", "2.5", T), (r"2\frac{1}{2}", r"\frac{5}{2}", T), (r"2 \frac{1}{2}", "5/2", T),
    (r"2\frac{1}{2}", "1", F), (r"-1\frac{1}{4}", "-1.25", T), (r"3\frac{3}{4}", "3.75", T), (r"3\frac{3}{4}", "2.25", F),
]
PERCENT = [
    (r"50\%", "50", T), (r"50\%", "0.5", T), (r"50\%", r"50\%", T), ("50", r"50\%", T), ("50", "50%", T),
    ("0.5", r"50\%", T), ("50", "0.5", F), (r"50\%", "5", F), (r"50\%", "25%", F), ("25", "25 percent", T),
    (r"12.5\%", "0.125", T), (r"12.5\%", "12.5", T), (r"12.5\%", "1.25", F), ("20", r"20\%", T), ("20", "0.2", F),
]
LATEX_SPELLING = [
    (r"\left(1, 2\right)", "(1,2)", T), (r"\left( \frac{1}{2} \right)", "0.5", T), (r"$\frac{1}{2}$", "0.5", T),
    (r"\boxed{5}", "5", T), (r"\displaystyle \frac{3}{4}", "0.75", T), (r"5\,000", "5000", T), (r"5{,}000", "5000", T),
    (r"\$5", "5", T), ("5", r"\$5.00", T), ("$12", "12 dollars", T), ("12", r"12\text{ dollars}", T), ("12", "13 dollars", F),
]
ROOTS_PI = [
    (r"\sqrt{2}", r"\frac{2}{\sqrt{2}}", T), (r"2\sqrt{5}", r"\sqrt{20}", T), (r"2\sqrt{5}", r"\sqrt{10}", F),
    (r"\frac{\sqrt{3}}{3}", r"\frac{1}{\sqrt{3}}", T), (r"\frac{\sqrt{3}}{3}", r"\frac{\sqrt{3}}{2}", F),
    (r"16 \sqrt{3}", r"16\sqrt3", T), (r"\sqrt{16}", "4", T), (r"1+2\sqrt{3}", r"2\sqrt{3}+1", T), (r"1+2\sqrt{3}", r"1+3\sqrt{2}", F),
    (r"\pi", r"\pi", T), (r"2\pi", r"\pi \cdot 2", T), (r"2\pi", "6.283185", T), (r"2\pi", "6.28", F), (r"\pi", "3.14", F),
    (r"\frac{\pi}{2}", r"\frac{1}{2}\pi", T), (r"4\pi", r"3\pi", F), (r"\sqrt{2}", "1.41421356", T), (r"\sqrt{2}", "1.41", F),
    (r"\sqrt[3]{8}", "2", T), (r"3\sqrt{2}", r"\sqrt{18}", T),
]
SCIENTIFIC = [
    ("1500", "1.5e3", T), ("1500", r"1.5 \times 10^{3}", T), ("1500", r"1.5 \times 10^3", T), ("0.0015", "1.5E-3", T),
    ("1500", "1.5e4", F), (r"3 \times 10^{8}", "300000000", T), (r"3 \times 10^{8}", "3e9", F), ("2^{10}", "1024", T),
]
PLUS_MINUS = [
    (r"1 \pm \sqrt{2}", r"1+\sqrt{2}, 1-\sqrt{2}", T), (r"1 \pm \sqrt{2}", r"1-\sqrt{2}, 1+\sqrt{2}", T),
    (r"1 \pm \sqrt{2}", r"1+\sqrt{2}", F), (r"\pm 3", "3, -3", T), (r"\pm 3", "3", F), ("3, -3", r"\pm 3", T),
    (r"1 \pm \sqrt{2}", r"1 \pm \sqrt{3}", F),
]
DEGREES = [
    (r"76^\circ", "76", T), ("76", r"76^{\circ}", T), (r"75^\circ", "75°", T), (r"75^\circ", "76", F),
    (r"30^\circ", r"30 \text{ degrees}", T), (r"30", "30 degrees", T),
]
UNITS_TEXT = [
    (r"15\mbox{ cm}^2", "15", T), ("15", r"15 \text{ cm}^2", T), ("15", "15 cm", T), ("15", "16 cm", F),
    (r"10\text{ inches}", "10", T), ("10", r"10\text{ feet}", T), ("40", "40 minutes", T), ("40", "40 students", T),
    (r"\text{Devon}", "Devon", T), (r"\text{Devon}", "devon", T), (r"\text{Devon}", "Kevin", F),
    (r"\text{(C)}", "C", T), (r"\text{(C)}", "(C)", T), (r"\text{(C)}", "B", F), ("\\text{even}", "even", T),
    ("\\text{even}", "odd", F), ("Tuesday", "tuesday", T), ("Tuesday", "Wednesday", F), ("North  East", "north east", T),
]
INTERVALS = [
    ("(1, 2)", "(1,2)", T), ("[1, 2]", "[1,2]", T), ("[1, 2)", "[1,2)", T), ("[1, 2]", "(1, 2)", F), ("[1, 2)", "(1, 2]", F),
    ("(5,\\infty)", "(5, \\infty)", T), ("(5,\\infty)", "[5, \\infty)", F), ("(5,\\infty)", "x > 5", T), ("(5,\\infty)", "x \\ge 5", F),
    ("[5,\\infty)", "x \\ge 5", T), ("(-\\infty, 2) \\cup (3, \\infty)", "(-\\infty,2)\\cup(3,\\infty)", T),
    ("(-\\infty, 2) \\cup (3, \\infty)", "(-\\infty, 2) \\cup [3, \\infty)", F), ("(2,12) \\cup (12,102)", "(2,12)\\cup(12,102)", T),
    ("(2,12) \\cup (12,102)", "(2,102)", F), ("[-1, \\frac{1}{2}]", "[-1, 0.5]", T), ("[-1, \\frac{1}{2}]", "[-1, 0.4]", F),
    ("(0, 1]", "0 < x \\le 1", T), ("(0, 1]", "0 < x < 1", F),
]
SETS_LISTS = [
    ("1, 2, 3", "3, 2, 1", T), ("1, 2, 3", "1, 2", F), ("1, 2", "1, 2, 3", F), (r"\{1, 2\}", r"\{2, 1\}", T),
    (r"\{1, 2\}", "2, 1", T), (r"\{1, 2\}", r"\{1, 3\}", F), ("-2,1", "1,-2", T), ("-2,1", "1, 2", F),
    ("1 and 2", "2, 1", T), ("1, 2", "1 or 2", T), (r"\frac{1}{2}, 3", "3, 0.5", T), (r"\frac{1}{2}, 3", "3, 0.4", F),
    ("1, 1, 2", "1, 2, 2", F), ("1, 1, 2", "2, 1, 1", T), ("a, b", "b, a", T),
]
TUPLES = [
    ("(15,-29)", "(15, -29)", T), ("(15,-29)", "(-29, 15)", F), ("(1,2,3)", "(1, 2, 3)", T), ("(1,2,3)", "(1, 3, 2)", F),
    ("(1,2)", "(1,2,3)", F), (r"(\frac{1}{2}, 3)", "(0.5, 3)", T), (r"(\frac{1}{2}, 3)", "(0.5, 4)", F),
    ("(15,-29)", "15, -29", T), (r"(1,2)", r"\{1, 2\}", F), ("(3, 4)", "(3,4)", T), ("(0, 0)", "(0,0)", T),
    (r"\left(3, \frac{\pi}{2}\right)", r"(3, \frac{\pi}{2})", T), (r"\left(3, \frac{\pi}{2}\right)", r"(3, \pi)", F),
]
EQUATIONS = [
    ("x=3", "3", T), ("3", "x=3", T), ("3", "x = 3", T), ("k = 7", "7", T), ("3", "x=4", F),
    ("y = 2x + 3", "y = 3 + 2x", T), ("y = 2x + 3", "2x - y + 3 = 0", T), ("y = 2x + 3", "y = 2x - 3", F),
    ("y = 2x + 3", "2x + 3", T), ("x^2 + y^2 = 1", "y^2 + x^2 = 1", T), ("x^2 + y^2 = 1", "x^2 + y^2 = 2", F),
]
INEQUALITIES = [
    ("x > 3", "x > 3", T), ("x > 3", "3 < x", T), ("x > 3", "x \\ge 3", F), ("x \\le 5", "x \\leq 5", T),
    ("x \\le 5", "x < 5", F), ("x > 3", "(3, \\infty)", T), ("1 < x < 2", "(1, 2)", T),
]
MATRICES = [
    (r"\begin{pmatrix} -1 & 0 \\ 0 & -1 \end{pmatrix}", r"\begin{pmatrix}-1&0\\0&-1\end{pmatrix}", T),
    (r"\begin{pmatrix} -1 & 0 \\ 0 & -1 \end{pmatrix}", r"\begin{pmatrix} -1 & 0 \\ 0 & 1 \end{pmatrix}", F),
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", T),
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix} 2 \\ 1 \end{pmatrix}", F),
    (r"\begin{pmatrix} \frac{1}{2} \\ 2 \end{pmatrix}", r"\begin{pmatrix} 0.5 \\ 2 \end{pmatrix}", T),
    (r"\begin{pmatrix} -18 \\ -49 \\ 96 \end{pmatrix}", r"\begin{bmatrix} -18 \\ -49 \\ 96 \end{bmatrix}", T),
    (r"\begin{pmatrix} 1 & 2 \end{pmatrix}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", F),
]
EXPRESSIONS = [
    ("x^2+2x+1", "(x+1)^2", T), ("x^2+2x+1", "(x-1)^2", F), ("x^5 - x^4 + x^3 - x^2 + x - 1", "(x-1)(x^4+x^2+1)", T),
    ("2a+2b", "2(a+b)", T), ("2a+2b", "2(a-b)", F), ("a+2c", "a+2d", F), (r"\frac{x}{2}", "0.5x", T),
    ("6+9i", "9i+6", T), ("6+9i", "6-9i", F), ("1+2i", "1 + 2i", T), (r"\sin x", r"\sin(x)", T), ("3x", "x3", T),
    (r"\frac{1}{x}", r"x^{-1}", T), (r"\sqrt{x^2}", "x", F), (r"e^{\ln 2}", "2", T),
]
MULTIPLE_ANSWERS_GAMING = [
    ("3", "3, 4", F), ("3", "4, 3", F), ("3", "3 or 4", F), ("3", r"\{3, 4\}", F), ("3", "1, 2, 3, 4, 5", F),
    ("2, 3", "2", F), ("2, 3", "2, 3, 4", F), ("3", r"3 \pm 1", F), ("0", "0, 1", F),
]
BASES_MISC = [
    ("2516_8", "2516_8", T), ("2516_8", "2516_{8}", T), ("10", "ten", T), ("11", "ten", F),
    ("12:00", "12:00", T), ("12:00", "1:00", F), ("19, 46, and 82", r"19, 46, \text{ and } 82", T),
    ("19, 46, and 82", "21, 36, and 82", F), (r"\emptyset", r"\varnothing", T), (r"\emptyset", r"\{\}", T),
    (r"\emptyset", r"\{0\}", F), (r"1 - \frac{1}{e}", r"1 + \frac{1}{e}", F), (r"\frac{1}{2^{99}}", r"\frac{1}{2^{98}}", F),
]

ROWS = (NUMBERS + FRACTIONS + MIXED + PERCENT + LATEX_SPELLING + ROOTS_PI + SCIENTIFIC + PLUS_MINUS + DEGREES
        + UNITS_TEXT + INTERVALS + SETS_LISTS + TUPLES + EQUATIONS + INEQUALITIES + MATRICES + EXPRESSIONS
        + MULTIPLE_ANSWERS_GAMING + BASES_MISC)


def test_table_is_large_and_balanced():
    assert len(ROWS) >= 200
    assert sum(r[2] is False for r in ROWS) >= 80  # not just "everything equals itself"


@pytest.mark.parametrize("gold,pred,expected", ROWS, ids=[f"{g}|{p}" for g, p, _ in ROWS])
def test_verify_table(gold, pred, expected):
    v = verify(gold, pred, timeout=5.0)
    assert isinstance(v, Verdict) and isinstance(v.reason, str) and v.reason
    assert v.correct is expected, v.reason


@pytest.mark.parametrize("gold,pred", [(g, p) for g, p, e in ROWS if e is True and "," not in g + p][:60])
def test_equivalence_is_symmetric_for_single_values(gold, pred):
    # Single values (no lists, where the gold fixes the shape) compare the same both ways,
    # except for the documented gold-decimal rounding rule, which these rows avoid.
    if any(c in gold for c in "0123456789") and "." in gold and "." not in pred:
        pytest.skip("gold-decimal rounding is asymmetric by design")
    assert verify(pred, gold, timeout=5.0).correct is True


GRADE_ROWS = [
    ("She buys 3 boxes of 12 pens, so 3 * 12 = 36 pens.\n\nThe answer is 36.", "36", T),
    ("She buys 3 boxes of 12 pens, so 3 * 12 = 36 pens.\n\nThe answer is 35.", "36", F),
    (r"So the answer is $\boxed{\frac{1}{2}}$.", "0.5", T),
    (r"We get \boxed{2} and then... wait, it is \boxed{3}.", "3", T),
    ("Janet has 16 - 3 = 13 eggs.\n#### 13", "13", T),
    ("I have no idea.", "13", F),
    ("", "13", F),
    (r"The final answer is $x = 5$. I hope it is correct.", "5", T),
    (r"The candidates are 3 or 4, so \boxed{3, 4}", "3", F),
    # no marker: the last LaTeX math span, or a number written after it
    (r"Therefore $x \geq 5$ is the solution.", "x >= 5", T),
    (r"Therefore $x < 5$ is the solution.", "x > 5", F),
    (r"So the pair is \( (7, 6) \).", "(7,6)", T),
    (r"The inverse is $\begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix}$.", r"\begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix}", T),
    (r"we get $\frac{70}{9}$, which is about 7.78 dollars", "7.78", T),
    (r"\frac{10}{9}", "10/9", T),
    (r"$2^{10}.$", "2", F),
    # Minerva-style sentences after "Final Answer:"
    ("Final Answer: The largest $n$ is 34.", "34", T),
    ("Final Answer: Jane started 3 hours ago. I hope it is correct.", "3", T),
    # chains and approximations inside the answer
    (r"$x = 5+5+1 = 7 = 11$", "x = 11", T),
    (r"$x = \frac{1}{3} \approx 0.33$", r"\frac{1}{3}", T),
    (r"$x \approx 11$", "11", T),
    # a numeric left side states its right side; an unknown on the left keeps the equation
    ("The answer is 39 + 56 = 95", "95", T),
    ("The answer is 39 + 56 = 63", "95", F),
    (r"The answer is $\frac{1}{2} = 0.5$", "0.5", T),
    (r"The answer is $2x = 6$", "3", F),
    # boxes side by side, LaTeX thousands separators, punctuation inside the math
    (r"$\boxed{1}, \boxed{-2}$", "1, -2", T),
    (r"worth $\boxed{\$16,\!386.20}$", "16386.20", T),
    (r"is $\boxed{11,\! 111,\! 100}$", "11111100", T),
    (r"is $\boxed{32, 349}$", "32349", F),
    (r"The answer is $\frac{1}{3},$", r"\frac{1}{3}", T),
    (r"$1, 2, 3, \ldots$", "1, 2, 3", F),
]


@pytest.mark.parametrize("response,gold,expected", GRADE_ROWS)
def test_grade(response, gold, expected):
    assert grade(response, gold).correct is expected


def test_grade_without_fallback_needs_a_marker():
    assert grade("so it is 13", "13").correct is True
    assert grade("so it is 13", "13", last_number_fallback=False).correct is False


def test_bad_types_never_raise():
    assert verify("1", None).correct is False
    assert verify(None, "1").correct is None
    assert grade(None, "1").correct is False
    assert verify("", "1").correct is None
    assert verify("1", "").correct is False


def test_version_is_a_string():
    assert isinstance(VERSION, str) and VERSION


def test_cache_returns_same_verdict_fast():
    import time

    verify(r"\frac{\sqrt{5}}{7}", r"\frac{5}{7\sqrt{5}}", timeout=5.0)
    start = time.perf_counter()
    for _ in range(1000):
        v = verify(r"\frac{\sqrt{5}}{7}", r"\frac{5}{7\sqrt{5}}", timeout=5.0)
    assert v.correct is True
    assert time.perf_counter() - start < 0.5  # 1000 cached calls; a real sympy call is ~10 ms
