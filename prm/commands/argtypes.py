"""Argument types that refuse bad values at parse time: counts, finite numbers, escaped text.

Every numeric and text flag of every command goes through one of these as its argparse `type=`,
so a bad value is a one-line usage error (exit 2) before any file is read or model loaded, never
a run that silently does nothing (`--batch-size -1` writing an empty output, `--timeout nan`
failing every program, `--limit -1` dropping the last problem).

    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--timeout", type=positive_float, default=10.0)
    p.add_argument("--sep", type=escaped_text, default="\\\\n\\\\n")

`escaped_text` reads backslash escapes the way Python string literals do ("\\\\n" is a newline)
and leaves every other character alone: `--sep ки` stays `ки` (`str.encode().decode(
"unicode_escape")` reads UTF-8 bytes as Latin-1 and mangles it), and a dangling backslash is a
usage error, not a traceback.
"""

from __future__ import annotations

import argparse
import math
import warnings


def _number(kind, text: str):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                         f"got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _bounded(kind, name: str, ok, what: str):
    def parse(text: str):
        value = _number(kind, text)
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value
    parse.__name__ = name  # argparse names the type in its messages
    return parse


def finite_float(text: str) -> float:
    return _number(float, text)


positive_int = _bounded(int, "positive_int", lambda v: v >= 1, "at least 1")
nonneg_int = _bounded(int, "nonneg_int", lambda v: v >= 0, "0 or more")
positive_float = _bounded(float, "positive_float", lambda v: v > 0, "a positive number")
nonneg_float = _bounded(float, "nonneg_float", lambda v: v >= 0, "0 or more")
fraction = _bounded(float, "fraction", lambda v: 0 < v <= 1, "in (0, 1]")          # top-p, GPU memory share
open_fraction = _bounded(float, "open_fraction", lambda v: 0 < v < 1, "in (0, 1)")  # a probability threshold
unit_float = _bounded(float, "unit_float", lambda v: 0 <= v <= 1, "in [0, 1]")


def at_least(low: int):
    """An integer >= `low` (e.g. a memory limit in MB)."""
    return _bounded(int, f"int>={low}", lambda v: v >= low, f"at least {low}")


def escaped_text(text: str) -> str:
    """Backslash escapes (\\n, \\t, \\\\, \\u043a, ...) decoded; every other character kept as typed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)  # an unknown escape (\\d) is a mistake, not text
            # non-ASCII becomes \\uXXXX first, so the escape decoder sees only ASCII and gives it back unchanged
            return text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except (UnicodeDecodeError, DeprecationWarning) as e:
        why = e.reason if isinstance(e, UnicodeDecodeError) else str(e).rsplit("Warning: ", 1)[-1].rstrip(")")
        raise argparse.ArgumentTypeError(f"bad backslash escape in {text!r} ({why}); "
                                         f"write a backslash itself as \\\\") from None


def separator(text: str) -> str:
    """A non-empty `escaped_text` (an empty step separator would split nothing, or everything)."""
    value = escaped_text(text)
    if not value:
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def shown_escaped(value: str) -> str:
    """The inverse of `escaped_text` for --help defaults: "\\n\\n" shows as \\\\n\\\\n, non-ASCII as itself."""
    return "".join(c if c.isprintable() or not c.isascii() else c.encode("unicode_escape").decode() for c in
                   value.replace("\\", "\\\\"))
