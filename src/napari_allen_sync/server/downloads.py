"""The server side of issue 10: annotation volumes and image views, as Allen serves them.

:func:`download_routes` gives :func:`napari_allen_sync.server.create_app` the routes that
make a compatible server answer what :class:`~napari_allen_sync.remote.RemoteSource`
asks for beyond synchronization:

- the CCFv3 annotation volume under Allen's download path
  (:data:`~napari_allen_sync.annotation.ANNOTATION_PATH`, ``annotation_{res}.nrrd``), with
  ``Range`` requests (an interrupted download resumes): the demo's volume
  (:func:`~napari_allen_sync.demo.annotation.demo_annotation_nrrd`) or a file
  ``annotation_{res}.nrrd`` placed in a catalog folder;
- ``image_download/{id}`` and AllenSDK's three named forms (``section_image_download``,
  ``atlas_image_download``, ``projection_image_download``), honouring
  ``annotation=true&atlas={id}`` (the annotated plate; without it an atlas plate is the
  plain Nissl section, as on Allen's server) and ``view=expression|projection`` (or
  ``expression=true``), rendered by the tile source's views
  (:func:`~napari_allen_sync.images.tile_view`);
- either ``width``/``height`` convention of docs/annotation.md (``tile_convention="tier"``, the
  default, as AllenSDK documents; ``"full"`` reads them in full-resolution pixels), so
  the client's detection can be tested against both.

A tile source without views (a test pattern) answers every view with its one rendering.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from ..annotation import ANNOTATION_PATH, RESOLUTIONS_UM, annotation_file_name
from ..errors import AnnotationError, InvalidParameterError, NotServedError
from ..records import AtlasImage

__all__ = ["FORMS", "TILE_CONVENTIONS", "annotation_provider", "download_routes",
           "range_slice", "request_view"]

#: The image download forms served (AllenSDK's three and the generic one).
FORMS = ("image_download", "section_image_download", "atlas_image_download",
         "projection_image_download")
#: ``width``/``height`` read in tier pixels (AllenSDK) or full-resolution pixels.
TILE_CONVENTIONS = ("tier", "full")


def annotation_provider(source_or_catalog, folder=None):
    """What serves ``annotation_{res}.nrrd``: a callable ``resolution -> bytes``.

    A source with an ``annotation_nrrd(resolution)`` method (the demo) is asked; else the
    file ``annotation_{res}.nrrd`` in ``folder`` (or in ``source_or_catalog`` when it is a
    folder), read when first asked and kept while its size and time are unchanged.
    Returns None when nothing can be served.
    """
    method = getattr(source_or_catalog, "annotation_nrrd", None)
    if callable(method):
        return method
    if folder is None and isinstance(source_or_catalog, str | Path):
        folder = source_or_catalog
    if folder is None:
        return None
    folder = Path(folder)
    files = {}
    for res in RESOLUTIONS_UM:
        path = folder / annotation_file_name(res)
        if path.is_file():  # fixed now: no request path reaches the file system
            files[res] = path
    kept: dict[int, tuple[tuple, bytes]] = {}
    lock = threading.Lock()

    def read(resolution: int) -> bytes:
        path = files.get(resolution)
        if path is None:
            raise NotServedError(
                f"no annotation_{resolution}.nrrd in this catalog folder (it has "
                f"{', '.join(f'annotation_{r}.nrrd' for r in sorted(files)) or 'none'})")
        with lock:
            st = path.stat()
            stamp = (st.st_size, st.st_mtime_ns)
            found = kept.get(resolution)
            if found is None or found[0] != stamp:
                found = (stamp, path.read_bytes())
                kept[resolution] = found
            return found[1]

    return read


def range_slice(size: int, header: str | None) -> tuple[int, int] | None:
    """``(start, stop)`` of a single ``Range: bytes=a-b`` (or ``a-``, ``-n``) request;
    None for no (or an unsupported) range. Raises :class:`InvalidParameterError` for a
    range that starts beyond the end (the caller answers 416)."""
    if not header:
        return None
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if not m.group(1):  # the last n bytes
        n = int(m.group(2))
        return max(0, size - n), size
    start = int(m.group(1))
    stop = size if not m.group(2) else min(size, int(m.group(2)) + 1)
    if start >= size or stop <= start:
        raise InvalidParameterError("Range", f"bytes {start}- is beyond the {size} bytes")
    return start, stop


def request_view(image, query) -> str:
    """The view (:data:`napari_allen_sync.images.VIEWS`) an ``image_download`` request
    asks for. ``query`` maps parameter names to text.

    Raises
    ------
    InvalidParameterError
        For an unknown ``view``, or ``annotation=true`` without an ``atlas`` or on an
        image that is not an atlas plate.
    """
    view = (query.get("view") or "").strip().lower()
    if (query.get("expression") or "").lower() == "true" and not view:
        view = "expression"
    if view:
        if view not in ("expression", "projection"):
            raise InvalidParameterError("view", f"expression or projection, got {view!r}")
        return view
    if (query.get("annotation") or "").lower() == "true":
        if not query.get("atlas"):
            raise InvalidParameterError("atlas", "annotation=true needs atlas={atlas id}")
        if not isinstance(image, AtlasImage):
            raise InvalidParameterError(
                "annotation", f"image {image.id} is not an atlas plate: it has no annotation")
        return "annotation"
    return "image"


def download_routes(service, source_or_catalog, *, annotation=None, tile_convention="tier"):
    """Starlette routes for the annotation volume and the image downloads (put them
    before the app's own routes).

    Parameters
    ----------
    service : napari_allen_sync.server.service.Service
        Its catalog, tiles and ``render``.
    source_or_catalog
        What the app serves (asked for ``annotation_nrrd``).
    annotation : path-like or callable, optional
        A folder holding ``annotation_{res}.nrrd`` files, or ``resolution -> bytes``.
    tile_convention : {"tier", "full"}
        How ``width``/``height`` of image downloads are read.
    """
    from starlette.responses import Response
    from starlette.routing import Route

    from ..images import tile_view
    from .params import Params, path_id

    if tile_convention not in TILE_CONVENTIONS:
        raise ValueError(f"tile_convention must be one of {TILE_CONVENTIONS}, got "
                         f"{tile_convention!r}")
    volumes = annotation if callable(annotation) else annotation_provider(
        source_or_catalog, annotation)

    def volume_endpoint(request):
        text = request.path_params["res"]
        if not text.isdigit() or int(text) not in RESOLUTIONS_UM:
            raise NotServedError(f"no annotation volume of {text[:12]!r} µm (Allen publishes "
                                 f"{', '.join(map(str, RESOLUTIONS_UM))})")
        if volumes is None:
            raise NotServedError("this server has no annotation volume")
        try:
            body = volumes(int(text))
        except AnnotationError as exc:
            raise NotServedError(str(exc)) from None
        headers = {"Accept-Ranges": "bytes"}
        try:
            part = range_slice(len(body), request.headers.get("range"))
        except InvalidParameterError:
            return Response(b"", status_code=416,
                            headers={**headers, "Content-Range": f"bytes */{len(body)}"})
        if part is None:
            return Response(body, media_type="application/octet-stream", headers=headers)
        start, stop = part
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{len(body)}"
        return Response(body[start:stop], status_code=206,
                        media_type="application/octet-stream", headers=headers)

    def image_endpoint(request):
        image_id = path_id(request.path_params["id"].removesuffix(".jpg"), "image")
        image = service.catalog.section_image(image_id)
        query = dict(request.query_params)
        view = request_view(image, query)
        tiles = service.tiles
        if tiles is not None and callable(getattr(tiles, "view", None)):
            tiles = tile_view(tiles, view)
        body = service.render(image_id, Params(request.url.query), tiles=tiles,
                              full_resolution_sizes=tile_convention == "full")
        return Response(body, media_type="image/jpeg")

    volume_path = ANNOTATION_PATH.replace("annotation_{resolution}.nrrd",
                                          "annotation_{res}.nrrd")
    return [
        Route(volume_path, volume_endpoint, methods=["GET"]),
        *(Route(f"/api/v2/{form}/{{id}}", image_endpoint, methods=["GET"]) for form in FORMS),
    ]
