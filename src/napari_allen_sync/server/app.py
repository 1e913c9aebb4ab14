"""The ASGI application: routes, and the one place where errors become answers.

Every endpoint is a plain ``def``: Starlette runs it in its thread pool, so that CPU
work (a 10,000-id request, a JPEG) never holds the event loop and the other clients.
Endpoints raise the package's own errors (:mod:`napari_allen_sync.errors`);
:data:`STATUS` maps them to HTTP statuses, and :func:`_allen_error` writes every refusal
as Allen's envelope ``{"success": false, "msg": "..."}``.
"""

from __future__ import annotations

import json
import logging
import re

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import (
    AllenSyncError,
    InvalidParameterError,
    NotServedError,
    ServerBusyError,
    UnknownIdError,
)
from ..rma import parse_criteria
from ..search_answers import answer_query, is_search_query
from .params import MAX_HEAD_BYTES, Params, path_id
from .service import MAX_RMA_ROWS, Service, envelope

__all__ = ["STATUS", "create_app", "envelope_response", "error_body"]

log = logging.getLogger("napari_allen_sync.server")

#: HTTP status of each of the package's errors (the first matching class wins; any other
#: AllenSyncError is a request that cannot be answered: 400).
STATUS: tuple[tuple[type[Exception], int], ...] = (
    (UnknownIdError, 404),
    (NotServedError, 404),
    (ServerBusyError, 503),
    (AllenSyncError, 400),
)

#: Longest ``criteria`` of an RMA query, in characters.
MAX_CRITERIA_CHARS = 8192


def error_body(message: str) -> dict:
    """Allen's error envelope."""
    return {"success": False, "msg": str(message)}


def _allen_error(status: int, message: str, headers=None) -> JSONResponse:
    return JSONResponse(error_body(message), status_code=status, headers=headers)


def _status_of(exc: AllenSyncError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400  # pragma: no cover - AllenSyncError is last in STATUS


async def _on_package_error(request: Request, exc: AllenSyncError) -> Response:
    status = _status_of(exc)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, ServerBusyError) else None
    return _allen_error(status, str(exc), headers)


async def _on_http_error(request: Request, exc: HTTPException) -> Response:
    # Starlette's own refusals: 404 (no route) and 405 (with its Allow header)
    return _allen_error(exc.status_code, f"{exc.detail}: {request.method} {request.url.path}",
                        exc.headers)


async def _on_internal_error(request: Request, exc: Exception) -> Response:
    log.error("internal error answering %s", request.url, exc_info=exc)
    return _allen_error(500, f"internal error: {type(exc).__name__}")


