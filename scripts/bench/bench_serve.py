"""Server load test: `prm serve` under concurrent clients vs the in-process scorer, and across a restart.

    .venv/bin/python scripts/bench/bench_serve.py --requests 200 --clients 8 --inputs 4 --time-limit 300
    .venv/bin/python scripts/bench/bench_serve.py --quick

Builds the tiny Llama token-classification PRM of bench_scoring.py (random head), makes `--requests`
scoring requests of `--inputs` samples each (2-8 steps), and measures, on the same requests:

- in-process: `scorer.score_batch(request)` one request after another (what a single caller of the
  library gets), requests/s and per-request latency;
- server: `prm serve` in a subprocess (transformers backend, request batching, an API key), hit by
  `--clients` threads over loopback HTTP, each request sent with its own id; requests/s and p50/p99
  latency from send to answer.

Correctness under load (phase 1) and across a restart (phase 2: the same requests again, and once
half are answered the server gets SIGTERM, finishes what is in flight, exits and is started again on
the same port while the clients keep retrying on refused connections): every request id must be
answered exactly once, with its own id echoed back and step scores equal to the in-process ones
(1e-5), and the servers' own counts (printed at shutdown) must add up to exactly the requests sent:
none scored twice. A request not answered before `--time-limit` counts as lost. Exit status 1 on
any loss, duplicate or mismatch.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

KEY = "bench-serve-key"


def percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def make_requests(n: int, inputs: int, seed: int = 0) -> list[dict]:
    from fixtures_scoring import BAD, GOOD

    rng = random.Random(seed)
    return [{"id": f"r{r}", "items": [(f"Problem {r}.{k}: add {r} and {k + 1}.",
                                       [" ".join(rng.choice(GOOD + BAD) for _ in range(rng.randint(1, 4)))
                                        for _ in range(rng.randint(2, 8))]) for k in range(inputs)]}
            for r in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`prm serve` in a subprocess on a fixed port; start() waits until it answers /health."""

    def __init__(self, model_dir: Path, port: int, threads: int):
        self.model_dir, self.port, self.proc, self.lines = model_dir, port, None, []
        self.env = {**os.environ, "PRM_API_KEY": KEY, "PRM_THREADS": str(threads)}

    def start(self, timeout: float = 180.0) -> float:
        from prm.scoring.remote import RemoteError, request_json

        t0 = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-m", "prm", "serve", "--model", str(self.model_dir),
                                      "--backend", "transformers", "--port", str(self.port), "--log-level", "warning"],
                                     cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        threading.Thread(target=lambda p=self.proc: self.lines.extend(p.stdout), daemon=True).start()
        while True:
            try:
                request_json(f"http://127.0.0.1:{self.port}/health", retries=0, timeout=5)
                return time.perf_counter() - t0
            except RemoteError:
                if self.proc.poll() is not None or time.perf_counter() - t0 > timeout:
                    raise RuntimeError("prm serve did not start:\n" + "".join(self.lines[-40:]))
                time.sleep(0.2)

    def stop(self) -> float:
        """SIGTERM (graceful) and wait; seconds it took."""
        t0 = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(120)
        return time.perf_counter() - t0


def run_clients(url: str, requests: list[dict], clients: int, deadline: float, on_answer=None) -> dict:
    """Send every request once (retrying refused connections / 503s); per id: the answers received,
    latency and attempts."""
    from prm.scoring.remote import RemoteError, request_json

    todo = list(range(len(requests)))
    lock = threading.Lock()
    answers: dict[str, list] = {r["id"]: [] for r in requests}
    latency: list[float] = []
    errors: list[str] = []

    def worker():
        while True:
            with lock:
                if not todo or time.perf_counter() > deadline:
                    return
                i = todo.pop(0)
            req = requests[i]
            body = {"id": req["id"], "inputs": [{"prompt": q, "steps": s} for q, s in req["items"]]}
            t0 = time.perf_counter()
            try:
                got = request_json(url + "/v1/score", body, api_key=KEY, retries=14, backoff_s=0.05, timeout=120)
            except RemoteError as e:   # noqa: PERF203 - counted as lost below
                with lock:
                    errors.append(f"{req['id']}: {e}")
                continue
            dt = time.perf_counter() - t0
            with lock:
                answers[req["id"]].append(got)
                latency.append(dt)
                if on_answer:
                    on_answer(sum(1 for a in answers.values() if a))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"answers": answers, "latency": latency, "wall": time.perf_counter() - t0, "errors": errors}


