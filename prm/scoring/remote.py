"""Scoring over HTTP: `RemoteScorer` for a `prm serve` server, `VLLMPoolingScorer` for `vllm serve`.

    from prm.scoring import RemoteScorer, load_scorer
    scorer = RemoteScorer("http://127.0.0.1:8000", api_key="...")   # or load_scorer("http://...")
    scorer.score("What is 1+1?", ["1+1=2", "The answer is 2."])     # the numbers the local scorer gives

`RemoteScorer` satisfies `ScorerLike` (backend, kind, score, score_batch, close), so `prm score`,
`prm search`, `prm eval` and the reward functions run against a server unchanged. It sends text
(the server builds the token sequence with the model's own tokenizer and separator) and splits a
big `score_batch` into requests within the server's advertised limits (`GET /v1/models`).
Stdlib only (urllib): a trainer's process needs nothing installed to call a reward server.

Errors: a 401 or other 4xx is a `UserError` carrying the server's message and field (bad key, a
request over a limit); a 5xx, or no answer after the retries, is a `RemoteError` (a UserError too). Retries: only where the server cannot have
answered — the connection was refused, reset or dropped, or it answered 503 (queue full or
shutting down: the request was not taken) — `retries` times with doubling backoff from `backoff_s`,
and then on, every `MAX_BACKOFF_S` at most, until `wait_s` seconds have passed since the first
attempt: `RemoteScorer`, once it has reached the server, waits 120 s by default (the time a killed
server takes to be restarted and load its model; a server never reached fails after the retries), so `prm score --model URL` rides out a server restart without losing or
doubling a sample (tests/test_remote_restart.py). Scoring is a pure function of the request, so a
retry after a dropped connection is harmless even if the first attempt was in fact scored; the
caller writes a batch's records only once its answer has come. `api_key` defaults to $PRM_API_KEY.

`VLLMPoolingScorer(model_dir, url)` is the client for users who prefer vLLM's own server:

    vllm serve prm-out --runner pooling --dtype float32 --port 8001
    VLLMPoolingScorer("prm-out", "http://127.0.0.1:8001").score(question, steps)

It is a `Scorer`: token ids are built locally by `prm.sequence.encode` from the model dir's
tokenizer and saved separator (the same ids training used), sent to `POST /pooling` with
`task="token_classify"` and `use_activation=false`, and P(correct) is read at the step positions
from the returned per-token logits by the same code as the in-process backends
(`read_pooling_response` parses the response).
"""

from __future__ import annotations

import http.client
import json
import math
import os
import time
import urllib.error
import urllib.request

from prm.errors import UserError
from prm.scoring.base import Scorer

API_KEY_ENV = "PRM_API_KEY"
URL_PREFIXES = ("http://", "https://")
MAX_BACKOFF_S = 2.0        # the longest pause between two retries once `wait_s` keeps them going


class RemoteError(UserError):
    """The server failed (5xx), or could not be reached after every retry. A UserError so that the
    CLI prints it as one line (the fix is on the user's side: start the server, check its log)."""


def is_url(spec) -> bool:
    return isinstance(spec, str) and spec.lower().startswith(URL_PREFIXES)


def _server_message(body: bytes) -> str:
    try:
        err = json.loads(body.decode("utf-8")).get("error") or {}
        field = f"{err['field']}: " if err.get("field") else ""
        return f"{field}{err.get('message') or err}"
    except (ValueError, AttributeError, UnicodeDecodeError):
        return body[:300].decode("utf-8", "replace").strip()


