"""`verify(gold, pred)` and `grade(response, gold)`: is an answer right?

The ladder, cheapest first (each rung either decides or passes on):

1. cache (`functools.lru_cache` on the strings and the timeout);
2. clean both strings (`normalize.clean`) and compare them as text;
3. structure: `normalize.split_answers` reads sets, tuples, intervals and answer lists; shapes are
   compared before values (see the asymmetry rules below);
4. exact arithmetic on each element in-process (`arith.evaluate`, Fractions): plain numbers,
   fractions, mixed numbers, percents, scientific notation; decides most GSM8K/MATH answers with no
   sympy and no subprocess;
5. otherwise the same ladder runs in a sympy worker with a hard timeout (`symbolic.py` documents
   the symbolic rungs); a timeout or a crash gives `correct=None`;
6. where the ladder says "not equal" (or "can't tell") without settling it, math-verify reads the
   same two answers in the worker (`second_opinion.py`); only its True changes the verdict, and the
   reason then names it. Settled, and never asked: see `_settled`.

`grade(response, gold)` is the toolkit's one grading path (every command, labeler and reward): it
reads the response's answer with `extract_answer`, reads the gold the same way when the gold is a
worked solution (`read_gold`), joins a multi-part answer given in several boxes, then verifies.

Decisions (the issue asks to decide and document):

- Percent: `50\\%` can be read as 50 or as 0.5; a plain number only as itself. Two answers are equal
  when any reading of one equals any reading of the other: `50\\%` ~ `50` ~ `0.5`... but `50` and
  `0.5` (no percent sign anywhere) differ.
- Decimals: a gold written with d decimals accepts a prediction that rounds to it (`0.33` ~
  `\\frac{1}{3}`; `2.314814814815 \\times 10^{-3}` shows 15 places, so `\\frac{1}{432}` rounds to it);
  a prediction written with decimals must be within relative 1e-6 of an exact gold (`1.414214` ~
  `\\sqrt{2}`) or show at least 4 places and be the exact gold rounded to them (`2.6667` ~
  `\\frac{8}{3}`, `3.1416` ~ `\\pi`; `1.41` and `0.33` are not `\\sqrt{2}` and `\\frac{1}{3}`).
  math-verify instead rounds both sides to a fixed 6 places (a `precision` argument): it rejects
  `2.6667` for `8/3` unless told 2 places, and with 2 places accepts `0.33`. Exact values compare
  exactly (or to 1e-12 relative after evaluation with 30 digits).
- Degrees, units, currency and `\\text{...}` after a number are ignored; text answers compare case-
  and space-insensitively (`\\text{(B)}` ~ `B`).
- `x = 3` ~ `3` (a single-variable assignment is reduced to its value, on either side); against a
  gold with no equation, `|r-s| = 16`, `I(6,3) = 0`, `x + y = 4027` state their numeric right side
  (`7 = 11a + c` and `2x = y` stay equations, so they never equal `11a + c`).
- `1,000` is one thousand; `1, 000` (with a space) is a list; `1 000` is one thousand; `2,74` and
  `1000,99` are decimal commas when the gold is one number (against a gold list `2, 74` a list).
  A gold written `2000,75` or `1,35` (two or four-plus places after the comma) is a decimal against
  a one-number prediction written with a point (`2000.75`); `200075` and `135` stay wrong.
- Base subscripts: `52_8` is 42 and not `52_{10}`; a prediction with no subscript is read in the
  gold's base when its digits fit (`52` answers `52_8`).
- `f(x) = x + 22` (gold) ~ `x + 22`; `f(y) = 1` ~ `f(x) = 1` (the same function, its variable renamed).
- Labels (either side, when the other has no `=`): `(a,b)=(5,1)` ~ `(5,1)`, `PQ=3, RS=7` ~ `3, 7`,
  `S_1:S_2=5:9` ~ `5:9`, `|PQ|=2` ~ `2`, `p=5,q=2;p=7,q=2` ~ `(5,2),(7,2)`; a left side with digits or
  operators is an equation, not a label (`x + y = 4` is not `4`).
- A relation on one function value is a set: `2 < g(x) < 5` ~ `(2, 5)`; a one-variable relation is
  its solution set on either side (`x \\in [-2,7]` ~ `-2 \\le x \\le 7` both ways), except that a gold
  `(1, 2)` (open, finite ends: also a point) is not answered by `1 < x < 2`. math-verify by default
  refuses every relation against a set gold; we refuse only the ambiguous one.
- `f(x) = 2x + 3` ~ `y = 2x + 3` (one function of x written two ways); times of day are read as
  24-hour times (`08:34 \\text{P.M.}` ~ `20:34` ~ `20:34:00`).
- A box never closed at the end of a text (`so $\\boxed{\\frac{1}{2}`) is read to the end when no
  complete box comes before it and its own braces balance (`normalize`/`extract`).

Asymmetry (so that a model cannot game it): the GOLD fixes the shape.
- A prediction listing several candidates is wrong when the gold has one answer, even if one of the
  candidates is right (`3, 4` vs gold `3` -> False), unless every one equals the gold (`3.5 or 7/2`); a prediction with fewer or more elements than a
  gold list is wrong; `\\pm` counts as two answers on either side.
- A gold decimal accepts rounding by the prediction, not the other way round (see above).
- A gold interval/tuple is ordered, and its brackets (open/closed ends) must match; a gold set or
  bare list is unordered and matched as a multiset.
- An unparseable gold gives None ("can't tell"); an unparseable prediction that does not match the
  gold's text is False.
"""

