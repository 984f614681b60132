"""One CLI vocabulary: --out for outputs, --model for a model dir, --policy for an embedded policy name.

Renamed flags keep their old spelling (hidden from --help) with a one-line deprecation note on
stderr. The renames are discovered from the parsers (every action `prm.commands.vocab.add_renamed`
made), and RENAMED lists the ones that must exist, so a command cannot quietly drop one.
"""

from __future__ import annotations

import argparse
import importlib
import re

import pytest

from prm.cli import COMMANDS, _Formatter, main
from prm.commands.vocab import add_renamed

# (command, old spelling, new spelling) that must be accepted
RENAMED = [
    ("convert", "--output", "--out"),
    ("sample", "--output", "--out"),
    ("score", "--output", "--out"),
    ("segment", "--output", "--out"),
    ("verify", "--output", "--out"),
    ("train", "--output-dir", "--out"),
]


def parser_for(name: str) -> argparse.ArgumentParser:
    """The parser `prm NAME` uses (built as prm.cli.main builds it)."""
    module = importlib.import_module(COMMANDS[name][0])
    p = argparse.ArgumentParser(prog=f"prm {name}", formatter_class=_Formatter)
    module.add_arguments(p)
    return p


def renames() -> list[tuple[str, str, str]]:
    found = []
    for name in COMMANDS:
        for a in parser_for(name)._actions:
            found += [(name, old, a.option_strings[0]) for old in getattr(a, "old_spellings", ())]
    return found


def value_for(action) -> list[str]:
    if action.nargs == 0:
        return []
    return [str(action.choices[0]) if action.choices else "x.jsonl"]


def argv_with(parser, old: str) -> tuple[list[str], argparse.Action]:
    """Every required argument filled in, the renamed one (and only it) through `old`."""
    target = parser._option_string_actions[old]
    argv = []
    for a in parser._actions:
        if a is target:
            continue
        if not a.option_strings:
            argv += value_for(a)
        elif a.required:
            argv += [a.option_strings[0], *value_for(a)]
    return argv + [old, *value_for(target)], target


def test_every_required_rename_exists():
    assert set(RENAMED) <= set(renames())


@pytest.mark.parametrize("name,old,new", renames())
def test_old_spelling_still_works_and_says_it_is_deprecated(name, old, new, capsys):
    parser = parser_for(name)
    argv, target = argv_with(parser, old)
    args = parser.parse_args(argv)
    given = value_for(target)
    want = given[0] if given else target.const     # a store_true flag stores its const
    got = getattr(args, target.dest)
    assert (got[-1] if isinstance(got, list) else got) == want
    assert f"prm {name}: {old} is deprecated; use {new}" in capsys.readouterr().err


@pytest.mark.parametrize("name,old,new", renames())
def test_help_shows_only_the_new_spelling(name, old, new):
    text = parser_for(name).format_help()
    spelled = lambda flag: re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text)  # noqa: E731
    assert spelled(new) and not spelled(old)


@pytest.mark.parametrize("name,new", [(n, new) for n, _, new in RENAMED])
def test_new_spelling_prints_no_deprecation(name, new, capsys):
    parser = parser_for(name)
    argv, _ = argv_with(parser, new)
    parser.parse_args(argv)
    assert "deprecated" not in capsys.readouterr().err


def test_old_spelling_runs_the_command_end_to_end(tmp_path, capsys):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text('{"problem_id": "p", "text": "a\\n\\nb"}\n')
    assert main(["segment", "--input", str(src), "--output", str(out)]) == 0
    assert out.exists() and "prm segment: --output is deprecated; use --out" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the helper itself
@pytest.mark.parametrize("kwargs,argv,want", [
    ({"required": True}, ["--output", "a"], "a"),
    ({"required": True}, ["--out", "a"], "a"),
    ({"default": "d"}, [], "d"),
    ({"action": "append"}, ["--output", "a", "--out", "b"], ["a", "b"]),
    ({"action": "store_true"}, ["--output"], True),
    ({"type": int, "default": 0}, ["--output", "7"], 7),
])
def test_add_renamed_keeps_the_action_semantics(kwargs, argv, want):
    p = argparse.ArgumentParser(prog="prm t")
    add_renamed(p, "--out", "--output", **kwargs)
    assert p.parse_args(argv).out == want


def test_add_renamed_errors_name_the_new_spelling(capsys):
    p = argparse.ArgumentParser(prog="prm t")
    add_renamed(p, "--out", "--output", required=True)
    with pytest.raises(SystemExit):
        p.parse_args([])
    assert "required: --out" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        p.parse_args(["--output"])
    err = capsys.readouterr().err
    assert "argument --out: expected one argument" in err and "--output" not in err.splitlines()[-1]


def test_add_renamed_needs_an_old_spelling():
    with pytest.raises(ValueError, match="old spelling"):
        add_renamed(argparse.ArgumentParser(), "--out")
