"""Lazy image pyramids: one dask array per tier of a section image.

:func:`image_pyramid` turns any :class:`~napari_allen_sync.source.TileSource` (the demo
renderer, an HTTP client of Allen's ``image_download``, a server) into the multiscale
data napari shows: tier ``d`` is an array of shape ``(ceil(height / 2^d),
ceil(width / 2^d), 3)`` whose chunks call ``tiles.read_region`` only when computed.
Level 0 pixels are sync pixels (row = y, column = x), so a napari layer built from
the list needs no transform to put clicks in Allen's coordinates.

This module imports neither napari nor Qt.

Examples
--------
>>> from napari_allen_sync.demo import DemoSource
>>> source = DemoSource()
>>> image = source.catalog.section_image(source.seed_image_id)
>>> levels = image_pyramid(image, source.tiles)
>>> [lvl.shape for lvl in levels][-1] == tier_shape(image, image.tier_count - 1) + (3,)
True
"""

from __future__ import annotations

import math

import dask.array as da
import numpy as np

from .records import SectionImage
from .source import TileSource

__all__ = ["OVERLAY_VIEWS", "VIEWS", "image_pyramid", "overlay_view", "tier_shape", "tile_view"]

#: Ways to see an image (``tiles.view(name)``), as Allen's ``image_download`` offers them:
#:
#: - ``"default"``: what the source shows unless told otherwise (annotated atlas plates
#:   with their annotation, every other image as stained);
#: - ``"image"``: the stained section itself (atlas plates as plain Nissl);
#: - ``"annotation"``: atlas plates with the atlas annotation drawn
#:   (``annotation=true&atlas={id}``; other images as stained);
#: - ``"expression"``: the expression mask of an in-situ image (``view=expression``);
#: - ``"projection"``: the projection mask of a connectivity image (``view=projection``).
VIEWS = ("default", "image", "annotation", "expression", "projection")
#: The views meant as a second, additive layer over an image.
OVERLAY_VIEWS = ("expression", "projection")


def tile_view(tiles: TileSource, view: str = "default") -> TileSource:
    """``tiles`` seen as ``view`` (one of :data:`VIEWS`).

    Tile sources that know views (:class:`~napari_allen_sync.demo.DemoTiles`,
    :class:`~napari_allen_sync.remote.RemoteTileSource`) have a ``view(name)`` method
    returning one object per view (so each view is cached apart); any other tile source
    only has ``"default"``.

    Raises
    ------
    ValueError
        For a name not in :data:`VIEWS`, or a view the tile source does not offer.
    """
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    if view == "default":
        return tiles
    method = getattr(tiles, "view", None)
    if not callable(method):
        raise ValueError(f"{type(tiles).__name__} offers no {view!r} view")
    return method(view)


def overlay_view(data_set) -> str | None:
    """The overlay a data set's images have: ``"projection"`` for connectivity
    experiments, ``"expression"`` for in-situ hybridization, None otherwise (atlas
    plates, or nothing known).

    Decided from the record's RMA fields: a product whose name or abbreviation names
    connectivity, else ``expression: true`` (Allen's SectionDataSet flag of in-situ
    sets) or an in-situ product (Mouse, DevMouse).
    """
    extra = getattr(data_set, "extra", None) or {}
    products = []
    for key in ("product", "products"):
        value = extra.get(key)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                products += [str(item.get("abbreviation") or ""), str(item.get("name") or "")]
            elif item:
                products.append(str(item))
    text = " ".join(products).lower()
    if "connectivity" in text:
        return "projection"
    if extra.get("expression") is True or extra.get("stain") == "ish":
        return "expression"
    if any(p in ("mouse", "devmouse", "mouse brain", "developing mouse brain")
           for p in (q.lower() for q in products)):
        return "expression"
    return None


def tier_shape(image: SectionImage, downsample: int) -> tuple[int, int]:
    """``(rows, columns)`` of tier ``downsample`` of an image's crop.

    Tier d is ``2**d`` times smaller than full resolution, rounded up, so that the
    last row and column of a tier cover the crop's last full-resolution pixels.

    Examples
    --------
    >>> from napari_allen_sync.records import SectionImage
    >>> tier_shape(SectionImage(id=1, data_set_id=1, section_number=1, width=1001,
    ...                         height=500, tier_count=4), 3)
    (63, 126)
    """
    if downsample < 0:
        raise ValueError(f"downsample must be ≥ 0, got {downsample}")
    f = 2**downsample
    return math.ceil(image.height / f), math.ceil(image.width / f)


def _chunks(length: int, size: int) -> tuple[int, ...]:
    full, rest = divmod(length, size)
    return (size,) * full + ((rest,) if rest else ())


def image_pyramid(image: SectionImage, tiles: TileSource, tile_size: int = 512) -> list[da.Array]:
    """One lazy RGB dask array per tier ``0 … tier_count − 1`` of an image.

    Parameters
    ----------
    image : SectionImage
        The image (or AtlasImage); its crop (``width``, ``height``) is level 0.
    tiles : TileSource
        What renders or fetches regions: ``tiles.read_region(image, downsample, left,
        top, width, height)``, called once per chunk when the chunk is computed.
    tile_size : int
        Chunk edge in pixels of each tier.

    Returns
    -------
    list of dask.array.Array
        Tier ``d`` has shape ``(ceil(height / 2**d), ceil(width / 2**d), 3)``, dtype
        uint8 and chunks ``(tile_size, tile_size, 3)``. Building the list does no work.
    """
    if tile_size < 1:
        raise ValueError(f"tile_size must be ≥ 1, got {tile_size}")
    levels = []
    for d in range(max(1, image.tier_count)):
        rows, cols = tier_shape(image, d)
        chunks = (_chunks(rows, tile_size), _chunks(cols, tile_size), (3,))
        levels.append(
            da.map_blocks(
                _read_block,
                dtype=np.uint8,
                chunks=chunks,
                meta=np.empty((0, 0, 3), np.uint8),
                name=f"allen-image-{image.id}-tier-{d}-{tile_size}-{_token(tiles)}",
                image=image,
                tiles=tiles,
                downsample=d,
                tile_size=tile_size,
            )
        )
    return levels


def _token(tiles) -> str:
    """Distinguishes tile sources in dask's graph names (one source, one cache)."""
    return f"{type(tiles).__name__}-{id(tiles):x}"


def _read_block(image, tiles, downsample, tile_size, block_info=None):
    info = block_info[None]
    (r0, r1), (c0, c1), _ = info["array-location"]
    f = 2**downsample
    out = tiles.read_region(image, downsample, c0 * f, r0 * f, c1 - c0, r1 - r0)
    out = np.asarray(out)
    if out.shape != (r1 - r0, c1 - c0, 3) or out.dtype != np.uint8:
        raise ValueError(
            f"{type(tiles).__name__}.read_region returned {out.shape} {out.dtype} for "
            f"SectionImage {image.id} tier {downsample}, expected "
            f"{(r1 - r0, c1 - c0, 3)} uint8"
        )
    return out