from __future__ import annotations

import functools
import re
from typing import Callable

from verifiers.math.arith import NotArithmetic, TooComplex, decimals, evaluate, evaluate_tokens, rounds_to, tokenize
from verifiers.math.extract import extract_answer, last_boxes
from verifiers.math.normalize import Clean, clean, split_answers, split_top_level, text_key
from verifiers.math.verdict import Verdict

ElementEq = Callable[[str, str, bool, bool], "tuple[bool | None, str]"]

REL_TOL = 1e-6  # for a decimal prediction of an irrational or non-terminating gold
# A prediction written to at least this many decimals answers an exact gold that it rounds
# (`2.6667` ~ `\\frac{8}{3}`, `3.1416` ~ `\\pi`); `0.33` and `1.41` stay wrong for `1/3` and `\\sqrt{2}`.
MIN_ROUNDED_DECIMALS = 4
MAX_SYMBOLIC_CHARS = 2000  # longer answers are not handed to sympy
_POWER_TOWER_RE = re.compile(r"\d+(?:\.\d+)?(?:\s*[)}]*\s*(?:\^|\*\*)\s*[{(]*\s*-?\d+(?:\.\d+)?)+")
_HUGE_NUMBER_RE = re.compile(r"\d{400}")
_HUGE_FACTORIAL_RE = re.compile(r"\d{4,}\s*\)?\s*!|factorial")
_CLOCK_RE = re.compile(r"^\d{1,2}:\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?$", re.IGNORECASE)
_WORDS_ONLY_RE = re.compile(r"^[A-Za-z][A-Za-z\s'.-]*$")
# `1000,99`, `2,74`, `1 000,5`: a decimal comma (one, two or four-plus digits after it; three is thousands)
_DECIMAL_COMMA_RE = re.compile(r"^-?(?:\d+|\d{1,3}(?:[ .]\d{3})+),(?:\d{1,2}|\d{4,})$")
_NAMED_VALUE_RE = re.compile(r"^([^=<>]*[A-Za-z][^=<>]*)(?<![<>!\\])=(?![=<>])([^=<>,;]+)$")
_LETTER_RE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]")


_GOLD_DECIMAL_COMMA_RE = re.compile(r"^-?(?:\d+|\d{1,3}(?:[ .]\d{3})+),(?:\d{2}|\d{4,})$")


