"""Scorer formats: how a published PRM family wants its steps written and where its scores are read.

    from prm.scoring import load_scorer
    load_scorer("Qwen2.5-Math-PRM-7B")                         # format picked from config.json
    load_scorer("trl-prm", format="trl", sep="\\n")             # TRL saves no separator: give it

Every published PRM encodes steps and reads scores its own way, and getting either wrong is silent
(scores come out, meaningless ones). One table, `FORMATS`, says per family: the sequence builder
(question, steps -> token ids + one position per step), which model class holds the head (`model`,
below), the model card it follows, and whether vLLM runs it. Both backends run the same builder and
return one (T, 2) row per token, read by `Scorer._read` as softmax(row)[1]:

| model                | head                                   | row                    |
|----------------------|----------------------------------------|------------------------|
| token-classification | `*ForTokenClassification`, 2 classes   | the two class logits   |
| qwen2-prm            | Qwen2 + Linear-ReLU-Linear, 2 classes  | the two class logits   |
| causal-lm            | the LM head, two candidate tokens      | [logit(bad), logit(good)] |
| value-head           | a scalar `v_head.summary` (Linear, 1)  | [0, v]: softmax[1] = sigmoid(v) |

Positions are found from character offsets of one tokenization of the whole text (as
`prm.sequence` does), then checked: the token there must be the family's step token (or, for
RLHFlow, the next token must be "+"), else `ValueError`: a tokenizer that merges the tag with its
neighbours would silently move every score. Published formats are never left-truncated (a cut chat
template or question is a sequence the model never saw): steps past `max_length` score NaN.

Automatic choice (`detect`), from config.json (and for causal LMs the tokenizer):
`prm_toolkit` block -> toolkit; architectures `Qwen2ForProcessRewardModel` -> qwen2.5-math-prm;
`Qwen2ForPrmModel` (Skywork) -> value-head; any `*ForTokenClassification` without the block -> trl;
a `*ForCausalLM` with a chat template -> rlhflow (RLHFlow's Llama-3.1 tokenizer has one), without one
but with "ки" in tokenizer.json -> math-shepherd; any other causal LM is refused (a policy given as
a scorer would otherwise score silently). `--format` overrides it.

vLLM (0.32): token classification and Qwen2ForProcessRewardModel run on the pooling runner with
`token_classify` and ALL-token pooling (the Qwen PRM's default STEP pooling hard-codes step_tag_id
151651; we read the positions ourselves so both backends share one reader). Causal-LM PRMs run as
`convert="classify"` with `classifier_from_token=[bad, good]`, `method="no_post_processing"`: the
score head is the LM head's two rows, so each token's row is exactly [logit(bad), logit(good)]. This
replaces STEP pooling's `returned_token_ids`, which for a `*ForCausalLM` in the pooling runner
indexes hidden-state dimensions, not vocabulary logits (the LM head is dropped; vLLM issue #16545).
vLLM has no Skywork `Qwen2ForPrmModel` (it needs a plugin): the value-head format is
transformers-only.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from prm.errors import UserError
from prm.sequence import Encoded
from prm.sequence import encode as toolkit_encode

QWEN_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
QWEN_STEP = "<extra_0>"
SHEPHERD_TAG, GOOD, BAD = "ки", "+", "-"
SKYWORK_STEP = "\n"


@dataclass(frozen=True)
class Options:
    """What a builder needs besides the text: the toolkit's separator and tag (from its config), the
    TRL separator (from the user)."""

    sep: str | None = None
    step_tag: str | None = None


def token_id(tokenizer, text: str) -> int:
    """The id a model card means by `tokenizer.encode(text)[-1]`: the last token of `text`."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    if not ids:
        raise ValueError(f"{text!r} encodes to no token")
    return ids[-1]


