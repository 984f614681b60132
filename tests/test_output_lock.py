"""Fault 1 of #27: two runs on one --out. The output lock of `prm.paths.check_paths(lock=OUT)`:
a live holder (a real second process) refuses the run in one line naming its pid and host; a lock
left by a killed process is reported and taken over; the lock goes when the command ends, however
it ends (success, UserError, Ctrl-C, SIGTERM, a crash)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from prm import paths
from prm.cli import Terminated, main
from prm.errors import UserError
from prm.paths import acquire, check_paths, lock_path, release

PROBLEM = '{"id": "m1", "domain": "math", "question": "1+1?", "answer": "2"}\n'
SAMPLE = '{"problem_id": "m1", "text": "1+1=2\\n\\nThe answer is 2.", "steps": ["1+1=2", "The answer is 2."]}\n'

# a second process that takes the lock the way a command does, then waits (bounded) to be killed
HOLDER = textwrap.dedent("""
    import sys, time
    from prm.paths import acquire
    acquire(sys.argv[1])
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
""")


@pytest.fixture
def files(tmp_path):
    (tmp_path / "p.jsonl").write_text(PROBLEM)
    (tmp_path / "s.jsonl").write_text(SAMPLE)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    return tmp_path


def _holder(tmp_path, out, seconds=30.0) -> subprocess.Popen:
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    p = subprocess.Popen([sys.executable, str(script), str(out), str(seconds)], stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "PRM_THREADS": "1"})
    assert p.stdout.readline().strip() == "locked"
    return p


# every command that writes an --out: refused while another process holds that output's lock
COMMANDS = {
    "label": ["label", "--method", "outcome", "--problems", "{d}/p.jsonl", "--samples", "{d}/s.jsonl",
              "--out", "{d}/o.jsonl", "--no-progress"],
    "sample": ["sample", "--problems", "{d}/p.jsonl", "--model", "{d}/m", "--out", "{d}/o.jsonl"],
    "score": ["score", "--model", "{d}/m", "--input", "{d}/s.jsonl", "--out", "{d}/o.jsonl"],
    "search": ["search", "--method", "bon", "--problems", "{d}/p.jsonl", "--model", "{d}/m", "--out", "{d}/o.jsonl"],
    "exec": ["exec", "--problems", "{d}/p.jsonl", "--samples", "{d}/s.jsonl", "--out", "{d}/o.jsonl", "--resume"],
}


@pytest.fixture(scope="module")
def holder_of(tmp_path_factory):
    """One live holder process for every command's case (spawning one per case costs seconds)."""
    d = tmp_path_factory.mktemp("held")
    (d / "p.jsonl").write_text(PROBLEM)
    (d / "s.jsonl").write_text(SAMPLE)
    (d / "m").mkdir()
    (d / "m" / "config.json").write_text("{}")
    (d / "o.jsonl").write_text('{"kept": 1}\n')       # what the first run wrote so far
    p = _holder(d, d / "o.jsonl", 120)
    yield d, p
    p.kill()
    p.wait(10)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_live_holder_refuses_a_second_run(holder_of, capsys, name):
    d, p = holder_of
    before = {f: f.read_bytes() for f in d.rglob("*") if f.is_file()}
    assert main([a.format(d=d) for a in COMMANDS[name]]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"pid {p.pid} on {socket.gethostname()}" in err and "being written by another run" in err
    assert str(lock_path(d / "o.jsonl")) in err
    assert {f: f.read_bytes() for f in d.rglob("*") if f.is_file()} == before   # nothing written or removed
    assert p.poll() is None


def test_a_lock_left_by_a_killed_process_is_taken_over(files, capsys):
    out = files / "o.jsonl"
    p = _holder(files, out)
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    assert json.loads(lock_path(out).read_text())["pid"] == p.pid      # the dead process left its lock behind
    assert main([a.format(d=files) for a in COMMANDS["label"]]) == 0
    err = capsys.readouterr().err
    stale = [line for line in err.splitlines() if "stale lock" in line]
    assert len(stale) == 1 and f"pid {p.pid}" in stale[0] and "no longer running" in stale[0]
    assert len(out.read_text().splitlines()) == 1 and not lock_path(out).exists()


def test_a_lock_naming_another_host_is_never_taken_over(files):
    out = files / "o.jsonl"
    lock_path(out).write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "started": 0}) + "\n")
    with pytest.raises(UserError, match=r"locked by pid 1 on elsewhere.example.*delete .*o\.jsonl\.lock"):
        check_paths(outputs={"--out": out}, lock=out)
    assert "elsewhere.example" in lock_path(out).read_text()


