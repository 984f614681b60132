"""Helpers shared by the format adapters: field access with file:line errors, ids, first errors.

The field checks are the data contract's own (`prm.records`) and the first-error rule is
`prm.first_error`'s, so a foreign row is held to the same rules as one of our records."""

from __future__ import annotations

import hashlib

from prm.first_error import first_error_of  # noqa: F401  (the adapters' `first_error` column)
from prm.records import need, str_list  # noqa: F401  (row[name] with a FILE:LINE: field error)


def text_id(*parts: str) -> str:
    h = hashlib.sha1()
    for p in parts:
        h.update(p.encode("utf-8") + b"\x00")
    return h.hexdigest()[:12]
