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

Reading: `iter_jsonl` is the one JSONL reader of the toolkit. A malformed line raises `RecordError`
naming file, line and field; with `errors="skip"` (`skip_bad=True` in every other reader) bad lines
are skipped and counted in a `ReadStats` instead (the caller reports the count); with
`errors="yield"` each bad line's RecordError comes back in its place. `convert_rows` is the one
skip-bad policy for turning rows into records; `need`, `str_list` and `label_value` are the field
checks every record and format adapter uses.

Writing: `write_jsonl_atomic` writes a temp file and renames it over the target, so a crash leaves
either the old file or the complete new one. `JsonlAppender` appends one record per line and
flushes each, and on open cuts off a torn last line left by a crash, so a resumed run never reads a
half-written record as complete.
"""

from __future__ import annotations

import errno
import gzip
import json
import math
import os
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from prm.errors import DiskFull, RecordError

_FULL = (errno.ENOSPC, errno.EDQUOT)   # the errors that mean "no room", not "a bug"

DOMAINS = ("math", "code")  # the names of prm.domains.DOMAINS (records sits below it; a test keeps them equal)
TEST_FORMATS = ("humaneval", "mbpp", "stdio")


# ----------------------------------------------------------------------------- field checks
def need(d: dict, name: str, types: type | tuple, where: str, *, optional: bool = False):
    """d[name], which must be present and not null (or `optional`: then None) and of `types`.
    Raises RecordError naming `where` and the field; a `d` that is not a dict is refused too."""
    if not isinstance(d, dict):
        raise RecordError(f"expected a JSON object, got {type(d).__name__}", where=where)
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


def str_list(d: dict, name: str, where: str) -> list[str]:
    """d[name] as a list of strings (see `need`)."""
    value = need(d, name, list, where)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise RecordError(f"item {i} is {type(item).__name__}, expected str", where=where, field=name)
    return value


def label_value(value: Any, i: int, where: str) -> bool | float | None:
    """Item `i` of a `labels` list: bool, a number in [0, 1] (0 and 1 as ints become bool), or None."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        # soft labels (MC values) are probabilities; keep floats as floats (TRL's int() cast is a known bug)
        v = float(value)
        if math.isnan(v) or not 0.0 <= v <= 1.0:
            raise RecordError(f"item {i} is {value!r}, outside [0, 1]", where=where, field="labels")
        return v if isinstance(value, float) else bool(value) if value in (0, 1) else v
    raise RecordError(f"item {i} is {type(value).__name__}, expected bool, float or null", where=where, field="labels")


# ----------------------------------------------------------------------------- a problem's gold, per domain
def _math_gold(p: "Problem", d: dict, where: str) -> None:
    p.answer = str(need(d, "answer", (str, int, float), where))


def _code_gold(p: "Problem", d: dict, where: str) -> None:
    fmt = need(d, "test_format", str, where)
    if fmt not in TEST_FORMATS:
        raise RecordError(f"must be one of {TEST_FORMATS}, got {fmt!r}", where=where, field="test_format")
    p.test_format = fmt
    if fmt == "humaneval":
        p.tests = need(d, "tests", str, where)
        p.entry_point = need(d, "entry_point", str, where)
    elif fmt == "mbpp":
        p.tests = str_list(d, "tests", where)
        p.entry_point = need(d, "entry_point", str, where, optional=True)
    else:
        tests = need(d, "tests", list, where)
        for i, t in enumerate(tests):
            if not (isinstance(t, dict) and isinstance(t.get("input"), str) and isinstance(t.get("output"), str)):
                raise RecordError(f"item {i} must be {{'input': str, 'output': str}}", where=where, field="tests")
        p.tests = tests
    p.setup = need(d, "setup", str, where, optional=True)
    if not p.tests:
        raise RecordError("a code problem needs at least one test", where=where, field="tests")


