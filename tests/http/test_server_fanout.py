"""The list services answer each target as one-target-at-a-time would, over real HTTP:
the server computes all distinct targets of a request through the engine's batch forms
(:func:`napari_allen_sync.server.service._fan_out`); the answers, failed targets and order
must be exactly those of the engine's Allen form called with one target at a time."""

from __future__ import annotations

import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import _http_fixtures
from _http_fixtures import (
    ALL_FAILED,
    ATLAS_DATA_SET,
    CORONAL,
    DATA_SETS,
    NO_ALIGNMENT,
    SAGITTAL,
    STRUCTURES,
    synthetic_catalog,
)
from napari_allen_sync.errors import MissingAlignmentError, NoUsableImagesError, UnknownIdError
from napari_allen_sync.server import create_app, serve_in_thread
from napari_allen_sync.server import service as service_module
from napari_allen_sync.server.params import Params
from napari_allen_sync.server.service import Service
from napari_allen_sync.synchronizer import Synchronizer

HYPO = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

TARGET_ERRORS = (UnknownIdError, NoUsableImagesError, MissingAlignmentError)
#: Data set ids a request may name: answered, sagittal (another space), all images
#: failed, no alignment3d, an atlas data set, unknown.
DATA_SET_TARGETS = (*DATA_SETS, ALL_FAILED, NO_ALIGNMENT, ATLAS_DATA_SET, 1, 999999,
                    10**18 - 1)
#: Spaces of reference_to_image: both known spaces and one with no transform to them.
SPACES = (9, 10, 77)


@pytest.fixture(scope="module")
def session():
    with requests.Session() as s:
        yield s


@pytest.fixture(scope="module")
def engine():
    """A separate engine on an equal catalog: the one-target-at-a-time reference."""
    return Synchronizer(synthetic_catalog())


def one_at_a_time(call, targets, failed):
    """What the list service answers, computed one target at a time."""
    out = []
    for t in targets:
        try:
            out.append(call([t])[0])
        except TARGET_ERRORS:
            out.append(failed(t))
    return json.loads(json.dumps(out))


def failed(data_set_id):
    return {"image_sync": {"section_data_set_id": None if data_set_id is None
                           else str(data_set_id)}}


def answer(session, base, path):
    r = session.get(base + path, timeout=60)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["num_rows"] == data["total_rows"] == len(data["msg"])
    return data["msg"]


def image_ids(catalog):
    """Every image id of the catalog (failed and unaligned ones included) and unknowns."""
    return [*sorted(catalog.section_images), 1, 424242]


def seeds(catalog):
    return [im.id for d in (*CORONAL, SAGITTAL) for im in catalog.images_of(d)
            if not im.failed][::7]


@st.composite
def id_lists(draw, pool):
    """Lists drawn from ``pool`` with repeats, 1..80 long."""
    return draw(st.lists(st.sampled_from(pool), min_size=1, max_size=80))


coordinates = st.floats(-2e4, 2e4).map(lambda v: "%f" % v)  # noqa: UP031 - AllenSDK's


@HYPO
@given(data=st.data(), x=coordinates, y=coordinates)
def test_image_to_image_equals_one_target_at_a_time(server, session, engine, data, x, y):
    seed = data.draw(st.sampled_from(seeds(engine.catalog)))
    ids = data.draw(id_lists(DATA_SET_TARGETS))
    got = answer(session, server.base, f"/api/v2/image_to_image/{seed}.json?x={x}&y={y}"
                 f"&section_data_set_ids={','.join(map(str, ids))}")
    want = one_at_a_time(lambda t: engine.image_to_image(seed, float(x), float(y), t),
                         ids, failed)
    assert got == want


@HYPO
@given(data=st.data(), x=coordinates, y=coordinates, z=coordinates)
def test_reference_to_image_equals_one_target_at_a_time(server, session, engine, data, x, y,
                                                        z):
    space = data.draw(st.sampled_from(SPACES))
    ids = data.draw(id_lists(DATA_SET_TARGETS))
    got = answer(session, server.base, f"/api/v2/reference_to_image/{space}.json?x={x}&y={y}"
                 f"&z={z}&section_data_set_ids={','.join(map(str, ids))}")
    want = one_at_a_time(
        lambda t: engine.reference_to_image(space, float(x), float(y), float(z), t), ids, failed)
    assert got == want


@HYPO
@given(data=st.data(), x=coordinates, y=coordinates)
def test_image_to_image_2d_equals_one_target_at_a_time(server, session, engine, data, x, y):
    catalog = engine.catalog
    seed = data.draw(st.sampled_from(seeds(catalog)))
    ids = data.draw(id_lists(image_ids(catalog)))
    got = answer(session, server.base, f"/api/v2/image_to_image_2d/{seed}.json?x={x}&y={y}"
                 f"&section_image_ids={','.join(map(str, ids))}")

    def failed_image(t):
        im = catalog.section_images.get(t)
        return failed(None if im is None else im.data_set_id)

    want = one_at_a_time(lambda t: engine.image_to_image_2d(seed, float(x), float(y), t),
                         ids, failed_image)
    assert got == want


