"""`prm verify`: one pair, a file of pairs/responses, and clear errors for bad input."""

from __future__ import annotations

import json

import pytest

from prm.cli import main


@pytest.mark.parametrize("argv,code,word", [
    (["--gold", r"\frac{1}{2}", "--pred", "0.5"], 0, "correct"),
    (["--gold", "3", "--pred", "3, 4"], 1, "wrong"),
    (["--gold", "36", "--response", "so 3 * 12 = 36 pens. The answer is 36."], 0, "correct"),
    (["--gold", "36", "--response", "no answer here", "--no-fallback"], 1, "wrong"),
])
def test_single_pair(capsys, argv, code, word):
    assert main(["verify", *argv]) == code
    assert capsys.readouterr().out.startswith(word)


# Issue 25: `prm verify` grades through `verifiers.math.grade`, the path every labeler and reward
# takes; each row below was graded differently by the old extract-then-verify path.
MULTIPART = r"(a) The smaller root is $\boxed{2}$. (b) The larger one is $\boxed{3}$."
WORKED_GOLD = r"Both roots follow from the factorization $(x-2)(x-3)=0$. The answer is $\boxed{2, 3}$."


@pytest.mark.parametrize("argv,code,word", [
    (["--gold", "2, 3", "--response", MULTIPART], 0, "correct"),             # a multi-part gold, one box per part
    (["--gold", "2, 4", "--response", MULTIPART], 1, "wrong"),               # must stay wrong: one part differs
    (["--gold", WORKED_GOLD, "--response", r"so $\boxed{3, 2}$"], 0, "correct"),  # the gold is a worked solution
    (["--gold", WORKED_GOLD, "--response", r"so $\boxed{3}$"], 1, "wrong"),  # must stay wrong: a part missing
    (["--gold", WORKED_GOLD, "--pred", "2, 3"], 0, "correct"),
    (["--gold", "7", "--response", "7 * 2 / 2 = 7\n#### 7 apples for 2 friends"], 0, "correct"),
])
def test_single_pair_grades_like_the_rest_of_the_toolkit(capsys, argv, code, word):
    from verifiers.math import grade

    assert main(["verify", *argv]) == code
    out = capsys.readouterr().out
    assert out.startswith(word)
    gold, text = argv[1], argv[3]
    assert (grade(text, gold).correct is True) == (code == 0)  # the library call agrees


def test_file_of_pairs_and_responses(tmp_path, capsys):
    f = tmp_path / "in.jsonl"
    rows = [{"gold": "1/2", "pred": "0.5"}, {"gold": "3", "response": r"so \boxed{4}"}, {"gold": 5, "pred": "5.0"},
            {"gold": r"\sqrt{2}", "pred": r"\frac{2}{\sqrt{2}}"}]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["verify", "--file", str(f), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    summary = json.loads(printed.strip().splitlines()[-1])
    assert summary["pairs"] == 4 and summary["correct"] == 3 and summary["wrong"] == 1
    assert "line 2: wrong" in printed
    graded = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["verdict"] for g in graded] == [True, False, True, True]
    assert graded[1]["extracted"] == "4"


@pytest.mark.parametrize("content,message", [
    ('{"gold": "1"}\n', "in.jsonl:1: needs `pred` or `response`"),
    ('{"pred": "1"}\n', "in.jsonl:1: field 'gold'"),
    ('{"gold": "1", "pred": "1"}\nnot json\n', "in.jsonl:2"),
    ('{"gold": "1", "pred": ["1"]}\n', "field 'pred'"),
    ("", "no records"),
])
def test_bad_files_name_file_line_field(tmp_path, capsys, content, message):
    f = tmp_path / "in.jsonl"
    f.write_text(content)
    assert main(["verify", "--file", str(f)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_arguments(capsys, tmp_path):
    assert main(["verify", "--gold", "3"]) == 2
    assert main(["verify", "--gold", "3", "--pred", "3", "--timeout", "0"]) == 2
    assert main(["verify", "--file", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
