"""`stated_answer`: the answer a sentence after an answer marker states, read the way a person reads it.

"The answer is 15 dollars for 3 items." states 15, not 3; "The answer is 5 apples, not 6." states 5;
"The largest $n$ is 34." states 34; "$1,500, which is more than last year's 1,200" states 1,500.
The rules, in order (each is linear-time string work over one sentence of at most 1,000 characters):

1. a `$` right before a number that no `$` closes in the sentence is currency, not math;
2. the sentence ends at a period followed by a space, or a newline (never inside math);
3. a trailing clause is cut at the top level, outside math: `, which ...`, `, not ...`,
   `, since ...`, `, i.e. ...`, ` (and y = 3)`, ` because ...`; a list `1, 2 and 3` is kept;
4. filler before the answer goes (`probably`, `approximately`, `exactly`, ...);
5. a number followed by words (`15 dollars for 3 items`, `2.5 km`) is that number, also when a new
   sentence follows with no space (`81The answer is 81...`, a looping model); `28 percent`
   and `28 pct` keep their percent; `41 or 42` stays a list (two candidates, which the grader
   rejects against a single gold);
6. a sentence that starts with words states what follows its last top-level `is`/`are`/`=`/
   `equals` ("The largest $n$ is 34"); math spans joined by `and`/commas become one list.

It returns None when the sentence holds nothing answer-like; the caller then falls back to the last
math span or number of the sentence.
"""

from __future__ import annotations

import re

_NUM = r"-?(?:\d{1,3}(?:,\d{3})+|\d{1,3}(?: \d{3})+(?!\d)|\d+)(?:\.\d+)?"
_CURRENCY_RE = re.compile(r"\\?\$(?=" + _NUM + r")")
_LEADING_NUMBER_RE = re.compile(r"^(" + _NUM + r"(?:\s*/\s*\d+)?)(\s*(?i:\\?%|percent\b|per\s*cent\b|pct\b))?"
                                r"(?:\s+([A-Za-z][\w'-]*)|(?=[A-Z][a-z])|\s*$)")
_FILLER_RE = re.compile(r"^(?:(?:probably|approximately|about|around|roughly|exactly|just|simply|indeed|now|"
                        r"then|clearly|still|thus|therefore|so|hence|that|equal\s+to|given\s+by|:)\s+)+",
                        re.IGNORECASE)
# Words after a leading number that continue the answer instead of ending it.
_CONTINUES = {"and", "or", "to", "over", "times", "plus", "minus", "divided", "by", "x", "multiplied", "mod",
              "pi", "sqrt", "i", "e"}
_CLAUSE_WORDS = (r"not|which|since|because|so|as|i\.e\.?|e\.g\.?|that|where|when|while|but|meaning|giving|"
                 r"hence|thus|therefore|assuming|this|it|if|after|rounded|namely|corresponding|obtained|found|"
                 r"making|using|with|from|for|or\s+about|or\s+approximately|and\s+(?:the|this|that|so|thus|"
                 r"hence|therefore|it|we|not)|or\s+(?:the|this|that|equivalently)")
# ` (` opens a remark only after a number or a word: `x = 9 (and y = 3)`, not `f(x) = (x+1)^2`.
_CLAUSE_RE = re.compile(r"(?:,|;|\s+-+|\s+—)\s+(?:" + _CLAUSE_WORDS + r")\b|(?<=[\w}])\s+\(|\s+(?:since|because|"
                        r"which|i\.e\.|so\s+that|as\s+(?:this|it|we))\b", re.IGNORECASE)
_COPULA_RE = re.compile(r"\s(?:is|are|was|were|equals|becomes|=)\s|\s(?:is|are)\s+equal\s+to\s", re.IGNORECASE)
_MATH_RE = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|\$([^$]+?)\$", re.DOTALL)
_JOINERS_RE = re.compile(r"^(?:[\s,;]|\band\b|\bor\b|\\text\{\s*(?:and|or)\s*\}|\\quad|respectively)*$")


