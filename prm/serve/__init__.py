"""Serving a PRM / ORM / ensemble over HTTP: `prm serve`, and the parts it is made of.

Files: `config.py` the settings (bind address, API key, request limits) and the bind rule;
`validate.py` the pure request checks (key, body, JSON shape) and the response body; `batcher.py`
coalescing concurrent requests into one `score_batch` call on one worker thread; `app.py` the
FastAPI routes (thin glue over the rest); `server.py` binding and running it under uvicorn;
`searcher.py` a search (policy + scorer) behind the server, and `openai_api.py` the OpenAI request
and response shapes of its routes (/v1/chat/completions, /v1/completions).
The client side is `prm.scoring.RemoteScorer` (and `VLLMPoolingScorer` for `vllm serve`).
"""

from prm.serve.config import Limits, ServeConfig, check_bind

__all__ = ["Limits", "ServeConfig", "check_bind", "create_app"]


def create_app(scorer, cfg: ServeConfig, *, model_name: str, search=None, search_name: str | None = None):
    from prm.serve.app import create_app as make

    return make(scorer, cfg, model_name=model_name, search=search, search_name=search_name)
