"""Adversarial programs against the code sandbox: each must not pass, must leave the caller
unharmed, change no file outside its temp dir, and leave no process behind.

The programs attack for real (fork bombs, memory bombs, writes to the caller's directory, a TCP
connection to a server this test opens). Fork and memory bombs run only with full isolation
(throw-away uid + PID namespace), which is what bounds them on a shared machine.
"""

from __future__ import annotations

import os
import socket
import textwrap
import threading
import time
from pathlib import Path

import pytest

from verifiers.code import run_tests
from verifiers.code.isolation import UID_HIGH, UID_LOW

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="the sandbox needs Linux")

TESTS = ["assert f(1) == 2", "assert f(2) == 3"]
# true for a correct f, and true for any f when set/sorted/len are the program's constant functions
SHADOW_TESTS = ["assert set([f(1)]) == set([2])", "assert sorted([f(2), f(1)]) == sorted([2, 3])",
                "assert len([f(1)]) == len([2])"]


def _proc_table() -> dict[int, tuple[int, int, bool, bool]]:
    """pid -> (ppid, uid, is pid 1 of its own namespace, runs the sandbox server's code)."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_bytes()
            ppid = int(stat[stat.rfind(b")") + 2:].split()[1])
            uid = os.stat(f"/proc/{name}").st_uid
            nspid = next(line.split()[1:] for line in Path(f"/proc/{name}/status").read_text().splitlines()
                         if line.startswith("NSpid:"))
            sandbox = b"verifiers.code.server" in Path(f"/proc/{name}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError, StopIteration):
            continue
        out[int(name)] = (ppid, uid, len(nspid) > 1 and nspid[-1] == "1", sandbox)
    return out


def leftover_processes() -> list[int]:
    """Processes below our sandbox servers other than each server's namespace init (anything else
    there outlived its run), and processes re-parented to the system's init that run sandbox code
    or a throw-away uid (an escaped daemon). Other callers' sandboxes (tests running beside us)
    are neither."""
    table = _proc_table()
    me = os.getpid()
    servers = {pid for pid, (ppid, *_rest) in table.items() if ppid == me}
    below: set[int] = set()
    frontier = set(servers)
    while frontier:
        frontier = {pid for pid, (ppid, *_rest) in table.items() if ppid in frontier} - below
        below |= frontier
    left = []
    for pid, (ppid, uid, ns_init, sandbox) in table.items():
        if (pid in below and not ns_init) or (ppid == 1 and (sandbox or UID_LOW <= uid < UID_HIGH)):
            left.append(pid)
    return left


def wait_no_leftovers(timeout: float = 3.0) -> list[int]:
    end = time.monotonic() + timeout
    while True:
        left = leftover_processes()
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.05)


@pytest.fixture
def caller_dir(tmp_path):
    """A directory standing for the caller's working directory, writable by anyone, with a sentinel."""
    d = tmp_path / "caller"
    d.mkdir()
    os.chmod(tmp_path, 0o777)
    os.chmod(d, 0o777)
    (d / "sentinel.txt").write_text("precious")
    return d


def assert_contained(result, caller_dir: Path | None = None, extra_paths=()):
    assert not result.passed, result
    assert result.status != "passed"
    assert os.getpid() > 0  # still alive; the real check is that pytest keeps running
    if caller_dir is not None:
        assert (caller_dir / "sentinel.txt").read_text() == "precious"
        assert sorted(p.name for p in caller_dir.iterdir()) == ["sentinel.txt"]
    for p in extra_paths:
        assert not Path(p).exists(), f"{p} was created by the sandboxed program"
    assert wait_no_leftovers() == []
    # the sandbox still works afterwards
    ok = run_tests("def f(x):\n    return x + 1\n", TESTS, timeout=10)
    assert ok.passed, ok


def prog(body: str) -> str:
    return textwrap.dedent(body)


# ----------------------------------------------------------------------------- resources
def test_infinite_loop_times_out():
    t0 = time.monotonic()
    r = run_tests(prog("""
        def f(x):
            while True:
                pass
    """), TESTS, timeout=1.0)
    assert r.status == "timeout"
    assert time.monotonic() - t0 < 6
    assert_contained(r)


