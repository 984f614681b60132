"""Helpers shared by the format adapters: field access with file:line errors, ids, first errors."""

from __future__ import annotations

import hashlib
from typing import Any

from prm.errors import RecordError


def need(row: dict, name: str, types: type | tuple, where: str) -> Any:
    """row[name], which must exist and have one of `types` (bool is not accepted as a number)."""
    if not isinstance(row, dict):
        raise RecordError(f"expected a JSON object, got {type(row).__name__}", where=where)
    if name not in row or row[name] is None:
        raise RecordError("missing required field", where=where, field=name)
    v = row[name]
    types_t = types if isinstance(types, tuple) else (types,)
    if (isinstance(v, bool) and bool not in types_t) or not isinstance(v, types_t):
        names = " or ".join(t.__name__ for t in types_t)
        raise RecordError(f"expected {names}, got {type(v).__name__}", where=where, field=name)
    return v


def str_list(row: dict, name: str, where: str) -> list[str]:
    v = need(row, name, list, where)
    for i, s in enumerate(v):
        if not isinstance(s, str):
            raise RecordError(f"item {i} is {type(s).__name__}, expected str", where=where, field=name)
    return v


def text_id(*parts: str) -> str:
    h = hashlib.sha1()
    for p in parts:
        h.update(p.encode("utf-8") + b"\x00")
    return h.hexdigest()[:12]


def first_error_of(labels: list) -> int | None:
    """First incorrect step (False or 0.0); -1 when every step is labeled correct; None when some
    step is unlabeled before any incorrect one (the first error is then unknown)."""
    for i, v in enumerate(labels):
        if v is None:
            return None
        if v is False or (not isinstance(v, bool) and float(v) == 0.0):
            return i
    return -1
