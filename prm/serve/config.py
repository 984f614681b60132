"""Settings of `prm serve`: where it listens, who may call it, and how big a request may be.

Two small frozen dataclasses with no side effects: `Limits` (what one request may hold; the request
validator reads it) and `ServeConfig` (bind address, key, batching). `check_bind` is the one rule
that makes the server secure by default: it listens on loopback unless told otherwise, and it
refuses to listen on any other address without an API key.

Why these limits: a scoring request costs a forward pass over every step of every input, so an
unbounded request is a denial of service in one call. The defaults fit a 4096-token PRM window
(a step of 20,000 characters is ~5,000 tokens, past any window we train) with room to spare.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

from prm.errors import UserError
from prm.scoring.remote import API_KEY_ENV   # the variable the client reads is the one the server reads
LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class Limits:
    """What one request may hold; a request over any of them is answered 413 naming the field."""

    max_body_bytes: int = 4 * 2**20       # the raw JSON body
    max_inputs: int = 256                 # inputs per request
    max_steps: int = 128                  # steps per input (after segmenting a completion)
    max_step_chars: int = 20_000          # characters per step, and per prompt / completion / step
    max_prompt_chars: int = 50_000        # characters of a prompt (left-truncated in tokens anyway)


@dataclass(frozen=True)
class ServeConfig:
    """One `prm serve` process: bind address, key, request limits and the request batcher."""

    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None            # None: no auth (loopback only, see check_bind)
    limits: Limits = field(default_factory=Limits)
    batch_window_ms: float = 5.0          # how long the batcher waits for more requests to coalesce
    max_batch_inputs: int = 512           # inputs in one score_batch call (a request is never split)
    max_queue: int = 256                  # requests waiting for the scorer; beyond it: 503
    graceful_s: float = 30.0              # SIGTERM: how long in-flight requests may take to finish
    # hostile or broken clients (issue 27): uvicorn waits forever for a request head and keeps every
    # idle connection, so a client trickling bytes, or a thousand that connect and say nothing, would
    # hold sockets and memory until the process runs out of either (see prm/serve/server.py)
    header_timeout_s: float = 10.0        # a request's head (line + headers) must arrive within this
    body_timeout_s: float = 60.0          # and its body within this, from when the app starts reading
    max_connections: int = 1000           # open connections; beyond it the oldest idle one is closed


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the server reachable from this machine only."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def resolve_api_key(flag: str | None, env: dict | None = None) -> str | None:
    """--api-key, else $PRM_API_KEY, else None. An empty key is refused (it would match nothing
    useful and reads like auth is on)."""
    env = os.environ if env is None else env
    key = flag if flag is not None else env.get(API_KEY_ENV)
    if key is not None and not key.strip():
        raise UserError(f"the API key is empty (--api-key or ${API_KEY_ENV}); give a non-empty key or none")
    return key


def check_bind(host: str, api_key: str | None) -> None:
    """Refuse to listen beyond loopback without an API key: scores are cheap to ask for and costly to
    compute, and OpenRLHF's reward server shows how an open one gets used (OpenRLHF #1317)."""
    if api_key is None and not is_loopback(host):
        raise UserError(f"refusing to listen on {host} without an API key: anyone who can reach it could use "
                        f"the model. Give --api-key KEY (or set ${API_KEY_ENV}), or bind 127.0.0.1 and put a proxy "
                        f"with its own auth in front")