def test_infinite_loop_at_load_and_in_threads_times_out():
    r = run_tests(prog("""
        import threading
        def spin():
            while True:
                pass
        for _ in range(4):
            threading.Thread(target=spin, daemon=False).start()
        while True:
            pass
    """), TESTS, timeout=1.0)
    assert r.status == "timeout"
    assert_contained(r)


def test_fork_bomb_is_contained():
    r = run_tests(prog("""
        import os
        def f(x):
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        f(0)
    """), TESTS, timeout=2.0)
    assert r.status in ("timeout", "crashed"), r
    assert "uid" in r.isolation and "pidns" in r.isolation
    assert_contained(r)


def test_memory_bomb_hits_the_limit():
    r = run_tests(prog("""
        def f(x):
            hog = []
            while True:
                hog.append(bytearray(50 * 1024 * 1024))
    """), TESTS, timeout=10.0, memory_mb=256)
    assert r.status == "memory", r
    assert_contained(r)


def test_one_huge_allocation_hits_the_limit():
    r = run_tests("x = bytearray(8 * 1024 ** 3)\ndef f(x):\n    return x + 1\n", TESTS, memory_mb=256)
    assert r.status == "memory", r
    assert_contained(r)


def test_100mb_of_output_is_cut_off():
    t0 = time.monotonic()
    r = run_tests(prog("""
        import sys
        chunk = "x" * (1 << 20)
        for _ in range(100):
            sys.stdout.write(chunk)
        sys.stdout.flush()
        def f(x):
            return x + 1
    """), TESTS, timeout=20.0, output_limit=4 << 20)
    assert r.status == "crashed" and "output limit" in r.reason, r
    assert len(r.stdout) < 64 * 1024  # the result keeps only the head
    assert time.monotonic() - t0 < 15
    assert_contained(r)


def test_deep_recursion_fails():
    r = run_tests(prog("""
        def f(x):
            return f(x + 1)
    """), TESTS)
    assert r.status == "failed" and "RecursionError" in (r.tests[0].error or "")
    assert_contained(r)


def test_unbounded_recursion_with_raised_limit_crashes():
    r = run_tests(prog("""
        import sys
        sys.setrecursionlimit(10 ** 8)
        def f(x):
            return f(x + 1) + 1
    """), ["assert f(1) == 2"], timeout=20, memory_mb=160)
    # Python 3.11 keeps Python frames off the C stack: this ends when memory runs out
    assert r.status in ("crashed", "memory", "failed", "timeout"), r
    assert_contained(r)


# ----------------------------------------------------------------------------- files, env, network, processes
def test_writes_and_deletes_in_caller_dir_home_and_tmp_fail(caller_dir):
    marker = f"prm-escape-{os.getpid()}-{time.monotonic_ns()}"
    home = Path.home() / marker
    tmp = Path("/tmp") / marker
    vartmp = Path("/var/tmp") / marker
    r = run_tests(prog(f"""
        import os, shutil
        wrote = 0
        for path in [{str(caller_dir / 'evil.txt')!r}, {str(home)!r}, {str(tmp)!r}, {str(vartmp)!r},
                     os.path.expanduser("~/evil.txt")]:
            try:
                with open(path, "w") as fh:
                    fh.write("pwned")
                wrote += 1
            except OSError:
                pass
        for victim in [{str(caller_dir / 'sentinel.txt')!r}]:
            try:
                os.remove(victim)
            except OSError:
                pass
            try:
                shutil.rmtree({str(caller_dir)!r})
            except OSError:
                pass
        def f(x):
            # passes only if every write outside the sandbox's own dir worked
            return x + 1 if wrote == 5 and not os.path.exists({str(caller_dir / 'sentinel.txt')!r}) else None
    """), TESTS)
    assert_contained(r, caller_dir, extra_paths=[home, tmp, vartmp])


def test_files_written_in_own_temp_dir_vanish():
    r = run_tests(prog("""
        import os
        with open("scratch.txt", "w") as fh:
            fh.write("data")
        CWD = os.getcwd()
        def f(x):
            return x + 1
    """), TESTS)
    assert r.passed, r
    # the work dir is private to the run (a tmpfs in its own mount namespace, or a temp dir
    # removed afterwards): nothing named like it is left in the host's /tmp
    assert not list(Path("/tmp").glob("run/scratch.txt"))


