"""`check_steps(steps)`: does the arithmetic each reasoning step asserts hold?

For every step we look for equalities between purely numeric expressions, in three places:
GSM8K calculator annotations (`<<16-3=13>>`), the prose itself (`so 3 * 12 = 36 pens`, chains
`a = b = c`) and LaTeX math (`$\\frac{3}{4} \\cdot 8 = 6$`). Each is evaluated exactly
(`arith.py`: Fractions, no sympy, bounded), so this is fast and cannot hang.

A step is False if any checked equality is false, True if at least one holds and none is false, and
None if it asserts nothing we can check. Conservative by design, because a correct step must not be
flagged: an equality is checked only when both sides are complete arithmetic and nothing suggests
the `=` means something else. Skipped (never flagged):

- a word touching the `=` (`2 hours = 120 minutes`, `x = 5`, `3x = 12`, `= about 3.33`);
- a side that is a bare number on both ends (`1 foot = 12 inches`, ratios `3:4 = 6:8`);
- a left side after an operator word (`20% of 50 = 10`, `half of 8 = 4`, `twice 4 = 8`) or touching
  a word or symbol (`f(2) = 4`, `a_1 = 3`);
- `x` as a times sign only between two numbers (`0.2 x 50`); otherwise it is a variable;
- approximate signs (`\\approx`, `~`) and inequalities are not equalities.

Rounding is accepted: a side written as a decimal with d places matches a value that rounds (or
truncates) to it (`10/3 = 3.33`); an integer written for a non-integer value (`7/2 = 3`,
people counted) gives None, not False.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from verifiers.math.arith import (
    EXPR_KINDS,
    NotArithmetic,
    Token,
    TooComplex,
    decimals,
    evaluate_tokens,
    rounds_to,
    tokenize,
)
from verifiers.math.verdict import Verdict

MAX_STEP_CHARS = 20_000
FLOAT_NOISE_DECIMALS = 12  # a decimal this long was printed by a binary float, not written by a person  # a longer 'step' is not a step; it is not checked
_ANNOTATION_RE = re.compile(r"<<([^<>\n]{1,400})>>")
# Words after which a number is an operand of the word, not the start of an expression.
_OPERATOR_WORDS = frozenset(
    "of times by per half twice double triple thrice quarter quarters third thirds fourth fifth tenth "
    "dozen dozens each every than plus minus over into out from off least most and x X "
    "percent multiplied divided subtracted added".split()
)
_BLOCKERS = frozenset({"APPROX", "REL"})
# Words after a false equality that show the writer is testing it, not asserting it.
_REJECTED_RE = re.compile(r"\bfalse\b|\bnot\b|n't\b|contradict|incorrect|impossible|\\neq?\b|≠",
                          re.IGNORECASE)
_HYPOTHETICAL = frozenset("check checking verify verifying whether if test testing suppose assume try trying".split())
# Ratios between units people convert in one breath ("$1 / 2 = 50 cents", "2 * 60 = 120 minutes").
_CONVERSIONS = frozenset(Fraction(n) for n in (10, 12, 16, 24, 36, 60, 100, 1000, 3600, 1440, 7, 52, 365))


def _strip_markdown(text: str) -> str:
    return text.replace("**", " ").replace("__", " ")


def _run_left(tokens: list[Token], eq: int) -> tuple[int, int]:
    """Token span [i, eq) of the expression ending just before `=`."""
    i = eq
    while i > 0 and tokens[i - 1].kind in EXPR_KINDS:
        i -= 1
    return i, eq


def _run_right(tokens: list[Token], eq: int) -> tuple[int, int]:
    j = eq + 1
    while j < len(tokens) and tokens[j].kind in EXPR_KINDS:
        j += 1
    return eq + 1, j


def _trim(tokens: list[Token], lo: int, hi: int) -> tuple[int, int]:
    """Drop unmatched opening brackets at the left end and closing ones at the right end."""
    changed = True
    while changed and lo < hi:
        changed = False
        depth = 0
        for k in range(lo, hi):
            depth += tokens[k].kind in ("LP", "LB")
            depth -= tokens[k].kind in ("RP", "RB")
        if depth > 0 and tokens[lo].kind in ("LP", "LB"):
            lo, changed = lo + 1, True
        elif depth < 0 and tokens[hi - 1].kind in ("RP", "RB"):
            hi, changed = hi - 1, True
    return lo, hi


def _is_bare_number(tokens: list[Token]) -> bool:
    inner = [t for t in tokens if t.kind not in ("LP", "RP", "LB", "RB")]
    if len(inner) == 2 and inner[0].kind == "OP" and inner[0].text in "+-":
        inner = inner[1:]  # a signed number
    return len(inner) == 1 and inner[0].kind == "NUM" and "/" not in inner[0].text


def _unary_start(before: Token | None, left: list[Token]) -> bool:
    """Is the leading +/- of `left` a sign (`: -5 + 3 = -2`) rather than a binary operator whose
    left operand is a word (`X + 278 = 536`, `10 points + 14 = 24`)?"""
    first = left[0]
    if first.text not in "+-" or len(left) < 2 or first.end != left[1].start:
        return False  # `- 10 = 2 * 5` with a space is a list bullet, not a sign
    if before is None or before.kind == "OTHER" and before.text in "([{,:;":
        return True
    return before.kind == "WORD" and before.end < first.start and first.end == left[1].start


def _tight_fractions(tokens: list[Token]) -> list[Token]:
    """`1/3` written without spaces is one number: `25 / 1/3 = 75` means 25 / (1/3)."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if (i + 2 < len(tokens) and t.kind == "NUM" and tokens[i + 1].text == "/" and tokens[i + 2].kind == "NUM"
                and t.end == tokens[i + 1].start and tokens[i + 1].end == tokens[i + 2].start
                and t.value.denominator == 1 and tokens[i + 2].value.denominator == 1 and tokens[i + 2].value != 0
                and not (out and out[-1].kind == "OP" and out[-1].text == "^")
                and not (i + 3 < len(tokens) and (tokens[i + 3].kind == "PCT" or tokens[i + 3].text in ("^", "!")))):
            n = tokens[i + 2]
            out.append(Token("NUM", t.text + "/" + n.text, t.start, n.end, t.value / n.value))
            i += 3
            continue
        out.append(t)
        i += 1
    return out


