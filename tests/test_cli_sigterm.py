"""`kill <prm pid>` (SIGTERM) unwinds like Ctrl-C: `finally` blocks run (samplers and scorers close
their vLLM engine processes, temporary files go), and the exit status is 143. Before, Python's default
SIGTERM action ended the process at once and left the engine processes running as orphans."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

CHILD = textwrap.dedent("""
    import multiprocessing as mp, sys, time, types
    import prm.cli as cli

    def engine():                      # stands in for vLLM's engine process
        time.sleep(120)

    def add_arguments(p):
        p.add_argument("marker")

    def run(args):
        proc = mp.get_context("spawn").Process(target=engine)
        proc.start()
        try:
            print(proc.pid, flush=True)
            time.sleep(120)
        except Exception:              # a command's broad except must not swallow the termination
            open(args.marker, "w").write("swallowed")
            raise
        finally:
            proc.terminate(); proc.join()          # what Sampler.close / Scorer.close do
            with open(args.marker, "a") as fh:
                fh.write("closed")

    if __name__ == "__main__":
        mod = types.ModuleType("fake_cmd"); mod.add_arguments, mod.run = add_arguments, run
        sys.modules["fake_cmd"] = mod
        cli.COMMANDS["fake"] = ("fake_cmd", "a long command")
        sys.exit(cli.main(["fake", sys.argv[1]]))
""")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_sigterm_runs_finally_blocks_and_exits_143(tmp_path):
    script, marker = tmp_path / "child.py", tmp_path / "marker"
    script.write_text(CHILD)
    p = subprocess.Popen([sys.executable, str(script), str(marker)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=str(tmp_path), env={**__import__("os").environ, "PRM_THREADS": "1"})
    engine_pid = int(p.stdout.readline())
    p.send_signal(signal.SIGTERM)
    code = p.wait(timeout=60)
    err = p.stderr.read()
    assert code == 143, err
    assert marker.read_text() == "closed" and "terminated (SIGTERM)" in err
    deadline = time.time() + 10
    while _alive(engine_pid) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(engine_pid), "the engine process outlived prm"


def test_main_restores_the_previous_sigterm_handler(tmp_path, capsys):
    from prm.cli import main

    before = signal.getsignal(signal.SIGTERM)
    assert main(["check", str(tmp_path / "missing.jsonl")]) == 2      # ran the command (a user error)
    assert "missing.jsonl" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before
