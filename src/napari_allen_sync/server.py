"""An Allen-compatible HTTP server: the synchronization services, RMA and image_download.

:func:`create_app` builds a Starlette application that answers, from a local catalog and
the engine (:class:`~napari_allen_sync.synchronizer.Synchronizer`), the requests that
AllenSDK and :class:`~napari_allen_sync.client.SynchronizationApi` send to
api.brain-map.org:

- the six services ``/api/v2/{service}/{id}.json?...`` (AllenSDK's ``%f`` coordinates,
  bare-comma id lists; ``//api/v2/...`` is accepted as AllenSDK sends it when its
  ``base_uri`` ends in ``/``);
- the RMA queries :mod:`napari_allen_sync.rma` sends (``/api/v2/data/{Model}/{id}.json``
  and ``/api/v2/data/query.json?criteria=...``, the subset ``model::``,
  ``rma::criteria,[field$eq v]``, ``rma::include``, ``rma::options``);
- ``/api/v2/image_download/{id}`` as JPEG, for sources that can render pixels.

Answers use Allen's envelope ``{"success": true, "id": 0, "start_row": 0, "num_rows": N,
"total_rows": N, "msg": ...}``; errors ``{"success": false, "msg": "<text>"}`` with status
400 (malformed request or an id that cannot be synchronized), 404 (unknown id or path)
or 500 (internal error). In the list services a target that cannot be synchronized
(unknown data set, no usable image, no structure centre) becomes an ``image_sync``
element without ``section_image_id``, as the Allen service does; the others are still
answered.

The server reads no file after start-up: no request path can reach the file system.

For tests and benchmarks, :func:`serve_in_thread` runs an app on a free loopback port,
:class:`Faults` injects failures (HTTP 500/503 bursts, stalls, trickles, truncated bodies,
malformed JSON, ``success: false``, truncated JPEGs, added latency) and
:class:`ResetProxy` resets TCP connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import math
import re
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .catalog import Catalog
from .errors import (
    AllenSyncError,
    InvalidCoordinateError,
    InvalidIdListError,
    MissingAlignmentError,
    NoUsableImagesError,
    UnknownIdError,
)
from .rma import RmaQuery, parse_criteria
from .synchronizer import SERVICES, Synchronizer

__all__ = [
    "Faults",
    "ResetProxy",
    "create_app",
    "run_server",
    "serve_in_thread",
]

log = logging.getLogger(__name__)

#: Rows of an RMA answer when the query names no ``num_rows`` (RMA's own default).
RMA_DEFAULT_ROWS = 50
#: Largest image_download region side, in tier pixels.
MAX_DOWNLOAD_SIDE = 8192
JPEG_QUALITY = 90
MAX_DOWNSAMPLE = 16
#: Errors that make a single target of a list service fail rather than the request.
_TARGET_ERRORS = (UnknownIdError, NoUsableImagesError, MissingAlignmentError)


class _RequestError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _envelope(msg, start_row=0, total_rows=None):
    n = len(msg) if isinstance(msg, list) else 1
    return {
        "success": True,
        "id": 0,
        "start_row": start_row,
        "num_rows": n,
        "total_rows": n if total_rows is None else total_rows,
        "msg": msg,
    }


def _error(status, message):
    return JSONResponse({"success": False, "msg": str(message)}, status_code=status)


def _status_of(exc) -> int:
    if isinstance(exc, _RequestError):
        return exc.status
    if isinstance(exc, UnknownIdError):
        return 404
    if isinstance(exc, AllenSyncError):
        return 400
    return 500


# ---------------------------------------------------------------------- parameters
class _Params:
    """Query parameters of one request, parsed as the Allen service reads them."""

    def __init__(self, query_string: str):
        self.values = parse_qs(query_string, keep_blank_values=True)

    def text(self, name, default=None):
        values = self.values.get(name)
        if not values:
            if default is not None:
                return default
            raise _RequestError(400, f"missing parameter {name}")
        return values[0]

    def number(self, name) -> float:
        text = self.text(name).strip()
        try:
            value = float(text)
        except ValueError:
            raise InvalidCoordinateError(f"{name} must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise InvalidCoordinateError(f"{name} must be finite, got {text!r}")
        return value

    def integer(self, name, default=None) -> int:
        if default is not None and name not in self.values:
            return default
        text = self.text(name).strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise InvalidIdListError(f"{name} must be an integer, got {text!r}")
        return int(text)

    def id_list(self, name) -> list[int]:
        text = self.text(name, default="").strip()
        if not text:
            raise InvalidIdListError(f"{name} is empty: name at least one id")
        out = []
        for part in text.split(","):
            part = part.strip()
            if not part.isdigit():
                raise InvalidIdListError(f"{name} must be integers joined by commas, got {text!r}")
            out.append(int(part))
        return out


def _path_id(text: str, what: str) -> int:
    if not text.isdigit():
        raise _RequestError(400, f"{what} id must be an integer, got {text!r}")
    return int(text)


def _failed(section_data_set_id) -> dict:
    """An image_sync element for a target that could not be synchronized."""
    ds = None if section_data_set_id is None else str(section_data_set_id)
    return {"image_sync": {"section_data_set_id": ds}}


# ---------------------------------------------------------------------- the app
class _Service:
    """What the endpoints answer from: catalog, engine and (optionally) pixels."""

    def __init__(self, source_or_catalog, tiles=None):
        if isinstance(source_or_catalog, str | Path):
            source_or_catalog = Catalog.from_folder(source_or_catalog)
        if isinstance(source_or_catalog, Catalog):
            self.catalog = source_or_catalog
            self.sync = Synchronizer(self.catalog)
            self.tiles = tiles
            self.name = "catalog"
        else:
            self.catalog = source_or_catalog.catalog
            self.sync = source_or_catalog.synchronizer
            self.tiles = tiles if tiles is not None else getattr(source_or_catalog, "tiles", None)
            self.name = getattr(source_or_catalog, "name", type(source_or_catalog).__name__)

    # -------------------------------------------------------------- synchronization
    def synchronize(self, service: str, path_id: int, p: _Params):
        sync = self.sync
        if service == "image_to_reference":
            return sync.image_to_reference(path_id, p.number("x"), p.number("y"))
        if service == "reference_to_image":
            x, y, z = p.number("x"), p.number("y"), p.number("z")
            ids = p.id_list("section_data_set_ids")
            return [
                self._target(lambda d=d: sync.reference_to_image(path_id, x, y, z, [d])[0], d)
                for d in ids
            ]
        if service == "image_to_image":
            x, y = p.number("x"), p.number("y")
            ids = p.id_list("section_data_set_ids")
            sync.seed(path_id)
            return [
                self._target(lambda d=d: sync.image_to_image(path_id, x, y, [d])[0], d)
                for d in ids
            ]
        if service == "image_to_image_2d":
            x, y = p.number("x"), p.number("y")
            ids = p.id_list("section_image_ids")
            sync.seed(path_id)
            out = []
            for t in ids:
                im = self.catalog.section_images.get(t)
                out.append(self._target(
                    lambda t=t: sync.image_to_image_2d(path_id, x, y, [t])[0],
                    None if im is None else im.data_set_id,
                ))
            return out
        if service == "image_to_atlas":
            x, y = p.number("x"), p.number("y")
            return sync.image_to_atlas(path_id, x, y, p.integer("atlas_id"))
        if service == "structure_to_image":
            ids = p.id_list("structure_ids")
            self.catalog.section_data_set(path_id)
            return [
                self._target(lambda s=s: sync.structure_to_image(path_id, [s])[0], path_id)
                for s in ids
            ]
        raise _RequestError(404, f"unknown service {service!r}")

    @staticmethod
    def _target(compute, data_set_id):
        try:
            return compute()
        except _TARGET_ERRORS:
            return _failed(data_set_id)

    # -------------------------------------------------------------- RMA
    def rma(self, query: RmaQuery):
        rows = self._rows(query.model, query.include or "")
        for field, op, value in query.filters:
            wanted = set(value.split(",")) if op == "in" else {value}
            rows = [r for r in rows if field not in r or _rma_text(r[field]) in wanted]
        total = len(rows)
        start = query.start_row or 0
        count = RMA_DEFAULT_ROWS if query.num_rows is None else query.num_rows
        page = rows[start:start + count]
        return _envelope(page, start_row=start, total_rows=total)

    def _rows(self, model: str, include: str) -> list[dict]:
        c = self.catalog
        with_a2 = "alignment2d" in include
        with_a3 = "alignment3d" in include
        if model in ("SectionDataSet", "AtlasDataSet"):
            atlas_ds = {d for a in c.atlases.values() for d in a.data_set_ids}
            key = "atlas_images" if model == "AtlasDataSet" else "section_images"
            out = []
            for ds in list(c.section_data_sets.values()):
                if model == "AtlasDataSet" and ds.id not in atlas_ds:
                    continue
                row = c.data_set_rma(ds.id, key=key) if key in include else ds.to_rma()
                out.append(_trim(row, with_a2, with_a3, key))
            return out
        if model == "Atlas":
            out = []
            for atlas in list(c.atlases.values()):
                row = atlas.to_rma()
                if "atlas_data_sets" in include:
                    row.pop("data_set_ids", None)
                    row["atlas_data_sets"] = [
                        _trim(
                            c.data_set_rma(d, key="atlas_images") if "atlas_images" in include
                            else c.section_data_set(d).to_rma(),
                            with_a2, with_a3, "atlas_images",
                        )
                        for d in atlas.data_set_ids if d in c.section_data_sets
                    ]
                out.append(row)
            return out
        if model in ("SectionImage", "AtlasImage"):
            return [_trim_image(im.to_rma(), with_a2) for im in list(c.section_images.values())
                    if (type(im).__name__ == model)]
        groups = {
            "Structure": c.structures,
            "StructureCenter": c.structure_centers,
            "ReferenceToReferenceTransform": c.transforms,
            "Equalization": c.equalizations,
        }
        if model not in groups:
            raise _RequestError(400, f"model {model!r} is not served here")
        return [rec.to_rma() for rec in list(groups[model].values())]

    # -------------------------------------------------------------- pixels
    def render(self, image_id: int, p: _Params) -> bytes:
        from PIL import Image

        image = self.catalog.section_image(image_id)
        if self.tiles is None:
            raise _RequestError(404, f"this server has no pixels for image {image_id}")
        d = p.integer("downsample", 0)
        if not 0 <= d <= MAX_DOWNSAMPLE:
            raise _RequestError(400, f"downsample must be 0..{MAX_DOWNSAMPLE}, got {d}")
        f = 2**d
        left = p.integer("left", image.x)
        top = p.integer("top", image.y)
        width = p.integer("width", -(-image.width // f))
        height = p.integer("height", -(-image.height // f))
        if not (0 < width <= MAX_DOWNLOAD_SIDE and 0 < height <= MAX_DOWNLOAD_SIDE):
            raise _RequestError(400, f"width and height must be 1..{MAX_DOWNLOAD_SIDE}, "
                                f"got {width} x {height}")
        quality = p.integer("quality", JPEG_QUALITY)
        quality = min(max(quality, 1), 100)
        pixels = self.tiles.read_region(image, d, left - image.x, top - image.y, width, height)
        pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
        if pixels.shape != (height, width, 3):
            raise RuntimeError(f"tile source returned shape {pixels.shape}, "
                               f"expected {(height, width, 3)}")
        buf = io.BytesIO()
        Image.fromarray(pixels, "RGB").save(buf, format="JPEG", quality=quality)
        return buf.getvalue()


def _rma_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _trim_image(row, with_a2):
    if not with_a2:
        row.pop("alignment2d", None)
    return row


def _trim(row, with_a2, with_a3, key):
    if not with_a3:
        row.pop("alignment3d", None)
    for im in row.get(key) or []:
        _trim_image(im, with_a2)
    return row


def create_app(source_or_catalog, *, tiles=None, faults: Faults | None = None) -> Starlette:
    """The Allen-compatible ASGI application.

    Parameters
    ----------
    source_or_catalog : AtlasSource, Catalog, str or os.PathLike
        What to answer from: an :class:`~napari_allen_sync.source.AtlasSource` (its
        catalog, engine and ``tiles``), a :class:`~napari_allen_sync.catalog.Catalog`, or
        a folder of Allen RMA answers (read once, now).
    tiles : TileSource, optional
        Renders ``image_download`` (default: the source's ``tiles``; a bare catalog has
        none, and ``image_download`` answers 404).
    faults : Faults, optional
        Fault injection for tests (added as the outermost middleware).

    Returns
    -------
    starlette.applications.Starlette
        ``app.state.service`` holds the catalog and engine; ``app.state.faults`` the
        :class:`Faults` (None without).
    """
    service = _Service(source_or_catalog, tiles)

    async def sync_endpoint(request: Request):
        service_name = request.path_params["service"]
        if service_name not in SERVICES:
            return _error(404, f"unknown service {service_name!r}")
        try:
            path_id = _path_id(request.path_params["id"], "path")
            if request.path_params["fmt"] != "json":
                raise _RequestError(400, "only .json answers are served")
            msg = service.synchronize(service_name, path_id, _Params(request.url.query))
        except Exception as exc:
            return _exception_response(exc, request)
        return JSONResponse(_envelope(msg))

    async def rma_model_endpoint(request: Request):
        try:
            if request.path_params["fmt"] != "json":
                raise _RequestError(400, "only .json answers are served")
            model = request.path_params["model"]
            if not re.fullmatch(r"[A-Z]\w*", model):
                raise _RequestError(404, f"unknown model {model!r}")
            rid = _path_id(request.path_params["id"], model)
            p = _Params(request.url.query)
            query = RmaQuery(model, [("id", "eq", str(rid))], include=p.text("include", ""))
            data = service.rma(query)
            if not data["msg"]:
                raise UnknownIdError(model, rid, "not served here")
        except Exception as exc:
            return _exception_response(exc, request)
        return JSONResponse(data)

    async def rma_query_endpoint(request: Request):
        try:
            if request.path_params["fmt"] != "json":
                raise _RequestError(400, "only .json answers are served")
            query = parse_criteria(_Params(request.url.query).text("criteria"))
            data = service.rma(query)
        except Exception as exc:
            return _exception_response(exc, request)
        return JSONResponse(data)

    async def image_download_endpoint(request: Request):
        try:
            image_id = _path_id(request.path_params["id"].removesuffix(".jpg"), "image")
            body = await run_in_threadpool(service.render, image_id, _Params(request.url.query))
        except Exception as exc:
            return _exception_response(exc, request)
        return Response(body, media_type="image/jpeg")

    async def not_found(request: Request, exc: HTTPException):
        return _error(exc.status_code, f"{exc.detail}: {request.url.path}")

    async def internal(request: Request, exc: Exception):
        return _error(500, f"internal error: {type(exc).__name__}")

    routes = [
        Route("/api/v2/data/query.{fmt}", rma_query_endpoint),
        Route("/api/v2/data/{model}/{id}.{fmt}", rma_model_endpoint),
        Route("/api/v2/image_download/{id}", image_download_endpoint),
        Route("/api/v2/{service}/{id}.{fmt}", sync_endpoint),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: not_found, Exception: internal},
    )
    app.state.service = service
    app.state.faults = faults
    app.add_middleware(_SlashMiddleware)
    if faults is not None:
        app.add_middleware(_FaultMiddleware, faults=faults)
    return app


def _exception_response(exc, request):
    status = _status_of(exc)
    if status == 500:
        log.exception("internal error answering %s", request.url)
        return _error(500, f"internal error: {type(exc).__name__}: {exc}")
    return _error(status, exc)


class _SlashMiddleware:
    """Accept ``//api/v2/...`` (AllenSDK with a ``base_uri`` ending in ``/``)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and "//" in scope["path"]:
            scope = dict(scope)
            scope["path"] = re.sub("/{2,}", "/", scope["path"])
            scope["raw_path"] = scope["path"].encode("latin-1", "replace")
        await self.app(scope, receive, send)


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


class _FaultMiddleware:
    def __init__(self, app, faults: Faults):
        self.app = app
        self.faults = faults

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


# ---------------------------------------------------------------------- running
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
def serve_in_thread(app, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "critical"):
    """Run an ASGI app with uvicorn in a background thread; yields its base URL.

    Parameters
    ----------
    app : ASGI application
    host : str
        Loopback by default.
    port : int
        0 picks a free port.

    Yields
    ------
    str
        ``"http://127.0.0.1:<port>"``.
    """
    import uvicorn

    sock = _loopback_socket(host, port)
    config = uvicorn.Config(app, log_level=log_level, lifespan="off", access_log=False,
                            timeout_keep_alive=30, timeout_graceful_shutdown=2)
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

    uvicorn.run(app, host=host, port=port, log_level=log_level, lifespan="off",
                timeout_graceful_shutdown=5)
