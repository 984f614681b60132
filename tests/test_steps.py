"""Segmentation: every splitter joins back to the exact text; edge cases from real model output."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prm.steps import clean_steps, guess_sep, join_steps, split_code_steps, split_on_markers, split_steps

# text drawn from an alphabet rich in the characters that make separators ambiguous
TEXT = st.lists(st.sampled_from(list("ab1 =\n\r\t#*:.Sstep") + ["Step 1:", "## Step 2", "é", "∑", "\u2212", "😀"]),
               max_size=120).map("".join)
SEPS = st.sampled_from(["\n\n", "\n", "\r\n\r\n", " ки\n", "<step>"])


@settings(max_examples=400, deadline=None)
@given(text=TEXT, sep=SEPS)
def test_separator_split_round_trips(text, sep):
    steps = split_steps(text, sep)
    assert join_steps(steps, sep) == text
    assert all(sep not in s for s in steps)


@settings(max_examples=300, deadline=None)
@given(text=TEXT)
def test_marker_split_round_trips(text):
    assert "".join(split_on_markers(text)) == text


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_code_split_round_trips_on_arbitrary_text(text):
    assert "\n".join(split_code_steps(text)) == text


@pytest.mark.parametrize("text,sep,expected", [
    ("", "\n\n", []),
    ("\n\n", "\n\n", ["", ""]),
    ("\n\n\n\n", "\n\n", ["", "", ""]),
    ("a\n\nb", "\n\n", ["a", "b"]),
    ("a\n\nb\n\n", "\n\n", ["a", "b", ""]),           # trailing separator kept as an empty last step
    ("a\n\n\nb", "\n\n", ["a", "\nb"]),               # odd newline count: nothing invented, nothing lost
    ("a\r\n\r\nb", "\n\n", ["a\r\n\r\nb"]),           # CRLF is not the LF separator...
    ("a\r\n\r\nb", "\r\n\r\n", ["a", "b"]),           # ...unless asked for
    ("x = 1\ny = 2", "\n", ["x = 1", "y = 2"]),
    ("é∑\n\n−3 = −3", "\n\n", ["é∑", "−3 = −3"]),
])
def test_split_table(text, sep, expected):
    assert split_steps(text, sep) == expected
    assert join_steps(expected, sep) == text


def test_empty_separator_refused():
    with pytest.raises(ValueError):
        split_steps("abc", "")


@pytest.mark.parametrize("text,expected", [
    ("a\r\n\r\nb", "\r\n\r\n"),
    ("a\n\nb", "\n\n"),
    ("a\r\n\r\nb\n\nc", "\n\n"),
    ("abc", "\n\n"),
])
def test_guess_sep(text, expected):
    assert guess_sep(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("Step 1: add 2 and 3.\nStep 2: 2 + 3 = 5.\n", ["Step 1: add 2 and 3.\n", "Step 2: 2 + 3 = 5.\n"]),
    ("Intro.\n## Step 1\nx\n## Step 2\ny", ["Intro.\n", "## Step 1\nx\n", "## Step 2\ny"]),
    ("**Step 1:** a\n**Step 2:** b", ["**Step 1:** a\n", "**Step 2:** b"]),
    ("We Step 1 inside a line", ["We Step 1 inside a line"]),  # only at a line start
    ("", []),
])
def test_marker_table(text, expected):
    assert split_on_markers(text) == expected


@pytest.mark.parametrize("code,expected", [
    ("def f(x):\n    y = x + 1\n    return y * 2\n",
     ["def f(x):", "    y = x + 1", "    return y * 2\n"]),
    ("import math\n\ndef f(x):\n    # square root\n    r = math.sqrt(x)\n    if r > 2:\n        r -= 1\n    return r",
     ["import math\n", "def f(x):\n    # square root", "    r = math.sqrt(x)", "    if r > 2:\n        r -= 1", "    return r"]),
    ("@decorator\ndef f():\n    return 1", ["@decorator\ndef f():", "    return 1"]),
    # two functions: top-level statements only
    ("def f():\n    return 1\ndef g():\n    return 2", ["def f():\n    return 1", "def g():\n    return 2"]),
    # unparsable: one step per line
    ("def f(:\n    return", ["def f(:", "    return"]),
    ("x = 1\r\ny = 2\r\n", ["x = 1\r", "y = 2\r\n"]),
    ("", []),
    ("# only a comment", ["# only a comment"]),
    ('s = """a\n\nb"""\nt = 1', ['s = """a\n\nb"""', "t = 1"]),  # a multi-line string is one statement
])
def test_code_table(code, expected):
    assert split_code_steps(code) == expected
    assert "\n".join(expected) == code


def test_clean_steps_strips_and_drops_blank():
    assert clean_steps(["  a ", "", "\n", "b\n"]) == ["a", "b"]
