"""Fault 4 of #27: hostile or broken clients of `prm serve`, over real loopback sockets.

Each bad client gets a clear 4xx/5xx for its own request (or is dropped on a timeout), while
well-formed requests from other clients keep getting their own, correct answers: a head trickled
byte by byte, a body trickled, hundreds of silent connections, JSON nested 10,000 deep, a body far
over the limit, a client that hangs up mid-response, a scorer that raises on one input (on
/v1/score and on the OpenRLHF route). Every loop here is bounded in count and time."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request

import fakes
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from prm.serve import Limits, ServeConfig, create_app  # noqa: E402
from prm.serve.server import ServerThread  # noqa: E402

FAST = dict(header_timeout_s=0.5, body_timeout_s=0.5)


def q_scorer(**kw):
    """Step k of prompt "q<i>" scores i + k / 10; a prompt or step containing "poison" raises."""
    def fn(q, steps):
        if "poison" in q or any("poison" in s for s in steps):
            raise ValueError("this input breaks the model")
        return [int(q[1:]) + k / 10 for k in range(len(steps))] if q[1:].isdigit() else [0.5] * len(steps)
    return fakes.FakeScorer(fn, **kw)


def _post(url, body, path="/v1/score", timeout=20):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _good(url, i):
    """A well-formed request from another client, and whether its answer is its own and correct."""
    status, body = _post(url, {"inputs": [{"prompt": f"q{i}", "steps": ["a", "b"]}], "id": f"r{i}"})
    return status == 200 and body["id"] == f"r{i}" and body["results"][0]["step_scores"] == [i, i + 0.1]


def _connect(url) -> socket.socket:
    host, port = url.rsplit("//", 1)[1].split(":")
    s = socket.create_connection((host, int(port)), timeout=5)
    return s


def _read_all(s: socket.socket, limit_s: float = 5.0) -> bytes:
    """What the server sends until it closes the connection (bounded by limit_s)."""
    s.settimeout(limit_s)
    out, t0 = b"", time.monotonic()
    while time.monotonic() - t0 < limit_s:
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        out += chunk
    return out


def _status(raw: bytes) -> int | None:
    return int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.1 ") else None


def _trickle(s: socket.socket, data: bytes, every_s: float, limit_s: float) -> float:
    """Send `data` a byte at a time until the server closes on us; seconds it took (limit: limit_s)."""
    t0 = time.monotonic()
    for b in data:
        if time.monotonic() - t0 > limit_s:
            break
        try:
            s.sendall(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            break
        time.sleep(every_s)
    return time.monotonic() - t0


# ----------------------------------------------------------------------------- slow senders
HEAD = b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n"


@pytest.mark.parametrize("what, sent_at_once, trickled", [
    ("head trickled", b"", HEAD),
    ("body trickled", HEAD, b'{"inputs": [{"prompt": "q1", "steps": ["a"]}]}' + b" " * 14),
    ("nothing sent", b"", b""),
])
def test_a_slow_sender_gets_408_and_others_are_served(what, sent_at_once, trickled):
    app = create_app(q_scorer(), ServeConfig(**FAST, batch_window_ms=0), model_name="f")
    with ServerThread(app) as url:
        s = _connect(url)
        s.sendall(sent_at_once)
        t0 = time.monotonic()
        done = []
        sender = threading.Thread(target=lambda: done.append(_trickle(s, trickled, 0.05, 4.0)))
        sender.start()
        assert all(_good(url, i) for i in range(3))            # served while the slow client trickles
        raw = _read_all(s, 5.0)
        took = time.monotonic() - t0
        sender.join(10)
        s.close()
        assert _good(url, 9)
    assert _status(raw) == 408, raw[:200]
    assert 0.4 < took < 3.0, f"{what}: dropped after {took:.1f} s"
    if sent_at_once:                                           # the app's own JSON error names the body
        assert json.loads(raw.split(b"\r\n\r\n", 1)[1])["error"]["field"] == "body"


def test_hundreds_of_idle_connections_cannot_crowd_out_requests():
    psutil = pytest.importorskip("psutil")
    app = create_app(q_scorer(), ServeConfig(header_timeout_s=3.0, max_connections=50, batch_window_ms=0),
                     model_name="f")
    proc = psutil.Process()
    with ServerThread(app) as url:
        assert _good(url, 0)
        rss0 = proc.memory_info().rss
        idle = [_connect(url) for _ in range(300)]             # connect and say nothing
        answered = [_good(url, i) for i in range(20)]          # other clients, while the idle ones are open
        time.sleep(0.3)
        for s in idle:
            s.settimeout(0.05)
        closed_early = sum(_closed(s) for s in idle)           # evicted: only max_connections may stay open
        t0 = time.monotonic()
        while time.monotonic() - t0 < 6 and not all(_closed(s) for s in idle):
            time.sleep(0.2)
        closed_late = sum(_closed(s) for s in idle)            # and the rest time out (header_timeout_s)
        rss1 = proc.memory_info().rss
        for s in idle:
            s.close()
        assert _good(url, 99)
    assert all(answered)
    assert closed_early >= 300 - 50 - 5, closed_early
    assert closed_late == 300
    assert rss1 - rss0 < 64 * 2**20, f"RSS grew {(rss1 - rss0) / 2**20:.1f} MiB"


def _closed(s: socket.socket) -> bool:
    try:
        data = s.recv(65536)
    except (socket.timeout, BlockingIOError):
        return False
    except OSError:
        return True
    return data == b"" or data.startswith(b"HTTP/1.1 408")


# ----------------------------------------------------------------------------- hostile bodies
DEEP = [
    ("/v1/score", b"[" * 10_000 + b"]" * 10_000),
    ("/v1/score", b'{"inputs": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"),
    ("/v1/score", b'{"a":' * 10_000 + b"1" + b"}" * 10_000),
    ("/get_reward", b'{"query": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"),
    ("/v1/score", b"[" * 100_000 + b"]" * 100_000),
]


@pytest.mark.parametrize("path, body", DEEP, ids=[f"{p}-{i}" for i, (p, _) in enumerate(DEEP)])
def test_json_nested_far_too_deep_is_a_400(path, body):
    pytest.importorskip("prm.rewards.openrlhf")
    app = create_app(q_scorer(), ServeConfig(batch_window_ms=0), model_name="f")
    with ServerThread(app) as url:
        req = urllib.request.Request(url + path, data=body, headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=20)
        assert err.value.code == 400
        assert "nested too deep" in json.loads(err.value.read())["error"]["message"]
        assert _good(url, 4)                                       # nothing died


@pytest.mark.parametrize("path, chunked", [("/v1/score", False), ("/v1/score", True), ("/get_reward", False),
                                           ("/get_reward", True)])
def test_a_body_far_over_the_limit_is_413_before_it_is_read(path, chunked):
    pytest.importorskip("prm.rewards.openrlhf")
    limit = 64 * 1024
    app = create_app(q_scorer(), ServeConfig(limits=Limits(max_body_bytes=limit), batch_window_ms=0), model_name="f")
    announced = 1 << 30                                            # 1 GiB announced; at most 1 MiB is ever sent
    with ServerThread(app) as url:
        s = _connect(url)
        head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + ("Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {announced}\r\n\r\n"))
        s.sendall(head.encode())
        sent, t0 = 0, time.monotonic()
        block = b"[" * 16384
        s.settimeout(0.05)
        raw = b""
        while sent < (1 << 20) and time.monotonic() - t0 < 10:
            try:
                s.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
                sent += len(block)
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                break
            try:
                raw += s.recv(65536)
            except (socket.timeout, BlockingIOError):
                continue
            except ConnectionResetError:
                break
            if b"\r\n\r\n" in raw:
                break
        raw += _read_all(s, 3.0) if b"\r\n\r\n" not in raw else b""
        s.close()
        assert _good(url, 5)
    assert _status(raw) == 413, raw[:200]
    assert sent < (1 << 20)                                         # refused long before the whole body came


# ----------------------------------------------------------------------------- broken clients, broken inputs
def test_a_client_that_hangs_up_mid_response_harms_no_one():
    app = create_app(q_scorer(), ServeConfig(batch_window_ms=0), model_name="f")
    big = {"inputs": [{"prompt": f"q{i}", "steps": ["s"] * 128} for i in range(256)]}   # a ~1 MB answer
    data = json.dumps(big).encode()
    with ServerThread(app) as url:
        for _ in range(5):
            s = _connect(url)
            s.sendall(b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
            s.settimeout(10)
            first = s.recv(1024)                                   # the answer has started ...
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()                                              # ... and the client is gone (RST)
            assert first.startswith(b"HTTP/1.1 200")
        status, body = _post(url, big)
        assert status == 200 and body["results"][255]["step_scores"][127] == pytest.approx(255 + 12.7)
        assert all(_good(url, i) for i in range(3))


def _gated(gate: threading.Event, started: threading.Event):
    """q_scorer, but a call that holds prompt "gate" waits for `gate` (so others queue into one batch)."""
    scorer = q_scorer()
    inner = scorer.fn

    def fn(q, steps):
        if q == "gate":
            started.set()
            gate.wait(10)
            return [0.0] * len(steps)
        return inner(q, steps)
    scorer.fn = fn
    return scorer


def _with_a_batch_of(url, app, posts):
    """Run `posts` (callables) concurrently while the worker is blocked, so they form one batch."""
    gate, results = app.state.gate, {}
    blocker = threading.Thread(target=lambda: _post(url, {"inputs": [{"prompt": "gate", "steps": ["a"]}]}))
    blocker.start()
    app.state.started.wait(10)
    threads = [threading.Thread(target=lambda k=k, f=f: results.__setitem__(k, f())) for k, f in enumerate(posts)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    while app.state.batcher.waiting < len(posts) and time.monotonic() - t0 < 10:
        time.sleep(0.01)
    gate.set()
    for t in threads + [blocker]:
        t.join(20)
    return [results.get(k) for k in range(len(posts))]


def _gated_app():
    gate, started = threading.Event(), threading.Event()
    app = create_app(_gated(gate, started), ServeConfig(batch_window_ms=200), model_name="f")
    app.state.gate, app.state.started = gate, started
    return app


def test_a_scorer_that_raises_on_one_input_fails_only_that_request():
    app = _gated_app()
    with ServerThread(app) as url:
        posts = [lambda i=i: _good(url, i) for i in range(1, 6)]
        posts.insert(2, lambda: _post(url, {"inputs": [{"prompt": "q7", "steps": ["a"]},
                                                       {"prompt": "q8", "steps": ["a", "poison"]}]}))
        got = _with_a_batch_of(url, app, posts)
        stats = dict(app.state.batcher.stats)
    status, body = got.pop(2)
    assert status == 500 and "this input breaks the model" in body["error"]["message"]
    assert got == [True] * 5                                   # the neighbours of its batch: answered, correctly
    assert stats["isolated"] == 1                              # they really shared one scoring call


def test_openrlhf_route_one_bad_input_fails_only_its_request():
    pytest.importorskip("prm.rewards.openrlhf")
    app = _gated_app()

    def reward(text):
        return _post(url, {"query": [f"Q: q3\nA: {text}"], "prompts": ["Q: q3\nA: "]}, path="/get_reward")

    with ServerThread(app) as url:
        got = _with_a_batch_of(url, app, [lambda: reward("one\n\ntwo"), lambda: reward("bad\n\npoison"),
                                          lambda: _good(url, 2), lambda: reward("three")])
    assert got[0][0] == 200 and len(got[0][1]["rewards"]) == 1
    assert got[1][0] == 500 and "this input breaks the model" in got[1][1]["error"]["message"]
    assert got[2] is True and got[3][0] == 200


@pytest.mark.parametrize("flag, field, value", [
    ("--header-timeout-s", "header_timeout_s", 2.5),
    ("--body-timeout-s", "body_timeout_s", 7.0),
    ("--max-connections", "max_connections", 12),
])
def test_each_connection_limit_flag_reaches_the_config(monkeypatch, flag, field, value):
    import argparse

    from prm.commands.serve import add_arguments, config_from

    monkeypatch.delenv("PRM_API_KEY", raising=False)
    p = argparse.ArgumentParser()
    add_arguments(p)
    assert getattr(config_from(p.parse_args(["--model", "m"])), field) == getattr(ServeConfig(), field)
    assert getattr(config_from(p.parse_args(["--model", "m", flag, str(value)])), field) == value
    assert value != getattr(ServeConfig(), field)
