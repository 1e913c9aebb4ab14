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


# ---------------------------------------------------------------- malformed calls (issue 12)
ATLAS = next(iter(CATALOG.atlases))
TARGET_IMAGE = CATALOG.images_of(102)[3].id

#: The one-point (Allen) forms, as functions of the coordinates they take.
ALLEN_FORMS = {
    "image_to_reference": (("x", "y"), lambda x, y: SYNC.image_to_reference(SEED, x, y)),
    "reference_to_image": (
        ("x", "y", "z"),
        lambda x, y, z: SYNC.reference_to_image(9, x, y, z, [101]),
    ),
    "image_to_image": (("x", "y"), lambda x, y: SYNC.image_to_image(SEED, x, y, [102])),
    "image_to_image_2d": (
        ("x", "y"),
        lambda x, y: SYNC.image_to_image_2d(SEED, x, y, [TARGET_IMAGE]),
    ),
    "image_to_atlas": (("x", "y"), lambda x, y: SYNC.image_to_atlas(SEED, x, y, ATLAS)),
}

#: The batch forms, as functions of N points ``(x, y, z)`` that answer one array per target.
BATCH_FORMS = {
    "image_to_reference_batch": lambda x, y, z: [SYNC.image_to_reference_batch(SEED, x, y)],
    "reference_to_image_batch": lambda x, y, z: SYNC.reference_to_image_batch(
        9, x, y, z, [101, 102]),
    "image_to_image_batch": lambda x, y, z: SYNC.image_to_image_batch(SEED, x, y, [102, 103]),
    "image_to_image_2d_batch": lambda x, y, z: SYNC.image_to_image_2d_batch(
        SEED, x, y, [TARGET_IMAGE]),
    "image_to_atlas_batch": lambda x, y, z: [SYNC.image_to_atlas_batch(SEED, x, y, ATLAS)],
}

finite = st.floats(-5000, 5000, allow_nan=False)


@settings(max_examples=120, deadline=None)
@given(
    form=st.sampled_from(sorted(ALLEN_FORMS)),
    data=st.data(),
)
def test_one_point_forms_refuse_zero_or_several_points(form, data):
    """The Allen forms answer one point; a list of 0 or ≥ 2 values for any coordinate is
    refused naming it, never answered for its first value (nor an IndexError)."""
    names, call = ALLEN_FORMS[form]
    wrong = data.draw(st.sampled_from(names))
    count = data.draw(st.sampled_from([0, 2, 3, 7]))
    args = {n: data.draw(finite) for n in names}
    args[wrong] = data.draw(st.lists(finite, min_size=count, max_size=count))
    with pytest.raises(InvalidCoordinateError, match=f"^{wrong} must be one number, got "
                                                     f"{count} values"):
        call(**args)


@settings(max_examples=40, deadline=None)
@given(form=st.sampled_from(sorted(ALLEN_FORMS)), data=st.data())
def test_one_point_forms_accept_scalars_and_one_element_arrays(form, data):
    names, call = ALLEN_FORMS[form]
    values = {n: data.draw(finite) for n in names}
    wrapped = {n: np.array([v]) for n, v in values.items()}
    assert call(**values) == call(**wrapped)


@pytest.mark.parametrize("form", sorted(BATCH_FORMS))
def test_batch_of_zero_points_answers_nothing(form):
    """Zero points is a valid batch (an empty layer, an empty dask block): empty answers."""
    for empty in ([], np.empty(0), np.empty((0, 4))):
        answers = BATCH_FORMS[form](empty, empty, empty)
        assert answers and all(len(a) == 0 for a in answers)


shapes = st.lists(st.integers(0, 4), min_size=1, max_size=3).map(tuple)