def _drop_currency(s: str) -> str:
    """`$100 per week` -> `100 per week`, but `$14$` (math) stays."""
    out, last = [], 0
    for m in _CURRENCY_RE.finditer(s):
        stop = re.search(r"\.(?:\s|$)|\n", s[m.end():])
        rest = s[m.end(): m.end() + stop.start()] if stop else s[m.end():]
        if m.group().startswith("\\") or "$" not in rest:
            out.append(s[last:m.start()])
            last = m.end()
    return "".join(out) + s[last:]


def _top_level(s: str) -> list[bool]:
    """For each character: is it outside math (`$...$`, `\\(...\\)`, `\\[...\\]`) and outside braces?"""
    flags, in_math, depth, i = [], None, 0, 0
    while i < len(s):
        two = s[i:i + 2]
        if in_math is None and two in ("\\(", "\\[", "$$"):
            in_math = {"\\(": "\\)", "\\[": "\\]", "$$": "$$"}[two]
            flags += [False, False]
            i += 2
            continue
        if in_math is not None and in_math != "$" and two == in_math:
            in_math = None
            flags += [False, False]
            i += 2
            continue
        c = s[i]
        if c == "$" and in_math in (None, "$"):
            in_math = None if in_math == "$" else "$"
        elif c == "{":
            depth += 1
        elif c == "}":
            depth = max(0, depth - 1)
        flags.append(in_math is None and depth == 0 and c != "$")
        i += 1
    return flags


def _sentence(tail: str) -> str:
    top = _top_level(tail)
    for i, c in enumerate(tail):
        if top[i] and (c == "\n" or (c == "." and (i + 1 == len(tail) or tail[i + 1].isspace()))):
            return tail[:i]
    return tail


def _first_top(regex: re.Pattern, s: str, top: list[bool], start: int = 0) -> re.Match | None:
    for m in regex.finditer(s, start):
        if m.start() > 0 and top[m.start()] and all(top[m.start():m.end()]):
            return m
    return None


def _cut_clause(s: str) -> str:
    top = _top_level(s)
    m = _first_top(_CLAUSE_RE, s, top)
    return s[:m.start()] if m else s


def _math_list(s: str) -> str | None:
    """The math of `s` when it is nothing but math spans and joiners: `$x=5$ and $x=-2$` -> `x=5, x=-2`."""
    spans = list(_MATH_RE.finditer(s))
    if not spans:
        return None
    gaps = [s[:spans[0].start()]] + [s[a.end():b.start()] for a, b in zip(spans, spans[1:])] + [s[spans[-1].end():]]
    if not all(_JOINERS_RE.match(g) for g in gaps):
        return None
    parts = [next(g for g in m.groups() if g is not None).strip() for m in spans]
    return parts[0] if len(parts) == 1 else ", ".join(parts)


def _head(s: str) -> str | None:
    """Rules 3-5 on a clause that starts where the answer should start."""
    s = _FILLER_RE.sub("", _cut_clause(s).strip()).strip().rstrip(".,;:").strip()
    if not s:
        return None
    m = _LEADING_NUMBER_RE.match(s)
    if m and (m.group(3) is None or m.group(3).lower() not in _CONTINUES):
        number = m.group(1).replace(" ", "")
        return number + ("%" if m.group(2) else "")
    if (joined := _math_list(s)) is not None:
        return joined
    return s


def _wordy(s: str) -> bool:
    """Starts with a plain word (after any markup): a sentence about the answer, not the answer."""
    s = re.sub(r"^[\s*_]+", "", s)
    m = re.match(r"([A-Za-z]{2,})\b", s)
    return m is not None and m.group(1).lower() not in ("and", "or", "no", "none", "yes")


def stated_answer(tail: str) -> str | None:
    """The answer that the text right after an answer marker states (see the module docstring)."""
    sentence = _sentence(_drop_currency(tail.replace("**", "")))
    sentence = _FILLER_RE.sub("", sentence.strip()).rstrip(".,;:").strip()
    if not sentence:
        return None
    if not _wordy(sentence):
        return _head(re.sub(r"\s+equals\s+", " = ", sentence))
    top = _top_level(sentence)
    best = None
    for m in _COPULA_RE.finditer(sentence):
        if all(top[m.start():m.end()]):
            best = m
    if best is None:
        return None
    return _head(sentence[best.end():])
