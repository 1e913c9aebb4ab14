"""Faults over real HTTP: every one ends in a retry that succeeds or a clear error
within the configured limits, and leaves nothing wrong in the cache."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from _fault_server import ResetProxy
from _http_fixtures import (
    CORONAL,
    msg_equal,
)
from napari_allen_sync.client import SynchronizationApi
from napari_allen_sync.errors import (
    ServiceError,
    ServiceTimeoutError,
    ServiceUnavailableError,
)
from napari_allen_sync.remote import RemoteSource
from napari_allen_sync.server import serve_in_thread
from napari_allen_sync.synchronizer import Synchronizer

pytestmark = pytest.mark.timeout(60)


def seed(catalog):
    im = catalog.images_of(CORONAL[0])[3]
    return im.id, 321.0, 654.0


def expected(catalog):
    sid, x, y = seed(catalog)
    return Synchronizer(catalog).image_to_image(sid, x, y, list(CORONAL))


def call(api, catalog):
    sid, x, y = seed(catalog)
    return api.get_image_to_image(sid, x, y, list(CORONAL))


@pytest.mark.parametrize("kind", ["500", "503"])
def test_error_burst_is_retried(server, kind):
    server.faults.add(kind, count=2, path_contains="image_to_image")
    api = SynchronizationApi(server.base, timeout=(2, 5), retries=3, backoff_factor=0.01)
    assert msg_equal(call(api, server.catalog), expected(server.catalog))
    assert server.faults.injected[kind] >= 2
    assert server.faults.pending() == 0


def test_endless_errors_end_in_a_service_error(server):
    server.faults.add("500", count=50, path_contains="image_to_image")
    api = SynchronizationApi(server.base, timeout=(2, 5), retries=2, backoff_factor=0.01)
    with pytest.raises(ServiceError) as info:
        call(api, server.catalog)
    assert info.value.status == 500
    assert "injected HTTP 500" in str(info.value)
    assert "/api/v2/image_to_image/" in info.value.url
    server.faults.clear()
    assert msg_equal(call(api, server.catalog), expected(server.catalog))


def test_stalled_answer_is_retried(server):
    server.faults.add("stall", count=1, seconds=5, path_contains="image_to_image")
    api = SynchronizationApi(server.base, timeout=(2, 0.5), retries=2, backoff_factor=0.01)
    assert msg_equal(call(api, server.catalog), expected(server.catalog))
    assert server.faults.injected["stall"] == 1


@pytest.mark.timeout(20)
def test_endless_stall_ends_in_a_timeout(server):
    server.faults.add("stall", count=100, seconds=30, path_contains="image_to_image")
    api = SynchronizationApi(server.base, timeout=(1, 0.4), retries=5, backoff_factor=0.01,
                             deadline=2.0)
    with pytest.raises(ServiceTimeoutError):
        call(api, server.catalog)


@pytest.mark.timeout(20)
def test_trickling_answer_hits_the_total_deadline(server):
    # one byte every 0.2 s never trips the 2 s read timeout; only the deadline stops it
    server.faults.add("trickle", count=1, seconds=0.2, path_contains="image_to_image")
    api = SynchronizationApi(server.base, timeout=(1, 2), retries=0, deadline=1.5)
    with pytest.raises(ServiceTimeoutError, match="deadline"):
        call(api, server.catalog)


def test_reset_connections_are_retried(server):
    host, port = server.base.removeprefix("http://").split(":")
    with ResetProxy((host, int(port))) as proxy:
        proxy.reset_next(2)
        api = SynchronizationApi(proxy.base_url, timeout=(2, 5), retries=3, backoff_factor=0.01)
        assert msg_equal(call(api, server.catalog), expected(server.catalog))
        assert proxy.reset_count == 2
        proxy.reset_next(20)
        api = SynchronizationApi(proxy.base_url, timeout=(2, 5), retries=2, backoff_factor=0.01)
        with pytest.raises(ServiceUnavailableError):
            call(api, server.catalog)


def test_unreachable_server():
    api = SynchronizationApi("http://127.0.0.1:9", timeout=(0.5, 0.5), retries=1,
                             backoff_factor=0.01)
    with pytest.raises(ServiceUnavailableError) as info:
        api.get_image_to_reference(1, 2, 3)
    assert info.value.url.startswith("http://127.0.0.1:9/api/v2/image_to_reference/1.json")


@pytest.mark.parametrize(
    "kind, match",
    [("malformed", "not JSON"), ("failure", "injected failure"), ("truncate", "truncated")],
)
def test_broken_answers_are_clear_errors(server, kind, match):
    server.faults.add(kind, count=1, path_contains="image_to_image")
    api = SynchronizationApi(server.base, timeout=(2, 5), retries=0)
    with pytest.raises(ServiceError, match=match) as info:
        call(api, server.catalog)
    assert "/api/v2/image_to_image/" in info.value.url
    assert msg_equal(call(api, server.catalog), expected(server.catalog))


WRONG_SHAPES = [
    b'{"success": true, "msg": {"foo": 1}}',
    b'{"success": true, "msg": [{"image_sync": {"section_image_id": 1, "x": 1.0, "y": 2.0}}]}',
    b'{"success": true, "msg": [1, 2, 3]}',
    b'{"success": true}',
    b'{"msg": []}',
    b'[1, 2]',
    b'<html>Service Temporarily Unavailable</html>',
    b'{"success": true, "msg": [{"image_sync": {"section_image_id": 1, "x": "a", "y": 2}},'
    b' {"image_sync": {}}, {"image_sync": {}}]}',
]


@pytest.mark.parametrize("body", WRONG_SHAPES)
def test_wrongly_shaped_answers_are_service_errors(body):
    async def answer(request):
        return Response(body, media_type="application/json")

    app = Starlette(routes=[Route("/{path:path}", answer)])
    with serve_in_thread(app) as base:
        api = SynchronizationApi(base, timeout=(2, 5), retries=0)
        with pytest.raises(ServiceError):
            api.get_image_to_image(1, 2.0, 3.0, [4, 5, 6])


@pytest.mark.parametrize("kind", ["malformed", "failure", "truncate", "500"])
def test_faults_leave_nothing_in_the_cache(server, tmp_path, kind):
    server.faults.add(kind, count=10, path_contains="/data/SectionDataSet/")
    source = RemoteSource(server.base, tmp_path, timeout=(2, 5), retries=1)
    source.api.session.adapters["http://"].max_retries.backoff_factor = 0.01
    with pytest.raises(ServiceError):
        source.ensure_data_set(CORONAL[1])
    assert source.cache.rma_names() == []
    assert list(source.cache.tmp_dir.iterdir()) == []
    assert CORONAL[1] not in source.catalog.section_data_sets
    server.faults.clear()
    source.ensure_data_set(CORONAL[1])
    assert "SectionDataSet-1002" in source.cache.rma_names()
    again = RemoteSource(server.base, tmp_path)
    assert len(again.catalog.images_of(CORONAL[1])) == len(server.catalog.images_of(CORONAL[1]))


def test_truncated_jpeg_is_refused_and_never_cached(server, tmp_path):
    source = RemoteSource(server.base, tmp_path, timeout=(2, 5), retries=0)
    image = server.catalog.images_of(CORONAL[0])[2]
    server.faults.add("truncated_jpeg", count=1, path_contains="image_download")
    with pytest.raises(ServiceError, match="JPEG"):
        source.tiles.tile(image, 3, 0, 0)
    assert not source.tiles.is_cached(image, 3, 0, 0)
    assert list(source.cache.tmp_dir.iterdir()) == []
    tile = source.tiles.tile(image, 3, 0, 0)
    assert tile.dtype.name == "uint8" and tile.ndim == 3
    assert source.tiles.is_cached(image, 3, 0, 0)
