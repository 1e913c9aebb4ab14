"""Rendered demo pixels: protocol, tiers, determinism, speed, what they show."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest

from napari_allen_sync.demo import DemoSource, DemoTiles, demo_catalog, demo_click
from napari_allen_sync.demo.render import pixel_reference_grid
from napari_allen_sync.errors import InvalidCoordinateError
from napari_allen_sync.images import image_pyramid, tier_shape
from napari_allen_sync.source import AtlasSource, TileSource

OUTLINE = (64, 64, 64)


@pytest.fixture(scope="module")
def seed():
    return demo_catalog().section_image(demo_click()[0])


@pytest.fixture(scope="module")
def plate():
    catalog = demo_catalog()
    return catalog.images_of(catalog.atlas_data_set(1).id)[67]


def test_protocols():
    source = DemoSource()
    assert isinstance(source, AtlasSource)
    assert isinstance(source.tiles, TileSource)


def test_region_shape_and_background(seed):
    tiles = DemoTiles()
    out = tiles.read_region(seed, 2, -400, -400, 64, 48)
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8
    assert np.all(out[:25, :25] == 255)  # outside the crop: white
    tier = seed.tier_count - 1
    rows, cols = tier_shape(seed, tier)
    whole = tiles.read_region(seed, tier, 0, 0, cols, rows)
    # The brain sits inside the image with margins: the border is blank slide.
    for edge in (whole[0], whole[-1], whole[:, 0], whole[:, -1]):
        assert np.all(edge >= 240)
    assert whole.min() < 200  # and there is stained tissue


def test_invalid_tier(seed):
    with pytest.raises(InvalidCoordinateError):
        DemoTiles().read_region(seed, seed.tier_count, 0, 0, 4, 4)


def test_deterministic_bytes(seed):
    a = DemoTiles().read_region(seed, 1, 3000, 2000, 300, 200)
    b = DemoTiles(demo_catalog()).read_region(seed, 1, 3000, 2000, 300, 200)
    assert np.array_equal(a, b)
    code = (
        "import hashlib; from napari_allen_sync.demo import DemoTiles, demo_catalog, demo_click;"
        "im = demo_catalog().section_image(demo_click()[0]);"
        "print(hashlib.sha256(DemoTiles().read_region(im, 1, 3000, 2000, 300, 200).tobytes())"
        ".hexdigest())"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == hashlib.sha256(a.tobytes()).hexdigest()


def test_tiers_agree_in_structure(plate):
    """A tier-2 tile of an annotated plate shows the structures of tier 0 there."""
    tiles = DemoTiles(annotation=True)
    coarse = tiles.read_region(plate, 2, 2048, 1024, 256, 256)
    fine = tiles.read_region(plate, 0, 2048, 1024, 1024, 1024)
    # Tier-2 pixel k is centred on full-resolution 4k + 1.5: compare with 4k + 2.
    fine = fine[2::4, 2::4]
    palette = np.array([s.rgb for s in demo_catalog().structures.values()] + [(255, 255, 255)])

    def plain(a):  # not on an (anti-aliased) outline: exactly a structure colour
        return np.any(np.all(a[:, :, None, :] == palette[None, None], axis=3), axis=2)

    ok = plain(coarse) & plain(fine)
    assert ok.mean() > 0.8
    agree = np.all(coarse == fine, axis=2)[ok].mean()
    assert agree > 0.97


def test_annotation_colours_are_the_structures(plate):
    catalog = demo_catalog()
    tiles = DemoTiles(annotation=True)
    rgb = tiles.read_region(plate, 3, 0, 0, 600, 500)
    p, i, r, _, _ = pixel_reference_grid(catalog, plate, 3, 0, 0, 600, 500)
    from napari_allen_sync.demo import phantom

    ids = phantom.structure_id_at(p, i, r)
    colours = {s.id: s.rgb for s in catalog.structures.values()}
    inside = ids != 0
    expected = np.array([colours[int(s)] for s in ids[inside]], float)
    got = rgb[inside].astype(float)
    # Every pixel is its structure's colour, or (on the anti-aliased outlines) that
    # colour blended towards the outline grey by one common weight.
    exact = np.all(got == expected, axis=1)
    assert exact.mean() > 0.9
    span = expected - np.array(OUTLINE, float)
    k = np.argmax(np.abs(span), axis=1)
    rows = np.arange(len(k))
    weight = (expected[rows, k] - got[rows, k]) / span[rows, k]
    blend = expected - weight[:, None] * span
    assert np.all((weight >= -0.01) & (weight <= 1.01))
    assert np.abs(blend - got).max() <= 1.5
    assert len(set(ids[inside][exact].tolist())) >= 6


def test_annotation_outlines_are_thin(plate):
    """Outlines are anti-aliased lines about one pixel wide at every tier."""
    palette = np.array([s.rgb for s in demo_catalog().structures.values()] + [(255, 255, 255)])
    for tier in (0, 2, 4):
        f = 2**tier
        rows, cols = tier_shape(plate, tier)
        h, w = min(rows, 400), min(cols, 400)
        top, left = (rows - h) // 2 * f, (cols - w) // 2 * f
        rgb = DemoTiles(annotation=True).read_region(plate, tier, left, top, w, h)
        plain = np.any(np.all(rgb[:, :, None, :] == palette[None, None], axis=3), axis=2)
        assert 0.8 < plain.mean() < 1.0, tier  # some outline, and only thin lines


def test_nissl_plate_without_annotation(plate):
    rgb = DemoTiles(annotation=False).read_region(plate, 3, 0, 0, 600, 500)
    inside = rgb.min(axis=2) < 240
    # Violet: blue above green in stained tissue.
    assert inside.mean() > 0.3
    assert np.mean(rgb[inside][:, 2].astype(int) - rgb[inside][:, 1]) > 10


def test_styles():
    catalog = demo_catalog()
    tiles = DemoTiles()
    styles = {tiles.style_of(catalog.images_of(d)[0]) for d in catalog.section_data_sets}
    assert styles == {"ish", "fluorescence", "annotation"}


def test_pyramid_of_a_demo_image(seed):
    levels = image_pyramid(seed, DemoTiles())
    small = levels[-1].compute()
    assert small.shape == (*tier_shape(seed, seed.tier_count - 1), 3)


@pytest.mark.parametrize("downsample", [0, 2, 4])
def test_tiles_of_every_tier_render(seed, downsample):
    """512-pixel tiles at several tiers render, the same each time (their speed is
    measured by ``make bench``, not here: no timed assertions in tests)."""
    tiles = DemoTiles()
    f = 2**downsample
    for k in range(3):
        rgb = tiles.read_region(seed, downsample, (1000 + 300 * k) * f // 4, 900 * f // 4,
                                512, 512)
        assert rgb.shape == (512, 512, 3) and rgb.dtype == np.uint8
        again = DemoTiles().read_region(seed, downsample, (1000 + 300 * k) * f // 4,
                                        900 * f // 4, 512, 512)
        assert np.array_equal(rgb, again)


@pytest.mark.parametrize("image_id, left, top, annotation", [
    (900210381, 4400, 3600, True),  # in-situ, striatum (strong expression)
    (900210269, 3000, 1500, True),  # in-situ, cortex
    (900960068, 3000, 2000, False),  # Nissl plate
])
def test_coarse_tiers_are_a_low_pass_of_fine_ones(image_id, left, top, annotation):
    """No aliasing: a tier-3 region shows the area average of what tier 0 shows there
    (the stains are linear in mipmapped textures), and is smoother, not noisier."""
    image = demo_catalog().section_image(image_id)
    tiles = DemoTiles(annotation=annotation)
    fine = tiles.read_region(image, 0, left, top, 512, 512).astype(float)
    coarse = tiles.read_region(image, 3, left, top, 64, 64).astype(float)
    average = fine.reshape(64, 8, 64, 8, 3).mean(axis=(1, 3))
    assert np.abs(average.mean(axis=(0, 1)) - coarse.mean(axis=(0, 1))).max() < 4
    assert coarse.std(axis=(0, 1)).max() < fine.std(axis=(0, 1)).max()
