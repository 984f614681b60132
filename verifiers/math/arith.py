"""Exact, bounded arithmetic on numbers written in text or simple LaTeX.

This is the verifier's fast path: plain numbers, fractions, percents and arithmetic chains (the
GSM8K case) are evaluated here with `fractions.Fraction`, in-process, with no sympy and no
subprocess. It is safe on hostile input because it cannot do anything expensive:

- no `eval`: a tokenizer plus a small recursive-descent parser;
- bounded nesting depth (`MAX_DEPTH`), token count (`MAX_TOKENS`), exponent and factorial size and
  the bit length of every intermediate (`MAX_BITS`); going past a bound raises `TooComplex`, which
  callers turn into "can't tell" (or hand the input to the sympy worker, which has a hard timeout).

Only exact rational results are produced; anything irrational (`\\sqrt{2}`), symbolic (`x`, `\\pi`)
or unknown is `None`, and callers fall back to sympy.

The tokenizer is shared with step checking (`steps.py`), which needs the words and `=` signs too.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import NamedTuple

MAX_DEPTH = 60
MAX_TOKENS = 400
MAX_BITS = 4096  # ~1230 decimal digits: far beyond any real answer, far below a hang
MAX_FACTORIAL = 300


class TooComplex(ValueError):
    """The expression would be too expensive (or too deep) to evaluate exactly here."""


class NotArithmetic(ValueError):
    """The tokens are not a complete arithmetic expression (words, dangling operators, ...)."""


class Token(NamedTuple):
    # A NamedTuple rather than a frozen dataclass: tokenizing is the hot loop of check_steps.
    kind: str  # NUM OP LP RP LB RB FRAC SQRT BANG PCT EQ APPROX REL WORD OTHER DELIM
    text: str
    start: int
    end: int
    value: Fraction | None = None


# Order matters: the first alternative that matches at a position wins.
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d])|\d+(?:\.\d+)?(?:[eE][+-]?\d+(?![A-Za-z]))?|\.\d+"
_TOKEN_RE = re.compile(
    r"(?P<NUM>" + _NUMBER + r")"
    r"|(?P<DEGREE>\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|°|\\circ|\\degree)"
    # Boundaries: math delimiters, line breaks, and a `$` that is not a currency sign before a number.
    r"|(?P<DELIM>\\[()\[\]]|\$\$|\$(?!\s?[\d.])|\\\\|\n)"
    r"|(?P<SKIP>\\left(?!\s*\()|\\right(?!\s*\))|\\[,;:! ]|\\displaystyle|\\quad|\\qquad|\\\$|\$|&|[ \t\r\f\v]+|\\mathrm\{th\})"
    r"|(?P<FRAC>\\[dtc]?frac)"
    r"|(?P<SQRT>\\sqrt)"
    r"|(?P<POW>\^|\*\*)|(?P<TIMES>(?:\\cdot|\\times|\\ast)(?![A-Za-z])|×|·|∙|\*)"
    r"|(?P<DIV>\\div(?![A-Za-z])|÷|/)"
    r"|(?P<PLUS>\+)"
    r"|(?P<MINUS>-|−|–)"
    r"|(?P<PCT>\\%|%|\\percent)"
    r"|(?P<APPROX>\\approx|≈|\\sim|~|\\simeq|≃)"
    r"|(?P<REL>(?:\\neq?|\\leq?|\\geq?|\\lt|\\gt|\\equiv|\\pm|\\mp)(?![A-Za-z])|≠|<=?|>=?|≤|≥|±)"
    r"|(?P<EQ>=)"
    r"|(?P<LP>\\left\s*\(|\()|(?P<RP>\\right\s*\)|\))|(?P<LB>\{)|(?P<RB>\})"
    r"|(?P<BANG>!)"
    r"|(?P<WORD>\\[A-Za-z]+|[^\W\d_]+)"
    r"|(?P<OTHER>.)",
    re.DOTALL,
)
_OPS = {"TIMES": "*", "DIV": "/", "PLUS": "+", "MINUS": "-", "POW": "^"}


def _parse_number(text: str) -> Fraction:
    text = text.replace(",", "")
    if text.isdigit():
        return Fraction(int(text))
    whole, dot, frac = text.partition(".")
    if dot and frac.isdigit() and (not whole or whole.isdigit()):
        return Fraction(int(whole or "0") * 10 ** len(frac) + int(frac), 10 ** len(frac))
    if "e" in text or "E" in text:
        mant, _, exp = text.replace("E", "e").partition("e")
        e = int(exp)
        if abs(e) > 300:
            raise TooComplex(f"exponent {e} too large")
        return Fraction(mant) * Fraction(10) ** e
    return Fraction(text)


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens; whitespace, `$`, `\\left`/`\\right` and degree marks are dropped.

    `{,}` (LaTeX thousands separator) and `1\\,000` are joined into one number first.
    """
    text = text.replace("{,}", ",")
    text = re.sub(r"(?<=\d)\\[,!](?=\d{3}(?!\d))", ",", text)
    out: list[Token] = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind in ("SKIP", "DEGREE"):
            continue
        if kind == "NUM":
            try:
                out.append(Token("NUM", m.group(), m.start(), m.end(), _parse_number(m.group())))
            except (TooComplex, ValueError, ZeroDivisionError):
                out.append(Token("WORD", m.group(), m.start(), m.end()))
        elif kind in _OPS:
            out.append(Token("OP", _OPS[kind], m.start(), m.end()))
        else:
            out.append(Token(kind, m.group(), m.start(), m.end()))
    return _times_x(out)