def test_caller_environment_is_not_visible(monkeypatch):
    monkeypatch.setenv("PRM_TEST_SECRET", "hunter2")
    r = run_tests(prog(f"""
        import os
        found = os.environ.get("PRM_TEST_SECRET")
        for pid in [os.getppid(), {os.getpid()}, 1]:
            try:
                with open(f"/proc/{{pid}}/environ", "rb") as fh:
                    if b"hunter2" in fh.read():
                        found = "hunter2"
            except OSError:
                pass
        def f(x):
            return x + 1 if found == "hunter2" else None
    """), TESTS)
    assert_contained(r)
    assert "PRM_TEST_SECRET" not in r.stdout


def test_environment_is_scrubbed():
    r = run_tests("import os\nENV = dict(os.environ)\ndef f(x):\n    return x + 1\n",
                  ["assert f(1) == 2", "assert sorted(ENV) == sorted(['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', "
                   "'PYTHONIOENCODING', 'PYTHONDONTWRITEBYTECODE']), sorted(ENV)"])
    assert r.passed, r


def test_tcp_connection_to_caller_loopback_fails():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    try:
        r = run_tests(prog(f"""
            import socket
            def f(x):
                s = socket.create_connection(("127.0.0.1", {port}), timeout=2)
                s.sendall(b"exfiltrated")
                return x + 1
        """), TESTS, timeout=10)
        assert r.status == "failed"
        assert any("Error" in (t.error or "") for t in r.tests)
        with pytest.raises(socket.timeout):
            server.accept()
        assert "netns" in r.isolation
        assert_contained(r)
    finally:
        server.close()


def test_daemon_that_outlives_the_run_is_killed(tmp_path):
    r = run_tests(prog("""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                while True:
                    time.sleep(0.05)
            os._exit(0)
        def f(x):
            return None
    """), TESTS, timeout=5)
    assert r.status == "failed"
    assert_contained(r)


def test_killing_the_parent_and_the_caller_does_nothing():
    r = run_tests(prog(f"""
        import os, signal
        for pid in [os.getppid(), {os.getpid()}, 1, -1]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        def f(x):
            return None
    """), TESTS)
    assert_contained(r)


# ----------------------------------------------------------------------------- fooling the verdict
EXIT_PROGRAMS = {
    "sys.exit at load": "import sys\ndef f(x):\n    return x + 1\nsys.exit(0)\n",
    "os._exit at load": "import os\ndef f(x):\n    return x + 1\nos._exit(0)\n",
    "sys.exit in f": "import sys\ndef f(x):\n    sys.exit(0)\n",
    "os._exit in f": "import os\ndef f(x):\n    os._exit(0)\n",
    "raise SystemExit in f": "def f(x):\n    raise SystemExit(0)\n",
    "raise KeyboardInterrupt in f": "def f(x):\n    raise KeyboardInterrupt\n",
    "os._exit after the first test": "import os\nn = 0\ndef f(x):\n    global n\n    n += 1\n"
                                     "    if n == 2:\n        os._exit(0)\n    return x + 1\n",
    "kill itself": "import os, signal\ndef f(x):\n    os.kill(os.getpid(), signal.SIGKILL)\n",
}


@pytest.mark.parametrize("name", list(EXIT_PROGRAMS))
def test_exiting_early_is_not_a_pass(name):
    r = run_tests(EXIT_PROGRAMS[name], TESTS)
    assert r.status in ("crashed", "failed"), r
    assert_contained(r)


HUMANEVAL_TEST = ("def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(2) == 3\n"
                  "    assert set([candidate(1)]) == set([2])\n    assert len(sorted([candidate(1)])) == 1\n")

# a trace hook that rewrites the harness's `record(k, exc)` call into a pass (works on a naive harness)
TRACER = ("import sys\ndef tracer(frame, event, arg):\n    if event == 'call' and 'record' in frame.f_code.co_name:\n"
          "        frame.f_locals['exc'] = None\n    return None\n")

