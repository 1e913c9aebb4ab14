"""Loading, indexing and exporting Allen RMA records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine_fixtures import synthetic_catalog
from napari_allen_sync.catalog import Catalog
from napari_allen_sync.errors import CatalogFormatError, UnknownIdError
from napari_allen_sync.records import SectionDataSet, SectionImage
from napari_allen_sync.synchronizer import Synchronizer

DATA = Path(__file__).parents[1] / "data"


def test_real_rma_examples_load_with_nested_alignments():
    cat = Catalog.from_folder(DATA / "rma-examples")
    ds = cat.section_data_set(123)
    im = cat.section_image(101945191)
    assert ds.reference_space_id == 10 and ds.plane == "sagittal"
    assert ds.alignment3d.tvr[0] == 1.05211 and ds.alignment3d.trv[11] == -1672.98
    assert im.alignment2d.tsv_matrix[0, 2] == 406.469  # tsv_04 is the x translation
    assert im.resolution == pytest.approx(np.hypot(*im.alignment2d.tsv_matrix[0, :2]), rel=1e-3)
    assert cat.images_of(123) == (im,)
    assert im.extra["path"] if "path" in im.extra else im.path.endswith(".aff")


def test_round_trip_through_a_folder(tmp_path):
    cat = synthetic_catalog()
    written = cat.to_folder(tmp_path)
    assert written and all(p.suffix == ".json" for p in written)
    again = Catalog.from_folder(tmp_path)
    assert set(again.records()) == set(cat.records())
    assert len(list(again.records())) == len(list(cat.records()))
    seed = cat.images_of(101)[3].id
    assert Synchronizer(again).image_to_image(seed, 12.5, 99.0, [102, 103]) == Synchronizer(
        cat
    ).image_to_image(seed, 12.5, 99.0, [102, 103])
    assert not list(tmp_path.glob(".*.tmp"))


def test_extra_fields_survive_a_round_trip(tmp_path):
    src = json.loads(
        (DATA / "rma-examples" / "SectionImage-101945191-with-alignment2d.json").read_text()
    )
    cat = Catalog.from_folder(DATA / "rma-examples")
    cat.to_folder(tmp_path)
    out = json.loads((tmp_path / "SectionDataSet-123.json").read_text())
    (image,) = out["msg"][0]["section_images"]
    for key, value in src["msg"][0].items():
        if key != "alignment2d":
            assert image[key] == value, key


def _write(folder, name, msg, success=True):
    (folder / name).write_text(json.dumps({"success": success, "msg": msg}))


GOOD_DS = {"id": 5, "plane_of_section_id": 1, "section_thickness": 25.0, "reference_space_id": 9}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", "is not valid JSON"),
        (json.dumps([1, 2]), "is not an Allen RMA answer"),
        (json.dumps({"success": False, "msg": "boom"}), "records a failed request"),
        (
            json.dumps({"success": True, "msg": [{**GOOD_DS, "section_thickness": "25"}]}),
            "field 'section_thickness'",
        ),
        (
            json.dumps({"success": True, "msg": [{**GOOD_DS, "section_thickness": -1}]}),
            "must be positive",
        ),
        (
            json.dumps(
                {
                    "success": True,
                    "msg": [{k: v for k, v in GOOD_DS.items() if k != "reference_space_id"}],
                }
            ),
            "record id 5, field 'reference_space_id': SectionDataSet lacks",
        ),
        (
            json.dumps({"success": True, "msg": [{**GOOD_DS, "alignment3d": {"tvr_00": 1}}]}),
            "field 'tvr_01'",
        ),
        (
            json.dumps(
                {
                    "success": True,
                    "msg": [{**GOOD_DS, "section_images": [{"id": 9, "section_number": "x"}]}],
                }
            ),
            "record id 9, field 'section_number'",
        ),
        (json.dumps({"success": True, "msg": [{"id": 1, "whatever": 2}]}), "unknown model"),
    ],
)
def test_malformed_files_name_file_record_and_field(tmp_path, content, words):
    (tmp_path / "good.json").write_text(json.dumps({"success": True, "msg": [dict(GOOD_DS, id=6)]}))
    (tmp_path / "bad.json").write_text(content)
    cat = Catalog(
        [SectionDataSet(id=1, plane_of_section_id=1, section_thickness=25, reference_space_id=9)]
    )
    with pytest.raises(CatalogFormatError) as info:
        cat.load_folder(tmp_path)
    assert "bad.json" in str(info.value) and words in str(info.value)
    # all or nothing: the good file's record was not added either
    assert set(cat.section_data_sets) == {1}


def test_conflicting_duplicates_are_refused(tmp_path):
    _write(tmp_path, "a.json", [GOOD_DS])
    _write(tmp_path, "b.json", [{**GOOD_DS, "section_thickness": 50.0}])
    with pytest.raises(CatalogFormatError, match="different SectionDataSet"):
        Catalog.from_folder(tmp_path)


def test_identical_duplicates_are_fine(tmp_path):
    _write(tmp_path, "a.json", [GOOD_DS])
    _write(tmp_path, "b.json", [GOOD_DS])
    assert list(Catalog.from_folder(tmp_path).section_data_sets) == [5]


def test_lookups_and_ontology():
    cat = synthetic_catalog()
    assert [s.acronym for s in cat.ancestors(315)] == ["Isocortex", "root"]
    assert cat.structure_by_acronym("isocortex").id == 315
    with pytest.raises(UnknownIdError, match="unknown Structure id 1"):
        cat.structure(1)
    numbers = [im.section_number for im in cat.images_of(101)]
    assert numbers == sorted(numbers)
    assert cat.atlas_data_set(1).id == 9001


def test_moving_an_image_between_data_sets_updates_the_index():
    cat = synthetic_catalog()
    im = cat.images_of(101)[0]
    cat.add(SectionImage(id=im.id, data_set_id=102, section_number=999, alignment2d=im.alignment2d))
    assert im.id not in [i.id for i in cat.images_of(101)]
    assert im.id in [i.id for i in cat.images_of(102)]


# ---------------------------------------------------------------- real ontology, real data set
REAL = DATA / "real"
#: SPEC.md §9: the twelve major divisions, fibre tracts and ventricles, with their colours
#: (SPEC gives Pons FFC395; Allen's real ontology colours it FF9B88, as its parent HB).
MAJOR = {315: ("Isocortex", "70FF71"), 698: ("OLF", "9AD2BD"), 1089: ("HPF", "7ED04B"),
         703: ("CTXsp", "8ADA87"), 477: ("STR", "98D6F9"), 803: ("PAL", "8599CC"),
         549: ("TH", "FF7080"), 1097: ("HY", "E64438"), 313: ("MB", "FF64FF"),
         771: ("P", "FF9B88"), 354: ("MY", "FF9BCD"), 512: ("CB", "F0F080"),
         1009: ("fiber tracts", "CCCCCC"), 73: ("VS", "AAAAAA")}


def test_real_ontology_nested_through_children_loads_flat(tmp_path):
    path = REAL / "structure_graph_download-1.json"
    records = Catalog.parse_file(path)
    cat = Catalog(records)
    assert len(records) == len(cat.structures) == 1327
    raw = json.loads(path.read_text())
    nodes, stack = {}, list(raw["msg"])
    while stack:
        node = stack.pop()
        nodes[node["id"]] = node
        stack.extend(node["children"])
    assert set(nodes) == set(cat.structures)
    for s in cat.structures.values():
        node = nodes[s.id]
        assert (s.acronym, s.name, s.parent_structure_id) == (
            node["acronym"], node["name"], node["parent_structure_id"])
        assert "children" not in s.extra and s.extra["graph_order"] == node["graph_order"]
        assert s.structure_id_path[0] == 997 and s.structure_id_path[-1] == s.id
        if s.parent_structure_id is not None:
            parent = cat.structure(s.parent_structure_id)
            assert s.structure_id_path[:-1] == parent.structure_id_path
        assert [a.id for a in cat.ancestors(s.id)] == list(reversed(s.structure_id_path))
    for sid, (acronym, colour) in MAJOR.items():
        assert (cat.structure(sid).acronym, cat.structure(sid).color_hex_triplet) == (
            acronym, colour)
    # written back flat (with the paths), it reads back the same
    cat.to_folder(tmp_path)
    assert Catalog.from_folder(tmp_path).structures == cat.structures


def test_a_child_under_the_wrong_parent_is_refused(tmp_path):
    bad = {"id": 1, "acronym": "a", "name": "a", "parent_structure_id": None, "children": [
        {"id": 2, "acronym": "b", "name": "b", "parent_structure_id": 99, "children": []}]}
    _write(tmp_path, "Structure-graph.json", [bad])
    with pytest.raises(CatalogFormatError, match=r"record id 2.*parent_structure_id"):
        Catalog.from_folder(tmp_path)


def test_real_data_set_69289763_loads_with_its_18_images(tmp_path):
    about = json.loads((REAL / "SectionDataSet-69289763-from-grid-download.json").read_text())
    record = about["record"]
    _write(tmp_path, "SectionDataSet-69289763.json", [record])
    cat = Catalog.from_folder(tmp_path)
    ds = cat.section_data_set(69289763)
    assert ds.plane_of_section_id is None and ds.plane == "unknown plane"
    assert [p["abbreviation"] for p in ds.extra["products"]] == ["DevMouse", "Mouse"]
    images = cat.images_of(69289763)
    assert len(images) == 18 and all(im.alignment2d is not None for im in images)
    by_id = {im["id"]: im for im in record["section_images"]}
    for im in images:
        assert (im.width, im.height, im.resolution, im.tier_count) == tuple(
            by_id[im.id][k] for k in ("width", "height", "resolution", "tier_count"))
    # a round trip through the reference space lands where it started (Allen's stored
    # inverses are rounded: within a pixel)
    sync = Synchronizer(cat)
    for im in images[1::4]:
        p = sync.image_to_reference(im.id, im.width / 2, im.height / 3)["image_to_reference"]
        (back,) = sync.reference_to_image(10, p["x"], p["y"], p["z"], [69289763])
        back = back["image_sync"]
        assert back["section_image_id"] == im.id
        assert back["x"] == pytest.approx(im.width / 2, abs=1.0)
        assert back["y"] == pytest.approx(im.height / 3, abs=1.0)


def test_plane_of_section_from_the_nested_object(tmp_path):
    base = {"id": 5, "section_thickness": 25.0, "reference_space_id": 9}
    assert SectionDataSet.from_rma({**base, "plane_of_section": {"id": 2, "name": "sagittal"}}
                                   ).plane == "sagittal"
    assert SectionDataSet.from_rma({**base, "plane_of_section": {"name": "Coronal"}}).plane == (
        "coronal")
    assert SectionDataSet.from_rma({**base, "plane_of_section_id": 1,
                                    "plane_of_section": None}).plane_of_section_id == 1
    for bad in ("coronal", {"name": "axial"}):
        with pytest.raises(CatalogFormatError, match="plane_of_section"):
            SectionDataSet.from_rma({**base, "plane_of_section": bad})


def test_cached_search_answers_hold_no_records(tmp_path):
    _write(tmp_path, "Search-0123abcd.json",
           [{"id": 7, "plane_of_section_id": 1, "section_thickness": 25.0,
             "reference_space_id": 9, "genes": [{"acronym": "Calb1"}]}])
    assert Catalog.parse_file(tmp_path / "Search-0123abcd.json") == []
    assert len(Catalog.from_folder(tmp_path)) == 0
    _write(tmp_path, "Search-bad.json", [1, 2])
    with pytest.raises(CatalogFormatError, match="row 0 is not an object"):
        Catalog.parse_file(tmp_path / "Search-bad.json")
