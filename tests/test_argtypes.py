"""Argument types (prm/commands/argtypes.py): bad values are refused at parse time, one line, exit 2."""

from __future__ import annotations

import argparse

import pytest

from prm.cli import main
from prm.commands import argtypes as t


@pytest.mark.parametrize("kind, text, want", [
    (t.positive_int, "3", 3), (t.nonneg_int, "0", 0), (t.positive_float, "0.5", 0.5),
    (t.nonneg_float, "0", 0.0), (t.fraction, "1", 1.0), (t.open_fraction, "0.5", 0.5), (t.unit_float, "0", 0.0),
    (t.finite_float, "-2.5", -2.5), (t.at_least(64), "64", 64),
    (t.escaped_text, "ки", "ки"),                # non-ASCII kept as typed (unicode_escape mangled it)
    (t.escaped_text, "\\n\\n", "\n\n"), (t.escaped_text, "a\\tb", "a\tb"), (t.escaped_text, "\\\\", "\\"),
    (t.escaped_text, "ки\\n", "ки\n"), (t.escaped_text, "\\u043a", "к"), (t.escaped_text, "", ""),
    (t.separator, "\\n", "\n"),
])
def test_accepts(kind, text, want):
    assert kind(text) == want and type(kind(text)) is type(want)


@pytest.mark.parametrize("kind, text", [
    (t.positive_int, "0"), (t.positive_int, "-1"), (t.positive_int, "1.5"), (t.positive_int, "x"),
    (t.nonneg_int, "-1"), (t.positive_float, "0"), (t.positive_float, "nan"), (t.positive_float, "inf"),
    (t.nonneg_float, "-0.1"), (t.nonneg_float, "nan"), (t.fraction, "0"), (t.fraction, "1.01"),
    (t.open_fraction, "1"), (t.unit_float, "nan"), (t.finite_float, "-inf"), (t.at_least(64), "63"),
    (t.escaped_text, "\\"), (t.escaped_text, "a\\"), (t.escaped_text, "\\x4"), (t.escaped_text, "\\d"),
    (t.separator, ""),
])
def test_refuses(kind, text):
    with pytest.raises(argparse.ArgumentTypeError):
        kind(text)


@pytest.mark.parametrize("s", ["\n\n", "ки", "a\\b", "\t", "Step"])
def test_shown_escaped_round_trips(s):
    assert t.escaped_text(t.shown_escaped(s)) == s


# the cases of issue #17 and their kin: each a one-line usage error before any file is read
BAD = [
    ["score", "--model", "m", "--input", "i", "--out", "o", "--batch-size", "-1"],
    ["label", "--method", "outcome", "--problems", "p", "--samples", "s", "--out", "o", "--code-timeout", "0"],
    ["exec", "--problems", "p", "--samples", "s", "--timeout", "nan"],
    ["sample", "--problems", "p", "--policy", "math", "--out", "o", "--limit", "-1"],
    ["search", "--method", "bon", "--problems", "p", "--policy", "math", "--out", "o", "--limit", "-1"],
    ["segment", "--input", "i", "--out", "o", "--sep", "\\"],
    ["train", "--model", "m", "--train", "t", "--out", "o", "--sep", "\\"],
    ["train", "--model", "m", "--train", "t", "--out", "o", "--lr", "nan"],
    ["sample", "--problems", "p", "--policy", "math", "--out", "o", "--stop", "\\"],
    ["sample", "--problems", "p", "--policy", "math", "--out", "o", "--top-p", "0"],
    ["label", "--method", "mc", "--problems", "p", "--samples", "s", "--out", "o", "--gpu-memory-utilization", "2"],
    ["eval", "bon", "--pool", "p", "--repeats", "0"],
    ["eval", "processbench", "--data", "d", "--scorer", "sympy", "--threshold", "nan"],
    ["verify", "--gold", "1", "--pred", "1", "--timeout", "inf"],
    ["data", "convert", "--dataset", "gsm8k", "--input", "i", "--out", "o", "--limit", "0"],
    ["convert", "--from", "stepwise", "--to", "math-shepherd", "--input", "i", "--out", "o", "--threshold", "nan"],
]


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a[:1] + a[-2:]) for a in BAD])
def test_bad_values_are_one_line_usage_errors(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"argument {argv[-2]}" in err and "Traceback" not in err


@pytest.mark.parametrize("flag", ["--sep", "--stop"])
def test_non_ascii_separator_reaches_the_command(tmp_path, flag):
    if flag == "--sep":
        (tmp_path / "i.jsonl").write_text('{"problem_id": "a", "text": "x ки y ки z"}\n')
        assert main(["segment", "--input", str(tmp_path / "i.jsonl"), "--out", str(tmp_path / "o.jsonl"),
                     "--sep", "ки"]) == 0
        assert '"steps": ["x ", " y ", " z"]' in (tmp_path / "o.jsonl").read_text()
    else:
        from prm.commands.sample import add_arguments

        p = argparse.ArgumentParser()
        add_arguments(p)
        args = p.parse_args(["--problems", "p", "--out", "o", "--policy", "math", "--stop", "ки", "--stop", "\\n"])
        assert args.stop == ["ки", "\n"]


def test_train_sep_keeps_non_ascii():
    from prm.commands.train import add_arguments, config_from_args

    p = argparse.ArgumentParser()
    add_arguments(p)
    base = ["--model", "m", "--train", "t", "--out", "o"]
    assert config_from_args(p.parse_args(base + ["--sep", "ки"])).sep == "ки"
    assert config_from_args(p.parse_args(base)).sep == "\n\n"   # the escaped default still means two newlines
