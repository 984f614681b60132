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

Adapters never coerce: a value the format does not define (a string where a bool belongs, a soft
label outside [0, 1], a float where the format has only +/-) is an error, never a guess. And every
written row is read back through the same format's reader before it is written: the record must
come back as the format's `held(rec)` says (the record itself, or for a format that holds less, such
as ProcessBench's first error only, that projection), else the record is refused. So no writer can
emit a file its own reader rejects or reads differently.

| format         | read | write | options |
|----------------|------|-------|---------|
| stepwise       | yes  | yes   | (TRL format; extra columns kept) |
| prm800k        | yes  |       | neutral = negative / positive / unlabeled |
| math-shepherd  | yes  | yes   | threshold (write: a float above it is "+"; unset: floats refused), step_markers |
| openrlhf       | yes  | yes   | step_markers (input with step tags, value = "+"/"-" or floats) |
| math-aps       | yes  |       | label = soft / hard |
| processbench   | yes  | yes   | after_error = unlabeled / incorrect |
| prmbench       | yes  |       | process = modified / original |
| birm           | yes  |       | labels = step_h_label / step_s_label / step_labels |
"""

from __future__ import annotations

import inspect
import json
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

# What a written record reads back as, for the formats that hold less than the record (or change
# it on request: thresholds, step markers); every other writer must give the record itself back.
HELD = {
    "math-shepherd": math_shepherd.held,
    "openrlhf": openrlhf.held,
    "processbench": processbench.held,
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
                located: bool = False, **opts) -> Iterator:
    """The records of a file in format `name`; with `located`, (where, record) pairs ('file:line')."""
    fn = _check(name, READERS, "read", opts)

    def convert(where, row):
        try:
            return [(where, rec) for rec in fn(row, where, **opts)]
        except ValueError as err:  # an option value the adapter refuses
            if isinstance(err, RecordError):
                raise
            raise UserError(str(err)) from None

    for recs in convert_rows(iter_rows(path), convert, skip_bad=skip_bad, stats=stats):
        yield from (recs if located else (rec for _, rec in recs))


def _bare(err: RecordError) -> str:
    """The message of a RecordError raised with no `where`, without its "field 'x': " prefix."""
    text = str(err)
    prefix = f"field '{err.field}': " if err.field else ""
    return text[len(prefix):] if text.startswith(prefix) else text


def _difference(want: StepwiseRecord, got: StepwiseRecord) -> tuple[str, str] | None:
    """(field, what differs) between two records' text and labels (True is not 1.0), or None."""
    if want.prompt != got.prompt:
        return "prompt", f"would read back as {got.prompt[:60]!r}"
    if len(want.completions) != len(got.completions):
        return "completions", f"{len(want.completions)} steps would read back as {len(got.completions)}"
    for i, (a, b) in enumerate(zip(want.completions, got.completions)):
        if a != b:
            return "completions", f"step {i} {a[:40]!r} would read back as {b[:40]!r}"
    for i, (a, b) in enumerate(zip(want.labels, got.labels)):
        if type(a) is not type(b) or a != b:
            return "labels", f"step {i}'s label {a!r} would read back as {b!r}"
    return None


def _is_json(value) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def checked_row(name: str, rec: StepwiseRecord, **opts) -> dict:
    """WRITERS[name](rec) after proving it reads back (see the module docstring); else RecordError."""
    row = WRITERS[name](rec, **opts)
    reader = READERS[name]
    try:  # through JSON, as a file would: NaN, Infinity and objects JSON cannot hold are refused here
        row = json.loads(json.dumps(row, ensure_ascii=False, allow_nan=False))
        (back,) = reader(row, "", **{k: v for k, v in opts.items() if k in options_of(reader)})
    except RecordError as err:
        raise RecordError(f"would not read back as {name}: {_bare(err)}", field=err.field) from None
    except (TypeError, ValueError) as err:
        bad = next((k for k, v in row.items() if not _is_json(v)), None)
        raise RecordError(f"cannot be written as JSON: {err}", field=bad) from None
    diff = _difference(HELD[name](rec, **opts) if name in HELD else rec, back)
    if diff:
        raise RecordError(f"{name} cannot hold this record unchanged: {diff[1]}", field=diff[0])
    return row


def write_format(name: str, records: Iterable, path: str | Path, *, skip_bad: bool = False,
                 stats: ReadStats | None = None, located: bool = False, **opts) -> int:
    """Write records atomically; a record the format cannot hold raises (or is counted with skip_bad).
    With `located`, `records` are (where, record) pairs and an error names the record's input line."""
    _check(name, WRITERS, "write", opts)

    def rows():
        for k, item in enumerate(records):
            where, rec = item if located else (None, item)
            try:
                yield checked_row(name, rec, **opts)
            except RecordError as err:
                what = f"record {k}, {rec.extra.get('sample_id', 'no sample_id')}"
                err = RecordError(f"cannot be written as {name}: {_bare(err)}",
                                  where=f"{where} ({what})" if where else what, field=err.field)
                if not skip_bad:
                    raise err from None
                if stats is not None:
                    stats.note(err)

    return write_jsonl_atomic(path, rows())