def offsets_to_positions(tokenizer, text: str, char_ends: list[int],
                         add_special_tokens: bool) -> tuple[list[int], list[int]]:
    """Tokenize `text` once; for each char offset, the last real token starting before it."""
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError("scorer formats need a fast (Rust) tokenizer: they read character offsets")
    enc = tokenizer(text, add_special_tokens=add_special_tokens, return_offsets_mapping=True,
                    return_special_tokens_mask=True)
    real = [i for i, m in enumerate(enc["special_tokens_mask"]) if not m]
    starts = [enc["offset_mapping"][i][0] for i in real]
    pos = []
    for c in char_ends:
        k = bisect_left(starts, c) - 1
        if k < 0:
            raise ValueError("empty token sequence for a non-empty text")
        pos.append(real[k])
    return list(enc["input_ids"]), pos


def _check_tokens(ids: list[int], positions: list[int], want: int, what: str) -> None:
    bad = [p for p in positions if ids[p] != want]
    if bad:
        raise ValueError(f"the {what} is not one token at {len(bad)} step end(s): the tokenizer merged it with "
                         "its neighbours, so scores would be read at the wrong tokens")


def _no_cut(ids: list[int], positions: list[int]) -> Encoded:
    # prompt_end = 1, n_lead = 0: nothing is cuttable from the left (see the module docstring)
    return Encoded(ids, positions, 1, 0)


# -- builders: (tokenizer, question, steps, options) -> Encoded

def build_toolkit(tok, q: str, steps: list[str], o: Options) -> Encoded:
    """prm/sequence.py: prompt S step_1 S ... step_n S, S = sep + step tag, label on S's last token."""
    return toolkit_encode(tok, q, steps, o.sep, o.step_tag)


def build_trl(tok, q: str, steps: list[str], o: Options) -> Encoded:
    """TRL PRMTrainer.tokenize_row: [BOS] + prompt ids, then per step (step ids + separator ids), each
    piece tokenized alone with add_special_tokens=False; the label on the step's last token (the
    separator's last token). No separator after the prompt. Left-truncatable like TRL's
    max_prompt_length."""
    if not o.sep:
        raise UserError("the trl format needs the separator the model was trained with (TRL does not save it): "
                        "pass --sep (TRL's default step_separator is '\\n')")
    lead = [tok.bos_token_id] if tok.bos_token_id is not None else []
    ids = lead + tok(q, add_special_tokens=False)["input_ids"]
    sep_ids = tok.encode(o.sep, add_special_tokens=False)
    prompt_end, pos = max(len(ids), len(lead) + 1), []
    for s in steps:
        ids += tok(s, add_special_tokens=False)["input_ids"] + sep_ids
        pos.append(len(ids) - 1)
    return Encoded(ids, pos, prompt_end, len(lead))


def build_qwen_prm(tok, q: str, steps: list[str], o: Options) -> Encoded:
    """Qwen2.5-Math-PRM model card: chat template (system = QWEN_SYSTEM, the card's prompt; user = question;
    assistant = steps each followed by <extra_0>), `tokenizer.encode(text)`, P(class 1) at every
    <extra_0> of the answer."""
    content = "".join(s + QWEN_STEP for s in steps)
    msgs = [{"role": "system", "content": QWEN_SYSTEM}, {"role": "user", "content": q},
            {"role": "assistant", "content": content}]
    text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=False)
    start = text.rfind(content) if content else len(text)
    if start < 0:
        raise ValueError("the chat template rewrote the answer text; cannot locate the steps")
    ends, n = [], start
    for s in steps:
        n += len(s) + len(QWEN_STEP)
        ends.append(n)
    ids, pos = offsets_to_positions(tok, text, ends, add_special_tokens=True)
    _check_tokens(ids, pos, tok.convert_tokens_to_ids(QWEN_STEP), f"step token {QWEN_STEP}")
    return _no_cut(ids, pos)


def build_math_shepherd(tok, q: str, steps: list[str], o: Options) -> Encoded:
    """Math-Shepherd model card: f"{question} {output}" where output is the steps joined with " ки\\n"
    and ending in " ки"; `tokenizer.encode` (BOS added); score = softmax(logits of "+", "-")[+] at
    each ки."""
    text, ends = q + " ", []
    for k, s in enumerate(steps):
        text += s + " " + SHEPHERD_TAG
        ends.append(len(text))
        if k < len(steps) - 1:
            text += "\n"
    ids, pos = offsets_to_positions(tok, text, ends, add_special_tokens=True)
    _check_tokens(ids, pos, token_id(tok, SHEPHERD_TAG), f"step tag {SHEPHERD_TAG!r}")
    return _no_cut(ids, pos)


