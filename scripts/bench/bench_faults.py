"""The faults a long run meets (issue 27), each at a larger size than its test, and what happened.

    .venv/bin/python scripts/bench/bench_faults.py                 # ~1 min on 2 CPU cores
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

Not covered here (no code for them yet): a trainer killed mid-checkpoint (fault 3) and a remote
scorer's server restarted mid-run (fault 5). Every loop is bounded in count and time; loopback only.
Exit status 1 when any check fails.
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
    g.add_argument("--only", choices=["lock", "disk", "serve"], action="append", help="run only these (repeatable)")
    g.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    s = p.add_argument_group("sizes")
    s.add_argument("--samples", type=int, default=20_000, help="samples labeled in the lock and disk runs")
    s.add_argument("--idle", type=int, default=1000, help="silent connections held open against the server")
    s.add_argument("--requests", type=int, default=400, help="well-formed requests sent meanwhile")
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
        args.samples, args.idle, args.requests = 2000, 200, 80
    only = set(args.only or ["lock", "disk", "serve"])
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
    report("faults", "faults of a long run: concurrent writers, a full disk, hostile clients of prm serve", rows,
           ours="this run", theirs="expected", notes=notes + [f"all checks passed: {ok}"],
           extra={"quick": args.quick, "samples": args.samples, "idle": args.idle, "requests": args.requests})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
