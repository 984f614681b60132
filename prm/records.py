"""The data contract: problems, samples and stepwise records, and their JSONL files.

Three record kinds move through the pipeline, one JSON object per line:

- `Problem`  -- what a policy is asked to solve (math: a gold answer; code: unit tests).
- `Sample`   -- one generated solution to a problem, split into steps.
- `StepwiseRecord` -- TRL's stepwise format (ANCHORS.md), so existing datasets load unchanged:
  `{"prompt": str, "completions": [step, ...], "labels": [bool | float | null, ...], ...extra}`.
  True / 1.0 = the step is correct. `null` = the step was not judged (no loss on it). Every other
  key is an extra column (`mc_values`, `n_rollouts`, `first_error`, `provenance`, `domain`, ids)
  and is kept on a round trip.

Files are plain JSONL so `datasets.load_dataset("json", data_files=...)` reads them with no custom
loader. Arrow wants one type per column, so a file should use one label type (bool or float)
throughout; `None` mixes with either.

Reading: a malformed line raises `RecordError` naming file, line and field. With `skip_bad=True`
bad lines are skipped and counted in a `ReadStats` instead (the caller reports the count).

Writing: `write_jsonl_atomic` writes a temp file and renames it over the target, so a crash leaves
either the old file or the complete new one. `JsonlAppender` appends one record per line and
flushes each, and on open cuts off a torn last line left by a crash, so a resumed run never reads a
half-written record as complete.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from prm.errors import RecordError

DOMAINS = ("math", "code")
TEST_FORMATS = ("humaneval", "mbpp", "stdio")


# ----------------------------------------------------------------------------- field checks
def _need(d: dict, name: str, types: type | tuple, where: str, *, optional: bool = False):
    if name not in d or d[name] is None:
        if optional:
            return None
        raise RecordError("missing required field", where=where, field=name)
    value = d[name]
    # bool is an int subclass: refuse it where a number or string is wanted, accept it where asked
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise RecordError(f"expected {_tname(types)}, got bool", where=where, field=name)
    if not isinstance(value, types):
        raise RecordError(f"expected {_tname(types)}, got {type(value).__name__}", where=where, field=name)
    return value


def _tname(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join(t.__name__ for t in types)


def _str_list(d: dict, name: str, where: str) -> list[str]:
    value = _need(d, name, list, where)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise RecordError(f"item {i} is {type(item).__name__}, expected str", where=where, field=name)
    return value


def _label(value: Any, i: int, where: str) -> bool | float | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        # soft labels (MC values) are probabilities; keep floats as floats (TRL's int() cast is a known bug)
        v = float(value)
        if math.isnan(v) or not 0.0 <= v <= 1.0:
            raise RecordError(f"item {i} is {value!r}, outside [0, 1]", where=where, field="labels")
        return v if isinstance(value, float) else bool(value) if value in (0, 1) else v
    raise RecordError(f"item {i} is {type(value).__name__}, expected bool, float or null", where=where, field="labels")


# ----------------------------------------------------------------------------- records
@dataclass
class Problem:
    """A task. Math problems carry `answer`; code problems carry `tests` (+ `entry_point`, `test_format`).

    `tests` by `test_format`: "humaneval" -> a test program (str) defining `check(candidate)`;
    "mbpp" -> a list of assert lines (imports in `setup`); "stdio" -> a list of {"input", "output"}.
    """

    id: str
    domain: str
    question: str
    answer: str | None = None
    tests: Any = None
    entry_point: str | None = None
    test_format: str | None = None
    setup: str | None = None
    metadata: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict, where: str = "") -> "Problem":
        if not isinstance(d, dict):
            raise RecordError(f"expected a JSON object, got {type(d).__name__}", where=where)
        pid = _need(d, "id", (str, int), where)
        domain = _need(d, "domain", str, where)
        if domain not in DOMAINS:
            raise RecordError(f"must be one of {DOMAINS}, got {domain!r}", where=where, field="domain")
        question = _need(d, "question", str, where)
        p = cls(id=str(pid), domain=domain, question=question,
                metadata=_need(d, "metadata", dict, where, optional=True) or {})
        if domain == "math":
            ans = _need(d, "answer", (str, int, float), where)
            p.answer = str(ans)
        else:
            fmt = _need(d, "test_format", str, where)
            if fmt not in TEST_FORMATS:
                raise RecordError(f"must be one of {TEST_FORMATS}, got {fmt!r}", where=where, field="test_format")
            p.test_format = fmt
            if fmt == "humaneval":
                p.tests = _need(d, "tests", str, where)
                p.entry_point = _need(d, "entry_point", str, where)
            elif fmt == "mbpp":
                p.tests = _str_list(d, "tests", where)
                p.entry_point = _need(d, "entry_point", str, where, optional=True)
            else:
                tests = _need(d, "tests", list, where)
                for i, t in enumerate(tests):
                    if not (isinstance(t, dict) and isinstance(t.get("input"), str) and isinstance(t.get("output"), str)):
                        raise RecordError(f"item {i} must be {{'input': str, 'output': str}}", where=where, field="tests")
                p.tests = tests
            p.setup = _need(d, "setup", str, where, optional=True)
            if not p.tests:
                raise RecordError("a code problem needs at least one test", where=where, field="tests")
        return p

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None and not (k == "metadata" and not v)}


@dataclass
class Sample:
    """One generated solution. `answer` is the extracted final answer (math) or the program (code);
    `source` says where it came from (model, backend, seed, sampling settings)."""

    problem_id: str
    text: str
    steps: list[str]
    answer: str | None = None
    source: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict, where: str = "") -> "Sample":
        if not isinstance(d, dict):
            raise RecordError(f"expected a JSON object, got {type(d).__name__}", where=where)
        return cls(
            problem_id=str(_need(d, "problem_id", (str, int), where)),
            text=_need(d, "text", str, where),
            steps=_str_list(d, "steps", where),
            answer=_need(d, "answer", str, where, optional=True),
            source=_need(d, "source", dict, where, optional=True) or {},
            metadata=_need(d, "metadata", dict, where, optional=True) or {},
        )

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class StepwiseRecord:
    """TRL's stepwise record; see the module docstring. Unknown keys live in `extra` and are
    written back at the top level, so other tools' columns survive a round trip."""

    prompt: str
    completions: list[str]
    labels: list[bool | float | None]
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict, where: str = "") -> "StepwiseRecord":
        if not isinstance(d, dict):
            raise RecordError(f"expected a JSON object, got {type(d).__name__}", where=where)
        prompt = _need(d, "prompt", str, where)
        completions = _str_list(d, "completions", where)
        raw = _need(d, "labels", list, where)
        labels = [_label(v, i, where) for i, v in enumerate(raw)]
        if len(labels) != len(completions):
            raise RecordError(f"has {len(labels)} labels for {len(completions)} completions",
                              where=where, field="labels")
        extra = {k: v for k, v in d.items() if k not in ("prompt", "completions", "labels")}
        return cls(prompt=prompt, completions=completions, labels=labels, extra=extra)

    def to_dict(self) -> dict:
        return {"prompt": self.prompt, "completions": list(self.completions), "labels": list(self.labels), **self.extra}


