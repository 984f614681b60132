"""Running the app under uvicorn: bind first (a clear error before any model loads), then serve.

    sock = bind("127.0.0.1", 8000)                   # UserError if the address is taken
    serve(app, sock)                                 # blocks; SIGTERM / Ctrl-C stop it gracefully
    with ServerThread(app) as url: ...               # tests and benchmarks: a free loopback port

`serve` hands uvicorn the already-bound socket, so the port check and the listening socket are the
same thing (no window where another process takes the port). uvicorn's own SIGTERM handling does
the graceful part: stop accepting, wait up to `graceful_s` for in-flight requests, run the app's
lifespan exit (which drains the batcher). `ServerThread` runs the same server on a thread, where
uvicorn installs no signal handlers; `stop()` asks it to exit the same graceful way.

Both run uvicorn's own HTTP protocol wrapped by `guarded`: a deadline on each request head and a
cap on open connections (the app's `ServeConfig`), the limits uvicorn lacks against slow or silent
clients.
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
    from uvicorn.protocols.http.auto import AutoHTTPProtocol   # httptools if installed, else h11

    from prm.serve.config import ServeConfig

    cfg = getattr(getattr(app, "state", None), "cfg", None) or ServeConfig()   # create_app keeps its config there
    return uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=graceful_s, lifespan="on",
                          access_log=False, http=guarded(AutoHTTPProtocol, cfg.header_timeout_s, cfg.max_connections))


# what a client that has not sent a whole request head in time gets before its connection closes
_HEAD_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                 b"content-length: %d\r\n\r\n%s")


def guarded(base: type, header_timeout_s: float, max_connections: int) -> type:
    """uvicorn's HTTP protocol `base` with the two limits uvicorn lacks (issue 27, fault 4).

    - A request head (request line and headers) must arrive within `header_timeout_s` of the
      connection opening or of the previous response: uvicorn arms no timer until a request has been
      answered, so a client that trickles its headers a byte a minute (slowloris) held its socket
      forever. It gets a 408 and the connection closes. The body's own deadline is the app's
      (`ServeConfig.body_timeout_s`), which can answer with a JSON error naming it.
    - At most `max_connections` open connections: past it, the oldest idle one (no request being
      answered: it sent nothing, or is still trickling a head) is closed, so a thousand silent
      connections cannot crowd out the clients that send requests. uvicorn's `limit_concurrency`
      would do the reverse: answer 503 to the well-formed requests while the idle ones stay.
    Works for both of uvicorn's protocols: it only uses what they share (`connection_made`,
    `on_response_complete`, `connection_lost`, `cycle`, `connections`, `loop`, `transport`)."""

    class Guarded(base):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._opened, self._head_timer = self.loop.time(), None
            self._arm()
            if len(self.connections) > max_connections:
                _close_oldest_idle(self.connections)

        def _busy(self) -> bool:
            """A request is being answered (its head arrived; its body and response are the app's)."""
            return self.cycle is not None and not self.cycle.response_complete

        def _arm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
            self._head_timer = self.loop.call_later(header_timeout_s, self._head_timeout)

        def _head_timeout(self) -> None:
            self._head_timer = None
            if self._busy() or self.transport.is_closing():
                return                # the head came in time; on_response_complete re-arms for the next
            body = (b'{"error": {"status": 408, "field": null, "message": "request head not received within %g s"}}'
                    % header_timeout_s)
            self.transport.write(_HEAD_TIMEOUT % (len(body), body))
            self.transport.close()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()           # the next request's head gets its own deadline

        def connection_lost(self, exc) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
            super().connection_lost(exc)

    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{base.__name__}"
    return Guarded


def _close_oldest_idle(connections) -> None:
    idle = [c for c in connections if not getattr(c, "_busy", lambda: True)() and not c.transport.is_closing()]
    if idle:
        min(idle, key=lambda c: c._opened).transport.close()


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
