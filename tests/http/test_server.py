"""The Allen-compatible server over real HTTP: wire format, errors, RMA, safety, the
``serve`` command, and a bounded load test."""

from __future__ import annotations

import http.client
import json
import threading
import time
from urllib.parse import urlparse

import numpy as np
import pytest

from _fault_server import Faults
from _http_fixtures import (
    ATLAS_ID,
    CORONAL,
    DATA_SETS,
    SAGITTAL,
    catalog_folder,
    msg_equal,
    random_points,
    server_process,
    synthetic_catalog,
)
from napari_allen_sync.cli import build_parser
from napari_allen_sync.client import SynchronizationApi
from napari_allen_sync.rma import RmaQuery, data_set_path
from napari_allen_sync.synchronizer import Synchronizer


def r6(v):
    return float("%f" % v)  # noqa: UP031 - the format AllenSDK sends


def raw_get(base, path):
    """GET a path exactly as written (no client-side normalization)."""
    u = urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def image(served, k=3):
    return served.catalog.images_of(CORONAL[0])[k]


def test_envelope_is_allens(server):
    im = image(server)
    path = f"/api/v2/image_to_reference/{im.id}.json?x=6208.000000&y=2368.000000"
    status, body = raw_get(server.base, path)
    data = json.loads(body)
    assert status == 200
    assert list(data) == ["success", "id", "start_row", "num_rows", "total_rows", "msg"]
    assert data["success"] is True and data["start_row"] == 0
    want = Synchronizer(server.catalog).image_to_reference(im.id, 6208, 2368)
    assert msg_equal(data["msg"], want)


def test_double_slash_is_accepted(server):
    im = image(server)
    path = (f"//api/v2/image_to_image/{im.id}.json?x=1.000000&y=2.000000"
            f"&section_data_set_ids={CORONAL[1]},{SAGITTAL}")
    status, body = raw_get(server.base, path)
    assert status == 200
    assert len(json.loads(body)["msg"]) == 2


@pytest.mark.parametrize(
    "path, status, text",
    [
        ("/api/v2/image_to_reference/{im}.json?x=nan&y=1.000000", 400, "finite"),
        ("/api/v2/image_to_reference/{im}.json?x=1e20&y=1", 400, "out of range"),
        ("/api/v2/image_to_reference/{im}.json?x=abc&y=1", 400, "number"),
        ("/api/v2/image_to_reference/{im}.json?y=1", 400, "parameter x: missing"),
        ("/api/v2/image_to_reference/{im}.xml?x=1&y=1", 400, ".json"),
        ("/api/v2/image_to_reference/abc.json?x=1&y=1", 400, "integer"),
        ("/api/v2/image_to_reference/123.json?x=1&y=1", 404, "unknown SectionImage id 123"),
        ("/api/v2/structure_to_image/1001.json?structure_ids=", 400, "empty"),
        ("/api/v2/structure_to_image/77.json?structure_ids=315", 404, "SectionDataSet"),
        ("/api/v2/image_to_image/{im}.json?x=1&y=1&section_data_set_ids=1,x", 400, "ASCII digits"),
        ("/api/v2/image_to_atlas/{im}.json?x=1&y=1&atlas_id=5", 404, "Atlas"),
        ("/api/v2/no_such_service/1.json", 404, "unknown service"),
        ("/api/v3/whatever", 404, "Not Found"),
        ("/api/v2/data/query.json?criteria=model::Atlas,rma::criteria,atlas_data_set(atlases[id$eq1])",
         400, "unsupported"),
        ("/api/v2/data/query.json?criteria=model::Specimen", 400, "not served"),
        ("/api/v2/data/SectionDataSet/999.json", 404, "unknown SectionDataSet"),
        ("/api/v2/image_download/{im}?downsample=1&width=0", 404, "no pixels"),
    ],
)
def test_errors_are_allen_envelopes_with_a_fitting_status(served, path, status, text):
    if "image_download" in path:
        got_status, body = _no_pixels(served, path)
    else:
        got_status, body = raw_get(served.base, path.format(im=image(served).id))
    data = json.loads(body)
    assert got_status == status
    assert data["success"] is False
    assert text in data["msg"]


def _no_pixels(served, path):
    from napari_allen_sync.server import create_app, serve_in_thread

    with serve_in_thread(create_app(served.catalog)) as base:
        return raw_get(base, path.format(im=image(served).id))


def test_image_download_bad_sizes_are_400(server):
    status, body = raw_get(server.base, f"/api/v2/image_download/{image(server).id}?width=0")
    assert status == 400 and b"parameter width: must be 1..8192" in body
    status, body = raw_get(server.base, f"/api/v2/image_download/{image(server).id}?downsample=99")
    assert status == 400


