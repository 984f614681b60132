"""The sampler-engine flags shared by every command that starts a policy engine (sample, label, search).

One definition, so `--tensor-parallel-size` or `--max-model-len` mean the same thing, with the same
defaults, wherever a user meets them; `engine_config` turns the parsed flags into the
`prm.sampler.EngineConfig` that the sampler takes.
"""

from __future__ import annotations

from prm.commands.argtypes import fraction, positive_int


def add_engine_flags(group) -> None:
    group.add_argument("--backend", choices=["auto", "vllm", "transformers"], default="auto",
                       help="auto: vLLM when importable, else transformers")
    group.add_argument("--dtype", default="auto", help="model dtype for the engine (auto: the model's own)")
    group.add_argument("--gpu-memory-utilization", type=fraction, default=0.3,
                       help="vLLM: share of GPU memory (on the CPU backend: of RAM) to reserve for weights + KV "
                            "cache; 0.9 on a dedicated GPU")
    group.add_argument("--tensor-parallel-size", type=positive_int, default=1,
                       help="vLLM: shard the model over this many GPUs of one machine (7B+ policies); for more "
                            "throughput run one process per GPU on a shard of the input (docs/real_models.md)")
    group.add_argument("--max-model-len", type=positive_int, default=None,
                       help="context length the engine reserves for; None: the model's own")


def engine_config(args, model: str, *, seed: int = 0):
    """The EngineConfig for `model` from flags added by `add_engine_flags` (bad values: UserError)."""
    from prm.sampler import EngineConfig

    return EngineConfig(model=model, backend=args.backend, dtype=args.dtype,
                        gpu_memory_utilization=args.gpu_memory_utilization,
                        tensor_parallel_size=args.tensor_parallel_size, max_model_len=args.max_model_len, seed=seed)
