"""`extract_program`: the program a model response asks to run, as a string.

The code counterpart of `verifiers.math.extract_answer`, and like it pure: text in, text out, no
judgment. Two things a response does that a test harness must undo:

- Markdown fences: a chat model wraps its program in ```python ... ```, often after some prose.
  With `code_block="auto"` the LAST fenced block is the program (an earlier block is usually a
  sketch or an example call); text without fences is the program as it is.
- Completions: a HumanEval-style model continues the prompt (the signature and docstring) with the
  body only. With `prompt="auto"` the prompt is prepended when the problem is a HumanEval problem
  and the program does not define the entry point itself; "always" / "never" force it.
"""

from __future__ import annotations

import re

FENCE = re.compile(r"```[ \t]*[\w+-]*[ \t]*\n(.*?)```", re.S)
CODE_BLOCK_MODES = ("auto", "none")
PROMPT_MODES = ("auto", "always", "never")


def extract_program(text: str, code_block: str = "auto") -> str:
    """The program to run: the last fenced code block in auto mode when there is one, else the text."""
    if code_block == "auto" and "```" in text:
        blocks = FENCE.findall(text)
        if blocks:
            return blocks[-1]
    return text


def needs_prompt(program: str, *, test_format: str | None, entry_point: str | None, prompt: str = "auto") -> bool:
    """Should the problem's prompt be prepended to `program` (a completion that continues it)?"""
    if prompt != "auto":
        return prompt == "always"
    defines = re.search(rf"^\s*(async\s+)?def\s+{re.escape(entry_point or '')}\s*\(", program, re.M)
    return test_format == "humaneval" and bool(entry_point) and not defines


def program_for(text: str, *, question: str, test_format: str | None, entry_point: str | None,
                code_block: str = "auto", prompt: str = "auto") -> str:
    """What runs for a response: the extracted program, with the prompt in front when it continues it."""
    program = extract_program(text, code_block)
    if needs_prompt(program, test_format=test_format, entry_point=entry_point, prompt=prompt):
        return question + program
    return program
