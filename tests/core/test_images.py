"""Lazy image pyramids over any TileSource."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from napari_allen_sync.images import VIEWS, image_pyramid, overlay_view, tier_shape, tile_view
from napari_allen_sync.source import TileSource
from synthetic import CountingTiles, tiered_image


def test_counting_tiles_is_a_tile_source():
    assert isinstance(CountingTiles(), TileSource)


@pytest.mark.parametrize(("width", "height", "tiers"), [(1001, 777, 4), (513, 1, 3), (1, 1, 1),
                                                       (8192, 4097, 7)])
def test_shapes_and_chunks_for_odd_sizes(width, height, tiers):
    tiles = CountingTiles()
    levels = image_pyramid(tiered_image(width, height, tiers), tiles, tile_size=256)
    assert len(levels) == tiers
    for d, level in enumerate(levels):
        rows, cols = -(-height // 2**d), -(-width // 2**d)
        image = tiered_image(width, height, tiers)
        assert level.shape == (rows, cols, 3) == (*tier_shape(image, d), 3)
        assert level.dtype == np.uint8
        assert all(c <= 256 for c in level.chunks[0] + level.chunks[1])
        assert level.chunks[2] == (3,)
    assert tiles.calls == []  # nothing rendered at construction


def test_one_call_per_computed_chunk_with_the_right_region():
    tiles = CountingTiles()
    levels = image_pyramid(tiered_image(1001, 777, 4), tiles, tile_size=256)
    block = levels[1].blocks[1, 1].compute()
    assert tiles.calls == [(1, 512, 512, 245, 133)]
    assert block.shape == (133, 245, 3)
    whole = levels[2].compute()
    assert len(tiles.calls) == 1 + levels[2].numblocks[0] * levels[2].numblocks[1]
    # Level pixels are tier pixels: row = y, column = x.
    assert whole[100, 200, 0] == 100 and whole[100, 200, 1] == 200 and whole[0, 0, 2] == 2


def test_default_tile_size_is_512():
    levels = image_pyramid(tiered_image(2000, 1500, 3), CountingTiles())
    assert levels[0].chunksize == (512, 512, 3)
    assert isinstance(levels[0], da.Array)


def test_bad_tiles_are_reported():
    class Wrong:
        def read_region(self, image, downsample, left, top, width, height):
            return np.zeros((height, width), np.uint8)

    level = image_pyramid(tiered_image(100, 100, 1), Wrong())[0]
    with pytest.raises(ValueError, match="read_region returned"):
        level.compute()


def test_tile_views_of_the_demo_are_distinct_layers():
    from napari_allen_sync.demo import DemoSource

    source = DemoSource()
    image = source.catalog.section_image(source.seed_image_id)
    assert tile_view(source.tiles, "default") is source.tiles
    names = {id(tile_view(source.tiles, v)) for v in VIEWS}
    assert len(names) == 5  # each view its own tile source ...
    a = image_pyramid(image, tile_view(source.tiles, "expression"))
    b = image_pyramid(image, source.tiles)
    assert a[-1].name != b[-1].name  # ... and its own dask cache
    mask = a[-1].compute()
    assert mask.shape == b[-1].shape and mask.dtype == np.uint8
    with pytest.raises(ValueError, match="view must be one of"):
        tile_view(source.tiles, "nissl")
    with pytest.raises(ValueError, match="offers no 'annotation' view"):
        tile_view(CountingTiles(), "annotation")
    assert tile_view(CountingTiles(), "default") is not None


@pytest.mark.parametrize("extra, want", [
    ({"products": [{"abbreviation": "Mouse", "name": "Mouse Brain"}], "expression": True},
     "expression"),
    ({"products": [{"abbreviation": "DevMouse"}, {"abbreviation": "Mouse"}]}, "expression"),
    ({"products": [{"abbreviation": "Connectivity", "name": "Mouse Connectivity"}]},
     "projection"),
    ({"product": "Mouse Connectivity", "stain": "fluorescence"}, "projection"),
    ({"product": "Reference Atlas", "stain": "nissl"}, None),
    ({}, None),
])
def test_overlay_view_from_rma_fields(extra, want):
    from napari_allen_sync.records import SectionDataSet

    ds = SectionDataSet(id=1, plane_of_section_id=1, section_thickness=25.0,
                        reference_space_id=9, extra=extra)
    assert overlay_view(ds) == want
