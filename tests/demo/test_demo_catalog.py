"""The demo catalog: Allen-like records that round-trip through RMA files."""

from __future__ import annotations

import numpy as np
import pytest

from napari_allen_sync.arithmetic import MIRROR_9_10_UM
from napari_allen_sync.catalog import Catalog
from napari_allen_sync.demo import (
    DEMO_ATLAS_DATA_SET_ID,
    DEMO_ATLAS_ID,
    DEMO_DATA_SET_IDS,
    DEMO_SEED_DATA_SET_ID,
    DEMO_TARGET_DATA_SET_IDS,
    PLATE_COUNT,
    demo_catalog,
    demo_click,
)
from napari_allen_sync.demo.alignment import inverse_2x3, inverse_3x4
from napari_allen_sync.demo.atlas import SAGITTAL_ATLAS_DATA_SET_ID
from napari_allen_sync.demo.centers import STRUCTURE_CENTERS_9
from napari_allen_sync.records import AtlasImage


def test_round_trip_through_rma_files(tmp_path):
    catalog = demo_catalog()
    catalog.to_folder(tmp_path)
    back = Catalog.from_folder(tmp_path)
    for name in ("section_data_sets", "section_images", "atlases", "structures",
                 "structure_centers", "equalizations"):
        ours, theirs = getattr(catalog, name), getattr(back, name)
        assert ours.keys() == theirs.keys(), name
        for key, rec in ours.items():
            assert theirs[key] == rec, (name, key)
            assert theirs[key].to_rma() == rec.to_rma(), (name, key)
            assert type(theirs[key]) is type(rec)


def test_demo_catalog_is_shared_and_cheap():
    assert demo_catalog() is demo_catalog()


def test_ids_and_constants():
    catalog = demo_catalog()
    assert DEMO_SEED_DATA_SET_ID not in DEMO_TARGET_DATA_SET_IDS
    assert len(DEMO_TARGET_DATA_SET_IDS) == 3
    assert set(DEMO_DATA_SET_IDS) | {DEMO_ATLAS_DATA_SET_ID, SAGITTAL_ATLAS_DATA_SET_ID} == set(
        catalog.section_data_sets)
    for i in [*catalog.section_data_sets, *catalog.section_images]:
        assert 900_000_000 <= i < 1_000_000_000
    image_id, x, y = demo_click()
    image = catalog.section_image(image_id)
    assert image.data_set_id == DEMO_SEED_DATA_SET_ID
    assert 0 <= x < image.width and 0 <= y < image.height


@pytest.mark.parametrize("ds_id", DEMO_DATA_SET_IDS)
def test_alignments_are_allen_like(ds_id):
    catalog = demo_catalog()
    ds = catalog.section_data_set(ds_id)
    tvr, trv = ds.alignment3d.tvr_matrix, ds.alignment3d.trv_matrix
    lin = tvr[:, :3]
    scales = np.linalg.norm(lin, axis=0)
    assert np.all((scales > 0.9) & (scales < 1.1))
    perm = np.abs(lin).argmax(axis=0)
    assert sorted(perm) == [0, 1, 2]
    off_axis = np.degrees(np.arccos(np.abs(lin[perm, [0, 1, 2]]) / scales))
    assert np.all(off_axis < 6) and off_axis.max() > 0.5  # a few degrees, not axis-aligned
    # TRV is the inverse rounded to 6 significant digits: close, not exact.
    assert np.allclose(trv, inverse_3x4(tvr), rtol=1e-5, atol=1e-2)
    assert not np.array_equal(trv, inverse_3x4(tvr))
    assert extra_ok(ds)
    images = catalog.images_of(ds_id)
    numbers = np.array([im.section_number for im in images])
    spacing = np.diff(numbers) * ds.section_thickness
    assert np.all(spacing == (200.0 if ds.section_thickness == 25 else 100.0))
    for im in images:
        tsv = im.alignment2d.tsv_matrix
        assert im.resolution == pytest.approx(np.hypot(*tsv[0, :2]), rel=1e-5)
        assert 1.0 <= im.resolution <= 1.6
        assert np.allclose(im.alignment2d.tvs_matrix, inverse_2x3(tsv), rtol=1e-5, atol=1e-2)
        assert 8000 <= im.width <= 12000 and im.height > 4000
        assert im.x + im.width <= im.image_width and im.y + im.height <= im.image_height
        smallest = max(im.image_width, im.image_height) / 2 ** (im.tier_count - 1)
        assert 100 <= smallest <= 300


