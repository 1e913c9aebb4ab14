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
"total_rows": N, "msg": ...}``; refusals ``{"success": false, "msg": "<text>"}`` with
status 400 (malformed request, a parameter beyond its limit, an id that cannot be
synchronized), 404 (unknown id or path), 405 (not GET, with ``Allow``), 503 (busy, with
``Retry-After``), 505 (an HTTP/2 preface: HTTP/1.1 only). The wire format and every
limit: ``docs/server.md``.

The modules: :mod:`.app` (routes, errors to answers), :mod:`.params` (query parsing and
limits), :mod:`.service` (the computation), :mod:`.fanout` (one point into many
data sets, vectorized), :mod:`.run` (uvicorn). The server reads no
file after start-up: no request path can reach the file system.
"""

from __future__ import annotations

from .app import create_app
from .params import (
    MAX_DOWNLOAD_PIXELS,
    MAX_DOWNLOAD_SIDE,
    MAX_DOWNSAMPLE,
    MAX_ID,
    MAX_IDS,
    MAX_OFFSET,
)
from .run import run_server, serve_in_process, serve_in_thread
from .service import MAX_RMA_ROWS

__all__ = [
    "MAX_DOWNLOAD_PIXELS",
    "MAX_DOWNLOAD_SIDE",
    "MAX_DOWNSAMPLE",
    "MAX_ID",
    "MAX_IDS",
    "MAX_OFFSET",
    "MAX_RMA_ROWS",
    "create_app",
    "run_server",
    "serve_in_process",
    "serve_in_thread",
]
