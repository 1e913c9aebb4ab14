"""Acceptance: the engine's answers agree with the phantom the demo images show."""

from __future__ import annotations

import numpy as np
import pytest

from demo_helpers import far_from_boundaries, structure_at_pixels
from napari_allen_sync.demo import (
    DEMO_ATLAS_ID,
    DEMO_SEED_DATA_SET_ID,
    DEMO_TARGET_DATA_SET_IDS,
    DemoTiles,
    demo_catalog,
    phantom,
)
from napari_allen_sync.synchronizer import Synchronizer

N_CANDIDATES = 4000
SPACING_UM = 200.0


@pytest.fixture(scope="module")
def clicks():
    """≥ 500 clicks on seed images, generated from known reference points on the
    seed sections' planes, each at least one section spacing from any boundary."""
    catalog = demo_catalog()
    ds = catalog.section_data_set(DEMO_SEED_DATA_SET_ID)
    images = catalog.images_of(ds.id)
    rng = np.random.default_rng(20240917)
    tvr = ds.alignment3d.tvr_matrix
    picks = rng.integers(0, len(images), N_CANDIDATES)
    ids, px, py, truth = [], [], [], []
    for k, u, v in zip(picks, rng.random(N_CANDIDATES), rng.random(N_CANDIDATES), strict=True):
        im = images[k]
        # A known point of the section plane: volume (vx, vy) on the slide, vz the depth.
        tsv = im.alignment2d.tsv_matrix
        vx, vy = tsv @ np.array([u * im.width, v * im.height, 1.0])
        vz = im.section_number * ds.section_thickness
        p = tvr @ np.array([vx, vy, vz, 1.0])
        # The pixel a user clicks on to point there (whole pixels, the stored inverse).
        x, y = np.rint(im.alignment2d.tvs_matrix @ np.array([vx, vy, 1.0]))
        ids.append(im.id)
        px.append(x)
        py.append(y)
        truth.append(p)
    truth = np.array(truth).T
    keep = far_from_boundaries(*truth, SPACING_UM)
    out = {
        "ids": np.array(ids)[keep],
        "x": np.array(px)[keep],
        "y": np.array(py)[keep],
        "truth": truth[:, keep],
        "structure": phantom.structure_id_at(*truth[:, keep]),
    }
    assert len(out["ids"]) >= 500, len(out["ids"])
    return out


def test_clicks_cover_many_structures(clicks):
    assert len(set(clicks["structure"].tolist())) >= 10


def test_image_to_reference_returns_the_clicked_point(clicks):
    sync = Synchronizer(demo_catalog())
    ref = sync.image_to_reference_batch(clicks["ids"], clicks["x"], clicks["y"])
    err = np.linalg.norm(ref.as_array().T - clicks["truth"], axis=0)
    # Clicks are whole pixels: within one pixel (≤ 1.6 µm × scale ≤ 1.1) of the point.
    resolution = demo_catalog().section_image(int(clicks["ids"][0])).resolution
    assert err.max() <= 1.1 * resolution * np.sqrt(2) * 0.5 + 1e-3


@pytest.mark.parametrize("target", DEMO_TARGET_DATA_SET_IDS)
def test_image_to_image_lands_in_the_clicked_structure(clicks, target):
    catalog = demo_catalog()
    sync = Synchronizer(catalog)
    (hit,) = sync.image_to_image_batch(clicks["ids"], clicks["x"], clicks["y"], [target])
    landed = ~hit.clamped
    if catalog.section_data_set(target).plane_of_section_id == 2:
        # One hemisphere only: clicks on the other side are clamped to the last section.
        assert landed.mean() > 0.3
    else:
        assert landed.mean() > 0.95
    got = structure_at_pixels(catalog, hit.section_image_id[landed], hit.x[landed], hit.y[landed])
    agree = np.mean(got == clicks["structure"][landed])
    assert agree >= 0.95, f"{agree:.3f} of {landed.sum()} clicks land in the clicked structure"


def test_image_to_atlas_colour_is_the_clicked_structure(clicks):
    catalog = demo_catalog()
    sync = Synchronizer(catalog)
    hit = sync.image_to_atlas_batch(clicks["ids"], clicks["x"], clicks["y"], DEMO_ATLAS_ID)
    tiles = DemoTiles(catalog, annotation=True)
    colours = {s.id: s.rgb for s in catalog.structures.values()}
    n = 150  # rendering one pixel at a time: a sample is enough
    agree = 0
    for k in range(n):
        plate = catalog.section_image(int(hit.section_image_id[k]))
        assert plate.annotated
        rgb = tiles.read_region(plate, 0, int(np.rint(hit.x[k])), int(np.rint(hit.y[k])), 1, 1)
        agree += tuple(rgb[0, 0]) == colours[int(clicks["structure"][k])]
    assert agree / n >= 0.95
