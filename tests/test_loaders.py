"""Loaders: public benchmark files -> Problem / StepwiseRecord.

Own tiny fixtures (tests/fixtures/loaders_*) check each converter and each error path; the
`shared_data` tests run the loaders over the real public files and skip where they are absent.
The hub path is tested with a fake `datasets.load_dataset`: no test touches the network.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from prm.errors import RecordError, UserError
from prm.loaders import (DATASETS, gsm8k_answer, gsm8k_reference, last_boxed, load_problems,
                         load_stepwise, mbpp_entry_point)
from prm.records import Problem, ReadStats, StepwiseRecord, read_problems

FIX = Path(__file__).parent / "fixtures"


# ----------------------------------------------------------------------------- pure helpers
@pytest.mark.parametrize("text, expected", [
    (r"so $\boxed{1}$", "1"),
    (r"$\boxed{\frac{1}{2}}$ then $\boxed{\left( 3, \frac{\pi}{2} \right)}$", r"\left( 3, \frac{\pi}{2} \right)"),
    (r"\fbox{204} minutes", "204"),
    (r"\framebox{x^2}", "x^2"),
    (r"\boxed {7}", "7"),
    (r"\boxed{\{1,2\}}", r"\{1,2\}"),
    ("no box here", None),
    (r"\boxed{unbalanced", None),
    (r"\boxed{1} and \boxed{2", "1"),       # an unclosed last box does not hide a closed earlier one
])
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


@pytest.mark.parametrize("solution, expected", [
    ("a\n#### 7", "7"),
    ("a\n#### 1,080", "1080"),
    ("a\n####   -3 ", "-3"),
    ("#### 1\n#### 2", "2"),                 # the last marker wins
    ("no marker", None),
])
def test_gsm8k_answer(solution, expected):
    assert gsm8k_answer(solution) == expected


def test_gsm8k_reference_strips_calculator_and_uses_math_separator():
    ref = gsm8k_reference("He has 3+4=<<3+4=7>>7.\n\nThen 7*2=<<7*2=14>>14.\n#### 14")
    assert ref == "He has 3+4=7.\n\nThen 7*2=14.\n\nThe answer is 14."


@pytest.mark.parametrize("tests, expected", [
    (["assert f(1) == 2"], "f"),
    (["assert set(similar_elements((3, 4), (4, 5))) == set((4,))"], "similar_elements"),
    (["assert math.isclose(circle_area(1), 3.14)"], "circle_area"),
    (["assert sorted(list(g([3, 1]))) == [1, 3]"], "g"),
    (["assert not is_odd(2)"], "is_odd"),
    (["assert 1 == 1"], None),
])
def test_mbpp_entry_point(tests, expected):
    assert mbpp_entry_point(tests) == expected


# ----------------------------------------------------------------------------- converters on own fixtures
def test_gsm8k_fixture():
    ps = load_problems("gsm8k", FIX / "loaders_gsm8k.jsonl")
    assert [p.id for p in ps] == ["gsm8k/loaders_gsm8k/0", "gsm8k/loaders_gsm8k/1", "gsm8k/loaders_gsm8k/41"]
    assert [p.answer for p in ps] == ["7", "2160", "7"]
    assert all(p.domain == "math" for p in ps)
    assert "<<" not in ps[1].metadata["reference"] and ps[1].metadata["reference"].endswith("The answer is 2160.")
    assert ps[1].metadata["solution"].endswith("#### 2,160")       # the source text is kept as it was


def test_split_tag_names_ids():
    ps = load_problems("gsm8k", FIX / "loaders_gsm8k.jsonl", split="test")
    assert ps[0].id == "gsm8k/test/0"


def test_math500_fixture_answer_field_then_boxed_fallback():
    ps = load_problems("math500", FIX / "loaders_math500.jsonl")
    assert ps[0].id == "test/algebra/1.json" and ps[0].answer == "1"
    assert ps[0].metadata["subject"] == "Algebra" and ps[0].metadata["level"] == 1
    # no `answer` field (MATH proper): the LAST box of the solution is the gold answer
    assert ps[1].answer == "1" and ps[1].id == "math/loaders_math500/1"
    assert load_problems("math", FIX / "loaders_math500.jsonl")[1].answer == "1"


@pytest.mark.parametrize("gz", [False, True])
def test_humaneval_fixture(tmp_path, gz):
    src = FIX / "loaders_humaneval.jsonl"
    if gz:
        path = tmp_path / "HumanEval.jsonl.gz"
        path.write_bytes(gzip.compress(src.read_bytes()))
    else:
        path = src
    (p,) = load_problems("humaneval", path)
    assert (p.id, p.domain, p.test_format, p.entry_point) == ("HumanEval/0", "code", "humaneval", "add")
    assert p.question.startswith("def add(a, b):")
    assert p.metadata["reference"] == p.question + "    return a + b\n"
    assert "def check(candidate)" in p.tests
    # the reference is a complete program that passes its own tests
    ns: dict = {}
    exec(p.metadata["reference"] + "\n" + p.tests, ns)
    ns["check"](ns[p.entry_point])


def test_mbpp_fixture():
    ps = load_problems("mbpp", FIX / "loaders_mbpp.json")
    assert [p.id for p in ps] == ["mbpp/2", "mbpp/9"]
    assert [p.entry_point for p in ps] == ["similar_elements", "circle_area"]
    assert ps[0].setup is None and ps[1].setup == "import math"
    assert ps[1].tests == ["assert math.isclose(circle_area(1), 3.14159, rel_tol=0.001)", "assert circle_area(0) == 0"]
    # the asserts are in the question: without them the function name is unknowable
    assert "circle_area(0)" in ps[1].question and ps[1].question.startswith("Write a function for the area")
    ns: dict = {}
    exec(ps[1].setup + "\n" + ps[1].metadata["reference"] + "\n" + "\n".join(ps[1].tests), ns)


def test_processbench_fixture_labels_follow_first_error():
    recs = load_stepwise("processbench", FIX / "loaders_processbench.json")
    assert [r.labels for r in recs] == [[True, True], [False, None, None], [True, False, None]]
    assert [r.extra["first_error"] for r in recs] == [-1, 0, 1]
    assert [r.extra["problem_id"] for r in recs] == ["pb-0", "pb-1", "pb-2"]
    assert recs[2].extra["judged"] == [True, True, False]
    assert recs[1].extra["final_answer_correct"] is False
    # round trip through the data contract
    again = StepwiseRecord.from_dict(json.loads(json.dumps(recs[2].to_dict())))
    assert again.labels == recs[2].labels and again.extra == recs[2].extra


@pytest.mark.parametrize("name", ["amc23", "olympiadbench", "minerva_math", "aime24"])
def test_qwen_eval_fixture(name):
    ps = load_problems(name, FIX / "loaders_qwen_eval.jsonl")
    assert [p.answer for p in ps] == ["27", r"\frac{1}{2 n+2}", "1.6"]
    assert [p.id for p in ps] == [f"{name}/0", f"{name}/1606", f"{name}/7"]
    assert ps[1].question == "Olympiad?" and ps[1].metadata["reference"] == "Long proof."


def test_limit():
    assert len(load_problems("gsm8k", FIX / "loaders_gsm8k.jsonl", limit=2)) == 2


def test_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = [json.loads(line) for line in (FIX / "loaders_gsm8k.jsonl").read_text().splitlines()]
    pq.write_table(pa.Table.from_pylist([{k: r[k] for k in ("question", "answer")} for r in rows]),
                   tmp_path / "test-00000-of-00001.parquet")
    ps = load_problems("gsm8k", tmp_path / "test-00000-of-00001.parquet")
    assert [p.answer for p in ps] == ["7", "2160", "7"]


# ----------------------------------------------------------------------------- bad input
def test_bad_rows_name_file_line_and_field():
    path = FIX / "loaders_bad.jsonl"
    with pytest.raises(RecordError) as e:
        load_problems("gsm8k", path)
    assert str(e.value) == f"{path}:2: field 'answer': no '#### N' final answer in the solution"


def test_skip_bad_counts_every_bad_row():
    stats = ReadStats()
    ps = load_problems("gsm8k", FIX / "loaders_bad.jsonl", skip_bad=True, stats=stats)
    assert [p.answer for p in ps] == ["1"]
    assert (stats.read, stats.skipped) == (1, 4)
    assert [m.split(": ", 1)[0].rsplit(":", 1)[1] for m in stats.errors] == ["2", "3", "4", "5"]
    assert "invalid JSON" in stats.errors[1] and "expected a JSON object" in stats.errors[2]
    assert "field 'question'" in stats.errors[3]


@pytest.mark.parametrize("row, field, words", [
    ({"id": "x", "problem": "p", "steps": ["a"], "label": 1}, "label", "below 1"),
    ({"id": "x", "problem": "p", "steps": ["a"], "label": True}, "label", "got bool"),
    ({"id": "x", "problem": "p", "steps": "a", "label": -1}, "steps", "expected list"),
    ({"id": "x", "steps": ["a"], "label": -1}, "problem", "missing"),
])
def test_processbench_bad_rows(tmp_path, row, field, words):
    path = tmp_path / "pb.json"
    path.write_text(json.dumps([row]))
    with pytest.raises(RecordError) as e:
        load_stepwise("processbench", path)
    assert f"{path}:[0]: field '{field}'" in str(e.value) and words in str(e.value)


def test_duplicate_ids_refused(tmp_path):
    path = tmp_path / "he.jsonl"
    line = (FIX / "loaders_humaneval.jsonl").read_text()
    path.write_text(line + line)
    with pytest.raises(RecordError, match=r"he.jsonl:2: field 'id': duplicate problem id 'HumanEval/0'"):
        load_problems("humaneval", path)


@pytest.mark.parametrize("content, words", [
    ("[1, 2", "invalid JSON"),
    ('"a string"', "expected a JSON list"),
])
def test_bad_json_files(tmp_path, content, words):
    path = tmp_path / "x.json"
    path.write_text(content)
    with pytest.raises(UserError, match=words):
        load_problems("mbpp", path)


def test_bad_gzip(tmp_path):
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(UserError, match="cannot read"):
        load_problems("humaneval", path)


def test_wrong_kind_and_unknown_dataset(tmp_path):
    with pytest.raises(UserError, match="load_stepwise"):
        load_problems("processbench", FIX / "loaders_processbench.json")
    with pytest.raises(UserError, match="load_problems"):
        load_stepwise("gsm8k", FIX / "loaders_gsm8k.jsonl")
    with pytest.raises(UserError, match="unknown dataset 'gsm9k'; known: gsm8k"):
        load_problems("gsm9k", FIX / "loaders_gsm8k.jsonl")
    with pytest.raises(UserError, match="no such file"):
        load_problems("gsm8k", tmp_path / "missing.jsonl")
    with pytest.raises(UserError, match="not both"):
        load_problems("gsm8k", FIX / "loaders_gsm8k.jsonl", hub="openai/gsm8k")


# ----------------------------------------------------------------------------- hub path (faked)
class FakeHub:
    def __init__(self, rows=None, error=None):
        self.rows, self.error, self.calls = rows or [], error, []

    def __call__(self, path, config=None, *, split=None, revision=None):
        self.calls.append((path, config, split, revision))
        if self.error:
            raise self.error
        return iter(self.rows)


def test_hub_uses_default_location(monkeypatch):
    datasets = pytest.importorskip("datasets")
    fake = FakeHub([{"question": "q", "answer": "x\n#### 5"}])
    monkeypatch.setattr(datasets, "load_dataset", fake)
    ps = load_problems("gsm8k")
    assert fake.calls == [("openai/gsm8k", "main", "test", None)]
    assert [(p.id, p.answer) for p in ps] == [("gsm8k/test/0", "5")]
    load_problems("gsm8k", split="train", revision="abc")
    assert fake.calls[-1] == ("openai/gsm8k", "main", "train", "abc")
    load_problems("gsm8k", hub="someone/gsm8k-copy")
    assert fake.calls[-1] == ("someone/gsm8k-copy", None, "test", None)


def test_hub_errors_become_one_line(monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets, "load_dataset", FakeHub(error=ConnectionError("offline\nlong traceback text")))
    with pytest.raises(UserError) as e:
        load_problems("math500")
    assert "HuggingFaceH4/MATH-500" in str(e.value) and "ConnectionError: offline" in str(e.value)
    assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="no default hub location"):
        load_problems("olympiadbench")


def test_import_touches_no_network_module():
    code = "import sys, prm.loaders, prm.commands.data; print('datasets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- CLI
def test_cli_convert_and_list(tmp_path, capsys):
    from prm.cli import main

    out = tmp_path / "problems.jsonl"
    assert main(["data", "convert", "--dataset", "mbpp", "--input", str(FIX / "loaders_mbpp.json"),
                 "--out", str(out)]) == 0
    problems = read_problems(out)
    assert list(problems) == ["mbpp/2", "mbpp/9"] and problems["mbpp/9"].setup == "import math"
    assert main(["data", "list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in DATASETS)


def test_cli_bad_input_exit_2_and_no_partial_file(tmp_path, capsys):
    from prm.cli import main

    out = tmp_path / "problems.jsonl"
    assert main(["data", "convert", "--dataset", "gsm8k", "--input", str(FIX / "loaders_bad.jsonl"),
                 "--out", str(out)]) == 2
    assert "loaders_bad.jsonl:2: field 'answer'" in capsys.readouterr().err
    assert not out.exists()
    assert main(["data", "convert", "--dataset", "gsm8k", "--input", str(FIX / "loaders_bad.jsonl"),
                 "--out", str(out), "--skip-bad"]) == 1
    assert len(out.read_text().splitlines()) == 1


def test_cli_processbench_writes_stepwise(tmp_path):
    from prm.cli import main
    from prm.records import read_records

    out = tmp_path / "pb.jsonl"
    assert main(["data", "convert", "--dataset", "processbench", "--input",
                 str(FIX / "loaders_processbench.json"), "--out", str(out)]) == 0
    assert [r.extra["first_error"] for r in read_records(out, "stepwise")] == [-1, 0, 1]


# ----------------------------------------------------------------------------- the real public files
SHARED = [  # (dataset, file, records, first id, first answer)
    ("gsm8k", "gsm8k/test.jsonl", 1319, "gsm8k/test/0", "18"),
    ("gsm8k", "gsm8k/train.jsonl", 7473, "gsm8k/train/0", "72"),
    ("gsm8k", "qwen25math_eval/gsm8k_test.jsonl", 1319, "gsm8k/test/0", "18"),
    ("math500", "math500/test.jsonl", 500, "test/precalculus/807.json", r"\left( 3, \frac{\pi}{2} \right)"),
    ("humaneval", "humaneval/HumanEval.jsonl.gz", 164, "HumanEval/0", None),
    ("mbpp", "mbpp/sanitized-mbpp.json", 427, "mbpp/2", None),
    ("aime24", "qwen25math_eval/aime24_test.jsonl", 30, "aime24/60", "204"),
    ("amc23", "qwen25math_eval/amc23_test.jsonl", 40, "amc23/0", "27"),
    ("minerva_math", "qwen25math_eval/minerva_math_test.jsonl", 272, "minerva_math/0", "1.6"),
    ("olympiadbench", "qwen25math_eval/olympiadbench_test.jsonl", 675, "olympiadbench/1606", "2"),
]


@pytest.mark.parametrize("name, rel, count, first_id, first_answer", SHARED, ids=[s[1] for s in SHARED])
def test_shared_files(shared_data, name, rel, count, first_id, first_answer):
    ps = load_problems(name, shared_data / rel)
    assert len(ps) == count and len({p.id for p in ps}) == count
    assert ps[0].id == first_id
    if first_answer is not None:
        assert ps[0].answer == first_answer
    # every record survives the data contract's own validation after a JSON round trip
    for p in ps:
        assert Problem.from_dict(json.loads(json.dumps(p.to_dict()))).to_dict() == p.to_dict()
    if DATASETS[name].domain == "code":
        assert all(p.entry_point and p.metadata.get("reference") for p in ps)


@pytest.mark.parametrize("rel", ["processbench/olympiadbench.json", "processbench/omnimath.json"])
def test_shared_processbench(shared_data, rel):
    raw = json.loads((shared_data / rel).read_text())
    recs = load_stepwise("processbench", shared_data / rel)
    assert len(recs) == len(raw) == 1000
    for r, src in zip(recs, raw):
        fe = r.extra["first_error"]
        assert fe == src["label"] and r.completions == src["steps"]
        assert all(r.labels[:fe] if fe >= 0 else r.labels)
        if fe >= 0:
            assert r.labels[fe] is False and all(x is None for x in r.labels[fe + 1:])


def test_shared_humaneval_references_pass_their_tests(shared_data):
    """The reference we build (prompt + canonical solution) must be a program that passes `check`."""
    ps = load_problems("humaneval", shared_data / "humaneval/HumanEval.jsonl.gz")
    for p in ps[:20]:  # in-process on trusted canonical code; the first 20 keep this fast
        ns: dict = {}
        exec(p.metadata["reference"] + "\n" + p.tests, ns)
        ns["check"](ns[p.entry_point])


def test_shared_gsm8k_reference_answers_match_gold(shared_data):
    """The rewritten GSM8K reference ends with the gold answer, as the math verifier will read it."""
    for p in load_problems("gsm8k", shared_data / "gsm8k/test.jsonl"):
        assert p.metadata["reference"].endswith(f"The answer is {p.answer}.")


@pytest.mark.parametrize("name, rel", [("gsm8k", "gsm8k/test.jsonl"), ("math500", "math500/test.jsonl"),
                                       ("minerva_math", "qwen25math_eval/minerva_math_test.jsonl")])
def test_shared_references_grade_correct_against_loaded_gold(shared_data, name, rel):
    """Integration with verifiers.math: the gold we extract and the reference we keep agree, as the
    verifier sees them (a wrong `####` / `\\boxed{}` extraction would show up here)."""
    vm = pytest.importorskip("verifiers.math")
    ps = load_problems(name, shared_data / rel)[:100]
    wrong = [(p.id, p.answer, v.reason) for p in ps if (v := vm.grade(p.metadata["reference"], p.answer)).correct is not True]
    assert wrong == []