def _times_x(tokens: list[Token]) -> list[Token]:
    """`x` (or `X`) between two numbers is a times sign: `0.2 x 50`. Anywhere else it is a word."""
    out = list(tokens)
    for i in range(1, len(out) - 1):
        t = out[i]
        if t.kind == "WORD" and t.text in ("x", "X") and out[i - 1].kind in ("NUM", "RP", "PCT") \
                and out[i + 1].kind in ("NUM", "LP"):
            out[i] = Token("OP", "*", t.start, t.end)
    return out


# Token kinds that can appear inside an arithmetic expression.
EXPR_KINDS = frozenset({"NUM", "OP", "LP", "RP", "LB", "RB", "FRAC", "SQRT", "BANG", "PCT"})


def _check_bits(value: Fraction) -> Fraction:
    if value.numerator.bit_length() > MAX_BITS or value.denominator.bit_length() > MAX_BITS:
        raise TooComplex("intermediate value too large")
    return value


class _Parser:
    """expr := term (('+'|'-') term)* ; term := unary (('*'|'/'|implicit) unary)* ;
    unary := ('-'|'+') unary | power ; power := postfix ('^' unary)? ; postfix := atom ('!'|'%')* ;
    atom := NUM | '(' expr ')' | '{' expr '}' | \\frac{expr}{expr} | \\sqrt{expr}.

    A number directly followed by `\\frac` is a mixed number (`2\\frac{1}{2}` = 5/2), as in answers.
    """

    def __init__(self, tokens: list[Token]):
        if len(tokens) > MAX_TOKENS:
            raise TooComplex("expression too long")
        self.toks = tokens
        self.i = 0
        self.depth = 0

    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def take(self, kind: str, text: str | None = None) -> Token:
        t = self.peek()
        if t is None or t.kind != kind or (text is not None and t.text != text):
            raise NotArithmetic(f"expected {text or kind}")
        self.i += 1
        return t

    def parse(self) -> Fraction:
        if not self.toks:
            raise NotArithmetic("empty")
        value = self.expr()
        if self.i != len(self.toks):
            raise NotArithmetic(f"unexpected {self.toks[self.i].text!r}")
        return value

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise TooComplex("nesting too deep")

    def expr(self) -> Fraction:
        self._enter()
        value = self.term()
        while (t := self.peek()) is not None and t.kind == "OP" and t.text in "+-":
            self.i += 1
            rhs = self.term()
            value = _check_bits(value + rhs if t.text == "+" else value - rhs)
        self.depth -= 1
        return value

    def term(self) -> Fraction:
        value = self.unary()
        while (t := self.peek()) is not None:
            if t.kind == "OP" and t.text in "*/":
                self.i += 1
                rhs = self.unary()
                if t.text == "/":
                    if rhs == 0:
                        raise NotArithmetic("division by zero")
                    value = value / rhs
                else:
                    value = value * rhs
            elif t.kind in ("LP", "SQRT") or (t.kind == "FRAC" and self.toks[self.i - 1].kind == "RP"):
                value = value * self.unary()  # implicit multiplication: 3(4), 2\sqrt{4}
            else:
                break
            _check_bits(value)
        return value

    def unary(self) -> Fraction:
        t = self.peek()
        if t is not None and t.kind == "OP" and t.text in "+-":
            self._enter()
            self.i += 1
            value = self.unary()
            self.depth -= 1
            return -value if t.text == "-" else value
        return self.power()

    def power(self) -> Fraction:
        base = self.postfix()
        t = self.peek()
        if t is not None and t.kind == "OP" and t.text == "^":
            self.i += 1
            self._enter()
            exp = self.unary()
            self.depth -= 1
            return _pow(base, exp)
        return base

    def postfix(self) -> Fraction:
        value = self.atom()
        while (t := self.peek()) is not None and t.kind in ("BANG", "PCT"):
            self.i += 1
            if t.kind == "PCT":
                value = value / 100
            else:
                if value.denominator != 1 or value < 0:
                    raise NotArithmetic("factorial of a non-integer")
                if value > MAX_FACTORIAL:
                    raise TooComplex("factorial too large")
                value = Fraction(math.factorial(int(value)))
        return value

    def group(self, open_kind: str, close_kind: str) -> Fraction:
        self.take(open_kind)
        value = self.expr()
        self.take(close_kind)
        return value

    def atom(self) -> Fraction:
        t = self.peek()
        if t is None:
            raise NotArithmetic("missing operand")
        if t.kind == "NUM":
            self.i += 1
            nxt = self.peek()
            if nxt is not None and nxt.kind == "FRAC" and t.value.denominator == 1:
                frac = self.frac()  # mixed number: 2\frac{1}{2}
                if not 0 <= frac < 1:
                    raise NotArithmetic("not a mixed number")
                return t.value + frac if t.value >= 0 else t.value - frac
            return t.value
        if t.kind == "LP":
            return self.group("LP", "RP")
        if t.kind == "LB":
            return self.group("LB", "RB")
        if t.kind == "FRAC":
            return self.frac()
        if t.kind == "SQRT":
            self.i += 1
            if (n := self.peek()) is not None and n.kind == "OTHER" and n.text == "[":
                raise NotArithmetic("n-th roots are left to sympy")
            return _sqrt(self.braced_or_digit())
        raise NotArithmetic(f"unexpected {t.text!r}")

    def braced_or_digit(self) -> Fraction:
        t = self.peek()
        if t is not None and t.kind == "LB":
            return self.group("LB", "RB")
        if t is not None and t.kind == "NUM" and t.text.isdigit():
            # \frac12 / \sqrt3: LaTeX reads one digit per argument.
            self.i += 1
            if len(t.text) == 1:
                return t.value
            raise NotArithmetic("ambiguous unbraced argument")
        raise NotArithmetic("expected a braced argument")

    def frac(self) -> Fraction:
        self.take("FRAC")
        t = self.peek()
        if t is not None and t.kind == "NUM" and t.text.isdigit() and len(t.text) == 2:
            self.i += 1  # \frac12 is one token "12" = 1/2
            num, den = Fraction(int(t.text[0])), Fraction(int(t.text[1]))
        else:
            num = self.braced_or_digit()
            den = self.braced_or_digit()
        if den == 0:
            raise NotArithmetic("division by zero")
        return _check_bits(num / den)


