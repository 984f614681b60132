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
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


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


def timed(sampler, prompts, params_for, repeats: int) -> list[float]:
    sampler.generate(prompts, params_for(-1))  # warm-up: compile / caches, not timed
    rates = []
    for r in range(repeats):
        t0 = time.perf_counter()
        outs = sampler.generate(prompts, params_for(r))
        dt = time.perf_counter() - t0
        rates.append(sum(c.completion_tokens for g in outs for c in g) / dt)
    return rates


def main() -> int:
    args = parse_args()
    import torch
    import transformers

    from prm.sampler import EngineConfig, SamplingConfig, build_prompt, make_sampler
    from prm.tasks import load_tasks

    torch.set_num_threads(args.threads)
    model = args.model
    if model is None:
        from prm.policy import ensure_policy

        model = str(ensure_policy(args.domain, quick=args.quick))
    prompts = [build_prompt(model, p.question) for p in load_tasks(f"{args.domain}_test")[:args.prompts]]

    def params_for(r: int) -> SamplingConfig:
        return SamplingConfig(n=args.n, temperature=1.0, max_tokens=args.max_tokens, seed=1000 + r)

    hf = make_sampler(EngineConfig(model=model, backend="transformers"))
    hf_rates = timed(hf, prompts, params_for, args.repeats)
    hf.close()

    t0 = time.perf_counter()
    vl = make_sampler(EngineConfig(model=model, backend="vllm", gpu_memory_utilization=0.3, max_model_len=512))
    startup = time.perf_counter() - t0
    vl_rates = timed(vl, prompts, params_for, args.repeats)
    vl.close()

    try:
        import vllm

        vllm_version = vllm.__version__
    except Exception:  # noqa: BLE001
        vllm_version = "?"
    hf_med, vl_med = statistics.median(hf_rates), statistics.median(vl_rates)
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC | machine: {platform.machine()} "
          f"{os.cpu_count()} cpus, {platform.processor() or platform.platform()} | load avg {os.getloadavg()[0]:.1f}")
    print(f"versions: torch {torch.__version__}, transformers {transformers.__version__}, vllm {vllm_version}")
    print(f"model: {model}")
    print(f"workload: {len(prompts)} prompts x n={args.n}, max_tokens={args.max_tokens}, temperature 1, "
          f"median of {args.repeats}")
    print(f"transformers: {hf_med:8.1f} tokens/s   (runs: {', '.join(f'{r:.0f}' for r in hf_rates)})")
    print(f"vllm:         {vl_med:8.1f} tokens/s   (runs: {', '.join(f'{r:.0f}' for r in vl_rates)})")
    print(f"vllm engine start-up: {startup:.1f} s (not in the rates)")
    print(f"ratio vllm / transformers: {vl_med / hf_med:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
