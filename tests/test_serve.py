"""`prm serve`: request validation (exact 4xx per bad field), auth, the bind rule, ordering, ORM shape,
request batching under concurrent clients, 503 when full, graceful shutdown, the OpenRLHF route, CLI.

Most tests serve a fake scorer (tests/fakes.py) so they need no model; the real tiny PRM is in
tests/test_remote_scorer.py (local == remote to 1e-5)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import fakes
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from prm.errors import UserError  # noqa: E402
from prm.serve import Limits, ServeConfig, check_bind, create_app  # noqa: E402
from prm.serve import validate  # noqa: E402
from prm.serve.batcher import Batcher, Closed, QueueFull  # noqa: E402
from prm.serve.config import resolve_api_key  # noqa: E402
from prm.serve.server import ServerThread  # noqa: E402

SMALL = Limits(max_body_bytes=2000, max_inputs=3, max_steps=4, max_step_chars=50, max_prompt_chars=100)


def client(scorer=None, **cfg) -> TestClient:
    scorer = scorer or fakes.length_scorer("prm")
    return TestClient(create_app(scorer, ServeConfig(**{"limits": SMALL, **cfg}), model_name="fake"))


def ok(prompt="q", steps=("a",)):
    return {"prompt": prompt, "steps": list(steps)}


# ----------------------------------------------------------------------------- validation
BAD = [
    # (body: a JSON value, or bytes sent as is), status, field
    ("not json", b"{not json", 400, "body"),
    ("not utf-8", b'{"inputs": ["\xff"]}', 400, "body"),
    ("a list body", [], 400, "body"),
    ("no inputs", {}, 400, "inputs"),
    ("inputs not a list", {"inputs": "q"}, 400, "inputs"),
    ("typo'd top-level field", {"inputs": [], "aggregate": "min"}, 400, "aggregate"),
    ("unknown aggregation", {"inputs": [], "aggregation": "max"}, 400, "aggregation"),
    ("id not a string", {"inputs": [], "id": 7}, 400, "id"),
    ("input not an object", {"inputs": [ok(), 1]}, 400, "inputs[1]"),
    ("no prompt", {"inputs": [{"steps": ["a"]}]}, 400, "inputs[0].prompt"),
    ("prompt not a string", {"inputs": [{"prompt": 3, "steps": ["a"]}]}, 400, "inputs[0].prompt"),
    ("neither steps nor completion", {"inputs": [{"prompt": "q"}]}, 400, "inputs[0]"),
    ("both steps and completion", {"inputs": [{"prompt": "q", "steps": ["a"], "completion": "a"}]}, 400, "inputs[0]"),
    ("steps a string", {"inputs": [{"prompt": "q", "steps": "a\n\nb"}]}, 400, "inputs[0].steps"),
    ("a step not a string", {"inputs": [ok(), {"prompt": "q", "steps": ["a", 2]}]}, 400, "inputs[1].steps[1]"),
    ("token ids as a step", {"inputs": [{"prompt": "q", "steps": [[101, 102]]}]}, 400, "inputs[0].steps[0]"),
    ("token ids field", {"inputs": [{"prompt": "q", "input_ids": [1, 2], "steps": ["a"]}]}, 400,
     "inputs[0].input_ids"),
    ("completion not a string", {"inputs": [{"prompt": "q", "completion": ["a"]}]}, 400, "inputs[0].completion"),
    ("lone surrogate", b'{"inputs": [{"prompt": "\\ud800", "steps": []}]}', 400, "inputs[0].prompt"),
    ("too many inputs", {"inputs": [ok()] * 4}, 413, "inputs"),
    ("too many steps", {"inputs": [ok(), ok(steps=["a"] * 5)]}, 413, "inputs[1].steps"),
    ("step too long", {"inputs": [ok(steps=["a", "b", "x" * 51])]}, 413, "inputs[0].steps[2]"),
    ("prompt too long", {"inputs": [ok(prompt="x" * 101)]}, 413, "inputs[0].prompt"),
    ("completion into too many steps", {"inputs": [{"prompt": "q", "completion": "\n\n".join("abcde")}]}, 413,
     "inputs[0].completion"),
    ("completion step too long", {"inputs": [{"prompt": "q", "completion": "a\n\n" + "x" * 51}]}, 413,
     "inputs[0].completion"),
    ("body too big", {"inputs": [ok(prompt="x" * 99)] * 3 + [{"pad": "y" * 2000}]}, 413, "body"),
]


@pytest.mark.parametrize("name, body, status, field", BAD, ids=[b[0] for b in BAD])
def test_bad_request_gets_the_exact_status_and_field(name, body, status, field):
    with client() as c:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        r = c.post("/v1/score", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["field"] == field and err["status"] == status and err["message"]


def test_announced_body_over_the_limit_is_refused_before_reading():
    with pytest.raises(validate.RequestError) as e:
        validate.check_length("2001", SMALL)
    assert (e.value.status, e.value.field) == (413, "body")
    validate.check_length("2000", SMALL)
    validate.check_length(None, SMALL)


def test_the_limits_are_exact():
    """A request at every limit passes; one character or item over fails (table above)."""
    at = {"inputs": [ok(prompt="x" * 100, steps=["y" * 50] * 4)] * 3}
    assert len(json.dumps(at)) < SMALL.max_body_bytes * 2  # the body limit is checked on its own
    req = validate.parse_score_request(at, SMALL, validate.segmenter("\n\n"))
    assert len(req.items) == 3 and all(len(s) == 4 for _, s in req.items)


@pytest.mark.parametrize("sep, text, steps", [
    ("\n\n", "We add.\n\n  So 3.  \n\n\n\nThe answer is 3.\n\n", ["We add.", "So 3.", "The answer is 3."]),
    ("\n\n", "", []),
    ("\n", "def f(x):\n    y = x + 1\n    return y", ["def f(x):", "    y = x + 1", "    return y"]),
    ("<sep>", "a<sep> <sep>b", ["a", "b"]),
])
def test_a_completion_is_split_like_the_training_data(sep, text, steps):
    assert validate.segmenter(sep)(text) == steps


# ----------------------------------------------------------------------------- results
def test_results_keep_input_order_and_aggregate():
    with client() as c:
        inputs = [{"prompt": f"q{i}", "steps": ["x" * (i + 1), "xx"]} for i in range(3)]
        for how, fn in [("min", min), ("last", lambda s: s[-1]), ("mean", lambda s: sum(s) / len(s)),
                        ("prod", lambda s: s[0] * s[1])]:
            got = c.post("/v1/score", json={"inputs": inputs, "aggregation": how, "id": "r1"}).json()
            want = [[1 / (2 + i), 1 / 3] for i in range(3)]
            assert [x for r in got["results"] for x in r["step_scores"]] == pytest.approx(sum(want, []))
            assert [r["score"] for r in got["results"]] == pytest.approx([fn(w) for w in want])
            assert got["id"] == "r1"


def test_completion_is_segmented_server_side():
    with client() as c:
        a = c.post("/v1/score", json={"inputs": [{"prompt": "q", "completion": "ab\n\ncde\n\n"}]}).json()
        b = c.post("/v1/score", json={"inputs": [{"prompt": "q", "steps": ["ab", "cde"]}]}).json()
    assert a == b and len(a["results"][0]["step_scores"]) == 2


def test_orm_answers_one_step_score():
    with client(fakes.length_scorer("orm")) as c:
        got = c.post("/v1/score", json={"inputs": [ok(steps=["1", "2", "7"]), ok(steps=["1", "2"])],
                                        "aggregation": "mean"}).json()["results"]
    assert got == [{"step_scores": [0.9], "score": 0.9}, {"step_scores": [0.1], "score": 0.1}]


def test_nan_step_score_is_null_and_counts_as_zero():
    nan = fakes.FakeScorer(lambda q, steps: [0.5, float("nan")])
    with client(nan) as c:
        got = c.post("/v1/score", json={"inputs": [ok(steps=["a", "b"])], "aggregation": "min"}).json()
    assert got["results"] == [{"step_scores": [0.5, None], "score": 0.0}]


def test_empty_inputs_and_empty_steps():
    with client() as c:
        assert c.post("/v1/score", json={"inputs": []}).json() == {"results": []}
        assert c.post("/v1/score", json={"inputs": [ok(steps=[])]}).json() == {"results": [{"step_scores": [],
                                                                                            "score": 0.0}]}


def test_models_and_health():
    with client(api_key="k") as c:
        assert c.get("/health").json() == {"status": "ok"}                # no key needed
        info = c.get("/v1/models", headers={"Authorization": "Bearer k"}).json()["data"][0]
    assert info["id"] == "fake" and info["kind"] == "prm" and info["sep"] == "\n\n"
    assert info["limits"]["max_inputs"] == 3


def test_a_scorer_failure_is_a_500_naming_it():
    def boom(q, steps):
        raise RuntimeError("out of memory")

    with client(fakes.FakeScorer(boom)) as c:
        r = c.post("/v1/score", json={"inputs": [ok()]})
        assert r.status_code == 500 and "out of memory" in r.json()["error"]["message"]
        c.app.state.scorer.fn = lambda q, steps: [0.5]                      # the worker survived
        assert c.post("/v1/score", json={"inputs": [ok()]}).status_code == 200


# ----------------------------------------------------------------------------- auth
@pytest.mark.parametrize("header, status", [
    (None, 401), ("Bearer wrong", 401), ("Bearer s3cre", 401), ("Bearer s3cret2", 401), ("Basic s3cret", 401),
    ("s3cret", 401), ("Bearer ", 401), ("Bearer s3crét", 401), ("Bearer s3cret", 200), ("bearer s3cret", 200),
])
def test_api_key(header, status):
    with client(api_key="s3cret") as c:
        # a non-ASCII header goes as UTF-8 bytes (the server reads headers as latin-1)
        headers = {"Authorization": header.encode("utf-8")} if header is not None else {}
        for path in ("/v1/score", "/get_reward"):
            r = c.post(path, json={"inputs": [ok()]} if path == "/v1/score" else {"query": []}, headers=headers)
            if status == 401:
                assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer", r.text
            else:
                assert r.status_code in (200, 404), r.text   # 404: no OpenRLHF handler in this install
        assert c.get("/v1/models", headers=headers).status_code == status


def test_key_is_compared_in_constant_time(monkeypatch):
    calls = []
    real = validate.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(validate.hmac, "compare_digest", spy)
    with client(api_key="s3cret") as c:
        assert c.post("/v1/score", json={"inputs": []}, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert calls == [(b"nope", b"s3cret")]


def test_no_key_means_no_auth_on_loopback():
    with client() as c:
        assert c.post("/v1/score", json={"inputs": [ok()]}, headers={"Authorization": "Bearer x"}).status_code == 200


@pytest.mark.parametrize("host, key, refused", [
    ("127.0.0.1", None, False), ("127.0.0.2", None, False), ("localhost", None, False), ("::1", None, False),
    ("[::1]", None, False), ("0.0.0.0", None, True), ("::", None, True), ("10.1.2.3", None, True),
    ("example.com", None, True), ("0.0.0.0", "k", False), ("10.1.2.3", "k", False),
])
def test_binding_beyond_loopback_needs_a_key(host, key, refused):
    if refused:
        with pytest.raises(UserError, match="without an API key"):
            check_bind(host, key)
    else:
        check_bind(host, key)


def test_api_key_from_flag_or_env():
    assert resolve_api_key("a", {"PRM_API_KEY": "b"}) == "a"
    assert resolve_api_key(None, {"PRM_API_KEY": "b"}) == "b"
    assert resolve_api_key(None, {}) is None
    with pytest.raises(UserError, match="empty"):
        resolve_api_key(None, {"PRM_API_KEY": "  "})


def test_cli_refuses_an_open_bind_before_loading_anything(monkeypatch, capsys, tmp_path):
    from prm.cli import main

    monkeypatch.delenv("PRM_API_KEY", raising=False)
    assert main(["serve", "--model", str(tmp_path / "no-such-model"), "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0 without an API key" in err and "PRM_API_KEY" in err


def test_cli_help_teaches():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "prm", "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    for needle in ("--api-key", "PRM_API_KEY", "/v1/score", "--max-inputs", "127.0.0.1", "/get_reward", "--backend"):
        assert needle in r.stdout, needle


# ----------------------------------------------------------------------------- the batcher
class SlowScorer(fakes.FakeScorer):
    """Scores step k of a prompt "q<i>" as i + k / 10, after `delay` seconds per call."""

    def __init__(self, delay: float = 0.05):
        super().__init__(lambda q, steps: [int(q[1:]) + k / 10 for k in range(len(steps))])
        self.delay, self.active, self.overlap = delay, 0, False

    def score_batch(self, items, *, progress=False):
        self.active += 1
        self.overlap |= self.active > 1
        time.sleep(self.delay)
        out = super().score_batch(items)
        self.active -= 1
        return out


def _post(url, body, key=None):
    req = urllib.request.Request(url + "/v1/score", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {key}"} if key else {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer():
    scorer = SlowScorer(0.05)
    app = create_app(scorer, ServeConfig(batch_window_ms=20), model_name="slow")
    n = 24
    got = {}
    with ServerThread(app) as url:
        def one(i):
            steps = ["s"] * (1 + i % 3)
            got[i] = _post(url, {"inputs": [{"prompt": f"q{i}", "steps": steps},
                                            {"prompt": f"q{i + 1000}", "steps": ["s"]}], "id": str(i)})

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        stats = dict(app.state.batcher.stats)
    assert sorted(got) == list(range(n))
    for i, (status, body) in got.items():
        assert status == 200 and body["id"] == str(i)
        assert [x for r in body["results"] for x in r["step_scores"]] == pytest.approx(
            [i + k / 10 for k in range(1 + i % 3)] + [i + 1000])
    assert sum(scorer.batches) == 2 * n and stats["requests"] == n
    assert len(scorer.batches) < n / 2, f"no coalescing: {scorer.batches}"   # batched, not one call per request
    assert not scorer.overlap                                                # one scoring call at a time


def test_a_full_queue_answers_503():
    gate = threading.Event()
    blocked = fakes.FakeScorer(lambda q, steps: gate.wait(10) and [0.5])
    app = create_app(blocked, ServeConfig(max_queue=1, batch_window_ms=0), model_name="b")
    results = []
    with ServerThread(app) as url:
        first = threading.Thread(target=lambda: results.append(_post(url, {"inputs": [ok()]})))
        first.start()
        while not blocked.batches:                 # the worker is inside score_batch, blocked
            time.sleep(0.01)
        second = threading.Thread(target=lambda: results.append(_post(url, {"inputs": [ok()]})))
        second.start()
        while app.state.batcher.waiting < 1:       # one request waits: the queue is full
            time.sleep(0.01)
        status, body = _post(url, {"inputs": [ok()]})
        gate.set()
        first.join(10)
        second.join(10)
    assert status == 503 and "busy" in body["error"]["message"]
    assert [s for s, _ in results] == [200, 200]


def test_graceful_shutdown_finishes_in_flight_requests():
    scorer = SlowScorer(0.6)
    app = create_app(scorer, ServeConfig(batch_window_ms=0), model_name="slow")
    srv = ServerThread(app, graceful_s=10)
    url = srv.start()
    out = []
    t = threading.Thread(target=lambda: out.append(_post(url, {"inputs": [{"prompt": "q3", "steps": ["a"]}]})))
    t.start()
    while not scorer.active:
        time.sleep(0.01)
    srv.stop()                                         # like SIGTERM: stop accepting, finish what is running
    t.join(10)
    assert out and out[0][0] == 200 and out[0][1]["results"][0]["step_scores"] == [3.0]
    with pytest.raises(Closed):
        app.state.batcher.submit([("q1", ["a"])])
    with pytest.raises(urllib.error.URLError):
        _post(url, {"inputs": []})


def test_batcher_unit():
    calls = []

    def score(items):
        calls.append(len(items))
        if any(q == "boom" for q, _ in items):
            raise ValueError("bad input")
        return [[float(len(s))] for _, s in items]

    b = Batcher(score, window_s=0.0, max_items=4, max_queue=2)
    assert b.submit([]).result() == []
    assert b.submit([("q", ["a", "b"])]).result() == [[2.0]]
    with pytest.raises(ValueError, match="bad input"):
        b.submit([("boom", [])]).result(5)
    assert b.submit([("q", ["a"])] * 3).result(5) == [[1.0]] * 3     # the worker lives on
    b.close()
    with pytest.raises(Closed):
        b.submit([("q", [])])
    b.close()                                                          # idempotent


def test_batcher_queue_bound_cancel_and_drain():
    gate = threading.Event()
    seen = []

    def score(items):
        gate.wait(10)
        seen.extend(q for q, _ in items)
        return [[1.0] for _ in items]

    b = Batcher(score, window_s=0.0, max_items=100, max_queue=2)
    first = b.submit([("first", [])])
    while b.waiting:                                   # the worker took it and is blocked in score
        time.sleep(0.01)
    cancelled = b.submit([("cancelled", [])])
    kept = b.submit([("kept", [])])
    with pytest.raises(QueueFull):
        b.submit([("over", [])])
    assert cancelled.cancel()
    gate.set()
    b.close()                                          # drains: the queued request is scored
    assert first.result(5) == [[1.0]] and kept.result(5) == [[1.0]]
    assert seen == ["first", "kept"] and b.stats["rejected"] == 1


def test_batcher_never_splits_a_request_and_respects_max_items():
    sizes = []
    gate = threading.Event()

    def score(items):
        gate.wait(10)
        sizes.append(len(items))
        return [[0.0] for _ in items]

    b = Batcher(score, window_s=0.2, max_items=5, max_queue=100)
    futs = [b.submit([("q", [])] * k) for k in (3, 2, 4, 1, 6)]
    gate.set()
    assert [len(f.result(5)) for f in futs] == [3, 2, 4, 1, 6]
    b.close()
    assert sizes == [5, 5, 6]          # 3+2 | 4+1 | 6 (alone, over max_items but never split)


# ----------------------------------------------------------------------------- OpenRLHF route
def test_openrlhf_get_reward_route():
    openrlhf = pytest.importorskip("prm.rewards.openrlhf")
    scorer = fakes.length_scorer("prm")
    payload = {"query": ["<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n2+2=4\n\nThe answer is 4."
                         "<|im_end|>", "Q: 1+1?\nA: 1+1=3\n\nThe answer is 3."],
               "prompts": ["<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n", "Q: 1+1?\nA: "],
               "labels": ["4", "2"]}
    with client(scorer, api_key="k") as c:
        h = {"Authorization": "Bearer k"}
        r = c.post("/get_reward", json=payload, headers=h)
        assert r.status_code == 200, r.text
        direct = openrlhf.handle(payload, fakes.length_scorer("prm"))
        assert r.json() == direct and len(r.json()["rewards"]) == 2
        bad = c.post("/get_reward", json={"query": "not a list"}, headers=h)
        assert bad.status_code == 400 and "query" in bad.json()["error"]["message"]
        over = c.post("/get_reward", json={"query": ["x"] * 4}, headers=h)
        assert over.status_code == 413 and over.json()["error"]["field"] == "query"
        long = c.post("/get_reward", json={"query": ["x", "y" * (100 + 4 * 50 + 1)]}, headers=h)
        assert long.status_code == 413 and long.json()["error"]["field"] == "query[1]"
        assert c.post("/get_reward", json={"query": ["x"]}).status_code == 401


def test_a_taken_port_is_a_clear_error_before_any_model_loads():
    from prm.serve.server import bind

    first = bind("127.0.0.1", 0)
    try:
        with pytest.raises(UserError, match=r"cannot listen on 127\.0\.0\.1:\d+: .*choose another --port"):
            bind("127.0.0.1", first.getsockname()[1])
    finally:
        first.close()