def extra_ok(ds):
    return bool(ds.extra.get("name")) and "gene" in ds.extra


def test_sagittal_set_covers_the_left_hemisphere_in_space_10():
    catalog = demo_catalog()
    (sag,) = [d for d in catalog.section_data_sets.values()
              if d.plane_of_section_id == 2 and d.id in DEMO_DATA_SET_IDS]
    assert sag.reference_space_id == 10
    tvr = sag.alignment3d.tvr_matrix
    for im in catalog.images_of(sag.id):
        centre = im.alignment2d.tsv_matrix @ np.array([im.width / 2, im.height / 2, 1])
        r10 = tvr[2] @ np.array([*centre, im.section_number * sag.section_thickness, 1])
        assert 0 < r10 < MIRROR_9_10_UM / 2  # → the right side of space 9, where the atlas is


def test_atlas_is_modelled_on_atlas_1():
    catalog = demo_catalog()
    atlas = catalog.atlas(DEMO_ATLAS_ID)
    assert atlas.reference_space_id == 9 and atlas.structure_graph_id == 1
    assert atlas.data_set_ids == (DEMO_ATLAS_DATA_SET_ID,)
    plates = catalog.images_of(catalog.atlas_data_set(DEMO_ATLAS_ID).id)
    assert len(plates) == PLATE_COUNT == 132
    assert all(isinstance(p, AtlasImage) and p.annotated for p in plates)
    ds = catalog.atlas_data_set(DEMO_ATLAS_ID)
    depths = [ds.alignment3d.tvr_matrix[0] @ [0, 0, p.section_number * ds.section_thickness, 1]
              for p in plates]
    assert np.allclose(np.diff(depths), 100.0)


def test_sagittal_atlas_is_modelled_on_atlas_2():
    """Like Allen's atlas 2: 21 annotated sagittal plates 200 µm apart in space 10, from
    the lateral edge of one hemisphere to just past the midline (r10 = 5650 µm)."""
    catalog = demo_catalog()
    atlas = catalog.atlas(2)
    assert atlas.reference_space_id == 10 and atlas.structure_graph_id == 1
    ds = catalog.atlas_data_set(2)
    assert ds.id == SAGITTAL_ATLAS_DATA_SET_ID and ds.plane_of_section_id == 2
    plates = catalog.images_of(ds.id)
    assert len(plates) == 21
    assert all(isinstance(p, AtlasImage) and p.annotated for p in plates)
    tvr = ds.alignment3d.tvr_matrix
    r10 = [tvr[2] @ [0, 0, p.section_number * ds.section_thickness, 1] for p in plates]
    assert np.allclose(np.diff(r10), 200.0)
    midline10 = MIRROR_9_10_UM - 5700
    assert r10[0] < midline10 - 3000 and midline10 < r10[-1] < midline10 + 200


def test_structures_and_centres():
    catalog = demo_catalog()
    spec = {315: ("Isocortex", "70FF71"), 698: ("OLF", "9AD2BD"), 1089: ("HPF", "7ED04B"),
            703: ("CTXsp", "8ADA87"), 477: ("STR", "98D6F9"), 803: ("PAL", "8599CC"),
            549: ("TH", "FF7080"), 1097: ("HY", "E64438"), 313: ("MB", "FF64FF"),
            771: ("P", "FFC395"), 354: ("MY", "FF9BCD"), 512: ("CB", "F0F080"),
            1009: ("fiber tracts", "CCCCCC"), 73: ("VS", "AAAAAA")}
    for sid, (acronym, colour) in spec.items():
        s = catalog.structure(sid)
        assert (s.acronym, s.color_hex_triplet) == (acronym, colour)
        assert s.structure_id_path[0] == 997
        if sid not in (1009, 73):
            assert s.structure_id_path[:2] == (997, 8)
    assert catalog.structure(8).name == "Basic cell groups and regions"
    for sid, (x, y, z) in STRUCTURE_CENTERS_9.items():
        c9, c10 = catalog.structure_center(sid, 9), catalog.structure_center(sid, 10)
        assert (c9.x, c9.y, c9.z) == (x, y, z) and z > 5700
        assert (c10.x, c10.y) == (x, y) and c9.z + c10.z == 11400
    assert {e.section_data_set_id for e in catalog.equalizations.values()} == set(
        catalog.section_data_sets
    )
