"""Sympy equivalence of two answer elements. Runs ONLY inside the worker process (`_worker.py`),
where a hard timeout guards it; importing this module imports sympy and latex2sympy2_extended.

LaTeX is parsed by latex2sympy2_extended (a maintained parser), never by `eval`/`parse_expr`.
The comparison ladder for two parsed objects `g` (gold) and `p` (prediction):

1. structurally equal -> True;
2. matrices: same shape and equal entries;
3. relations: two equations are equal when `lhs - rhs` of one is a nonzero constant multiple of the
   other's (`y = 2x + 3` ~ `2x - y + 3 = 0`); an assignment `x = v` compares by `v`; a
   one-variable inequality (or chain) is turned into its solution set, so `x > 3` ~ `(3, \\infty)`
   (but not against a gold `(1, 2)`, which may be a point); `f(x) = ...` ~ `y = ...` by right sides;
4. sets: finite sets as multisets (element-wise ladder), intervals by endpoints and open/closed
   ends, anything else by an empty symmetric difference;
5. numbers: relative difference <= `tol` (1e-12 between exact values, 1e-6 when either side was
   written with a decimal point), evaluated with 30 significant digits; a prediction showing 4 or
   more decimals that is the exact gold rounded (`3.1416` for `\\pi`) is equal too;
6. expressions with variables: compared at fixed pseudo-random points (complex arithmetic, so
   `sqrt(x^2)` vs `x` differ at a negative point); any disagreement -> False, agreement at every
   usable point -> True, no usable point -> `simplify(g - p) == 0` or "can't tell".
"""

from __future__ import annotations

import functools
import re

import sympy
from latex2sympy2_extended import latex2sympy
from latex2sympy2_extended.math_normalization import NormalizationConfig
from sympy import Basic, MatrixBase
from sympy.core.function import AppliedUndef

from verifiers.math.grader import MIN_ROUNDED_DECIMALS, fast_element, ladder, shown_decimals
from verifiers.math.normalize import Clean, text_key
from verifiers.math.arith import decimals, rounds_to

# `units` is off on purpose: its unit list contains one-letter names (c, d, m, s, t, ...) and would
# turn `a+2c` into `a+2`. Units are handled by normalize.clean, on both sides.
_NORM = NormalizationConfig(basic_latex=True, units=False, malformed_operators=True, nits=False,
                            boxed="none", equations=False)
_PROBES = [
    (0.5377, -1.3499, 3.5784, 2.7694, -1.3077, 3.0349),
    (-0.8637, 0.0774, -1.2141, -1.1135, -0.0068, 1.5326),
    (1.4193, 0.2916, 0.1978, 1.5877, -0.8045, 0.6966),
    (-2.2588, 0.8351, -0.7223, 2.5855, -0.6669, 0.1873),
]


@functools.lru_cache(maxsize=8192)
def parse(text: str):
    """The sympy object for one answer element, or None when it cannot be parsed."""
    s = text.replace("**", "^")
    s = re.sub(r"(?<![\\A-Za-z])(pi|sqrt|infty)\b", r"\\\1", s)
    s = re.sub(r"^\s*[A-Za-z]\s*\\in\s*", "", s)  # x \in [1, 2] -> [1, 2]
    try:
        obj = latex2sympy(s, normalization_config=_NORM)
    except Exception:
        return None
    if isinstance(obj, (Basic, MatrixBase)):
        try:
            obj = obj.doit()
        except Exception:
            pass
        return obj
    return None


def _finite(z) -> bool:
    return z == z and abs(z) != float("inf")


def _num_close(a, b, tol: float) -> bool | None:
    try:
        da, db = sympy.N(a, 30), sympy.N(b, 30)
    except Exception:
        return None
    if not (getattr(da, "is_number", False) and getattr(db, "is_number", False)):
        return None
    if da == db:
        return True
    if any(x.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan) for x in (da, db)):
        return False
    scale = sympy.Max(sympy.Abs(da), sympy.Abs(db))
    if scale == 0:
        return True
    rel = sympy.N(sympy.Abs(da - db) / scale, 15)
    if not rel.is_number:
        return None
    return bool(rel <= tol)


