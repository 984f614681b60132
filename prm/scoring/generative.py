"""The generative step verifier's scorer: the verifier writes a check at each checked "=", then a verdict
after each step; the step score is P(ok) / (P(ok) + P(bad)) at the verdict.

    from prm.scoring import load_scorer
    scorer = load_scorer("gen-out")            # `prm train --objective generative`; backend "vllm" too
    scorer.score(question, steps)              # [P(step 1 ok), P(step 2 ok), ...]
    scorer.trace_batch(items)                  # the same, with the check values the verifier wrote

Per sample, left to right over `prm.scoring.checks.layout` (the layout training used): the sample's
own text is appended as written; at a check the scorer appends " [calc" and the verifier GREEDILY
writes the value and "]" (at most `max_check_tokens` tokens; the value is cut at the first "]"); at a
verdict the probability is read at the first token where " [ok]" and " [bad]" differ, and the likelier
verdict is appended as the verifier's own (a greedy verifier), so a later step is read after the
verifier's earlier verdicts, as in training. Every check and verdict waits on the ones before it in
its sample, so the samples advance together: each round is one batched generation (the samples at a
check) and one batched forward pass (the samples at a verdict).

Two engines, one loop: transformers (`model.generate`, left-padded, greedy) and vLLM (greedy
generation with stop "]", and the two verdicts' prompt log-probabilities). Both see the same ids:
every piece is tokenized alone and a written check is re-tokenized as " [calc V]", the ids training
saw. Prefix property: scoring steps[:k] gives the first k scores of scoring all steps (causal model,
greedy decoding, pieces tokenized per step). Too long: the oldest context tokens are dropped (the
window keeps the last `max_length` tokens); the scores of steps read that way are approximate.
Identical (question, steps) items in one batch are scored once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from prm.errors import UserError
from prm.scoring.base import pad_ids, read_settings
from prm.scoring.checks import CALC_CLOSE, CALC_OPEN, Check, layout, piece_ids, prompt_ids, verdict_ids

MAX_CHECK_TOKENS = 12


def is_generative(path: str | Path) -> bool:
    """A model dir trained with objective "generative"."""
    return read_settings(path).get("objective") == "generative"


@dataclass
class Trace:
    """One sample's reading: `scores` per step and `checks` = (step, Check, the value the verifier wrote)."""

    scores: list = field(default_factory=list)
    checks: list = field(default_factory=list)


@dataclass
class _State:
    ids: list
    pieces: list
    i: int = 0
    trace: Trace = field(default_factory=Trace)


def _sigmoid(d: float) -> float:
    return 1.0 / (1.0 + math.exp(-d)) if d >= 0 else math.exp(d) / (1.0 + math.exp(d))