def _gold_decimal_comma(g: Clean, p: Clean) -> Clean:
    """A gold written with a decimal comma (`2000,75`, `1,35`) read as the decimal a prediction
    writes with a point (`2000.75`): only against a one-number prediction with a decimal point, and
    only with two or four-plus digits after the comma (`1,5` and `12,345` stay a list / thousands)."""
    if not _GOLD_DECIMAL_COMMA_RE.match(g.text) or "." not in p.text or split_answers(p.text)[0] != "single":
        return g
    whole, _, frac = g.text.rpartition(",")
    return Clean(whole.replace(" ", "").replace(".", "") + "." + frac, g.percent)


def _as_gold_shape(g: Clean, p: Clean) -> Clean:
    """Readings of the prediction that only the gold's shape allows (the gold fixes the shape).

    - a gold with one number reads `2,74` / `1000,99` in the prediction as a decimal comma (a gold
      list `2, 74` keeps the comma a separator);
    - a gold with no equation reads `|r-s| = 16`, `I(6,3) = 0`, `x + y = 4027` as the value stated
      on the right, when that value has no unknowns (`7 = 11a + c` and `2x = y` stay equations).
    """
    if _DECIMAL_COMMA_RE.match(p.text) and split_answers(g.text)[0] == "single" and "," not in g.text:
        whole, _, frac = p.text.rpartition(",")
        return Clean(whole.replace(" ", "").replace(".", "") + "." + frac, p.percent)
    if "=" not in g.text and (m := _NAMED_VALUE_RE.match(p.text)) and not _LETTER_RE.search(
            re.sub(r"\\[A-Za-z]+", "", m.group(2))) and m.group(2).strip():
        return Clean(m.group(2).strip(), p.percent)
    return p


# A label on the left of `=`: names, subscripts, `\\frac` of names, `|PQ|`, `(a,b)`, `S_1:S_2`,
# `\\angle ABC`; no digits outside subscripts and no `+`/`-`, so `x + y = 4` and `2x = 6` stay equations.
_SUBSCRIPT_RE = re.compile(r"_\{[^{}]*\}|_\w")
_LABEL_DECOR_RE = re.compile(r"\\(?:frac|dfrac|angle|overline|widehat|triangle|left|right|mathrm|text|operatorname)|[{}()|:,\s]")


def _label_value(part: str) -> str | None:
    """`(a,b)=(5,1)` -> `(5,1)`, `|PQ|=2` -> `2`, `S_1:S_2=5:9` -> `5:9`; None when `part` is not `label = value`."""
    m = _NAMED_VALUE_RE.match(part.strip())
    if m is None:
        left, _, right = part.partition("=")
        if "=" in right or not right.strip() or not left.strip().startswith("("):
            return None
        m = re.match(r"^(.*?)=(.*)$", part.strip())  # `(a,b)=(5,1)`: a tuple value holds commas
    label = _LABEL_DECOR_RE.sub("", _SUBSCRIPT_RE.sub("", m.group(1)))
    value = m.group(2).strip()
    if not label or not label.isalpha() or not value or _LETTER_RE.search(re.sub(r"\\[A-Za-z]+", "", value)):
        return None
    return value


def _drop_labels(c: Clean) -> Clean:
    """The values of an answer whose parts are labelled (`PQ=3, RS=7` -> `3, 7`; `p=5,q=2;p=7,q=2`
    -> `(5, 2), (7, 2)`: `;` separates solutions, each a tuple of its values); used on the side with
    `=` when the other side has none, so a label never has to be matched by a name."""
    if split_answers(c.text)[0] in ("tuple", "interval", "set"):
        return c
    groups = split_top_level(c.text, ";")
    if len(groups) > 1:
        values = [[_label_value(x) for x in split_top_level(grp, ",")] for grp in groups]
        if all(v is not None for vs in values for v in vs):
            return Clean(", ".join(vs[0] if len(vs) == 1 else "(" + ", ".join(vs) + ")" for vs in values), c.percent)
        return c
    kind, parts = split_answers(c.text)
    values = [_label_value(x) for x in parts]
    if all(v is None for v in values):
        return c
    return Clean(", ".join(v if v is not None else x for v, x in zip(values, parts)), c.percent)


