"""Fault 5 of #27: the server under a remote scorer is killed (SIGKILL) and restarted twice while
`prm score --model URL` runs over a few hundred samples. The run rides it out (RemoteScorer keeps
retrying a server it has reached for `wait_s`), and its output equals a local `prm score --model DIR`
run's: every input once, in order, none lost or doubled, scores within 1e-5 (the remote-vs-local
tolerance of tests/test_remote_scorer.py: the server scores batches of another shape)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures_scoring import first_error_records, write_jsonl

pytest.importorskip("fastapi")

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PRM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model_dir, port: int) -> subprocess.Popen:
    """`prm serve` on a loopback port, returned once it says it is listening (bounded: 120 s)."""
    srv = subprocess.Popen([sys.executable, "-m", "prm", "serve", "--model", str(model_dir), "--host", "127.0.0.1",
                            "--port", str(port), "--backend", "transformers", "--log-level", "warning"], cwd=ROOT,
                           env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline, seen = time.monotonic() + 120, []
    while time.monotonic() < deadline:
        seen.append(srv.stdout.readline())
        if "prm serve:" in seen[-1]:
            return srv
        if not seen[-1] and srv.poll() is not None:
            break
    srv.kill()
    raise AssertionError("prm serve did not start:\n" + "".join(seen)[-3000:])


def lines(path: Path) -> int:
    try:
        with path.open("rb") as fh:
            return sum(1 for _ in fh)
    except FileNotFoundError:
        return 0


def score_argv(model: str, inp: Path, out: Path, batch: int) -> list[str]:
    return [sys.executable, "-m", "prm", "score", "--model", model, "--input", str(inp), "--out", str(out),
            "--batch-size", str(batch)]


def run_through_restarts(model_dir, inp: Path, out: Path, n: int, kill_at: list[int], batch: int,
                         limit_s: float = 600, down_s: float = 6.0) -> list[int]:
    """`prm score --model URL` over `inp` while the server is SIGKILLed once the output holds each of
    `kill_at` lines, stays down `down_s` seconds (a real restart loads a model: tens of seconds, more
    than a few quick retries cover) and is restarted; returns the line counts at the kills."""
    port = free_port()
    srv = start_server(model_dir, port)
    score = subprocess.Popen(score_argv(f"http://127.0.0.1:{port}", inp, out, batch), cwd=ROOT, env=ENV,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    at, deadline = [], time.monotonic() + limit_s
    try:
        for k in kill_at:
            while lines(out) < k and score.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            at.append(lines(out))
            srv.kill()                          # SIGKILL: mid-request, no goodbye
            srv.wait(30)
            time.sleep(down_s)
            srv = start_server(model_dir, port)
        _, err = score.communicate(timeout=max(1.0, deadline - time.monotonic()))
        assert score.returncode == 0, err[-3000:]
    finally:
        for p in (score, srv):
            if p.poll() is None:
                p.kill()
                p.wait(30)
    return at


def check_same(remote: Path, local: Path, n: int, tol: float = 1e-5) -> float:
    a = [json.loads(x) for x in remote.read_text().splitlines()]
    b = [json.loads(x) for x in local.read_text().splitlines()]
    assert [r["prompt"] for r in a] == [r["prompt"] for r in b] and len({r["prompt"] for r in a}) == n == len(a)
    worst = 0.0
    for x, y in zip(a, b):
        assert len(x["scores"]) == len(y["scores"])
        for u, v in zip(x["scores"], y["scores"]):
            assert (u is None) == (v is None)
            if u is not None:
                worst = max(worst, abs(u - v))
    assert worst <= tol
    return worst


@pytest.mark.slow
def test_score_by_url_rides_out_two_server_restarts(trained_prm_dir, tmp_path):
    n = 320
    inp = write_jsonl(tmp_path / "in.jsonl", [{**r, "prompt": f"#{i} {r['prompt']}"}
                                              for i, r in enumerate(first_error_records(n, seed=5))])
    at = run_through_restarts(trained_prm_dir, inp, tmp_path / "remote.jsonl", n, kill_at=[80, 200], batch=8)
    assert all(0 < k < n for k in at), at                # both kills landed mid-run
    r = subprocess.run(score_argv(str(trained_prm_dir), inp, tmp_path / "local.jsonl", 64) + ["--backend",
                       "transformers"], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    check_same(tmp_path / "remote.jsonl", tmp_path / "local.jsonl", n)
