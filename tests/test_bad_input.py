"""Bad input raises the package's own errors naming the culprit, never a wrong number."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine_fixtures import synthetic_catalog
from napari_allen_sync.catalog import Catalog
from napari_allen_sync.errors import (
    AllenSyncError,
    InvalidCoordinateError,
    InvalidIdListError,
    MissingAlignmentError,
    NoUsableImagesError,
    UnknownIdError,
)
from napari_allen_sync.synchronizer import Synchronizer

CATALOG = synthetic_catalog()
SYNC = Synchronizer(CATALOG)
SEED = CATALOG.images_of(101)[10].id


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (
            lambda: SYNC.image_to_reference(123456789, 1, 2),
            UnknownIdError,
            "SectionImage id 123456789",
        ),
        (
            lambda: SYNC.image_to_image(SEED, 1, 2, [101, 555]),
            UnknownIdError,
            "SectionDataSet id 555",
        ),
        (
            lambda: SYNC.reference_to_image(9, 1, 2, 3, [999]),
            UnknownIdError,
            "SectionDataSet id 999",
        ),
        (lambda: SYNC.image_to_atlas(SEED, 1, 2, 77), UnknownIdError, "Atlas id 77"),
        (lambda: SYNC.structure_to_image(101, [315, 4242]), UnknownIdError, "4242"),
        (lambda: SYNC.image_to_image_2d(SEED, 1, 2, [31337]), UnknownIdError, "31337"),
        (
            lambda: SYNC.image_to_reference(SEED, float("nan"), 2),
            InvalidCoordinateError,
            "x must be finite",
        ),
        (
            lambda: SYNC.image_to_reference(SEED, 1, float("inf")),
            InvalidCoordinateError,
            "y must be finite",
        ),
        (
            lambda: SYNC.reference_to_image(9, 1, 2, float("-inf"), [101]),
            InvalidCoordinateError,
            "z must be finite",
        ),
        (lambda: SYNC.image_to_reference(SEED, 1e20, 2), InvalidCoordinateError, "out of range"),
        (
            lambda: SYNC.image_to_reference(SEED, "12", 2),
            InvalidCoordinateError,
            "x must be numbers",
        ),
        (
            lambda: SYNC.image_to_reference(SEED, None, 2),
            InvalidCoordinateError,
            "x must be numbers",
        ),
        (
            lambda: SYNC.image_to_reference(SEED, True, 2),
            InvalidCoordinateError,
            "x must be numbers",
        ),
        (
            lambda: SYNC.image_to_image(SEED, 1, 2, []),
            InvalidIdListError,
            "section_data_set_ids is empty",
        ),
        (lambda: SYNC.image_to_image(SEED, 1, 2, 101), InvalidIdListError, "write [101]"),
        (lambda: SYNC.image_to_image(SEED, 1, 2, "101,102"), InvalidIdListError, "string"),
        (
            lambda: SYNC.image_to_image(SEED, 1, 2, ["101"]),
            InvalidIdListError,
            "section_data_set_ids[0]",
        ),
        (lambda: SYNC.image_to_image(SEED, 1, 2, [101.5]), InvalidIdListError, "101.5"),
        (
            lambda: SYNC.image_to_image_2d(SEED, 1, 2, []),
            InvalidIdListError,
            "section_image_ids is empty",
        ),
        (lambda: SYNC.structure_to_image(101, []), InvalidIdListError, "structure_ids is empty"),
        (lambda: SYNC.image_to_reference("abc", 1, 2), InvalidIdListError, "section_image_id"),
        (
            lambda: SYNC.reference_to_image(True, 1, 2, 3, [101]),
            InvalidIdListError,
            "reference_space_id",
        ),
        (
            lambda: SYNC.reference_to_image(77, 1, 2, 3, [101]),
            MissingAlignmentError,
            "reference space 77",
        ),
        (
            lambda: SYNC.image_to_reference_batch(SEED, [1, 2], [3]),
            InvalidCoordinateError,
            "same length",
        ),
    ],
)
def test_bad_input_names_the_culprit(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)
    assert isinstance(info.value, AllenSyncError)


def test_data_set_without_alignment3d():
    ds = CATALOG.section_data_set(102)
    cat = Catalog(CATALOG.records())
    cat.add(replace(ds, alignment3d=None))
    sync = Synchronizer(cat)
    with pytest.raises(MissingAlignmentError, match="SectionDataSet 102 has no alignment3d"):
        sync.image_to_image(SEED, 10, 10, [102])
    with pytest.raises(MissingAlignmentError, match="SectionDataSet 102"):
        sync.image_to_reference(CATALOG.images_of(102)[0].id, 10, 10)


def test_data_set_whose_images_all_failed():
    cat = Catalog(CATALOG.records())
    cat.add_all(replace(im, failed=True, alignment2d=None) for im in CATALOG.images_of(103))
    sync = Synchronizer(cat)
    with pytest.raises(
        NoUsableImagesError, match=r"SectionDataSet 103 has no usable image: 20 images.*20 failed"
    ):
        sync.image_to_image(SEED, 10, 10, [103])
    with pytest.raises(MissingAlignmentError, match="failed QC"):
        sync.image_to_reference(CATALOG.images_of(103)[0].id, 1, 1)


def test_data_set_without_images():
    cat = Catalog(
        [CATALOG.section_data_set(101), *CATALOG.images_of(101), CATALOG.section_data_set(104)]
    )
    with pytest.raises(
        NoUsableImagesError, match="SectionDataSet 104 has no usable image: 0 images"
    ):
        Synchronizer(cat).image_to_image(SEED, 1, 1, [104])


@settings(max_examples=100, deadline=None)
@given(
    bad=st.sampled_from([float("nan"), float("inf"), -float("inf"), 2e9, -5e12]),
    where=st.integers(0, 49),
    n=st.integers(50, 60),
)
def test_one_bad_value_in_a_batch_rejects_the_batch(bad, where, n):
    x = np.linspace(0, 9000, n)
    x[where] = bad
    with pytest.raises(InvalidCoordinateError, match=f"position {where}"):
        SYNC.image_to_image_batch(SEED, x, np.ones(n), [101])