def check(requests: list[dict], want: dict[str, list], run: dict) -> dict:
    """Lost, duplicated, wrong-id and wrong-score counts, and the largest score difference."""
    lost = dup = wrong_id = wrong_score = 0
    diff = 0.0
    for r in requests:
        got = run["answers"][r["id"]]
        lost += not got
        dup += len(got) > 1
        for a in got:
            wrong_id += a.get("id") != r["id"]
            scores = [x["step_scores"] for x in a["results"]]
            if [len(s) for s in scores] != [len(s) for s in want[r["id"]]]:
                wrong_score += 1
                continue
            d = max((abs(x - y) for s, w in zip(scores, want[r["id"]]) for x, y in zip(s, w)), default=0.0)
            diff = max(diff, d)
            wrong_score += d > 1e-5
    return {"lost": lost, "duplicated": dup, "wrong_id": wrong_id, "wrong_score": wrong_score, "max_diff": diff}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_argument_group("load")
    g.add_argument("--requests", type=int, default=200, help="requests per phase")
    g.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    g.add_argument("--inputs", type=int, default=4, help="samples per request")
    g.add_argument("--time-limit", type=float, default=300.0, help="seconds per phase; unanswered requests are lost")
    g = ap.add_argument_group("model")
    g.add_argument("--layers", type=int, default=4)
    g.add_argument("--hidden", type=int, default=256)
    g.add_argument("--threads", type=int, default=None,
                   help="PRM_THREADS for both sides (default: prm.threads' rule, free cores)")
    ap.add_argument("--quick", action="store_true", help="60 requests, 4 clients, a 2-layer model")
    a = ap.parse_args()
    if a.quick:
        a.requests, a.clients, a.layers, a.hidden = 60, 4, 2, 128

    if a.threads:
        os.environ["PRM_THREADS"] = str(a.threads)
    from prm import threads

    n_threads, why = threads.apply()   # the rule `prm serve` applies too: both sides get the same threads
    from bench_scoring import build_prm
    from common import Row, machine_header, report

    from prm.scoring import load_scorer

    header = machine_header()          # the load average before this script adds its own
    requests = make_requests(a.requests, a.inputs)
    work = Path(tempfile.mkdtemp(prefix="bench_serve_"))
    model_dir = build_prm(work, [q + "\n\n" + "\n\n".join(s) for r in requests for q, s in r["items"]],
                          a.layers, a.hidden)

    # in-process: one request per score_batch call, one after another
    scorer = load_scorer(model_dir, backend="transformers")
    scorer.score_batch(requests[0]["items"])                               # warm-up
    want, local_lat = {}, []
    t0 = time.perf_counter()
    for r in requests:
        t = time.perf_counter()
        want[r["id"]] = scorer.score_batch(r["items"])
        local_lat.append(time.perf_counter() - t)
    local_wall = time.perf_counter() - t0
    t = time.perf_counter()
    scorer.score_batch([it for r in requests for it in r["items"]])
    one_call = time.perf_counter() - t
    scorer.close()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Server(model_dir, port, n_threads)
    startup = server.start()
    # phase 0: one client, one request at a time (the HTTP + JSON + batching-window overhead per request)
    solo_reqs = requests[:min(len(requests), 50)]
    solo = run_clients(url, solo_reqs, 1, time.perf_counter() + a.time_limit)
    solo_check = check(solo_reqs, want, solo)
    # phase 1: load
    load = run_clients(url, requests, a.clients, time.perf_counter() + a.time_limit)
    load_check = check(requests, want, load)

    # phase 2: the same requests again; SIGTERM + restart once half are answered
    restart = {"at": None, "stop_s": None, "start_s": None}

    def restart_at_half(answered: int):
        if restart["at"] is None and answered >= len(requests) // 2:
            restart["at"] = answered
            threading.Thread(target=bounce, daemon=True).start()

    def bounce():
        restart["stop_s"] = server.stop()
        restart["start_s"] = server.start()

    again = run_clients(url, requests, a.clients, time.perf_counter() + a.time_limit, on_answer=restart_at_half)
    again_check = check(requests, want, again)
    while restart["at"] is not None and restart["start_s"] is None and server.proc.poll() is None:
        time.sleep(0.1)
    server.stop()
    served = [ln.strip() for ln in server.lines if "requests scored" in ln]
    # server side: every request scored exactly once over both phases and both server processes (a retry
    # of a request the first server had already scored would show up here as one too many)
    scored = sum(int(ln.rsplit(":", 1)[1]) for ln in served)
    extra_scored = scored - 2 * len(requests) - len(solo_reqs)

    n = len(requests)
    solo_lat = local_lat[:len(solo_reqs)]
    rows = [Row("p50 latency per request, one client (HTTP + JSON + batch window)", 1000 * percentile(solo["latency"], 0.5),
                1000 * percentile(solo_lat, 0.5), "ms", "lower"),Row(f"requests/s ({a.clients} clients vs one caller)", len(load["latency"]) / load["wall"],
                n / local_wall, "req/s", "higher"),
            Row(f"p50 latency per request ({a.clients} clients: queueing included)", 1000 * percentile(load["latency"], 0.5),
                1000 * percentile(local_lat, 0.5), "ms", "lower"),
            Row(f"p99 latency per request ({a.clients} clients: queueing included)", 1000 * percentile(load["latency"], 0.99),
                1000 * percentile(local_lat, 0.99), "ms", "lower"),
            Row("requests lost / answered twice / wrong answer, under load", load_check["lost"]
                + load_check["duplicated"] + load_check["wrong_id"] + load_check["wrong_score"], 0, "", ""),
            Row("requests lost / answered twice / wrong answer, across a restart", again_check["lost"]
                + again_check["duplicated"] + again_check["wrong_id"] + again_check["wrong_score"], 0, "", ""),
            Row("requests scored by the servers minus requests sent (all phases)", extra_scored, 0, "", ""),
            Row("requests/s across the restart (downtime included)", len(again["latency"]) / again["wall"],
                n / local_wall, "req/s", "higher")]
    notes = [f"model: tiny Llama token classifier, {a.layers} layers x {a.hidden} (random head); {n} requests x "
             f"{a.inputs} samples (2-8 steps each), {a.clients} client threads over loopback HTTP with an API key; "
             f"server: `prm serve --backend transformers` (request batching, 5 ms window) in a subprocess",
             f"in-process, every request in ONE score_batch call: {n / one_call:.1f} req/s (the batching ceiling)",
             f"max |server - in-process| step score: load {load_check['max_diff']:.1e}, restart "
             f"{again_check['max_diff']:.1e} (float32 both; batch composition differs)",
             f"restart: SIGTERM after {restart['at']} of {n} answers; graceful stop {restart['stop_s'] or 0:.1f} s, "
             f"start again {restart['start_s'] or 0:.1f} s (first start {startup:.1f} s); clients retried refused "
             f"connections; server logs: {'; '.join(served)}",
             f"checks: under load {load_check}; across the restart {again_check}; client errors "
             f"{(load['errors'] + again['errors'])[:3]}",
             f"torch threads {n_threads} on both sides ({why}); the load average in the header was read before "
             f"the run, after it: {os.getloadavg()[0]:.2f} (other jobs share these cores)"]
    report("serve", "Server load test: prm serve vs the in-process scorer, under load and across a restart", rows,
           ours="prm serve", theirs="in-process", notes=notes, header=header)
    bad = sum(load_check[k] + again_check[k] + solo_check[k] for k in ("lost", "duplicated", "wrong_id", "wrong_score")) + abs(extra_scored)
    print(json.dumps({"load": load_check, "restart": again_check, "restart_info": restart}))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
