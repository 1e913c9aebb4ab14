"""The test harness of the server: fault injection and a resetting proxy.

Not part of the shipped package: :class:`FaultApp` wraps the production app
(:func:`napari_allen_sync.server.create_app`) and injects failures planned in a
:class:`Faults` (HTTP 500/503 bursts, stalls, trickles, truncated bodies, malformed JSON,
``success: false``, truncated JPEGs, added latency); :class:`ResetProxy` resets TCP
connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
from collections import deque
from dataclasses import dataclass

__all__ = ["FAULT_KINDS", "FaultApp", "Faults", "ResetProxy", "with_faults"]


def with_faults(app, faults: Faults | None = None) -> FaultApp:
    """``app`` with fault injection (a new, empty :class:`Faults` by default)."""
    return FaultApp(app, Faults() if faults is None else faults)


# ---------------------------------------------------------------------- fault injection
@dataclass
class _Fault:
    kind: str
    count: int
    path_contains: str | None
    seconds: float


FAULT_KINDS = ("500", "503", "stall", "trickle", "truncate", "malformed", "failure",
               "truncated_jpeg")


class Faults:
    """A plan of failures the server injects, for tests (thread-safe).

    Kinds: ``"500"``, ``"503"`` (an error envelope with that status), ``"stall"`` (no
    answer for ``seconds``, then the real one), ``"trickle"`` (headers, then one byte
    every ``seconds``), ``"truncate"`` (a Content-Length longer than the body, then the
    connection closes), ``"malformed"`` (200 with broken JSON), ``"failure"`` (200 with
    ``{"success": false}``), ``"truncated_jpeg"`` (the first half of the real JPEG, with
    a matching Content-Length). ``latency`` delays every request.

    Examples
    --------
    >>> faults = Faults()
    >>> faults.add("503", count=2, path_contains="image_to_image")
    >>> faults.pending()
    2
    """

    def __init__(self, latency: float = 0.0):
        self.latency = float(latency)
        self._plan: deque[_Fault] = deque()
        self._lock = threading.Lock()
        #: Every fault injected so far, by kind.
        self.injected: dict[str, int] = {}
        #: Requests seen (faulty or not).
        self.requests = 0

    def add(self, kind: str, count: int = 1, *, path_contains: str | None = None,
            seconds: float = 1.0) -> None:
        """Inject ``kind`` into the next ``count`` requests whose path contains
        ``path_contains`` (any path if None)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULT_KINDS}")
        with self._lock:
            self._plan.append(_Fault(kind, int(count), path_contains, float(seconds)))

    def clear(self) -> None:
        """Drop every planned fault."""
        with self._lock:
            self._plan.clear()

    def pending(self) -> int:
        """Faults still to inject."""
        with self._lock:
            return sum(f.count for f in self._plan)

    def take(self, path: str) -> _Fault | None:
        with self._lock:
            self.requests += 1
            for fault in self._plan:
                if fault.path_contains is None or fault.path_contains in path:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._plan.remove(fault)
                    self.injected[fault.kind] = self.injected.get(fault.kind, 0) + 1
                    return fault
        return None


class FaultApp:
    """``app`` wrapped by the injection of ``faults`` (an ASGI application).

    ``state`` is the wrapped app's (``state.service``), ``faults`` the plan.
    """

    def __init__(self, app, faults: Faults):
        self.app = app
        self.faults = faults
        self.state = app.state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.faults.latency > 0:
            await asyncio.sleep(self.faults.latency)
        fault = self.faults.take(scope["path"])
        if fault is None:
            return await self.app(scope, receive, send)
        kind = fault.kind
        if kind in ("500", "503"):
            body = json.dumps({"success": False, "msg": f"injected HTTP {kind}"}).encode()
            return await _send(send, int(kind), body, "application/json")
        if kind == "malformed":
            return await _send(send, 200, b'{"success": true, "msg": [{"image_sync": {"x": 1.',
                               "application/json")
        if kind == "failure":
            body = json.dumps({"success": False, "msg": "injected failure: try again later"})
            return await _send(send, 200, body.encode(), "application/json")
        if kind == "stall":
            await asyncio.sleep(fault.seconds)
            return await self.app(scope, receive, send)
        status, headers, body = await _capture(self.app, scope, receive)
        if kind == "truncated_jpeg":
            return await _send(send, status, body[: len(body) // 2], "image/jpeg")
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if kind == "truncate":
            await send({"type": "http.response.body", "body": body[: len(body) // 2],
                        "more_body": True})
            raise _InjectedReset("injected truncation")  # the server closes the connection
        if kind == "trickle":
            for k in range(len(body)):
                await send({"type": "http.response.body", "body": body[k:k + 1],
                            "more_body": k + 1 < len(body)})
                await asyncio.sleep(fault.seconds)
            return None
        raise AssertionError(kind)


class _InjectedReset(Exception):
    """Raised inside the server to drop a connection mid-answer."""


async def _send(send, status, body: bytes, media_type):
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", media_type.encode()),
                    (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})


async def _capture(app, scope, receive):
    parts = []
    start = {}

    async def capture_send(message):
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    await app(scope, receive, capture_send)
    return start.get("status", 500), list(start.get("headers", [])), b"".join(parts)


class ResetProxy:
    """A loopback TCP proxy that can reset connections (for tests).

    Forwards every connection to ``upstream`` (host, port), except that the next
    :meth:`reset_next` connections are read up to the end of the request headers and then
    closed with a TCP reset (``SO_LINGER`` 0), before any answer.

    Use as a context manager; :attr:`base_url` is the proxy's address.
    """

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self._resets = 0
        self.reset_count = 0
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True, name="reset-proxy")

    def reset_next(self, n: int = 1) -> None:
        """Reset the next ``n`` connections."""
        with self._lock:
            self._resets += int(n)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                reset = self._resets > 0
                if reset:
                    self._resets -= 1
                    self.reset_count += 1
            threading.Thread(target=self._handle, args=(conn, reset), daemon=True).start()

    def _handle(self, conn, reset):
        conn.settimeout(10)
        if reset:
            with contextlib.suppress(OSError):
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            return
        try:
            up = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            conn.close()
            return
        for sock in (conn, up):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def pump(a, b):
            with contextlib.suppress(OSError):
                while True:
                    chunk = a.recv(65536)
                    if not chunk:
                        break
                    b.sendall(chunk)
            with contextlib.suppress(OSError):
                b.shutdown(socket.SHUT_WR)

        t = threading.Thread(target=pump, args=(up, conn), daemon=True)
        t.start()
        pump(conn, up)
        t.join(timeout=30)
        conn.close()
        up.close()
