"""Tiny random-weight checkpoints of the published PRM families, built offline (no hub access).

Each keeps its family's architecture and tokenizer conventions, scaled down (hidden 64, 2 layers,
head_dim 32 as vLLM's CPU attention wants):
- qwen: `Qwen2ForProcessRewardModel` (config architectures; weights `model.*`, `score.0/2.*`), a
  ChatML template and the special token <extra_0>, as Qwen2.5-Math-PRM-7B's config/tokenizer;
- shepherd: `MistralForCausalLM` whose tokenizer has "ки", "+", "-" and adds BOS, no chat template
  (math-shepherd-mistral-7b-prm);
- rlhflow: `LlamaForCausalLM` with a Llama-3-style chat template (<|start_header_id|> ... <|eot_id|>);
- value: Skywork-style `Qwen2ForPrmModel`: weights `model.*` + `v_head.summary.{weight,bias}`;
- trl: `LlamaForTokenClassification` with no `prm_toolkit` block (a TRL PRMTrainer output).
"""

from __future__ import annotations

import json
from pathlib import Path

TEXTS = [f"Tom has {i} apples and buys {i + 3} more. So {i} + {i + 3} = {2 * i + 3}.\n\nThe answer is {2 * i + 3}.\n"
         for i in range(80)] + ["step one + two - three\n", "we check it again\n\n"]

QWEN_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
LLAMA3_TEMPLATE = ("<|begin_of_text|>{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
                   "{{ m['content'] }}<|eot_id|>{% endfor %}"
                   "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")

SMALL = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
             num_key_value_heads=1, head_dim=32, max_position_embeddings=1024, initializer_range=0.3)


def _tok(special=(), added=(), template=None, bos=False):
    from tokenizers import AddedToken, processors

    from prm.tiny import build_tokenizer

    tok = build_tokenizer(TEXTS, 400)
    if special:
        tok.add_tokens([AddedToken(t, special=True, normalized=False) for t in special], special_tokens=True)
    if added:
        tok.add_tokens([AddedToken(t, normalized=False) for t in added])
    if bos:  # a post-processor that adds BOS, as Llama/Mistral tokenizers do
        tok._tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{tok.bos_token} $A", special_tokens=[(tok.bos_token, tok.bos_token_id)])
    if template:
        tok.chat_template = template
    return tok


def _ids(tok):
    return dict(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                pad_token_id=tok.pad_token_id)


def build_qwen(out: Path) -> Path:
    import torch
    from transformers import Qwen2Config

    from prm.scoring.heads import qwen2_prm_class

    tok = _tok(special=["<|im_start|>", "<|im_end|>", "<extra_0>"], template=QWEN_TEMPLATE)
    torch.manual_seed(0)
    cfg = Qwen2Config(**SMALL, **_ids(tok), tie_word_embeddings=False, num_labels=2)
    model = qwen2_prm_class()(cfg)
    model.config.architectures = ["Qwen2ForProcessRewardModel"]
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def build_causal(out: Path, kind: str) -> Path:
    """kind "shepherd" (Mistral, BOS added, no chat template) or "rlhflow" (Llama, Llama-3 template)."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig

    if kind == "shepherd":
        tok, cfg_cls = _tok(added=["ки"], bos=True), MistralConfig
    else:
        tok = _tok(special=["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
                   template=LLAMA3_TEMPLATE)
        cfg_cls = LlamaConfig
    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_config(cfg_cls(**SMALL, **_ids(tok), tie_word_embeddings=False))
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def build_value_head(out: Path) -> Path:
    import torch
    from safetensors.torch import save_file
    from transformers import Qwen2Config, Qwen2Model

    tok = _tok()
    torch.manual_seed(2)
    cfg = Qwen2Config(**SMALL, **_ids(tok))
    base = Qwen2Model(cfg)
    state = {f"model.{k}": v.contiguous() for k, v in base.state_dict().items()}
    state["v_head.summary.weight"] = 0.1 * torch.randn(1, cfg.hidden_size)
    state["v_head.summary.bias"] = torch.tensor([0.3])
    out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    d = cfg.to_dict()
    d["architectures"] = ["Qwen2ForPrmModel"]
    (out / "config.json").write_text(json.dumps(d, indent=1))
    tok.save_pretrained(out)
    return out


def build_trl(out: Path) -> Path:
    import torch
    from transformers import AutoModelForTokenClassification, LlamaConfig

    tok = _tok(bos=True)
    torch.manual_seed(3)
    model = AutoModelForTokenClassification.from_config(LlamaConfig(**SMALL, **_ids(tok), num_labels=2))
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


BUILDERS = {"qwen2.5-math-prm": build_qwen, "math-shepherd": lambda o: build_causal(o, "shepherd"),
            "rlhflow": lambda o: build_causal(o, "rlhflow"), "value-head": build_value_head, "trl": build_trl}

ITEMS = [
    ("Tom has 3 apples and buys 6 more. How many?", ["So 3 + 6 = 9.", "The answer is 9."]),
    ("What is 2 + 5?", ["2 + 5 = 7.", "we check it again", "The answer is 7."]),
    ("Q: one step only", ["step one + two - three"]),
    ("What is 4 + 4?", ["4 + 4 = 8.\nThat is all.", "The answer is 8."]),
    ("Empty?", []),
]