def _pow(base: Fraction, exp: Fraction) -> Fraction:
    if exp.denominator != 1:
        root = _sqrt(base) if exp.denominator == 2 else None
        if root is None:
            raise NotArithmetic("fractional power")
        base, exp = root, Fraction(exp.numerator)
    e = int(exp)
    if base == 0 and e < 0:
        raise NotArithmetic("division by zero")
    if base in (0, 1) or e == 0:
        return Fraction(1) if e == 0 else base
    if base == -1:
        return Fraction(-1 if e % 2 else 1)
    # Estimate the size before computing, so that 9^9^9 is refused instead of computed.
    bits = abs(e) * max(abs(base.numerator).bit_length(), base.denominator.bit_length())
    if bits > MAX_BITS:
        raise TooComplex("power too large")
    return base ** e


def _sqrt(value: Fraction) -> Fraction:
    if value < 0:
        raise NotArithmetic("square root of a negative number")
    n, d = value.numerator, value.denominator
    rn, rd = math.isqrt(n), math.isqrt(d)
    if rn * rn != n or rd * rd != d:
        raise NotArithmetic("irrational square root")
    return Fraction(rn, rd)


def evaluate_tokens(tokens: list[Token]) -> Fraction:
    """Evaluate a token list exactly; raises NotArithmetic or TooComplex."""
    return _Parser(tokens).parse()


def evaluate(text: str) -> Fraction | None:
    """The exact value of an arithmetic expression in text or simple LaTeX, else None.

    >>> evaluate("3 * 12"), evaluate("\\\\frac{3}{4} \\\\cdot 8"), evaluate("1,234.5"), evaluate("2^{10}")
    (Fraction(36, 1), Fraction(6, 1), Fraction(2469, 2), Fraction(1024, 1))
    >>> evaluate("x + 1") is None, evaluate("9^{9^{9^{9}}}") is None
    (True, True)
    """
    if len(text) > 4 * MAX_TOKENS:
        return None
    try:
        return evaluate_tokens(tokenize(text))
    except (NotArithmetic, TooComplex, RecursionError, ZeroDivisionError, OverflowError, ValueError):
        return None


def decimals(token_text: str) -> int | None:
    """Number of digits after the decimal point of a plain decimal literal, else None."""
    m = re.fullmatch(r"[\d,]*\.(\d+)", token_text)
    return len(m.group(1)) if m else None


def rounds_to(value, target, digits: int) -> bool:
    """Does `value` round to `target` at `digits` decimals (half up or half even, as people do)?"""
    scale = Fraction(10) ** digits
    scaled, goal = Fraction(value) * scale, Fraction(target) * scale
    if goal.denominator != 1:
        return False
    sign = -1 if scaled < 0 else 1
    half_up = sign * math.floor(abs(scaled) + Fraction(1, 2))
    return goal in (half_up, round(scaled))
