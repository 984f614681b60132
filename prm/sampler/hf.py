"""The transformers backend of the sampler (see `prm/sampler/base.py` for the contract).

Per prompt, the `n` samples run as one batch (`num_return_sequences=n`) through `generate` with the
KV cache, so the prompt is encoded once per prompt. Prompts run one after another: the samples of
a prompt share a length, while different prompts would need padding, and a per-prompt batch makes
each prompt's draws depend only on its seed, not on which other prompts came along.

Departures from `transformers` defaults, to match vLLM's sampling:
- `top_k` is off: 0, not None (None is filled in with transformers' global default of 50; vLLM's
  default is no top-k);
- stop strings end a sequence on the token that completes them (a `StoppingCriteria` looking at
  the decoded tail), and the text is cut before the stop string afterwards;
- log-probabilities come from the raw logits (`output_logits`), not the temperature-scaled scores.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from prm.errors import UserError
from prm.sampler.base import Completion, EngineConfig, Sampler, SamplingConfig

MAX_ROWS = 64  # samples decoded together; bigger n runs in chunks (same draws for a given seed)
DTYPES = {"auto": None, "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
          "half": torch.float16, "float": torch.float32}


class _StopOnStrings:
    """Marks a row finished once its generated tail contains a stop string."""

    def __init__(self, tokenizer, stops: tuple[str, ...], prompt_len: int):
        self.tokenizer = tokenizer
        self.stops = stops
        self.prompt_len = prompt_len
        # every token decodes to >= 1 character (bar partial UTF-8 bytes), so a stop string that
        # ends at the newest token lies within the last len(stop) + a few tokens
        self.window = max(len(s) for s in stops) + 4

    def __call__(self, input_ids, scores, **kwargs):
        tails = self.tokenizer.batch_decode(input_ids[:, self.prompt_len:][:, -self.window:],
                                            skip_special_tokens=True)
        return torch.tensor([any(s in t for s in self.stops) for t in tails], dtype=torch.bool,
                            device=input_ids.device)


class HFSampler(Sampler):
    backend = "transformers"

    def __init__(self, cfg: EngineConfig):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if cfg.dtype not in DTYPES:
            raise UserError(f"unknown dtype {cfg.dtype!r}; choose from {', '.join(DTYPES)}")
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            tokenizer = AutoTokenizer.from_pretrained(cfg.model)
            dtype = DTYPES[cfg.dtype] or (torch.float32 if self.device == "cpu" else "auto")
            model = AutoModelForCausalLM.from_pretrained(cfg.model, dtype=dtype).to(self.device)
        except (OSError, ValueError) as err:
            raise UserError(f"cannot load model {cfg.model}: {str(err).splitlines()[0]}") from None
        model.eval()
        ctx = getattr(model.config, "max_position_embeddings", None) or 2048
        if cfg.max_model_len is not None and cfg.max_model_len > ctx:
            raise UserError(f"max_model_len {cfg.max_model_len} is larger than the model's context {ctx}")
        super().__init__(cfg, tokenizer, cfg.max_model_len or ctx)
        self.model = model
        # draws with seed=None follow the engine seed, like vLLM's global generator
        self._rng = torch.Generator().manual_seed(cfg.seed)
        self.eos_ids = _eos_ids(model, tokenizer)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_ids[0]

    def _generate(self, prompts, lengths, params_list: list[SamplingConfig]) -> list[list[Completion]]:
        out = []
        for prompt, plen, params in zip(prompts, lengths, params_list):
            seed = params.seed if params.seed is not None else int(
                torch.randint(0, 2**31 - 1, (1,), generator=self._rng).item())
            out.append(self._one_prompt(prompt, plen, params, seed))
        return out

    @torch.inference_mode()
    def _one_prompt(self, prompt: str, plen: int, params: SamplingConfig, seed: int) -> list[Completion]:
        from transformers import GenerationConfig, StoppingCriteriaList

        ids = self.tokenizer(prompt, return_tensors="pt")["input_ids"].to(self.device)
        greedy = params.temperature == 0
        gen_cfg = GenerationConfig(
            max_new_tokens=self.room(plen, params), do_sample=not greedy,
            temperature=None if greedy else params.temperature, top_p=None if greedy else params.top_p,
            top_k=0, eos_token_id=self.eos_ids, pad_token_id=self.pad_id,
            output_logits=True, return_dict_in_generate=True,
        )
        stopping = StoppingCriteriaList([_StopOnStrings(self.tokenizer, params.stop, plen)] if params.stop else [])
        completions: list[Completion] = []
        devices = [torch.cuda.current_device()] if self.device == "cuda" else []
        with torch.random.fork_rng(devices=devices):  # the caller's global RNG state is left alone
            torch.manual_seed(seed)
            # greedy decoding gives one answer; transformers refuses num_return_sequences > 1 for it
            remaining = 1 if greedy else params.n
            while remaining > 0:
                rows = min(MAX_ROWS, remaining)
                res = self.model.generate(ids, generation_config=gen_cfg, num_return_sequences=rows,
                                          stopping_criteria=stopping, attention_mask=torch.ones_like(ids))
                logprobs = torch.stack(res.logits, dim=1).float().log_softmax(-1)  # [rows, T, vocab]
                for r in range(rows):
                    completions.append(self._finish(res.sequences[r, ids.shape[1]:].tolist(), logprobs[r],
                                                    plen, params))
                remaining -= rows
        if greedy:
            completions = [replace(completions[0], token_ids=list(completions[0].token_ids)) for _ in range(params.n)]
        return completions

    def _finish(self, gen: list[int], logprobs, plen: int, params: SamplingConfig) -> Completion:
        """Cut one generated row at EOS / the first stop string and measure it."""
        end, reason = len(gen), "length"
        for k, tok in enumerate(gen):
            if tok in self.eos_ids:
                end, reason = k + 1, "stop"
                break
        kept = gen[:end]
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        hits = [(text.find(s), s) for s in params.stop if s in text]
        if hits:
            pos = min(h[0] for h in hits)
            # the first token whose prefix decodes to text covering a whole stop string ends the row
            for k in range(1, len(kept) + 1):
                prefix = self.tokenizer.decode(kept[:k], skip_special_tokens=True)
                if any(prefix.find(s) == pos for s in params.stop):
                    kept = kept[:k]
                    break
            text, reason = text[:pos], "stop"
        lp = float(sum(logprobs[k, t].item() for k, t in enumerate(kept)))
        return Completion(text=text, token_ids=kept, cumulative_logprob=lp, finish_reason=reason,
                          prompt_tokens=plen, completion_tokens=len(kept))

    def close(self) -> None:
        self.model = None


def _eos_ids(model, tokenizer) -> list[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    ids = eos if isinstance(eos, list) else [eos] if eos is not None else []
    if not ids:
        raise UserError("the model has no EOS token (generation_config.eos_token_id / tokenizer.eos_token)")
    return ids
