"""Image tiles for the session: a shared in-memory tile cache, the pyramid of a
section image, and warming the chunks napari will draw (off the GUI thread).

Imports neither napari nor Qt.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict

import numpy as np

from ..errors import AllenSyncError
from ..records import SectionImage

log = logging.getLogger(__name__)

__all__ = ["SETTLED_TIER_PIXELS", "TileCache", "cached_tiles", "image_levels", "warm_coarsest",
           "warm_view"]

#: The largest coarsest tier (pixels) :func:`warm_coarsest` keeps in its pyramid as an
#: array (about 3 MB of RGB): real Allen images' coarsest tiers are a few hundred
#: pixels a side.
SETTLED_TIER_PIXELS = 1024 * 1024


class TileCache:
    """A thread-safe in-memory LRU cache in front of a TileSource.

    napari re-reads the chunks of a multiscale layer each time the layer is re-sliced
    (a new transform, a pan, a zoom); with this cache a worker can render the chunks a
    view will need off the GUI thread (:func:`warm_view`), and the GUI thread only
    copies them.

    Parameters
    ----------
    tiles : TileSource
    max_bytes : int
        Memory budget.
    """

    def __init__(self, tiles, max_bytes: int = 768 * 2**20):
        self.tiles = tiles
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self._pyramids: OrderedDict = OrderedDict()  # image key → its pyramid (lazy)

    #: How many pyramids :meth:`pyramid` keeps (each a few dask graphs, no pixels).
    MAX_PYRAMIDS = 128

    def pyramid(self, image) -> list:
        """The image's pyramid reading through this cache, built once per image.

        Building one costs about 20 ms of dask graph construction (a click that
        re-prepared every target's pyramid spent most of its worker time there); the
        arrays are lazy and hold no pixels, so keeping them costs next to nothing.
        The same image gives the same list (napari's layer data is not replaced).
        """
        from ..images import image_pyramid

        key = (image.id, image.width, image.height, image.tier_count)
        with self._lock:
            levels = self._pyramids.get(key)
            if levels is not None:
                self._pyramids.move_to_end(key)
                return levels
        levels = image_pyramid(image, self)
        with self._lock:
            levels = self._pyramids.setdefault(key, levels)
            while len(self._pyramids) > self.MAX_PYRAMIDS:
                self._pyramids.popitem(last=False)
        return levels

    def read_region(self, image, downsample, left, top, width, height):
        """As :meth:`TileSource.read_region`, from memory when seen before."""
        key = (image.id, int(downsample), int(left), int(top), int(width), int(height))
        with self._lock:
            out = self._items.get(key)
            if out is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return out
            self.misses += 1
        out = np.asarray(self.tiles.read_region(image, downsample, left, top, width, height))
        out.setflags(write=False)
        with self._lock:
            if key not in self._items:
                self._items[key] = out
                self._bytes += out.nbytes
                while self._bytes > self.max_bytes and len(self._items) > 1:
                    _, old = self._items.popitem(last=False)
                    self._bytes -= old.nbytes
        return out


_TILE_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_TILE_CACHES_LOCK = threading.Lock()


def cached_tiles(tiles) -> TileCache:
    """The one :class:`TileCache` of a TileSource (created on first use)."""
    if isinstance(tiles, TileCache):
        return tiles
    with _TILE_CACHES_LOCK:
        try:
            cache = _TILE_CACHES.get(tiles)
        except TypeError:  # unhashable or not weak-referenceable: no sharing
            return TileCache(tiles)
        if cache is None:
            cache = TileCache(tiles)
            _TILE_CACHES[tiles] = cache
        return cache


def image_levels(image: SectionImage, tiles) -> list:
    """The image's pyramid: one lazy ``(h, w, 3)`` uint8 dask array per tier, level 0 in
    full-resolution sync pixels (row = y, column = x), read through the tile cache;
    built once per image (:meth:`TileCache.pyramid`). Its coarsest tier becomes an
    array once a worker has read it (:func:`warm_coarsest`)."""
    return cached_tiles(tiles).pyramid(image)


def _read_chunks(image, tiles, levels, level, rows, cols) -> list:
    """Read the chunks of ``levels[level]`` that cover ``rows`` × ``cols`` (tier pixels)
    straight from the tile cache, as :func:`napari_allen_sync.images.image_pyramid`'s
    chunks do (``read_region(image, d, c0·2^d, r0·2^d, c1 − c0, r1 − r0)``). Returns
    them as rows of chunks; none for a tier already in memory (:func:`warm_coarsest`).

    dask is not used here on purpose: napari computes dask arrays on the GUI thread
    with global dask callbacks that are not safe to run from two threads at once.
    """
    chunks = getattr(levels[level], "chunks", None)
    if chunks is None:  # an array (a settled coarsest tier): nothing to read
        return []
    f = 2**level
    row_chunks, col_chunks = chunks[:2]
    r_edges = np.concatenate([[0], np.cumsum(row_chunks)])
    c_edges = np.concatenate([[0], np.cumsum(col_chunks)])
    out = []
    for i in range(len(row_chunks)):
        r0, r1 = int(r_edges[i]), int(r_edges[i + 1])
        if r1 <= rows[0] or r0 >= rows[1]:
            continue
        row = []
        for j in range(len(col_chunks)):
            c0, c1 = int(c_edges[j]), int(c_edges[j + 1])
            if c1 <= cols[0] or c0 >= cols[1]:
                continue
            row.append(tiles.read_region(image, level, c0 * f, r0 * f, c1 - c0, r1 - r0))
        out.append(row)
    return out


def _stretch(world_from_data) -> np.ndarray:
    """Data pixels per world unit along rows and columns (of a rotated box's bounds)."""
    inv = np.linalg.inv(np.asarray(world_from_data, dtype=float))[:2, :2]
    return np.abs(inv).sum(axis=1)


def warm_view(image, tiles, levels, world_from_data, view) -> None:
    """Render now the chunks napari will read to draw a layer in a view.

    Parameters
    ----------
    image : SectionImage
    tiles : TileCache
        The cache the layer's pyramid reads through.
    levels : list of dask.array.Array (the last may be an array, :func:`warm_coarsest`)
        The layer's pyramid (built by :func:`image_levels`).
    world_from_data : numpy.ndarray
        The layer's 3 × 3 affine (row, col).
    view : (centre, zoom, box) or (centre, zoom, box, region)
        Camera centre (world row, col), zoom (screen pixels per world unit) and the
        grid cell size in screen pixels (rows, cols), which sets the tier; ``region``
        (screen pixels, default ``box``) sets the area rendered.
    """
    if view is None or not levels:
        return
    centre, zoom, box = (np.asarray(v, dtype=float) for v in view[:3])
    region = np.asarray(view[3], dtype=float) if len(view) > 3 else box
    requested = (box / float(zoom)) * _stretch(world_from_data)
    half = region / (2.0 * float(zoom))
    corners = np.array([[centre[0] + a * half[0], centre[1] + b * half[1], 1.0]
                        for a in (-1, 1) for b in (-1, 1)])
    inv = np.linalg.inv(np.asarray(world_from_data, dtype=float))
    data = (inv @ corners.T).T[:, :2]
    lo, hi = data.min(axis=0), data.max(axis=0)
    # napari's choice: the coarsest level that still has more pixels than the screen
    level = 0
    for d in range(len(levels)):
        if np.all(requested / 2**d > box):
            level = d
    shape = np.asarray(levels[level].shape[:2])
    lo_t = np.clip(np.floor(lo / 2**level), 0, shape)
    hi_t = np.clip(np.ceil(hi / 2**level) + 1, 0, shape)
    if np.all(hi_t > lo_t):
        _read_chunks(image, tiles, levels, level, (lo_t[0], hi_t[0]), (lo_t[1], hi_t[1]))


def warm_coarsest(image, tiles, levels) -> None:
    """Read the coarsest tier now and keep it in the pyramid as an array.

    napari draws the layer's thumbnail from the coarsest tier, and often the panel
    itself (a panel a few hundred pixels wide); the labels' ink is judged on it
    (:meth:`PanelLayout.ink <napari_allen_sync._napari.layout.PanelLayout.ink>`).
    Those reads run on the GUI thread, and computing a lazy tier costs dask's graph
    machinery each time, about 2 ms for a tier of one chunk: in a click whose four
    target sections change, 3 or 4 of them, 4-9 ms. So once its pixels are read here
    (a worker), the pyramid's last level becomes that tier as a read-only NumPy
    array, the same pixels (for a tier of one chunk, the tile cache's own array: no
    copy). The pyramid (:meth:`TileCache.pyramid`) is one list per image, so every
    later user of it finds the array; a layer already drawing the lazy tier keeps
    it (napari copies the list). A tier larger than :data:`SETTLED_TIER_PIXELS` stays
    lazy; a tile error leaves the tier lazy too, and surfaces where napari draws it.
    """
    level = len(levels) - 1
    shape = levels[level].shape
    if getattr(levels[level], "chunks", None) is None:
        return  # settled already
    try:
        rows = _read_chunks(image, cached_tiles(tiles), levels, level, (0, shape[0]),
                            (0, shape[1]))
    except AllenSyncError:
        raise
    except Exception:  # a tile error surfaces later, where napari draws
        log.debug("warming SectionImage %s failed", image.id, exc_info=True)
        return
    if int(shape[0]) * int(shape[1]) > SETTLED_TIER_PIXELS or not rows:
        return
    if len(rows) == 1 and len(rows[0]) == 1:
        tier = rows[0][0]  # the cache's own array, read-only already
    else:
        tier = np.concatenate([np.concatenate(row, axis=1) for row in rows], axis=0)
        tier.setflags(write=False)
    if tier.shape != tuple(shape) or tier.dtype != levels[level].dtype:
        return  # a source that renders otherwise: the lazy tier says so where drawn
    levels[level] = tier
