"""Published PRM formats in vLLM's pooling runner: the same scores as transformers (1e-4) and the
prefix property, on the tiny checkpoints of tests/fixtures_published.py. One engine per family
(each is a different model), started and closed in turn (~30-60 s each on CPU).

Not here: the value-head (Skywork `Qwen2ForPrmModel`) format, which vLLM 0.32 cannot load without
a plugin (tests/test_published_formats.py checks the refusal names the reason)."""

from __future__ import annotations

import pytest
from fixtures_published import BUILDERS, ITEMS

from prm.scoring import load_scorer

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

# trl is left out: in vLLM it is the toolkit's own path (a *ForTokenClassification, token_classify on
# our ids; tests/test_scoring_vllm.py), and its sequence builder is backend-independent. It passed here
# once (with these three, 8 tests in 184 s on 2 cores); each family costs one engine start.
VLLM_FAMILIES = ["qwen2.5-math-prm", "math-shepherd", "rlhflow"]


@pytest.fixture(scope="module", params=VLLM_FAMILIES)
def pair(request, tmp_path_factory):
    """(family, transformers scores of ITEMS, a started vLLM scorer) for one family at a time."""
    pytest.importorskip("vllm")
    name = request.param
    d = BUILDERS[name](tmp_path_factory.mktemp("published_vllm") / name)
    kw = {"sep": "\n"} if name == "trl" else {}
    with load_scorer(d, backend="transformers", **kw) as hf:
        want = hf.score_batch(ITEMS)
    sc = load_scorer(d, backend="vllm", gpu_memory_utilization=0.05, **kw)
    yield name, want, sc
    sc.close()


def test_vllm_matches_transformers(pair):
    name, want, sc = pair
    got = sc.score_batch(ITEMS)
    assert [len(g) for g in got] == [len(w) for w in want]
    diffs = [abs(a - b) for g, w in zip(got, want) for a, b in zip(g, w)]
    print(f"{name}: max |vLLM - transformers| = {max(diffs):.1e} over {len(diffs)} step scores")
    assert max(diffs) < 1e-4, f"{name}: max abs diff {max(diffs)}"


def test_vllm_prefix_property(pair):
    name, _, sc = pair
    for q, steps in ITEMS[:3]:
        whole = sc.score(q, steps)
        parts = sc.score_batch([(q, steps[:k]) for k in range(1, len(steps) + 1)])
        for k, got in enumerate(parts, start=1):
            assert got == pytest.approx(whole[:k], abs=1e-5), (name, k)