def _dumps(value) -> bytes:
    """JSON as :class:`~starlette.responses.JSONResponse` writes it."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None,
                      separators=(",", ":")).encode("utf-8")


def envelope_response(msg) -> Response:
    """``JSONResponse(envelope(msg))``, byte for byte, written faster for long lists
    whose elements repeat (a list service naming a target many times shares one answer
    object per target: each distinct object is encoded once)."""
    if not isinstance(msg, list):
        return JSONResponse(envelope(msg))
    head = envelope([])
    head["num_rows"] = head["total_rows"] = len(msg)
    encoded: dict[int, bytes] = {}
    parts = []
    for element in msg:
        part = encoded.get(id(element))
        if part is None:
            part = encoded[id(element)] = _dumps(element)
        parts.append(part)
    body = _dumps(head)  # ...,"msg":[]} (msg is the envelope's last key)
    body = body[:-len(b"]}")] + b",".join(parts) + b"]}"
    return Response(body, media_type="application/json")


def _row_cap(data: dict) -> dict:
    """At most :data:`~.service.MAX_RMA_ROWS` rows in an RMA answer (``total_rows``
    still counts them all; ``num_rows`` says how many were sent)."""
    msg = data.get("msg")
    if isinstance(msg, list) and len(msg) > MAX_RMA_ROWS:
        data["msg"] = msg[:MAX_RMA_ROWS]
        data["num_rows"] = MAX_RMA_ROWS
    return data


def _json_only(request: Request) -> None:
    if request.path_params["fmt"] != "json":
        raise InvalidParameterError("format", "only .json answers are served")


def create_app(source_or_catalog, *, tiles=None, annotation=None,
               tile_convention: str = "tier") -> Starlette:
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
    annotation : path-like or callable, optional
        A folder with ``annotation_{res}.nrrd`` files (or ``resolution -> bytes``) to
        serve under Allen's download path; default: the source's own volume (the demo)
        or the files in a catalog folder (see :mod:`napari_allen_sync.downloads`).
    tile_convention : {"tier", "full"}
        Whether image downloads read ``width``/``height`` in tier pixels (AllenSDK's
        reading, the default) or in full-resolution pixels (docs/annotation.md).

    Returns
    -------
    starlette.applications.Starlette
        ``app.state.service`` holds the catalog and engine
        (:class:`~napari_allen_sync.server.service.Service`).
    """
    service = Service(source_or_catalog, tiles)

    def sync_endpoint(request: Request):
        name = request.path_params["service"]
        pid = path_id(request.path_params["id"], "path")
        _json_only(request)
        msg = service.synchronize(name, pid, Params(request.url.query))
        return envelope_response(msg)

    def rma_model_endpoint(request: Request):
        return _rma_model_answer(service, request)

    def rma_query_endpoint(request: Request):
        return _rma_query_answer(service, request)

    def image_download_endpoint(request: Request):
        image_id = path_id(request.path_params["id"].removesuffix(".jpg"), "image")
        body = service.render(image_id, Params(request.url.query))
        return Response(body, media_type="image/jpeg")

    # Issue 10 (onlineA): the annotation volume, AllenSDK's named image download forms,
    # annotation=true&atlas= and view=expression|projection; before the generic route.
    from .downloads import download_routes

    routes = [
        *download_routes(service, source_or_catalog, annotation=annotation,
                         tile_convention=tile_convention),
        Route("/api/v2/data/query.{fmt}", rma_query_endpoint, methods=["GET"]),
        Route("/api/v2/data/{model}/{id}.{fmt}", rma_model_endpoint, methods=["GET"]),
        Route("/api/v2/image_download/{id}", image_download_endpoint, methods=["GET"]),
        Route("/api/v2/{service}/{id}.{fmt}", sync_endpoint, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            AllenSyncError: _on_package_error,
            HTTPException: _on_http_error,
            Exception: _on_internal_error,
        },
    )
    app.state.service = service
    app.add_middleware(_SlashMiddleware)
    app.add_middleware(_HeadLimitMiddleware)
    return app


def _rma_model_answer(service: Service, request: Request) -> JSONResponse:
    """``/api/v2/data/{model}/{id}.json``: one record (and what it includes)."""
    _json_only(request)
    model = request.path_params["model"]
    if not re.fullmatch(r"[A-Z][A-Za-z0-9_]*", model):
        raise NotServedError(f"unknown model {model!r}")
    rid = path_id(request.path_params["id"], model)
    include = Params(request.url.query).text("include", "")
    return JSONResponse(service.rma_model(model, rid, include))


def _rma_query_answer(service: Service, request: Request) -> JSONResponse:
    """``/api/v2/data/query.json?criteria=...``: a search (napari_allen_sync.search) or
    a record lookup."""
    _json_only(request)
    criteria = _criteria_text(request)
    try:
        if is_search_query(criteria):  # finding experiments: napari_allen_sync.search
            return JSONResponse(_row_cap(answer_query(service.catalog, criteria)))
        query = parse_criteria(criteria)
    except AllenSyncError:
        raise
    except ValueError as exc:  # a ValueError of a helper: never a 500
        raise InvalidParameterError("criteria", f"cannot be read: {exc}") from None
    return JSONResponse(service.rma(query))


def _criteria_text(request: Request) -> str:
    """The ``criteria`` parameter: ASCII, at most :data:`MAX_CRITERIA_CHARS`."""
    criteria = Params(request.url.query).text("criteria")
    if len(criteria) > MAX_CRITERIA_CHARS:
        raise InvalidParameterError("criteria", f"at most {MAX_CRITERIA_CHARS} characters, "
                                    f"got {len(criteria)}", limit=MAX_CRITERIA_CHARS)
    if not criteria.isascii():
        raise InvalidParameterError("criteria", "RMA queries are written in ASCII")
    return criteria


class _HeadLimitMiddleware:
    """431 for a request head longer than :data:`~.params.MAX_HEAD_BYTES` that arrived
    whole (the protocol refuses one still arriving beyond the limit)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            size = (len(scope["method"]) + len(scope.get("raw_path") or b"")
                    + len(scope["query_string"]) + 12
                    + sum(len(k) + len(v) + 4 for k, v in scope["headers"]))
            if size > MAX_HEAD_BYTES:
                response = _allen_error(431, f"request head (request line and headers) "
                                             f"longer than {MAX_HEAD_BYTES} bytes")
                return await response(scope, receive, send)
        await self.app(scope, receive, send)


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
