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

served = _http_fixtures.served
server = _http_fixtures.server

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
    """However long the list, the engine's batch form is called once with the distinct
    answerable targets in first-seen order."""
    service = Service(synthetic_catalog())
    calls = []
    real = service.sync.image_to_image_batch

    def spy(seed, x, y, ids):
        calls.append(list(ids))
        return real(seed, x, y, ids)

    monkeypatch.setattr(service.sync, "image_to_image_batch", spy)
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
