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

Search, OpenAI-compatible: with --policy the server also answers POST /v1/chat/completions and
POST /v1/completions with the solution a PRM-guided search selects (the policy samples, --scorer
guides and selects; --search picks the strategy, --budget its compute in samples' worth: best-of-N
samples B, beam search keeps B/4 beams of 4, particle filtering runs B particles, DVTS B beams,
stepwise at most B chains, usually far fewer), in OpenAI's response shape plus a `prm` field with
the solution's steps, step scores and the search's cost. Same key, limits, queue and shutdown.

  prm serve --policy math --scorer runs/demo/math/ratio --search pf --budget 8
  python -c 'import openai; c = openai.OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="-")
  r = c.chat.completions.create(model="prm", messages=[{"role": "user", "content": "What is 12 * 7?"}])
  print(r.choices[0].message.content, r.model_extra["prm"]["step_scores"], r.model_extra["prm"]["cost"])'

--scorer defaults to --model (then /v1/score and the search share one model and one scoring
thread); --model defaults to --scorer. The question is the last user message; n > 1 and streaming
are refused; sampling settings in the request are ignored (the search's are the server's flags).
Without --policy the two routes answer 404.

Backends: transformers with request batching (concurrent requests coalesced into one forward-pass
batch within --batch-window-ms), or vLLM's pooling runner behind the same batcher (`auto`: vLLM on
a CUDA GPU, else transformers). Users of vLLM's own `vllm serve --runner pooling`: see
`prm.scoring.VLLMPoolingScorer` and the README ("Serving a PRM").
"""

from __future__ import annotations

from prm.commands.argtypes import fraction, nonneg_float, positive_float, positive_int
from prm.serve.config import API_KEY_ENV, Limits, ServeConfig


def add_arguments(p):
    m = p.add_argument_group("model")
    m.add_argument("--model", default=None, action="append",
                   help="model dir from `prm train` served on /v1/score (repeat, or give an ensemble dir, for an "
                        "ensemble); default: --scorer")
    m.add_argument("--backend", choices=["auto", "transformers", "vllm"], default="auto",
                   help="auto: vLLM on a CUDA GPU, else transformers")
    m.add_argument("--ensemble", choices=["min", "mean"], default="min", help="how to combine several models")
    m.add_argument("--max-length", type=positive_int, default=None,
                   help="token window (default: the model's training length)")
    m.add_argument("--name", default=None, help="model name in /v1/models (default: the --model path)")
    _add_search_arguments(p)
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


def _add_search_arguments(p):
    from prm.domains import DOMAINS
    from prm.search.aggregate import AGGREGATIONS
    from prm.serve.searcher import SELECTIONS, methods

    s = p.add_argument_group("search (OpenAI-compatible /v1/chat/completions and /v1/completions)")
    s.add_argument("--policy", default=None, metavar="{math,code} | DIR",
                   help="the policy that samples: a model dir, or math|code for the embedded tiny policy; "
                        "without it the chat routes answer 404")
    s.add_argument("--scorer", default=None,
                   help="reward model guiding and selecting the search: a `prm train` dir or a `prm serve` URL "
                        "(default: --model, sharing its scoring thread)")
    s.add_argument("--search", choices=methods(), default="bon",
                   help="search strategy (prm.search.STRATEGIES): bon = best-of-N, beam = PRM-guided beam search, "
                        "pf = particle filtering, dvts = diverse verifier tree search, stepwise = step-level rejection "
                        "sampling with adaptive chains")
    s.add_argument("--budget", type=positive_int, default=8,
                   help="samples' worth of compute per question: bon samples B; beam keeps B/4 beams of 4; "
                        "pf B particles; dvts B samples; stepwise at most B chains (it stops when two agree)")
    s.add_argument("--select", choices=SELECTIONS, default="naive",
                   help="bon: the answer with the best score (naive) or weighted vote over answers")
    s.add_argument("--aggregation", choices=AGGREGATIONS, default="min",
                   help="step scores -> one score (ranking beams, selecting, and the reported score)")
    s.add_argument("--max-tokens", type=positive_int, default=None, help="bon: tokens per sample (default 256)")
    s.add_argument("--temperature", type=nonneg_float, default=None, help="sampling temperature (default: the "
                                                                          "strategy's)")
    s.add_argument("--verify-steps", choices=("prune", "weight"), default=None,
                   help="step-level searches: the domain's step checker (math: sympy) inside the search -- beam, "
                        "dvts and stepwise drop a step it proves false, pf gives it weight 0 (math only)")
    s.add_argument("--search-max-steps", type=positive_int, default=None,
                   help="step-level searches: steps per solution (--max-steps is the request limit)")
    s.add_argument("--max-step-tokens", type=positive_int, default=None, help="step-level searches: tokens per step")
    s.add_argument("--domain", choices=list(DOMAINS), default=None,
                   help="the questions' domain (math|code; default: the embedded --policy's, else the one whose "
                        "step separator the scorer uses, else math)")
    s.add_argument("--max-batch-searches", type=positive_int, default=8,
                   help="concurrent questions searched together in one strategy call")
    s.add_argument("--policy-backend", choices=["auto", "vllm", "transformers"], default="auto",
                   help="the policy engine: auto = vLLM when importable, else transformers")
    s.add_argument("--policy-gpu-memory-utilization", type=fraction, default=0.3,
                   help="vLLM policy: share of GPU memory (beside the scorer's)")
    s.add_argument("--policy-max-model-len", type=positive_int, default=None,
                   help="vLLM policy: context length (default: the model's)")


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


def policy_dir(policy: str) -> str:
    """--policy: a model dir, or a domain's name for the embedded tiny policy (trained once, then cached)."""
    from pathlib import Path

    from prm.domains import DOMAINS
    from prm.errors import UserError

    if policy in DOMAINS:
        from prm.policy import ensure_policy

        return str(ensure_policy(policy))
    if not Path(policy).exists():
        raise UserError(f"--policy: no such model directory: {policy} (or give one of {', '.join(DOMAINS)} for the "
                        f"embedded policy)")
    return policy


