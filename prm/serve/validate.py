"""What `prm serve` checks about a request, as pure functions: the key, the body, the JSON shape.

Every refusal is a `RequestError(status, message, field)` that the app turns into
`{"error": {"status": ..., "field": "inputs[3].steps[2]", "message": ...}}`:

- 401: no `Authorization: Bearer KEY` header, or the wrong key (compared with `hmac.compare_digest`,
  in time that does not depend on how much of the key matched);
- 400: a body that is not JSON / not UTF-8, a field of the wrong type, an unknown field (a typo such
  as "aggregate" would otherwise be silently ignored), text that is not valid Unicode;
- 413: a request over a limit of `prm.serve.config.Limits` (body bytes, inputs, steps per input,
  characters per step or prompt), naming the field and the limit.

The API takes text only, never token ids: the sequence is built server-side by `prm.sequence`
through the scorer, so the caller's tokenizer never matters (the mismatch of TRL #2577, OpenRLHF
#633/#683). A `completion` is split into steps the way the toolkit's domain with the model's saved
separator splits a solution for labeling (math "\\n\\n": split, strip, drop blank steps; code "\\n":
statements), else split on the separator with blank steps dropped.
"""

from __future__ import annotations

import hmac
import json
import math
from dataclasses import dataclass
from typing import Callable

from prm.domains import DOMAINS
from prm.search.aggregate import AGGREGATIONS, aggregate
from prm.serve.config import Limits
from prm.steps import clean_steps, split_steps

REQUEST_FIELDS = ("inputs", "aggregation", "id")
INPUT_FIELDS = ("prompt", "steps", "completion")
MAX_ID_CHARS = 200


