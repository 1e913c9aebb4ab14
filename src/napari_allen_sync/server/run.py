"""Running the app: in the foreground (the ``serve`` command), in a background thread, or
as a child ``napari-allen-sync serve`` process (tests, benchmarks, screenshots)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time

__all__ = ["run_server", "serve_in_process", "serve_in_thread", "uvicorn_config"]


#: Seconds an idle kept-alive connection stays open after an answer (uvicorn's default).
KEEP_ALIVE_S = 5


def uvicorn_config(app, host: str = "127.0.0.1", port: int = 8765, *,
                   log_level: str = "info", header_timeout: float | None = None,
                   **kwargs):
    """The uvicorn configuration the server always runs with.

    HTTP/1.1 by :class:`~.protocol.HardenedH11Protocol` (a request head must arrive
    within ``header_timeout`` seconds, default :data:`~.protocol.HEADER_TIMEOUT_S`, and
    be at most :data:`~.protocol.MAX_HEAD_BYTES` bytes; what h11 refuses is answered
    with Allen's envelope), no WebSocket upgrade, no lifespan, idle connections closed
    after :data:`KEEP_ALIVE_S` seconds.
    ``kwargs`` override any other ``uvicorn.Config`` option.
    """
    import uvicorn

    from .protocol import HEADER_TIMEOUT_S, MAX_HEAD_BYTES, hardened_protocol

    if header_timeout is None:
        header_timeout = HEADER_TIMEOUT_S
    options = dict(log_level=log_level, lifespan="off", timeout_graceful_shutdown=5,
                   http=hardened_protocol(header_timeout), ws="none",
                   h11_max_incomplete_event_size=MAX_HEAD_BYTES,
                   timeout_keep_alive=KEEP_ALIVE_S)
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
        Other :func:`uvicorn_config` options (``header_timeout``, ``timeout_keep_alive``:
        30 s here, so that tests' kept-alive connections are not closed under them).

    Yields
    ------
    str
        ``"http://127.0.0.1:<port>"``.
    """
    import uvicorn

    sock = _loopback_socket(host, port)
    config = uvicorn_config(app, host, sock.getsockname()[1], log_level=log_level,
                            access_log=False, timeout_graceful_shutdown=2,
                            **{"timeout_keep_alive": 30, **config})
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


#: A cheap RMA query a started server answers (the readiness probe of a child server).
READY_PATH = "/api/v2/data/query.json?criteria=model::Atlas"


@contextlib.contextmanager
def serve_in_process(serve_args=("--demo",), *, timeout: float = 60.0, stderr=None,
                     env=None):
    """``napari-allen-sync serve`` in a child process on a free loopback port, until the
    block ends.

    Parameters
    ----------
    serve_args : sequence of str
        What to serve and how: ``("--demo",)``, ``("--catalog", DIR)``, extra options.
    timeout : float
        Seconds to wait for the server to answer :data:`READY_PATH`.
    stderr : int or file, optional
        The child's standard error (``subprocess.PIPE``: its end is put in the error when
        it exits before answering).
    env : dict, optional
        The child's environment.

    Yields
    ------
    (subprocess.Popen, str)
        The process and ``"http://127.0.0.1:<port>"``.

    Raises
    ------
    RuntimeError
        The server exited before answering.
    requests.ConnectionError
        It did not answer within ``timeout``.
    """
    import requests

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "napari_allen_sync.cli", "serve", *map(str, serve_args),
         "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=stderr, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                said = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
                raise RuntimeError(f"the server exited with status {proc.returncode}: {said}")
            try:
                requests.get(base + READY_PATH, timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.1)
        yield proc, base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
