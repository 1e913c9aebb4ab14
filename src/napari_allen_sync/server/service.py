"""What the server computes: synchronization, RMA rows and image_download pixels.

:class:`Service` knows nothing of HTTP: it takes parsed :class:`~.params.Params` and
returns Allen ``msg`` values (or JPEG bytes), raising the package's own errors
(:mod:`napari_allen_sync.errors`), which :mod:`.app` maps to answers in one place.
"""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path

import numpy as np

from .. import inferred
from ..catalog import Catalog
from ..errors import (
    InvalidParameterError,
    MissingAlignmentError,
    NotServedError,
    NoUsableImagesError,
    ServerBusyError,
    UnknownIdError,
)
from ..rma import RmaQuery
from ..synchronizer import SERVICES, Synchronizer
from . import fanout
from .params import (
    MAX_DOWNLOAD_PIXELS,
    MAX_DOWNLOAD_SIDE,
    MAX_DOWNSAMPLE,
    MAX_OFFSET,
    Params,
)

__all__ = ["Service", "envelope"]

#: Rows of an RMA answer when the query names no ``num_rows`` (RMA's own default).
RMA_DEFAULT_ROWS = 50
#: Most rows in one RMA answer, for ``[num_rows$eqall]`` and any larger ``num_rows``
#: alike: the envelope's ``total_rows`` still counts every matching row, and
#: ``num_rows`` the rows sent, so a client pages on with ``start_row``.
MAX_RMA_ROWS = 10_000
JPEG_QUALITY = 90
#: image_download renders at most this many tier pixels at a time (a strip of rows).
STRIP_PIXELS = 1 << 18
#: image_download requests rendered at once; the others wait (see RENDER_WAIT_S).
MAX_CONCURRENT_RENDERS = 2
#: How long an image_download waits for a render slot before a 503 ``Retry-After``.
RENDER_WAIT_S = 10.0
#: A synchronization request naming more targets than this is "large": at most
#: MAX_CONCURRENT_LARGE of them are computed at once, so that the others keep a share of
#: the interpreter (a request waits up to LARGE_WAIT_S for a slot, else 503).
LARGE_LIST_IDS = 1000
MAX_CONCURRENT_LARGE = 2
LARGE_WAIT_S = 30.0
_LIST_PARAMS = ("section_data_set_ids", "section_image_ids", "structure_ids")
#: Errors that make a single target of a list service fail rather than the request.
_TARGET_ERRORS = (UnknownIdError, NoUsableImagesError, MissingAlignmentError)


def envelope(msg, start_row=0, total_rows=None) -> dict:
    """Allen's success envelope around ``msg``."""
    n = len(msg) if isinstance(msg, list) else 1
    return {
        "success": True,
        "id": 0,
        "start_row": start_row,
        "num_rows": n,
        "total_rows": n if total_rows is None else total_rows,
        "msg": msg,
    }


def _fan_out(ids, batch, one, usable, failed) -> list:
    """The ``msg`` of a list service: one element per id of ``ids``, in order.

    Each distinct target is computed once, and all of them by one call (``batch(good)``:
    one ``msg`` element per target of ``good``; :func:`.fanout.to_data_sets` for data
    sets, the engine's batch form for images and structures); ``usable``
    tells beforehand which targets the engine can answer, the others become ``failed(t)``
    as one target at a time would (``one(t)`` raising one of the target errors). Should
    the batch still raise a target error (the catalog changed in between), the targets
    are computed one at a time with ``one``.

    Repeated ids share one answer object (the answer is serialized, never modified).
    """
    unique = list(dict.fromkeys(ids))
    good = [t for t in unique if usable(t)]
    answers: dict = {}
    if good:
        try:
            answers = dict(zip(good, batch(good), strict=True))
        except _TARGET_ERRORS:
            answers = {}
            for t in good:
                try:
                    answers[t] = one(t)
                except _TARGET_ERRORS:
                    pass
    return [answers[t] if t in answers else failed(t) for t in ids]