def _strip_pct(tokens: list[Token]) -> list[Token]:
    return [t for t in tokens if t.kind != "PCT"]


def _compare(left: list[Token], lv: Fraction, right: list[Token], rv: Fraction) -> tuple[bool | None, str]:
    readings = [(left, lv, right, rv, "")]
    # `(75/100)*100 = 75%`, `$7500/75% = $100`: a percent sign is often a label, not "/100".
    if any(t.kind == "PCT" for t in left + right):
        try:
            pl, pr = _strip_pct(left), _strip_pct(right)
            readings.append((pl, evaluate_tokens(pl), pr, evaluate_tokens(pr), " (percent sign as a label)"))
        except (NotArithmetic, TooComplex, RecursionError, ZeroDivisionError, OverflowError):
            pass
    unsure = None
    for left, lv, right, rv, note in readings:
        if lv == rv:
            return True, "equal" + note
        # A side that is one decimal literal may be a rounded (or truncated) value of the other side.
        for lit, value, other in ((right, rv, lv), (left, lv, rv)):
            if _is_bare_number(lit):
                num = next(t for t in lit if t.kind == "NUM")
                d = decimals(num.text.replace(",", ""))
                if d is not None:
                    truncated = Fraction(math.trunc(other * 10 ** d), 10 ** d)
                    if rounds_to(other, value, d) or truncated == value:
                        return True, f"equal after rounding to {d} decimals" + note
                    if d >= FLOAT_NOISE_DECIMALS and abs(value - other) <= Fraction(1, 10 ** 9) * max(abs(other), 1):
                        # `<<0.1*3=0.30000000000000004>>`: a calculator's binary float printed in full
                        return True, "equal up to floating-point noise" + note
                elif other.denominator != 1 and value.denominator == 1 and \
                        value in (math.floor(other), math.ceil(other)):
                    unsure = "integer for a non-integer value (rounded count?)"
    if unsure:
        return None, unsure
    return False, "arithmetic does not hold"


