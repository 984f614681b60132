"""`extract_answer`: the final answer of a model response, as a string (or None).

The markers, and which one wins when several appear: the one that starts LAST in the text, among

1. the last `\\boxed{...}` / `\\fbox{...}` (nested braces; `\\boxed 5` too),
2. GSM8K's `#### N`,
3. "The (final) answer is ...", "Answer: ...", a "Final Answer" heading line (the answer the
   sentence after it states: `sentence.stated_answer`),

and, when none is present (`last_number_fallback=True`, the default), the last LaTeX math span
(`$...$`, `\\(...\\)`, `\\[...\\]`; `$10 + $5` currency is skipped) or the last number if it comes
after that span; a short bare-LaTeX text (`\\frac{10}{9}`) is taken whole. Turn the fallback off for
strict grading, where a response with no marked answer should count as wrong.

A marker followed by a sentence yields what the sentence states ("So the answer is 15 dollars for 3
items." -> 15; "Final Answer: The largest $n$ is 34." -> 34); boxes side by side
(`\\boxed{1}, \\boxed{2}`, `\\(\\boxed{-1}\\) and \\(\\boxed{-9}\\)`) are joined into one list, and
`last_boxes` reads the boxes of a multi-part answer for `grade`.

All scanning is linear-time string work (no backtracking regex over the whole text), so a 1 MB
response is fine. The result is not normalized; `verify` does that.
"""

from __future__ import annotations

import re

from verifiers.math.sentence import stated_answer

MAX_JOINED_BOXES = 50  # boxes side by side read as one list (bounded: `\\boxed{1} and ` * 20,000 is spam)
_BOX_RE = re.compile(r"\\(?:boxed|fbox)\b")
_HASH_RE = re.compile(r"####\s*([^\n]*)")
# "Answer:" counts only at the start of a line (optionally bold): "We may check our answer: ..." is
# not a final answer.
_PHRASE_RE = re.compile(
    r"(?:\bthe\s+(?:final\s+)?answer\s+is|\bfinal\s+answer\s*(?:is)?\s*:|(?:^|\n)[ \t#*]*answer[ \t*]*:"
    r"|(?:^|\n)[ \t#*]*final\s+answer[ \t*:]*(?=\n))[ \t*]*:?\s*",
    re.IGNORECASE,
)
# Numbers as people write them: `1,250`, `2 000` (space thousands), `3,15` (a decimal comma: one or
# two digits after it; `verify` reads it so only against a one-number gold), `-3.5`, `3/4`, `$12`, `50%`.
_NUMBER_RE = re.compile(
    r"(?<![A-Za-z\d.])-?\$?\s?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d{1,3}(?: \d{3})+(?!\d|[.,]\d)|\d+,\d{1,2}(?!\d)|\d+)"
    r"(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?%?(?!\d)"
    r"|(?<![\w.])-?\.\d+(?![A-Za-z\d])"
)
# What may stand between two boxes that form one answer: `\boxed{1}, \boxed{2}`,
# `\(\boxed{-1}\) and \(\boxed{-9}\)`, `\boxed{...} \quad \text{and} \quad \boxed{...}`.
# Not "or": `\boxed{15\frac{39}{40}}, or \boxed{\frac{639}{40}}` restates one answer two ways.
_BOX_GAP_RE = re.compile(r"\}(?:[\s,$]|\\[()\[\]]|\\q?quad|\\text\{\s*and\s*\}|\band\b)*$")
_SENTENCE_END_RE = re.compile(r"\.(?:\s|$)|\n")


def _brace_pairs(text: str) -> dict[int, int]:
    """Position of each `{` -> its matching `}`, in one linear pass (unmatched ones are absent)."""
    pairs, stack = {}, []
    for i, c in enumerate(text):
        if c == "{":
            stack.append(i)
        elif c == "}" and stack:
            pairs[stack.pop()] = i
    return pairs


def _box_just_before(text: str, pos: int, pairs: dict[int, int]) -> tuple[int, str] | None:
    """A complete box ending right before `pos` (only `_BOX_GAP_RE` material between)."""
    gap = _BOX_GAP_RE.search(text[max(0, pos - 60):pos])
    if gap is None:
        return None
    close = pos - len(gap.group())
    opens = [o for o in (text.rfind("\\boxed{", 0, close), text.rfind("\\fbox{", 0, close)) if o >= 0]
    if not opens:
        return None
    o = max(opens)
    brace = text.index("{", o)
    if pairs.get(brace) != close:
        return None
    return o, text[brace + 1:close].strip()