def _expand_pm(s: str) -> list[str] | None:
    """`1 \\pm \\sqrt{2}` -> [`1 + \\sqrt{2}`, `1 - \\sqrt{2}`] (one `\\pm` only), else None."""
    for pm in ("\\pm", "\\mp"):
        if s.count(pm) == 1 and "\\pm" not in s.replace(pm, "", 1) and "\\mp" not in s.replace(pm, "", 1):
            plus, minus = ("+", "-") if pm == "\\pm" else ("-", "+")
            return [s.replace(pm, plus), s.replace(pm, minus)]
    return None


def _structure(c: Clean) -> tuple[str, list[str]]:
    kind, parts = split_answers(c.text)
    if kind == "single" and (pm := _expand_pm(parts[0])):
        return "list", pm
    return kind, parts


_BASE_RE = re.compile(r"^([0-9A-Za-z]+)_\{?\s*(\d{1,2})\s*\}?$")  # `52_8`, `2516_{8}`, `101_{2}`


def _based(s: str) -> tuple[str, int] | None:
    """(digits, base) of a number written with a base subscript, when the digits fit the base."""
    m = _BASE_RE.match(s.strip())
    if m is None or not 2 <= int(m.group(2)) <= 36:
        return None
    try:
        int(m.group(1), int(m.group(2)))
    except ValueError:
        return None
    return m.group(1), int(m.group(2))


def _compare_bases(g: str, p: str) -> tuple[bool | None, str] | None:
    """`52_8` is 42, not `52_{10}`; a prediction with no subscript is read in the gold's base (`52`
    answers `52_8`, as a person answering "in base 8" writes it, unless its digits do not fit that
    base, then it is decimal); None when neither side has a base subscript."""
    gb, pb = _based(g), _based(p)
    if gb is None and pb is None:
        return None
    try:
        if gb is not None and pb is None:
            gv = int(*gb)
            try:
                pv = int(p.strip(), gb[1])
            except ValueError:  # digits that do not fit the base (`2` for `10_2`): a decimal value
                pv = int(p.strip())
        else:
            pv = int(*pb)
            gv = int(*gb) if gb is not None else int(g.strip())
    except ValueError:
        return False, "not a number in the gold's base"
    return (gv == pv), "equal in value (base subscripts read)" if gv == pv else "different values in base notation"


def fast_element(g: str, p: str, g_pct: bool, p_pct: bool) -> tuple[bool | None, str]:
    """Exact in-process comparison of two answer elements; None when it cannot decide."""
    if g == p and g_pct == p_pct:
        return True, "identical"
    if (based := _compare_bases(g, p)) is not None:
        return based
    if _CLOCK_RE.match(g) or _CLOCK_RE.match(p):
        return (g.replace(" ", "") == p.replace(" ", "")), "clock times compared as written"
    gv, pv = evaluate(g), evaluate(p)
    if gv is None or pv is None:
        if _WORDS_ONLY_RE.match(g) and _WORDS_ONLY_RE.match(p) and "\\" not in g + p:
            same = text_key(g) == text_key(p)
            return same, "same text" if same else "different text"
        if text_key(g) == text_key(p) and text_key(g):
            return True, "same text"
        return None, "not plain arithmetic"
    gold_readings = [gv] + ([gv / 100] if g_pct else [])
    pred_readings = [pv] + ([pv / 100] if p_pct else [])
    if any(a == b for a in gold_readings for b in pred_readings):
        return True, "equal numbers" if not (g_pct or p_pct) else "equal numbers (percent read as written or /100)"
    if "." in p and not _terminates(gv):
        if abs(gv - pv) <= REL_TOL * max(abs(gv), abs(pv)):
            # A decimal for a non-terminating exact value (1/3 vs 0.3333333): relative tolerance.
            return True, f"equal within relative {REL_TOL:g}"
        dp = shown_decimals(p)
        if dp is not None and dp >= MIN_ROUNDED_DECIMALS and rounds_to(gv, pv, dp):
            return True, f"the gold rounded to the prediction's {dp} decimals"
    d = shown_decimals(g)
    if d is not None and any(rounds_to(b, gv, d) for b in pred_readings):
        return True, f"prediction rounds to the gold's {d} decimals"
    return False, f"different numbers ({_short(g)} vs {_short(p)})"


