"""Step segmentation: pure functions from a solution's text to its steps, and back.

Contract: for every segmenter here, `join_steps(split(text), sep) == text` exactly (tested with
hypothesis), so no character of a model's output is lost or invented between the sample and its
stepwise record. Splitting keeps empty and whitespace-only pieces for that reason; `clean_steps`
drops them when building labels, which is a documented, lossy choice.

Separators (each domain's lives in `prm.domains.DOMAINS`):
- math: `"\\n\\n"` by default (Qwen PRMs, search-and-learn, OmegaPRM); `"\\n"` and any other string work.
- markers: `Step k:` / `## Step k` headings start a step (`split_on_markers`, join with "").
- code: top-level statements, and the statements of a lone top-level function's body, found with
  `ast` (`split_code_steps`, join with "\\n"); unparsable code falls back to one step per line.
"""

from __future__ import annotations

import ast
import re
import threading

# CPython 3.11's AST constructor is not thread-safe ("AST constructor recursion depth mismatch")
_PARSE_LOCK = threading.Lock()

# A marker at the start of a line: "Step 3:", "Step 3.", "## Step 3", "**Step 3:**"
_MARKER = re.compile(r"(?m)^(?:#{1,6}[ \t]*|\*\*)?Step[ \t]+\d+\b")


def split_steps(text: str, sep: str = "\n\n") -> list[str]:
    """Split on `sep`. Empty text gives []; otherwise exactly `text.split(sep)`.

    CRLF text is not rewritten: with sep "\\n\\n", "a\\r\\n\\r\\nb" is one step. Pass sep="\\r\\n\\r\\n"
    for such text (`guess_sep` does this).
    """
    if not sep:
        raise ValueError("separator must be a non-empty string")
    if text == "":
        return []
    return text.split(sep)


def join_steps(steps: list[str], sep: str = "\n\n") -> str:
    return sep.join(steps)


def guess_sep(text: str, default: str = "\n\n") -> str:
    """The blank-line separator in the text's own line-ending style."""
    return default.replace("\n", "\r\n") if "\r\n\r\n" in text and "\n\n" not in text else default


def split_on_markers(text: str) -> list[str]:
    """Split before each `Step k` marker at a line start; text before the first marker is its own
    step when non-empty. Join with "" to get the text back."""
    if text == "":
        return []
    starts = [m.start() for m in _MARKER.finditer(text)]
    if not starts or starts[0] != 0:
        starts = [0] + starts
    ends = starts[1:] + [len(text)]
    return [text[a:b] for a, b in zip(starts, ends)]


def clean_steps(steps: list[str]) -> list[str]:
    """Strip each step and drop empty ones: what a labeler and a PRM should see. Not reversible."""
    return [s.strip() for s in steps if s.strip()]


def _statement_lines(code: str) -> list[int] | None:
    """0-based line numbers where a step starts, or None when the code does not parse."""
    try:
        with _PARSE_LOCK:
            tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    body = tree.body
    starts: list[int] = []
    for node in body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        starts.append(first - 1)
        # a module that is one function (plus imports) is the common case for generated code:
        # its body statements are the steps a PRM should see, not the whole def as one step
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and sum(
                isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in body) == 1:
            for stmt in node.body:
                if stmt.lineno - 1 > first - 1:
                    starts.append(stmt.lineno - 1)
    return sorted(set(starts))


def split_code_steps(code: str) -> list[str]:
    """Split a program into steps at statement starts; `"\\n".join(steps) == code`.

    Comment and blank lines stay with the statement above them (a leading comment block is its own
    step). Unparsable code falls back to one step per line.
    """
    if code == "":
        return []
    lines = code.split("\n")
    starts = _statement_lines(code)
    if starts is None:
        return lines
    starts = [s for s in starts if 0 < s < len(lines)]
    bounds = [0] + starts + [len(lines)]
    return ["\n".join(lines[a:b]) for a, b in zip(bounds, bounds[1:]) if b > a]