def _failed(section_data_set_id) -> dict:
    """An image_sync element for a target that could not be synchronized."""
    ds = None if section_data_set_id is None else str(section_data_set_id)
    return {"image_sync": {"section_data_set_id": ds}}


class Service:
    """What the endpoints answer from: catalog, engine and (optionally) pixels.

    Parameters
    ----------
    source_or_catalog : AtlasSource, Catalog, str or os.PathLike
        See :func:`napari_allen_sync.server.create_app`.
    tiles : TileSource, optional
        Renders image_download.
    """

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
        self._renders = threading.BoundedSemaphore(MAX_CONCURRENT_RENDERS)
        self._large = threading.BoundedSemaphore(MAX_CONCURRENT_LARGE)

    # -------------------------------------------------------------- synchronization
    def synchronize(self, service: str, path_id: int, p: Params):
        """The ``msg`` of one of the six synchronization services (a request naming more
        than :data:`LARGE_LIST_IDS` targets takes one of :data:`MAX_CONCURRENT_LARGE`
        slots)."""
        if service not in SERVICES:
            raise NotServedError(f"unknown service {service!r}")
        targets = max(p.text(name, "").count(",") + 1 for name in _LIST_PARAMS)
        if targets <= LARGE_LIST_IDS:
            return self._synchronize(service, path_id, p)
        if not self._large.acquire(timeout=LARGE_WAIT_S):
            raise ServerBusyError(f"{MAX_CONCURRENT_LARGE} requests of more than "
                                  f"{LARGE_LIST_IDS} ids are being answered: try again "
                                  "shortly", retry_after=1)
        try:
            return self._synchronize(service, path_id, p)
        finally:
            self._large.release()

    def _synchronize(self, service: str, path_id: int, p: Params):
        answer = {
            "image_to_reference": self._image_to_reference,
            "image_to_atlas": self._image_to_atlas,
            "reference_to_image": self._reference_to_image,
            "image_to_image": self._image_to_image,
            "image_to_image_2d": self._image_to_image_2d,
        }.get(service, self._structure_to_image)
        return answer(path_id, p)

    def _image_to_reference(self, path_id: int, p: Params):
        return self.sync.image_to_reference(path_id, p.number("x"), p.number("y"))

    def _image_to_atlas(self, path_id: int, p: Params):
        x, y = p.number("x"), p.number("y")
        return self.sync.image_to_atlas(path_id, x, y, p.identifier("atlas_id"))

    def _reference_to_image(self, path_id: int, p: Params):
        sync = self.sync
        x, y, z = p.number("x"), p.number("y"), p.number("z")
        ids = p.id_list("section_data_set_ids")
        return _fan_out(
            ids,
            lambda good: fanout.to_data_sets(sync, path_id, x, y, z, good),
            lambda d: sync.reference_to_image(path_id, x, y, z, [d])[0],
            lambda d: self._data_set_usable(d, path_id),
            _failed,
        )

    def _image_to_image(self, path_id: int, p: Params):
        sync = self.sync
        x, y = p.number("x"), p.number("y")
        ids = p.id_list("section_data_set_ids")
        _, seed_ds = sync.seed(path_id)
        space = seed_ds.reference_space_id

        def to_data_sets(good):
            ref = sync.image_to_reference_batch(path_id, [x], [y])
            return fanout.to_data_sets(sync, ref.reference_space_id, ref.x[0], ref.y[0],
                                       ref.z[0], good)

        return _fan_out(
            ids,
            to_data_sets,
            lambda d: sync.image_to_image(path_id, x, y, [d])[0],
            lambda d: self._data_set_usable(d, space),
            _failed,
        )

    def _image_to_image_2d(self, path_id: int, p: Params):
        sync = self.sync
        x, y = p.number("x"), p.number("y")
        ids = p.id_list("section_image_ids")
        _, seed_ds = sync.seed(path_id)
        images = self.catalog.section_images

        def failed(t):
            im = images.get(t)
            return _failed(None if im is None else im.data_set_id)

        return _fan_out(
            ids,
            lambda good: [b.to_msg(0) for b in
                          sync.image_to_image_2d_batch(path_id, [x], [y], good)],
            lambda t: sync.image_to_image_2d(path_id, x, y, [t])[0],
            lambda t: self._image_usable(t, seed_ds),
            failed,
        )

    def _structure_to_image(self, path_id: int, p: Params):
        sync = self.sync
        ids = p.id_list("structure_ids")
        ds = self.catalog.section_data_set(path_id)
        space = inferred.structure_center_space(ds.reference_space_id)
        try:
            sync.stack(ds.id)
            stack_ok = True
        except _TARGET_ERRORS:
            stack_ok = False

        def structures(good):
            batch = sync.structure_to_image_batch(path_id, good)
            return [batch.to_msg(i) for i in range(len(batch))]

        def structure_usable(s):
            if not stack_ok:
                return False
            try:
                self.catalog.structure_center(s, space)
            except _TARGET_ERRORS:
                return False
            return True

        return _fan_out(
            ids, structures, lambda s: sync.structure_to_image(path_id, [s])[0],
            structure_usable, lambda s: _failed(path_id),
        )

    def _data_set_usable(self, data_set_id: int, space: int) -> bool:
        """Whether a target data set can be reached from reference space ``space`` (its
        candidate images exist and are aligned, and a transform between the spaces is
        known): what makes ``reference_to_image`` / ``image_to_image`` answer it."""
        try:
            stack = self.sync.stack(data_set_id)
            self.sync.reference_transform(space, stack.data_set.reference_space_id)
        except _TARGET_ERRORS:
            return False
        return True

    def _image_usable(self, image_id: int, seed_ds) -> bool:
        """Whether ``image_to_image_2d`` can answer a target image from a seed in data
        set ``seed_ds``: the image, its alignments and (from another data set) a
        transform between the reference spaces."""
        c = self.catalog
        try:
            target = c.section_image(image_id)
            tds = c.section_data_set(target.data_set_id)
            if target.alignment2d is None or tds.alignment3d is None:
                return False
            if tds.id != seed_ds.id:
                self.sync.reference_transform(seed_ds.reference_space_id,
                                              tds.reference_space_id)
        except _TARGET_ERRORS:
            return False
        return True

    # -------------------------------------------------------------- RMA
    def rma(self, query: RmaQuery) -> dict:
        """The envelope of one RMA query (filtered, paged rows).

        ``start_row`` (default 0) and ``num_rows`` (default :data:`RMA_DEFAULT_ROWS`;
        ``all``: every row) page the rows, at most :data:`MAX_RMA_ROWS` per answer;
        ``total_rows`` counts every matching row, ``num_rows`` those sent.
        """
        rows = self._rows(query.model, query.include or "")
        for field, op, value in query.filters:
            wanted = set(value.split(",")) if op == "in" else {value}
            rows = [r for r in rows if field not in r or _rma_text(r[field]) in wanted]
        total = len(rows)
        start = query.start_row or 0
        if query.all_rows:
            count = MAX_RMA_ROWS
        else:
            count = RMA_DEFAULT_ROWS if query.num_rows is None else query.num_rows
        page = rows[start:start + min(count, MAX_RMA_ROWS)]
        return envelope(page, start_row=start, total_rows=total)

    def rma_model(self, model: str, rid: int, include: str) -> dict:
        """``/api/v2/data/{Model}/{id}.json``: one record."""
        if not re.fullmatch(r"[A-Z][A-Za-z0-9_]*", model):
            raise NotServedError(f"unknown model {model!r}")
        data = self.rma(RmaQuery(model, [("id", "eq", str(rid))], include=include))
        if not data["msg"]:
            raise UnknownIdError(model, rid, "not served here")
        return data

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
            raise InvalidParameterError("criteria", f"model {model!r} is not served here")
        return [rec.to_rma() for rec in list(groups[model].values())]

    # -------------------------------------------------------------- pixels
    def render(self, image_id: int, p: Params, *, tiles=None,
               full_resolution_sizes: bool = False) -> bytes:
        """The JPEG of one image_download region.

        ``tiles`` renders it instead of the service's own (a view of them: see
        :mod:`napari_allen_sync.server.downloads`); with ``full_resolution_sizes`` the request's
        ``width``/``height`` are read in full-resolution pixels (docs/annotation.md's other
        convention) and the answer is ``ceil(width / 2**downsample)`` pixels wide.

        The region is rendered in strips of at most :data:`STRIP_PIXELS` into one
        ``uint8`` buffer, and at most :data:`MAX_CONCURRENT_RENDERS` regions at once: a
        request's memory is bounded by about ``3 * MAX_DOWNLOAD_PIXELS`` bytes plus one
        strip and its JPEG.
        """
        from PIL import Image

        image = self.catalog.section_image(image_id)
        if self.tiles is None:
            raise NotServedError(f"this server has no pixels for image {image_id}")
        tiles = self.tiles if tiles is None else tiles
        d = p.integer("downsample", 0, low=0, high=MAX_DOWNSAMPLE)
        f = 2**d
        left = p.integer("left", image.x, low=-MAX_OFFSET, high=MAX_OFFSET)
        top = p.integer("top", image.y, low=-MAX_OFFSET, high=MAX_OFFSET)
        if full_resolution_sizes:
            width = -(-p.integer("width", image.width, low=1, high=MAX_DOWNLOAD_SIDE * f) // f)
            height = -(-p.integer("height", image.height, low=1, high=MAX_DOWNLOAD_SIDE * f)
                       // f)
        else:
            width = p.integer("width", -(-image.width // f), low=1, high=MAX_DOWNLOAD_SIDE)
            height = p.integer("height", -(-image.height // f), low=1, high=MAX_DOWNLOAD_SIDE)
        if max(width, height) > MAX_DOWNLOAD_SIDE or width * height > MAX_DOWNLOAD_PIXELS:
            raise InvalidParameterError(
                "width", f"width x height is at most {MAX_DOWNLOAD_PIXELS} pixels "
                         f"(4096 x 4096), each side at most {MAX_DOWNLOAD_SIDE}; got "
                         f"{width} x {height}: ask for a smaller region or a larger downsample",
                limit=MAX_DOWNLOAD_PIXELS)
        quality = p.integer("quality", JPEG_QUALITY, low=1, high=100)
        if not self._renders.acquire(timeout=RENDER_WAIT_S):
            raise ServerBusyError(f"{MAX_CONCURRENT_RENDERS} image_download regions are "
                                  "being rendered: try again shortly", retry_after=1)
        try:
            pixels = np.empty((height, width, 3), dtype=np.uint8)
            rows = max(1, STRIP_PIXELS // width)
            for r0 in range(0, height, rows):
                r1 = min(height, r0 + rows)
                strip = tiles.read_region(image, d, left - image.x,
                                               top + f * r0 - image.y, width, r1 - r0)
                strip = np.asarray(strip)
                if strip.shape != (r1 - r0, width, 3):
                    raise RuntimeError(f"tile source returned shape {strip.shape}, "
                                       f"expected {(r1 - r0, width, 3)}")
                pixels[r0:r1] = strip
                del strip
            buf = io.BytesIO()
            Image.frombuffer("RGB", (width, height), pixels, "raw", "RGB", 0, 1).save(
                buf, format="JPEG", quality=quality)
            del pixels
            return buf.getvalue()
        finally:
            self._renders.release()


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