def test_one_process_may_lock_twice_and_release_once(files):
    out = files / "o.jsonl"
    acquire(out)
    try:
        acquire(out)   # a command calling library code that locks the same output
        assert json.loads(lock_path(out).read_text())["pid"] == os.getpid()
    finally:
        release(out)
    assert not lock_path(out).exists()
    release(out)       # not held: nothing to do


def test_the_lock_file_is_an_output_the_guard_checks(files):
    """OUT.lock is written like any output: an input of that name is refused, before any lock is taken."""
    (files / "o.jsonl.lock").write_text("{}")
    with pytest.raises(UserError, match="is the input --in"):
        check_paths(inputs={"--in": files / "o.jsonl.lock"}, outputs={"--out": files / "o.jsonl"},
                    lock=files / "o.jsonl")
    assert not paths._HELD and (files / "o.jsonl.lock").read_text() == "{}"


def _raiser(exc):
    def run_labeling(problems, samples, out, *a, **kw):
        held = json.loads(lock_path(out).read_text())
        assert held["pid"] == os.getpid() and held["host"] == socket.gethostname()   # held while it runs
        raise exc
    return run_labeling


@pytest.mark.parametrize("exc, code", [
    (None, 0),                                  # success
    (UserError("bad samples"), 2),              # a clean user error
    (KeyboardInterrupt(), 130),                 # Ctrl-C
    (Terminated(), 143),                        # SIGTERM (prm.cli turns it into Terminated)
    (RuntimeError("a bug"), RuntimeError),      # an uncaught crash still unwinds through main's finally
])
def test_the_lock_goes_when_the_command_ends(files, monkeypatch, capsys, exc, code):
    out = files / "o.jsonl"
    if exc is not None:
        import prm.labeling
        monkeypatch.setattr(prm.labeling, "run_labeling", _raiser(exc))
    argv = [a.format(d=files) for a in COMMANDS["label"]]
    if isinstance(code, type):
        with pytest.raises(code):
            main(argv)
    else:
        assert main(argv) == code
    assert not lock_path(out).exists() and not paths._HELD
    monkeypatch.undo()
    assert main(argv) == 0                      # and the next run is not blocked
    assert len(out.read_text().splitlines()) == 1


@pytest.mark.parametrize("sig, code, stale", [
    (signal.SIGKILL, -signal.SIGKILL, True),    # no clean-up at all: the next run takes the lock over
    (signal.SIGTERM, 143, False),               # `kill PID`, a scheduler's stop: released on the way out
    (signal.SIGINT, 130, False),                # Ctrl-C
])
def test_a_real_run_stopped_by_a_signal(files, sig, code, stale):
    """End to end with real `prm label` processes: the first is held inside its run (a second one is
    refused meanwhile) and stopped by `sig`; the third run (same command) then finishes, reporting
    the stale lock only when the first could not release it."""
    out = files / "o.jsonl"
    script = files / "slow_label.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        import prm.labeling
        import prm.cli as cli
        def stuck(*a, **kw):
            print("running", flush=True)
            time.sleep(60)
        prm.labeling.run_labeling = stuck
        sys.exit(cli.main(sys.argv[1:]))
    """))
    argv = [a.format(d=files) for a in COMMANDS["label"]]
    env = {**os.environ, "PRM_THREADS": "1"}
    # as a terminal would start it: a suite run in the background (`pytest &` in a script) ignores SIGINT,
    # and a child inheriting that would never see the Ctrl-C this test sends
    first = subprocess.Popen([sys.executable, str(script), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert first.stdout.readline().strip() == "running"
        second = subprocess.run([sys.executable, "-m", "prm", *argv], capture_output=True, text=True, env=env,
                                timeout=60)
        assert second.returncode == 2 and f"pid {first.pid}" in second.stderr
        first.send_signal(sig)
        assert first.wait(30) == code
    finally:
        first.kill()
        first.wait(10)
    assert lock_path(out).exists() == stale
    third = subprocess.run([sys.executable, "-m", "prm", *argv], capture_output=True, text=True, env=env, timeout=60)
    assert third.returncode == 0, third.stderr
    assert (f"stale lock left by pid {first.pid}" in third.stderr) == stale
    assert len(out.read_text().splitlines()) == 1 and not lock_path(out).exists()


@pytest.mark.parametrize("command, says", [
    ("prm train", "its newest complete checkpoint is resumed"),
    ("prm label", "records it wrote are kept and resumed"),
    (None, "records it wrote are kept and resumed"),
])
def test_the_takeover_line_says_what_is_resumed(tmp_path, capsys, command, says):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(10)
    out = tmp_path / "o"
    lock_path(out).parent.mkdir(parents=True, exist_ok=True)
    lock_path(out).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "command": command,
                                          "started": 0}) + "\n")
    try:
        acquire(out)
        err = capsys.readouterr().err
        assert f"stale lock left by pid {dead.pid}" in err and says in err
    finally:
        release(out)
