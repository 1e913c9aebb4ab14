"""The client against the Allen-compatible server over real HTTP on loopback:
every service equals the local engine; URLs are AllenSDK's; inputs are checked first."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _http_fixtures import (
    ALL_FAILED,
    ATLAS_ID,
    CORONAL,
    DATA_SETS,
    ROOT,
    SAGITTAL,
    STRUCTURES,
    msg_equal,
)
from napari_allen_sync.client import SynchronizationApi, failed_syncs
from napari_allen_sync.errors import (
    InvalidCoordinateError,
    InvalidIdListError,
    ServiceError,
    UnknownIdError,
)
from napari_allen_sync.synchronizer import Synchronizer

HYPOTHESIS = settings(max_examples=40, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def api(server):
    with SynchronizationApi(server.base, timeout=(2, 10), retries=2, deadline=20) as client:
        yield client


@pytest.fixture(scope="module")
def engine(served):
    return Synchronizer(served.catalog)


def r6(v):
    """A coordinate as it travels: AllenSDK's %f keeps six decimals."""
    return float("%f" % v)  # noqa: UP031 - the format AllenSDK sends


def usable(catalog, ds_id):
    return [im for im in catalog.images_of(ds_id) if not im.failed]


def seeds():
    return st.tuples(
        st.sampled_from((*CORONAL, SAGITTAL)),
        st.integers(0, 10_000),
        st.floats(-2000, 8000, allow_nan=False),
        st.floats(-2000, 6000, allow_nan=False),
    )


def pick(catalog, ds_id, k):
    images = usable(catalog, ds_id)
    return images[k % len(images)]


@HYPOTHESIS
@given(seed=seeds(), targets=st.lists(st.sampled_from(DATA_SETS), min_size=1, max_size=4))
def test_image_to_image_equals_engine(api, engine, server, seed, targets):
    ds, k, x, y = seed
    im = pick(server.catalog, ds, k)
    assert msg_equal(api.get_image_to_image(im.id, x, y, targets),
                     engine.image_to_image(im.id, r6(x), r6(y), targets))


@HYPOTHESIS
@given(seed=seeds())
def test_image_to_reference_equals_engine(api, engine, server, seed):
    ds, k, x, y = seed
    im = pick(server.catalog, ds, k)
    got = api.get_image_to_reference(im.id, x, y)
    want = engine.image_to_reference(im.id, r6(x), r6(y))
    assert msg_equal(got, want)


@HYPOTHESIS
@given(space=st.sampled_from([9, 10]), p=st.floats(0, 13200), i=st.floats(0, 8000),
       r=st.floats(0, 11400), targets=st.lists(st.sampled_from(DATA_SETS), min_size=1, max_size=4))
def test_reference_to_image_equals_engine(api, engine, space, p, i, r, targets):
    assert msg_equal(api.get_reference_to_image(space, p, i, r, targets),
                     engine.reference_to_image(space, r6(p), r6(i), r6(r), targets))


@HYPOTHESIS
@given(seed=seeds(), picks=st.lists(st.tuples(st.sampled_from(DATA_SETS), st.integers(0, 99)),
                                    min_size=1, max_size=4))
def test_image_to_image_2d_equals_engine(api, engine, server, seed, picks):
    ds, k, x, y = seed
    im = pick(server.catalog, ds, k)
    targets = [pick(server.catalog, d, j).id for d, j in picks]
    assert msg_equal(api.get_image_to_image_2d(im.id, x, y, targets),
                     engine.image_to_image_2d(im.id, r6(x), r6(y), targets))


@HYPOTHESIS
@given(seed=seeds())
def test_image_to_atlas_equals_engine(api, engine, server, seed):
    ds, k, x, y = seed
    im = pick(server.catalog, ds, k)
    got = api.get_image_to_atlas(im.id, x, y, ATLAS_ID)
    assert msg_equal(got, engine.image_to_atlas(im.id, r6(x), r6(y), ATLAS_ID))
    assert got["image_sync"]["section_data_set_id"] is None


@pytest.mark.parametrize("ds", DATA_SETS)
def test_structure_to_image_equals_engine(api, engine, ds):
    ids = list(STRUCTURES[::-1])
    got = api.get_structure_to_image(ds, ids)
    assert msg_equal(got, engine.structure_to_image(ds, ids))
    assert len(got) == len(ids)


