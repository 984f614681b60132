"""A local data file as (where, row) pairs: JSONL (also .gz), a JSON list, or parquet.

What both the format adapters (`prm convert`) and the benchmark loaders (`prm.loaders`) read, so it
sits below both. `where` is 'file:line' for JSONL and 'file:[index]' otherwise. JSONL goes through
the toolkit's one JSONL reader (`prm.records.iter_jsonl`): a line that is not a JSON object comes
back as its RecordError in place of the row, for `convert_rows` to stop on or count. A file that
cannot be read at all (not gzip, not UTF-8 JSON) raises UserError.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Iterator

from prm.errors import UserError
from prm.records import iter_jsonl


def iter_rows(path: str | Path) -> Iterator[tuple[str, Any]]:
    """Yield (where, row) from a local file (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"no such file: {path}")
    name = path.name.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq  # comes with `datasets`

        for i, row in enumerate(pq.read_table(path).to_pylist()):
            yield f"{path}:[{i}]", row
        return
    try:
        if (name[:-3] if name.endswith(".gz") else name).endswith(".json"):
            for i, row in enumerate(_json_list(path)):
                yield f"{path}:[{i}]", row
            return
        for lineno, row in iter_jsonl(path, errors="yield"):
            yield f"{path}:{lineno}", row
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as e:
        raise UserError(f"{path}: cannot read ({type(e).__name__}: {e})") from None


def _json_list(path: Path) -> list:
    """A .json file's rows: a list, {"data": [...]}, or one object (one MATH problem per file)."""
    with (gzip.open if path.name.lower().endswith(".gz") else open)(path, "rt", encoding="utf-8") as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as e:
            raise UserError(f"{path}:{e.lineno}: invalid JSON ({e.msg} at column {e.colno})") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a JSON list of objects, got {type(data).__name__}")
    return data
