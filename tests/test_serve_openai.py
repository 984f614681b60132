"""`prm serve --policy`: the OpenAI-compatible search routes (/v1/chat/completions, /v1/completions).

Pure parts first (request -> question, answer -> OpenAI object, budget -> strategy config, choosing
from a pool), then the routes over fakes (errors in OpenAI's shape, 404 without a policy, 503 when
the queue is full), then end to end with the official `openai` client against the embedded tiny
math policy: in a server thread with a fake scorer, and `prm serve` itself in a subprocess with a
tiny trained PRM (SIGTERM stops it cleanly)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import fakes
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from prm.errors import UserError  # noqa: E402
from prm.records import PoolRecord, SearchResult  # noqa: E402
from prm.search import STRATEGIES  # noqa: E402
from prm.serve import Limits, ServeConfig, create_app  # noqa: E402
from prm.serve.openai_api import Answer, error_body, parse_chat, parse_completion, response  # noqa: E402
from prm.serve.searcher import BUDGETS, SearchSpec, answer_of, methods, pick, search_config  # noqa: E402
from prm.serve.server import ServerThread  # noqa: E402
from prm.serve.validate import RequestError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KEY = "test-key"
SMALL = Limits(max_prompt_chars=100)
Q = "Tom has 3 apples and buys 4 more. How many apples does he have?"


# ----------------------------------------------------------------------------- parsing requests
def user(content):
    return {"role": "user", "content": content}


CHAT_OK = [
    ("a string", [user("What is 2+2?")], "What is 2+2?"),
    ("text parts", [user([{"type": "text", "text": "What is"}, {"type": "text", "text": "2+2?"}])], "What is\n2+2?"),
    ("system ignored", [{"role": "system", "content": "Be brief."}, user("Q1")], "Q1"),
    ("the last user message", [user("Q1"), {"role": "assistant", "content": "A1"}, user("Q2")], "Q2"),
    ("assistant after the user", [user("Q1"), {"role": "assistant", "content": "prefill"}], "Q1"),
]


@pytest.mark.parametrize("name, messages, question", CHAT_OK, ids=[c[0] for c in CHAT_OK])
def test_chat_question_is_the_last_user_message(name, messages, question):
    # unknown fields (temperature, max_tokens, ...) are ignored like OpenAI servers do; n=1 and stream=false pass
    body = {"model": "anything", "messages": messages, "temperature": 0.2, "max_tokens": 9, "n": 1, "stream": False,
            "frobnicate": True}
    assert parse_chat(body, SMALL) == question


CHAT_BAD = [
    # name, body, status, param
    ("body not an object", [user("q")], 400, None),
    ("no messages", {"model": "m"}, 400, "messages"),
    ("messages not a list", {"messages": "hi"}, 400, "messages"),
    ("empty messages", {"messages": []}, 400, "messages"),
    ("message not an object", {"messages": [user("q"), "hi"]}, 400, "messages[1]"),
    ("message without a role", {"messages": [{"content": "q"}]}, 400, "messages[0]"),
    ("no user message", {"messages": [{"role": "system", "content": "s"}]}, 400, "messages"),
    ("content null", {"messages": [user(None)]}, 400, "messages[0].content"),
    ("content a number", {"messages": [user(7)]}, 400, "messages[0].content"),
    ("an image part", {"messages": [user([{"type": "text", "text": "q"},
                                          {"type": "image_url", "image_url": {"url": "x"}}])]}, 400,
     "messages[0].content[1]"),
    ("a text part without text", {"messages": [user([{"type": "text"}])]}, 400, "messages[0].content[0].text"),
    ("empty question", {"messages": [user("  ")]}, 400, "messages[0].content"),
    ("question too long", {"messages": [user("x" * 101)]}, 413, "messages[0].content"),
    ("n > 1", {"messages": [user("q")], "n": 2}, 400, "n"),
    ("n = 0", {"messages": [user("q")], "n": 0}, 400, "n"),
    ("n a string", {"messages": [user("q")], "n": "1"}, 400, "n"),
    ("stream", {"messages": [user("q")], "stream": True}, 400, "stream"),
    ("model not a string", {"messages": [user("q")], "model": 3}, 400, "model"),
]


@pytest.mark.parametrize("name, body, status, param", CHAT_BAD, ids=[c[0] for c in CHAT_BAD])
def test_bad_chat_request_names_the_field(name, body, status, param):
    with pytest.raises(RequestError) as e:
        parse_chat(body, SMALL)
    assert (e.value.status, e.value.field) == (status, param), e.value.message
    assert e.value.message


COMPLETION = [
    ("a string", {"prompt": "q"}, "q"),
    ("a list of one", {"prompt": ["q"]}, "q"),
    ("missing", {}, (400, "prompt")),
    ("two prompts", {"prompt": ["a", "b"]}, (400, "prompt")),
    ("token ids", {"prompt": [1, 2, 3]}, (400, "prompt")),
    ("one list of token ids", {"prompt": [[1, 2]]}, (400, "prompt")),
    ("empty", {"prompt": ""}, (400, "prompt")),
    ("too long", {"prompt": "x" * 101}, (413, "prompt")),
    ("n > 1", {"prompt": "q", "n": 3}, (400, "n")),
    ("stream", {"prompt": "q", "stream": True}, (400, "stream")),
]


@pytest.mark.parametrize("name, body, want", COMPLETION, ids=[c[0] for c in COMPLETION])
def test_completion_prompt(name, body, want):
    if isinstance(want, str):
        assert parse_completion(body, SMALL) == want
        return
    with pytest.raises(RequestError) as e:
        parse_completion(body, SMALL)
    assert (e.value.status, e.value.field) == want


# ----------------------------------------------------------------------------- building responses
ANSWER = Answer(text="3 + 4 = 7.\n\nThe answer is 7.", steps=["3 + 4 = 7.", "The answer is 7."],
                step_scores=[0.9, float("nan")], score=0.9, finish_reason="stop", prompt_tokens=12,
                generated_tokens=80, search="bon", budget=4, cost={"generated_tokens": 80, "scored_tokens": 30},
                scorer="prm", aggregation="min")


@pytest.mark.parametrize("kind, obj, prefix", [("chat", "chat.completion", "chatcmpl-"),
                                               ("text", "text_completion", "cmpl-")])
def test_response_is_an_openai_object_with_the_prm_field(kind, obj, prefix):
    r = response(kind, ANSWER, model="my-model", created=1700000000)
    assert r["object"] == obj and r["id"].startswith(prefix) and r["created"] == 1700000000
    assert r["model"] == "my-model" and len(r["choices"]) == 1
    choice = r["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    text = choice["message"]["content"] if kind == "chat" else choice["text"]
    assert text == ANSWER.text
    if kind == "chat":
        assert choice["message"]["role"] == "assistant"
    assert r["usage"] == {"prompt_tokens": 12, "completion_tokens": 80, "total_tokens": 92}
    prm = r["prm"]
    assert prm["step_scores"] == [0.9, None]            # NaN (past the window) is null: JSON has no NaN
    assert prm["steps"] == ANSWER.steps and prm["score"] == 0.9
    assert (prm["search"], prm["budget"], prm["cost"]["generated_tokens"]) == ("bon", 4, 80)
    json.dumps(r, allow_nan=False)                       # valid JSON, strictly


def test_echo_prepends_the_prompt_on_completions():
    r = response("text", ANSWER, model="m", created=0, prompt="Q: ", echo=True)
    assert r["choices"][0]["text"] == "Q: " + ANSWER.text


def test_error_body_has_openais_shape():
    assert error_body(400, "bad", "n") == {"error": {"message": "bad", "type": "invalid_request_error", "param": "n",
                                                     "code": None}}
    assert error_body(401, "wrong API key")["error"]["code"] == "invalid_api_key"
    assert error_body(503, "busy")["error"]["type"] == "server_error"


# ----------------------------------------------------------------------------- budget and selection
@pytest.mark.parametrize("budget", [1, 2, 3, 4, 6, 8, 16])
def test_budget_is_samples_worth_for_every_strategy(budget):
    assert {"bon", "beam"} <= set(methods())
    for method in methods():
        cfg = search_config(method, budget, {"max_tokens": 32, "temperature": 0.5, "aggregation": "last"})
        assert cfg.temperature == 0.5
        if method == "bon":
            assert cfg.n == budget and cfg.max_tokens == 32
        elif method == "beam":
            assert cfg.beam_width * cfg.expand <= budget and cfg.beam_width >= 1 and cfg.aggregation == "last"
            assert cfg.beam_width * cfg.expand == budget or budget % 4  # exact whenever 4 divides it
        elif method == "pf":
            assert cfg.n_particles == budget
        elif method == "dvts":
            assert cfg.n == budget
        elif method == "stepwise":
            assert cfg.max_chains == budget and cfg.chains == min(2, budget)


def test_unknown_search_or_bad_budget_is_a_user_error():
    with pytest.raises(UserError, match="unknown search"):
        search_config("mcts", 4)
    with pytest.raises(UserError, match="budget"):
        search_config("bon", 0)
    assert set(methods()) <= set(STRATEGIES) and set(methods()) <= set(BUDGETS)


def pool(scores, answers):
    return SearchResult("p", "bon", [PoolRecord("p", False, scores={"prm": s}, answer=a, steps=["x"] * len(s),
                                                completion_tokens=10, extra={"text": f"sample {i}"})
                                     for i, (s, a) in enumerate(zip(scores, answers))], generated_tokens=30)


def test_a_pool_is_reduced_by_the_scorer():
    # sample 0 has the best min; answer "2" has the largest summed min (0.5 + 0.5 > 0.8)
    res = pool([[0.9, 0.8], [0.5, 0.6], [0.7, 0.5]], ["1", "2", "2"])
    spec = SearchSpec(None, None, "bon", 3)
    assert pick(res, spec) == 0
    assert pick(res, SearchSpec(None, None, "bon", 3, selection="weighted")) == 1
    assert pick(res, SearchSpec(None, None, "bon", 3, aggregation="last")) == 0
    a = answer_of(res, spec, prompt_tokens=5)
    assert (a.text, a.step_scores, a.score, a.generated_tokens) == ("sample 0", [0.9, 0.8], 0.8, 30)
    assert a.cost["generated_tokens"] == 30 and a.finish_reason == "stop"


# ----------------------------------------------------------------------------- the routes over fakes
TEXTS = ["3 + 4 = 7.\n\nThe answer is 7.", "3 + 4 = 8.\n\nThe answer is 8.", "So 7."]


def fake_spec(delay=0.0, **kw):
    sampler = fakes.canned_sampler(TEXTS)
    sampler.delay = delay
    return SearchSpec(sampler, fakes.good_bad_scorer(), kw.pop("method", "bon"), kw.pop("budget", 3), **kw)


def post(url, path, body, key=KEY, timeout=30):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_routes_answer_in_openai_shape_and_errors_too():
    from fastapi.testclient import TestClient

    scorer = fakes.length_scorer("prm")      # shorter steps score higher: "So 7." wins
    app = create_app(scorer, ServeConfig(api_key=KEY), model_name="prm-out",
                     search=SearchSpec(fakes.canned_sampler(TEXTS), scorer, "bon", 3))
    auth = {"Authorization": f"Bearer {KEY}"}
    with TestClient(app) as c:
        r = c.post("/v1/chat/completions", json={"model": "x", "messages": [user(Q)]}, headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["choices"][0]["message"]["content"] == "So 7." and body["model"] == "x"
        assert body["prm"]["steps"] == ["So 7."] and body["prm"]["step_scores"] == [pytest.approx(1 / 6)]
        assert body["usage"]["completion_tokens"] == 15    # 3 samples x 5 tokens: every sampled token counts
        r = c.post("/v1/completions", json={"prompt": Q}, headers=auth)
        assert r.status_code == 200 and r.json()["choices"][0]["text"] == "So 7."
        assert r.json()["model"] == "prm-search"
        for path, body, status, param in [("/v1/chat/completions", {"messages": [user(Q)], "n": 2}, 400, "n"),
                                          ("/v1/completions", {"prompt": Q, "stream": True}, 400, "stream"),
                                          ("/v1/chat/completions", b"{not json", 400, "body")]:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            r = c.post(path, content=raw, headers={**auth, "Content-Type": "application/json"})
            assert r.status_code == status and r.json()["error"]["param"] == param, r.text
            assert set(r.json()["error"]) == {"message", "type", "param", "code"}
        r = c.post("/v1/chat/completions", json={"messages": [user(Q)]}, headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        r = c.post("/v1/score", json={"inputs": []}, headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401 and r.json()["error"]["status"] == 401    # /v1/score keeps its own shape
        models = c.get("/v1/models", headers=auth).json()["data"]
        assert models[0]["id"] == "prm-out" and models[1]["kind"] == "search" and models[1]["budget"] == 3
    assert scorer.batches, "the search scored through the shared scorer's batcher"


def test_without_a_policy_the_routes_answer_404_saying_how():
    from fastapi.testclient import TestClient

    with TestClient(create_app(fakes.length_scorer("prm"), ServeConfig(), model_name="m")) as c:
        for path in ("/v1/chat/completions", "/v1/completions"):
            r = c.post(path, json={"messages": [user(Q)], "prompt": Q})
            assert r.status_code == 404 and "--policy" in r.json()["error"]["message"], r.text
            assert r.json()["error"]["type"] == "invalid_request_error"


def test_a_search_that_fails_is_a_500_for_its_request_only():
    def reply(prompt, params):
        if "poison" in prompt:
            raise RuntimeError("the engine broke")
        return fakes.canned_sampler(TEXTS).reply(prompt, params)

    spec = SearchSpec(fakes.FakeSampler(reply), fakes.good_bad_scorer(), "bon", 2)
    with ServerThread(create_app(spec.scorer, ServeConfig(api_key=KEY), model_name="m", search=spec)) as url:
        status, body = post(url, "/v1/chat/completions", {"messages": [user("poison")]})
        assert status == 500 and "the engine broke" in body["error"]["message"]
        status, body = post(url, "/v1/chat/completions", {"messages": [user(Q)]})
        assert status == 200 and body["choices"][0]["message"]["content"]


def test_a_full_queue_answers_503_and_the_rest_are_answered():
    # one search at a time, each 2 s, a queue of one. The other three are sent only once the first is
    # being searched (the sampler has been called): sent together, a slow worker start on a loaded
    # CI machine left the first still queued, and the second was refused too
    spec = fake_spec(delay=2.0, max_batch=1)
    cfg = ServeConfig(api_key=KEY, max_queue=1, batch_window_ms=0)
    with ServerThread(create_app(spec.scorer, cfg, model_name="m", search=spec)) as url:
        got = []

        def send():
            got.append(post(url, "/v1/completions", {"prompt": Q}))

        first = threading.Thread(target=send)
        first.start()
        deadline = time.monotonic() + 30
        while not spec.sampler.calls and time.monotonic() < deadline:
            time.sleep(0.01)
        assert spec.sampler.calls, "the first search never started"
        threads = [threading.Thread(target=send) for _ in range(3)]
        for t in threads:
            t.start()
        for t in [first, *threads]:
            t.join(30)
    statuses = sorted(s for s, _ in got)
    assert len(got) == 4 and 503 in statuses and statuses.count(200) >= 2, got
    busy = next(b for s, b in got if s == 503)
    assert busy["error"]["code"] == "server_busy"


def test_shutdown_lets_an_in_flight_search_finish():
    spec = fake_spec(delay=0.5)
    srv = ServerThread(create_app(spec.scorer, ServeConfig(api_key=KEY), model_name="m", search=spec))
    url, got = srv.start(), []
    t = threading.Thread(target=lambda: got.append(post(url, "/v1/chat/completions", {"messages": [user(Q)]})))
    t.start()
    for _ in range(1000):                               # until the search has started (at most 10 s)
        if spec.sampler.calls:
            break
        threading.Event().wait(0.01)
    srv.stop()                                          # what SIGTERM does: stop accepting, finish in-flight
    t.join(10)
    assert got and got[0][0] == 200 and got[0][1]["choices"][0]["message"]["content"], got


# ----------------------------------------------------------------------------- end to end, the official client
@pytest.fixture(scope="module")
def math_sampler():
    from prm.policy import ensure_policy
    from prm.sampler import EngineConfig, make_sampler

    sampler = make_sampler(EngineConfig(model=str(ensure_policy("math")), backend="transformers"))
    yield sampler
    sampler.close()


def check_answer(text: str, prm: dict, budget: int, search: str):
    assert isinstance(text, str) and text.strip()
    assert len(prm["step_scores"]) == len(prm["steps"]) >= 1
    assert all(s is None or 0.0 <= s <= 1.0 for s in prm["step_scores"])
    assert prm["cost"]["generated_tokens"] > 0 and (prm["search"], prm["budget"]) == (search, budget)
    assert math.isfinite(prm["score"])


@pytest.mark.parametrize("method,verify", [("bon", None), ("beam", None), ("stepwise", "prune")])
def test_openai_client_against_the_tiny_math_policy(math_sampler, method, verify):
    openai = pytest.importorskip("openai")
    scorer = fakes.length_scorer("prm")
    spec = SearchSpec(math_sampler, scorer, method, 4, settings={"max_tokens": 48, "max_steps": 4,
                                                                 "max_step_tokens": 32, "verify_steps": verify})
    with ServerThread(create_app(scorer, ServeConfig(api_key=KEY), model_name="m", search=spec)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
        r = client.chat.completions.create(model="prm", messages=[{"role": "user", "content": Q}])
        check_answer(r.choices[0].message.content, r.model_extra["prm"], 4, method)
        assert r.model == "prm" and r.choices[0].finish_reason in ("stop", "length")
        assert r.usage.completion_tokens == r.model_extra["prm"]["cost"]["generated_tokens"]
        assert r.usage.prompt_tokens > 0 and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
        c = client.completions.create(model="prm", prompt="A box holds 5 pens. Ann adds 2 pens. How many pens?")
        check_answer(c.choices[0].text, c.model_extra["prm"], 4, method)
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0).chat.completions.create(
                model="prm", messages=[{"role": "user", "content": Q}])
        with pytest.raises(openai.BadRequestError, match="only 1 supported"):
            client.chat.completions.create(model="prm", messages=[{"role": "user", "content": Q}], n=2)


def test_cli_prm_serve_with_a_policy(trained_prm_dir):
    """`prm serve --model PRM --policy math --search bon --budget 2` in a subprocess, called with the
    official client; /v1/score still answers; SIGTERM stops it cleanly."""
    openai = pytest.importorskip("openai")
    env = {**os.environ, "PRM_THREADS": "1", "PRM_API_KEY": KEY}
    srv = subprocess.Popen([sys.executable, "-m", "prm", "serve", "--model", str(trained_prm_dir), "--policy", "math",
                            "--search", "bon", "--budget", "2", "--max-tokens", "48", "--port", "0",
                            "--backend", "transformers", "--policy-backend", "transformers",
                            "--log-level", "warning"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        seen = []
        while not seen or "prm serve:" not in seen[-1]:      # model loading may print progress bars first
            seen.append(srv.stdout.readline())
            assert seen[-1] or srv.poll() is None, "".join(seen)
        line = seen[-1]
        assert "search bon x2" in line and "API key required" in line, line
        url = line.split(" on ", 1)[1].split()[0]
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
        r = client.chat.completions.create(model="prm", messages=[{"role": "user", "content": Q}])
        check_answer(r.choices[0].message.content, r.model_extra["prm"], 2, "bon")
        assert r.model_extra["prm"]["cost"]["scored_unit"] == "tokens"   # counted with the PRM's own tokenizer
        c = client.completions.create(model="prm", prompt=Q)
        check_answer(c.choices[0].text, c.model_extra["prm"], 2, "bon")
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0).completions.create(model="prm",
                                                                                                prompt=Q)
        status, body = post(url, "/v1/score", {"inputs": [{"prompt": "q", "steps": ["a", "b"]}]})
        assert status == 200 and len(body["results"][0]["step_scores"]) == 2
    finally:
        srv.send_signal(signal.SIGTERM)
        assert srv.wait(60) == 0
    assert "searches: 2" in srv.stdout.read()


def test_cli_refuses_the_step_checker_outside_a_step_level_search(trained_prm_dir, capsys):
    from prm.cli import main

    # bon would silently ignore it: refused before any model loads
    assert main(["serve", "--model", str(trained_prm_dir), "--policy", "math", "--search", "bon",
                 "--verify-steps", "prune", "--port", "0"]) != 0
    assert "--verify-steps works inside a step-level search" in capsys.readouterr().err


def test_cli_refuses_a_scorer_without_a_policy_and_no_model_at_all(tmp_path):
    from prm.cli import main

    assert main(["serve", "--port", "0"]) != 0
    assert main(["serve", "--scorer", str(tmp_path), "--port", "0"]) != 0