class _HFEngine:
    """transformers: greedy `generate` (left-padded) and one forward pass for verdicts (right-padded)."""

    name = "transformers"

    def __init__(self, model_dir: str, tokenizer, *, device: str | None, dtype: str, max_batch_tokens: int,
                 max_batch_size: int):
        import torch
        from transformers import AutoModelForCausalLM

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype)).to(self.device).eval()
        except Exception as e:  # missing dir, broken files
            raise UserError(f"cannot load {model_dir!r} as a causal LM: {type(e).__name__}: "
                            f"{str(e).splitlines()[0][:200] if str(e) else ''}") from None
        self.tok, self.max_batch_tokens, self.max_batch_size = tokenizer, max_batch_tokens, max_batch_size
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        # generation stops at any token that writes the check's closing bracket
        self.stop_ids = [i for i in range(len(tokenizer)) if CALC_CLOSE in tokenizer.decode([i])]

    def _chunks(self, contexts):
        from prm.scoring.base import length_batches

        return length_batches(contexts, self.max_batch_tokens, self.max_batch_size)

    def generate(self, contexts: list[list[int]], max_new: int) -> list[str]:
        import torch

        out: list = [None] * len(contexts)
        with torch.inference_mode():
            for b in self._chunks(contexts):
                x, mask = pad_ids([contexts[i] for i in b], self.pad_id, left=True)
                width = x.shape[1]
                g = self.model.generate(input_ids=x.to(self.device), attention_mask=mask.to(self.device),
                                        max_new_tokens=max_new, do_sample=False, eos_token_id=self.stop_ids,
                                        pad_token_id=self.pad_id, temperature=None, top_p=None, top_k=None)
                for row, i in enumerate(b):
                    out[i] = self.tok.decode(g[row, width:].tolist(), skip_special_tokens=True)
        return out

    def verdicts(self, contexts: list[list[int]], ok: int, bad: int) -> list[float]:
        import torch

        out: list = [None] * len(contexts)
        with torch.inference_mode():
            for b in self._chunks(contexts):
                x, mask = pad_ids([contexts[i] for i in b], self.pad_id)
                logits = self.model(input_ids=x.to(self.device), attention_mask=mask.to(self.device)).logits
                for row, i in enumerate(b):
                    last = logits[row, len(contexts[i]) - 1].double()
                    out[i] = _sigmoid(float(last[ok] - last[bad]))
        return out

    def close(self) -> None:
        self.model = None


class _VLLMEngine:
    """vLLM: greedy generation with stop "]"; verdicts from the prompt log-probabilities of context + ok
    and context + bad (prefix caching makes the second nearly free)."""

    name = "vllm"

    def __init__(self, model_dir: str, *, dtype: str, gpu_memory_utilization: float, max_model_len: int | None,
                 seed: int, enforce_eager: bool | None):
        from prm.vllm_engine import start_llm

        kw = {} if enforce_eager is None else {"enforce_eager": enforce_eager}
        self.llm = start_llm(model_dir, dtype=dtype, gpu_memory_utilization=gpu_memory_utilization,
                             max_model_len=max_model_len, seed=seed, **kw)

    def generate(self, contexts: list[list[int]], max_new: int) -> list[str]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        sp = SamplingParams(temperature=0.0, max_tokens=max_new, stop=[CALC_CLOSE], include_stop_str_in_output=True)
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=c) for c in contexts], sp, use_tqdm=False)
        return [o.outputs[0].text for o in outs]

    def verdicts(self, contexts: list[list[int]], ok: int, bad: int) -> list[float]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        sp = SamplingParams(temperature=0.0, max_tokens=1, prompt_logprobs=1)
        prompts = [TokensPrompt(prompt_token_ids=c + [t]) for c in contexts for t in (ok, bad)]
        outs = self.llm.generate(prompts, sp, use_tqdm=False)
        lps = [o.prompt_logprobs[-1][t].logprob for o, t in zip(outs, [ok, bad] * len(contexts))]
        return [_sigmoid(lps[2 * i] - lps[2 * i + 1]) for i in range(len(contexts))]

    def close(self) -> None:
        from prm.vllm_engine import close_llm

        close_llm(self.llm)
        self.llm = None


