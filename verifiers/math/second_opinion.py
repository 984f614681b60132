"""math-verify as a second opinion where our ladder says "not equal" without settling it (issue 25).

Runs ONLY inside the sympy worker (`_worker.py`, op `second_opinion`), under its hard timeout:
math-verify's own timeouts are `signal.alarm`, which fails outside the main thread, so both are
turned off here (`parsing_timeout=None`, `timeout_seconds=None`) and the worker's timer and kill
bound the work instead.

What it sees: the answers we read (our extraction of the response, our reading of the gold), each
put in `$...$` unless already delimited; never the whole response, so a response listing several
candidates cannot win through math-verify picking another one. It can only turn our False (or
"can't tell") into True, and only where ours is not settled (`grader._settled`): a prediction listing
more answers than the gold, interval ends, a set for a tuple, bases, exact numbers on both sides,
an equation against a bare value (`x + y = 4` vs `4`), multisets (`1, 1, 2` vs `1, 2, 2`: it merges
duplicates) and a "not equal" from our sympy rung (it reads `a+2c` and `a+2d` as equal) all stand.

math-verify (Apache-2.0) is a dependency of the toolkit; if it is missing the answer is None
("no second opinion") and our verdict stands.
"""

from __future__ import annotations

import logging

_DELIMITED = ("$", "\\(", "\\[", "\\boxed", "\\fbox")


def _delimited(s: str) -> str:
    s = s.strip()
    return s if s.startswith(_DELIMITED) else f"${s}$"


def equal(gold: str, pred: str) -> bool | None:
    """math-verify's `verify(parse(gold), parse(pred))` with its signal timeouts off; None when it is
    not installed or cannot read one of the two answers."""
    try:
        from math_verify import parse, verify
    except ImportError:
        return None
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)  # it logs every parse failure
    g = parse(_delimited(gold), parsing_timeout=None)
    p = parse(_delimited(pred), parsing_timeout=None)
    if not g or not p:
        return None
    return bool(verify(g, p, timeout_seconds=None))