def search_domain(args, scorer) -> str:
    """--domain, else the embedded policy's domain, else the one whose separator the scorer was trained
    with (its steps are the ones the scorer knows how to read), else math."""
    from prm.domains import DOMAINS

    if args.domain:
        return args.domain
    if args.policy in DOMAINS:
        return args.policy
    return next((name for name, d in DOMAINS.items() if d.sep == getattr(scorer, "sep", None)), "math")


def _check_models(args) -> None:
    from prm.errors import UserError

    if not args.model and not args.scorer:
        raise UserError("give --model DIR (the model /v1/score serves), or --policy with --scorer DIR to serve a search")
    if args.scorer and not args.policy:
        raise UserError("--scorer guides a search: give --policy too (or serve the model with --model)")
    if args.model is None:
        args.model = [args.scorer]


def search_settings(args) -> dict:
    """The strategy config fields the flags set (None: the strategy's default; --budget sets the rest)."""
    return {"max_tokens": args.max_tokens, "temperature": args.temperature, "max_steps": args.search_max_steps,
            "max_step_tokens": args.max_step_tokens, "aggregation": args.aggregation,
            "verify_steps": args.verify_steps}


def _search_spec(args, policy: str | None, scorer, scorers: list):
    """The search to serve (None without a policy); what it loads is appended to `scorers` to close."""
    if policy is None:
        return None
    from types import SimpleNamespace

    from prm.commands.engine_flags import engine_config
    from prm.domains import DOMAINS
    from prm.errors import UserError
    from prm.sampler import make_sampler
    from prm.scoring import load_scorer
    from prm.serve.searcher import SearchSpec

    same = args.scorer is None or [args.scorer] == args.model
    guide = scorer if same else load_scorer(args.scorer, backend=args.backend)
    if not same:
        scorers.append(guide)
    domain = search_domain(args, guide)
    if args.verify_steps and DOMAINS[domain].check_steps is None:
        raise UserError(f"--verify-steps {args.verify_steps}: the domain {domain!r} has no step checker")
    engine = SimpleNamespace(backend=args.policy_backend, dtype="auto",
                             gpu_memory_utilization=args.policy_gpu_memory_utilization, tensor_parallel_size=1,
                             max_model_len=args.policy_max_model_len)
    sampler = make_sampler(engine_config(engine, policy))
    scorers.append(sampler)
    return SearchSpec(sampler, guide, args.search, args.budget, domain=domain,
                      settings=search_settings(args), selection=args.select, aggregation=args.aggregation,
                      max_batch=args.max_batch_searches)


def run(args) -> int:
    from prm.errors import UserError
    from prm.scoring import load_scorer

    try:
        from prm.serve.app import create_app
        from prm.serve.server import bind, serve
    except ImportError as err:
        raise UserError(f"prm serve needs FastAPI and uvicorn ({err}): pip install 'prm-toolkit[serve]' "
                        f"(the vllm and cpu extras bring them too)") from None

    _check_models(args)
    cfg = config_from(args)                      # refuses an open bind before anything loads
    if args.policy:
        from prm.serve.searcher import search_config

        search_config(args.search, args.budget, search_settings(args))   # a bad setting fails before any model loads
        if args.verify_steps and args.search == "bon":
            raise UserError("--verify-steps works inside a step-level search (beam, dvts, pf, stepwise), not bon")
    policy = policy_dir(args.policy) if args.policy else None
    sock = bind(cfg.host, cfg.port)              # the port is ours before the model loads
    model = args.model if len(args.model) > 1 else args.model[0]
    kw = {"max_length": args.max_length} if args.max_length else {}
    owned: list = []                             # closed last to first: sampler, search scorer, scorer
    try:
        scorer = load_scorer(model, backend=args.backend, ensemble=args.ensemble, **kw)
        owned.append(scorer)
        spec = _search_spec(args, policy, scorer, owned)
        app = create_app(scorer, cfg, model_name=args.name or ",".join(args.model), search=spec,
                         search_name=f"{args.name}-search" if args.name else "prm-search")
        port = sock.getsockname()[1]
        host = f"[{cfg.host.strip('[]')}]" if ":" in cfg.host else cfg.host     # IPv6 in a URL
        what = (f"; search {spec.method} x{spec.budget} with policy {args.policy} ({spec.sampler.backend}) at "
                f"/v1/chat/completions") if spec else ""
        print(f"prm serve: {scorer.kind} {model} ({scorer.backend}) on http://{host}:{port} "
              f"({'API key required' if cfg.api_key else 'no API key: loopback only'}){what}", flush=True)
        stopped_by = serve(app, sock, graceful_s=cfg.graceful_s, log_level=args.log_level)
        searched = f"; searches: {app.state.searcher.stats['requests']}" if spec else ""
        print(f"prm serve: stopped{f' by signal {stopped_by}' if stopped_by else ''}; "
              f"requests scored: {app.state.batcher.stats['requests']}{searched}", flush=True)
    finally:
        sock.close()
        for obj in reversed(owned):
            obj.close()
    return 0