def _probe(a, b, tol: float) -> bool | None:
    syms = sorted(a.free_symbols | b.free_symbols, key=str)
    if len(syms) > len(_PROBES[0]):
        return None
    usable = 0
    for point in _PROBES:
        subs = {s: v for s, v in zip(syms, point)}
        try:
            va = complex(a.evalf(20, subs=subs))
            vb = complex(b.evalf(20, subs=subs))
        except Exception:
            continue
        if not (_finite(va) and _finite(vb)):
            continue
        usable += 1
        if abs(va - vb) > max(tol, 1e-9) * max(abs(va), abs(vb), 1.0):
            return False
    if usable >= 2:
        return True
    try:
        return True if sympy.simplify(a - b) == 0 else None
    except Exception:
        return None


def _proportional(d1, d2) -> bool | None:
    """Is d1 = c * d2 for a nonzero constant c (equations moved around)?"""
    syms = sorted(d1.free_symbols | d2.free_symbols, key=str)
    ratios = []
    for point in _PROBES:
        subs = {s: v for s, v in zip(syms, point)}
        try:
            v1, v2 = complex(d1.evalf(20, subs=subs)), complex(d2.evalf(20, subs=subs))
        except Exception:
            continue
        if not (_finite(v1) and _finite(v2)) or abs(v2) < 1e-12:
            continue
        ratios.append(v1 / v2)
    if len(ratios) < 2:
        return None
    r0 = ratios[0]
    return abs(r0) > 1e-12 and all(abs(r - r0) <= 1e-9 * max(abs(r0), 1.0) for r in ratios)


def _as_set(obj):
    """A one-variable relation (or chain) as its solution set over the reals, else None. A relation
    on one function value (`2 < g(x) < 5`) is a relation on that value: the set (2, 5)."""
    if isinstance(obj, (sympy.core.relational.Relational, sympy.And, sympy.Or)) \
            and len(calls := obj.atoms(AppliedUndef)) == 1:
        obj = obj.xreplace({calls.pop(): sympy.Symbol("_value", real=True)})
    if isinstance(obj, (sympy.core.relational.Relational, sympy.And, sympy.Or)) \
            and not isinstance(obj, sympy.Eq) and len(obj.free_symbols) == 1:
        try:
            return obj.as_set()
        except Exception:
            return None
    return None


def _undefined(x) -> bool:
    try:
        return bool(x.has(sympy.zoo, sympy.nan))
    except Exception:
        return False