def _last_boxed(text: str) -> tuple[int, str] | None:
    """Start position and content of the last complete boxed answer (linear time)."""
    pairs = None
    # Two cursors, each moved only when consumed: repeated rfind over the whole prefix would be
    # quadratic on `\boxed{\boxed{...` spam.
    nb, nf = text.rfind("\\boxed"), text.rfind("\\fbox")
    # The last box, when never closed, is read only if no box before it is complete (`_unclosed_box`).
    unclosed, last = None, max(nb, nf)
    while True:
        pos = max(nb, nf)
        if pos < 0:
            return unclosed
        if pos == nb:
            nb = text.rfind("\\boxed", 0, pos)
        else:
            nf = text.rfind("\\fbox", 0, pos)
        m = _BOX_RE.match(text, pos)
        if m is None:
            continue
        rest = m.end()
        while rest < len(text) and text[rest] == " ":
            rest += 1
        if rest < len(text) and text[rest] == "{":
            if pairs is None:
                pairs = _brace_pairs(text)
            end = pairs.get(rest)
            if end is None:
                if pos == last:
                    unclosed = _unclosed_box(text, m.start(), rest)
                continue  # truncated box: look for an earlier complete one
            content = text[rest + 1:end].strip()
            start = m.start()
            # `\boxed{1}\boxed{2}` / `\boxed{1}, \boxed{2}`: boxes side by side are one answer list.
            parts = [content]
            while len(parts) < MAX_JOINED_BOXES and (prev := _box_just_before(text, start, pairs)) is not None:
                start = prev[0]
                parts.append(prev[1])
            content = ", ".join(reversed(parts))
            return start, content
        tok = re.match(r"[^\s$]+", text[rest:rest + 100])  # `\boxed 5`: the next token
        if tok:
            return m.start(), tok.group()


def _unclosed_box(text: str, start: int, brace: int) -> tuple[int, str] | None:
    """`so $\\boxed{\\frac{1}{2}` (a box never closed, at the end of the text): the rest of the text,
    when it is short, not prose, and its own braces balance (`\\boxed{\\frac{1}{` stays unread: cut
    mid-answer)."""
    content = text[brace + 1:].strip().rstrip(".").rstrip("$").strip()
    if content.endswith("\\]") or content.endswith("\\)"):
        content = content[:-2].strip()
    if not content or len(content) > 300 or "\n\n" in content or _wordy(content):
        return None  # prose after the box: not an answer cut short
    depth = 0
    for c in content:
        depth += (c == "{") - (c == "}")
        if depth < 0:
            return None
    return (start, content) if depth == 0 else None


_RETRACTION_RE = re.compile(r"\b(?:wait|actually|mistake|incorrect|wrong|however|re-?check|recheck|re-?evaluat|"
                            r"instead|but|not|no)\b", re.IGNORECASE)


def last_boxes(text: str, n: int, max_gap: int = 300) -> list[str] | None:
    """The contents of the last `n` complete boxes when they read as one answer in parts: each gap
    under `max_gap` characters and free of retractions ("wait", "actually", "not", ...), so
    `(a) ... \\boxed{2}. (b) ... \\boxed{3}` gives [2, 3] but `\\boxed{2} ... wait, \\boxed{3}` gives None."""
    if n < 2 or not isinstance(text, str):
        return None
    tail = text[-20_000:]
    pairs = _brace_pairs(tail)
    found, pos = [], len(tail)
    while len(found) < n:
        start = max(tail.rfind("\\boxed{", 0, pos), tail.rfind("\\fbox{", 0, pos))
        if start < 0:
            return None
        brace = tail.index("{", start)
        end = pairs.get(brace)
        if end is None or end >= pos:
            pos = start
            continue
        if found and (found[-1][0] - end > max_gap or _RETRACTION_RE.search(tail[end:found[-1][0]])):
            return None
        found.append((start, tail[brace + 1:end].strip()))
        pos = start
    return [c for _, c in reversed(found)]


def _last_phrase(text: str) -> tuple[int, str] | None:
    last = None
    for m in _PHRASE_RE.finditer(text):
        last = m
    if last is None:
        return None
    tail = text[last.end(): last.end() + 1000]
    answer = stated_answer(tail)
    if answer is None:
        # "Final Answer: Jane started 3 hours ago." -> the math or number inside the sentence
        sentence = _sentence_of(tail)
        answer = _last_math_or_number(sentence) if sentence else None
    return (last.start(), answer) if answer else None


def _sentence_of(tail: str) -> str:
    """The first sentence of `tail` (a period then space, or a newline; `$...$` may hold periods)."""
    in_math = False
    for i, c in enumerate(tail):
        if c == "$":
            in_math = not in_math
        elif not in_math and (c == "\n" or (c == "." and (i + 1 == len(tail) or tail[i + 1].isspace()))):
            return tail[:i].strip()
    return tail.strip()


def _plain_words(s: str) -> list[str]:
    """Plain words of two or more letters outside LaTeX commands, `\\text{}` and `$...$` (not and/or/am/pm)."""
    s = re.sub(r"\\(?:begin|end)\s*\{\w+\*?\}|\\text\w*\{[^{}]*\}|\\[A-Za-z]+|\$[^$]*\$", " ", s)
    return [w for w in re.findall(r"[A-Za-z]{2,}", s) if w.lower() not in ("and", "or", "am", "pm")]