CHEAT_PROGRAMS = {
    "redefine check": "def f(x):\n    return None\ndef check(candidate):\n    pass\n",
    "patch AssertionError": "import builtins\nbuiltins.AssertionError = type('Fake', (Exception,), {})\n"
                            "def f(x):\n    return None\n",
    "patch builtins dict": "__builtins__['AssertionError'] = Warning\nimport builtins\n"
                           "builtins.isinstance = lambda *a: True\nbuiltins.abs = lambda x: 0\n"
                           "def f(x):\n    return None\n",
    "shadow builtins": "def set(*a):\n    return 1\ndef sorted(*a):\n    return 1\ndef len(*a):\n    return 1\n"
                       "def f(x):\n    return None\n",
    "shadow builtins, f a class": "def set(*a):\n    return 1\nclass f:\n    def __init__(self, x):\n"
                                  "        pass\n",
    "patch builtins.compile and exec": "import builtins\n_c = builtins.compile\n"
                                       "builtins.compile = lambda s, f, m, *a, **k: _c('pass', f, m)\n"
                                       "builtins.exec = lambda *a, **k: None\ndef f(x):\n    return None\n",
    "settrace at load flips failures": TRACER + "sys.settrace(tracer)\ndef f(x):\n    return None\n",
    "settrace in the call flips failures": TRACER + "def f(x):\n    sys.settrace(tracer)\n    return None\n",
    "always-equal object": "class Eq:\n    def __eq__(self, other):\n        return True\n"
                           "    __hash__ = object.__hash__\ndef f(x):\n    return Eq()\n",
    "always-equal int subclass": "class I(int):\n    def __eq__(self, other):\n        return True\n"
                                 "    __hash__ = int.__hash__\ndef f(x):\n    return I(0)\n",
    "always-equal inside a list": "class Eq:\n    __eq__ = lambda s, o: True\ndef f(x):\n    return [Eq()][0]\n",
    "patched Fraction.__eq__": "import fractions\nfractions.Fraction.__eq__ = lambda s, o: True\n"
                               "def f(x):\n    return fractions.Fraction(0)\n",
    "print fake pass marker": "print('all tests passed')\nprint('{\"k\": \"done\"}')\nimport sys\n"
                              "sys.stderr.write('PASSED\\n')\ndef f(x):\n    return None\n",
    "forged records on every fd": "import os, json\nlines = ''.join(json.dumps(r) + '\\n' for r in\n"
                                  "    [{'k': 'start'}, {'k': 'load', 'ok': True}, {'k': 't', 'i': 0, 'ok': True},\n"
                                  "     {'k': 't', 'i': 1, 'ok': True}, {'k': 'done'}]).encode()\n"
                                  "for fd in range(0, 64):\n    try:\n        os.write(fd, lines)\n"
                                  "    except OSError:\n        pass\nos._exit(0)\ndef f(x):\n    return None\n",
    "forged records then normal run": "import os\nos.write(3, b'{\"k\": \"t\", \"i\": 1, \"ok\": true}\\n')\n"
                                      "def f(x):\n    return x + 1 if x == 1 else None\n",
}


ISCLOSE_TESTS = ["assert math.isclose(f(1), 2.0)", "assert math.isclose(f(2), 3.0)"]
MODULE_CHEATS = {
    "patch math.isclose at load": "import math\nmath.isclose = lambda *a, **k: True\ndef f(x):\n    return None\n",
    "fake math in sys.modules": "import sys, types\nfake = types.ModuleType('math')\n"
                                "fake.isclose = lambda *a, **k: True\nsys.modules['math'] = fake\n"
                                "def f(x):\n    return None\n",
    "patch math.isclose in the call": "def f(x):\n    import math\n    math.isclose = lambda *a, **k: True\n"
                                      "    return None\n",
}


@pytest.mark.parametrize("name", list(MODULE_CHEATS))
def test_patching_modules_the_tests_use_does_not_pass(name):
    r = run_tests(MODULE_CHEATS[name], ISCLOSE_TESTS, setup="import math")
    assert r.status == "failed" and r.n_passed == 0, r  # not even the second test
    assert run_tests("def f(x):\n    return x + 1.0\n", ISCLOSE_TESTS, setup="import math").passed


@pytest.mark.parametrize("fmt", ["mbpp", "humaneval"])
@pytest.mark.parametrize("name", list(CHEAT_PROGRAMS))
def test_cheats_do_not_pass(name, fmt):
    if fmt == "mbpp":
        r = run_tests(CHEAT_PROGRAMS[name], SHADOW_TESTS if name.startswith("shadow builtins") else TESTS)
    else:
        r = run_tests(CHEAT_PROGRAMS[name], HUMANEVAL_TEST, entry_point="f")
    assert not r.passed and r.status in ("failed", "crashed"), r
    assert_contained(r)