KINDS = {"problem": Problem, "sample": Sample, "stepwise": StepwiseRecord}
_KIND_FIELDS = {name: {f.name for f in fields(cls)} for name, cls in KINDS.items()}


# ----------------------------------------------------------------------------- reading
@dataclass
class ReadStats:
    """Counts from a read with `skip_bad=True`; `errors` keeps the first few messages."""

    read: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def note(self, err: Exception) -> None:
        self.skipped += 1
        if len(self.errors) < 20:
            self.errors.append(str(err))


def iter_jsonl(path: str | os.PathLike, *, skip_bad: bool = False, stats: ReadStats | None = None
               ) -> Iterator[tuple[int, dict]]:
    """Yield (line_number, object) for each non-blank line. Streams: memory is flat in file size.

    A line that is not a JSON object raises RecordError('file:line: ...'), or with skip_bad is
    counted in `stats` and skipped. A last line without a newline is a torn write from a crash when
    it does not parse; it is reported like any other bad line, never taken as a record.
    """
    path = Path(path)
    if not path.exists():
        raise RecordError(f"no such file: {path}")
    with path.open("r", encoding="utf-8", errors="strict") as fh:
        lineno = 0
        while True:
            try:
                line = fh.readline()
            except UnicodeDecodeError as e:
                raise RecordError(f"not UTF-8 text ({e.reason})", where=f"{path}:{lineno + 1}") from None
            if not line:
                return
            lineno += 1
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                err = RecordError(f"invalid JSON ({e.msg} at column {e.colno})", where=where)
                if not skip_bad:
                    raise err from None
                if stats is not None:
                    stats.note(err)
                continue
            if not isinstance(obj, dict):
                err = RecordError(f"expected a JSON object, got {type(obj).__name__}", where=where)
                if not skip_bad:
                    raise err
                if stats is not None:
                    stats.note(err)
                continue
            if stats is not None:
                stats.read += 1
            yield lineno, obj


