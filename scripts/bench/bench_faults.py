"""The faults a long run meets (issue 27), each at a larger size than its test, and what happened.

    .venv/bin/python scripts/bench/bench_faults.py                 # ~3 min on 2 CPU cores
    .venv/bin/python scripts/bench/bench_faults.py --quick --only lock

- lock: a second `prm label` on the same --out while the first runs (refused?), then the first
  killed with SIGKILL at a random point and rerun (stale lock taken over? records equal to an
  uninterrupted run's, none lost or doubled?).
- disk: `prm label` onto a small tmpfs that fills up mid-run (one line? whole records only?), then
  the filesystem grown and the same command rerun (records equal to an uninterrupted run's?).
  Needs root to mount; reported as skipped otherwise.
- serve: `prm serve`'s app on loopback with a fake scorer, hit at once by well-formed clients and
  by hostile ones (silent connections, head and body tricklers, JSON nested 10,000 deep, bodies
  announced at 1 GiB, clients hanging up mid-response, an input that makes the scorer raise):
  every well-formed answer checked, each hostile client's status counted, RSS before and after.

- train: `prm train` of a tiny PRM killed with SIGKILL halfway through writing a checkpoint's
  optimizer.pt, then halfway through a later one's trainer_state.json (a hook in the child writes
  half the file and kills itself: tests/test_train_faults.py's HOOK), then at seeded random
  moments (as a checkpoint directory appears), each time rerun; then the same training onto a
  tmpfs that fills up, rerun after it is grown. Held-out scores against an uninterrupted run's.
- restart: `prm score --model URL` over thousands of samples while `prm serve` is SIGKILLed and
  restarted twice at random points; the output against a local `prm score --model DIR` run's.

Every loop is bounded in count and time; loopback only. Exit status 1 when any check fails.
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
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Row, report  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("what to run")
    g.add_argument("--only", choices=["lock", "disk", "serve", "train", "restart"], action="append",
                   help="run only these (repeatable)")
    g.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    s = p.add_argument_group("sizes")
    s.add_argument("--samples", type=int, default=20_000, help="samples labeled in the lock and disk runs")
    s.add_argument("--idle", type=int, default=1000, help="silent connections held open against the server")
    s.add_argument("--requests", type=int, default=400, help="well-formed requests sent meanwhile")
    s.add_argument("--train-steps", type=int, default=48, help="optimizer steps of the killed `prm train`")
    s.add_argument("--random-kills", type=int, default=3, help="`prm train` SIGKILLs at random moments, after the planned two")
    s.add_argument("--scored", type=int, default=3000, help="samples scored through the restarted server")
    s.add_argument("--seed", type=int, default=0, help="picks the moment of the SIGKILL")
    return p.parse_args()


# ----------------------------------------------------------------------------- labeling runs
def make_inputs(d: Path, n: int) -> tuple[Path, Path]:
    problems, samples = d / "p.jsonl", d / "s.jsonl"
    n_problems = max(1, n // 4)
    with problems.open("w") as fh:
        for i in range(n_problems):
            fh.write(json.dumps({"id": f"m{i}", "domain": "math", "question": f"What is {i} + {i}?",
                                 "answer": str(2 * i)}) + "\n")
    with samples.open("w") as fh:
        for j in range(n):
            i, k = j // 4, j % 4
            ans = 2 * i + (k % 2)
            steps = [f"We add {i} and {i} (try {k}): " + "x" * 60, f"{i} + {i} = {ans}", f"The answer is {ans}."]
            fh.write(json.dumps({"problem_id": f"m{i}", "text": "\n\n".join(steps), "steps": steps}) + "\n")
    return problems, samples


def label_argv(problems, samples, out) -> list[str]:
    return [sys.executable, "-m", "prm", "label", "--method", "outcome", "--problems", str(problems),
            "--samples", str(samples), "--out", str(out), "--no-progress", "--batch-size", "16"]


ENV = {**os.environ, "PRM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def label(problems, samples, out, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(label_argv(problems, samples, out), capture_output=True, text=True, env=ENV,
                          timeout=timeout)


def records(path: Path) -> list[dict]:
    """The records without the wall time each label took (the one field two identical runs differ in)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        rec.get("provenance", {}).get("cost", {}).pop("seconds", None)
        out.append(rec)
    return out