def request_json(url: str, payload: dict | None = None, *, api_key: str | None = None, timeout: float = 300.0,
                 retries: int = 3, backoff_s: float = 0.5, wait_s: float = 0.0) -> dict:
    """GET (payload None) or POST JSON to `url`; the decoded JSON answer. See the module doc for errors
    and retries (at least `retries`, and more until `wait_s` seconds have passed)."""
    data = None if payload is None else json.dumps(payload, allow_nan=False).encode("utf-8")
    headers = {"Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    last, attempt, start = None, 0, time.monotonic()
    while True:
        if attempt:
            if attempt > retries and time.monotonic() - start >= wait_s:
                break
            pause = backoff_s * 2 ** (attempt - 1)
            time.sleep(pause if attempt <= retries else min(pause, MAX_BACKOFF_S))
        attempt += 1
        req = urllib.request.Request(url, data=data, headers=headers, method="GET" if data is None else "POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
            try:
                return json.loads(raw.decode("utf-8"))
            except ValueError:
                raise RemoteError(f"{url}: the answer is not JSON ({raw[:80]!r}): is this the right server?") from None
        except urllib.error.HTTPError as err:
            body = err.read()
            if err.code == 503:
                last = f"503 {_server_message(body)}"
                continue
            msg = _server_message(body)
            if err.code == 401:
                raise UserError(f"{url}: 401 unauthorized: {msg} (give api_key=..., --api-key, or set ${API_KEY_ENV})") \
                    from None
            if 400 <= err.code < 500:
                raise UserError(f"{url}: {err.code} {msg}") from None
            raise RemoteError(f"{url}: {err.code} {msg}") from None
        except (ConnectionError, http.client.RemoteDisconnected, http.client.IncompleteRead) as err:
            last = f"{type(err).__name__}: {err}"
        except urllib.error.URLError as err:
            if not isinstance(err.reason, (ConnectionError, OSError)) or isinstance(err.reason, TimeoutError):
                raise RemoteError(f"{url}: {err.reason}") from None
            last = f"{err.reason}"
        except TimeoutError:
            raise RemoteError(f"{url}: no answer within {timeout} s (raise timeout=...)") from None
    raise RemoteError(f"{url}: no answer after {attempt} attempts"
                      + (f" in {time.monotonic() - start:.0f} s" if wait_s else "") + f" ({last}); is the server running?")


class RemoteScorer:
    """A `prm serve` server as a scorer. `url` is the server's base URL (http://host:port)."""

    def __init__(self, url: str, api_key: str | None = None, *, timeout: float = 300.0, retries: int = 3,
                 backoff_s: float = 0.5, wait_s: float = 120.0):
        if not is_url(url):
            raise UserError(f"RemoteScorer needs an http:// or https:// URL, got {url!r}")
        self.url = url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        self.timeout, self.retries, self.backoff_s, self.wait_s = timeout, retries, backoff_s, wait_s
        try:
            info = self._call("/v1/models", wait=False)["data"][0]   # never reached: a wrong URL, say so soon
            info["kind"]
        except (KeyError, IndexError, TypeError):
            raise UserError(f"{self.url}/v1/models does not describe a `prm serve` model (no 'kind'); for `vllm "
                            f"serve` use VLLMPoolingScorer(model_dir, url)") from None
        self.model_dir = self.url                  # what `scored_by` records
        self.model = info["id"]
        self.kind: str = info["kind"]
        self.sep: str = info.get("sep")
        self.step_tag = info.get("step_tag")
        self.limits: dict = info.get("limits") or {}
        self.backend = f"remote({self.url}, {info.get('backend')})"
        self.stats = {"samples": 0, "requests": 0}

    def _call(self, path: str, payload: dict | None = None, *, wait: bool = True) -> dict:
        return request_json(self.url + path, payload, api_key=self.api_key, timeout=self.timeout,
                            retries=self.retries, backoff_s=self.backoff_s, wait_s=self.wait_s if wait else 0.0)

    def _chunks(self, items):
        """Consecutive runs of items that fit one request (inputs and body bytes, with a margin)."""
        max_n = int(self.limits.get("max_inputs") or 256)
        max_bytes = int(0.8 * (self.limits.get("max_body_bytes") or 4 * 2**20))
        cur, size = [], 0
        for q, s in items:
            n = len(json.dumps({"prompt": q, "steps": s}).encode("utf-8")) + 2
            if cur and (len(cur) >= max_n or size + n > max_bytes):
                yield cur
                cur, size = [], 0
            cur.append((q, s))
            size += n
        if cur:
            yield cur

    def score(self, question: str, steps: list[str]) -> list[float]:
        return self.score_batch([(question, steps)])[0]

    def score_batch(self, items: list[tuple[str, list[str]]], *, progress: bool = False) -> list[list[float]]:
        out: list[list[float]] = []
        for chunk in self._chunks(items):
            body = self._call("/v1/score", {"inputs": [{"prompt": q, "steps": list(s)} for q, s in chunk]})
            results = body.get("results")
            if not isinstance(results, list) or len(results) != len(chunk):
                raise RemoteError(f"{self.url}/v1/score: expected {len(chunk)} results, got "
                                  f"{len(results) if isinstance(results, list) else type(results).__name__}")
            out += [[math.nan if x is None else float(x) for x in r["step_scores"]] for r in results]
            self.stats["requests"] += 1
        self.stats["samples"] += len(items)
        return out

    def close(self) -> None:
        pass  # no connection is kept open

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ----------------------------------------------------------------------------- vllm serve
def read_pooling_response(body: dict, lengths: list[int]):
    """Per-token logits (one (T, 2) float32 array per input, in input order) from vLLM's `/pooling`
    answer `{"data": [{"index": i, "data": [[l0, l1], ...]}, ...]}`; ValueError on a shape mismatch."""
    import numpy as np

    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or len(data) != len(lengths):
        raise ValueError(f"/pooling answered {len(data) if isinstance(data, list) else 'no'} outputs for "
                         f"{len(lengths)} inputs")
    rows = sorted(data, key=lambda d: d["index"])
    if [d["index"] for d in rows] != list(range(len(lengths))):
        raise ValueError("/pooling answer indices are not 0..n-1")
    out = []
    for d, n in zip(rows, lengths):
        a = np.asarray(d["data"], dtype=np.float32)
        if a.ndim != 2 or a.shape[0] != n or a.shape[1] < 2:
            raise ValueError(f"/pooling output {d['index']}: shape {a.shape}, expected ({n}, 2): is the server "
                             f"running the model with --runner pooling, and was task='token_classify' accepted?")
        out.append(a)
    return out


class VLLMPoolingScorer(Scorer):
    """A PRM/ORM served by `vllm serve DIR --runner pooling`; `model_dir` is a local copy of the same
    model (its tokenizer and config.json are read; the weights are not loaded)."""

    backend = "vllm-serve"

    def __init__(self, model_dir, url: str, *, api_key: str | None = None, max_length=None, timeout: float = 300.0,
                 retries: int = 3, served_model: str | None = None):
        super().__init__(model_dir, max_length)
        if not is_url(url):
            raise UserError(f"VLLMPoolingScorer needs an http:// or https:// URL, got {url!r}")
        self.url, self.api_key = url.rstrip("/"), api_key
        self._kw = {"api_key": api_key, "timeout": timeout, "retries": retries}
        self.served_model = served_model or request_json(self.url + "/v1/models", **self._kw)["data"][0]["id"]

    def _logits(self, ids, progress=False):
        body = request_json(self.url + "/pooling", {"model": self.served_model, "input": [list(x) for x in ids],
                                                    "task": "token_classify", "use_activation": False}, **self._kw)
        return read_pooling_response(body, [len(x) for x in ids])