@HYPO
@given(data=st.data())
def test_structure_to_image_equals_one_target_at_a_time(server, session, engine, data):
    ds = data.draw(st.sampled_from((*DATA_SETS, ALL_FAILED, NO_ALIGNMENT)))
    ids = data.draw(id_lists((*STRUCTURES, 1, 8, 424242)))
    got = answer(session, server.base, f"/api/v2/structure_to_image/{ds}.json"
                 f"?structure_ids={','.join(map(str, ids))}")
    want = one_at_a_time(lambda t: engine.structure_to_image(ds, t), ids,
                         lambda t: failed(ds))
    assert got == want


def test_the_largest_list_of_distinct_and_repeated_targets(server, session, engine):
    """10,000 targets (the limit), mixing every kind, in one answer equal to the
    one-at-a-time one."""
    seed = seeds(engine.catalog)[3]
    ids = [10**6 + k if k % 3 == 0 else DATA_SET_TARGETS[(k * 7) % len(DATA_SET_TARGETS)]
           for k in range(10_000)]  # a third distinct unknown ids
    got = answer(session, server.base, f"/api/v2/image_to_image/{seed}.json?x=10.5&y=-3"
                 f"&section_data_set_ids={','.join(map(str, ids))}")
    want = one_at_a_time(lambda t: engine.image_to_image(seed, 10.5, -3.0, t), ids, failed)
    assert got == want


class ChangingEngine:
    """An engine whose batch forms raise a target error once (as if the catalog changed
    between the server's check and the computation)."""

    def __init__(self, engine):
        self.engine = engine
        self.raised = 0

    def __getattr__(self, name):
        attr = getattr(self.engine, name)
        if not name.endswith("_batch"):
            return attr

        def batch(*args):
            self.raised += 1
            raise UnknownIdError("SectionDataSet", CORONAL[1], "removed meanwhile")

        return batch


def test_a_batch_that_fails_after_the_check_falls_back_to_one_target_at_a_time(engine):
    service = Service(synthetic_catalog())
    service.sync = ChangingEngine(service.sync)
    seed = seeds(engine.catalog)[0]
    ids = [CORONAL[1], 5, CORONAL[1], SAGITTAL, ALL_FAILED]
    got = service.synchronize("image_to_image", seed, Params(
        f"x=1&y=2&section_data_set_ids={','.join(map(str, ids))}"))
    assert service.sync.raised == 1
    assert json.loads(json.dumps(got)) == one_at_a_time(
        lambda t: engine.image_to_image(seed, 1.0, 2.0, t), ids, failed)


def test_each_distinct_target_is_computed_once_in_one_batch(monkeypatch):
    """However long the list, the vectorized path is called once with the distinct
    answerable targets in first-seen order."""
    from napari_allen_sync.server import fanout

    service = Service(synthetic_catalog())
    calls = []
    real = fanout.to_data_sets

    def spy(sync, space, x, y, z, ids):
        calls.append(list(ids))
        return real(sync, space, x, y, z, ids)

    monkeypatch.setattr(fanout, "to_data_sets", spy)
    seed = seeds(service.catalog)[0]
    ids = [SAGITTAL, CORONAL[2], 5, SAGITTAL, ALL_FAILED, CORONAL[0]] * 500
    msg = service.synchronize("image_to_image", seed, Params(
        f"x=1&y=2&section_data_set_ids={','.join(map(str, ids))}"))
    assert calls == [[SAGITTAL, CORONAL[2], CORONAL[0]]]
    assert len(msg) == len(ids)
    assert service_module.LARGE_LIST_IDS < len(ids)


def test_an_unknown_seed_is_still_a_404_whatever_the_targets(server, session):
    r = session.get(f"{server.base}/api/v2/image_to_image/5.json?x=1&y=2"
                    f"&section_data_set_ids={CORONAL[0]},5", timeout=30)
    assert r.status_code == 404 and r.json()["success"] is False


def test_a_server_of_its_own_answers_the_same(engine):
    """A fresh app (no stack built yet) answers as the shared one."""
    seed = seeds(engine.catalog)[5]
    ids = [ALL_FAILED, *CORONAL, SAGITTAL, NO_ALIGNMENT, 3, CORONAL[0]]
    with serve_in_thread(create_app(synthetic_catalog())) as base:
        got = requests.get(f"{base}/api/v2/image_to_image/{seed}.json?x=5&y=6"
                           f"&section_data_set_ids={','.join(map(str, ids))}",
                           timeout=30).json()["msg"]
    assert got == one_at_a_time(lambda t: engine.image_to_image(seed, 5.0, 6.0, t), ids, failed)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False,
                                                                        allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=8)