def sym_equal(g, p, tol: float) -> bool | None:
    if _undefined(g) or _undefined(p):
        return None  # `12:00` read as 12/0: undefined values are never "equal"
    if g == p:
        return True
    if isinstance(g, MatrixBase) or isinstance(p, MatrixBase):
        if not (isinstance(g, MatrixBase) and isinstance(p, MatrixBase)) or g.shape != p.shape:
            return False
        results = [sym_equal(x, y, tol) for x, y in zip(g, p)]
        return False if False in results else (None if None in results else True)
    if isinstance(g, sympy.Eq) and isinstance(p, sympy.Eq):
        p = _same_variable(g, p)
        if _function_as_y(g, p):
            return sym_equal(g.rhs, p.rhs, tol)
        if sym_equal(g.lhs, p.lhs, tol) is True:  # the same left side: the right sides decide
            rhs = sym_equal(g.rhs, p.rhs, tol)
            if rhs is not None:
                return rhs
        return _proportional(g.lhs - g.rhs, p.lhs - p.rhs)
    for a, b in ((g, p), (p, g)):
        if isinstance(a, sympy.Eq) and not isinstance(b, (sympy.Eq, sympy.core.relational.Relational)):
            # `x = v` and `f(x) = v` (a named value or function) compare by `v`
            if isinstance(a.lhs, (sympy.Symbol, AppliedUndef)):
                return sym_equal(a.rhs, b, tol) if a is g else sym_equal(g, a.rhs, tol)
            if isinstance(a.rhs, sympy.Symbol):
                return sym_equal(a.lhs, b, tol) if a is g else sym_equal(g, a.lhs, tol)
            return False
    gs, ps = _as_set(g), _as_set(p)
    if ps is not None and gs is None and _maybe_a_point(g):
        return False  # gold `(1, 2)` may be a point: a relation `1 < x < 2` does not answer it
    if gs is not None or ps is not None:
        return sym_equal(gs if gs is not None else g, ps if ps is not None else p, tol)
    if isinstance(g, sympy.Set) or isinstance(p, sympy.Set):
        return _set_equal(g, p, tol)
    if isinstance(g, (sympy.core.relational.Relational, sympy.And, sympy.Or)) or \
            isinstance(p, (sympy.core.relational.Relational, sympy.And, sympy.Or)):
        return False if type(g) is not type(p) else _probe_relations(g, p)
    if isinstance(g, sympy.Tuple) or isinstance(p, sympy.Tuple):
        if not (isinstance(g, sympy.Tuple) and isinstance(p, sympy.Tuple)) or len(g) != len(p):
            return False
        results = [sym_equal(x, y, tol) for x, y in zip(g, p)]
        return False if False in results else (None if None in results else True)
    if not (isinstance(g, sympy.Expr) and isinstance(p, sympy.Expr)):
        return None
    if not g.free_symbols and not p.free_symbols:
        return _num_close(g, p, tol)
    return _probe(g, p, tol)


def _maybe_a_point(g) -> bool:
    """Is the gold an open interval with two finite ends, which `(1, 2)` also spells as a point?"""
    return isinstance(g, sympy.Interval) and g.left_open and g.right_open \
        and bool(g.start.is_finite) and bool(g.end.is_finite)


def _function_as_y(a, b) -> bool:
    """`f(x) = ...` on one side and `y = ...` in x on the other: the same function written two ways."""
    for fa, ya in ((a, b), (b, a)):
        if isinstance(fa.lhs, AppliedUndef) and len(fa.lhs.args) == 1 and isinstance(fa.lhs.args[0], sympy.Symbol) \
                and isinstance(ya.lhs, sympy.Symbol) and ya.lhs.name == "y" \
                and ya.rhs.free_symbols <= {fa.lhs.args[0]} and fa.rhs.free_symbols <= {fa.lhs.args[0]}:
            return True
    return False


def _same_variable(g, p):
    """`f(y) = 1` read as `f(x) = 1` when the gold defines the same one-argument function of x."""
    gl, pl = g.lhs, p.lhs
    if isinstance(gl, AppliedUndef) and isinstance(pl, AppliedUndef) and gl.func == pl.func \
            and len(gl.args) == len(pl.args) == 1 and all(isinstance(a, sympy.Symbol) for a in gl.args + pl.args) \
            and gl.args[0] not in p.rhs.free_symbols:  # `f(y) = x^2` is constant in y: no renaming
        return p.xreplace({pl.args[0]: gl.args[0]})
    return p


def _probe_relations(g, p) -> bool | None:
    if isinstance(g, (sympy.And, sympy.Or)):
        return None
    flipped = {sympy.Gt: sympy.Lt, sympy.Lt: sympy.Gt, sympy.Ge: sympy.Le, sympy.Le: sympy.Ge}
    if type(g) is type(p):
        return _proportional(g.lhs - g.rhs, p.lhs - p.rhs) or None
    if flipped.get(type(g)) is type(p):
        return _proportional(g.lhs - g.rhs, p.rhs - p.lhs) or None
    return False