def compare(got: list[dict], want: list[dict]) -> dict:
    key = [json.dumps(r, sort_keys=True) for r in got]
    ref = [json.dumps(r, sort_keys=True) for r in want]
    return {"lost": len(set(ref) - set(key)), "doubled": len(key) - len(set(key)), "equal": key == ref}


def fault_lock(d: Path, problems, samples, want, ref_bytes: int, rng) -> tuple[list[Row], list[str], bool]:
    out = d / "lock.jsonl"
    first = subprocess.Popen(label_argv(problems, samples, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=ENV)
    at = int(rng.uniform(0.05, 0.9) * ref_bytes)              # a random point of the run
    t0 = time.monotonic()
    while time.monotonic() - t0 < 120 and first.poll() is None and (not out.exists() or out.stat().st_size < at):
        time.sleep(0.001)
    first.send_signal(signal.SIGSTOP)                         # frozen there, alive, holding the lock
    second = label(problems, samples, out, timeout=120)
    refused = second.returncode == 2 and f"pid {first.pid}" in second.stderr
    first.send_signal(signal.SIGKILL)                         # then it dies without cleaning up
    first.wait(30)
    partial = len(out.read_text(encoding="utf-8").splitlines())
    third = label(problems, samples, out)
    took_over = third.returncode == 0 and f"stale lock left by pid {first.pid}" in third.stderr
    c = compare(records(out), want)
    notes = [f"lock: second run: exit {second.returncode}: {second.stderr.strip()[:300]}",
             f"lock: first run killed (SIGKILL) after {partial} of {len(want)} records; rerun: exit {third.returncode}, "
             f"{[line for line in third.stderr.splitlines() if 'stale' in line][:1]}"]
    ok = refused and took_over and c["equal"] and not c["lost"] and not c["doubled"]
    return [Row("lock: second run refused (1 = yes)", float(refused), None, "", ""),
            Row("lock: stale lock taken over (1 = yes)", float(took_over), None, "", ""),
            Row("lock: records lost after kill + rerun", float(c["lost"]), None, "", "lower"),
            Row("lock: records doubled after kill + rerun", float(c["doubled"]), None, "", "lower")], notes, ok


def fault_disk(d: Path, problems, samples, want) -> tuple[list[Row], list[str], bool]:
    if os.geteuid() != 0:
        return [], ["disk: skipped (mounting a tmpfs needs root)"], True
    small = d / "small"
    small.mkdir()
    size = max(32, sum(len(json.dumps(r)) for r in want) // 1024 // 4)     # about a quarter of the output fits
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}k", "tmpfs", str(small)], capture_output=True,
                       text=True)
    if r.returncode:
        return [], [f"disk: skipped (mount refused: {r.stderr.strip()})"], True
    try:
        out = small / "o.jsonl"
        first = label(problems, samples, out)
        lines = first.stderr.strip().splitlines()
        raw = out.read_bytes()
        whole = raw.endswith(b"\n") and all(_parses(x) for x in raw.splitlines())
        kept = len(raw.splitlines())
        subprocess.run(["mount", "-o", "remount,size=1g", str(small)], check=True)
        second = label(problems, samples, out)
        c = compare(records(out), want)
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)
    one_line = first.returncode == 2 and len(lines) == 1 and "disk full" in lines[0] and str(out) in lines[0]
    notes = [f"disk: {size} KiB tmpfs; first run: exit {first.returncode}, {kept} records kept: "
             f"{lines[-1][:300] if lines else ''}", f"disk: after growing it, rerun: exit {second.returncode}"]
    ok = one_line and whole and second.returncode == 0 and c["equal"]
    return [Row("disk: one clear line (1 = yes)", float(one_line), None, "", ""),
            Row("disk: partial records left (0 = none)", float(not whole), None, "", "lower"),
            Row("disk: records lost after rerun", float(c["lost"]), None, "", "lower"),
            Row("disk: records doubled after rerun", float(c["doubled"]), None, "", "lower")], notes, ok


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
        return True
    except ValueError:
        return False


