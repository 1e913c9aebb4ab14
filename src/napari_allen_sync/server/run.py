"""Running the app: in the foreground (the ``serve`` command) or in a background thread
(tests, benchmarks)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

__all__ = ["run_server", "serve_in_thread", "uvicorn_config"]


def uvicorn_config(app, host: str = "127.0.0.1", port: int = 8765, *,
                   log_level: str = "info", **kwargs):
    """The uvicorn configuration the server always runs with."""
    import uvicorn

    options = dict(log_level=log_level, lifespan="off", timeout_graceful_shutdown=5)
    options.update(kwargs)
    return uvicorn.Config(app, host=host, port=port, **options)


def _loopback_socket(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP: asyncio then sets TCP_NODELAY on accepted connections (without
    # it every answer waits ~40 ms for a delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


@contextlib.contextmanager
def serve_in_thread(app, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "critical",
                    **config):
    """Run an ASGI app with uvicorn in a background thread; yields its base URL.

    Parameters
    ----------
    app : ASGI application
    host : str
        Loopback by default.
    port : int
        0 picks a free port.
    log_level : str
        uvicorn's log level.
    **config
        Other :func:`uvicorn_config` options (``header_timeout``, ...).

    Yields
    ------
    str
        ``"http://127.0.0.1:<port>"``.
    """
    import uvicorn

    sock = _loopback_socket(host, port)
    config = uvicorn_config(app, host, sock.getsockname()[1], log_level=log_level,
                            access_log=False, timeout_graceful_shutdown=2, **config)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name="allen-sync-server")
    thread.start()
    end = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > end:
            sock.close()
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def run_server(app, host: str = "127.0.0.1", port: int = 8765, *, log_level: str = "info") -> None:
    """Serve an app in the foreground until interrupted (the ``serve`` command)."""
    import uvicorn

    uvicorn.Server(uvicorn_config(app, host, port, log_level=log_level)).run()