def rlhflow_conversation(q: str, steps: list[str]) -> list[dict]:
    """RLHFlow model card: turn k is the user saying step k (the first prefixed by the question and a
    space), the assistant answering "+"."""
    conv = []
    for k, s in enumerate(steps):
        conv.append({"role": "user", "content": f"{q} {s}" if k == 0 else s})
        conv.append({"role": "assistant", "content": GOOD})
    return conv


def build_rlhflow(tok, q: str, steps: list[str], o: Options) -> Encoded:
    """RLHFlow Llama3.1-8B-PRM model card: the whole conversation through the chat template; the score
    of step k is P("+") against P("-") predicted where assistant turn k begins (the card reads
    logits[-3] of each prefix: the token just before "+<|eot_id|>")."""
    conv = rlhflow_conversation(q, steps)
    if not steps:
        return _no_cut(tok.encode(q), [])
    text = tok.apply_chat_template(conv, tokenize=False)
    ends = []
    for k in range(len(steps)):
        head = tok.apply_chat_template(conv[:2 * k + 1], tokenize=False, add_generation_prompt=True)
        if not text.startswith(head):
            raise ValueError("the chat template does not render a conversation's turns as a prefix of it")
        ends.append(len(head))
    ids, pos = offsets_to_positions(tok, text, ends, add_special_tokens=False)
    plus = token_id(tok, GOOD)
    bad = [p for p in pos if p + 1 >= len(ids) or ids[p + 1] != plus]
    if bad:
        raise ValueError('the assistant answer "+" is not one token after the turn header: the tokenizer merged '
                         "it, so scores would be read at the wrong tokens")
    return _no_cut(ids, pos)


def build_value_head(tok, q: str, steps: list[str], o: Options) -> Encoded:
    """Skywork-o1-Open-PRM (skywork-o1-prm-inference, prepare_input): encode(bos + problem + "\\n"),
    then per step encode(step) + [id of "\\n"], the reward flag on that "\\n". Steps are taken as
    given (Skywork splits the response at "\\n" itself)."""
    ids = tok.encode((tok.bos_token or "") + q + SKYWORK_STEP, add_special_tokens=False)
    nl, pos = token_id(tok, SKYWORK_STEP), []
    for s in steps:
        ids += tok.encode(s, add_special_tokens=False) + [nl]
        pos.append(len(ids) - 1)
    return _no_cut(ids, pos)


@dataclass(frozen=True)
class Format:
    """One family. `model`: which head class (module docstring table); `good`/`bad`: the candidate
    tokens of a causal-LM PRM; `vllm`: None when vLLM runs it, else why not."""

    build: Callable
    model: str
    source: str
    good: str | None = None
    bad: str | None = None
    vllm: str | None = None


FORMATS = {
    "toolkit": Format(build_toolkit, "token-classification", "this toolkit's `prm train` (prm/sequence.py)"),
    "trl": Format(build_trl, "token-classification",
                  "TRL PRMTrainer.tokenize_row (trl/trainer/prm_trainer.py, later trl/experimental/prm)"),
    "qwen2.5-math-prm": Format(build_qwen_prm, "qwen2-prm", "https://huggingface.co/Qwen/Qwen2.5-Math-PRM-7B"),
    "math-shepherd": Format(build_math_shepherd, "causal-lm",
                            "https://huggingface.co/peiyi9979/math-shepherd-mistral-7b-prm", good=GOOD, bad=BAD),
    "rlhflow": Format(build_rlhflow, "causal-lm", "https://huggingface.co/RLHFlow/Llama3.1-8B-PRM-Deepseek-Data",
                      good=GOOD, bad=BAD),
    "value-head": Format(build_value_head, "value-head",
                         "https://huggingface.co/Skywork/Skywork-o1-Open-PRM-Qwen-2.5-7B and "
                         "github.com/SkyworkAI/skywork-o1-prm-inference",
                         vllm="vLLM 0.32 has no Skywork Qwen2ForPrmModel (it needs a plugin); "
                              "use backend transformers"),
}