def _check_equalities(tokens: list[Token], text: str) -> list[tuple[bool | None, str]]:
    results = []
    for k, tok in enumerate(tokens):
        if tok.kind != "EQ":
            continue
        lo, _ = _run_left(tokens, k)
        _, hi = _run_right(tokens, k)
        if lo == k or hi == k + 1:
            continue  # a word or symbol touches the `=`
        if k + 1 < len(tokens) and tokens[k + 1].kind == "EQ" or k > 0 and tokens[k - 1].kind == "EQ":
            continue  # `==`
        lo, _ = _trim(tokens, lo, k)
        _, hi = _trim(tokens, k + 1, hi)
        left, right = tokens[lo:k], tokens[k + 1:hi]
        if not left or not right:
            continue
        if _is_bare_number(left) and _is_bare_number(right):
            continue
        before = tokens[lo - 1] if lo > 0 and tokens[lo - 1].kind != "DELIM" else None
        after = tokens[hi] if hi < len(tokens) and tokens[hi].kind != "DELIM" else None
        # The words just before, looking through math delimiters: `10\% of \(\$1.50 = ...\)`.
        context = [t for t in tokens[max(0, lo - 6):lo] if t.kind != "DELIM"][-3:]
        if context and context[-1].kind == "WORD" and (
                context[-1].text.lower() in _OPERATOR_WORDS or context[-1].text.startswith("\\")):
            continue
        if any(t.kind == "WORD" and t.text.lower() in _HYPOTHETICAL for t in context):
            continue  # `Check: 60 = 5^2 + 6^2?` tests a claim, it does not assert it
        nxt = next((t for t in tokens[hi:hi + 3] if t.kind != "DELIM"), None)
        if nxt is not None and nxt.text == "?":
            continue
        if before is not None:
            if before.kind in _BLOCKERS or before.end == left[0].start and before.kind in ("WORD", "OTHER"):
                continue  # f(2) = 4, a_1 = 3, x^2 ... `≈ 3 = ...`
            if before.kind == "WORD" and (before.text.lower() in _OPERATOR_WORDS or before.text.startswith("\\")):
                continue  # `half of 8 = 4`; a LaTeX command operates on what follows (`\\log 100`)
            if before.kind == "OTHER" and before.text in "_^'":
                continue
        if after is not None:
            if after.kind in ("WORD", "OTHER") and after.start == right[-1].end and after.text not in ",.;:)!?":
                continue  # `= 12x`, `= 5_8`
            if after.kind == "OTHER" and after.text in "_^[|":
                continue  # `= 5_8`, `= \\frac{6}{2} [2a + 5d]`
            if after.kind == "WORD" and (after.text.startswith("\\") or len(after.text) == 1 and after.text not in "aA"):
                continue  # `= 2 \\pi`, `= 3 x`: the number is multiplied by what follows
            if after.kind in _BLOCKERS:
                continue
        if before is None and len(left) >= 2 and left[0].kind == "OP" and left[0].text in "-*+" \
                and left[0].end < left[1].start:
            left = left[1:]  # a list bullet at the start of a line: `- 10 = 2 * 5`
        if right[-1].kind == "OP" or left[0].kind == "OP" and not _unary_start(before, left):
            continue  # a dangling operator: an operand was a word (`3 boxes * 12 = 36`, `X + 2 = 5`)
        if before is not None and before.kind == "OTHER" and lo >= 2 and (
                before.text == "," and tokens[lo - 2].kind == "NUM" or tokens[lo - 2].kind == "OP"):
            continue  # `14, 400 / 80`, `.8 + . 84`: a number broken by a stray comma or dot
        if any(t.kind == "NUM" and len(t.text) > 1 and t.text[0] == "0" and t.text[1].isdigit()
               for t in left + right):
            continue  # `0900 - 0130 = 0730`: clock times and codes, not decimal numbers
        if before is not None and before.kind == "WORD" and len(left) >= 3 and left[1].text == "-" \
                and left[0].kind == left[2].kind == "NUM" and left[0].end == left[1].start == left[2].start - 1:
            continue  # `Weeks 1-2 = ...`: a range or a label, not a subtraction
        if _is_bare_number(left) and before is not None and before.kind == "WORD":
            continue  # `Remaining 10 = 62,300/10`: the number belongs to the words before it
        try:
            lv, rv = evaluate_tokens(left), evaluate_tokens(right)
        except (NotArithmetic, TooComplex, RecursionError, ZeroDivisionError, OverflowError):
            continue
        ok, why = _compare(left, lv, right, rv)
        if ok is False and len(right) >= 3 and right[0].kind == "NUM" and right[0].value == lv \
                and right[1].kind == "OP":
            ok, why = None, "a chain continued from its result (`a - b = c - d` meaning c, then c - d)"
        if ok is False and _REJECTED_RE.search(text, right[-1].end, right[-1].end + 300):
            ok, why = None, "the step itself rejects this equality"
        if ok is False and after is not None and after.kind == "WORD" and rv and lv and \
                (lv / rv in _CONVERSIONS or rv / lv in _CONVERSIONS):
            ok, why = None, "looks like a unit conversion"
        if ok is False:
            ok, why = _second_reading(left, lv, right, rv, ok, why)
        snippet = text[left[0].start: right[-1].end]
        results.append((ok, f"{snippet!r}: {why}" if len(snippet) <= 80 else why))
    return results


