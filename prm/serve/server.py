"""Running the app under uvicorn: bind first (a clear error before any model loads), then serve.

    sock = bind("127.0.0.1", 8000)                   # UserError if the address is taken
    serve(app, sock)                                 # blocks; SIGTERM / Ctrl-C stop it gracefully
    with ServerThread(app) as url: ...               # tests and benchmarks: a free loopback port

`serve` hands uvicorn the already-bound socket, so the port check and the listening socket are the
same thing (no window where another process takes the port). uvicorn's own SIGTERM handling does
the graceful part: stop accepting, wait up to `graceful_s` for in-flight requests, run the app's
lifespan exit (which drains the batcher). `ServerThread` runs the same server on a thread, where
uvicorn installs no signal handlers; `stop()` asks it to exit the same graceful way.
"""

from __future__ import annotations

import socket
import threading
import time

from prm.errors import UserError


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as err:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {err.strerror or err} (another server on that port? "
                        f"choose another --port)") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _config(app, graceful_s: float, log_level: str):
    import uvicorn

    return uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=graceful_s, lifespan="on",
                          access_log=False)


def serve(app, sock: socket.socket, *, graceful_s: float = 30.0, log_level: str = "info") -> int | None:
    """Serve until SIGTERM / SIGINT; returns the signal that stopped it (None: stopped otherwise).

    uvicorn handles the signal gracefully, then restores the previous handler and raises the signal
    again; the handler installed here only records it, so the caller's clean-up (closing the scorer
    and a vLLM engine's processes) still runs and the process exits 0."""
    import signal

    import uvicorn

    got: list[int] = []
    main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, lambda signum, frame: got.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)} if main else {}
    try:
        uvicorn.Server(_config(app, graceful_s, log_level)).run(sockets=[sock])
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return got[0] if got else None


class ServerThread:
    """The app served on a loopback port from a daemon thread; `url` once started."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, *, graceful_s: float = 10.0,
                 log_level: str = "warning"):
        import uvicorn

        self.sock = bind(host, port)
        self.url = f"http://{host}:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(_config(app, graceful_s, log_level))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self, timeout: float = 30.0) -> str:
        self.thread.start()
        t0 = time.monotonic()
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() - t0 > timeout:
                raise RuntimeError("the server thread did not start")
            time.sleep(0.01)
        return self.url

    def stop(self, timeout: float = 30.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