# What each domain's problems must carry to be judged (the keys are prm.domains.DOMAINS' keys: a test checks it)
_GOLD_FIELDS = {"math": _math_gold, "code": _code_gold}


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
        pid = need(d, "id", (str, int), where)
        domain = need(d, "domain", str, where)
        if domain not in DOMAINS:
            raise RecordError(f"must be one of {DOMAINS}, got {domain!r}", where=where, field="domain")
        question = need(d, "question", str, where)
        p = cls(id=str(pid), domain=domain, question=question,
                metadata=need(d, "metadata", dict, where, optional=True) or {})
        _GOLD_FIELDS[domain](p, d, where)
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
            problem_id=str(need(d, "problem_id", (str, int), where)),
            text=need(d, "text", str, where),
            steps=str_list(d, "steps", where),
            answer=need(d, "answer", str, where, optional=True),
            source=need(d, "source", dict, where, optional=True) or {},
            metadata=need(d, "metadata", dict, where, optional=True) or {},
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
        prompt = need(d, "prompt", str, where)
        completions = str_list(d, "completions", where)
        raw = need(d, "labels", list, where)
        labels = [label_value(v, i, where) for i, v in enumerate(raw)]
        if len(labels) != len(completions):
            raise RecordError(f"has {len(labels)} labels for {len(completions)} completions",
                              where=where, field="labels")
        extra = {k: v for k, v in d.items() if k not in ("prompt", "completions", "labels")}
        return cls(prompt=prompt, completions=completions, labels=labels, extra=extra)

    def to_dict(self) -> dict:
        return {"prompt": self.prompt, "completions": list(self.completions), "labels": list(self.labels), **self.extra}


def _score_value(v, where: str, rm: str):
    bad = RecordError(f"score for {rm!r} must be a number or a list of numbers", where=where, field="scores")
    items = v if isinstance(v, list) else [v]
    for x in items:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or math.isnan(x):
            raise bad
    if isinstance(v, list) and not v:
        raise RecordError(f"empty step-score list for {rm!r}", where=where, field="scores")


_POOL_FIELDS = ("problem_id", "correct", "scores", "answer", "group", "domain", "steps", "step_verdicts",
                "completion_tokens")


@dataclass
class PoolRecord:
    """One sample of a scored pool: what `prm search` writes and `prm eval bon --pool` reads.

        {"problem_id": "p1",            # required: samples of one problem form its pool
         "correct": true,               # required: the verifier's judgement of the whole solution
         "scores": {"prm": [0.9, 0.4],  # required: one entry per reward model; a list = step scores
                    "orm": 0.7},        #   (PRM, aggregated by min/prod/last/mean), a number = outcome
         "answer": "1/2",               # optional: extracted answer, grouped by verifier equivalence
         "group": "PPF",                # optional: a ready group key (code: behaviour on the tests);
                                        #   wins over `answer`
         "domain": "math",              # optional: "math" (default) or "code"
         "steps": ["...", "..."],       # optional: for length/step-count diagnostics and sympy checks
         "step_verdicts": [true, null, false],  # optional: the domain's step checker, per step
         "completion_tokens": 812,      # optional: generated tokens, for compute-matched comparisons
         "sample_id": 3, "text": "..."} # optional; everything else passes through untouched (`extra`)

    Optional fields that are None are not written. Every sample of a problem must carry the same
    reward models (checked when pools are built, `prm.eval.pool.build_pools`).
    """

    problem_id: str
    correct: bool
    scores: dict = field(default_factory=dict)
    answer: str | None = None
    group: str | None = None
    domain: str = "math"
    steps: list[str] | None = None
    step_verdicts: list | None = None
    completion_tokens: int | None = None
    extra: dict = field(default_factory=dict)
    where: str = ""

    @property
    def length(self) -> int:
        return len("".join(self.steps)) if self.steps is not None else 0

    @classmethod
    def from_dict(cls, obj: dict, where: str = "") -> "PoolRecord":
        if not isinstance(obj, dict):
            raise RecordError(f"expected a JSON object, got {type(obj).__name__}", where=where)
        for name in ("problem_id", "correct", "scores"):
            if name not in obj:
                raise RecordError("missing required field", where=where, field=name)
        if not isinstance(obj["correct"], bool):
            raise RecordError(f"expected true/false, got {obj['correct']!r}", where=where, field="correct")
        scores = obj["scores"]
        if not isinstance(scores, dict):
            raise RecordError("expected an object {rm_name: score}", where=where, field="scores")
        for rm, v in scores.items():
            _score_value(v, where, rm)
        steps = obj.get("steps")
        if steps is not None and not (isinstance(steps, list) and all(isinstance(s, str) for s in steps)):
            raise RecordError("expected a list of strings", where=where, field="steps")
        verdicts = obj.get("step_verdicts")
        if verdicts is not None:
            if not isinstance(verdicts, list) or any(v not in (True, False, None) for v in verdicts):
                raise RecordError("expected a list of true/false/null", where=where, field="step_verdicts")
            if steps is not None and len(verdicts) != len(steps):
                raise RecordError(f"{len(verdicts)} verdicts for {len(steps)} steps", where=where,
                                  field="step_verdicts")
        domain = obj.get("domain", "math")
        if domain not in DOMAINS:
            raise RecordError(f"must be 'math' or 'code', got {domain!r}", where=where, field="domain")
        tokens = obj.get("completion_tokens")
        if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0):
            raise RecordError("expected a non-negative integer", where=where, field="completion_tokens")
        answer, group = obj.get("answer"), obj.get("group")
        return cls(problem_id=str(obj["problem_id"]), correct=obj["correct"], scores=scores,
                   answer=None if answer is None else str(answer), group=None if group is None else str(group),
                   domain=domain, steps=steps, step_verdicts=verdicts, completion_tokens=tokens,
                   extra={k: v for k, v in obj.items() if k not in _POOL_FIELDS}, where=where)

    def to_dict(self) -> dict:
        out = {"problem_id": self.problem_id, **self.extra, "domain": self.domain, "steps": self.steps,
               "completion_tokens": self.completion_tokens, "answer": self.answer, "correct": self.correct,
               "group": self.group, "step_verdicts": self.step_verdicts, "scores": self.scores}
        return {k: v for k, v in out.items() if v is not None}