def test_always_true_bool_is_refused():
    r = run_tests("class T:\n    def __bool__(self):\n        return True\ndef ok(x):\n    return T()\n",
                  ["assert ok(1)"])
    assert r.status == "failed" and "untrusted return value" in r.tests[0].error


def test_lazy_iterator_yielding_cheats_is_refused():
    r = run_tests("class Eq:\n    __eq__ = lambda s, o: True\ndef f(x):\n    return (Eq() for _ in range(2))\n",
                  ["assert list(f(1)) == [2, 3]"])
    assert r.status == "failed" and "untrusted" in r.tests[0].error


# ----------------------------------------------------------------------------- threads and pytest
def test_works_from_worker_threads():
    out = {}

    def work(i):
        out[i] = run_tests(f"def f(x):\n    return x + {1 if i % 2 == 0 else 2}\n", TESTS)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [out[i].passed for i in range(6)] == [i % 2 == 0 for i in range(6)]


@pytest.mark.parametrize("namespaces,uid", [(True, True), (True, False), (False, True), (False, False)])
def test_standard_library_imports_work_in_every_tier(namespaces, uid):
    # cmath is not pre-imported by the server: the run must reach Python's own files
    r = run_tests("import cmath, zoneinfo\ndef f(x):\n    return x + 1\n", TESTS, namespaces=namespaces,
                  throwaway_uid=uid)
    assert r.passed, r


def test_less_isolation_is_reported_honestly():
    r = run_tests("def f(x):\n    return x + 1\n", TESTS, namespaces=False, throwaway_uid=False)
    assert r.passed and r.isolation == "rlimits"
    r = run_tests("def f(x):\n    return x + 1\n", TESTS, throwaway_uid=False)
    assert r.passed and "uid" not in r.isolation


def test_no_namespace_tier_still_kills_daemons_and_times_out():
    r = run_tests(prog("""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                while True:
                    time.sleep(0.05)
            os._exit(0)
        def f(x):
            while True:
                pass
    """), TESTS, timeout=1.0, namespaces=False, throwaway_uid=False)
    assert r.status == "timeout" and r.isolation == "rlimits"
    assert wait_no_leftovers() == []


def test_server_killed_mid_run_gives_sandbox_error_and_recovers():
    """If a sandbox server dies (OOM killer, a stray kill), the run in flight is reported as
    sandbox_error, its processes die with the server's namespace, and the next call starts anew."""
    import signal

    out = {}
    worker = threading.Thread(target=lambda: out.setdefault("r", run_tests(
        "import time\ndef f(x):\n    time.sleep(60)\n", TESTS, timeout=90)))
    worker.start()
    time.sleep(1.5)  # the run is sleeping inside the sandbox now
    table = _proc_table()
    servers = [pid for pid, (ppid, _uid, _init, sandbox) in table.items() if ppid == os.getpid() and sandbox]
    assert servers
    for pid in servers:
        os.kill(pid, signal.SIGKILL)
    worker.join(60)
    assert out["r"].status == "sandbox_error" and not out["r"].passed
    assert wait_no_leftovers() == []
    assert run_tests("def f(x):\n    return x + 1\n", TESTS).passed


def test_stdio_program_killing_its_harness_does_not_pass():
    r = run_tests("import os, signal\nprint(3)\nos.kill(os.getppid(), signal.SIGKILL)\n",
                  [{"input": "", "output": "3\n"}])
    assert not r.passed and r.status == "crashed", r
    assert_contained(r)


def test_idle_servers_killed_from_outside_are_replaced():
    import signal

    run_many_jobs = [dict(program="def f(x):\n    return x + 1\n", tests=TESTS)] * 4
    from verifiers.code import run_many

    assert all(r.passed for r in run_many(run_many_jobs, workers=2, progress=False))  # >= 2 idle servers
    for pid, (ppid, _uid, _init, sandbox) in _proc_table().items():
        if ppid == os.getpid() and sandbox:
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    assert all(r.passed for r in run_many(run_many_jobs, workers=2, progress=False))