_SCI_DECIMAL_RE = re.compile(r"^(?:\d*\.(\d+)|\d+)\s*(?:\\times|\\cdot)\s*10\s*\^\s*\{?\s*([+-]?\d+)\s*\}?$")


def shown_decimals(s: str) -> int | None:
    """Decimal places a number is written to: `2.6667` -> 4, `2.314814814815 \\times 10^{-3}` -> 15
    (the mantissa's places less the exponent), `12` -> None (an integer is exact)."""
    s = s.replace(",", "").strip().lstrip("-")
    if (d := decimals(s)) is not None:
        return d
    if (m := _SCI_DECIMAL_RE.match(s)) is not None and m.group(1):
        return max(0, len(m.group(1)) - int(m.group(2)))
    return None


def _terminates(value) -> bool:
    """Has `value` a finite decimal expansion (denominator 2^a 5^b)?"""
    d = value.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def _short(s: str, n: int = 40) -> str:
    return s if len(s) <= n else s[: n - 3] + "..."


def ladder(g: Clean, p: Clean, element: ElementEq) -> tuple[bool | None, str]:
    """Compare two cleaned answers by shape, then element by element with `element`."""
    gk, gparts = _structure(g)
    pk, pparts = _structure(p)
    if len(gparts) == 1 and len(pparts) == 1:
        return element(gparts[0], pparts[0], g.percent, p.percent)
    if len(gparts) == 1:
        if gk == "single" and pk in ("list", "set"):
            # `3.5 or 7/2` restates one answer; `3 or 4` offers two candidates (wrong even if one is right)
            if len(pparts) <= 4 and all(element(gparts[0], b, g.percent, False)[0] is True for b in pparts):
                return True, f"all {len(pparts)} listed forms equal the gold"
            return False, f"prediction lists {len(pparts)} answers; gold has one"
        return element(g.text, p.text, g.percent, p.percent)  # e.g. an interval vs a tuple: sympy
    if len(pparts) == 1:
        if pk == "single" and gk in ("list", "set"):
            return False, f"gold has {len(gparts)} answers; prediction has one"
        return element(g.text, p.text, g.percent, p.percent)
    if len(gparts) != len(pparts):
        return False, f"gold has {len(gparts)} elements, prediction {len(pparts)}"
    ordered = {gk, pk} & {"tuple", "interval"}
    if ordered:
        if gk in ("tuple", "interval") and pk in ("tuple", "interval"):
            if (g.text[0], g.text[-1]) != (p.text[0], p.text[-1]):
                return False, "different brackets (open/closed ends or tuple vs interval)"
        elif "set" in (gk, pk):
            return False, "a set is not a tuple"
        results = [element(a, b, False, False) for a, b in zip(gparts, pparts)]
        if any(r[0] is False for r in results):
            bad = next(i for i, r in enumerate(results) if r[0] is False)
            return False, f"element {bad + 1} differs: {results[bad][1]}"
        if any(r[0] is None for r in results):
            return None, next(r[1] for r in results if r[0] is None)
        return True, f"all {len(results)} elements equal in order"
    # Unordered: a multiset matching, gold element by gold element.
    remaining = list(pparts)
    unknown = None
    for a in gparts:
        for j, b in enumerate(remaining):
            r = element(a, b, False, False)
            if r[0] is True:
                remaining.pop(j)
                break
            if r[0] is None:
                unknown = r[1]
        else:
            if unknown:
                return None, unknown
            return False, f"gold element {_short(a)} not in the prediction"
    return True, f"all {len(gparts)} elements matched (unordered)"


