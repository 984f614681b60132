"""The benchmark harness's own arithmetic: FLOP estimate, slope fit, ratio table (scripts/bench/common.py)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "bench"))

from common import Row, bound_rows, bound_seconds, ratio, side_by_side, transformer_flops, transformer_params  # noqa: E402


@pytest.mark.parametrize("kv_heads, tied", [(2, True), (4, False)])
def test_param_count_matches_a_real_model(kv_heads, tied):
    """The non-embedding count from the config equals what torch counts on the built model."""
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=96, num_hidden_layers=3,
                      num_attention_heads=4, num_key_value_heads=kv_heads, tie_word_embeddings=tied)
    model = LlamaForCausalLM(cfg)
    skip = {id(model.get_input_embeddings().weight), id(model.get_output_embeddings().weight)}
    counted = sum(p.numel() for n, p in model.named_parameters() if id(p) not in skip and "norm" not in n)
    assert transformer_params(cfg)["non_embedding"] == counted


@pytest.mark.parametrize("cfg, expected_billions", [
    # Qwen2.5-1.5B shape: 1.31 B non-embedding parameters (Qwen2.5 report: 1.54 B total, 1.31 B non-emb.)
    (dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
          num_key_value_heads=2, vocab_size=151936), 1.31),
    # Qwen2.5-7B: 6.53 B non-embedding
    (dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
          num_key_value_heads=4, vocab_size=152064), 6.53),
])
def test_param_count_published_shapes(cfg, expected_billions):
    from transformers import LlamaConfig

    n = transformer_params(LlamaConfig(**cfg))["non_embedding"] / 1e9
    assert abs(n - expected_billions) < 0.01


def test_flops_scale_linearly_and_backward_is_twice_forward():
    cfg = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, vocab_size=100)
    f1 = transformer_flops(cfg, 100, context=10)
    assert transformer_flops(cfg, 200, context=10) == 2 * f1
    assert transformer_flops(cfg, 100, context=10, backward=True) == 3 * f1
    assert bound_seconds(2e9, 1.0) == 2.0


def test_bound_rows_put_both_sides_against_the_floor():
    # 4 GFLOP at 2 GFLOP/s = 2 s floor; ours took 4 s (50% of peak), theirs 8 s on 8 GFLOP of work (50%)
    bound, share = bound_rows(4.0, 8.0, 4e9, 2.0, theirs_flops=8e9)
    assert (bound.ours, bound.theirs) == (2.0, 4.0)
    assert (share.ours, share.theirs, share.better) == (50.0, 50.0, "higher")
    _, share = bound_rows(4.0, 2.0, 4e9, 2.0)
    assert (share.ours, share.theirs) == (50.0, 100.0)


def test_ratio_and_table():
    assert ratio(4, 2) == 2 and ratio(1, 0) is None and ratio(None, 1) is None
    table = side_by_side([Row("answers/s", 300, 100), Row("latency", 2.0, 1.0, "s", "lower")], ours="A", theirs="B")
    lines = table.splitlines()
    assert "| answers/s | 300.0 | 100.0 | 3.00x | higher: A |" == lines[2]
    assert "| latency (s) | 2.000 | 1.000 | 2.00x | lower: B |" == lines[3]


def test_loglog_slope():
    from bench_growth import loglog_slope

    assert math.isclose(loglog_slope([1, 2, 4, 8], [3, 6, 12, 24]), 1.0)
    assert math.isclose(loglog_slope([10, 20, 40], [1, 4, 16]), 2.0)


def test_growth_dataset_labels_are_what_the_direct_labeler_finds():
    """The synthetic growth workload is real work: direct labels recover its construction labels."""
    pytest.importorskip("verifiers.math")
    from bench_growth import dataset

    from prm.labeling.direct import label_direct
    from prm.labeling.inputs import LabelItem
    from prm.records import Problem, Sample

    rows = dataset(30, 4)
    items = [LabelItem(problem=Problem(id=r["id"], domain="math", question=r["question"], answer=r["answer"]),
                       sample=Sample(problem_id=r["id"], text="\n\n".join(r["steps"]), steps=r["steps"]),
                       sample_id=r["id"], steps=r["steps"]) for r in rows]
    assert [rec.labels for rec in label_direct(items)] == [r["labels"] for r in rows]
    assert any(False in r["labels"] for r in rows) and any(all(r["labels"]) for r in rows)
