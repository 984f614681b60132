"""The HTTP app of `prm serve`: FastAPI routes over a scorer and its request batcher (thin glue).

    app = create_app(scorer, ServeConfig(api_key="..."), model_name="prm-out")
    uvicorn.run(app, host="127.0.0.1", port=8000)

Routes (JSON in and out; errors are `{"error": {"status", "field", "message"}}`, see validate.py):

- `POST /v1/score`  `{"inputs": [{"prompt", "steps": [...]} | {"prompt", "completion"}], "aggregation":
  "min"|"prod"|"last"|"mean", "id"?}` -> `{"results": [{"step_scores": [...], "score"}], "id"?}` in input
  order; an ORM answers one step score per input; a step past the token window is null.
- `POST /get_reward` OpenRLHF's remote reward-model protocol, answered by `prm.rewards.openrlhf.handle`
  (imported when first called; 404 in an install without it), behind the same key and body limit, at
  most `max_inputs` queries of at most prompt + steps x step characters each.
- `GET /v1/models` the model: name, kind, separator, step tag, backend, limits (RemoteScorer reads it).
- `GET /health` `{"status": "ok"}`, without a key (for load balancers; it says nothing about the model).
- `POST /v1/chat/completions`, `POST /v1/completions` (with a search: `create_app(..., search=SearchSpec)`)
  OpenAI's request and response shapes over a PRM-guided search (prm/serve/openai_api.py,
  prm/serve/searcher.py): the selected solution, its step scores and the search's cost under `prm`.
  Errors on these two routes have OpenAI's shape `{"error": {"message", "type", "param", "code"}}`;
  a server started without a policy answers them 404, saying so.

Every route but /health needs `Authorization: Bearer KEY` when the server has a key. A body that
does not arrive within `body_timeout_s` gets a 408 (a slow head: prm/serve/server.py). All scoring
runs on the batcher's one worker thread; the event loop only parses, validates and waits, so a
slow forward pass never blocks /health. Shutdown (SIGTERM, Ctrl-C): uvicorn stops accepting, lets
in-flight requests finish (they are waiting on the batcher, which keeps working), then the lifespan
exit closes the batcher (it scores whatever is still queued) and the caller closes the scorer.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from dataclasses import asdict

# at module level, not inside create_app: FastAPI reads the routes' annotations (strings under
# `from __future__ import annotations`) in this module's globals to recognise `request: Request`
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from prm.errors import UserError
from prm.serve.batcher import Batcher, Closed, QueuedScorer, QueueFull
from prm.serve.config import ServeConfig
from prm.serve.openai_api import echo_of, error_body, parse_chat, parse_completion, response
from prm.serve.validate import (RequestError, check_key, check_length, parse_json, parse_score_request,
                                score_response, segmenter)


def model_info(scorer, model_name: str, cfg: ServeConfig) -> dict:
    return {"id": model_name, "object": "model", "owned_by": "prm-toolkit", "kind": scorer.kind,
            "sep": getattr(scorer, "sep", None), "step_tag": getattr(scorer, "step_tag", None),
            "backend": scorer.backend, "limits": asdict(cfg.limits)}


OPENAI_ROUTES = ("/v1/chat/completions", "/v1/completions")


def _error(status: int, message: str, field=None, headers=None, request: Request | None = None):
    openai = request is not None and request.url.path in OPENAI_ROUTES   # OpenAI clients read their own shape
    body = error_body(status, message, field) if openai else RequestError(status, message, field).body()
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(scorer, cfg: ServeConfig, *, model_name: str, search=None, search_name: str | None = None):
    """The FastAPI app serving `scorer` (any ScorerLike with a `sep`), and with `search` (a
    `prm.serve.searcher.SearchSpec`) the OpenAI routes over that search, named `search_name`. The app
    owns the batchers it starts here; the caller keeps the scorer, sampler and search scorer and
    closes them after the server stops."""
    batcher = Batcher(scorer.score_batch, window_s=cfg.batch_window_ms / 1000, max_items=cfg.max_batch_inputs,
                      max_queue=cfg.max_queue)
    segment = segmenter(getattr(scorer, "sep", "\n\n"))
    info = model_info(scorer, model_name, cfg)
    searcher = None if search is None else _searcher(search, scorer, batcher, cfg)

    @asynccontextmanager
    async def lifespan(app):
        yield
        if searcher is not None:   # first: a queued search still scores through the batcher
            await run_in_threadpool(searcher.close, cfg.graceful_s)
        await run_in_threadpool(batcher.close, cfg.graceful_s)

    app = FastAPI(title="prm-toolkit reward model server", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.batcher, app.state.scorer, app.state.cfg = batcher, scorer, cfg   # cfg: server.py's connection limits
    app.state.searcher = searcher

    error = _error

    @app.exception_handler(RequestError)
    async def _request_error(request, err: RequestError):
        headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
        return error(err.status, err.message, err.field, headers=headers, request=request)

    @app.exception_handler(HTTPException)
    async def _http_error(request, err: HTTPException):
        return error(err.status_code, str(err.detail), request=request)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, err):
        return error(400, str(err), request=request)

    async def body_of(request: Request):
        check_key(request.headers.get("authorization"), cfg.api_key)
        check_length(request.headers.get("content-length"), cfg.limits)
        chunks, n = [], 0
        try:   # a client trickling its body holds a connection and a buffer: it gets a deadline
            async with asyncio.timeout(cfg.body_timeout_s):
                async for chunk in request.stream():   # a body without Content-Length is capped as it arrives
                    n += len(chunk)
                    if n > cfg.limits.max_body_bytes:
                        raise RequestError(413, f"request body is over the limit of {cfg.limits.max_body_bytes} "
                                                f"bytes", "body")
                    chunks.append(chunk)
        except TimeoutError:
            raise _SlowBody(f"request body not received within {cfg.body_timeout_s:g} s ({n} bytes came)") from None
        return parse_json(b"".join(chunks), cfg.limits)

    async def scored(items):
        return await asyncio.wrap_future(_submit(batcher, items))

    @app.exception_handler(_SlowBody)
    async def _slow_body(request, err):
        return error(408, str(err), "body", headers={"Connection": "close"}, request=request)   # rest not awaited

    @app.exception_handler(_Busy)
    async def _busy(request, err):
        return error(503, str(err), headers={"Retry-After": "1"}, request=request)

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models(request: Request):
        check_key(request.headers.get("authorization"), cfg.api_key)
        # the scorer first: RemoteScorer reads data[0]
        return {"object": "list", "data": [info] + ([searcher.info(search_name or "prm-search")] if searcher else [])}

    @app.post("/v1/score")
    async def score(request: Request):
        req = parse_score_request(await body_of(request), cfg.limits, segment)
        try:
            scores = await scored(req.items)
        except (_Busy, asyncio.CancelledError):
            raise
        except Exception as err:  # noqa: BLE001 - a scorer failure is the server's fault: 500, with its reason
            return error(500, f"scoring failed: {type(err).__name__}: {err}")
        return score_response(scores, req.aggregation, req.id)

    @app.post("/get_reward")
    async def get_reward(request: Request):
        payload = await body_of(request)
        try:
            from prm.rewards.openrlhf import BadRequest, handle
        except ImportError as err:
            return error(404, f"the OpenRLHF reward route needs prm.rewards.openrlhf ({err})")
        if not isinstance(payload, dict):
            raise RequestError(400, f"the body must be a JSON object, got {type(payload).__name__}", "body")
        queries = payload["query"] if isinstance(payload.get("query"), list) else []   # its shape: handle()'s check
        if len(queries) > cfg.limits.max_inputs:
            raise RequestError(413, f"{len(queries)} queries, over the limit of {cfg.limits.max_inputs} per request",
                               "query")
        most = cfg.limits.max_prompt_chars + cfg.limits.max_steps * cfg.limits.max_step_chars
        for i, q in enumerate(queries):
            if isinstance(q, str) and len(q) > most:
                raise RequestError(413, f"query of {len(q)} characters, over the limit of {most}", f"query[{i}]")
        try:
            return await run_in_threadpool(handle, payload, QueuedScorer(scorer, batcher))
        except (QueueFull, Closed) as err:
            return error(503, f"server busy ({err}); retry shortly", headers={"Retry-After": "1"})
        except (BadRequest, UserError) as err:
            return error(400, f"bad OpenRLHF reward request: {err}")
        except Exception as err:  # noqa: BLE001 - as /v1/score: the server's fault, with its reason
            return error(500, f"reward failed: {type(err).__name__}: {err}")

    _search_routes(app, searcher, body_of, error, search_name or "prm-search", cfg)
    return app


def _searcher(search, scorer, batcher: Batcher, cfg: ServeConfig):
    from prm.serve.searcher import Searcher   # prm.search, loaded only by a server with a policy

    # the scorer /v1/score serves is called from its batcher's thread only: the search queues there too
    return Searcher(search, scorer=QueuedScorer(scorer, batcher) if search.scorer is scorer else None,
                    window_s=cfg.batch_window_ms / 1000, max_queue=cfg.max_queue)


def _search_routes(app, searcher, body_of, error, name: str, cfg: ServeConfig) -> None:
    """POST /v1/chat/completions and /v1/completions: one search per request (prm/serve/openai_api.py)."""

    async def searched(request: Request, kind: str):
        body = await body_of(request)            # the key first: a stranger learns nothing about the server
        if searcher is None:
            return error(404, "this server has no policy to search with: start it with --policy (and --search, "
                              "--budget) to serve /v1/chat/completions and /v1/completions", request=request)
        question = (parse_chat if kind == "chat" else parse_completion)(body, cfg.limits)
        fut = _submit(searcher, question)
        try:
            [answer] = await asyncio.wrap_future(fut)
        except asyncio.CancelledError:
            raise
        except UserError as err:     # a question the policy cannot take (too long for its context)
            return error(400, f"search refused the question: {err}", request=request)
        except Exception as err:  # noqa: BLE001 - a search failure is the server's fault: 500, with its reason
            return error(500, f"search failed: {type(err).__name__}: {err}", request=request)
        model = body.get("model") or name
        return response(kind, answer, model=model, created=int(time.time()), prompt=question, echo=echo_of(body))

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        return await searched(request, "chat")

    @app.post("/v1/completions")
    async def completions(request: Request):
        return await searched(request, "text")


def _submit(worker, item):
    """Queue `item` on a worker thread (the scoring batcher or the searcher); a full queue or a
    closing server is a 503 (`_Busy`)."""
    try:
        return worker.submit(item)
    except QueueFull as e:
        raise _Busy(f"server busy ({e}); retry shortly") from None
    except Closed:
        raise _Busy("server shutting down; retry on another replica or after restart") from None


class _Busy(Exception):
    """503: the queue is full or the server is stopping."""


class _SlowBody(Exception):
    """408: the body did not arrive within `ServeConfig.body_timeout_s`."""