# config.json architectures that name a family outright
ARCHITECTURES = {"Qwen2ForProcessRewardModel": "qwen2.5-math-prm", "Qwen2ForPrmModel": "value-head"}


def read_config(model_dir: str | Path, what: str = "a model directory") -> dict:
    """config.json of a model dir as a dict; UserError naming the file when missing or not JSON."""
    path = Path(model_dir) / "config.json"
    if not path.exists():
        raise UserError(f"{path}: no such file (is {model_dir} {what}?)")
    try:
        cfg = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: invalid JSON ({e.msg})") from None
    if not isinstance(cfg, dict):
        raise UserError(f"{path}: expected a JSON object")
    return cfg


def has_chat_template(model_dir: str | Path) -> bool:
    d = Path(model_dir)
    if (d / "chat_template.jinja").exists() or (d / "chat_template.json").exists():
        return True
    tc = d / "tokenizer_config.json"
    try:
        return bool(json.loads(tc.read_text()).get("chat_template")) if tc.exists() else False
    except (json.JSONDecodeError, OSError):
        return False


def detect(model_dir: str | Path, cfg: dict | None = None) -> str:
    """The format of a model dir, from its config.json (module docstring); UserError when unknown."""
    cfg = read_config(model_dir) if cfg is None else cfg
    if isinstance(cfg.get("prm_toolkit"), dict):
        return "toolkit"
    archs = [a for a in cfg.get("architectures") or [] if isinstance(a, str)]
    for a in archs:
        if a in ARCHITECTURES:
            return ARCHITECTURES[a]
    if any(a.endswith("ForTokenClassification") for a in archs):
        return "trl"
    if any(a.endswith("ForCausalLM") for a in archs):
        # a causal LM is only a PRM by convention: ask for evidence of one, else the user says which
        if has_chat_template(model_dir):
            return "rlhflow"
        if vocab_has(model_dir, SHEPHERD_TAG):
            return "math-shepherd"
        raise UserError(f"{Path(model_dir) / 'config.json'}: a causal LM ({', '.join(archs)}) with no chat "
                        f"template and no {SHEPHERD_TAG!r} token in tokenizer.json is not a PRM this toolkit recognises (no "
                        f"'prm_toolkit' block either); if it is one, pass --format, one of {', '.join(FORMATS)}")
    raise UserError(f"{Path(model_dir) / 'config.json'}: cannot tell the scorer format from 'architectures' "
                    f"{archs or '(missing)'} and no 'prm_toolkit' block; pass --format, one of {', '.join(FORMATS)}")


def _byte_level(text: str) -> str:
    """`text` as a GPT-2 byte-level BPE vocabulary spells it (bytes mapped to printable characters)."""
    keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    table, extra = {b: chr(b) for b in keep}, 0
    for b in range(256):
        if b not in table:
            table[b], extra = chr(256 + extra), extra + 1
    return "".join(table[b] for b in text.encode("utf-8"))


def vocab_has(model_dir: str | Path, token: str) -> bool:
    """Whether tokenizer.json holds `token` as one token (plain, SentencePiece "▁" or byte-level
    spelling, with or without a leading space). False when there is no tokenizer.json."""
    path = Path(model_dir) / "tokenizer.json"
    try:
        tj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return False
    vocab = (tj.get("model") or {}).get("vocab") or {}
    names = set(vocab) if isinstance(vocab, dict) else {v[0] for v in vocab if isinstance(v, list) and v}
    names |= {t.get("content") for t in tj.get("added_tokens") or [] if isinstance(t, dict)}
    return bool(names & {token, "\u2581" + token, _byte_level(token), _byte_level(" " + token)})


def check_format(name: str) -> Format:
    if name not in FORMATS:
        raise UserError(f"unknown scorer format {name!r}; choose from {', '.join(FORMATS)}")
    return FORMATS[name]
