"""Format adapters never coerce: a value a format does not define is a FILE:LINE: field error, and
every writer's output reads back, through the same format's reader, as the record it was given.

Two parts: a table of coercions that used to pass silently (each row is one value, one format, the
field the error must name), and hypothesis round trips writer -> reader for every writable format.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prm.errors import RecordError
from prm.formats import READERS, WRITERS, read_format, write_format
from prm.records import StepwiseRecord

FX = Path(__file__).parent / "fixtures"


def _birm(out0: dict | None = None, **row) -> dict:
    """The BiRM fixture row with outputs[0] updated by `out0` and the row by `row`."""
    base = json.loads((FX / "fmt_birm.jsonl").read_text().splitlines()[0])
    base["outputs"][0].update(out0 or {})
    base.update(row)
    return base


def _prm800k(step0: dict) -> dict:
    base = json.loads((FX / "fmt_prm800k.jsonl").read_text().splitlines()[0])
    base["label"]["steps"][0].update(step0)
    return base


def _pb(**row) -> dict:
    return {**json.loads((FX / "fmt_processbench.json").read_text())[1], **row}


# (format, reader options, row, field the error names): each passed silently before (see the comment)
BAD_ROWS = [
    ("birm", {}, _birm({"step_h_label": ["false", True, True]}), "outputs[0].step_h_label"),   # "false" -> True
    ("birm", {}, _birm({"step_h_label": [None, True, True]}), "outputs[0].step_h_label"),      # null -> False
    ("birm", {}, _birm({"step_h_label": [0.4, True, True]}), "outputs[0].step_h_label"),       # 0.4 -> True
    ("birm", {"labels": "step_s_label"}, _birm({"step_s_label": [5.0, 1.0, 1.0]}), "outputs[0].step_s_label"),
    ("birm", {"labels": "step_s_label"}, _birm({"step_s_label": [-3.0, 1.0, 1.0]}), "outputs[0].step_s_label"),
    ("birm", {}, _birm({"step_s_label": ["0.5", 1.0, 1.0]}), "outputs[0].step_s_label"),       # str -> float
    ("birm", {}, _birm({"step_s_label": [True, 1.0, 1.0]}), "outputs[0].step_s_label"),        # bool -> 1.0
    ("birm", {"labels": "step_labels"}, _birm({"step_labels": ["yes", True, True]}), "outputs[0].step_labels"),
    ("birm", {}, _birm({"label": "true"}), "outputs[0].label"),                                 # outcome dropped
    ("birm", {}, _birm({"response_answer": 14}), "outputs[0].response_answer"),                 # dropped
    ("prm800k", {}, _prm800k({"completions": [{"text": "a", "rating": 1.0}]}), "label.steps[0]"),  # 1.0 -> True
    ("prm800k", {}, _prm800k({"chosen_completion": "0"}), "label.steps[0].chosen_completion"),     # -> trajectory end
    ("prm800k", {}, _prm800k({"chosen_completion": None, "human_completion": {"text": 5}}),
     "label.steps[0].human_completion"),                                                        # -> trajectory end
    ("processbench", {}, _pb(final_answer_correct="no"), "final_answer_correct"),                # passed through
    ("math-aps", {}, {"question": "Q", "final_answer": 14,
                      "reasoning_steps": [{"solution_prefix": "Q a", "mc_value": 1.0}]}, "final_answer"),
]


@pytest.mark.parametrize("fmt,opts,row,field", BAD_ROWS, ids=[f"{r[0]}-{i}" for i, r in enumerate(BAD_ROWS)])
def test_reader_refuses_what_the_format_does_not_define(tmp_path, fmt, opts, row, field):
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps(row) + "\n")
    with pytest.raises(RecordError) as e:
        list(read_format(fmt, f, **opts))
    assert str(e.value).startswith(f"{f}:1: field '{field}'"), str(e.value)


MS = StepwiseRecord("Q?", ["Step 1: a", "Step 2: b"], [True, False])


def _rec(rec: StepwiseRecord = MS, **change) -> StepwiseRecord:
    out = copy.deepcopy(rec)
    for k, v in change.items():
        if k in ("prompt", "completions", "labels"):
            setattr(out, k, v)
        else:
            out.extra[k] = v
    return out


# (format, writer options, record, field the error names): each wrote a file that is wrong or that
# the same format's reader refuses (see the comment)
BAD_RECORDS = [
    ("math-shepherd", {}, _rec(completions=["a", "b"]), "completions"),            # no 'Step 1:': unreadable
    ("math-shepherd", {}, _rec(labels=[0.25, 0.0]), "labels"),                      # soft -> +/- silently
    ("math-shepherd", {}, _rec(labels=["yes", True]), "labels"),                    # a traceback
    ("math-shepherd", {}, _rec(prompt="Q ки?"), "prompt"),                          # a tag in the question
    ("math-shepherd", {}, _rec(prompt="Q? Step 1: see"), "prompt"),                 # question cut short
    ("math-shepherd", {}, _rec(completions=["Step 1: a ", "Step 2: b"]), "completions"),  # spaces lost
    ("openrlhf", {}, _rec(completions=["a", "b"]), "completions"),                  # no 'Step 1:': unreadable
    ("openrlhf", {}, _rec(prompt="Q ки?"), "prompt"),
    ("openrlhf", {}, _rec(labels=[1.5, True]), "labels"),                           # written, then refused
    ("processbench", {}, _rec(first_error=True), "first_error"),                    # int(True) == 1
    ("processbench", {}, _rec(first_error="1"), "first_error"),                     # int("1")
    ("processbench", {}, _rec(first_error=0), "first_error"),                       # labels say step 1
    ("processbench", {}, _rec(first_error=5), "first_error"),                       # out of range
    ("stepwise", {}, _rec(labels=["yes", True]), "labels"),                         # written, then refused
    ("stepwise", {}, _rec(labels=[math.nan, True]), "labels"),
]


@pytest.mark.parametrize("fmt,opts,rec,field", BAD_RECORDS, ids=[f"{r[0]}-{i}" for i, r in enumerate(BAD_RECORDS)])
def test_writer_refuses_what_would_not_read_back(tmp_path, fmt, opts, rec, field):
    out = tmp_path / "out.jsonl"
    with pytest.raises(RecordError) as e:
        write_format(fmt, [rec], out, **opts)
    assert f"field '{field}'" in str(e.value), str(e.value)
    assert not out.exists()  # nothing half-written


# ----------------------------------------------------------------------------- round trips
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_label = st.one_of(st.booleans(), st.none(), st.floats(0.0, 1.0))


@st.composite
def records(draw, labels=_label, min_steps=0):
    steps = draw(st.lists(_text, min_size=min_steps, max_size=5))
    return StepwiseRecord(draw(_text), steps, [draw(labels) for _ in steps])


def _same(a: StepwiseRecord, b: StepwiseRecord) -> bool:
    """Equal prompt, steps and labels, and every label of the same type (True is not 1.0)."""
    return (a.prompt, a.completions) == (b.prompt, b.completions) and \
        [(type(x), x) for x in a.labels] == [(type(x), x) for x in b.labels]


def _trip(fmt: str, rec: StepwiseRecord, tmp: Path, **opts) -> StepwiseRecord | None:
    """The record read back after writing it, or None when the writer refused it (RecordError)."""
    out = tmp / f"{fmt}.jsonl"
    try:
        write_format(fmt, [rec], out, **opts)
    except RecordError:
        assert not out.exists()
        return None
    (back,) = list(read_format(fmt, out))  # the writer's output always reads back
    out.unlink()
    return back


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("fmt", sorted(WRITERS))
@FAST
@given(rec=records())
def test_any_record_is_refused_or_read_back_unchanged(tmp_path, fmt, rec):
    """The property: a writer refuses (RecordError) or its reader gives the same record back."""
    back = _trip(fmt, rec, tmp_path)
    if back is not None:
        if fmt == "processbench":  # the format holds the first error only: that, steps and text survive
            assert (back.prompt, back.completions) == (rec.prompt, rec.completions)
            assert back.extra["first_error"] == rec.extra.get("first_error", back.extra["first_error"])
        else:
            assert _same(back, rec)


def _marked(steps):
    return [f"Step {k + 1}: {s.strip()}".strip() for k, s in enumerate(steps)]


_plain = st.text(st.characters(codec="ascii", categories=("L", "N", "P", "Zs")), max_size=12).map(str.strip)
IN_DOMAIN = {  # records each format can hold: all of them must be written and read back unchanged
    "stepwise": records(),
    "openrlhf": st.builds(lambda p, s, lab: StepwiseRecord(p.replace("Step", "step"), _marked(s), lab[:len(s)]),
                          _plain, st.lists(_plain, min_size=1, max_size=5),
                          st.lists(st.one_of(st.booleans(), st.floats(0.0, 1.0)), min_size=5, max_size=5)),
    "math-shepherd": st.builds(lambda p, s, lab: StepwiseRecord(p.replace("Step", "step"), _marked(s), lab[:len(s)]),
                               _plain, st.lists(_plain, min_size=1, max_size=5),
                               st.lists(st.booleans(), min_size=5, max_size=5)),
    "processbench": st.builds(lambda p, s, fe: StepwiseRecord(p, s, [True] * len(s) if fe >= len(s) else
                                                              [True] * fe + [False] + [None] * (len(s) - fe - 1)),
                              _text, st.lists(_text, min_size=1, max_size=5), st.integers(0, 5)),
}


def test_every_writable_format_has_an_in_domain_round_trip():
    assert set(IN_DOMAIN) == set(WRITERS) and set(WRITERS) <= set(READERS)


@pytest.mark.parametrize("fmt", sorted(IN_DOMAIN))
@FAST
@given(data=st.data())
def test_records_a_format_holds_round_trip_exactly(tmp_path, fmt, data):
    rec = data.draw(IN_DOMAIN[fmt])
    back = _trip(fmt, rec, tmp_path)
    assert back is not None, f"{fmt} refused a record it can hold: {rec}"
    assert _same(back, rec)


@FAST
@given(rec=records(labels=st.floats(0.0, 1.0), min_steps=1), threshold=st.floats(0.0, 1.0))
def test_math_shepherd_soft_labels_need_a_threshold_and_then_follow_it(tmp_path, rec, threshold):
    rec = StepwiseRecord("Q?", _marked([s.replace("ки", "") for s in rec.completions]), rec.labels)
    with pytest.raises(RecordError, match="threshold"):
        write_format("math-shepherd", [rec], tmp_path / "x.jsonl")
    back = _trip("math-shepherd", rec, tmp_path, threshold=threshold)
    if back is not None:  # refused only when a step does not survive the text layout (whitespace, tags)
        assert back.labels == [v > threshold for v in rec.labels]


def test_step_markers_option_makes_plain_steps_writable(tmp_path):
    plain = StepwiseRecord("Q?", ["a", "b"], [True, 0.5])
    back = _trip("openrlhf", plain, tmp_path, step_markers=True)
    assert back.completions == ["Step 1: a", "Step 2: b"] and back.labels == [True, 0.5]


def test_cli_convert_names_the_input_line_of_a_record_the_output_cannot_hold(tmp_path, capsys):
    from prm.cli import main

    src = tmp_path / "in.jsonl"
    recs = [StepwiseRecord("Q?", ["a"], [True]), StepwiseRecord("Q?", ["a", "b"], [True, 0.5])]
    src.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in recs))
    out = tmp_path / "out.jsonl"
    args = ["convert", "--from", "stepwise", "--to", "openrlhf", "--input", str(src), "--out", str(out)]
    assert main(args) == 2 and not out.exists()
    assert f"{src}:1 (record 0, no sample_id): field 'completions'" in capsys.readouterr().err
    assert main(args + ["--step-markers"]) == 0
    assert [r.labels for r in read_format("openrlhf", out)] == [[True], [True, 0.5]]
    assert main(["convert", "--from", "stepwise", "--to", "processbench", "--input", str(src), "--out",
                 str(out), "--step-markers"]) == 2
    assert "--step-markers applies to writing 'math-shepherd' or 'openrlhf' only" in capsys.readouterr().err


def test_shared_birm_invalid_step_labels_read_as_unjudged(shared_data):
    """BiRM's released files mark steps they could not label "[invalid]": null (not judged), not True."""
    src = shared_data / "step_labeled" / "birm" / "example_responses_n15_qwen2.5_7b_math_process.jsonl"
    raw = [o for line in src.read_text().splitlines() for o in json.loads(line)["outputs"]]
    recs = list(read_format("birm", src, labels="step_labels"))
    assert len(recs) == len(raw) and sum(x == "[invalid]" for o in raw for x in o["step_labels"]) == 4
    for o, r in zip(raw, recs):
        assert r.labels == [None if x == "[invalid]" else x for x in o["step_labels"]]
        assert r.extra["judged"] == [x != "[invalid]" for x in o["step_labels"]]
        assert r.extra.get("outcome") == (o["label"] if isinstance(o["label"], bool) else None)


@pytest.mark.parametrize("fmt,row,field", [
    ("math-shepherd", {"input": "Q Step 1: a ки", "label": "Q Step 1: a +", "task": 7}, "task"),  # was dropped
    ("birm", _birm(question=5), "question"),                                                     # fell back to input
])
def test_optional_fields_of_the_wrong_type_are_errors_not_dropped(tmp_path, fmt, row, field):
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps(row) + "\n")
    with pytest.raises(RecordError, match=f"^{f}:1: field '{field}'"):
        list(read_format(fmt, f))
