"""The vLLM backend of the sampler (see `prm/sampler/base.py` for the contract).

A thin adapter over `vllm.LLM`: our `SamplingConfig` becomes `vllm.SamplingParams` with
`logprobs=0` (so `cumulative_logprob` is filled: vLLM leaves it None otherwise) and `max_tokens`
clamped to the room left in the context; vLLM's outputs become `Completion`s.

Start-up (`prm.vllm_engine.start_llm`, shared with the scorer): scripts that create an engine need
an `if __name__ == "__main__":` guard (the engine spawns processes); on CPU the RAM vLLM will reserve
is checked first, `dtype="auto"` becomes float32 on CPUs without bfloat16, chunked prefill is off
(seeded requests need it), and any start-up failure is re-raised as a `UserError` naming the settings.
"""

from __future__ import annotations

from prm.sampler.base import Completion, EngineConfig, Sampler, SamplingConfig
from prm.vllm_engine import close_llm, start_llm


class VLLMSampler(Sampler):
    backend = "vllm"

    def __init__(self, cfg: EngineConfig):
        self.llm = start_llm(cfg.model, dtype=cfg.dtype, gpu_memory_utilization=cfg.gpu_memory_utilization,
                             max_model_len=cfg.max_model_len, seed=cfg.seed, per_request_seeds=True,
                             tensor_parallel_size=cfg.tensor_parallel_size,
                             enable_prefix_caching=cfg.enable_prefix_caching)
        tokenizer = self.llm.get_tokenizer()
        super().__init__(cfg, tokenizer, self.llm.llm_engine.model_config.max_model_len)
        # the tokenizer's EOS only, which is what beam search fell back to before samplers declared
        # `eos_ids` (vLLM may also stop on generation_config's extra EOS ids; changing that would
        # change search results)
        self.eos_ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []

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
        close_llm(llm)
