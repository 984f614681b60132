"""A fuzz test of the CLI (hypothesis): random malformed JSONL and random flag values into each command.

For every run it asserts the data contract of issue #17:
- no traceback: the exit status is 0, 1 or 2 and nothing raises out of `prm.cli.main`;
- no input file changes, whatever the exit status (also when --out names an input);
- every output the run leaves is accepted by `prm check` (or, without a record kind, is JSONL).

Commands run in-process and only where no model loads (a model path that does not exist, or the
sympy checker), so the whole file takes a few seconds. `derandomize` makes the examples the same on
every run: a failure reproduces, and the suite cannot turn flaky. For a longer hunt:

    PRM_FUZZ_EXAMPLES=500 PRM_FUZZ_RANDOM=1 .venv/bin/pytest -q tests/test_cli_fuzz.py
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prm.cli import main
from prm.records import iter_jsonl

TEMPLATES = {
    "problem": {"id": "m1", "domain": "math", "question": "What is 2 + 2?", "answer": "4"},
    "sample": {"problem_id": "m1", "text": "2 + 2 = 4\n\nThe answer is 4.", "steps": ["2 + 2 = 4", "The answer is 4."]},
    "stepwise": {"prompt": "What is 2 + 2?", "completions": ["2 + 2 = 4", "The answer is 4."], "labels": [True, 0.5]},
    "pool": {"problem_id": "m1", "correct": True, "scores": {"orm": 0.7, "prm": [0.9, 0.4]}, "answer": "4"},
    "gsm8k": {"question": "Tom has 3 apples and buys 4. How many?", "answer": "3+4=7\n#### 7"},
    "pair": {"gold": "4", "response": "so 2 + 2 = 4. The answer is 4."},
    "processbench": {"id": "x", "problem": "What is 2 + 2?", "steps": ["2 + 2 = 5", "so 5"], "label": 0},
}

# lines no JSONL reader should take: not JSON, NaN, not an object, not UTF-8, a torn write
RAW = [b"", b"   ", b"NaN", b'{"x": NaN}', b'{"labels": [Infinity]}', b'{"a":', b"[1, 2]", b"null", b'"s"',
       b"\xff\xfe", b'{"id": "\xe9"}', b"\x00", b"{}", b"\r"]
# flag values: good, out of range, not finite, not a number, escapes good and bad, non-ASCII
VALUES = ["-1", "0", "1", "2", "3", "0.5", "1.5", "nan", "inf", "-inf", "1e400", "", "x", "ки", "\\", "\\n", "\\d"]

json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-2, 2, allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=5)


@st.composite
def record(draw, kind: str) -> bytes:
    """A template record with a few fields dropped or replaced by random JSON values."""
    d = dict(TEMPLATES[kind])
    for key in draw(st.lists(st.sampled_from([*d, "extra"]), max_size=3, unique=True)):
        if draw(st.booleans()):
            d.pop(key, None)
        else:
            d[key] = draw(json_value)
    return json.dumps(d, ensure_ascii=draw(st.booleans())).encode()


def jsonl(kind: str):
    line = st.one_of(record(kind), record(kind), record(kind), st.sampled_from(RAW), st.binary(max_size=10))
    return st.builds(lambda ls, end: b"\n".join(ls) + end, st.lists(line, max_size=5), st.sampled_from([b"\n", b""]))


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]         # "{0}", "{1}": the input files; "{out}": the output path
    inputs: tuple[str, ...]       # the record kind each input file is made from
    flags: tuple[str, ...] = ()   # flags that get random values
    out_kind: str | None = None   # `prm check --kind` of the output; "jsonl": any JSON objects; None: no file


CASES = {
    "check": Case(("check", "{0}", "--kind", "stepwise"), ("stepwise",)),
    "check problems": Case(("check", "{0}", "--kind", "problem", "--skip-bad"), ("problem",)),
    "segment": Case(("segment", "--input", "{0}", "--out", "{out}"), ("sample",), ("--sep",), "sample"),
    "convert": Case(("convert", "--from", "stepwise", "--to", "stepwise", "--input", "{0}", "--out", "{out}",
                     "--skip-bad"), ("stepwise",), (), "stepwise"),
    "data convert": Case(("data", "convert", "--dataset", "gsm8k", "--input", "{0}", "--out", "{out}"), ("gsm8k",),
                         ("--limit",), "problem"),
    "label outcome": Case(("label", "--method", "outcome", "--problems", "{0}", "--samples", "{1}", "--out", "{out}",
                           "--no-progress", "--workers", "1"), ("problem", "sample"),
                          ("--limit", "--batch-size", "--code-timeout"), "stepwise"),
    "label direct": Case(("label", "--method", "direct", "--problems", "{0}", "--samples", "{1}", "--out", "{out}",
                          "--no-progress", "--workers", "1"), ("problem", "sample"), ("--limit", "--batch-size"),
                         "stepwise"),
    "verify": Case(("verify", "--file", "{0}", "--out", "{out}", "--show", "none"), ("pair",), ("--timeout",), "jsonl"),
    "score": Case(("score", "--model", "{out}.no-such-model", "--input", "{0}", "--out", "{out}"), ("stepwise",),
                  ("--batch-size", "--max-length")),
    "eval processbench": Case(("eval", "processbench", "--data", "{0}", "--scorer", "sympy"), ("processbench",),
                              ("--threshold", "--limit")),
    "eval bon": Case(("eval", "bon", "--pool", "{0}", "--out", "{out}.d", "--no-sympy", "--repeats", "2"), ("pool",),
                     ("--seed", "--min-pool")),
}


def run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except BaseException:  # noqa: BLE001 -- the property under test: nothing escapes main
            return -1, err.getvalue() + traceback.format_exc()
    return rc, err.getvalue()


def check_case(case: Case, files: list[bytes], values: dict[str, str], out_is_input: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f"in{i}.jsonl" for i in range(len(files))]
        for p, data in zip(paths, files):
            p.write_bytes(data)
        out = paths[0] if out_is_input else Path(tmp) / "out.jsonl"
        argv = [a.format(*paths, out=out) for a in case.argv]
        for flag, value in values.items():
            argv += [flag, value] if not value.startswith("-") else [f"{flag}={value}"]
        rc, err = run(argv)
        assert rc in (0, 1, 2) and "Traceback" not in err, f"{argv}\n{err}"
        assert [p.read_bytes() for p in paths] == files, f"an input changed: {argv}\n{err}"
        if out_is_input and "{out}" in " ".join(case.argv) and case.out_kind:
            assert rc == 2, f"wrote over its input: {argv}"
        if rc in (0, 1) and case.out_kind and out.exists() and not out_is_input:
            if case.out_kind == "jsonl":
                assert all(isinstance(o, dict) for _, o in iter_jsonl(out))
            else:
                crc, cerr = run(["check", str(out), "--kind", case.out_kind])
                assert crc == 0, f"{argv} wrote what prm check refuses:\n{cerr}"


def case_inputs(case: Case):
    return st.tuples(
        st.tuples(*(jsonl(kind) for kind in case.inputs)).map(list),
        st.fixed_dictionaries({}, optional={f: st.sampled_from(VALUES) | st.text(max_size=3) for f in case.flags}),
        st.booleans() if case.out_kind else st.just(False))


@pytest.mark.parametrize("name", list(CASES))
def test_cli_survives_malformed_input(name):
    case = CASES[name]

    @settings(max_examples=int(os.environ.get("PRM_FUZZ_EXAMPLES", 12)), deadline=None,
              derandomize=not os.environ.get("PRM_FUZZ_RANDOM"), database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case_inputs(case))
    def fuzz(drawn):
        files, values, out_is_input = drawn
        check_case(case, files, values, out_is_input)

    fuzz()


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.flags])
def test_every_flag_value_on_valid_input(name):
    # the sweep the random draws may miss: each VALUES entry in each fuzzed flag, on template inputs
    case = CASES[name]
    files = [json.dumps(TEMPLATES[kind]).encode() + b"\n" for kind in case.inputs]
    for flag in case.flags:
        for value in VALUES:
            check_case(case, files, {flag: value}, False)