class GenerativeScorer:
    """A model trained by `prm train --objective generative`, read as a step verifier."""

    kind = "prm"

    def __init__(self, model_dir: str | Path, *, backend: str = "transformers", max_length: int | None = None,
                 max_check_tokens: int | None = None, device: str | None = None, dtype: str | None = None,
                 max_batch_tokens: int = 16384, max_batch_size: int = 64, gpu_memory_utilization: float = 0.3,
                 max_model_len: int | None = None, enforce_eager: bool | None = None, seed: int = 0):
        from transformers import AutoTokenizer

        self.model_dir = str(model_dir)
        s = read_settings(model_dir)
        if s.get("objective") != "generative":
            raise UserError(f"{Path(model_dir) / 'config.json'}: prm_toolkit.objective is "
                            f"{s.get('objective')!r}, not 'generative'")
        self.sep, self.position = s["sep"], s.get("check_position", "before_value")
        self.max_check_tokens = int(max_check_tokens or s.get("max_check_tokens") or MAX_CHECK_TOKENS)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        except Exception as e:
            raise UserError(f"cannot load a tokenizer from {self.model_dir!r}: {type(e).__name__}") from None
        self.open_ids = self.tokenizer(CALC_OPEN, add_special_tokens=False)["input_ids"]
        self.prefix, self.ok_id, self.bad_id, _, _ = verdict_ids(self.tokenizer)
        from transformers import AutoConfig

        n_pos = getattr(AutoConfig.from_pretrained(self.model_dir), "max_position_embeddings", None) or 10 ** 9
        self.window = min(int(max_length or s.get("max_length") or 4096), n_pos) - self.max_check_tokens - 1
        if backend == "vllm":
            self.engine = _VLLMEngine(self.model_dir, dtype=dtype or "float32",
                                      gpu_memory_utilization=gpu_memory_utilization,
                                      max_model_len=max_model_len, seed=seed, enforce_eager=enforce_eager)
        else:
            self.engine = _HFEngine(self.model_dir, self.tokenizer, device=device, dtype=dtype or "float32",
                                    max_batch_tokens=max_batch_tokens, max_batch_size=max_batch_size)
        self.backend = self.engine.name
        self.stats = {"samples": 0, "checks": 0, "windowed_reads": 0}

    def _fit(self, ids: list[int]) -> list[int]:
        if len(ids) > self.window:
            self.stats["windowed_reads"] += 1
            return ids[-self.window:]
        return ids

    def trace_batch(self, items: list[tuple[str, list[str]]]) -> list[Trace]:
        """Scores and written checks of each (question, steps); see the module docstring."""
        keys: dict = {}
        for q, steps in items:
            keys.setdefault((q, tuple(steps)), None)
        states = {k: _State(prompt_ids(self.tokenizer, k[0]), layout(list(k[1]), self.sep, None, self.position))
                  for k in keys}
        live = list(states.values())
        while live:
            gen, read = [], []
            for st in live:
                while st.i < len(st.pieces) and st.pieces[st.i].kind == "text":
                    st.ids += piece_ids(self.tokenizer, st.pieces[st.i], st.pieces[st.i].text)
                    st.i += 1
                if st.i < len(st.pieces):
                    (gen if st.pieces[st.i].kind == "calc" else read).append(st)
            if gen:
                texts = self.engine.generate([self._fit(st.ids + self.open_ids) for st in gen], self.max_check_tokens)
                for st, text in zip(gen, texts):
                    value = " ".join(text.split(CALC_CLOSE)[0].split())    # one line, no bracket
                    p = st.pieces[st.i]
                    st.trace.checks.append((p.step, p.check, value))
                    st.ids += piece_ids(self.tokenizer, p, value)
                    st.i += 1
                self.stats["checks"] += len(gen)
            if read:
                probs = self.engine.verdicts([self._fit(st.ids + self.prefix) for st in read], self.ok_id, self.bad_id)
                for st, prob in zip(read, probs):
                    st.trace.scores.append(prob)
                    st.ids += piece_ids(self.tokenizer, st.pieces[st.i], prob >= 0.5)
                    st.i += 1
            live = [st for st in live if st.i < len(st.pieces)]
        self.stats["samples"] += len(items)
        return [states[(q, tuple(steps))].trace for q, steps in items]

    def score(self, question: str, steps: list[str]) -> list[float]:
        return self.score_batch([(question, steps)])[0]

    def score_batch(self, items: list[tuple[str, list[str]]], *, progress: bool = False) -> list[list[float]]:
        return [list(t.scores) for t in self.trace_batch(items)]

    def close(self) -> None:
        if getattr(self, "engine", None) is not None:
            self.engine.close()
            self.engine = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


__all__ = ["Check", "GenerativeScorer", "Trace", "is_generative"]
