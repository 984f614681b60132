"""The tiny tokenizer: continuing from a step prefix must give the model the tokens it was trained on."""

import pytest

from prm.steps import split_code_steps
from prm.tiny import build_tokenizer

CODE = "def encode(s):\n    s = 'qq' + s\n    s = s[::-1]\n    return s * 2\n"
MATH = "He buys 3 boxes, so 3 * 12 = 36 pens.\n\nHe gives 5 away, so 36 - 5 = 31.\n\nThe answer is 31."


@pytest.mark.parametrize("isolate,expect_prefix", [(True, True), (False, False)])
def test_step_prefix_tokens_are_a_prefix_of_the_full_text(isolate, expect_prefix):
    tok = build_tokenizer([CODE, MATH] * 30, 300, individual_digits=True, isolate_newlines=isolate)
    ids = lambda text: tok(text)["input_ids"]  # noqa: E731
    steps = split_code_steps(CODE)
    ok = all(ids(CODE)[:len(ids("\n".join(steps[:k]) + "\n"))] == ids("\n".join(steps[:k]) + "\n")
             for k in range(1, len(steps)))
    # without isolated newlines, "\n    " is one token in training but a prefix ends in a lone "\n"
    assert ok is expect_prefix
    full = ids(MATH)
    first = MATH.split("\n\n")[0] + "\n\n"
    assert full[:len(ids(first))] == ids(first)
    assert tok.decode(ids(CODE)) == CODE
