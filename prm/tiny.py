"""Tiny models built here, offline: a byte-level BPE tokenizer trained with `tokenizers` on the
texts you give, and a small Llama-architecture causal LM, saved as a normal HF model directory that
transformers and vLLM both load.

Used by the tests (a mock model per stage) and by the embedded default policy. Nothing here
downloads anything.

`regex_pretokenize=False` trains BPE without the GPT-2 pre-tokenizer split, so merges may cross
whitespace, e.g. "6.\\n\\nThe" can become one token. Tests of label placement use that on purpose:
it is the tokenizer behaviour that shifts labels when training and scoring tokenize differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

SPECIAL = {"bos": "<|bos|>", "eos": "<|eos|>", "pad": "<|pad|>"}


@dataclass(frozen=True)
class TinyConfig:
    """Shape of a tiny Llama. head_dim = hidden / heads = 32, a size vLLM's CPU attention supports."""

    vocab_size: int = 512          # BPE target; the real size is whatever training reaches
    hidden_size: int = 128
    intermediate_size: int = 256
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 1024
    regex_pretokenize: bool = True
    individual_digits: bool = False  # one token per digit: lets a tiny model learn arithmetic digit by digit
    seed: int = 0


def build_tokenizer(texts: Iterable[str], vocab_size: int = 512, *, regex_pretokenize: bool = True,
                    individual_digits: bool = False, isolate_newlines: bool = False):
    """Train a byte-level BPE on `texts`; returns a transformers PreTrainedTokenizerFast.

    `individual_digits=True` splits every digit into its own pre-token before the byte-level step,
    so no merge ever spans two digits ("123" is always 1, 2, 3): numbers share one 10-token
    alphabet, which is what a tiny model needs to learn carrying instead of memorizing sums.

    `isolate_newlines=True` makes every "\n" its own token. A policy continued from a step prefix
    sees a prompt that ends in the step separator; with GPT-2 pre-tokenization, training text
    has "\n   " (newline + indentation) as ONE token, so a prompt ending in a lone "\n" token is
    a sequence the model never saw, and code continuations from step prefixes were garbage.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=regex_pretokenize)
    splits = ([pre_tokenizers.Split("\n", behavior="isolated")] if isolate_newlines else []) + \
        ([pre_tokenizers.Digits(individual_digits=True)] if individual_digits else [])
    tok.pre_tokenizer = pre_tokenizers.Sequence(splits + [byte_level]) if splits else byte_level
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=SPECIAL["bos"], eos_token=SPECIAL["eos"], pad_token=SPECIAL["pad"],
        clean_up_tokenization_spaces=False,
    )


def llama_config(tokenizer, cfg: TinyConfig = TinyConfig()):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_key_value_heads,
        max_position_embeddings=cfg.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        torch_dtype="float32",
    )


def build_tiny_causal_lm(out_dir: str | Path, texts: Iterable[str], cfg: TinyConfig = TinyConfig()) -> Path:
    """Write a randomly initialised tiny causal LM + tokenizer to `out_dir` and return the path."""
    import torch
    from transformers import AutoModelForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(texts, cfg.vocab_size, regex_pretokenize=cfg.regex_pretokenize,
                                individual_digits=cfg.individual_digits)
    torch.manual_seed(cfg.seed)
    model = AutoModelForCausalLM.from_config(llama_config(tokenizer, cfg))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