@settings(max_examples=150, deadline=None)
@given(form=st.sampled_from(sorted(BATCH_FORMS)), sx=shapes, sy=shapes, data=st.data())
def test_coordinates_of_different_shapes_are_refused(form, sx, sy, data):
    """x of shape (2, 3) with y of shape (3, 2) is refused, never flattened into answers;
    equal shapes are flattened in C order."""
    x = data.draw(st.lists(finite, min_size=int(np.prod(sx)), max_size=int(np.prod(sx))))
    y = data.draw(st.lists(finite, min_size=int(np.prod(sy)), max_size=int(np.prod(sy))))
    x, y = np.reshape(x, sx), np.reshape(y, sy)
    z = np.full(sx, 5000.0)
    if sx != sy:
        with pytest.raises(InvalidCoordinateError, match="x and y must have the same"):
            BATCH_FORMS[form](x, y, z)
        return
    got = BATCH_FORMS[form](x, y, z)
    flat = BATCH_FORMS[form](x.ravel(), y.ravel(), z.ravel())
    for a, b in zip(got, flat, strict=True):
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.y, b.y)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), n=st.integers(1, 30))
def test_masked_values_are_refused_naming_the_first(data, n):
    """Masked arrays: the value under a mask is not data. Any masked element is refused
    naming the first masked position; an array with nothing masked is its plain data."""
    x = np.ma.array(np.linspace(100, 4000, n),
                    mask=data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    y = np.linspace(50, 3000, n)
    which = data.draw(st.sampled_from(["x", "y"]))
    args = {"x": x, "y": y} if which == "x" else {"x": y, "y": x}
    if x.mask.any():
        first = int(np.flatnonzero(x.mask)[0])
        with pytest.raises(InvalidCoordinateError, match=f"{which} is masked at position {first}"):
            SYNC.image_to_image_batch(SEED, args["x"], args["y"], [102])
    else:
        got = SYNC.image_to_image_batch(SEED, args["x"], args["y"], [102])[0]
        plain = SYNC.image_to_image_batch(SEED, np.asarray(args["x"]), np.asarray(args["y"]),
                                          [102])[0]
        np.testing.assert_array_equal(got.x, plain.x)


bad_id = st.sampled_from([None, "101", 1.5, float("nan"), True, [3], object()])


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=st.integers(1, 20))
def test_a_bad_element_of_a_per_point_id_array_is_named(data, n):
    """One id per point: a None (or any non-integer) at position k is refused as
    ``section_image_id[k]``, never a TypeError from sorting or comparing."""
    good = [im.id for im in CATALOG.images_of(101) if not im.failed]
    ids = data.draw(st.lists(st.sampled_from(good), min_size=n, max_size=n))
    k = data.draw(st.integers(0, n - 1))
    arr = np.empty(n, dtype=object)
    arr[:] = ids
    arr[k] = data.draw(bad_id)
    with pytest.raises(InvalidIdListError, match=rf"section_image_id\[{k}\]"):
        SYNC.image_to_reference_batch(arr, np.ones(n), np.ones(n))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(1, 20))
def test_per_point_ids_of_any_integer_form_agree(data, n):
    good = [im.id for im in CATALOG.images_of(101) if not im.failed]
    ids = data.draw(st.lists(st.sampled_from(good), min_size=n, max_size=n))
    x = np.linspace(0, 3000, n)
    want = SYNC.image_to_reference_batch(np.array(ids, dtype=np.int64), x, x)
    for form in (list(ids), np.array(ids, dtype=object), np.array(ids, dtype=float),
                 np.ma.array(ids)):
        got = SYNC.image_to_reference_batch(form, x, x)
        np.testing.assert_array_equal(got.as_array(), want.as_array())


@pytest.mark.parametrize("n", [0, 1, 3])
def test_per_point_id_array_of_the_wrong_length(n):
    with pytest.raises(InvalidIdListError, match=r"one id per point \(2\)"):
        SYNC.image_to_reference_batch(np.full(n, SEED), [1.0, 2.0], [3.0, 4.0])


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (np.array([1 + 2j, 3 + 0j]), "complex"),
        (np.array(["2026-01-01", "2026-01-02"], dtype="datetime64[D]"), "dates"),
        (np.array([1, 2], dtype="timedelta64[s]"), "time spans"),
        (np.array([True, False]), "booleans"),
        (np.array(["1", "2"]), "text"),
        (np.array([b"1", b"2"]), "bytes"),
        (np.array([1.0, None], dtype=object), "[1.0, None]"),
    ],
)
def test_non_real_coordinates_are_refused_not_converted(values, kind):
    with pytest.raises(InvalidCoordinateError, match="x must be numbers") as info:
        SYNC.image_to_reference_batch(SEED, values, [1.0, 2.0])
    assert kind in str(info.value)
    assert info.value.parameter == "x"


def test_nan_error_carries_the_position_for_callers_that_chunk():
    x = np.arange(10.0)
    x[7] = np.inf
    with pytest.raises(InvalidCoordinateError) as info:
        SYNC.image_to_reference_batch(SEED, x, np.zeros(10))
    assert (info.value.parameter, info.value.index, info.value.value) == ("x", 7, np.inf)