def convert_rows(rows: Iterable[tuple[str, Any]], convert: Callable[[str, Any], Any], *, skip_bad: bool = False,
                 stats: ReadStats | None = None) -> Iterator:
    """`convert(where, row)` for each (where, row); the one skip-bad policy of every reader.

    A row that is itself an Exception (a reader's parse error) or whose conversion raises
    RecordError stops the read, or with `skip_bad` is counted in `stats` and skipped."""
    for where, row in rows:
        try:
            if isinstance(row, Exception):
                raise row
            out = convert(where, row)
        except RecordError as err:
            if not skip_bad:
                raise
            if stats is not None:
                stats.note(err)
            continue
        if stats is not None:
            stats.read += 1
        yield out


def iter_records(path: str | os.PathLike, kind: str, *, skip_bad: bool = False,
                 stats: ReadStats | None = None) -> Iterator:
    """Yield validated records of `kind` ('problem', 'sample', 'stepwise') from a JSONL file."""
    cls = KINDS[kind]
    for lineno, obj in iter_jsonl(path, skip_bad=skip_bad, stats=stats):
        try:
            yield cls.from_dict(obj, where=f"{path}:{lineno}")
        except RecordError as err:
            if not skip_bad:
                raise
            if stats is not None:
                stats.read -= 1
                stats.note(err)


def read_records(path: str | os.PathLike, kind: str, *, skip_bad: bool = False,
                 stats: ReadStats | None = None) -> list:
    return list(iter_records(path, kind, skip_bad=skip_bad, stats=stats))


def read_problems(path: str | os.PathLike) -> dict[str, Problem]:
    """Problems by id; a repeated id is an error (labels would silently attach to the wrong one)."""
    out: dict[str, Problem] = {}
    for lineno, obj in iter_jsonl(path):
        p = Problem.from_dict(obj, where=f"{path}:{lineno}")
        if p.id in out:
            raise RecordError(f"duplicate problem id {p.id!r}", where=f"{path}:{lineno}", field="id")
        out[p.id] = p
    return out


# ----------------------------------------------------------------------------- writing
def _dumps(obj: Any) -> str:
    if hasattr(obj, "to_dict"):
        obj = obj.to_dict()
    # allow_nan=False: NaN/Infinity are not JSON and other readers (Arrow) reject them
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


def write_jsonl_atomic(path: str | os.PathLike, rows: Iterable) -> int:
    """Write all rows to `path` via a temp file + rename: readers see the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(_dumps(row) + "\n")
                n += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return n


def repair_tail(path: str | os.PathLike) -> int:
    """Cut a torn last line (no trailing newline) left by a crash; return the bytes removed."""
    path = Path(path)
    if not path.exists():
        return 0
    with path.open("rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return 0
        # walk back to the last newline in blocks
        pos, block = size, 65536
        keep = 0
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            idx = chunk.rfind(b"\n")
            if idx >= 0:
                keep = start + idx + 1
                break
            pos = start
        fh.truncate(keep)
        return size - keep


class JsonlAppender:
    """Append records one per line, flushed (and optionally fsynced) after each.

    Opening repairs a torn tail first, so after `kill -9` the file holds only whole records and a
    resumed run can trust every line it reads back.
    """

    def __init__(self, path: str | os.PathLike, *, fsync: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired = repair_tail(self.path)
        self._fh = self.path.open("a", encoding="utf-8")
        self._fsync = fsync
        self.written = 0

    def write(self, row) -> None:
        self._fh.write(_dumps(row) + "\n")
        self._fh.flush()
        if self._fsync:
            os.fsync(self._fh.fileno())
        self.written += 1

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def done_keys(path: str | os.PathLike, key: str) -> set:
    """The values of `key` already present in an output file (for resuming); a torn tail is ignored."""
    path = Path(path)
    if not path.exists():
        return set()
    repair_tail(path)
    return {obj.get(key) for _, obj in iter_jsonl(path, skip_bad=True) if key in obj}
