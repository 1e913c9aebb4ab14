"""An HTTP/2 client with prior knowledge gets one clear refusal, over a raw socket: its
preface (``PRI * HTTP/2.0 ... SM``) is answered once, 505 with Allen's envelope saying
"HTTP/2 is not supported; use HTTP/1.1", and the connection is closed."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlparse

import pytest

from napari_allen_sync.server.protocol import HTTP2_PREFACE

#: What an HTTP/2 client sends right after the preface: an empty SETTINGS frame.
SETTINGS_FRAME = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _connect(base):
    u = urlparse(base)
    sock = socket.create_connection((u.hostname, u.port), timeout=20)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_until_closed(sock) -> bytes:
    parts = []
    while chunk := sock.recv(65536):
        parts.append(chunk)
    return b"".join(parts)


def _answers(raw: bytes) -> list[tuple[int, dict, dict]]:
    """Every HTTP/1.1 answer in ``raw``: status, headers and JSON body."""
    out = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        assert sep, raw[:200]
        lines = head.split(b"\r\n")
        assert lines[0].startswith(b"HTTP/1.1 "), lines[0]
        headers = {k.lower(): v for k, v in (line.split(b": ", 1) for line in lines[1:])}
        n = int(headers[b"content-length"])
        out.append((int(lines[0].split(b" ", 2)[1]), headers, json.loads(rest[:n])))
        raw = rest[n:]
    return out


def _is_the_refusal(answer) -> bool:
    status, headers, body = answer
    return (status == 505 and headers[b"content-type"] == b"application/json"
            and headers[b"connection"] == b"close" and body["success"] is False
            and "HTTP/2 is not supported; use HTTP/1.1" in body["msg"])


@pytest.mark.parametrize("sent", [
    HTTP2_PREFACE,
    HTTP2_PREFACE + SETTINGS_FRAME,
    HTTP2_PREFACE[:16],  # the request line and its blank line only
    b"PRI * HTTP/2.0\r\n",
])
def test_the_http2_preface_gets_one_refusal_and_a_close(server, sent):
    with _connect(server.base) as sock:
        sock.sendall(sent)
        answers = _answers(_read_until_closed(sock))
    assert len(answers) == 1 and _is_the_refusal(answers[0]), answers


def test_a_preface_arriving_byte_by_byte_is_refused_once(server):
    with _connect(server.base) as sock:
        for k in range(len(HTTP2_PREFACE)):
            try:
                sock.sendall(HTTP2_PREFACE[k:k + 1])
            except (BrokenPipeError, ConnectionResetError):  # refused before the end
                break
            time.sleep(0.005)
        answers = _answers(_read_until_closed(sock))
    assert len(answers) == 1 and _is_the_refusal(answers[0]), answers


def test_the_preface_after_an_http1_answer_on_a_kept_alive_connection(server):
    """HTTP/1.1 answers first, then the preface on the same connection is refused."""
    request = b"GET /api/v2/data/Atlas/1.json HTTP/1.1\r\nHost: x\r\n\r\n"
    with _connect(server.base) as sock:
        sock.sendall(request)
        first = b""
        while b"\r\n\r\n" not in first or len(_answers_partial(first)) < 1:
            first += sock.recv(65536)
        sock.sendall(HTTP2_PREFACE + SETTINGS_FRAME)
        answers = _answers(first + _read_until_closed(sock))
    assert [a[0] for a in answers] == [200, 505]
    assert _is_the_refusal(answers[1])


def _answers_partial(raw: bytes):
    """The complete answers at the start of ``raw`` (for reading one before sending)."""
    try:
        return _answers(raw)
    except (AssertionError, ValueError, KeyError):
        return []


def test_http1_requests_starting_like_pri_are_not_taken_for_http2(server):
    """Only the preface's ``PRI * HTTP/2`` is refused as HTTP/2; a PRI over HTTP/1.1 is
    an ordinary unknown method (405 with Allow, or 404)."""
    with _connect(server.base) as sock:
        sock.sendall(b"PRI /api/v2/data/Atlas/1.json HTTP/1.1\r\nHost: x\r\n"
                     b"Connection: close\r\n\r\n")
        answers = _answers(_read_until_closed(sock))
    assert len(answers) == 1 and answers[0][0] in (404, 405)
    assert answers[0][2]["success"] is False
