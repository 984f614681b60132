"""String-level clean-up of an answer before it is compared, and the cheap structural reading.

Everything here is pure, linear-time string work (no sympy), applied identically to gold and
prediction. Choices (documented in `grader.verify` too):

- LaTeX spelling: `\\dfrac`/`\\tfrac` -> `\\frac`, `\\left(`/`\\right)` -> `(`/`)`, spacing commands,
  `\\displaystyle`, `$`, `\\(`/`\\)`, a wrapping `\\boxed{}`, quotes around the whole answer
  (`"..."`, `\\"...\\"`) and a trailing period are dropped.
- Unicode: minus signs, `×`, `÷`, `√`, `π`, `∞`, `≤`, `≥`, `≠`, `∪` become their LaTeX spelling.
- Degrees (`^\\circ`, `°`, `\\degree`) are dropped: `30^\\circ` equals `30`.
- Units: `\\text{...}`/`\\mbox{...}` after a number and trailing unit words (`cm`, `dollars`,
  `square units`) are dropped; so is a leading currency sign.
- Percent: a trailing `%`/`\\%`/`percent`/`pct` is removed and remembered (`Clean.percent`); the
  grader decides what it means.
- Thousands: `1\\,000`, `1{,}000`, `16,\\!386` and a whole answer `1 234 567` are one number;
  `0,111` is a decimal comma (no one writes a thousands group after a zero);
  `\\mathrm{10\\ cm}` (a text command around a number) is `10 cm`, then its unit goes.
- `... \\text{ for } k \\in \\mathbb{Z}` after a general solution is dropped.
- Scientific notation `1.5e3` / `1.5E+3` is rewritten as `1.5\\times10^{3}`.
- A leading single-variable assignment `x = 3` / `k=3` is reduced to its value (both sides); a
  chain `x = 5+5+1 = 11` to its last member; `a = b \\approx c` to `b`, `x \\approx c` to `c`.
- `\\varnothing`, `\\{\\}`, `∅` are `\\emptyset`; a whole answer "six" is `6` (zero to twenty).
- A time of day written with am/pm, seconds or a leading zero is 24-hour `H:MM`: `08:34 \\text{P.M.}`
  and `20:34:00` are `20:34` (`12:30` alone stays as written: it may be a ratio).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from verifiers.math.arith import EXPR_KINDS, tokenize

_UNICODE = {
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\ufe63": "-", "\uff0d": "-",
    "×": r"\times ", "÷": r"\div ", "·": r"\cdot ", "√": r"\sqrt", "π": r"\pi ", "∞": r"\infty ",
    "≤": r"\le ", "≥": r"\ge ", "≠": r"\ne ", "∪": r"\cup ", "∩": r"\cap ", "±": r"\pm ",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "，": ",",
}
_UNICODE_RE = re.compile("|".join(map(re.escape, _UNICODE)))

_SPACING_RE = re.compile(r"(?<!\\)\\[,;: ]|\\quad|\\qquad|\\displaystyle|\\textstyle|~")
_DEGREE_RE = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree|\^\{\\text\{o\}\}")
_LEFT_RIGHT_RE = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)\s*(?=[()\[\]|.]|\\[{}|])")
_FRAC_RE = re.compile(r"\\[dtc]frac")
_SCI_RE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)[eE]([+-]?\d+)(?![\w.])")
_TEXT_CMD_RE = re.compile(r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mathbf|mathit|mbox|operatorname)\s*\{([^{}]*)\}")
# A whole answer wrapped in a text command that starts with a number: `\mathrm{10\ cm}` -> `10\ cm`
_NUMBER_IN_TEXT_RE = re.compile(r"^\\(?:text\w*|math(?:rm|bf|it)|mbox)\s*\{\s*(-?\d[^{}]*)\}$")
_SPACE_THOUSANDS_RE = re.compile(r"^-?\d{1,3}(?: \d{3})+(?:\.\d+)?$")  # `1 234 567`
_ZERO_COMMA_RE = re.compile(r"^(-?)0,(\d+)$")
# `... \text{ for } k \in \mathbb{Z}` after a general solution says nothing about its value
_FOR_INTEGER_K_RE = re.compile(r"\s*,?\s*(?:\\text\{\s*(?:for|where)\s*(?:all|any|some)?\s*\}|\b(?:for|where)\b)?\s*"
                               r"(?:[a-z]\s*\\in\s*\\mathbb\s*\{?Z\}?|\\text\{\s*(?:for|where)\s+(?:all\s+|any\s+)?"
                               r"integers?\s+[a-z]\s*\})\s*$")
_ASSIGN_RE = re.compile(r"^\s*(?:[A-Za-z]|\\[a-zA-Z]+|[A-Za-z]_\{?\w+\}?)\s*=\s*(?![=<>])")
_PERCENT_RE = re.compile(r"\s*(?:\\%|%|\\percent|\s+percent|\s+per\s*cent|\s+pct)\s*$")
_CURRENCY_RE = re.compile(r"^\s*(?:\\\$|\$|USD|US\$|€|£|\\euro|\\pounds)\s*")

# Words that may follow a numeric answer and mean nothing for its value (compared lower-cased).
_UNIT_WORD = (
    r"(?:square|sq|cubic|cu)?\s*(?:units?|cm|mm|km|m|meters?|metres?|centimeters?|millimeters?|kilometers?|"
    r"inch(?:es)?|in|feet|foot|ft|yards?|yd|miles?|mi|mph|kmh|km/h|m/s|"
    r"seconds?|secs?|s|minutes?|mins?|hours?|hrs?|h|days?|weeks?|months?|years?|yrs?|"
    r"grams?|g|kg|kilograms?|mg|pounds?|lbs?|ounces?|oz|tons?|liters?|litres?|l|ml|gallons?|gal|"
    r"dollars?|cents?|euros?|degrees?|deg|radians?|rad|points?|people|persons?|students?|times|ways|"
    r"apples?|cookies|pages?|boxes|items?|pieces?|marbles|balls|books|cars|dogs|cats|eggs|pens|pencils)"
)
_TRAILING_UNIT_RE = re.compile(r"(?<=[\d}.)])\s*(?:\\text\{\s*" + _UNIT_WORD + r"\s*\}|" + _UNIT_WORD
                               + r")(?:\s*\^\s*\{?[23]\}?|\s*²|\s*³)?\s*$", re.IGNORECASE)
_TRAILING_TEXT_RE = re.compile(r"(?<=[\d}.)])\s*\\(?:text\w*|mbox|mathrm)\s*\{[^{}]*\}(?:\s*\^\s*\{?[23]\}?)?\s*$")


@dataclass(frozen=True)
class Clean:
    """A cleaned answer: `text` is LaTeX-ish, `percent` says a trailing percent sign was removed."""

    text: str
    percent: bool = False


def strip_wrapper(s: str, command: str) -> str:
    """`\\boxed{X}` -> `X` when the whole string is one such command."""
    s = s.strip()
    prefix = "\\" + command
    if not s.startswith(prefix):
        return s
    rest = s[len(prefix):].lstrip()
    if not rest.startswith("{"):
        return s
    end = matching_brace(rest, 0)
    if end == len(rest) - 1:
        return rest[1:end].strip()
    return s


def matching_brace(s: str, start: int) -> int:
    """Index of the `}` matching the `{` at `start`, or -1 (linear, no recursion)."""
    depth = 0
    for i in range(start, len(s)):
        c = s[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def clean(answer: str) -> Clean:
    """Canonical spelling of one answer string (see the module docstring for every rule)."""
    s = _UNICODE_RE.sub(lambda m: _UNICODE[m.group()], answer)
    s = s.strip()
    for _ in range(3):  # $\boxed{...}$., \(...\), nested wrappers
        before = s
        s = s.strip().rstrip(".").strip()
        if s.startswith("$") and s.endswith("$") and len(s) > 1:
            s = s.strip("$")
        for open_, close in (("\\(", "\\)"), ("\\[", "\\]")):
            if s.startswith(open_) and s.endswith(close):
                s = s[2:-2]
        s = strip_wrapper(s, "boxed")
        s = strip_wrapper(s, "fbox")
        for quote in ('\\"', '"'):  # `The final answer is \"$12$ and $13$\"`: quotes around the answer
            if len(s) > 2 * len(quote) and s.startswith(quote) and s.endswith(quote):
                s = s[len(quote):-len(quote)]
        if s == before:
            break
    s = s.replace("\\$", "").replace("$", "")
    s = _CURRENCY_RE.sub("", s)
    s = _FRAC_RE.sub(r"\\frac", s)
    s = _LEFT_RIGHT_RE.sub("", s)
    s = _DEGREE_RE.sub("", s)
    s = s.replace("{,}", ",")
    s = re.sub(r"(?<=\d)\\,(?=\d{3}(?!\d))", ",", s)  # 1\,000
    s = re.sub(r"(?<=\d),\\!\s*(?=\d{3}(?!\d))", ",", s)  # 16,\!386 and 11,\! 111
    s = s.replace("\\!", "")
    s = _SPACING_RE.sub(" ", s)
    if (m := _NUMBER_IN_TEXT_RE.match(s.strip())) is not None:
        s = m.group(1)
    s = _FOR_INTEGER_K_RE.sub("", s)
    s = _SCI_RE.sub(lambda m: f"{m.group(1)}\\times10^{{{int(m.group(2))}}}", s)
    if (m := _CLOCK_RE.match(s.strip())) is not None:
        s = _clock(m) or s
    percent = False
    m = _PERCENT_RE.search(s)
    if m and m.start() > 0:
        percent, s = True, s[: m.start()]
    for _ in range(2):
        s = _TRAILING_TEXT_RE.sub("", s)
        s = _TRAILING_UNIT_RE.sub("", s)
    if not percent and (m := _PERCENT_RE.search(s)) and m.start() > 0:
        percent, s = True, s[: m.start()]
    s = _CURRENCY_RE.sub("", s)
    if s.startswith("{") and matching_brace(s, 0) == len(s) - 1:
        s = s[1:-1].strip()  # plain TeX grouping braces, not a set (a set is `\\{...\\}`)
    s = _last_of_chain(s)
    a = _ASSIGN_RE.match(s)
    # `x = 3` -> `3`; but `y = 2x + 3` stays an equation (the grader compares equations as such).
    if a and "=" not in s[a.end():] and not re.search(r"[<>]|\\[lg]e", s[a.end():]) \
            and not re.search(r"(?<![\\A-Za-z])[A-Za-z]", s[a.end():]):
        s = s[a.end():]
    s = re.sub(r"\s+", " ", s).strip()
    if _SPACE_THOUSANDS_RE.match(s):
        s = s.replace(" ", "")
    s = _ZERO_COMMA_RE.sub(r"\g<1>0.\2", s)  # `0,111` is never thousands: a decimal comma
    s = _EMPTY_SET_RE.sub(r"\\emptyset", s)
    if s.lower() in _NUMBER_WORDS:
        s = _NUMBER_WORDS[s.lower()]
    if not re.search(r"(?:\.\.\.|\\[lc]?dots)\s*$", s):  # keep an ellipsis: `1, 2, 3, ...`
        s = s.rstrip(".,;").strip()
    return Clean(s, percent)


# A time of day: `08:34 \text{P.M.}` -> `20:34`, `20:34:00` -> `20:34`, `9:05 am` -> `9:05`
_CLOCK_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(?:\\text\{\s*([AaPp])\.?\s*[Mm]\.?\s*\}|([AaPp])\.?\s*[Mm]\b\.?)?$")


def _clock(m: re.Match) -> str | None:
    """24-hour `H:MM` (`:SS` only when not zero) for a valid time of day, else None."""
    h, mins, secs = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    half = (m.group(4) or m.group(5) or "").lower()
    if mins > 59 or secs > 59 or (half and not 1 <= h <= 12) or h > 23:
        return None
    if half:
        h = h % 12 + (12 if half == "p" else 0)
    elif m.group(3) is None and not m.group(1).startswith("0"):
        return None  # `5:09`, `12:30` without seconds or a leading zero may be a ratio: left as written
    return f"{h}:{mins:02d}" + (f":{secs:02d}" if secs else "")


_EMPTY_SET_RE = re.compile(r"\\varnothing|\\O\b|∅|\\\{\s*\\\}|^\{\s*\}$")
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_AND_OR_WORD_RE = re.compile(r"\\text\{\s*(?:and|or)\s*\}|\b(?:and|or)\b")
_TOP_EQ_RE = re.compile(r"(?<![<>!\\])=(?!=)")


def _last_of_chain(s: str) -> str:
    """`x = 5+5+1 = 7 = 11` -> `11`; `x = 1/3 \\approx 0.33` -> `1/3`; `x \\approx 11` -> `11`."""
    if "\\approx" in s:
        before, _, after = s.partition("\\approx")
        s = before if "=" in before else after
    if "," in s or ";" in s or "\\begin" in s or _AND_OR_WORD_RE.search(s):
        return s.strip()  # `x=1, y=2`, `f(x) = x or f(x) = -x` and matrices are not chains
    parts = _TOP_EQ_RE.split(s)
    if len(parts) > 2:
        # `x = 5+5+1 = 11` -> `x = 11` (a name keeps its value); `1 = \\zzz = x = 0` -> `0`
        head = parts[0].strip()
        return head + " = " + parts[-1].strip() if len(head) <= 2 and head.isalpha() else parts[-1].strip()
    if len(parts) == 2 and parts[1].strip() and _is_numeric_expr(parts[0]) \
            and not re.search(r"(?<![\\A-Za-z])[A-Za-z]", parts[1]):
        # `39 + 56 = 95` states 95 (as a longer chain states its last member); an equation with an
        # unknown on either side (`y = 2x + 3`, `2x = 6`, `7 = 11a + c`) stays an equation
        return parts[1].strip()
    return s.strip()


def _is_numeric_expr(s: str) -> bool:
    """Pure arithmetic with at least one number: the step checker's own tokenizer decides (arith.py)."""
    toks = tokenize(s)
    return any(t.kind == "NUM" for t in toks) and all(t.kind in EXPR_KINDS for t in toks)


