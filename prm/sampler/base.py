"""Sampling from a policy: the settings, the result type and the contract both backends keep.

Settings come in two objects, as in vLLM: `EngineConfig` (model, dtype, memory, tensor parallel
size, context length, engine seed, prefix caching) is fixed for the life of a sampler;
`SamplingConfig` (n, temperature, top_p, max_tokens, stop, seed) is per request.

Contracts both backends keep (tested on a tiny model):
- `generate(prompts, params)` returns one list of `params.n` `Completion`s per prompt, in order.
- Stop strings: the returned `text` EXCLUDES the stop string and everything after it (vLLM's
  default), and `finish_reason` is "stop". `token_ids` are the generated tokens up to and including
  the token that completed the stop string (or the EOS token), so they may decode to a little more
  than `text`. For step-wise generation pass the step separator as `stop` and append it yourself:
  `continuation_prompt(prompt, steps + [c.text], sep)` continues from there without re-templating.
- `finish_reason`: "stop" (EOS or a stop string) or "length" (`max_tokens`, or the context end).
- `cumulative_logprob`: the sum of log p(token) under the model's raw distribution (before
  temperature and top-p; vLLM's default `raw_logprobs` mode) over `token_ids`.
- `seed`: the same `SamplingConfig.seed` gives the same samples within a backend (the two backends
  draw differently, so not across them). With `seed=None` draws follow `EngineConfig.seed`.
- `max_tokens` is clamped to the room left in the context; a prompt that leaves no room is an error.

Bad input raises `UserError` with one line each: a missing model path, an unknown backend, n < 1
(and other out-of-range settings), a prompt longer than the context, an engine that cannot start
(on CPU, `gpu_memory_utilization` is the fraction of RAM vLLM reserves: checked before starting).

`SamplerLike` is what pipeline code may rely on; the real backends (`Sampler` subclasses) and the
test fakes (`tests/fakes.py`) both satisfy it (`tests/test_engine_protocols.py`).
The prompt helpers at the end are pure: no engine needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

from prm.errors import UserError
from prm.vllm_engine import vllm_available  # noqa: F401 - part of this module's API (the factory asks it)

BACKENDS = ("auto", "vllm", "transformers")
# The plain format for models without a chat template (the tiny policy). It ends with a newline so
# the first step starts a fresh pre-token: tokenizing the prompt alone, as an engine does, gives
# the same ids as tokenizing prompt + completion together.
PLAIN_FORMAT = "Question: {question}\nAnswer:\n"


def request_seed(seed: int | None, key: str | None) -> int | None:
    """A stable 31-bit request seed for `key` (a problem id, a prefix) under base `seed`: a request's
    draws then depend on the seed and the key only, not on which requests shared its batch or in what
    order they came (Python's hash() is salted per process, hence blake2b). None stays None."""
    if seed is None or key is None:
        return seed
    import hashlib

    digest = hashlib.blake2b(f"{seed}\x00{key}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF

@dataclass(frozen=True)
class EngineConfig:
    """Engine settings, with vLLM's names. `gpu_memory_utilization` on CPU is the share of RAM
    vLLM reserves for weights + KV cache; `max_model_len=None` means the model's own context."""

    model: str
    backend: str = "auto"  # "auto" | "vllm" | "transformers"
    dtype: str = "auto"
    gpu_memory_utilization: float = 0.3
    tensor_parallel_size: int = 1
    max_model_len: int | None = None
    seed: int = 0
    enable_prefix_caching: bool = True

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise UserError(f"unknown backend {self.backend!r}; choose from {', '.join(BACKENDS)}")
        if not 0.0 < self.gpu_memory_utilization <= 1.0:
            raise UserError(f"gpu_memory_utilization must be in (0, 1], got {self.gpu_memory_utilization}")
        if self.tensor_parallel_size < 1:
            raise UserError(f"tensor_parallel_size must be >= 1, got {self.tensor_parallel_size}")
        if self.max_model_len is not None and self.max_model_len < 2:
            raise UserError(f"max_model_len must be >= 2, got {self.max_model_len}")


@dataclass(frozen=True)
class SamplingConfig:
    """Per-request sampling settings, with vLLM's names. temperature=0 is greedy."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def __post_init__(self):
        if isinstance(self.stop, str):  # a bare string would be read as one stop per character
            object.__setattr__(self, "stop", (self.stop,))
        else:
            object.__setattr__(self, "stop", tuple(self.stop))
        if not isinstance(self.n, int) or self.n < 1:
            raise UserError(f"n must be an integer >= 1, got {self.n!r}")
        if self.temperature < 0:
            raise UserError(f"temperature must be >= 0, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise UserError(f"top_p must be in (0, 1], got {self.top_p}")
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise UserError(f"max_tokens must be an integer >= 1, got {self.max_tokens!r}")
        if any(not isinstance(s, str) or s == "" for s in self.stop):
            raise UserError(f"stop strings must be non-empty strings, got {self.stop!r}")


@dataclass
class Completion:
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    finish_reason: str  # "stop" | "length"
    prompt_tokens: int
    completion_tokens: int
    extra: dict = field(default_factory=dict)


@runtime_checkable
class SamplerLike(Protocol):
    """What pipeline code (labelers, search, `prm sample`, the demo) may use of a sampler."""

    backend: str             # "vllm" | "transformers" | a fake's name; written into provenance
    cfg: Any                 # the EngineConfig (provenance reads `cfg.model`); None for a fake
    tokenizer: Any           # prompts are built with it; None for a fake
    eos_ids: Sequence[int]   # beam search: a step whose last token is one of these ends the solution

    def generate(self, prompts: list[str],
                 params: SamplingConfig | list[SamplingConfig]) -> list[list[Completion]]: ...

    def close(self) -> None: ...


class Sampler:
    """Base class: input checks shared by both backends; subclasses implement `_generate` and set
    `eos_ids`."""

    backend = "base"
    cfg: EngineConfig
    tokenizer: Any
    max_model_len: int
    eos_ids: list[int]

    def __init__(self, cfg: EngineConfig, tokenizer, max_model_len: int):
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.max_model_len = max_model_len

    def generate(self, prompts: list[str], params: SamplingConfig | list[SamplingConfig]) -> list[list[Completion]]:
        """`params` is one SamplingConfig for all prompts, or a list with one per prompt (e.g. a
        seed per problem, so a problem's samples do not depend on how problems were batched)."""
        if isinstance(prompts, str):
            raise UserError("generate() takes a list of prompts, got one string")
        for i, p in enumerate(prompts):
            if not isinstance(p, str):
                raise UserError(f"prompt {i} is {type(p).__name__}, expected str")
        per_prompt = list(params) if isinstance(params, (list, tuple)) else [params] * len(prompts)
        if len(per_prompt) != len(prompts) or not all(isinstance(x, SamplingConfig) for x in per_prompt):
            raise UserError(f"params must be a SamplingConfig or a list of {len(prompts)} of them")
        if not prompts:
            return []
        lengths = [len(ids) for ids in self.tokenizer(list(prompts))["input_ids"]]
        for i, n in enumerate(lengths):
            if n >= self.max_model_len:
                raise UserError(f"prompt {i} has {n} tokens but the context is {self.max_model_len} tokens "
                                f"(max_model_len); shorten the prompt or raise max_model_len")
            if n == 0:
                raise UserError(f"prompt {i} is empty")
        return self._generate(list(prompts), lengths, per_prompt)

    def _generate(self, prompts: list[str], lengths: list[int], params: list[SamplingConfig]) -> list[list[Completion]]:
        raise NotImplementedError

    def room(self, prompt_len: int, params: SamplingConfig) -> int:
        return max(1, min(params.max_tokens, self.max_model_len - prompt_len))

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def check_model_path(model: str) -> None:
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise UserError(f"model path {model}: no config.json there (expected a Hugging Face model directory)")
        return
    # not a local path: a hub id is fine only when it is already in the local HF cache (no downloads)
    try:
        from transformers import AutoConfig

        AutoConfig.from_pretrained(model, local_files_only=True)
    except Exception:  # noqa: BLE001 - any failure means the same thing to the user
        raise UserError(f"model path not found: {model} (a local model directory, or a hub id already "
                        f"in the local Hugging Face cache)") from None


# ----------------------------------------------------------------------------- prompts (pure)
@lru_cache(maxsize=16)
def _load_tokenizer(model_dir: str):
    from transformers import AutoTokenizer

    check_model_path(model_dir)
    return AutoTokenizer.from_pretrained(model_dir)


def build_prompt(tokenizer_or_model_dir, question: str) -> str:
    """The prompt for `question`: the model's chat template when it has one (with the assistant
    turn opened), else `PLAIN_FORMAT`. `None` gives the plain format without loading anything."""
    tok = tokenizer_or_model_dir
    if isinstance(tok, (str, Path)):
        tok = _load_tokenizer(str(tok))
    if tok is not None and getattr(tok, "chat_template", None):
        return tok.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                       add_generation_prompt=True)
    return PLAIN_FORMAT.format(question=question)


def continuation_prompt(prompt: str, steps: list[str], sep: str) -> str:
    """`prompt` followed by the steps so far, each ended by `sep`: the model continues with the next
    step. No re-templating: the prompt string is used as is. With no steps, the prompt itself."""
    if not steps:
        return prompt
    return prompt + sep.join(steps) + sep
