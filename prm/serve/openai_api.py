"""The OpenAI-compatible face of a served search, as pure functions: request -> question, answer -> response.

    question = parse_chat(body, limits)                    # RequestError naming the field, else the question
    body = response("chat", answer, model="prm", rid=..., created=...)   # a `chat.completion` object

Routes `POST /v1/chat/completions` and `POST /v1/completions` (prm/serve/app.py) take the request
shapes OpenAI's client sends, so `openai.OpenAI(base_url=".../v1")` and every tool built on it talk
to a PRM-guided search as to any chat model. What is read, and why the rest is refused or ignored:

- chat: the question is the last `user` message; its content a string or a list of text parts
  (`{"type": "text", "text": ...}`, joined by newlines). System and assistant messages are allowed
  and ignored: the policy was trained on bare questions (prm.sampler.build_prompt), and a system
  prompt it never saw would only change what it writes for the worse.
- completions: `prompt` is one string (or a list holding one string); token ids are refused, as on
  /v1/score, since the policy's tokenizer is the server's business.
- `n` > 1 and `stream: true` are refused (400 naming the field): a search returns one selected
  solution, and it has no meaningful partial answer to stream before the scorer has chosen.
- other fields (`temperature`, `max_tokens`, `seed`, ...) are ignored like OpenAI servers ignore
  unknown ones: sampling is the search's, set when the server starts (--search, --budget).

The response is OpenAI's `chat.completion` / `text_completion` object (id, object, created, model,
choices[0], usage: completion_tokens are every token the search generated, kept or not), with one
extra top-level field `prm`: the chosen solution's steps and step scores, its aggregated score, the
search method and budget, and the search's cost (prm.search.cost: what it generated and scored).
Errors on these routes have OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, so
the client raises its own exception classes (401 -> `openai.AuthenticationError`).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field

from prm.serve.config import Limits
from prm.serve.validate import RequestError, _text

# OpenAI's error `type` and `code` per status: what its clients and retry logic look at
ERROR_KINDS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    408: ("timeout_error", "request_timeout"),
    413: ("invalid_request_error", "request_too_large"),
    500: ("server_error", None),
    503: ("server_error", "server_busy"),
}


def error_body(status: int, message: str, param: str | None = None) -> dict:
    kind, code = ERROR_KINDS.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@dataclass(frozen=True)
class Answer:
    """What a search answered to one question: the selected solution and what it cost."""

    text: str
    steps: list[str]
    step_scores: list[float]
    score: float
    finish_reason: str                # "stop": the policy ended it; "length": a token or step limit cut it
    prompt_tokens: int                # the policy's prompt for the question
    generated_tokens: int             # every token the search sampled, kept or not
    search: str                       # the strategy, e.g. "bon"
    budget: int                       # samples' worth of compute (--budget)
    cost: dict = field(default_factory=dict)   # SearchResult.extra["cost"] (prm.search.cost.Cost.as_dict())
    scorer: str | None = None
    aggregation: str | None = None


# ----------------------------------------------------------------------------- requests
def _object(body) -> dict:
    if not isinstance(body, dict):
        raise RequestError(400, f"the body must be a JSON object, got {type(body).__name__}", None)
    return body


def _common(body: dict) -> None:
    """The fields both routes refuse: more than one choice, streaming, a model that is not a string."""
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise RequestError(400, f"must be a positive integer, got {n!r}", "n")
    if n is not None and n > 1:
        raise RequestError(400, f"only 1 supported (a search returns one selected solution), got {n}", "n")
    if body.get("stream") not in (None, False):
        raise RequestError(400, "not supported: a search's answer is known only when it has finished; "
                                "send stream: false", "stream")
    if body.get("model") is not None and not isinstance(body["model"], str):
        raise RequestError(400, f"must be a string, got {type(body['model']).__name__}", "model")


def _content(content, where: str, limits: Limits) -> str:
    """A message's content as text: a string, or a list of text parts joined by newlines."""
    if isinstance(content, str):
        return _text(content, where, limits.max_prompt_chars, "message")
    if not isinstance(content, list):
        raise RequestError(400, f"must be a string or a list of text parts, got {type(content).__name__}", where)
    texts = []
    for j, part in enumerate(content):
        at = f"{where}[{j}]"
        if not isinstance(part, dict) or part.get("type") != "text":
            kind = part.get("type") if isinstance(part, dict) else type(part).__name__
            raise RequestError(400, f"only text parts are supported ({{'type': 'text', 'text': ...}}), got {kind!r}",
                               at)
        texts.append(_text(part.get("text"), f"{at}.text", limits.max_prompt_chars, "text part"))
    return _text("\n".join(texts), where, limits.max_prompt_chars, "message")


