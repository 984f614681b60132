"""vLLM pooling backend: the same scores as transformers on the same model, the prefix property,
and ORM shape. One engine per session (fixture `vllm_scorer`); start-up is ~30-60 s on CPU."""

from __future__ import annotations

import pytest
from fixtures_scoring import first_error_records

from prm.scoring import load_scorer

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

EVAL = first_error_records(40, seed=11)
ITEMS = [(r["prompt"], r["completions"]) for r in EVAL] + [("Problem 9:", []), ("Problem 9:", ["", "x"])]


@pytest.fixture(scope="module")
def hf_scores(trained_prm_dir):
    with load_scorer(trained_prm_dir, backend="transformers") as sc:
        return sc.score_batch(ITEMS)


def test_vllm_matches_transformers(vllm_scorer, hf_scores):
    got = vllm_scorer.score_batch(ITEMS)
    diffs = [abs(a - b) for g, h in zip(got, hf_scores) for a, b in zip(g, h)]
    assert [len(g) for g in got] == [len(h) for h in hf_scores]
    assert max(diffs) < 1e-4, f"max abs diff {max(diffs)}"


def test_vllm_prefix_property(vllm_scorer):
    for q, steps in ITEMS[:10]:
        whole = vllm_scorer.score(q, steps)
        prefixes = vllm_scorer.score_batch([(q, steps[:k]) for k in range(1, len(steps) + 1)])
        for k, got in enumerate(prefixes, start=1):
            assert got == pytest.approx(whole[:k], abs=1e-5)


def test_vllm_backend_reports_itself(vllm_scorer):
    assert vllm_scorer.backend == "vllm" and vllm_scorer.kind == "prm" and vllm_scorer.step_tag