def test_failed_targets_are_kept_in_place(api, engine, server):
    im = usable(server.catalog, CORONAL[0])[4]
    targets = [CORONAL[1], ALL_FAILED, 424242, SAGITTAL]
    got = api.get_image_to_image(im.id, 100.0, 200.0, targets)
    assert len(got) == 4
    assert failed_syncs(got) == [1, 2]
    assert got[1]["image_sync"]["section_data_set_id"] == str(ALL_FAILED)
    # the synchronized targets are the engine's answers
    want = engine.image_to_image(im.id, 100.0, 200.0, [CORONAL[1], SAGITTAL])
    assert msg_equal([got[0], got[3]], want)
    structures = api.get_structure_to_image(CORONAL[0], [315, 5555])
    assert failed_syncs(structures) == [1]


def test_unknown_seed_is_a_service_error_with_message_and_url(api):
    with pytest.raises(ServiceError) as info:
        api.get_image_to_reference(999_999_999, 1, 2)
    err = info.value
    assert err.status == 404
    assert "999999999" in err.message
    assert err.url.endswith("/api/v2/image_to_reference/999999999.json?x=1.000000&y=2.000000")


@pytest.mark.parametrize(
    "method, args, error",
    [
        ("image_to_reference", (1, float("nan"), 2), InvalidCoordinateError),
        ("image_to_reference", (1, 1, float("inf")), InvalidCoordinateError),
        ("image_to_reference", (1, "12", 2), InvalidCoordinateError),
        ("image_to_image", (1, 1, 2, []), InvalidIdListError),
        ("image_to_image", (1, 1, 2, 5), InvalidIdListError),
        ("structure_to_image", (1, []), InvalidIdListError),
        ("image_to_image_2d", (1, 1, 2, ["a"]), InvalidIdListError),
        ("reference_to_image", (9, 1, 2, float("nan"), [1]), InvalidCoordinateError),
        ("image_to_atlas", (1, 1, 2, 1.5), InvalidIdListError),
    ],
)
def test_inputs_are_checked_before_sending(method, args, error, engine):
    # Port 9 (discard) is closed on loopback: a request would raise ServiceUnavailableError.
    api = SynchronizationApi("http://127.0.0.1:9", timeout=(0.5, 0.5), retries=0)
    with pytest.raises(error):
        getattr(api, f"get_{method}")(*args)
    # the local engine refuses the same input (or, checking ids first, the unknown id)
    with pytest.raises((error, UnknownIdError)):
        getattr(engine, method)(*args)


def test_urls_are_allensdk_urls():
    recorded = json.loads((ROOT / "tests" / "data" / "allensdk-urls.json").read_text())
    api = SynchronizationApi("http://api.brain-map.org")
    for call in recorded["calls"]:
        builder = getattr(api, call["method"].removeprefix("get_") + "_url")
        assert builder(**call["args"]) == call["url"]


def test_base_uri_trailing_slash_and_default():
    assert SynchronizationApi().base_uri == "https://api.brain-map.org"
    assert SynchronizationApi("http://h:1/").image_to_reference_url(5, 1, 2).startswith(
        "http://h:1/api/v2/")
    with pytest.raises(ValueError):
        SynchronizationApi("ftp://example.org")


def test_failed_syncs_helper():
    assert failed_syncs({"image_sync": {"section_data_set_id": None}}) == [0]
    assert failed_syncs({"image_sync": {"section_image_id": 3, "x": 1.0, "y": 2.0}}) == []
    assert failed_syncs([]) == []


def test_percent_f_rounding_is_what_is_sent(api, engine, server):
    """The client sends %f (6 decimals) like AllenSDK; the answer is the engine's at the
    rounded coordinate."""
    im = usable(server.catalog, CORONAL[2])[7]
    x, y = 1234.56789012345, 987.000000449
    url = api.image_to_reference_url(im.id, x, y)
    q = parse_qs(urlparse(url).query)
    assert q["x"] == ["1234.567890"] and q["y"] == ["987.000000"]
    got = api.get_image_to_reference(im.id, x, y)
    assert msg_equal(got, engine.image_to_reference(im.id, float(q["x"][0]), float(q["y"][0])))
    assert not np.isclose(got["image_to_reference"]["x"],
                          engine.image_to_reference(im.id, x + 1, y)["image_to_reference"]["x"])


def test_client_gets_the_live_services_recorded_answers():
    """The 20 recorded image_to_reference answers, served from their matrices."""
    from _http_fixtures import ground_truth_image_to_reference
    from napari_allen_sync.server import create_app, serve_in_thread

    cases, catalog = ground_truth_image_to_reference()
    with serve_in_thread(create_app(catalog)) as base:
        api = SynchronizationApi(base, timeout=(2, 10))
        for c in cases:
            q = parse_qs(urlparse(c["request"]).query)
            sid = int(urlparse(c["request"]).path.split("/")[-1].split(".")[0])
            got = api.get_image_to_reference(sid, float(q["x"][0]), float(q["y"][0]))
            assert msg_equal(got, c["expected_msg"], rel=1e-9)
