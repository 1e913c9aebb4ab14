"""The session's image tiles (``session/tiles.py``): a worker reads a pyramid's coarsest
tier and leaves it in the pyramid as an array, so that napari (the thumbnail, a small
panel) and the labels' ink read it on the GUI thread without computing a lazy tier."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_allen_sync.errors import AllenSyncError
from napari_allen_sync.images import image_pyramid
from napari_allen_sync.session import tiles as session_tiles
from napari_allen_sync.session import workflow
from napari_allen_sync.session.tiles import (
    TileCache,
    cached_tiles,
    image_levels,
    warm_coarsest,
    warm_view,
)
from synthetic import CountingTiles, tiered_image
from workflow_run import run

demo = pytest.importorskip("napari_allen_sync.demo")


def test_a_click_leaves_each_new_sections_coarsest_tier_as_its_pixels(source, seed):
    """After a click's worker, every target's pyramid (the one list kept per image) ends
    with a read-only array holding the lazy tier's pixels; the finer tiers stay lazy."""
    _img_id, x, y = demo.demo_click()
    request = workflow.SyncRequest(1, seed.id, float(x), float(y),
                                   tuple(demo.DEMO_TARGET_DATA_SET_IDS), demo.DEMO_ATLAS_ID)
    _steps, outcome = run(workflow.synchronize_click(source, request))
    targets = [h for h in outcome.hits[1:] if h.levels is not None]
    assert len(targets) == len(outcome.hits) - 1
    for h in targets:
        tiles = workflow.tiles_for(source, h.key, "annotation")
        low = h.levels[-1]
        assert isinstance(low, np.ndarray) and not low.flags.writeable, h.key
        assert all(isinstance(level, da.Array) for level in h.levels[:-1]), h.key
        assert image_levels(h.image, tiles) is h.levels  # every later user finds it
        lazy = image_pyramid(h.image, tiles)[-1]  # a fresh lazy pyramid, rendered anew
        np.testing.assert_array_equal(low, np.asarray(lazy))


@settings(max_examples=40, deadline=None)
@given(width=st.integers(1, 700), height=st.integers(1, 700), tiers=st.integers(1, 4),
       tile_size=st.integers(16, 300))
def test_a_settled_tier_equals_the_lazy_one(width, height, tiers, tile_size):
    """Any size, any chunking (one chunk or many): the array put in the pyramid is the
    lazy tier's pixels, in place of the last level only."""
    image = tiered_image(width, height, tiers)
    cache = TileCache(CountingTiles())
    levels = image_pyramid(image, cache, tile_size=tile_size)
    expected = np.asarray(levels[-1])
    finer = list(levels[:-1])
    warm_coarsest(image, cache, levels)
    assert isinstance(levels[-1], np.ndarray) and not levels[-1].flags.writeable
    np.testing.assert_array_equal(levels[-1], expected)
    assert all(a is b for a, b in zip(levels[:-1], finer, strict=True))


def test_a_one_chunk_tier_is_the_caches_own_array():
    """A tier of one chunk is not copied: the pyramid holds the tile cache's array."""
    image = tiered_image(300, 200, 2)
    tiles = CountingTiles()
    cache = cached_tiles(tiles)
    levels = cache.pyramid(image)
    warm_coarsest(image, tiles, levels)
    reads = len(tiles.calls)
    assert levels[-1] is cache.read_region(image, 1, 0, 0, 150, 100)
    assert len(tiles.calls) == reads  # from memory
    warm_coarsest(image, tiles, levels)  # settled already: nothing read again
    assert len(tiles.calls) == reads


def test_a_tier_too_large_stays_lazy(monkeypatch):
    monkeypatch.setattr(session_tiles, "SETTLED_TIER_PIXELS", 100 * 100 - 1)
    image = tiered_image(100, 100, 1)
    cache = TileCache(CountingTiles())
    levels = image_pyramid(image, cache)
    warm_coarsest(image, cache, levels)
    assert isinstance(levels[-1], da.Array)
    assert cache.misses == 1  # read all the same: napari draws it from the cache


def test_a_failing_tile_leaves_the_tier_lazy_and_an_allen_error_is_raised():
    """A tile that fails in a way of its own stays for napari to meet where it draws;
    the package's own errors (a network failure told to the user) go to the caller."""
    image = tiered_image(64, 64, 1)
    broken = TileCache(CountingTiles(fail=ValueError("bad bytes")))
    levels = image_pyramid(image, broken)
    warm_coarsest(image, broken, levels)
    assert isinstance(levels[-1], da.Array)
    offline = TileCache(CountingTiles(fail=AllenSyncError("tile 7 unavailable")))
    levels = image_pyramid(image, offline)
    with pytest.raises(AllenSyncError, match="tile 7"):
        warm_coarsest(image, offline, levels)
    assert isinstance(levels[-1], da.Array)


def test_warming_a_view_drawn_from_a_settled_tier_reads_nothing():
    """A view small enough to be drawn from the coarsest tier: once that tier is an
    array, warming the view has nothing left to read."""
    image = tiered_image(400, 300, 3)
    tiles = CountingTiles()
    cache = TileCache(tiles)
    levels = image_pyramid(image, cache, tile_size=64)
    warm_coarsest(image, cache, levels)
    reads = len(tiles.calls)
    view = ((150.0, 200.0), 0.2, (60.0, 80.0))  # the whole image in 80 × 60 px
    warm_view(image, cache, levels, np.eye(3), view)
    assert len(tiles.calls) == reads
