"""Expression and projection overlays drawn into a section's own image.

A target whose overlay is on shows its section composited with the section's mask
(Allen's ``view=expression`` for in-situ data sets, ``view=projection`` for
connectivity), in its one image layer: no second layer, so napari's grid keeps two
layers a cell. The composite is what napari would draw with the mask as a second
layer over the image (:data:`OVERLAY_STYLES`):

- **projection** (fluorescence, dark-field): the mask's intensity ``m`` (its brightest
  channel, 0–255) is *added* to the green channel, clipped at 255 (napari's
  ``"green"`` colormap with additive blending): a black mask pixel leaves the image
  as it is, signal adds green light.
- **expression** (bright-field in-situ images, nearly white where there is no
  tissue, where added light would show nothing): each channel becomes the *minimum*
  of the image and the heat colour of ``m``, from white (``m = 0``: the image
  unchanged) through yellow to red (strong expression, as the heat colours of
  Allen's expression view); stained tissue takes the colour of its expression.

Both are one lookup table of 256 colours (:func:`overlay_lut`) and one uint8
operation (:func:`composite`). :class:`OverlayTiles` is a
:class:`~napari_allen_sync.source.TileSource` of composites, and
:func:`overlay_tiles` keeps one cache of them per tile source and kind, so a section
composited once (its pyramid and the tiles drawn) is shown again at once: the
overlay toggled off and on, a section seen again.

This module imports neither napari nor Qt.

Examples
--------
>>> import numpy as np
>>> image = np.full((1, 2, 3), 200, np.uint8)
>>> mask = np.array([[[0, 0, 0], [100, 100, 100]]], np.uint8)
>>> composite(image, mask, "projection")[0].tolist()
[[200, 200, 200], [200, 255, 200]]
>>> composite(image, mask, "expression")[0, 0].tolist()
[200, 200, 200]
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

from .errors import InvalidParameterError
from .session.tiles import TileCache, cached_tiles

__all__ = [
    "OVERLAY_STYLES",
    "OverlayTiles",
    "composite",
    "mask_intensity",
    "overlay_lut",
    "overlay_tiles",
]

#: How each overlay kind is drawn: ``(blending, colours)``. The colours are evenly
#: spaced stops (RGB, 0–1) of a linear colormap from mask 0 to mask 255, as napari's
#: ``Colormap`` reads them; the blending is napari's name for the operation.
OVERLAY_STYLES = {
    "expression": ("minimum", ((1.0, 1.0, 1.0), (1.0, 0.85, 0.2), (0.9, 0.1, 0.0))),
    "projection": ("additive", ((0.0, 0.0, 0.0), (0.0, 1.0, 0.0))),
}


def _style(kind: str):
    try:
        return OVERLAY_STYLES[kind]
    except KeyError:
        raise InvalidParameterError(
            "overlay", f"{kind!r} is not one of {tuple(OVERLAY_STYLES)}"
        ) from None


_LUTS: dict = {}


def overlay_lut(kind: str) -> np.ndarray:
    """The colour each mask intensity 0–255 is drawn with: ``(256, 3)`` uint8.

    Linear interpolation between the evenly spaced stops of :data:`OVERLAY_STYLES`
    (napari's ``Colormap`` with contrast limits 0–255), rounded to the nearest integer.

    Raises
    ------
    InvalidParameterError
        For a kind not in :data:`OVERLAY_STYLES`.
    """
    lut = _LUTS.get(kind)
    if lut is None:
        stops = np.asarray(_style(kind)[1], dtype=float)
        where = np.linspace(0.0, 1.0, len(stops))
        v = np.arange(256) / 255.0
        colours = np.stack([np.interp(v, where, stops[:, c]) for c in range(3)], axis=1)
        lut = np.rint(colours * 255.0).astype(np.uint8)
        lut.setflags(write=False)
        _LUTS[kind] = lut
    return lut


def mask_intensity(mask) -> np.ndarray:
    """A mask region as one intensity a pixel: its brightest channel (uint8)."""
    mask = np.asarray(mask)
    if mask.ndim != 3:
        return mask
    # channel by channel: numpy's max over a last axis of 3 is ~20× slower
    out = np.maximum(mask[..., 0], mask[..., 1])
    for c in range(2, mask.shape[-1]):
        np.maximum(out, mask[..., c], out=out)
    return out


def composite(image, mask, kind: str) -> np.ndarray:
    """An RGB section region with its mask drawn in (see the module's documentation).

    Parameters
    ----------
    image : array_like
        ``(rows, cols, 3)`` uint8: the stained section.
    mask : array_like
        ``(rows, cols, 3)`` or ``(rows, cols)`` uint8: its expression or projection
        mask over the same region.
    kind : str
        ``"expression"`` or ``"projection"``.

    Returns
    -------
    numpy.ndarray
        ``(rows, cols, 3)`` uint8, a new array. A mask of 0 leaves every pixel as it is.

    Raises
    ------
    InvalidParameterError
        For an unknown kind, or an image and mask that do not cover the same pixels.
    """
    blending = _style(kind)[0]
    image = np.asarray(image, dtype=np.uint8)
    m = mask_intensity(np.asarray(mask, dtype=np.uint8))
    if image.ndim != 3 or image.shape[-1] != 3 or m.shape != image.shape[:2]:
        raise InvalidParameterError(
            "overlay",
            f"a {kind} mask of shape {np.shape(mask)} cannot be drawn into an "
            f"image of shape {image.shape} (expected (rows, cols, 3) for both)",
        )
    lut = overlay_lut(kind)
    out = np.empty_like(image)
    for c in range(3):  # one lookup a channel (a gather of RGB rows is ~3× slower)
        if not lut[:, c].any() and blending == "additive":  # nothing added (green)
            out[..., c] = image[..., c]
            continue
        colour = lut[:, c].take(m)
        if blending == "minimum":
            np.minimum(image[..., c], colour, out=out[..., c])
        else:  # additive, clipped
            total = image[..., c].astype(np.uint16)
            total += colour
            np.minimum(total, 255, out=total)
            out[..., c] = total
    return out


class OverlayTiles:
    """A tile source of composites: each region of an image with its mask drawn in.

    Parameters
    ----------
    image_tiles, mask_tiles : TileSource
        Where the stained regions and the mask regions are read (both through their
        caches, so the plain image's tiles are shared with its own layer).
    kind : str
        ``"expression"`` or ``"projection"``.
    """

    def __init__(self, image_tiles, mask_tiles, kind: str):
        _style(kind)
        self.image_tiles = image_tiles
        self.mask_tiles = mask_tiles
        self.kind = kind

    def read_region(self, image, downsample, left, top, width, height) -> np.ndarray:
        """As :meth:`TileSource.read_region <napari_allen_sync.source.TileSource>`: the
        region of the composite."""
        args = (image, downsample, left, top, width, height)
        return composite(
            self.image_tiles.read_region(*args), self.mask_tiles.read_region(*args), self.kind
        )


#: Memory for the composites of one tile source and kind (the stained and the mask
#: tiles they are made of have their own caches).
OVERLAY_CACHE_BYTES = 256 * 2**20

_OVERLAY_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def overlay_tiles(tiles, kind: str) -> TileCache:
    """The one cache of composites (:class:`OverlayTiles`) of a tile source and kind.

    Its :meth:`~napari_allen_sync.session.tiles.TileCache.pyramid` gives each section's
    composite pyramid, the same list every time.

    Raises
    ------
    InvalidParameterError
        For an unknown kind, or a tile source that offers no such mask view.
    """
    from .images import tile_view

    _style(kind)
    with _LOCK:
        try:
            per_kind = _OVERLAY_CACHES.setdefault(tiles, {})
        except TypeError:  # not weak-referenceable: one cache for this call only
            per_kind = {}
        cache = per_kind.get(kind)
        if cache is not None:
            return cache
    try:
        mask = tile_view(tiles, kind)
    except ValueError as exc:
        raise InvalidParameterError(
            "overlay", f"this source draws no {kind} overlay ({exc})"
        ) from None
    made = TileCache(
        OverlayTiles(cached_tiles(tiles), cached_tiles(mask), kind), max_bytes=OVERLAY_CACHE_BYTES
    )
    with _LOCK:
        return per_kind.setdefault(kind, made)
