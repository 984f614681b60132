"""The transformers backend's models, one per head kind of `prm.scoring.formats` (its `model` field).

Each loader returns a module whose `forward(input_ids, attention_mask)` gives (B, T, 2) rows that
`Scorer._read` turns into softmax(row)[1]:
- token-classification: `AutoModelForTokenClassification` logits (this toolkit's and TRL's PRMs);
- qwen2-prm: `Qwen2ForProcessRewardModel` below, the architecture of Qwen2.5-Math-PRM's remote code
  (modeling_qwen2_rm.py; also vLLM's qwen2_rm.py): Qwen2Model + score = Linear(h, h), ReLU,
  Linear(h, 2). Transformers has no such class, and the remote code is not needed: the weight names
  (`model.*`, `score.0.*`, `score.2.*`) load into this one, so no `trust_remote_code`;
- causal-lm: the decoder's last hidden states times the LM head's rows for [bad, good], without the
  full-vocabulary logits (a 7B model's 32k-152k columns per token are most of the memory);
- value-head: Skywork's `v_head.summary` (Linear(h, 1), bias) on the base model's last hidden
  states, returned as [0, v] so softmax(row)[1] = sigmoid(v). The base loads from `model.*`, the head
  from the checkpoint's safetensors.
"""

from __future__ import annotations

from pathlib import Path

from prm.errors import UserError


def qwen2_prm_class():
    """Built on first use: importing transformers' Qwen2 costs a second and needs torch."""
    import torch
    from transformers import Qwen2Model, Qwen2PreTrainedModel

    class Qwen2ForProcessRewardModel(Qwen2PreTrainedModel):
        def __init__(self, config):
            super().__init__(config)
            self.model = Qwen2Model(config)
            h = config.hidden_size
            self.score = torch.nn.Sequential(torch.nn.Linear(h, h), torch.nn.ReLU(), torch.nn.Linear(h, 2))
            self.post_init()

        def forward(self, input_ids, attention_mask=None):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return self.score(hidden)

    return Qwen2ForProcessRewardModel


def _token_classification(model_dir, dtype, fmt, tokenizer):
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(model_dir, dtype=dtype)
    return lambda ids, mask: model(input_ids=ids, attention_mask=mask).logits, model


def _qwen2_prm(model_dir, dtype, fmt, tokenizer):
    model = qwen2_prm_class().from_pretrained(model_dir, dtype=dtype)
    return lambda ids, mask: model(ids, mask), model


def _causal_lm(model_dir, dtype, fmt, tokenizer):
    from transformers import AutoModelForCausalLM

    from prm.scoring.formats import token_id

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    head = model.get_output_embeddings()
    if getattr(head, "bias", None) is not None:
        raise UserError(f"{model_dir}: an LM head with a bias is not supported by the causal-LM PRM reader")
    rows = [token_id(tokenizer, fmt.bad), token_id(tokenizer, fmt.good)]
    decoder = model.get_decoder()

    def forward(ids, mask):
        hidden = decoder(input_ids=ids, attention_mask=mask).last_hidden_state
        return hidden @ head.weight[rows].T

    return forward, model


def _value_head(model_dir, dtype, fmt, tokenizer):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel

    files = sorted(Path(model_dir).glob("*.safetensors"))
    head = {}
    for f in files:
        head.update({k: v for k, v in load_file(str(f)).items() if k.startswith("v_head.")})
    if "v_head.summary.weight" not in head:
        raise UserError(f"{model_dir}: no 'v_head.summary.weight' in its *.safetensors: not a Skywork-style "
                        "value-head PRM (pass another --format)")
    base = AutoModel.from_pretrained(model_dir, dtype=dtype)
    w = head["v_head.summary.weight"].to(torch.float32)
    b = head.get("v_head.summary.bias", torch.zeros(1)).to(torch.float32)
    lin = torch.nn.Linear(w.shape[1], 1)
    lin.weight.data, lin.bias.data = w, b
    base.add_module("prm_v_head", lin)       # moves with base.to(device)

    def forward(ids, mask):
        v = base.prm_v_head(base(input_ids=ids, attention_mask=mask).last_hidden_state.float())
        return torch.cat([torch.zeros_like(v), v], dim=-1)

    return forward, base


# format.model -> loader(model_dir, torch dtype, Format, tokenizer) -> (forward, the nn.Module to move)
LOADERS = {
    "token-classification": _token_classification,
    "qwen2-prm": _qwen2_prm,
    "causal-lm": _causal_lm,
    "value-head": _value_head,
}
