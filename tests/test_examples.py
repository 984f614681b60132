"""`examples/pipeline.py` runs end to end (problems -> sample -> label -> train -> score -> best-of-N)
on the tiny random policy, and its numbers are the pool's own."""

from __future__ import annotations

import importlib.util
import json

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_pipeline_example_runs_and_reports_the_pool(tiny_lm_dir, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("pipeline_example", ROOT / "examples" / "pipeline.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    block = example.main(str(tiny_lm_dir), 3, tmp_path, backend="transformers", max_tokens=24)
    methods = block["bon"]["methods"]
    assert {"random", "majority", "oracle", "prm:min", "weighted:prm:min"} <= set(methods)
    # 3 test problems x 4 samples: every accuracy is a mean of per-problem 0/1 picks, and no method
    # beats the oracle
    assert block["bon"]["ns"] == [1, 2, 4]
    for m in methods.values():
        assert all(a <= o + 1e-9 for a, o in zip(m["mean"], methods["oracle"]["mean"]))
    labels = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert labels and all(r["provenance"]["labeler"] == "mc" for r in labels)
    assert (tmp_path / "prm" / "config.json").exists()
    assert "prm:min" in capsys.readouterr().out
