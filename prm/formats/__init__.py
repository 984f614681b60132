"""Adapters between foreign step-labeled formats and our stepwise records.

    from prm.formats import read_format, write_format
    records = read_format("math-shepherd", "samples_math-shepherd.jsonl")
    write_format("stepwise", records, "out.jsonl")

Each adapter is one module with a pure `from_row(row, where, **options) -> [StepwiseRecord]`
(one foreign row may give several records: BiRM has 15 responses per row, Math-APS a tree of
prefixes) and, where it can be written, `to_row(record, **options) -> dict`. Dispatch is the two
dict literals below. Files are read with `prm.formats.files.iter_rows` (JSONL, a JSON list, .gz,
.parquet), streamed where the format allows. Bad rows raise `RecordError` naming file:line and
field, or with `skip_bad=True` are counted in `ReadStats` and reported by the caller.

| format         | read | write | options |
|----------------|------|-------|---------|
| stepwise       | yes  | yes   | (TRL format; extra columns kept) |
| prm800k        | yes  |       | neutral = negative / positive / unlabeled |
| math-shepherd  | yes  | yes   | threshold (write: float label > threshold is "+") |
| openrlhf       | yes  | yes   | (input with step tags, value = "+"/"-" or floats) |
| math-aps       | yes  |       | label = soft / hard |
| processbench   | yes  | yes   | after_error = unlabeled / incorrect |
| prmbench       | yes  |       | process = modified / original |
| birm           | yes  |       | labels = step_h_label / step_s_label / step_labels |
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Iterable, Iterator

from prm.errors import RecordError, UserError
from prm.formats import birm, math_aps, math_shepherd, openrlhf, prm800k, prmbench, processbench, stepwise
from prm.formats.files import iter_rows
from prm.records import ReadStats, StepwiseRecord, convert_rows, write_jsonl_atomic

READERS = {
    "stepwise": stepwise.from_row,
    "prm800k": prm800k.from_row,
    "math-shepherd": math_shepherd.from_row,
    "openrlhf": openrlhf.from_row,
    "math-aps": math_aps.from_row,
    "processbench": processbench.from_row,
    "prmbench": prmbench.from_row,
    "birm": birm.from_row,
}

WRITERS = {
    "stepwise": stepwise.to_row,
    "math-shepherd": math_shepherd.to_row,
    "openrlhf": openrlhf.to_row,
    "processbench": processbench.to_row,
}


def options_of(fn) -> set[str]:
    """The keyword options an adapter function accepts (beyond row/record and where)."""
    return {p for p in inspect.signature(fn).parameters if p not in ("row", "where", "rec")}


def _check(name: str, table: dict, what: str, opts: dict):
    if name not in table:
        raise UserError(f"cannot {what} format {name!r}; formats: {', '.join(table)}")
    fn = table[name]
    unknown = set(opts) - options_of(fn)
    if unknown:
        raise UserError(f"option(s) {', '.join(sorted(unknown))} do not apply when {what}ing {name!r}"
                        f" (it takes: {', '.join(sorted(options_of(fn))) or 'none'})")
    return fn


def read_format(name: str, path: str | Path, *, skip_bad: bool = False, stats: ReadStats | None = None,
                **opts) -> Iterator[StepwiseRecord]:
    fn = _check(name, READERS, "read", opts)

    def convert(where, row):
        try:
            return fn(row, where, **opts)
        except ValueError as err:  # an option value the adapter refuses
            if isinstance(err, RecordError):
                raise
            raise UserError(str(err)) from None

    for recs in convert_rows(iter_rows(path), convert, skip_bad=skip_bad, stats=stats):
        yield from recs


def write_format(name: str, records: Iterable[StepwiseRecord], path: str | Path, *, skip_bad: bool = False,
                 stats: ReadStats | None = None, **opts) -> int:
    """Write records atomically; a record the format cannot hold raises (or is counted with skip_bad)."""
    fn = _check(name, WRITERS, "write", opts)

    def rows():
        for k, rec in enumerate(records):
            try:
                yield fn(rec, **opts)
            except RecordError as err:
                err = RecordError(f"record {k} ({rec.extra.get('sample_id', 'no sample_id')}): {err}")
                if not skip_bad:
                    raise err from None
                if stats is not None:
                    stats.note(err)

    return write_jsonl_atomic(path, rows())
