"""The engine's invariants on synthetic catalogs whose stored inverses are exact."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine_fixtures import make_data_set, synthetic_catalog
from napari_allen_sync import inferred
from napari_allen_sync.arithmetic import MIRROR_9_10_UM
from napari_allen_sync.catalog import Catalog
from napari_allen_sync.records import Atlas, AtlasImage, ReferenceToReferenceTransform
from napari_allen_sync.synchronizer import Synchronizer

CATALOG = synthetic_catalog()
SYNC = Synchronizer(CATALOG)
DATA_SETS = [101, 102, 103, 104]

pixel = st.floats(min_value=0, max_value=9000, allow_nan=False)
points = st.lists(st.tuples(pixel, pixel), min_size=1, max_size=30)


def _image_ids(ds):
    return [im.id for im in CATALOG.images_of(ds)]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), pts=points, data=st.data())
def test_round_trip_on_own_data_set_returns_the_seed(seed, pts, data):
    """image → reference → image on the seed's own data set closes within 1e-6 px."""
    rng = np.random.default_rng(seed)
    permute = data.draw(st.booleans())
    ds, images = make_data_set(rng, 7, permute=permute)
    sync = Synchronizer(Catalog([ds, *images]))
    seed_image = images[data.draw(st.integers(0, len(images) - 1))]
    x, y = np.array(pts).T
    (back,) = sync.image_to_image_batch(seed_image.id, x, y, [7])
    assert (back.section_image_id == seed_image.id).all()
    np.testing.assert_allclose(back.x, x, atol=1e-6, rtol=0)
    np.testing.assert_allclose(back.y, y, atol=1e-6, rtol=0)
    np.testing.assert_allclose(back.distance, 0, atol=1e-6)
    assert not back.clamped.any()


@settings(max_examples=40, deadline=None)
@given(pts=points, ds=st.sampled_from(DATA_SETS), data=st.data())
def test_batch_equals_one_by_one(pts, ds, data):
    seed = data.draw(st.sampled_from(_image_ids(ds)))
    targets = data.draw(st.lists(st.sampled_from(DATA_SETS), min_size=1, max_size=4))
    x, y = np.array(pts).T
    ref = SYNC.image_to_reference_batch(seed, x, y)
    batches = SYNC.image_to_image_batch(seed, x, y, targets)
    atlas = SYNC.image_to_atlas_batch(seed, x, y, 1)
    plates = data.draw(
        st.lists(st.sampled_from(_image_ids(103) + _image_ids(ds)), min_size=1, max_size=3)
    )
    flat = SYNC.image_to_image_2d_batch(seed, x, y, plates)
    for i, (xi, yi) in enumerate(pts):
        assert SYNC.image_to_reference(seed, xi, yi) == ref.to_msg(i)
        assert SYNC.image_to_image(seed, xi, yi, targets) == [b.to_msg(i) for b in batches]
        assert SYNC.image_to_atlas(seed, xi, yi, 1) == atlas.to_msg(i)
        assert SYNC.image_to_image_2d(seed, xi, yi, plates) == [b.to_msg(i) for b in flat]


@settings(max_examples=40, deadline=None)
@given(
    p=st.floats(0, 13200),
    i=st.floats(0, 8000),
    r=st.floats(0, 11400),
    ds=st.sampled_from(DATA_SETS),
)
def test_spaces_9_and_10_are_mirrors(p, i, r, ds):
    a = SYNC.reference_to_image(9, p, i, r, [ds])
    b = SYNC.reference_to_image(10, p, i, MIRROR_9_10_UM - r, [ds])
    assert a[0]["image_sync"]["section_image_id"] == b[0]["image_sync"]["section_image_id"]
    assert a[0]["image_sync"]["x"] == pytest.approx(b[0]["image_sync"]["x"], abs=1e-6)
    assert a[0]["image_sync"]["y"] == pytest.approx(b[0]["image_sync"]["y"], abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    p=st.floats(0, 13200),
    i=st.floats(0, 8000),
    r=st.floats(0, 11400),
    ds=st.sampled_from(DATA_SETS),
)
def test_chosen_section_is_the_nearest(p, i, r, ds):
    """No other usable image of the data set lies closer to the point's depth."""
    (b,) = SYNC.reference_to_image_batch(9, [p], [i], [r], [ds])
    stack = SYNC.stack(ds)
    trv = stack.trv @ np.vstack(
        [SYNC.reference_transform(9, stack.data_set.reference_space_id), [0, 0, 0, 1]]
    )
    q = (trv[2, :3] @ [p, i, r] + trv[2, 3]) / stack.thickness
    gaps = np.abs(stack.section_numbers - q)
    assert abs(b.section_number[0] - q) == pytest.approx(gaps.min(), abs=1e-9)
    assert b.clamped[0] == (q < stack.section_numbers[0] or q > stack.section_numbers[-1])
    # the reported distance is the µm gap between the point and the chosen plane
    assert abs(b.distance[0]) * np.linalg.norm(trv[2, :3]) == pytest.approx(
        abs(q - b.section_number[0]) * stack.thickness, rel=1e-9, abs=1e-6
    )


def test_distance_is_measured_in_reference_microns():
    """Moving the point along the plane normal by d µm changes the distance by d."""
    stack = SYNC.stack(101)
    m = stack.trv @ np.vstack([SYNC.reference_transform(9, 9), [0, 0, 0, 1]])
    normal = m[2, :3] / np.linalg.norm(m[2, :3])
    p0 = np.array([6000.0, 4000.0, 5000.0])
    (a,) = SYNC.reference_to_image_batch(9, [p0[0]], [p0[1]], [p0[2]], [101])
    p1 = p0 + 30.0 * normal
    (b,) = SYNC.reference_to_image_batch(9, [p1[0]], [p1[1]], [p1[2]], [101])
    assert a.section_number[0] == b.section_number[0]
    assert b.distance[0] - a.distance[0] == pytest.approx(30.0, abs=1e-6)