def _hostile(s: str) -> str | None:
    if len(s) > MAX_SYMBOLIC_CHARS:
        return "answer too long for symbolic comparison"
    for m in _POWER_TOWER_RE.finditer(s):
        try:  # a numeric power (tower) whose exact value would be astronomically large
            evaluate_tokens(tokenize(re.sub(r"[{}()]", "", m.group())))
        except TooComplex:
            return "power too large to evaluate (would not finish)"
        except (NotArithmetic, ValueError, ZeroDivisionError, RecursionError):
            pass
    if _HUGE_NUMBER_RE.search(s):
        return "number with hundreds of digits refused"
    if _HUGE_FACTORIAL_RE.search(s):
        return "huge factorial refused"
    return None


@functools.lru_cache(maxsize=1 << 16)
def _verify_cached(gold: str, pred: str, timeout: float) -> Verdict:
    g, p = clean(gold), clean(pred)
    if "=" in g.text and "=" not in p.text:
        g = _drop_labels(g)  # `(a,b)=(5,1)`, `S_1:S_2=5:9` against `(5,1)`, `5:9`
    elif "=" in p.text and "=" not in g.text:
        p = _drop_labels(p)
    p = _as_gold_shape(g, p)
    g = _gold_decimal_comma(g, p)
    if not g.text:
        return Verdict(None, "empty gold answer")
    if not p.text:
        return Verdict(False, "empty prediction")
    if g.text == p.text and g.percent == p.percent:
        return Verdict(True, "identical after normalization")
    correct, reason = ladder(g, p, fast_element)
    if correct is not None:
        return _second_look(gold, pred, g, p, Verdict(correct, reason), timeout)
    for s, who in ((g.text, "gold"), (p.text, "prediction")):
        if (why := _hostile(s)) is not None:
            return Verdict(None, f"{who}: {why}")
    from verifiers.math.timeout import run_bounded  # lazy: plain numbers never need it

    status, result = run_bounded("verify", [g.text, g.percent, p.text, p.percent], timeout)
    if status == "ok":
        return _second_look(gold, pred, g, p, Verdict(result[0], result[1]), timeout)
    if status == "timeout":
        return Verdict(None, f"timed out after {timeout:g} s")
    v = Verdict(None, f"sympy failed: {result}")
    return _second_look(gold, pred, g, p, v, timeout)


# Our "not equal" verdicts that math-verify may not overrule: the gold fixes the shape (a prediction
# listing more answers than the gold, interval ends, a set for a tuple), base subscripts and clock
# times are read our way, and a "not equal" from our sympy rung compared two parsed objects (math-verify
# reads `a+2c` and `a+2d` as equal). `_settled` adds the rules that need more than the reason.
_SETTLED = ("prediction lists", "different brackets", "a set is not a tuple", "different values in base",
            "not a number in the gold's base", "clock times", "not equal")
_MORE_RE = re.compile(r"gold has (\d+) elements, prediction (\d+)")


def _compact_parts(c: Clean) -> list[str]:
    return [re.sub(r"\s+", "", x) for x in _structure(c)[1]]


def _settled(g: Clean, p: Clean, v: Verdict) -> bool:
    """Is our verdict final, with no second opinion to ask?"""
    if v.correct is True or v.reason.startswith(_SETTLED):
        return True
    if (m := _MORE_RE.match(v.reason)) and len(set(_compact_parts(p))) > int(m.group(1)):
        return True  # more distinct elements than the gold: a candidate list, not another reading
    if ("=" in g.text) != ("=" in p.text):
        return True  # labels are gone by now: an equation (`x + y = 4`, `7 = 11a + c`) is not a value
    gp, pp = _compact_parts(g), _compact_parts(p)
    if len(set(gp)) < len(gp) or (len(set(pp)) < len(pp) and len(pp) == len(gp)):
        return True  # `1, 1, 2` is a multiset; math-verify compares sets (`{1, 2}`)
    if v.correct is False and all(evaluate(x) is not None for c in (g, p) for x in _structure(c)[1]):
        return True  # exact numbers on both sides (`3` vs `2, 3`): nothing left to read differently
    return any(_hostile(s) is not None for s in (g.text, p.text))