@dataclass
class SearchResult:
    """What a search strategy (`prm.search.STRATEGIES`) returns for one problem.

    `samples` are the finished candidates as pool records, judged and scored: best-of-N keeps all N
    (selection happens later, in `prm eval bon`, for every method at once); beam search keeps the
    one solution it chose. `generated_tokens` counts every sampled token, kept or not, so
    strategies can be compared at equal compute; `extra` holds strategy-specific facts (beam: the
    chosen beam's aggregated score, depth, whether max_steps cut it)."""

    problem_id: str
    strategy: str
    samples: list[PoolRecord]
    generated_tokens: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def correct(self) -> bool:
        """The chosen solution is right (beam); for a pool: any sample is (pass@N)."""
        return any(s.correct for s in self.samples)


KINDS = {"problem": Problem, "sample": Sample, "stepwise": StepwiseRecord, "pool": PoolRecord}
_KIND_FIELDS = {name: {f.name for f in fields(cls)} for name, cls in KINDS.items()}


# ----------------------------------------------------------------------------- reading
ERRORS = ("raise", "skip", "yield")


class NotTextError(RecordError):
    """A line that is not UTF-8: a bad line like any other (reported at its own line, skipped with
    `--skip-bad`), kept a class of its own so a caller can tell a binary file from malformed JSON."""


def _nonfinite(value, key: str = "") -> tuple[str, str] | None:
    """(field, what) for the first NaN / Infinity in a parsed line, else None. Python's json reads
    them, but they are not JSON: other tools (Arrow) refuse them, and our writers (allow_nan=False)
    would crash on them after the work is done, so every reader refuses them up front."""
    if isinstance(value, float) and not math.isfinite(value):
        return key, f"{value} is not a JSON number"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        found = _nonfinite(v, (f"{key}.{k}" if key else str(k)) if isinstance(value, dict) else key)
        if found:
            return found[0], found[1] if isinstance(value, dict) else f"item {k}: {found[1]}"
    return None


@dataclass
class ReadStats:
    """Counts from a read that skips bad lines; `errors` keeps the first few messages."""

    read: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def note(self, err: Exception) -> None:
        self.skipped += 1
        if len(self.errors) < 20:
            self.errors.append(str(err))