def test_tie_goes_to_the_lower_section():
    stack = SYNC.stack(101)
    lo, hi = stack.section_numbers[10], stack.section_numbers[11]
    index, clamped = inferred.nearest_sections(stack.section_numbers, np.array([(lo + hi) / 2]))
    assert stack.section_numbers[index[0]] == lo and not clamped[0]


def test_image_to_image_2d_in_plane_for_own_data_set():
    seed, target = CATALOG.images_of(101)[5], CATALOG.images_of(101)[9]
    (got,) = SYNC.image_to_image_2d_batch(seed.id, [1234.5], [987.0], [target.id])
    v = seed.alignment2d.tsv_matrix @ [1234.5, 987.0, 1]
    expected = target.alignment2d.tvs_matrix @ [v[0], v[1], 1]
    assert got.x[0] == pytest.approx(expected[0], abs=1e-9)
    assert got.y[0] == pytest.approx(expected[1], abs=1e-9)
    assert got.section_image_id[0] == target.id
    # distance: four sections of 25 µm apart along the volume axis, in reference µm
    norm = np.linalg.norm(SYNC.stack(101).trv[2, :3])
    assert abs(got.distance[0]) == pytest.approx(
        abs(seed.section_number - target.section_number) * 25.0 / norm, rel=1e-9
    )


def test_image_to_image_2d_across_data_sets_matches_image_to_image_pixels():
    """Across data sets, 2-D sync to the image image_to_image chose gives the same pixel."""
    seed = CATALOG.images_of(101)[30]
    (via3d,) = SYNC.image_to_image_batch(seed.id, [4000.0], [3000.0], [103])
    (flat,) = SYNC.image_to_image_2d_batch(
        seed.id, [4000.0], [3000.0], [int(via3d.section_image_id[0])]
    )
    assert flat.x[0] == pytest.approx(via3d.x[0], abs=1e-6)
    assert flat.y[0] == pytest.approx(via3d.y[0], abs=1e-6)


def test_image_to_atlas_chooses_only_annotated_plates():
    rng = np.random.default_rng(3)
    ds, plates = make_data_set(
        rng, 9100, thickness=100.0, numbers=np.arange(1, 133), image_cls=AtlasImage
    )
    plates = [replace(p, annotated=p.section_number % 2 == 0) for p in plates]
    cat = Catalog([ds, *plates, Atlas(id=5, name="half annotated", data_set_ids=(9100,))])
    for im in CATALOG.images_of(101):
        cat.add(im)
    cat.add(CATALOG.section_data_set(101))
    sync = Synchronizer(cat)
    seed = CATALOG.images_of(101)[20]
    rng = np.random.default_rng(4)
    batch = sync.image_to_atlas_batch(
        seed.id, rng.uniform(0, 9000, 500), rng.uniform(0, 6000, 500), 5
    )
    assert (batch.section_number % 2 == 0).all()
    msg = sync.image_to_atlas(seed.id, 10.0, 20.0, 5)
    assert msg["image_sync"]["section_data_set_id"] is None
    assert set(msg) == {"image_sync"}


def test_structure_to_image_one_answer_per_structure_in_request_order():
    out = SYNC.structure_to_image(103, [315, 997, 315])
    assert len(out) == 3 and out[0] == out[2]
    batch = SYNC.structure_to_image_batch(103, [315])
    c = CATALOG.structure_center(315, 10)
    direct = SYNC.reference_to_image_batch(10, [c.x], [c.y], [c.z], [103])[0]
    assert batch.section_image_id[0] == direct.section_image_id[0]
    assert batch.x[0] == direct.x[0] and batch.y[0] == direct.y[0]


def test_reference_transform_record_overrides_builtin_mirror():
    shift = np.hstack([np.eye(3), [[100.0], [0.0], [0.0]]])
    cat = Catalog(CATALOG.records())
    cat.add(ReferenceToReferenceTransform(9, 42, tuple(shift[:, :3].ravel()) + tuple(shift[:, 3])))
    sync = Synchronizer(cat)
    np.testing.assert_allclose(sync.reference_transform(9, 42), shift)
    np.testing.assert_allclose(sync.reference_transform(42, 9)[:, 3], [-100.0, 0, 0])
    mirror = np.hstack([np.diag([1.0, 1.0, -1.0]), [[0.0], [0.0], [11400.0]]])
    cat.add(
        ReferenceToReferenceTransform(9, 10, tuple(mirror[:, :3].ravel()) + tuple(mirror[:, 3]))
    )
    a = sync.reference_to_image(9, 5000, 3000, 4000, [103])
    # r10 = 11400 − r9 (the record) equals the built-in 11350 − (r9 − 50)
    b = SYNC.reference_to_image(9, 5000, 3000, 4000 - 50, [103])
    assert a[0]["image_sync"]["x"] == pytest.approx(b[0]["image_sync"]["x"], abs=1e-6)


def test_derived_tables_follow_catalog_changes():
    cat = Catalog(CATALOG.records())
    sync = Synchronizer(cat)
    before = sync.reference_to_image(9, 6000, 4000, 5000, [101])[0]["image_sync"]
    chosen = cat.section_image(before["section_image_id"])
    cat.add(replace(chosen, failed=True))
    after = sync.reference_to_image(9, 6000, 4000, 5000, [101])[0]["image_sync"]
    assert after["section_image_id"] != chosen.id
    assert abs(after["section_number"] - chosen.section_number) == 8