def _second_look(gold: str, pred: str, g: Clean, p: Clean, v: Verdict, timeout: float) -> Verdict:
    """math-verify's opinion where ours is "not equal" or "can't tell" and not settled: it reads the
    same two answer strings (`second_opinion.py`) in the bounded worker. Only a True from it changes
    the verdict, and the reason says whose reading it was."""
    if _settled(g, p, v):
        return v
    from verifiers.math.timeout import run_bounded

    status, result = run_bounded("second_opinion", [gold, pred], timeout)
    if status == "ok" and result is True:
        return Verdict(True, f"equal as math-verify reads them (ours: {v.reason})")
    return v


def verify(gold: str, pred: str, *, timeout: float = 1.0) -> Verdict:
    """Are the answer strings `gold` and `pred` equivalent? Never raises, returns within ~`timeout`
    seconds (plus a one-off worker start), caches repeated pairs. See the module docstring for the
    rules and for how gold and prediction are treated differently."""
    if not isinstance(gold, str) or not isinstance(pred, str):
        if pred is None:
            return Verdict(False, "no prediction")
        return Verdict(None, f"expected strings, got {type(gold).__name__} and {type(pred).__name__}")
    if len(gold) > 10_000 or len(pred) > 10_000:
        g, p = gold.strip(), pred.strip()
        if g == p:
            return Verdict(True, "identical")
        return Verdict(None, "answer longer than 10,000 characters")
    try:
        return _verify_cached(gold, pred, float(timeout))
    except Exception as err:  # a bug here must not take down a labeling run
        return Verdict(None, f"internal error: {type(err).__name__}")


def read_gold(gold: str) -> str:
    """The answer a gold string states. A gold that is a worked solution (sentences ending in a box,
    `####` or "the answer is") is read with the same extractor as a response (boxes side by side
    are one list, as in a response, and so are boxes a few words apart with no retraction between);
    a gold with no marker (`\\frac{1}{2}`, `(p,q)=(3,2)`) is the answer as written."""
    if not isinstance(gold, str) or len(gold) > 10_000:
        return gold
    answer = extract_answer(gold, last_number_fallback=False)
    if answer is None:
        return gold
    n = gold.count("\\boxed{") + gold.count("\\fbox{")
    if 1 < n <= 10:  # `\\boxed{1} papers and \\boxed{2} bins`: a few words apart, still one answer
        boxes = last_boxes(gold, n, max_gap=40)
        if boxes is not None and boxes[-1] == answer:
            return ", ".join(boxes)
    return answer


def grade(response: str, gold: str, *, timeout: float = 1.0, last_number_fallback: bool = True) -> Verdict:
    """Is `response` (a model's full response, or a bare answer) right against `gold`?

    The one grading path of the toolkit (`prm verify`, every labeler, rewards, evaluation): read
    the final answer of `response` (`extract_answer`), read the gold the same way when it is a
    worked solution (`read_gold`), join a multi-part answer given in several boxes, then `verify`.
    The verdict carries the answer read from the response (`Verdict.answer`; None when none).
    """
    if not isinstance(response, str):
        return Verdict(False, "no response")
    pred = extract_answer(response, last_number_fallback=last_number_fallback)
    if pred is None:
        return Verdict(False, "no answer found in the response")
    gold = read_gold(gold)
    if isinstance(gold, str) and len(gold) <= 10_000:
        # A gold with n answers may be answered in n boxes, one per part: read them together.
        kind, parts = _structure(clean(gold))
        # `\\boxed{(3, 3)} for part (a) and \\boxed{(1, 1)}`: a tuple in one box is one part, not a list
        if kind in ("list", "set") and len(parts) > 1 and _structure(clean(pred))[0] not in ("list", "set"):
            boxes = last_boxes(response, len(parts))
            if boxes is not None and boxes[-1] == pred:
                pred = ", ".join(boxes)
    v = verify(gold, pred, timeout=timeout)
    return Verdict(v.correct, v.reason, answer=pred)


def cache_clear() -> None:
    _verify_cached.cache_clear()
