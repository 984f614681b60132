"""The sympy worker process behind `timeout.run_bounded` (not imported by anything else).

Protocol: one JSON object per line on stdin `{"op": name, "args": [...], "soft": seconds}`, one
reply per line on stdout: `{"ok": result}`, `{"timeout": true}` or `{"error": "..."}`. It writes
`ready` once its imports are done and exits when stdin closes (its parent is gone).
"""

import json
import signal
import sys


class SoftTimeout(BaseException):
    # BaseException, so that sympy's many `except Exception:` blocks do not swallow it.
    pass


def _alarm(signum, frame):
    raise SoftTimeout()


def main() -> None:
    try:
        import resource

        limit = int(sys.argv[1]) if len(sys.argv) > 1 else 0
        if limit > 0:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass
    sys.setrecursionlimit(5000)
    from verifiers.math.symbolic import OPS

    try:  # the second opinion's library, imported and its parser built before `ready`, so that no
        # request pays for that (its first parse takes most of a second)
        from verifiers.math.second_opinion import equal

        equal("1", "1")
    except Exception:  # not installed, or broken: the second opinion then answers None
        pass

    out = sys.stdout
    out.write("ready\n")
    out.flush()
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the caller, who kills us
    for line in sys.stdin:
        try:
            msg = json.loads(line)
            fn = OPS[msg["op"]]
            signal.setitimer(signal.ITIMER_REAL, max(float(msg.get("soft", 1.0)), 0.01))
            try:
                result = fn(*msg["args"])
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            reply = {"ok": result}
        except SoftTimeout:
            reply = {"timeout": True}
        except MemoryError:
            reply = {"error": "out of memory"}
        except RecursionError:
            reply = {"error": "too deeply nested"}
        except Exception as err:  # model output must never crash the worker
            reply = {"error": f"{type(err).__name__}"}
        try:
            text = json.dumps(reply)
        except (TypeError, ValueError):
            text = json.dumps({"error": "unserializable result"})
        out.write(text + "\n")
        out.flush()


if __name__ == "__main__":
    main()
