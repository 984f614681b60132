"""The learning-curve benchmarks' cached train pool grows by appending, and a run killed between two of
its files is rerun without doubling a record (scripts/bench/bench_prm_scaling.py)."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "bench"))

from bench_prm_scaling import extend_pool_file  # noqa: E402


def _write(path, ids):
    path.write_text("".join(json.dumps({"problem_id": i, "k": n}) + "\n" for n, i in enumerate(ids)))


def _ids(path):
    return [json.loads(x)["problem_id"] for x in path.read_text().splitlines()]


def test_a_top_up_appends_after_the_finished_records(tmp_path):
    f = tmp_path / "train.jsonl"
    _write(f, ["a", "a", "b"])
    before = f.read_text()
    extend_pool_file(f, [{"problem_id": "c", "k": 9}], done={"a", "b"})
    assert f.read_text().startswith(before) and _ids(f) == ["a", "a", "b", "c"]


def test_records_of_an_unfinished_run_are_not_doubled(tmp_path):
    # killed after train.jsonl got problem c's samples but before train_outcome.jsonl marked c done:
    # the rerun samples c again, and c appears once
    f = tmp_path / "train.jsonl"
    _write(f, ["a", "b", "c", "c"])
    extend_pool_file(f, [{"problem_id": "c", "k": 7}, {"problem_id": "c", "k": 8}], done={"a", "b"})
    assert _ids(f) == ["a", "b", "c", "c"] and [json.loads(x)["k"] for x in f.read_text().splitlines()][2:] == [7, 8]


def test_a_fresh_pool_replaces_a_half_written_file(tmp_path):
    f = tmp_path / "test.jsonl"
    _write(f, ["x"])                      # no outcome file yet: nothing is done
    extend_pool_file(f, [{"problem_id": "x", "k": 5}], done=set())
    assert _ids(f) == ["x"] and json.loads(f.read_text())["k"] == 5