# ----------------------------------------------------------------------------- hostile clients
class FakeScorer:
    """Step k of prompt "q<i>" scores i + k / 10; an input containing "poison" raises."""

    backend, kind, sep, step_tag, stats = "fake", "prm", "\n\n", None, {}

    def score_batch(self, items, *, progress=False):
        out = []
        for q, steps in items:
            if "poison" in q or any("poison" in s for s in steps):
                raise ValueError("this input breaks the model")
            out.append([int(q[1:]) + k / 10 for k in range(len(steps))] if q[1:].isdigit() else [0.5] * len(steps))
        return out

    def close(self):
        pass


def _raw(port: int, data: bytes, *, trickle: float = 0.0, hang_up_after: int = 0, limit_s: float = 20.0) -> int | None:
    """Send `data` (a byte every `trickle` s if set) and return the status the server answered (None: none)."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        try:
            if trickle:
                for b in data:
                    if time.monotonic() - t0 > limit_s:
                        break
                    s.sendall(bytes([b]))
                    time.sleep(trickle)
            else:
                s.sendall(data)
        except OSError:
            pass
        s.settimeout(limit_s)
        try:
            head = s.recv(hang_up_after or 65536)
        except OSError:
            return None
        if hang_up_after:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else None


def _post(url, path, body, timeout=30):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def fault_serve(args) -> tuple[list[Row], list[str], bool]:
    import psutil

    from prm.serve import ServeConfig, create_app
    from prm.serve.server import ServerThread

    cfg = ServeConfig(header_timeout_s=2.0, body_timeout_s=2.0, max_connections=args.idle // 2, batch_window_ms=5)
    app = create_app(FakeScorer(), cfg, model_name="fake")
    proc = psutil.Process()
    hostile: dict[str, list] = {}
    with ServerThread(app) as url:
        port = int(url.rsplit(":", 1)[1])
        _post(url, "/v1/score", {"inputs": [{"prompt": "q1", "steps": ["a"]}]})
        rss0 = proc.memory_info().rss
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(args.idle)]
        head = b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n"
        deep = b"[" * 10_000 + b"]" * 10_000
        jobs = {
            "head trickled": lambda: _raw(port, head, trickle=0.05, limit_s=6),
            "body stalls": lambda: _raw(port, head + b'{"inputs":', limit_s=6),
            "JSON 10,000 deep": lambda: _raw(port, b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                                              % (len(deep), deep)),
            "body announced at 1 GiB": lambda: _raw(port, b"POST /get_reward HTTP/1.1\r\nHost: x\r\n"
                                                    b"Content-Length: 1073741824\r\n\r\n" + b"[" * 65536),
            "hangs up mid-response": lambda: _raw(port, _request({"inputs": [{"prompt": f"q{i}", "steps": ["s"] * 128}
                                                                            for i in range(256)]}), hang_up_after=64),
            "input that raises": lambda: _post(url, "/v1/score", {"inputs": [{"prompt": "q1", "steps": ["poison"]}]})[0],
            "OpenRLHF input that raises": lambda: _post(url, "/get_reward", {"query": ["Q: x\nA: poison"],
                                                                            "prompts": ["Q: x\nA: "]})[0],
        }
        good, lat, lock = [], [], threading.Lock()

        def client(ids):
            for i in ids:
                t = time.monotonic()
                status, body = _post(url, "/v1/score", {"inputs": [{"prompt": f"q{i}", "steps": ["a", "b"]}],
                                                        "id": str(i)})
                with lock:
                    lat.append(time.monotonic() - t)
                    good.append(status == 200 and body.get("id") == str(i)
                                and body["results"][0]["step_scores"] == [i, i + 0.1])

        def bad(name):
            for _ in range(5):
                try:
                    got = jobs[name]()
                except OSError as e:
                    got = type(e).__name__
                with lock:
                    hostile.setdefault(name, []).append(got)

        threads = [threading.Thread(target=client, args=(range(k, args.requests, 8),)) for k in range(8)]
        threads += [threading.Thread(target=bad, args=(name,)) for name in jobs]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        wall = time.monotonic() - t0
        time.sleep(cfg.header_timeout_s + 1)
        for s in idle:
            s.setblocking(False)
        still_open = sum(_open(s) for s in idle)
        rss1 = proc.memory_info().rss
        for s in idle:
            s.close()
    lat.sort()
    answered = sum(good)
    want = {"head trickled": 408, "body stalls": 408, "JSON 10,000 deep": 400, "body announced at 1 GiB": 413,
            "hangs up mid-response": 200, "input that raises": 500, "OpenRLHF input that raises": 500}
    hostile_ok = all(all(g == want[n] for g in got) for n, got in hostile.items())
    notes = [f"serve: {args.idle} silent connections (max_connections {cfg.max_connections}), "
             f"{still_open} still open {cfg.header_timeout_s + 1:g} s after the run; {args.requests} well-formed "
             f"requests from 8 clients in {wall:.1f} s"] + [f"serve: {n}: statuses {got}" for n, got in hostile.items()]
    ok = answered == args.requests and hostile_ok and still_open == 0
    return [Row("serve: well-formed requests answered correctly", float(answered), float(args.requests), "", "higher"),
            Row("serve: hostile clients given their expected status (1 = all)", float(hostile_ok), None, "", ""),
            Row("serve: silent connections still open after the timeout", float(still_open), None, "", "lower"),
            Row("serve: p99 latency of well-formed requests", lat[int(0.99 * (len(lat) - 1))] * 1000 if lat else None,
                None, "ms", "lower"),
            Row("serve: RSS growth over the run", (rss1 - rss0) / 2**20, None, "MiB", "lower")], notes, ok


# ----------------------------------------------------------------------------- train and restart
# the tests' own harnesses, at a larger size: one way to kill a trainer mid-write, one to restart a server
sys.path.insert(0, str(ROOT / "tests"))


def train_inputs(d: Path, n: int) -> Path:
    from fixtures_scoring import first_error_records, texts_for, write_jsonl

    from prm.tiny import TinyConfig, build_tiny_causal_lm

    d.mkdir(parents=True, exist_ok=True)
    recs = first_error_records(n + 40, seed=3)
    write_jsonl(d / "train.jsonl", recs[:n])
    write_jsonl(d / "eval.jsonl", recs[n:])
    build_tiny_causal_lm(d / "lm", texts_for(recs), TinyConfig(regex_pretokenize=False))
    return d


def train_run(d: Path, out: Path, steps: int, cut: str | None = None) -> subprocess.CompletedProcess:
    from test_train_faults import HOOK

    argv = ["train", "--model", str(d / "lm"), "--train", str(d / "train.jsonl"), "--out", str(out), "--max-steps",
            str(steps), "--save-steps", "4", "--batch-size", "8", "--lr", "3e-3"]
    return subprocess.run([sys.executable, "-c", HOOK, *argv], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**ENV, **({"PRM_TEST_CUT": cut} if cut else {})})


def fault_train(args, d: Path, rng) -> tuple[list[Row], list[str], bool, Path | None]:
    from test_train_faults import held_out_scores, max_diff

    from prm.train.checkpoints import checkpoints

    steps = args.train_steps
    data = train_inputs(d / "train_data", 320 if args.quick else 640)
    t0 = time.monotonic()
    ref = train_run(data, d / "train_ref", steps)
    if ref.returncode:
        return [], [f"train: the uninterrupted run failed: {ref.stderr[-500:]}"], False, None
    want = held_out_scores(d / "train_ref", data)
    notes = [f"train: an uninterrupted `prm train` of {steps} steps (checkpoint every 4) in {time.monotonic() - t0:.1f} s"]
    out, ckpts, kills = d / "train_killed", d / "train_killed" / "checkpoints", []
    for cut in (f"checkpoint-{steps // 4 // 2 * 4}/optimizer.pt", f"checkpoint-{steps // 4 * 3 // 4 * 4}/trainer_state.json"):
        r = train_run(data, out, steps, cut)
        kills.append((cut, r.returncode, [x for x in r.stderr.splitlines() if "incomplete checkpoint" in x]))
    for _ in range(args.random_kills):    # SIGKILL as a random later checkpoint appears: inside its write or just after
        newest = max((int(c.name.split("-")[1]) for c in checkpoints(ckpts)), default=0)
        if newest + 4 > steps:
            break
        target = ckpts / f"checkpoint-{4 * rng.randint(newest // 4 + 1, steps // 4)}"
        p = subprocess.Popen([sys.executable, "-m", "prm", "train", "--model", str(data / "lm"), "--train",
                              str(data / "train.jsonl"), "--out", str(out), "--max-steps", str(steps), "--save-steps",
                              "4", "--batch-size", "8", "--lr", "3e-3"], cwd=ROOT, env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        t1 = time.monotonic()
        while not target.exists() and p.poll() is None and time.monotonic() - t1 < 300:
            time.sleep(0.002)
        p.kill()
        err = p.communicate(timeout=60)[1]
        kills.append((target.name + " appeared", p.returncode, [x for x in err.splitlines() if "incomplete checkpoint" in x]))
    half = [c.name for c in checkpoints(ckpts) if not (c / "trainer_state.json").exists()]
    final = train_run(data, out, steps)
    ok_final = final.returncode == 0
    diff = max_diff(held_out_scores(out, data), want) if ok_final else None
    for what, rc, skipped in kills:
        notes.append(f"train: run killed at {what}: exit {rc}; on start it said: {skipped[:1] or 'nothing to skip'}")
    notes.append(f"train: final rerun: exit {final.returncode}, resumed from "
                 f"{json.loads((out / 'train_report.json').read_text())['resumed_from'] if ok_final else '?'} "
                 f"(incomplete checkpoints left by the last kill: {half or 'none'}); max |held-out score - "
                 f"uninterrupted| = {diff}")
    rows = [Row("train: SIGKILLs survived (rerun completed)", float(ok_final) * len(kills), float(len(kills)), "", "higher"),
            Row("train: max |held-out score diff| after kills", diff, None, "", "lower")]
    ok = ok_final and diff is not None and diff <= 1e-6 and all(rc == -signal.SIGKILL for _, rc, _ in kills)
    if os.geteuid() != 0:
        return rows, notes + ["train: full disk skipped (mounting a tmpfs needs root)"], ok, d / "train_ref"
    small = d / "train_small"
    small.mkdir()
    size_mb = 10
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(small)], capture_output=True).returncode:
        return rows, notes + ["train: full disk skipped (mount failed)"], ok, d / "train_ref"
    try:
        r = train_run(data, small / "m", steps)
        lines = [x for x in r.stderr.splitlines() if x.startswith("prm")]
        one_line = r.returncode == 2 and len(lines) == 1 and "disk full" in lines[0] and "Traceback" not in r.stderr
        bad = [c.name for c in checkpoints(small / "m" / "checkpoints") if not (c / "trainer_state.json").exists()]
        subprocess.run(["mount", "-o", "remount,size=256m", str(small)], check=True, timeout=30)
        r2 = train_run(data, small / "m", steps)
        ddiff = max_diff(held_out_scores(small / "m", data), want) if r2.returncode == 0 else None
        notes += [f"train: on a {size_mb} MiB tmpfs: exit {r.returncode}: {lines[:1]}",
                  f"train: grown to 256 MiB, rerun: exit {r2.returncode}; max |held-out score diff| = {ddiff}"]
        rows += [Row("train: full disk: one clear line (1 = yes)", float(one_line), None, "", ""),
                 Row("train: full disk: half-written checkpoints left", float(len(bad)), None, "", "lower"),
                 Row("train: full disk: max |held-out score diff| after rerun", ddiff, None, "", "lower")]
        ok = ok and one_line and not bad and ddiff is not None and ddiff <= 1e-6
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True, timeout=30)
    return rows, notes, ok, d / "train_ref"


def fault_restart(args, d: Path, model_dir: Path, rng) -> tuple[list[Row], list[str], bool]:
    from fixtures_scoring import first_error_records, write_jsonl
    from test_remote_restart import check_same, run_through_restarts, score_argv

    n = args.scored
    inp = write_jsonl(d / "score_in.jsonl", [{**r, "prompt": f"#{i} {r['prompt']}"}
                                             for i, r in enumerate(first_error_records(n, seed=5))])
    kill_at = sorted(rng.sample(range(n // 10, n * 9 // 10), 2))
    t0 = time.monotonic()
    try:
        at = run_through_restarts(model_dir, inp, d / "remote.jsonl", n, kill_at=kill_at, batch=16, limit_s=600)
    except AssertionError as e:
        return [Row("restart: run completed (1 = yes)", 0.0, None, "", "")], [f"restart: {str(e)[:500]}"], False
    took = time.monotonic() - t0
    r = subprocess.run(score_argv(str(model_dir), inp, d / "local.jsonl", 64) + ["--backend", "transformers"],
                       cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    rows_r = [json.loads(x) for x in (d / "remote.jsonl").read_text().splitlines()]
    ids = [x["prompt"] for x in rows_r]
    lost, doubled = n - len(set(ids)), len(ids) - len(set(ids))
    try:
        worst, same = check_same(d / "remote.jsonl", d / "local.jsonl", n), True
    except AssertionError:
        worst, same = None, False
    notes = [f"restart: {n} samples by URL in {took:.1f} s, server SIGKILLed at output lines {at} and restarted "
             f"each time; local run exit {r.returncode}; max |remote - local| = {worst}"]
    return [Row("restart: samples lost", float(lost), None, "", "lower"),
            Row("restart: samples doubled", float(doubled), None, "", "lower"),
            Row("restart: max |remote - local score|", worst, None, "", "lower")], notes, \
        same and not lost and not doubled and r.returncode == 0


def _request(body: dict) -> bytes:
    data = json.dumps(body).encode()
    return b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data)


def _open(s: socket.socket) -> bool:
    try:
        data = s.recv(65536)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return data != b"" and not data.startswith(b"HTTP/1.1 408")


def main() -> int:
    args = parse_args()
    if args.quick:
        args.samples, args.idle, args.requests, args.train_steps, args.random_kills, args.scored = 2000, 200, 80, 24, 1, 600
    only = set(args.only or ["lock", "disk", "serve", "train", "restart"])
    rng = random.Random(args.seed)
    rows, notes, ok = [], [], True
    with tempfile.TemporaryDirectory(prefix="bench_faults_") as tmp:
        d = Path(tmp)
        if only & {"lock", "disk"}:
            problems, samples = make_inputs(d, args.samples)
            t0 = time.monotonic()
            ref = label(problems, samples, d / "ref.jsonl")
            if ref.returncode:
                print(ref.stderr, file=sys.stderr)
                return 1
            want = records(d / "ref.jsonl")
            notes.append(f"reference: an uninterrupted `prm label --method outcome` of {len(want)} samples in "
                         f"{time.monotonic() - t0:.1f} s")
            ref_bytes = (d / "ref.jsonl").stat().st_size
            for name, fn in (("lock", lambda: fault_lock(d, problems, samples, want, ref_bytes, rng)),
                             ("disk", lambda: fault_disk(d, problems, samples, want))):
                if name in only:
                    r, n, good = fn()
                    rows, notes, ok = rows + r, notes + n, ok and good
        if "serve" in only:
            r, n, good = fault_serve(args)
            rows, notes, ok = rows + r, notes + n, ok and good
        model = None
        if only & {"train", "restart"}:
            r, n, good, model = fault_train(args, d, rng)
            if "train" in only:
                rows, notes, ok = rows + r, notes + n, ok and good
        if "restart" in only:
            if model is None:
                rows, notes, ok = rows, notes + ["restart: no model to serve (training failed)"], False
            else:
                r, n, good = fault_restart(args, d, model, rng)
                rows, notes, ok = rows + r, notes + n, ok and good
    report("faults", "faults of a long run: concurrent writers, a full disk, hostile clients of prm serve, a killed "
           "trainer, a restarted server", rows,
           ours="this run", theirs="expected", notes=notes + [f"all checks passed: {ok}"],
           extra={"quick": args.quick, "samples": args.samples, "idle": args.idle, "requests": args.requests,
                  "train_steps": args.train_steps, "random_kills": args.random_kills, "scored": args.scored})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