def _wordy(s: str) -> bool:
    """Two or more plain words: a sentence, not an answer."""
    return len(_plain_words(s)) >= 2


# Bounded spans (600 chars, last 8,000 characters) keep the scan linear on unclosed `\\[ \\[ \\[ ...` spam.
_MATH_SPAN_RE = re.compile(
    r"\$\$(.{1,600}?)\$\$|\\\[(.{1,600}?)\\\]|\\\((.{1,600}?)\\\)|\$([^$\n]{1,600}?)\$", re.DOTALL
)
_BAD_SPAN_RE = re.compile(r"^\s*$|[=+*/^\\,]\s*$|^\s*[=+*/^,]")


def _last_math(text: str) -> tuple[int, int, str] | None:
    """(start, end, content) of the last LaTeX math span that could be an answer."""
    last = None
    for m in _MATH_SPAN_RE.finditer(text[-8_000:]):
        content = next(g for g in m.groups() if g is not None).strip().rstrip(".,;").strip()
        if _BAD_SPAN_RE.search(content) or len(content) > 1000:
            continue  # `$10 + $5`: currency, not math
        last = (m.start(), m.end(), content)
    if last is None:
        return None
    offset = max(0, len(text) - 8_000)
    return last[0] + offset, last[1] + offset, last[2]


def _last_math_or_number(text: str) -> str | None:
    """The last math span, unless a number comes after it (then that number)."""
    math_span = _last_math(text)
    num = _last_number_match(text)
    if math_span is None:
        if len(text) <= 300 and "\\" in text and not _wordy(text):
            return text.strip()  # bare LaTeX with no delimiters: `\\frac{10}{9}`
        return _number_text(num) if num else None
    if num is not None and num[0] >= math_span[1]:
        return _number_text(num)
    return math_span[2]


def _last_hash(text: str) -> tuple[int, str] | None:
    pos = text.rfind("####")
    if pos < 0:
        return None
    m = _HASH_RE.match(text, pos)
    answer = m.group(1).strip() if m else ""
    if answer:
        # `#### 7 apples for 2 friends` states 7: the marker's line is read as a sentence, like the
        # text after "The answer is" (a bare `#### 7` or `#### \\frac{1}{2}` comes back unchanged)
        answer = stated_answer(answer) or answer
    return (pos, answer) if answer else None


def _last_number_match(text: str) -> tuple[int, str] | None:
    offset = max(0, len(text) - 5000)
    last = None
    for m in _NUMBER_RE.finditer(text[offset:]):
        last = m
    return (last.start() + offset, last.group()) if last else None


def _number_text(match: tuple[int, str]) -> str | None:
    return match[1].replace("$", "").replace(" ", "").rstrip(",") or None


def last_number(text: str) -> str | None:
    """The last number-looking token (`1,234`, `-3.5`, `3/4`, `$12`, `50%`), else None."""
    m = _last_number_match(text)
    return _number_text(m) if m else None


def extract_answer(text: str, *, last_number_fallback: bool = True) -> str | None:
    """The final answer of a response (see the module docstring), or None when there is none.

    >>> extract_answer("so 3 * 12 = 36 pens. The answer is 36.")
    '36'
    >>> extract_answer(r"Thus $x = \\boxed{\\frac{1}{2}}$.")
    '\\\\frac{1}{2}'
    >>> extract_answer("Janet has 16 - 3 = 13 eggs.\\n#### 13")
    '13'
    """
    if not isinstance(text, str) or not text:
        return None
    candidates = [c for c in (_last_boxed(text), _last_hash(text), _last_phrase(text)) if c]
    if candidates:
        return max(candidates, key=lambda c: c[0])[1]
    if not last_number_fallback:
        return None
    if (whole := _bare_answer(text)) is not None:
        return whole
    # Fallback: the last LaTeX math span (`$x \\geq 5$`, `\\( (7, 6) \\)`) or, after it, the last number.
    return _last_math_or_number(text)


_BARE_MAX = 200


def _bare_answer(text: str) -> str | None:
    """A short one-line text that is not a sentence is itself the answer: `3, 4`, `1 000`,
    `1000,99`, `$[0, 1)$`, `(a,b)=(5,1)`. Taking its last number would read `3, 4` as 4 and
    `1 000` as 0. Any plain word sends it to the last-number fallback ("ratio 3/4" -> `3/4`,
    "so 3 * 12 = 36 pens" -> 36); `\\text{odd}` and one-letter names are not words."""
    s = text.strip()
    if not s or len(s) > _BARE_MAX or "\n" in s or _plain_words(s):
        return None
    return s