@pytest.mark.parametrize("path", [
    "/api/v2/image_download/../../../../etc/passwd",
    "/api/v2/data/..%2F..%2F..%2Fetc%2Fpasswd/1.json",
    "/../../../../etc/passwd",
    "/api/v2/data/query.json?criteria=model::..%2F..%2Fetc",
    "/api/v2/image_download/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "//etc/passwd",
])
def test_no_path_reaches_a_file(server, path):
    status, body = raw_get(server.base, path)
    assert status in (400, 404)
    assert b"root:" not in body
    assert json.loads(body)["success"] is False


def test_both_rma_forms_give_the_same_data_set(server):
    a = json.loads(raw_get(server.base, data_set_path(CORONAL[1]))[1])
    q = RmaQuery("SectionDataSet", [("id", "eq", str(CORONAL[1]))],
                 include="section_images(alignment2d),alignment3d")
    b = json.loads(raw_get(server.base, q.path())[1])
    assert a == b
    trv = server.catalog.section_data_set(CORONAL[1]).alignment3d.trv
    assert a["msg"][0]["alignment3d"]["trv_00"] == trv[0]
    assert len(a["msg"][0]["section_images"]) == len(server.catalog.images_of(CORONAL[1]))
    bare = json.loads(raw_get(server.base, f"/api/v2/data/SectionDataSet/{CORONAL[1]}.json")[1])
    assert "alignment3d" not in bare["msg"][0] and "section_images" not in bare["msg"][0]


def test_rma_paging(server):
    rows = []
    total = None
    for start in range(0, 10, 3):
        q = RmaQuery("StructureCenter", [("reference_space_id", "eq", "9")], start_row=start,
                     num_rows=3)
        data = json.loads(raw_get(server.base, q.path())[1])
        total = data["total_rows"]
        assert data["start_row"] == start and data["num_rows"] == len(data["msg"])
        rows += data["msg"]
    assert total == 4 and len(rows) == 4
    assert {r["structure_id"] for r in rows} == {997, 315, 698, 1089}


def test_faults_reject_unknown_kinds():
    with pytest.raises(ValueError):
        Faults().add("explode")


def test_serve_binds_loopback_by_default():
    args = build_parser().parse_args(["serve", "--catalog", "somewhere"])
    assert args.host == "127.0.0.1"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve"])  # --catalog or --demo is required


@pytest.fixture(scope="module")
def child_server(tmp_path_factory):
    folder = catalog_folder(tmp_path_factory.mktemp("catalog"))
    with server_process(folder) as base:
        yield base


def test_serve_command_answers_from_a_catalog_folder(child_server):
    catalog = synthetic_catalog()
    engine = Synchronizer(catalog)
    api = SynchronizationApi(child_server, timeout=(2, 10))
    im = catalog.images_of(SAGITTAL)[2]
    assert msg_equal(api.get_image_to_image(im.id, 100.5, 200.25, list(DATA_SETS)),
                     engine.image_to_image(im.id, 100.5, 200.25, list(DATA_SETS)))
    assert msg_equal(api.get_image_to_atlas(im.id, 100.5, 200.25, ATLAS_ID),
                     engine.image_to_atlas(im.id, 100.5, 200.25, ATLAS_ID))


CLIENTS = 50
REQUESTS_EACH = 200


def test_load_50_clients_x_200_requests(child_server):
    """50 concurrent clients × 200 requests against the server process: none fails and
    every answer is the engine's."""
    catalog = synthetic_catalog()
    engine = Synchronizer(catalog)
    rng = np.random.default_rng(11)
    points = random_points(rng, catalog, 64)
    expected = [engine.image_to_image(s, r6(x), r6(y), list(CORONAL))
                for s, x, y in points]
    failures = []
    wrong = []
    done = [0] * CLIENTS
    start = threading.Barrier(CLIENTS)

    def client(k):
        api = SynchronizationApi(child_server, timeout=(5, 30), retries=0, deadline=60)
        start.wait(timeout=30)
        for j in range(REQUESTS_EACH):
            n = (k * REQUESTS_EACH + j) % len(points)
            s, x, y = points[n]
            try:
                got = api.get_image_to_image(s, x, y, list(CORONAL))
            except Exception as exc:
                failures.append(repr(exc))
                continue
            if not msg_equal(got, expected[n]):
                wrong.append(n)
            done[k] += 1
        api.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=150)
    elapsed = time.perf_counter() - t0
    print(f"load: {CLIENTS} x {REQUESTS_EACH} requests in {elapsed:.1f} s "
          f"({CLIENTS * REQUESTS_EACH / elapsed:.0f} requests/s)")
    assert failures == []
    assert wrong == []
    assert sum(done) == CLIENTS * REQUESTS_EACH