def _parse_line(raw: bytes, path: Path, lineno: int) -> dict | RecordError | None:
    """One line -> its object, the RecordError saying why it is not one, or None when blank."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return NotTextError(f"not UTF-8 text ({e.reason} at byte {e.start})", where=f"{path}:{lineno}")
    if not line.strip():
        return None
    nonfinite: list[str] = []  # NaN, Infinity, or a literal too large for a float (1e400)

    def number(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            nonfinite.append(text)
        return value
    try:
        obj = json.loads(line, parse_float=number, parse_constant=number)
    except json.JSONDecodeError as e:
        return RecordError(f"invalid JSON ({e.msg} at column {e.colno})", where=f"{path}:{lineno}")
    bad = _nonfinite(obj) if nonfinite else None  # walk only a line that holds one, to name its field
    if bad:
        return RecordError(f"{bad[1]} (write null or a finite number)", where=f"{path}:{lineno}", field=bad[0] or None)
    if not isinstance(obj, dict):
        return RecordError(f"expected a JSON object, got {type(obj).__name__}", where=f"{path}:{lineno}")
    return obj


def iter_jsonl(path: str | os.PathLike, *, errors: str = "raise", stats: ReadStats | None = None,
               skip_bad: bool = False) -> Iterator[tuple[int, dict | RecordError]]:
    """Yield (line_number, object) for each non-blank line. Streams: memory is flat in file size.

    A bad line (invalid JSON, NaN or Infinity, not a JSON object, not UTF-8) is a
    RecordError('file:line: ...'), and `errors` says what becomes of it: "raise" raises it; "skip"
    counts it in `stats` and goes on; "yield" yields it in place of the object, for a caller that
    reports bad lines one by one. A path that is a directory raises at once. `skip_bad=True` means
    "skip" (the spelling of every other reader). `stats.read` counts the objects yielded.

    A last line without a newline is a torn write from a crash when it does not parse; it is
    reported like any other bad line, never taken as a record. Lines end at \\n, \\r\\n or \\r (as
    in text mode) and are decoded one by one, so a bad byte is reported at its own line. A `.gz`
    file is read through gzip.
    """
    errors = "skip" if skip_bad else errors
    if errors not in ERRORS:
        raise ValueError(f"errors must be one of {ERRORS}, got {errors!r}")
    path = Path(path)
    if not path.exists():
        raise RecordError(f"no such file: {path}")
    if path.is_dir():
        raise RecordError(f"{path}: is a directory; expected a JSONL file")
    with (gzip.open if path.name.lower().endswith(".gz") else open)(path, "rb") as fh:
        lineno = 0
        for chunk in fh:  # chunks end at b"\n"; splitlines also ends lines at a lone b"\r"
            for raw in chunk.splitlines(keepends=True):
                lineno += 1
                obj = _parse_line(raw, path, lineno)
                if obj is None:
                    continue
                if isinstance(obj, RecordError) and errors != "yield":
                    if errors == "raise":
                        raise obj
                    if stats is not None:
                        stats.note(obj)
                    continue
                if stats is not None and isinstance(obj, dict):
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
    """Yield validated records of `kind` (a key of KINDS) from a JSONL file; bad lines and records
    that do not validate stop the read or, with `skip_bad`, are counted (`convert_rows`)."""
    cls = KINDS[kind]
    rows = ((f"{path}:{lineno}", obj) for lineno, obj in iter_jsonl(path, errors="yield"))
    yield from convert_rows(rows, lambda where, obj: cls.from_dict(obj, where=where), skip_bad=skip_bad,
                            stats=stats)


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


def _umask() -> int:
    try:  # Linux says it without changing it
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: the only portable read is a set-and-restore
    os.umask(mask)
    return mask


def file_mode(path: str | os.PathLike) -> int:
    """The permission bits a file written to `path` should get: the mode of the file it replaces,
    else what a plain `open(path, "w")` would give (0o666 less the umask; mkstemp alone gives 0o600)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


@contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[Any]:
    """A text handle whose content replaces `path` only when the block ends without an error (temp
    file + fsync + rename: readers see the old file or the whole new one, and a failed write leaves
    no temp file). The new file keeps the mode of the one it replaces (a new one gets the umask's,
    like `open`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(err, OSError) and err.errno in _FULL:
            raise DiskFull(path, err, " (the file was left as it was)") from None
        raise


def write_jsonl_atomic(path: str | os.PathLike, rows: Iterable) -> int:
    """Write all rows to `path` atomically (`atomic_open`); returns how many."""
    n = 0
    with atomic_open(path) as fh:
        for row in rows:
            fh.write(_dumps(row) + "\n")
            n += 1
    return n


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically (`atomic_open`)."""
    with atomic_open(path) as fh:
        fh.write(text)


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
    """Append records one per line, each written through to the OS (and optionally fsynced).

    Opening repairs a torn tail first, so after `kill -9` the file holds only whole records and a
    resumed run can trust every line it reads back. A write that fails (a full disk: ENOSPC) cuts
    the file back to its last whole record at once and raises `DiskFull` naming the file, so the
    output never holds a partial record and the same command resumes once space is freed.
    Unbuffered bytes, not a text handle: a text handle keeps the unwritten rest of a failed write
    in its buffer and writes it on close, after the cut.
    """

    def __init__(self, path: str | os.PathLike, *, fsync: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired = repair_tail(self.path)
        self._fh = self.path.open("ab", buffering=0)
        self._end = os.fstat(self._fh.fileno()).st_size   # the end of the last whole record
        self._fsync = fsync
        self.written = 0

    def write(self, row) -> None:
        data = (_dumps(row) + "\n").encode("utf-8")
        fd = self._fh.fileno()
        try:
            view = memoryview(data)
            while view:                      # a raw write may take only part of the bytes
                view = view[os.write(fd, view):]
            if self._fsync:
                os.fsync(fd)
        except OSError as err:
            os.ftruncate(fd, self._end)      # the partial record goes (freeing, never needing, space)
            if err.errno in _FULL:
                raise DiskFull(self.path, err, f" after {self.written} new records, all kept whole") from None
            raise
        self._end += len(data)
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
    return {obj.get(key) for _, obj in iter_jsonl(path, errors="skip") if key in obj}
