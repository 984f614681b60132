"""OpenRLHF's remote reward-model protocol: one request of decoded texts in, one reward per text out.

`prm serve` mounts `handle` at POST /get_reward, so OpenRLHF trains against a PRM with
`--remote_rm_url http://HOST:PORT/get_reward`. The protocol as OpenRLHF's main branch speaks it in
2025 (openrlhf/utils/remote_rm_utils.py sends the request; update_samples_with_rewards in
openrlhf/trainer/ppo_utils/experience_maker.py reads the answer):

    request  {"query":   [prompt + response, decoded with special tokens kept, one per sample],
              "prompts": [the prompt of each sample, as OpenRLHF built it (chat template applied)],
              "labels":  [the dataset's --label_key value of each sample: here the gold answer]}
    answer   {"rewards":    [float, ...]   the reward each sample trains on (required),
              "scores":     [float, ...]   0-1 values for dynamic filtering (optional; default: rewards),
              "extra_logs": {name: [float, ...]}  logged to wandb, one value per sample (optional)}

Older OpenRLHF servers read only "query" and answer only "rewards"; a request without "prompts" or
"labels" is served here too (no question for the PRM, no outcome). Unknown keys are ignored.

Here: the response is the query after its prompt (the first occurrence, since a decoded BOS may come
before it), with trailing special-token markup (`<|...|>`, `</s>`, `<eos>`, `<pad>`) removed; the PRM's
question is the last user turn of a ChatML / Llama-3 templated prompt, else the prompt without
special-token markup. "rewards" are `Reward.score` of the reward function; "scores" the verifier's
1 / 0 when a label was given, else the PRM value (a probability); "extra_logs" the PRM value,
correctness (-1 = not judged), step count and filler-step count per sample.

`scorer` is anything `ScorerLike`, wrapped in `RewardFunction(config or RewardConfig(shape="prm"))`,
or a ready `RewardFunction`. A malformed request raises `BadRequest` (the server answers 400); a
malformed *response* text never does (it gets a defined reward).
"""

from __future__ import annotations

import re
from typing import Any

from prm.rewards.reward import RewardFunction
from prm.rewards.shapes import RewardConfig

_SPECIAL = r"<\|[^<>|\s]{1,64}\|>|</s>|<s>|<eos>|<bos>|<pad>|<end_of_turn>|<start_of_turn>"
_TRAILING = re.compile(rf"(?:\s*(?:{_SPECIAL}))+\s*$")
_ANY_SPECIAL = re.compile(_SPECIAL)
# the last user turn of a ChatML (<|im_start|>user ... <|im_end|>) or Llama-3 templated prompt
_USER_TURN = re.compile(r"(?:<\|im_start\|>user|<\|start_header_id\|>user<\|end_header_id\|>)\s*(.*?)\s*"
                        r"(?:<\|im_end\|>|<\|eot_id\|>|$)", re.S)


class BadRequest(ValueError):
    """The request does not follow the protocol; the message names the field."""


def split_query(query: str, prompt: str | None) -> tuple[str, str]:
    """(response, note): the response part of a decoded prompt + response."""
    note = ""
    if prompt:
        k = query.find(prompt)
        if k >= 0:
            query = query[k + len(prompt):]
        else:
            note = "prompt not found in query: the whole query scored as the response"
    return _TRAILING.sub("", query), note


def question_of(prompt: str | None) -> str:
    """What the PRM sees as the question: the last user turn of a templated prompt, else the prompt
    without special-token markup."""
    if not prompt:
        return ""
    turns = _USER_TURN.findall(prompt)
    if turns:
        return turns[-1].strip()
    return _ANY_SPECIAL.sub("", prompt).strip()


def _column(payload: dict, key: str, n: int, kinds: tuple) -> list | None:
    if key not in payload or payload[key] is None:
        return None
    col = payload[key]
    if not isinstance(col, list) or len(col) != n:
        raise BadRequest(f"field {key!r} must be a list of {n} items (one per query), got "
                         f"{type(col).__name__}{f' of {len(col)}' if isinstance(col, list) else ''}")
    bad = [i for i, x in enumerate(col) if not (x is None or isinstance(x, kinds))]
    if bad:
        raise BadRequest(f"field {key!r}: item {bad[0]} is {type(col[bad[0]]).__name__}, expected text")
    return col


def handle(payload: dict, scorer, *, config: RewardConfig | None = None) -> dict:
    """Answer one OpenRLHF /get_reward request (see the module docstring)."""
    if not isinstance(payload, dict):
        raise BadRequest(f"the request body must be a JSON object, got {type(payload).__name__}")
    queries = payload.get("query")
    if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
        raise BadRequest("field 'query' must be a list of strings (prompt + response texts)")
    n = len(queries)
    prompts = _column(payload, "prompts", n, (str,))
    labels = _column(payload, "labels", n, (str, int, float))
    fn = scorer if isinstance(scorer, RewardFunction) else RewardFunction(config or RewardConfig(shape="prm"),
                                                                            scorer=scorer)
    split = [split_query(q, prompts[i] if prompts else None) for i, q in enumerate(queries)]
    questions = [question_of(prompts[i]) if prompts else "" for i in range(n)]
    golds = None
    if labels is not None:
        golds = [None if (g is None or (isinstance(g, str) and not g.strip())) else str(g) for g in labels]
    got = fn.rewards(questions, [r for r, _ in split], golds)
    scores = [float(r.correct) if r.correct is not None else float(r.prm if r.prm is not None else r.score)
              for r in got]
    return {"rewards": [float(r.score) for r in got], "scores": scores,
            "extra_logs": {"prm": [float(r.prm) if r.prm is not None else 0.0 for r in got],
                           "correct": [float(r.correct) if r.correct is not None else -1.0 for r in got],
                           "n_steps": [float(r.n_steps) for r in got],
                           "n_filler": [float(r.n_filler) for r in got]}}
