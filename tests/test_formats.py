"""Format adapters: hand-made fixtures with labels worked out by hand, round trips, bad rows, the
`prm convert` CLI, and the public samples in ../shared/data/step_labeled (skipped when absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prm.cli import main
from prm.errors import RecordError, UserError
from prm.formats import READERS, WRITERS, read_format, write_format
from prm.records import ReadStats, StepwiseRecord, read_records

FX = Path(__file__).parent / "fixtures"


def read(name, file, **opts):
    return list(read_format(name, FX / file, **opts))


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_every_record_fits_the_data_contract():
    for name, file in [("prm800k", "fmt_prm800k.jsonl"), ("math-shepherd", "fmt_math_shepherd.jsonl"),
                       ("math-aps", "fmt_math_aps.jsonl"), ("processbench", "fmt_processbench.json"),
                       ("prmbench", "fmt_prmbench.jsonl"), ("birm", "fmt_birm.jsonl")]:
        recs = read(name, file)
        assert recs, name
        for r in recs:
            again = StepwiseRecord.from_dict(json.loads(json.dumps(r.to_dict())))
            assert again.labels == r.labels and again.completions == r.completions
            assert r.extra["source_format"] == name and r.extra["domain"] == "math"


# ----------------------------------------------------------------------------- prm800k
@pytest.mark.parametrize("neutral,second", [("negative", [True, False, False]), ("positive", [True, True, False]),
                                            ("unlabeled", [True, None, False])])
def test_prm800k_follows_the_labelers_trajectory(neutral, second):
    a, b = read("prm800k", "fmt_prm800k.jsonl", neutral=neutral)
    # human completion replaces the rejected step and counts as correct; chosen completion 1 is used
    assert a.completions == ["One box holds 4 + 6 = 10 marbles.", "Three boxes hold 3 * 10 = 30 marbles.",
                             "# Answer\n\n30"]
    assert a.labels == [True, True, True] and a.extra["first_error"] == -1 and a.extra["answer"] == "30"
    # found_error: the trajectory ends at the first -1 completion; neutral rating follows the option
    assert b.completions[-1] == "Three boxes hold 31 marbles."
    assert b.labels == second
    assert b.extra["first_error"] == {"negative": 1, "positive": 2, "unlabeled": None}[neutral]
    assert b.extra["finish_reason"] == "found_error" and b.extra["neutral"] == neutral


# ----------------------------------------------------------------------------- math-shepherd
def test_math_shepherd_read_and_byte_exact_write(tmp_path):
    good, bad = read("math-shepherd", "fmt_math_shepherd.jsonl")
    assert good.prompt == "Sam has 3 bags with 5 apples each and eats 2. How many apples are left?"
    assert good.completions[0] == "Step 1: Sam has 3 * 5 = <<3*5=15>>15 apples."
    assert good.labels == [True, True] and good.extra["first_error"] == -1
    assert bad.labels == [False, False] and bad.extra["first_error"] == 0 and bad.extra["task"] == "GSM8K"
    out = tmp_path / "ms.jsonl"
    write_format("math-shepherd", [good, bad], out)
    assert rows(out) == rows(FX / "fmt_math_shepherd.jsonl")


@pytest.mark.parametrize("row,msg", [
    ({"input": "Q Step 1: a ки\nStep 2: b ки", "label": "Q Step 1: a +\nStep 2: b + more"}, "label is longer"),
    ({"input": "Q Step 1: a ки\nStep 2: b ки", "label": "Q Step 1: a +\nStep 2: b"}, "tag 2 does not match"),
    ({"input": "Q Step 1: a ки\nStep 2: b ки", "label": "Q Step 1: a +\nStep 2: c +"}, "does not match"),
    ({"input": "Q Step 1: a ки", "label": "Q Step 1: a ?"}, r"expected '\+' or '-'"),
    ({"input": "Q Step 1: a", "label": "Q Step 1: a"}, "no step tag"),
    ({"input": "Q a ки", "label": "Q a +"}, "Step 1"),
    ({"input": "Q Step 1: a ки"}, "field 'label'"),
])
def test_math_shepherd_misaligned_rows_are_errors(tmp_path, row, msg):
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(row) + "\n")
    with pytest.raises(RecordError, match=msg) as e:
        list(read_format("math-shepherd", f))
    assert f"{f}:1" in str(e.value)


def test_math_shepherd_write_rules(tmp_path):
    soft = StepwiseRecord("Q", ["Step 1: a", "Step 2: b", "Step 3: c"], [0.25, 0.0, 1.0])
    with pytest.raises(RecordError, match="soft label 0.25.*--threshold"):  # +/- only: no silent threshold
        write_format("math-shepherd", [soft], tmp_path / "a.jsonl")
    write_format("math-shepherd", [soft], tmp_path / "a.jsonl", threshold=0.0)
    assert rows(tmp_path / "a.jsonl")[0]["label"] == "Q Step 1: a +\nStep 2: b -\nStep 3: c +"
    write_format("math-shepherd", [soft], tmp_path / "b.jsonl", threshold=0.5)
    assert rows(tmp_path / "b.jsonl")[0]["label"] == "Q Step 1: a -\nStep 2: b -\nStep 3: c +"
    unl = StepwiseRecord("Q", ["Step 1: a"], [None], {"sample_id": "s9"})
    with pytest.raises(RecordError, match="s9.*no label"):
        write_format("math-shepherd", [unl], tmp_path / "c.jsonl")
    assert not (tmp_path / "c.jsonl").exists()  # atomic: nothing half-written
    st = ReadStats()
    assert write_format("math-shepherd", [unl, soft], tmp_path / "d.jsonl", skip_bad=True, stats=st) == 0
    assert st.skipped == 2  # no label; a soft label with no threshold
    assert write_format("math-shepherd", [unl, soft], tmp_path / "d.jsonl", skip_bad=True, stats=st,
                        threshold=0.0) == 1
    # a read of the written file gives the records back
    back = list(read_format("math-shepherd", tmp_path / "a.jsonl"))
    assert back[0].completions == soft.completions and back[0].labels == [True, False, True]


# ----------------------------------------------------------------------------- math-aps
@pytest.mark.parametrize("label", ["soft", "hard"])
def test_math_aps_rebuilds_the_prefix_tree(label):
    recs = read("math-aps", "fmt_math_aps.jsonl", label=label)
    assert len(recs) == 2  # two leaves
    by_first = {r.completions[0]: r for r in recs}
    right, wrong = by_first["First 3 * 4 = 12."], by_first["First 2 + 3 = 5."]
    assert right.completions == ["First 3 * 4 = 12.", "Then 2 + 12 = 14, so the answer is \\boxed{14}."]
    assert right.extra["mc_values"] == [1.0, 1.0]  # the repeated prefix keeps its first value
    assert wrong.extra["mc_values"] == [0.0, 0.0] and wrong.extra["first_error"] == 0
    assert right.extra["question_mc_value"] == 0.5 and right.extra["problem_id"] == "7"
    assert wrong.labels == ([0.0, 0.0] if label == "soft" else [False, False])


# ----------------------------------------------------------------------------- processbench
@pytest.mark.parametrize("after,expected", [("unlabeled", [False, None, None]), ("incorrect", [False, False, False])])
def test_processbench_read(after, expected):
    ok, bad = read("processbench", "fmt_processbench.json", after_error=after)
    assert ok.labels == [True, True, True] and ok.extra["first_error"] == -1
    assert bad.labels == expected and bad.extra["first_error"] == 0 and bad.extra["generator"] == "tiny"


def test_processbench_round_trip(tmp_path):
    recs = read("processbench", "fmt_processbench.json")
    write_format("processbench", recs, tmp_path / "pb.jsonl")
    assert rows(tmp_path / "pb.jsonl") == json.loads((FX / "fmt_processbench.json").read_text())
    # first error computed from labels when the column is absent; unknown -> error
    assert WRITERS["processbench"](StepwiseRecord("q", ["a", "b"], [True, 0.0]))["label"] == 1
    with pytest.raises(RecordError, match="unknown"):
        WRITERS["processbench"](StepwiseRecord("q", ["a", "b"], [None, False]))


# ----------------------------------------------------------------------------- prmbench / birm
def test_prmbench_error_steps_are_one_based():
    (rec,) = read("prmbench", "fmt_prmbench.jsonl")
    assert rec.labels == [True, False, True, False] and rec.extra["first_error"] == 1
    assert rec.extra["classification"] == "calculation" and rec.extra["sample_id"] == "fmt_prmbench_0"
    (orig,) = read("prmbench", "fmt_prmbench.jsonl", process="original")
    assert orig.labels == [True, True, True] and orig.extra["first_error"] == -1


def test_prmbench_out_of_range_error_step(tmp_path):
    row = json.loads((FX / "fmt_prmbench.jsonl").read_text())
    row["error_steps"] = [0]
    (tmp_path / "b.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(RecordError, match="1-based"):
        list(read_format("prmbench", tmp_path / "b.jsonl"))


@pytest.mark.parametrize("field,first", [("step_h_label", [True, True, True]), ("step_s_label", [0.75, 1.0, 1.0]),
                                         ("step_labels", [True, True, False])])
def test_birm_label_columns(field, first):
    recs = read("birm", "fmt_birm.jsonl", labels=field)
    assert len(recs) == 3 and recs[0].completions == ["3 * 4 = 12", "2 + 12 = 14", "The answer is: 14"]
    assert recs[0].labels == first and recs[0].extra["mc_values"] == [0.75, 1.0, 1.0]
    assert recs[0].prompt == "What is 2 + 3 * 4?" and recs[0].extra["outcome"] is True
    assert [r.extra["sample_id"] for r in recs] == ["11:0", "11:1", "11:2"]
    assert recs[2].extra["first_error"] == (1 if field != "step_labels" else 1)


def test_birm_tag_count_mismatch_is_an_error(tmp_path):
    row = json.loads((FX / "fmt_birm.jsonl").read_text())
    row["outputs"][1]["step_h_label"] = [False, False]
    (tmp_path / "b.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(RecordError, match=r"outputs\[1\].step_h_label"):
        list(read_format("birm", tmp_path / "b.jsonl"))


# ----------------------------------------------------------------------------- dispatch, options
def test_unknown_options_and_formats_are_user_errors():
    with pytest.raises(UserError, match="neutral"):
        list(read_format("birm", FX / "fmt_birm.jsonl", neutral="positive"))
    with pytest.raises(UserError, match="formats"):
        list(read_format("nope", FX / "fmt_birm.jsonl"))
    with pytest.raises(UserError, match="must be one of"):
        list(read_format("prm800k", FX / "fmt_prm800k.jsonl", neutral="maybe"))
    assert set(WRITERS) <= set(READERS)


def test_skip_bad_counts_rows(tmp_path):
    f = tmp_path / "mixed.jsonl"
    good = (FX / "fmt_math_shepherd.jsonl").read_text().splitlines()
    f.write_text("\n".join([good[0], "{oops", json.dumps({"input": "x"}), good[1]]) + "\n")
    st = ReadStats()
    recs = list(read_format("math-shepherd", f, skip_bad=True, stats=st))
    assert len(recs) == 2 and st.read == 2 and st.skipped == 2
    assert any(f"{f}:2" in e for e in st.errors) and any(f"{f}:3" in e for e in st.errors)


# ----------------------------------------------------------------------------- CLI
def test_cli_convert_chain(tmp_path, capsys):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main(["convert", "--from", "math-shepherd", "--to", "stepwise", "--input",
                 str(FX / "fmt_math_shepherd.jsonl"), "--out", str(a)]) == 0
    assert len(read_records(a, "stepwise")) == 2
    assert main(["convert", "--from", "stepwise", "--to", "math-shepherd", "--input", str(a), "--out", str(b)]) == 0
    assert rows(b) == rows(FX / "fmt_math_shepherd.jsonl")
    assert "2 rows -> 2 math-shepherd records" in capsys.readouterr().out


def test_cli_convert_option_for_wrong_format_is_one_line_error(tmp_path, capsys):
    assert main(["convert", "--from", "birm", "--to", "stepwise", "--input", str(FX / "fmt_birm.jsonl"),
                 "--out", str(tmp_path / "x.jsonl"), "--neutral", "positive"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--neutral applies to reading 'prm800k' only" in err[0]


def test_cli_convert_bad_row_stops_with_location(tmp_path, capsys):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"input": "Q Step 1: a ки", "label": "Q Step 1: a ?"}\n')
    assert main(["convert", "--from", "math-shepherd", "--to", "stepwise", "--input", str(f), "--out",
                 str(tmp_path / "o.jsonl")]) == 2
    assert f"{f}:1: field 'label'" in capsys.readouterr().err
    assert main(["convert", "--from", "math-shepherd", "--to", "stepwise", "--input", str(f), "--out",
                 str(tmp_path / "o.jsonl"), "--skip-bad"]) == 1


# ----------------------------------------------------------------------------- public samples
def test_shared_math_shepherd_samples_round_trip_byte_exact(shared_data, tmp_path):
    src = shared_data / "step_labeled" / "openr" / "samples_math-shepherd.jsonl"
    recs = list(read_format("math-shepherd", src))
    assert len(recs) == 7 and all(r.labels and None not in r.labels for r in recs)
    # the released file's labels: count '+' / '-' against what we read
    for line, r in zip([json.loads(x) for x in src.read_text().splitlines()], recs):
        assert line["label"].count(" +\n") + line["label"].endswith(" +") == sum(r.labels)
    write_format("math-shepherd", recs, tmp_path / "ms.jsonl")
    assert rows(tmp_path / "ms.jsonl") == rows(src)


def test_shared_prm800k_samples(shared_data):
    src = shared_data / "step_labeled" / "openr_samples_prm800k.jsonl"
    neg = list(read_format("prm800k", src))
    pos = list(read_format("prm800k", src, neutral="positive"))
    assert len(neg) == len(pos) == 6
    raw = [json.loads(x) for x in src.read_text().splitlines()]
    for r, n in zip(raw, neg):
        assert n.prompt == r["question"]["problem"]
        assert len(n.completions) <= len(r["label"]["steps"])
        if r["label"]["finish_reason"] == "found_error":
            assert n.labels[-1] is False  # the trajectory ends at the error
    assert sum(v is True for r in pos for v in r.labels) > sum(v is True for r in neg for v in r.labels)


def test_shared_math_aps_samples(shared_data):
    src = shared_data / "step_labeled" / "openr" / "samples_math-aps.jsonl"
    raw = [json.loads(x) for x in src.read_text().splitlines()]
    recs = list(read_format("math-aps", src))
    assert len(recs) >= len(raw)
    for r in recs:
        q = r.prompt
        node_values = {n["mc_value"] for row in raw if row["question"] == q for n in row["reasoning_steps"]}
        assert all(v in node_values for v in r.extra["mc_values"])
        assert all(isinstance(v, float) for v in r.labels)


def test_shared_processbench(shared_data):
    recs = list(read_format("processbench", shared_data / "processbench" / "olympiadbench.json"))
    assert len(recs) == 1000
    raw = json.loads((shared_data / "processbench" / "olympiadbench.json").read_text())
    assert [r.extra["first_error"] for r in recs] == [x["label"] for x in raw]


def test_shared_birm(shared_data):
    for f in sorted((shared_data / "step_labeled" / "birm").glob("*.jsonl")):
        st = ReadStats()
        recs = list(read_format("birm", f, skip_bad=True, stats=st))
        assert st.skipped == 0 and len(recs) == 150
        for r in recs:
            assert len(r.labels) == len(r.completions) == len(r.extra["mc_values"])


# ----------------------------------------------------------------------------- openrlhf
def test_openrlhf_round_trip_keeps_soft_labels(tmp_path):
    soft = StepwiseRecord("Q?", ["Step 1: a", "Step 2: b"], [0.75, 0.0])
    hard = StepwiseRecord("Q?", ["Step 1: a", "Step 2: b"], [True, False])
    write_format("openrlhf", [soft, hard], tmp_path / "o.jsonl")
    got = rows(tmp_path / "o.jsonl")
    assert got[0] == {"input": "Q? Step 1: a ки\nStep 2: b ки", "value": [0.75, 0.0]}
    assert got[1]["value"] == ["+", "-"]
    back = list(read_format("openrlhf", tmp_path / "o.jsonl"))
    assert [r.labels for r in back] == [[0.75, 0.0], [True, False]]
    assert back[0].completions == soft.completions and back[0].prompt == "Q?" and back[1].extra["first_error"] == 1


@pytest.mark.parametrize("row,msg", [
    ({"input": "Q Step 1: a ки\nStep 2: b ки", "value": ["+"]}, "1 values for 2 step tags"),
    ({"input": "Q Step 1: a ки", "value": ["?"]}, "expected '"),
    ({"input": "Q Step 1: a ки", "value": [1.5]}, "expected '"),
    ({"input": "Q Step 1: a ки tail", "value": ["+"]}, "no label"),
])
def test_openrlhf_bad_rows(tmp_path, row, msg):
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(row) + "\n")
    with pytest.raises(RecordError, match=msg):
        list(read_format("openrlhf", f))


def test_math_shepherd_samples_convert_to_openrlhf(tmp_path):
    recs = read("math-shepherd", "fmt_math_shepherd.jsonl")
    write_format("openrlhf", recs, tmp_path / "o.jsonl")
    src = rows(FX / "fmt_math_shepherd.jsonl")
    assert [r["input"] for r in rows(tmp_path / "o.jsonl")] == [r["input"] for r in src]