def text_key(s: str) -> str:
    """A key for comparing text answers: `\\text{(B) Devon}` and `b) devon` differ, `(B)` and `B` match."""
    prev = None
    while prev != s:
        prev, s = s, _TEXT_CMD_RE.sub(r"\1", s)
    s = s.lower().replace("\\", "")
    s = re.sub(r"(?<=\d)\s+(?=\d)", "_", s)  # `1 2` is two numbers, not twelve
    s = re.sub(r"[\s{}]+", "", s)
    if re.fullmatch(r"\(?[a-e]\)?\.?", s):  # multiple choice: (B), B), b.
        s = s.strip("().")
    return s


def split_top_level(s: str, seps: str = ",;") -> list[str]:
    """Split on separators that are not inside (), [], {} (linear; unbalanced input is one part)."""
    parts, depth, cur = [], 0, []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s) and s[i + 1] in "{}":
            cur.append(s[i:i + 2])
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c in seps and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return [p.strip() for p in parts]


_THOUSANDS_RE = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_AND_OR_RE = re.compile(r"\s*(?:,\s*)?(?:\\text\{\s*(?:and|or)\s*\}|\band\b|\bor\b)\s*")


def split_answers(s: str) -> tuple[str, list[str]]:
    """Read the outer structure: ("set"|"tuple"|"interval"|"list"|"single", parts).

    `\\{1,2\\}` is a set, `(1,2)` a tuple (an open interval reads the same way), `[1,2)` an
    interval, `1, 2` and `1 and 2` an unordered list, `1,000` a single number.
    """
    s = s.strip()
    if _THOUSANDS_RE.match(s):
        return "single", [s]
    if s.startswith("\\{") and s.endswith("\\}"):
        return "set", split_top_level(s[2:-2])
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]":
        inner = s[1:-1]
        # Only when the brackets enclose the whole string: "(1)+(2)" is not a tuple.
        if split_top_level(inner, ",;") != [inner.strip()] and _balanced(inner):
            kind = "tuple" if s[0] + s[-1] == "()" else "interval"
            return kind, split_top_level(inner)
    s2 = _AND_OR_RE.sub(",", s) if re.search(r"\band\b|\bor\b", s) else s
    parts = split_top_level(s2)
    if len(parts) > 1:
        return "list", parts
    return "single", [s]


def _balanced(s: str) -> bool:
    depth = 0
    for c in s:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0
