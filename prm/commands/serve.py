"""Serve a trained PRM / ORM / ensemble over HTTP, for search, evaluation and RL trainers.

  prm serve --model prm-out                                   # http://127.0.0.1:8000, no key (loopback only)
  PRM_API_KEY=secret prm serve --model prm-out --host 0.0.0.0 --port 8000
  curl -s localhost:8000/v1/score -H 'Content-Type: application/json' \\
       -d '{"inputs": [{"prompt": "1+1?", "steps": ["1+1=2", "The answer is 2."]}], "aggregation": "min"}'
  prm search ... --scorer http://127.0.0.1:8000               # any --scorer / --model takes the URL

API: POST /v1/score {"inputs": [{"prompt", "steps": [...]} | {"prompt", "completion": "..."}],
"aggregation": "min"|"prod"|"last"|"mean"} -> {"results": [{"step_scores": [...], "score"}]} in input
order (an ORM: one step score). Text only: the server builds the token sequence with the model's
tokenizer and saved separator, exactly as training did, so the caller's tokenizer never matters; a
completion is split into steps server-side. Also POST /get_reward (OpenRLHF's remote reward model:
--remote_rm_url http://HOST:PORT/get_reward), GET /v1/models, GET /health.

Secure by default: binds 127.0.0.1; any other address needs an API key (--api-key or, better, as it
stays out of `ps`, $PRM_API_KEY), sent by clients as 'Authorization: Bearer KEY'. Requests over a
limit get a 413 naming the field; 503 when --max-queue requests already wait; a client slower than
--header-timeout-s / --body-timeout-s gets a 408, and past --max-connections the oldest idle
connection is closed (slow or silent clients cannot hold the server). SIGTERM / Ctrl-C:
in-flight requests finish (up to --graceful-s), then the server exits.

Backends: transformers with request batching (concurrent requests coalesced into one forward-pass
batch within --batch-window-ms), or vLLM's pooling runner behind the same batcher (`auto`: vLLM on
a CUDA GPU, else transformers). Users of vLLM's own `vllm serve --runner pooling`: see
`prm.scoring.VLLMPoolingScorer` and the README ("Serving a PRM").
"""

from __future__ import annotations

from prm.commands.argtypes import positive_float, positive_int
from prm.serve.config import API_KEY_ENV, Limits, ServeConfig


def add_arguments(p):
    m = p.add_argument_group("model")
    m.add_argument("--model", required=True, action="append",
                   help="model dir from `prm train` (repeat, or give an ensemble dir, for an ensemble)")
    m.add_argument("--backend", choices=["auto", "transformers", "vllm"], default="auto",
                   help="auto: vLLM on a CUDA GPU, else transformers")
    m.add_argument("--ensemble", choices=["min", "mean"], default="min", help="how to combine several models")
    m.add_argument("--max-length", type=positive_int, default=None,
                   help="token window (default: the model's training length)")
    m.add_argument("--name", default=None, help="model name in /v1/models (default: the --model path)")
    n = p.add_argument_group("network and auth")
    n.add_argument("--host", default="127.0.0.1",
                   help="address to listen on; anything but loopback needs an API key")
    n.add_argument("--port", type=int, default=8000, help="port to listen on (0: a free one, printed)")
    n.add_argument("--api-key", default=None,
                   help=f"key clients send as 'Authorization: Bearer KEY' (default: ${API_KEY_ENV}; the env var "
                        f"keeps it out of the process list)")
    lim = p.add_argument_group("limits and batching")
    d = Limits()
    lim.add_argument("--max-body-bytes", type=positive_int, default=d.max_body_bytes, help="request body size")
    lim.add_argument("--max-inputs", type=positive_int, default=d.max_inputs, help="inputs per request")
    lim.add_argument("--max-steps", type=positive_int, default=d.max_steps, help="steps per input")
    lim.add_argument("--max-step-chars", type=positive_int, default=d.max_step_chars, help="characters per step")
    lim.add_argument("--max-prompt-chars", type=positive_int, default=d.max_prompt_chars,
                     help="characters per prompt")
    c = ServeConfig()
    lim.add_argument("--header-timeout-s", type=positive_float, default=c.header_timeout_s,
                     help="seconds a client may take to send a request's head; then 408 and the connection closes")
    lim.add_argument("--body-timeout-s", type=positive_float, default=c.body_timeout_s,
                     help="seconds a client may take to send a request's body; then 408")
    lim.add_argument("--max-connections", type=positive_int, default=c.max_connections,
                     help="open connections; past it the oldest idle one is closed")
    lim.add_argument("--batch-window-ms", type=float, default=5.0,
                     help="how long to wait for more requests to score in one batch (0: none)")
    lim.add_argument("--max-batch-inputs", type=positive_int, default=512, help="inputs per scoring call")
    lim.add_argument("--max-queue", type=positive_int, default=256, help="requests waiting before 503")
    lim.add_argument("--graceful-s", type=float, default=30.0, help="on SIGTERM, seconds in-flight requests may take")
    lim.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                     help="uvicorn's log level")


def config_from(args):
    from prm.serve.config import ServeConfig, check_bind, resolve_api_key

    key = resolve_api_key(args.api_key)
    check_bind(args.host, key)
    if not 0 <= args.port <= 65535:
        from prm.errors import UserError

        raise UserError(f"--port must be 0..65535, got {args.port}")
    limits = Limits(max_body_bytes=args.max_body_bytes, max_inputs=args.max_inputs, max_steps=args.max_steps,
                    max_step_chars=args.max_step_chars, max_prompt_chars=args.max_prompt_chars)
    return ServeConfig(host=args.host, port=args.port, api_key=key, limits=limits,
                       batch_window_ms=max(0.0, args.batch_window_ms), max_batch_inputs=args.max_batch_inputs,
                       max_queue=args.max_queue, graceful_s=args.graceful_s,
                       header_timeout_s=args.header_timeout_s, body_timeout_s=args.body_timeout_s,
                       max_connections=args.max_connections)


def run(args) -> int:
    from prm.errors import UserError
    from prm.scoring import load_scorer

    try:
        from prm.serve.app import create_app
        from prm.serve.server import bind, serve
    except ImportError as err:
        raise UserError(f"prm serve needs FastAPI and uvicorn ({err}): pip install 'prm-toolkit[serve]' "
                        f"(the vllm and cpu extras bring them too)") from None

    cfg = config_from(args)                      # refuses an open bind before anything loads
    sock = bind(cfg.host, cfg.port)              # the port is ours before the model loads
    model = args.model if len(args.model) > 1 else args.model[0]
    kw = {"max_length": args.max_length} if args.max_length else {}
    scorer = load_scorer(model, backend=args.backend, ensemble=args.ensemble, **kw)
    try:
        app = create_app(scorer, cfg, model_name=args.name or ",".join(args.model))
        port = sock.getsockname()[1]
        host = f"[{cfg.host.strip('[]')}]" if ":" in cfg.host else cfg.host     # IPv6 in a URL
        print(f"prm serve: {scorer.kind} {model} ({scorer.backend}) on http://{host}:{port} "
              f"({'API key required' if cfg.api_key else 'no API key: loopback only'})", flush=True)
        stopped_by = serve(app, sock, graceful_s=cfg.graceful_s, log_level=args.log_level)
        print(f"prm serve: stopped{f' by signal {stopped_by}' if stopped_by else ''}; "
              f"requests scored: {app.state.batcher.stats['requests']}", flush=True)
    finally:
        sock.close()
        scorer.close()
    return 0