def _question(text: str, where: str) -> str:
    if not text.strip():
        raise RequestError(400, "is empty: there is no question to answer", where)
    return text


def parse_chat(body, limits: Limits) -> str:
    """The question of a chat completion request: its last user message's text."""
    body = _object(body)
    _common(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        got = "missing" if messages is None else f"got {type(messages).__name__}" if not isinstance(messages, list) \
            else "got an empty list"
        raise RequestError(400, f"must be a non-empty list of {{'role', 'content'}} messages ({got})", "messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise RequestError(400, "must be an object with a string 'role'", f"messages[{i}]")
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]
    if not users:
        raise RequestError(400, "no message with role 'user': the question is the last user message", "messages")
    i = users[-1]
    where = f"messages[{i}].content"
    return _question(_content(messages[i].get("content"), where, limits), where)


def parse_completion(body, limits: Limits) -> str:
    """The question of a (legacy) completion request: its one prompt."""
    body = _object(body)
    _common(body)
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        if len(prompt) != 1:
            raise RequestError(400, f"only one prompt per request is supported, got {len(prompt)}", "prompt")
        prompt = prompt[0]
    if prompt is None:
        raise RequestError(400, "missing: the question, as a string", "prompt")
    if not isinstance(prompt, str):
        raise RequestError(400, f"must be a string (token ids are not supported), got {type(prompt).__name__}",
                           "prompt")
    return _question(_text(prompt, "prompt", limits.max_prompt_chars, "prompt"), "prompt")


def echo_of(body) -> bool:
    """`echo: true` on /v1/completions: the prompt is prepended to the text, as OpenAI does."""
    return isinstance(body, dict) and body.get("echo") is True


# ----------------------------------------------------------------------------- responses
def _json_float(x) -> float | None:
    return None if x is None or math.isnan(x) else float(x)   # JSON has no NaN: past the window is null


def prm_field(a: Answer) -> dict:
    return {"step_scores": [_json_float(x) for x in a.step_scores], "score": _json_float(a.score),
            "steps": list(a.steps), "search": a.search, "budget": a.budget, "scorer": a.scorer,
            "aggregation": a.aggregation, "cost": dict(a.cost)}


def response(kind: str, a: Answer, *, model: str, created: int, rid: str | None = None,
             prompt: str = "", echo: bool = False) -> dict:
    """The `chat.completion` (kind "chat") or `text_completion` (kind "text") object for `a`."""
    usage = {"prompt_tokens": a.prompt_tokens, "completion_tokens": a.generated_tokens,
             "total_tokens": a.prompt_tokens + a.generated_tokens}
    if kind == "chat":
        choice = {"index": 0, "message": {"role": "assistant", "content": a.text}, "logprobs": None,
                  "finish_reason": a.finish_reason}
        obj, prefix = "chat.completion", "chatcmpl-"
    else:
        choice = {"index": 0, "text": (prompt + a.text) if echo else a.text, "logprobs": None,
                  "finish_reason": a.finish_reason}
        obj, prefix = "text_completion", "cmpl-"
    return {"id": rid or prefix + uuid.uuid4().hex, "object": obj, "created": int(created), "model": model,
            "choices": [choice], "usage": usage, "prm": prm_field(a)}
