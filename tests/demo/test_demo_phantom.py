"""The phantom brain: anatomy, symmetry, speed, and the StructureCenters taken from it."""

from __future__ import annotations

import numpy as np
import pytest

from demo_helpers import structure_at_pixels
from napari_allen_sync.demo import DEMO_DATA_SET_IDS, demo_catalog, phantom
from napari_allen_sync.demo.centers import STRUCTURE_CENTERS_9, compute_structure_centers
from napari_allen_sync.demo.ontology import PAINTED, demo_structures, descendants_painted
from napari_allen_sync.synchronizer import Synchronizer


def test_every_structure_is_painted():
    labels = phantom.label_volume()
    assert labels.shape == (264, 160, 228)
    assert set(np.unique(labels)) == set(range(len(PAINTED) + 1))


@pytest.mark.parametrize(
    ("point", "acronym"),
    [
        ((800, 3200, 5000), 698),  # olfactory bulb at the front
        ((5000, 900, 7500), 315),  # isocortex on top
        ((4300, 3900, 7600), 477),  # striatum
        ((6825, 3825, 6475), 549),  # thalamus
        ((6500, 6300, 5900), 1097),  # hypothalamus at the bottom
        ((11400, 2000, 6500), 512),  # cerebellum at the back
        ((11700, 6200, 5900), 354),  # medulla at the back and bottom
        ((6600, 100, 5700), 0),  # above the brain
    ],
)
def test_anatomy_is_where_it_is_in_a_mouse(point, acronym):
    assert int(phantom.structure_id_at(*point)) == acronym


def test_hemispheres_mirror_about_the_midline():
    rng = np.random.default_rng(1)
    x, y, d = rng.uniform(0, 13200, 20000), rng.uniform(0, 8000, 20000), rng.uniform(0, 5700, 20000)
    left = phantom.structure_id_at(x, y, 5700 - d)
    right = phantom.structure_id_at(x, y, 5700 + d)
    assert np.array_equal(left, right)


def test_lookup_is_vectorized():
    """A million points in one call (its speed is measured by ``make bench``, not here:
    no timed assertions in tests)."""
    rng = np.random.default_rng(2)
    pts = [rng.uniform(0, e, 1_000_000) for e in phantom.EXTENT_UM]
    ids = phantom.structure_id_at(*pts)
    assert ids.shape == (1_000_000,) and ids.dtype == np.int64
    assert np.array_equal(ids[:1000], [int(phantom.structure_id_at(*p)) for p in
                                       zip(*(q[:1000] for q in pts), strict=True)])


def test_boundaries_are_smooth_not_voxel_steps():
    # Along a line crossing the top of the cortex the label changes once, at a
    # position that varies continuously with a sub-voxel shift of the line.
    ys = np.linspace(0, 2000, 4001)
    tops = []
    for shift in np.linspace(0, 50, 11):
        ids = phantom.structure_id_at(5000 + shift, ys, 7500 + shift)
        tops.append(ys[np.argmax(ids != 0)])
    steps = np.diff(tops)
    assert np.all(np.abs(steps) < 25)  # no 50 µm jumps


@pytest.mark.slow
def test_stored_centres_are_those_of_the_phantom():
    assert compute_structure_centers() == STRUCTURE_CENTERS_9


def test_centres_lie_inside_their_structures():
    for s in demo_structures():
        got = int(phantom.structure_id_at(*STRUCTURE_CENTERS_9[s.id]))
        assert got in descendants_painted(s.id) or (s.id == 997 and got != 0), s.acronym


@pytest.mark.parametrize("ds_id", DEMO_DATA_SET_IDS)
def test_structure_to_image_lands_inside_the_structure(ds_id):
    catalog = demo_catalog()
    sync = Synchronizer(catalog)
    painted = list(PAINTED)
    hit = sync.structure_to_image_batch(ds_id, painted)
    got = structure_at_pixels(catalog, hit.section_image_id, hit.x, hit.y)
    assert list(got) == painted
    assert not hit.clamped.any()