class RequestError(Exception):
    """A request the server refuses; `field` is a path into the JSON body ("inputs[3].prompt")."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field

    def body(self) -> dict:
        return {"error": {"status": self.status, "field": self.field, "message": self.message}}


@dataclass(frozen=True)
class ScoreRequest:
    items: list[tuple[str, list[str]]]     # (prompt, steps) in input order
    aggregation: str
    id: str | None


# ----------------------------------------------------------------------------- auth
def check_key(authorization: str | None, api_key: str | None) -> None:
    """RequestError 401 unless `authorization` is "Bearer <api_key>" (no key configured: anyone)."""
    if api_key is None:
        return
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise RequestError(401, "missing API key: send the header 'Authorization: Bearer KEY'")
    # both sides as bytes: compare_digest on str refuses non-ASCII, and a non-ASCII token is just wrong
    if not hmac.compare_digest(token.strip().encode("utf-8", "surrogatepass"), api_key.encode("utf-8")):
        raise RequestError(401, "wrong API key")


# ----------------------------------------------------------------------------- body
def check_length(content_length: str | None, limits: Limits) -> None:
    """Refuse a body announced as too big before reading it."""
    if content_length and content_length.strip().isdigit() and int(content_length) > limits.max_body_bytes:
        raise RequestError(413, f"request body of {int(content_length)} bytes is over the limit of "
                                f"{limits.max_body_bytes} bytes; split the inputs over several requests", "body")


def parse_json(raw: bytes, limits: Limits):
    if len(raw) > limits.max_body_bytes:
        raise RequestError(413, f"request body is over the limit of {limits.max_body_bytes} bytes; split the "
                                f"inputs over several requests", "body")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise RequestError(400, "request body is not UTF-8", "body") from None
    except (json.JSONDecodeError, RecursionError) as e:
        where = f" at line {e.lineno} column {e.colno}" if isinstance(e, json.JSONDecodeError) else " (nested too deep)"
        raise RequestError(400, f"request body is not valid JSON{where}", "body") from None


# ----------------------------------------------------------------------------- the score request
def _text(value, field: str, max_chars: int, what: str) -> str:
    if not isinstance(value, str):
        raise RequestError(400, f"must be a string, got {type(value).__name__}", field)
    if len(value) > max_chars:
        raise RequestError(413, f"{what} of {len(value)} characters is over the limit of {max_chars}", field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(400, "is not valid Unicode (a lone surrogate escape such as \\ud800)", field) from None
    return value


def segmenter(sep: str) -> Callable[[str], list[str]]:
    """How a completion becomes steps for a model saved with separator `sep`."""
    for d in DOMAINS.values():
        if d.sep == sep:
            return d.steps
    return lambda text: [s for s in split_steps(text, sep) if s.strip()] if sep else clean_steps([text])


def _steps(obj: dict, where: str, limits: Limits, segment: Callable[[str], list[str]]) -> list[str]:
    has_steps, has_completion = "steps" in obj, "completion" in obj
    if has_steps == has_completion:
        raise RequestError(400, "give exactly one of 'steps' (a list of strings) or 'completion' (a string)", where)
    if has_completion:
        field = f"{where}.completion"
        text = _text(obj["completion"], field, limits.max_steps * limits.max_step_chars, "completion")
        steps = segment(text)
        if len(steps) > limits.max_steps:
            raise RequestError(413, f"completion splits into {len(steps)} steps, over the limit of {limits.max_steps}",
                               field)
        for j, s in enumerate(steps):
            if len(s) > limits.max_step_chars:
                raise RequestError(413, f"step {j} of the completion has {len(s)} characters, over the limit of "
                                        f"{limits.max_step_chars}", field)
        return steps
    steps, field = obj["steps"], f"{where}.steps"
    if not isinstance(steps, list):
        raise RequestError(400, f"must be a list of strings, got {type(steps).__name__}", field)
    if len(steps) > limits.max_steps:
        raise RequestError(413, f"{len(steps)} steps, over the limit of {limits.max_steps} per input", field)
    return [_text(s, f"{field}[{j}]", limits.max_step_chars, "step") for j, s in enumerate(steps)]


def parse_score_request(body, limits: Limits, segment: Callable[[str], list[str]]) -> ScoreRequest:
    """The validated request, or RequestError naming the first bad field (inputs in order)."""
    if not isinstance(body, dict):
        raise RequestError(400, f"the body must be a JSON object, got {type(body).__name__}", "body")
    unknown = [k for k in body if k not in REQUEST_FIELDS]
    if unknown:
        raise RequestError(400, f"unknown field; the fields are {', '.join(REQUEST_FIELDS)}", unknown[0])
    aggregation = body.get("aggregation", "min")
    if aggregation not in AGGREGATIONS:
        raise RequestError(400, f"must be one of {', '.join(AGGREGATIONS)}, got {aggregation!r}", "aggregation")
    rid = body.get("id")
    if rid is not None:
        rid = _text(rid, "id", MAX_ID_CHARS, "id")
    if "inputs" not in body:
        raise RequestError(400, "missing: a list of {'prompt', 'steps' | 'completion'} objects", "inputs")
    inputs = body["inputs"]
    if not isinstance(inputs, list):
        raise RequestError(400, f"must be a list, got {type(inputs).__name__}", "inputs")
    if len(inputs) > limits.max_inputs:
        raise RequestError(413, f"{len(inputs)} inputs, over the limit of {limits.max_inputs} per request; "
                                f"split them over several requests", "inputs")
    items = []
    for i, obj in enumerate(inputs):
        where = f"inputs[{i}]"
        if not isinstance(obj, dict):
            raise RequestError(400, f"must be an object with 'prompt' and 'steps' or 'completion', got "
                                    f"{type(obj).__name__}", where)
        bad = [k for k in obj if k not in INPUT_FIELDS]
        if bad:
            raise RequestError(400, f"unknown field; an input has {', '.join(INPUT_FIELDS)}", f"{where}.{bad[0]}")
        if "prompt" not in obj:
            raise RequestError(400, "missing", f"{where}.prompt")
        prompt = _text(obj["prompt"], f"{where}.prompt", limits.max_prompt_chars, "prompt")
        items.append((prompt, _steps(obj, where, limits, segment)))
    return ScoreRequest(items, aggregation, rid)


def _json_float(x: float) -> float | None:
    return None if math.isnan(x) else float(x)   # JSON has no NaN: a step past the token window is null


def score_response(scores: list[list[float]], aggregation: str, rid: str | None = None) -> dict:
    """The response body: step scores (null where NaN) and the aggregate (NaN counts as 0, see
    prm.search.aggregate) per input, in input order."""
    out: dict = {"results": [{"step_scores": [_json_float(x) for x in s], "score": aggregate(s, aggregation)}
                             for s in scores]}
    if rid is not None:
        out["id"] = rid
    return out
