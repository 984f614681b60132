"""The one JSONL reader (`prm.records.iter_jsonl`) and what each of its callers makes of a bad line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from prm.errors import RecordError, UserError
from prm.records import NotTextError, ReadStats, iter_jsonl, iter_records

ROOT = Path(__file__).resolve().parents[1]


def _obj(i) -> bytes:
    return json.dumps({"id": i}).encode()


# name -> file bytes; every file has good objects 1 and 2 around whatever is bad about it
FILES = {
    "clean": _obj(1) + b"\n\n" + _obj(2) + b"\n",
    "invalid": _obj(1) + b"\n{not json\n" + _obj(2) + b"\n",
    "not_object": _obj(1) + b"\n[1, 2]\n" + _obj(2) + b"\n",
    "torn_tail": _obj(1) + b"\n" + _obj(2) + b"\n" + _obj(3)[:-3],
    "crlf": _obj(1) + b"\r\n{oops\r\n" + _obj(2) + b"\r\n",
    "lone_cr": _obj(1) + b"\r" + _obj(2) + b"\n",             # text mode ends a line at \r too
    "unicode_blank": _obj(1) + "\n\u00a0\n".encode() + _obj(2) + b"\n",
    "not_utf8": _obj(1) + b"\n\xff\xfe\n" + _obj(2) + b"\n",
}

# (file, mode) -> what comes out: (line, id) for an object, (line, "message part") for a yielded
# error, or the exception type and message part when the read stops
CASES = [
    ("clean", "raise", [(1, 1), (3, 2)]),
    ("clean", "skip", [(1, 1), (3, 2)]),
    ("clean", "yield", [(1, 1), (3, 2)]),
    ("invalid", "raise", (RecordError, ":2: invalid JSON (Expecting property name")),
    ("invalid", "skip", [(1, 1), (3, 2)]),
    ("invalid", "yield", [(1, 1), (2, "invalid JSON (Expecting property name enclosed in double quotes at column 2)"),
                          (3, 2)]),
    ("not_object", "raise", (RecordError, ":2: expected a JSON object, got list")),
    ("not_object", "yield", [(1, 1), (2, "expected a JSON object, got list"), (3, 2)]),
    ("torn_tail", "raise", (RecordError, ":3: invalid JSON")),
    ("torn_tail", "skip", [(1, 1), (2, 2)]),
    ("crlf", "raise", (RecordError, ":2: invalid JSON (Expecting property name enclosed in double quotes at col")),
    ("crlf", "yield", [(1, 1), (2, "invalid JSON"), (3, 2)]),
    ("lone_cr", "raise", [(1, 1), (2, 2)]),
    ("unicode_blank", "raise", [(1, 1), (3, 2)]),
    ("not_utf8", "raise", (NotTextError, ":2: not UTF-8 text (invalid start byte at byte 0)")),
    ("not_utf8", "skip", [(1, 1), (3, 2)]),  # a bad line like any other: --skip-bad passes over it (#17)
    ("not_utf8", "yield", [(1, 1), (2, "not UTF-8 text (invalid start byte at byte 0)"), (3, 2)]),
]


def _read(path, mode):
    """(line, id) per object, (line, message without file:line) per yielded error."""
    return [(n, o["id"] if isinstance(o, dict) else str(o).split(": ", 1)[1]) for n, o in iter_jsonl(path, errors=mode)]


def _matches(got, want) -> bool:
    return len(got) == len(want) and all(
        n == m and (v == w if isinstance(w, int) else isinstance(v, str) and v.startswith(w))
        for (n, v), (m, w) in zip(got, want))


@pytest.mark.parametrize("name,mode,want", CASES)
def test_iter_jsonl_modes(tmp_path, name, mode, want):
    path = tmp_path / f"{name}.jsonl"
    path.write_bytes(FILES[name])
    if isinstance(want, tuple):
        kind, words = want
        with pytest.raises(kind) as err:
            _read(path, mode)
        assert f"{path}{words}" in str(err.value)
    else:
        got = _read(path, mode)
        assert _matches(got, want), got


@pytest.mark.parametrize("name,read,skipped", [("clean", 2, 0), ("invalid", 2, 1), ("not_object", 2, 1),
                                               ("torn_tail", 2, 1)])
def test_skip_mode_counts(tmp_path, name, read, skipped):
    path = tmp_path / "f.jsonl"
    path.write_bytes(FILES[name])
    stats = ReadStats()
    list(iter_jsonl(path, errors="skip", stats=stats))
    assert (stats.read, stats.skipped) == (read, skipped)
    assert (list(iter_jsonl(path, skip_bad=True)) == list(iter_jsonl(path, errors="skip")))  # the old spelling


def test_gzip_and_bad_mode(tmp_path):
    path = tmp_path / "f.jsonl.gz"
    path.write_bytes(gzip.compress(FILES["invalid"]))
    assert _read(path, "skip") == [(1, 1), (3, 2)]
    with pytest.raises(ValueError, match="errors must be one of"):
        list(iter_jsonl(path, errors="ignore"))
    with pytest.raises(RecordError, match="no such file"):
        list(iter_jsonl(tmp_path / "absent.jsonl"))


PROBLEM = {"id": "m1", "domain": "math", "question": "q", "answer": "1"}


@pytest.mark.parametrize("lines,skip_bad,ids,counts", [
    ([PROBLEM, "garbage", {"id": "x"}, {**PROBLEM, "id": "m2"}], True, ["m1", "m2"], (2, 2)),
    ([PROBLEM, "", {**PROBLEM, "id": "m2"}], False, ["m1", "m2"], (2, 0)),
    (["[1]", PROBLEM], True, ["m1"], (1, 1)),
])
def test_iter_records_counts_each_line_once(tmp_path, lines, skip_bad, ids, counts):
    path = tmp_path / "p.jsonl"
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    stats = ReadStats()
    assert [r.id for r in iter_records(path, "problem", skip_bad=skip_bad, stats=stats)] == ids
    assert (stats.read, stats.skipped) == counts


def test_iter_records_skips_a_line_that_is_not_text_and_names_its_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(json.dumps(PROBLEM).encode() + b"\n\xff\n" + json.dumps(PROBLEM).encode() + b"\n")
    stats = ReadStats()
    assert len(list(iter_records(path, "problem", skip_bad=True, stats=stats))) == 2
    assert stats.skipped == 1 and stats.errors[0].startswith(f"{path}:2: not UTF-8")
    with pytest.raises(NotTextError, match="p.jsonl:2"):
        list(iter_records(path, "problem"))


@pytest.mark.parametrize("name,rows", [
    ("invalid", [":1", ":2 invalid JSON", ":3"]),
    ("not_object", [":1", ":2 expected a JSON object, got list", ":3"]),
])
def test_iter_rows_hands_bad_jsonl_lines_on(tmp_path, name, rows):
    from prm.formats.files import iter_rows
    from prm.loaders import iter_rows as loaders_iter_rows

    assert loaders_iter_rows is iter_rows
    path = tmp_path / "f.jsonl"
    path.write_bytes(FILES[name])
    got = [where[len(str(path)):] + (f" {str(row).split(': ', 1)[1]}" if isinstance(row, RecordError) else "")
           for where, row in iter_rows(path)]
    assert len(got) == len(rows) and all(g.startswith(w) for g, w in zip(got, rows)), got


def test_iter_rows_unreadable_files(tmp_path):
    from prm.formats.files import iter_rows

    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(b"not gzip")
    with pytest.raises(UserError, match="cannot read"):
        list(iter_rows(path))
    with pytest.raises(UserError, match="no such file"):
        list(iter_rows(tmp_path / "absent.json"))


@pytest.mark.parametrize("content,where,words", [
    ('{"id": "a", "problem": "p", "steps": ["s"], "label": 0}\n{x\n', ":2", "invalid JSON"),
    ('{"id": "a", "problem": "p", "steps": ["s"], "label": 0}\n[1]\n', ":2", "expected a JSON object"),
])
def test_processbench_jsonl_fallback_uses_the_reader(tmp_path, content, where, words):
    from prm.eval.processbench import read_processbench

    path = tmp_path / "pb.jsonl"
    path.write_text(content)
    with pytest.raises(RecordError) as err:
        read_processbench(path)
    assert f"{path}{where}: {words}" in str(err.value)


def test_no_hand_written_jsonl_reader_in_prm():
    """`json.loads` over a file's lines appears only in the reader itself."""
    hits = []
    for path in (ROOT / "prm").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "json.loads(line" in text and path.name != "records.py":
            hits.append(str(path.relative_to(ROOT)))
    assert not hits