def _set_equal(g, p, tol: float) -> bool | None:
    if not (isinstance(g, sympy.Set) and isinstance(p, sympy.Set)):
        return False
    if isinstance(g, sympy.FiniteSet) and isinstance(p, sympy.FiniteSet):
        gl, pl = list(g.args), list(p.args)
        if len(gl) != len(pl):
            return False
        unknown = False
        for x in gl:
            for j, y in enumerate(pl):
                r = sym_equal(x, y, tol)
                if r is True:
                    pl.pop(j)
                    break
                unknown |= r is None
            else:
                return None if unknown else False
        return True
    if isinstance(g, sympy.Interval) and isinstance(p, sympy.Interval):
        if g.left_open != p.left_open or g.right_open != p.right_open:
            return False
        ends = [sym_equal(g.start, p.start, tol), sym_equal(g.end, p.end, tol)]
        return False if False in ends else (None if None in ends else True)
    if isinstance(g, sympy.Union) and isinstance(p, sympy.Union) and len(g.args) == len(p.args):
        results = [_set_equal(x, y, tol) for x, y in zip(g.args, p.args)]
        if all(r is True for r in results):
            return True
    try:
        diff = g.symmetric_difference(p)
        if diff == sympy.S.EmptySet:
            return True
        if isinstance(diff, (sympy.Interval, sympy.FiniteSet, sympy.Union)):
            return False
    except Exception:
        pass
    return None


def symbolic_element(g: str, p: str, g_pct: bool, p_pct: bool) -> tuple[bool | None, str]:
    """Ladder element comparison with sympy (after the exact fast path has had its say)."""
    fast = fast_element(g, p, g_pct, p_pct)
    if fast[0] is not None:
        return fast
    go, po = parse(g), parse(p)
    if go is None:
        if text_key(g) == text_key(p):
            return True, "same text"
        return None, "gold could not be parsed"
    if po is None:
        if text_key(g) == text_key(p):
            return True, "same text"
        return False, "prediction could not be parsed"
    tol = 1e-6 if ("." in g or "." in p) else 1e-12
    gold_readings = [go] + ([go / 100] if g_pct and isinstance(go, sympy.Expr) else [])
    pred_readings = [po] + ([po / 100] if p_pct and isinstance(po, sympy.Expr) else [])
    unknown = False
    for a in gold_readings:
        for b in pred_readings:
            r = sym_equal(a, b, tol)
            if r is True:
                return True, "symbolically equal"
            unknown |= r is None
    d = decimals(g.strip().lstrip("-"))
    if d is not None and isinstance(po, sympy.Expr) and not po.free_symbols and isinstance(go, sympy.Expr):
        try:
            pv = sympy.Rational(str(sympy.N(po, 30)))
            if rounds_to(pv, sympy.Rational(str(go)), d):
                return True, f"prediction rounds to the gold's {d} decimals"
        except Exception:
            pass
    dp = shown_decimals(p)
    if dp is not None and dp >= MIN_ROUNDED_DECIMALS and isinstance(go, sympy.Expr) and not go.free_symbols \
            and isinstance(po, sympy.Expr) and not po.free_symbols:
        try:  # `3.1416` for `\\pi`: the exact gold, rounded to the places the prediction shows
            if rounds_to(sympy.Rational(str(sympy.N(go, 40))), sympy.Rational(p.strip().replace(",", "")), dp):
                return True, f"the gold rounded to the prediction's {dp} decimals"
        except Exception:
            pass
    if unknown:
        return None, "sympy could not decide"
    return False, "not equal"


def verify_clean(g_text: str, g_pct: bool, p_text: str, p_pct: bool) -> list:
    correct, reason = ladder(Clean(g_text, g_pct), Clean(p_text, p_pct), symbolic_element)
    return [correct, reason]


def cache_clear() -> bool:
    parse.cache_clear()
    return True


def second_opinion(gold: str, pred: str) -> bool | None:
    from verifiers.math.second_opinion import equal

    return equal(gold, pred)


OPS = {"verify": verify_clean, "parse": lambda s: str(parse(s)), "cache_clear": cache_clear,
       "second_opinion": second_opinion}
