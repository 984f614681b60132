"""Helpers shared by the format adapters: field access with file:line errors, ids, first errors."""

from __future__ import annotations

import hashlib
from typing import Any

from prm.errors import RecordError
from prm.records import _need, _str_list


def _object(row: Any, where: str) -> dict:
    if not isinstance(row, dict):
        raise RecordError(f"expected a JSON object, got {type(row).__name__}", where=where)
    return row


def need(row: dict, name: str, types: type | tuple, where: str) -> Any:
    """row[name], which must exist and have one of `types` (bool is not accepted as a number);
    the same field check as the data contract's records."""
    return _need(_object(row, where), name, types, where)


def str_list(row: dict, name: str, where: str) -> list[str]:
    return _str_list(_object(row, where), name, where)


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
