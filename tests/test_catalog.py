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

DATA = Path(__file__).parent / "data"


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