def _second_reading(left: list[Token], lv: Fraction, right: list[Token], rv: Fraction,
                    ok: bool | None, why: str) -> tuple[bool | None, str]:
    """Readings of a false prose equality under which a correct solution wrote it; each turns the
    flag into "can't tell" (None), never into True. Found on GSM8K reference solutions (issue 25):

    - every number on one side is a percent and none on the other (`48 = 100% + 20% = 120%` of
      something): a share of another quantity, not a value;
    - the sides differ by a factor of a thousand or a million (`5 * 3 = $15,000`, "5 thousand"):
      an amount counted in thousands;
    - `a / b / c` (spaced) holds as a / (b / c) (`14 / 1 / 4 = 14 * 4`, fourteen over a quarter).

    Not among them: a prose restatement that disagrees with the calculator annotation right after it
    (`8*3 = <<80*3=240>>240`): the written equality is false, and GSM8K's known typos are of this kind.
    """
    pct = [all(t.kind != "NUM" or _followed_by_pct(side, k) for k, t in enumerate(side)) for side in (left, right)]
    has = [any(t.kind == "PCT" for t in side) for side in (left, right)]
    if (pct[0] and has[0] and not has[1]) or (pct[1] and has[1] and not has[0]):
        return None, "a percent of another quantity"
    if lv and rv and (lv / rv in _SCALES or rv / lv in _SCALES):
        return None, "an amount counted in thousands or millions"
    for side, other in ((left, rv), (right, lv)):
        for k in range(len(side) - 4):
            a, d1, b, d2, c = side[k:k + 5]
            if (a.kind == b.kind == c.kind == "NUM" and d1.text == d2.text == "/" and b.value
                    and c.value and b.value / c.value):
                regrouped = side[:k + 2] + [Token("NUM", b.text, b.start, c.end, b.value / c.value)] + side[k + 5:]
                try:
                    if evaluate_tokens(regrouped) == other:
                        return None, "holds as a / (b / c): an ambiguous chained division"
                except (NotArithmetic, TooComplex, RecursionError, ZeroDivisionError, OverflowError):
                    pass
    return ok, why


_SCALES = frozenset({Fraction(1000), Fraction(1_000_000)})


def _followed_by_pct(side: list[Token], k: int) -> bool:
    return k + 1 < len(side) and side[k + 1].kind == "PCT"


def check_step(step: str) -> Verdict:
    """One step's verdict (see the module docstring)."""
    if not isinstance(step, str):
        return Verdict(None, "not a string")
    if len(step) > MAX_STEP_CHARS:
        return Verdict(None, f"step longer than {MAX_STEP_CHARS} characters; not checked")
    results: list[tuple[bool | None, str]] = []
    for m in _ANNOTATION_RE.finditer(step):
        body = m.group(1)
        toks = tokenize(body)
        eqs = [i for i, t in enumerate(toks) if t.kind == "EQ"]
        if len(eqs) == 1 and all(t.kind in EXPR_KINDS | {"EQ"} for t in toks):
            try:
                lv, rv = evaluate_tokens(toks[: eqs[0]]), evaluate_tokens(toks[eqs[0] + 1:])
            except (NotArithmetic, TooComplex, RecursionError, ZeroDivisionError, OverflowError):
                continue
            ok, why = _compare(toks[: eqs[0]], lv, toks[eqs[0] + 1:], rv)
            results.append((ok, f"<<{body}>>: {why}"))
    prose = _strip_markdown(_ANNOTATION_RE.sub(" ", step))
    try:
        results += _check_equalities(_tight_fractions(tokenize(prose)), prose)
    except RecursionError:
        return Verdict(None, "too deeply nested")
    false = [why for ok, why in results if ok is False]
    if false:
        return Verdict(False, false[0])
    true = [why for ok, why in results if ok is True]
    if true:
        return Verdict(True, f"{len(true)} equalit{'y' if len(true) == 1 else 'ies'} hold")
    unsure = [why for ok, why in results if ok is None]
    return Verdict(None, unsure[0] if unsure else "nothing checkable")


def check_steps(steps: list[str], *, timeout: float = 1.0) -> list[Verdict]:
    """One Verdict per step: True (its equalities hold), False (one does not), None (nothing to
    check). `timeout` is accepted for API symmetry; the exact arithmetic used here is bounded by
    construction (size limits), so it never needs a worker process."""
    return [check_step(s) for s in steps]
