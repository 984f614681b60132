"""Sampling speed: the same prompts through the transformers and the vLLM backend, in one run.

  .venv/bin/python scripts/bench/bench_sampling.py                       # math policy, 16 prompts x 8
  .venv/bin/python scripts/bench/bench_sampling.py --quick --prompts 8 --n 4 --repeats 3
  .venv/bin/python scripts/bench/bench_sampling.py --model path/to/model --domain math

Prints, for each backend, generated tokens per second (median of --repeats timed runs, after one
untimed warm-up run), the vLLM engine start-up time separately, the ratio vLLM / transformers,
and the machine, date and library versions. Both backends sample with the same SamplingConfig
(temperature 1, seed per run); they draw differently, so token counts differ a little and the
rate, not the wall time, is compared.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    m = ap.add_argument_group("model")
    m.add_argument("--domain", choices=["math", "code"], default="math")
    m.add_argument("--model", default=None, help="a model directory (default: the embedded policy for --domain)")
    m.add_argument("--quick", action="store_true", help="the quick embedded policy")
    w = ap.add_argument_group("workload")
    w.add_argument("--prompts", type=int, default=16, help="held-out test problems used as prompts")
    w.add_argument("--n", type=int, default=8, help="samples per prompt")
    w.add_argument("--max-tokens", type=int, default=128)
    w.add_argument("--repeats", type=int, default=3)
    w.add_argument("--threads", type=int, default=2, help="torch threads for the transformers backend")
    return ap.parse_args()


def timed(sampler, prompts, params_for, repeats: int) -> list[tuple[float, int]]:
    """(seconds, generated tokens) of `repeats` timed runs, after one untimed warm-up run."""
    # warm-up (not timed): first-call allocations and caches; short, since it measures nothing
    sampler.generate(prompts[:2], replace(params_for(-1), max_tokens=16))
    runs = []
    for r in range(repeats):
        t0 = time.perf_counter()
        outs = sampler.generate(prompts, params_for(r))
        dt = time.perf_counter() - t0
        runs.append((dt, sum(c.completion_tokens for g in outs for c in g)))
    return runs


def sampling_flops(model: str, prompt_lens: list[int], gen_tokens: int, n: int) -> float:
    """FLOPs of the useful work: each prompt prefilled once, then `gen_tokens` decoded tokens, each
    attending to its prompt plus half its own completion on average, each through the LM head."""
    from common import transformer_flops

    flops = sum(transformer_flops(model, L, context=L / 2) for L in prompt_lens)
    mean_prompt = sum(prompt_lens) / len(prompt_lens)
    mean_gen = gen_tokens / (len(prompt_lens) * n)
    return flops + transformer_flops(model, gen_tokens, context=mean_prompt + mean_gen / 2)


def main() -> int:
    args = parse_args()
    import torch
    from transformers import AutoTokenizer

    from common import Row, bound_rows, matmul_gflops, report
    from prm.sampler import EngineConfig, SamplingConfig, build_prompt, make_sampler
    from prm.tasks import load_tasks

    torch.set_num_threads(args.threads)
    model = args.model
    if model is None:
        from prm.policy import ensure_policy

        model = str(ensure_policy(args.domain, quick=args.quick))
    prompts = [build_prompt(model, p.question) for p in load_tasks(f"{args.domain}_test")[:args.prompts]]
    tok = AutoTokenizer.from_pretrained(model)
    prompt_lens = [len(tok(p, add_special_tokens=False)["input_ids"]) for p in prompts]

    def params_for(r: int) -> SamplingConfig:
        return SamplingConfig(n=args.n, temperature=1.0, max_tokens=args.max_tokens, seed=1000 + r)

    hf = make_sampler(EngineConfig(model=model, backend="transformers"))
    hf_runs = timed(hf, prompts, params_for, args.repeats)
    hf.close()

    t0 = time.perf_counter()
    vl = make_sampler(EngineConfig(model=model, backend="vllm", gpu_memory_utilization=0.3, max_model_len=512))
    vllm_dtype = str(vl.llm.llm_engine.model_config.dtype).removeprefix("torch.")
    startup = time.perf_counter() - t0
    vl_runs = timed(vl, prompts, params_for, args.repeats)
    vl.close()

    def med_run(runs):  # the run with the median rate: its time and token count go together
        return sorted(runs, key=lambda r: r[1] / r[0])[len(runs) // 2]

    (hf_s, hf_tok), (vl_s, vl_tok) = med_run(hf_runs), med_run(vl_runs)
    gflops = matmul_gflops()
    rows = [Row("generated tokens/s", vl_tok / vl_s, hf_tok / hf_s, "tok/s", "higher"),
            Row("wall time per run", vl_s, hf_s, "s", "lower"),
            Row("generated tokens per run", vl_tok, hf_tok, "", ""),
            *bound_rows(vl_s, hf_s, sampling_flops(model, prompt_lens, vl_tok, args.n), gflops,
                        theirs_flops=sampling_flops(model, prompt_lens, hf_tok, args.n))]
    report("sampling", "Sampling: vLLM vs transformers, tokens/s on the same model, prompts and N", rows,
           ours="vLLM", theirs="transformers",
           notes=[f"model: {model}",
                  f"workload: {len(prompts)} {args.domain} test prompts x n={args.n}, max_tokens={args.max_tokens}, "
                  f"temperature 1, a new seed per run; median of {args.repeats} timed runs after a short warm-up",
                  f"runs (tok/s): vLLM {', '.join(f'{t / s:.0f}' for s, t in vl_runs)}; "
                  f"transformers {', '.join(f'{t / s:.0f}' for s, t in hf_runs)}",
                  f"vLLM engine start-up {startup:.1f} s, not in the rates",
                  f"measured matmul rate {gflops:.1f} GFLOP/s (float32, torch.matmul 1024^3); a tiny model decodes "
                  "far from it (per-token overhead and memory traffic dominate), a large one comes closer",
                  "the two backends draw different samples, so token counts differ: compare rates",
                  f"dtype auto -> vLLM runs {vllm_dtype}, transformers float32 (on a CPU without bfloat16 "
                  "instructions prm.vllm_engine.resolve_dtype keeps vLLM in float32: vLLM's own auto would cast to "
                  f"bfloat16, whose torch matmul rate here is {matmul_gflops(512, dtype='bfloat16'):.1f} GFLOP/s at 512^3)"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
