"""Synchronizing arrays larger than memory, chunk by chunk, with dask.

The functions here wrap the engine's batch forms in :func:`dask.array.map_blocks`, so
that millions of points (cell detections, tracing samples) stream through in chunks and
the same code runs unchanged on a ``dask.distributed`` cluster: the catalog travels to
the workers once (it pickles) and each worker builds its own derived tables.

Results are float64 arrays with one row per point and the columns of
:data:`IMAGE_SYNC_COLUMNS` (ids are exact in float64 up to 2**53) or
:data:`REFERENCE_COLUMNS`.

Examples
--------
>>> import dask.array as da                                          # doctest: +SKIP
>>> pts = da.from_npy_stack("cells/")                                 # doctest: +SKIP
>>> ref = image_to_reference(catalog, section_image_id, pts)          # doctest: +SKIP
>>> ref.compute()                                                     # doctest: +SKIP
"""

from __future__ import annotations

import weakref

import dask.array as da
import numpy as np

from .catalog import Catalog
from .errors import InvalidCoordinateError
from .results import ImageSyncBatch
from .synchronizer import Synchronizer
from .validation import as_id_list

__all__ = [
    "IMAGE_SYNC_COLUMNS",
    "REFERENCE_COLUMNS",
    "as_image_sync_batch",
    "image_to_atlas",
    "image_to_image",
    "image_to_reference",
    "reference_to_image",
]

#: Columns of an image-sync result array.
IMAGE_SYNC_COLUMNS = ("section_image_id", "section_number", "x", "y", "distance", "clamped")
#: Columns of a reference-point result array (µm in the seed data set's space).
REFERENCE_COLUMNS = ("x", "y", "z")

# One engine per catalog object in each process (workers included).
_ENGINES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _engine(catalog: Catalog) -> Synchronizer:
    found = _ENGINES.get(catalog)
    if found is None:
        found = _ENGINES[catalog] = Synchronizer(catalog)
    return found


def _points(points, columns: int) -> da.Array:
    arr = points if isinstance(points, da.Array) else da.asarray(points)
    if arr.ndim != 2 or arr.shape[1] != columns:
        raise InvalidCoordinateError(
            f"points must be an (N, {columns}) array, got shape {arr.shape}"
        )
    if arr.dtype.kind not in "iuf":
        raise InvalidCoordinateError(f"points must be numbers, got dtype {arr.dtype}")
    # one chunk across the columns, so every block holds whole points
    return arr.rechunk({1: columns}).astype(np.float64)


def _check(catalog, section_data_set_ids, seed=None):
    """Fail now, not at compute time, on unknown or unusable ids."""
    sync = _engine(catalog)
    if seed is not None:
        sync.seed(seed)
    for ds in as_id_list("section_data_set_ids", section_data_set_ids):
        sync.stack(ds)


def _pack(batch: ImageSyncBatch) -> np.ndarray:
    return np.column_stack(
        [
            batch.section_image_id.astype(np.float64),
            batch.section_number.astype(np.float64),
            batch.x,
            batch.y,
            batch.distance,
            batch.clamped.astype(np.float64),
        ]
    )


def as_image_sync_batch(array, section_data_set_id) -> ImageSyncBatch:
    """Turn a computed result array back into an :class:`ImageSyncBatch`."""
    a = np.asarray(array)
    return ImageSyncBatch(
        section_data_set_id,
        a[:, 0].astype(np.int64),
        a[:, 1].astype(np.int64),
        a[:, 2],
        a[:, 3],
        a[:, 4],
        a[:, 5].astype(bool),
    )


def image_to_reference(catalog: Catalog, section_image_id: int, points) -> da.Array:
    """Section pixels ``(N, 2)`` → reference µm ``(N, 3)``, lazily."""
    pts = _points(points, 2)
    _engine(catalog).seed(section_image_id)

    def block(b, catalog=catalog):
        r = _engine(catalog).image_to_reference_batch(section_image_id, b[:, 0], b[:, 1])
        return np.column_stack([r.x, r.y, r.z])

    return pts.map_blocks(block, dtype=np.float64, chunks=(pts.chunks[0], (3,)))


def _image_sync(pts, fn) -> da.Array:
    return pts.map_blocks(fn, dtype=np.float64, chunks=(pts.chunks[0], (len(IMAGE_SYNC_COLUMNS),)))


def image_to_image(catalog: Catalog, section_image_id: int, points, section_data_set_ids) -> dict:
    """Section pixels ``(N, 2)`` → one ``(N, 6)`` image-sync array per target data set."""
    pts = _points(points, 2)
    _check(catalog, section_data_set_ids, seed=section_image_id)
    out = {}
    for ds in section_data_set_ids:

        def block(b, catalog=catalog, ds=ds):
            (r,) = _engine(catalog).image_to_image_batch(section_image_id, b[:, 0], b[:, 1], [ds])
            return _pack(r)

        out[ds] = _image_sync(pts, block)
    return out


def image_to_atlas(catalog: Catalog, section_image_id: int, points, atlas_id: int) -> da.Array:
    """Section pixels ``(N, 2)`` → ``(N, 6)`` image-sync array on the atlas's plates."""
    pts = _points(points, 2)
    sync = _engine(catalog)
    sync.seed(section_image_id)
    sync.stack(catalog.atlas_data_set(atlas_id).id, kind="atlas")

    def block(b, catalog=catalog):
        return _pack(
            _engine(catalog).image_to_atlas_batch(section_image_id, b[:, 0], b[:, 1], atlas_id)
        )

    return _image_sync(pts, block)


def reference_to_image(
    catalog: Catalog, reference_space_id: int, points, section_data_set_ids
) -> dict:
    """Reference µm ``(N, 3)`` → one ``(N, 6)`` image-sync array per target data set."""
    pts = _points(points, 3)
    _check(catalog, section_data_set_ids)
    out = {}
    for ds in section_data_set_ids:

        def block(b, catalog=catalog, ds=ds):
            (r,) = _engine(catalog).reference_to_image_batch(
                reference_space_id, b[:, 0], b[:, 1], b[:, 2], [ds]
            )
            return _pack(r)

        out[ds] = _image_sync(pts, block)
    return out