@given(elements=st.lists(json_values, max_size=6), picks=st.lists(st.integers(0, 5),
                                                                  max_size=30))
def test_list_answers_are_written_as_starlette_writes_them(elements, picks):
    """The list services' answer writer (each distinct element encoded once) gives
    JSONResponse's bytes and headers exactly, elements shared or not."""
    from starlette.responses import JSONResponse

    from napari_allen_sync.server.app import envelope_response
    from napari_allen_sync.server.service import envelope

    msg = [elements[k % len(elements)] for k in picks] if elements else []
    for value in (msg, [json.loads(json.dumps(v)) for v in msg], {"image_sync": msg}):
        got, want = envelope_response(value), JSONResponse(envelope(value))
        assert got.body == want.body
        assert got.headers == want.headers and got.status_code == want.status_code


# ---------------------------------------------------------------------- many data sets
def many_data_sets_catalog(n=60, seed=11):
    """``n`` data sets of 1 to 60 sections at random numbers, thicknesses and spaces (9
    and 10), some with failed images: the vectorized path's search runs over stacks of
    every length laid end to end."""
    import numpy as np

    from napari_allen_sync.catalog import Catalog
    from napari_allen_sync.records import ReferenceToReferenceTransform

    rng = np.random.default_rng(seed)
    records = []
    for k in range(n):
        count = int(rng.choice([1, 1, 2, 3, int(rng.integers(4, 61))]))
        numbers = np.sort(rng.choice(np.arange(1, 600), size=count, replace=False))
        some_failed = bool(rng.random() < 0.15)
        ds, ims = _http_fixtures._data_set(
            rng, 2000 + k, space=int(rng.choice([9, 10])), plane=int(rng.integers(1, 3)),
            thickness=float(rng.choice([10.0, 25.0, 50.0, 100.0])), numbers=numbers,
            failed=lambda j, bad=some_failed: bad and j % 2 == 0)
        records += [ds, *ims]
    records.append(ReferenceToReferenceTransform(
        from_reference_space_id=9, to_reference_space_id=10,
        t=(1, 0, 0, 0, 1, 0, 0, 0, -1, 0, 0, 11350), id=77))
    return Catalog(records)


@pytest.fixture(scope="module")
def many():
    """A service and a separate engine (the reference) on equal catalogs."""
    return Service(many_data_sets_catalog()), Synchronizer(many_data_sets_catalog())


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), x=st.floats(-3e4, 3e4), y=st.floats(-3e4, 3e4), z=st.floats(-3e4, 3e4))
def test_many_distinct_data_sets_equal_one_target_at_a_time(many, data, x, y, z):
    service, engine = many
    pool = [*sorted(engine.catalog.section_data_sets), 5, 77]
    ids = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=120))
    text = ",".join(map(str, ids))
    space = data.draw(st.sampled_from([9, 10, 12]))
    got = service.synchronize("reference_to_image", space, Params(
        f"x={x!r}&y={y!r}&z={z!r}&section_data_set_ids={text}"))
    assert json.loads(json.dumps(got)) == one_at_a_time(
        lambda t: engine.reference_to_image(space, x, y, z, t), ids, failed)
    seed = data.draw(st.sampled_from([im.id for im in engine.catalog.section_images.values()
                                      if im.alignment2d is not None]))
    got = service.synchronize("image_to_image", seed, Params(
        f"x={x!r}&y={y!r}&section_data_set_ids={text}"))
    assert json.loads(json.dumps(got)) == one_at_a_time(
        lambda t: engine.image_to_image(seed, x, y, t), ids, failed)


@given(stacks=st.lists(st.sets(st.integers(-50, 400), min_size=1, max_size=30), min_size=1,
                       max_size=12),
       data=st.data())
def test_the_vectorized_search_is_nearest_sections_of_each_stack(stacks, data):
    """The engine's lookup of one q in each stack (what fanout asks,
    ``section_lookup.index_of_each``) gives ``inferred.nearest_sections`` of each, ties
    (q exactly half-way), points on a section, outside the stack and NaN included."""
    import numpy as np

    from napari_allen_sync import inferred
    from napari_allen_sync.section_lookup import SectionLookup, index_of_each

    class S:
        def __init__(self, numbers):
            self.section_numbers = np.array(sorted(numbers), dtype=np.int64)

    objs = [S(s) for s in stacks]
    q = []
    for s in objs:
        sn = s.section_numbers.astype(float)
        candidates = [*sn, *(0.5 * (sn[1:] + sn[:-1])), sn[0] - 3.25, sn[-1] + 7.5, np.nan]
        q.append(data.draw(st.sampled_from(candidates) | st.floats(-100, 500)))
    q = np.array(q, dtype=float)
    got = index_of_each([SectionLookup(s.section_numbers) for s in objs], q)
    want = [int(inferred.nearest_sections(s.section_numbers, np.array([v]))[0][0])
            for s, v in zip(objs, q, strict=True)]
    assert got.tolist() == want
