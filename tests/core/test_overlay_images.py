"""Overlays drawn into a section's image, without a display: the composite's arithmetic
(properties for any image and mask), its tile source and cache, and the worker step
that loads a target's overlay."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from napari_allen_sync.errors import InvalidParameterError
from napari_allen_sync.overlay_images import (
    OVERLAY_STYLES,
    OverlayTiles,
    composite,
    mask_intensity,
    overlay_lut,
    overlay_tiles,
)
from workflow_run import run

demo = pytest.importorskip("napari_allen_sync.demo")

KINDS = tuple(OVERLAY_STYLES)
SHAPES = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12)


@st.composite
def image_and_mask(draw):
    """An RGB uint8 image and an RGB or single-channel uint8 mask of its size."""
    rows, cols = draw(SHAPES)
    image = draw(hnp.arrays(np.uint8, (rows, cols, 3)))
    channels = draw(st.sampled_from([(3,), ()]))
    mask = draw(hnp.arrays(np.uint8, (rows, cols, *channels)))
    return image, mask


# ---------------------------------------------------------------- arithmetic
@settings(max_examples=60, deadline=None)
@given(pair=image_and_mask(), kind=st.sampled_from(KINDS))
def test_shape_and_dtype_are_kept_and_the_inputs_untouched(pair, kind):
    image, mask = pair
    before = image.copy(), mask.copy()
    out = composite(image, mask, kind)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert out is not image
    np.testing.assert_array_equal(image, before[0])
    np.testing.assert_array_equal(mask, before[1])


@settings(max_examples=60, deadline=None)
@given(pair=image_and_mask(), kind=st.sampled_from(KINDS))
def test_a_mask_of_zero_leaves_the_image_unchanged(pair, kind):
    image, mask = pair
    np.testing.assert_array_equal(composite(image, np.zeros_like(mask), kind), image)
    # pixel by pixel: wherever the mask is 0, whatever it is elsewhere
    out = composite(image, mask, kind)
    zero = mask_intensity(mask) == 0
    np.testing.assert_array_equal(out[zero], image[zero])


@settings(max_examples=60, deadline=None)
@given(pair=image_and_mask(), more=st.integers(0, 255), kind=st.sampled_from(KINDS))
def test_the_result_is_monotone_in_the_mask(pair, more, kind):
    """More signal: a projection only adds green light, an expression only darkens
    towards its heat colour; never the other way."""
    image, mask = pair
    stronger = np.maximum(mask, np.uint8(more))
    weak = composite(image, mask, kind).astype(int)
    strong = composite(image, stronger, kind).astype(int)
    if OVERLAY_STYLES[kind][0] == "additive":
        assert np.all(strong >= weak) and np.all(weak >= image)
    else:
        assert np.all(strong <= weak) and np.all(weak <= image)


@settings(max_examples=40, deadline=None)
@given(pair=image_and_mask())
def test_a_projection_adds_its_intensity_to_green_only(pair):
    image, mask = pair
    out = composite(image, mask, "projection").astype(int)
    m = mask_intensity(mask).astype(int)
    np.testing.assert_array_equal(out[..., [0, 2]], image[..., [0, 2]])
    np.testing.assert_array_equal(out[..., 1], np.minimum(image[..., 1].astype(int) + m, 255))


@settings(max_examples=40, deadline=None)
@given(pair=image_and_mask())
def test_an_expression_is_the_minimum_with_its_heat_colour(pair):
    image, mask = pair
    lut = overlay_lut("expression")
    out = composite(image, mask, "expression")
    np.testing.assert_array_equal(out, np.minimum(image, lut[mask_intensity(mask)]))


def test_the_heat_map_runs_from_white_through_yellow_to_red():
    lut = overlay_lut("expression").astype(int)
    assert lut[0].tolist() == [255, 255, 255]  # no expression: the image as it is
    assert lut[255].tolist() == [230, 26, 0]  # strong expression: red
    r, g, b = lut[128]
    assert r > 240 and 200 < g < 230 and b < 60  # yellow half-way
    assert np.all(np.diff(lut, axis=0) <= 0)  # each channel only darkens
    green = overlay_lut("projection").astype(int)
    assert green[:, 1].tolist() == list(range(256)) and not green[:, [0, 2]].any()


def test_unknown_kind_and_mismatched_mask_are_refused_by_name():
    image = np.zeros((4, 5, 3), np.uint8)
    with pytest.raises(InvalidParameterError, match="'annotation' is not one of"):
        composite(image, np.zeros((4, 5), np.uint8), "annotation")
    with pytest.raises(InvalidParameterError, match=r"mask of shape \(4, 4\)"):
        composite(image, np.zeros((4, 4), np.uint8), "expression")


# ---------------------------------------------------------------- tiles and cache
class _Flat:
    """A tile source of one colour, counting its reads."""

    def __init__(self, value):
        self.value = value
        self.reads = 0

    def read_region(self, image, downsample, left, top, width, height):
        self.reads += 1
        return np.full((height, width, 3), self.value, np.uint8)


def test_overlay_tiles_composite_each_region():
    from napari_allen_sync.records import SectionImage

    image = SectionImage(id=7, data_set_id=1, section_number=1, width=10, height=6, tier_count=2)
    tiles = OverlayTiles(_Flat(100), _Flat(200), "projection")
    region = tiles.read_region(image, 0, 2, 1, 4, 3)
    assert region.shape == (3, 4, 3)
    assert region[0, 0].tolist() == [100, 255, 100]


def test_one_cache_per_source_and_kind_one_pyramid_per_section(source):
    ds_id = demo.DEMO_TARGET_DATA_SET_IDS[0]
    image = source.catalog.images_of(ds_id)[5]
    cache = overlay_tiles(source.tiles, "expression")
    assert overlay_tiles(source.tiles, "expression") is cache
    assert overlay_tiles(source.tiles, "projection") is not cache
    assert cache.pyramid(image) is cache.pyramid(image)
    with pytest.raises(InvalidParameterError, match="no expression overlay"):
        overlay_tiles(_Flat(0), "expression")


@pytest.mark.parametrize("ds_id", tuple(demo.DEMO_TARGET_DATA_SET_IDS))
def test_load_overlay_is_the_section_with_its_mask_drawn_in(source, ds_id):
    from napari_allen_sync.images import overlay_view, tier_shape, tile_view
    from napari_allen_sync.session import workflow

    kind = overlay_view(source.catalog.section_data_set(ds_id))
    assert kind in KINDS
    images = source.catalog.images_of(ds_id)
    image = images[len(images) // 2]  # a section through the labelled anatomy
    steps, ov = run(workflow.load_overlay(source, f"ds:{ds_id}", image, kind))
    assert steps and ov.key == f"ds:{ds_id}" and ov.kind == kind and ov.image is image
    tier = len(ov.levels) - 1
    h, w = tier_shape(image, tier)
    stained = np.asarray(source.tiles.read_region(image, tier, 0, 0, w, h))
    mask = np.asarray(tile_view(source.tiles, kind).read_region(image, tier, 0, 0, w, h))
    low = np.asarray(ov.levels[-1])
    np.testing.assert_array_equal(low, composite(stained, mask, kind))
    assert mask.max() > 0 and not np.array_equal(low, stained)  # the overlay shows
    # the same section again: the same pyramid, its coarsest tier from memory
    cache = overlay_tiles(source.tiles, kind)
    misses = cache.misses
    _, again = run(workflow.load_overlay(source, f"ds:{ds_id}", image, kind))
    assert again.levels is ov.levels and cache.misses == misses


def test_load_overlay_refuses_what_is_not_an_overlay(source):
    from napari_allen_sync.session import workflow

    seed = source.catalog.section_image(demo.demo_click()[0])
    with pytest.raises(InvalidParameterError, match="overlay"):
        run(workflow.load_overlay(source, "ds:1", seed, "annotation"))


def test_imports_neither_napari_nor_qt():
    code = (
        "import sys; import napari_allen_sync.overlay_images\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('napari', 'qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'vispy'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == ""
