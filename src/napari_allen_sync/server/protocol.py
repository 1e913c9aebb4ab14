"""uvicorn's h11 protocol with a request-head deadline and JSON refusals.

uvicorn closes a keep-alive connection that stays silent for ``timeout_keep_alive``
seconds, but every byte received resets that timer and nothing bounds the time a client
takes to send its request: a client trickling one byte every few seconds holds a
connection forever (Slowloris), and a connection that never sends a byte is never
closed. :class:`HardenedH11Protocol` adds the rule hyper (Rust) calls
``header_read_timeout``: the whole request head (request line and headers) must arrive
within :data:`HEADER_TIMEOUT_S` of the connection being opened or, on a kept-alive
connection, of the first byte of the next request (including a body still arriving after
an answer). Otherwise the connection is closed: with an HTTP 408 envelope if part of a
request had arrived, silently if nothing had (an idle connection may always be closed).

A connection that starts a request with the HTTP/2 preface (:data:`HTTP2_PREFACE`, an
HTTP/2 client with prior knowledge) gets one refusal, 505 "HTTP/2 is not supported; use
HTTP/1.1", and is closed (h11 alone would answer its two lines with a 404 and a 400).

It also answers what h11 cannot parse (a malformed request line or header, a head
longer than :data:`MAX_HEAD_BYTES`) with Allen's envelope ``{"success": false, "msg":
...}`` and h11's own status (400, or 431 for a head too large) instead of uvicorn's
plain-text 400.
"""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .params import MAX_HEAD_BYTES

__all__ = ["HEADER_TIMEOUT_S", "HTTP2_PREFACE", "MAX_HEAD_BYTES", "HardenedH11Protocol",
           "hardened_protocol"]

#: Seconds a client has to send a whole request head (see the module's text).
HEADER_TIMEOUT_S = 10.0
#: Seconds a refused connection is kept half-closed, its input discarded, before it is
#: closed (a "lingering close": closing with unread input would reset the connection and
#: could destroy the refusal before the client reads it).
LINGER_S = 2.0

_REASONS = {400: b"Bad Request", 408: b"Request Timeout",
            431: b"Request Header Fields Too Large", 505: b"HTTP Version Not Supported"}
#: How an HTTP/2 connection with prior knowledge starts (RFC 9113 §3.4): h11 would read
#: its first line as a request ``PRI *`` and its ``SM`` line as a malformed one.
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_HTTP2_START = b"PRI * HTTP/2"


class _RecordingConnection(h11.Connection):
    """An h11 connection that remembers why it refused the peer's data."""

    last_error: h11.RemoteProtocolError | None = None

    def next_event(self):
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.last_error = exc
            raise


class HardenedH11Protocol(H11Protocol):
    """uvicorn's :class:`~uvicorn.protocols.http.h11_impl.H11Protocol` with a
    request-head deadline and JSON refusals (see the module's text)."""

    header_timeout: float = HEADER_TIMEOUT_S

    def __init__(self, config, server_state, app_state, _loop=None):
        super().__init__(config, server_state, app_state, _loop)
        self.conn = _RecordingConnection(h11.SERVER, config.h11_max_incomplete_event_size
                                         or MAX_HEAD_BYTES)
        self._head_timer = None
        self._refused = False

    # -------------------------------------------------------------- the deadline
    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_expired)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _answering(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after a refusal: input is discarded
        if not self._answering():
            self._arm()  # the first byte of a request (no-op if already running)
            if self.conn.their_state is h11.IDLE and \
                    (self.conn.trailing_data[0] + data).startswith(_HTTP2_START):
                self._send_refusal(505, "HTTP/2 is not supported; use HTTP/1.1")
                return
        cycle = self.cycle
        super().data_received(data)
        if self.cycle is not cycle:
            self._disarm()  # a whole request head arrived

    def on_response_complete(self) -> None:
        cycle = self.cycle
        super().on_response_complete()
        if (self.cycle is cycle and not self.transport.is_closing()
                and self.conn.trailing_data[0]):
            self._arm()  # part of the next (pipelined) request is waiting

    def _head_expired(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self._answering():
            return
        if self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]:
            # part of a request head is waiting in h11's buffer
            self._send_refusal(408, f"request head (request line and headers) not received "
                                    f"within {self.header_timeout:g} s")
        else:
            self.transport.close()

    # -------------------------------------------------------------- refusals
    def send_400_response(self, msg: str) -> None:
        """What h11 refused, as Allen's envelope (400, or 431 for a head too large)."""
        exc = self.conn.last_error
        status = getattr(exc, "error_status_hint", 400) if exc is not None else 400
        if status not in _REASONS:
            status = 400
        if status == 431:
            text = (f"request head (request line and headers) longer than "
                    f"{self.conn._max_incomplete_event_size} bytes")
        else:
            text = f"invalid HTTP request: {exc or msg}"
        self._send_refusal(status, text)

    def _send_refusal(self, status: int, text: str) -> None:
        self._disarm()
        body = json.dumps({"success": False, "msg": text}).encode()
        head = (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n"
                % (status, _REASONS[status], len(body)))
        self._refused = True
        self.transport.write(head + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_S, self.transport.close)
        else:  # pragma: no cover - TLS transports cannot half-close
            self.transport.close()


def hardened_protocol(header_timeout: float = HEADER_TIMEOUT_S) -> type[HardenedH11Protocol]:
    """:class:`HardenedH11Protocol` with another request-head deadline (for tests)."""
    if header_timeout == HEADER_TIMEOUT_S:
        return HardenedH11Protocol
    return type("HardenedH11Protocol", (HardenedH11Protocol,),
                {"header_timeout": float(header_timeout)})
