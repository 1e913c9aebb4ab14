"""The server refuses what it cannot answer, over real HTTP: never a 500, always Allen's
envelope, a 400 naming the parameter, limits on ids, regions and request heads, 405 with
``Allow``, idle and trickling connections closed, CPU work off the event loop."""

from __future__ import annotations

import inspect
import io
import json
import re
import socket
import threading
from urllib.parse import quote, urlparse

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _http_fixtures import CORONAL, STRUCTURES, PatternTiles, synthetic_catalog
from napari_allen_sync.server import (
    MAX_DOWNLOAD_PIXELS,
    MAX_DOWNLOAD_SIDE,
    MAX_ID,
    MAX_IDS,
    MAX_OFFSET,
    create_app,
    serve_in_thread,
)
from napari_allen_sync.server import service as service_module
from napari_allen_sync.server.params import MAX_HEAD_BYTES

HYPO = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

#: Digits that str.isdigit() or int() accept and ASCII does not: superscripts, circled,
#: fullwidth, Arabic-Indic, Devanagari, Bengali, mathematical bold.
FOREIGN_DIGITS = "²³¹①②⑨０１９٠١٩۰۹०९০৯𝟎𝟗"
ASCII_ID = re.compile(r"[0-9]+")


@pytest.fixture(scope="module")
def session():
    with requests.Session() as s:
        yield s


def get(session, base, path, params=""):
    url = f"{base}{path}" + (f"?{params}" if params else "")
    return session.get(url, timeout=30)


def envelope_of(r) -> dict:
    """The body of an answer, which must be Allen's envelope."""
    assert r.status_code != 500, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    data = r.json()
    assert isinstance(data["success"], bool)
    assert data["success"] is (r.status_code == 200)
    if not data["success"]:
        assert isinstance(data["msg"], str) and data["msg"]
    return data


def image(served):
    return served.catalog.images_of(CORONAL[0])[3]


# ---------------------------------------------------------------------- strategies
def _foreign_number():
    return st.builds(
        lambda head, digit, tail: head + digit + tail,
        st.text("0123456789", max_size=3), st.sampled_from(FOREIGN_DIGITS),
        st.text("0123456789", max_size=3),
    )


#: Texts for one id: valid ASCII ids, huge ones, foreign digits, underscores, signs,
#: blanks, and anything at all.
id_texts = st.one_of(
    st.integers(0, 10**6).map(str),
    st.integers(MAX_ID - 3, 10**40).map(str),
    st.integers(4300, 6000).map(lambda n: "7" * n),
    _foreign_number(),
    st.integers(1, 10**6).map(lambda n: f"{n:_}"),
    st.integers(-10**6, 10**6).map(lambda n: f"{n:+d}"),
    st.integers(0, 999).map(lambda n: f" {n}"),
    st.text(max_size=8),
)

#: Texts for one coordinate: every float form, foreign digits, huge, and anything.
number_texts = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(-1e4, 1e4).map(lambda v: "%f" % v),  # noqa: UP031 - AllenSDK's format
    st.integers(4300, 6000).map(lambda n: "9" * n),
    _foreign_number(),
    st.integers(1, 10**6).map(lambda n: f"{n:_}"),
    st.text(max_size=12),
)


def is_valid_id(text: str) -> bool:
    return bool(ASCII_ID.fullmatch(text)) and len(text) < 30 and int(text) <= MAX_ID


# ---------------------------------------------------------------------- id lists
@HYPO
@given(ids=st.lists(id_texts, min_size=1, max_size=30))
def test_id_lists_are_answered_or_refused_naming_the_parameter(server, session, ids):
    im = image(server)
    r = get(session, server.base, f"/api/v2/image_to_image/{im.id}.json",
            f"x=10.000000&y=20.000000&section_data_set_ids={quote(','.join(ids), safe=',')}")
    data = envelope_of(r)
    if all(is_valid_id(t) for t in ids):
        assert r.status_code == 200
        assert len(data["msg"]) == len(ids)  # one element per target, failed or not
    else:
        assert r.status_code == 400
        assert "parameter section_data_set_ids" in data["msg"]


@HYPO
@given(text=st.one_of(id_texts, st.text(max_size=8)), service=st.sampled_from(
    ["image_to_reference", "image_to_image", "structure_to_image", "image_to_atlas"]))
def test_path_ids_are_ascii_digits(server, session, text, service):
    r = get(session, server.base, f"/api/v2/{service}/{quote(text, safe='')}.json",
            "x=1&y=1&section_data_set_ids=1001&structure_ids=315&atlas_id=1")
    data = envelope_of(r)
    if r.status_code == 400 and not is_valid_id(text):
        assert "parameter path id" in data["msg"]
    if not is_valid_id(text):
        assert r.status_code in (400, 404)  # 404: a path with '/', '.', '?' in it


@pytest.mark.parametrize("digit", list(FOREIGN_DIGITS))
def test_every_foreign_digit_is_refused_saying_ascii(server, session, digit):
    im = image(server)
    for path, params, name in [
        (f"/api/v2/image_to_reference/{im.id}.json", f"x=1{digit}&y=2", "x"),
        (f"/api/v2/image_to_reference/{im.id}.json", f"x=1&y={digit}", "y"),
        (f"/api/v2/structure_to_image/{CORONAL[0]}.json", f"structure_ids=315,{digit}",
         "structure_ids"),
        (f"/api/v2/image_to_atlas/{im.id}.json", f"x=1&y=2&atlas_id={digit}", "atlas_id"),
        (f"/api/v2/image_to_reference/1{digit}.json", "x=1&y=2", "path id"),
        (f"/api/v2/image_download/{im.id}", f"left=1{digit}&width=8&height=8", "left"),
    ]:
        r = get(session, server.base, path, quote(params, safe="=&,"))
        data = envelope_of(r)
        assert r.status_code == 400, (path, params)
        assert f"parameter {name}" in data["msg"] and "ASCII" in data["msg"]


@pytest.mark.parametrize("text", ["1_000", "١٠٠٠", "１０００", " 1000", "1000 ", "+1000",
                                  "0x3e8", "1e3", "1000.0", "", "7" * 4301])
def test_what_int_accepts_is_not_an_id(server, session, text):
    r = get(session, server.base, f"/api/v2/structure_to_image/{CORONAL[0]}.json",
            f"structure_ids={quote(text)}")
    data = envelope_of(r)
    assert r.status_code == 400
    assert "parameter structure_ids" in data["msg"]


def test_the_largest_id_list_is_answered_and_one_more_is_refused(server, session):
    ids = [STRUCTURES[k % len(STRUCTURES)] for k in range(MAX_IDS)]
    r = get(session, server.base, f"/api/v2/structure_to_image/{CORONAL[0]}.json",
            "structure_ids=" + ",".join(map(str, ids)))
    assert r.status_code == 200 and len(envelope_of(r)["msg"]) == MAX_IDS
    r = get(session, server.base, f"/api/v2/structure_to_image/{CORONAL[0]}.json",
            "structure_ids=" + ",".join(map(str, [*ids, 315])))
    data = envelope_of(r)
    assert r.status_code == 400
    assert "parameter structure_ids" in data["msg"] and str(MAX_IDS) in data["msg"]


# ---------------------------------------------------------------------- coordinates
@HYPO
@given(x=number_texts, y=st.sampled_from(["2.000000", "-3.5", "1e2"]))
def test_coordinates_are_ascii_finite_numbers(server, session, x, y):
    im = image(server)
    r = get(session, server.base, f"/api/v2/image_to_reference/{im.id}.json",
            f"x={quote(x, safe='')}&y={y}")
    data = envelope_of(r)
    if not x.isascii() or "_" in x or x != x.strip() or not x:
        assert r.status_code == 400 and "parameter x" in data["msg"]
    if r.status_code == 200:
        assert abs(float(x)) <= 1e9


# ---------------------------------------------------------------------- image_download
region_ints = st.one_of(
    st.integers(-50, 300),
    st.integers(-2**200, 2**200),
)
region_texts = st.one_of(region_ints.map(str), st.integers(4300, 5000).map(lambda n: "9" * n),
                         _foreign_number(), st.text(max_size=6))


@HYPO
@given(left=region_texts, top=region_texts, width=region_texts, height=region_texts,
       downsample=st.one_of(st.integers(-2, 20).map(str), _foreign_number()))
def test_image_download_parameters(server, session, left, top, width, height, downsample):
    im = image(server)
    params = {"left": left, "top": top, "width": width, "height": height,
              "downsample": downsample}
    r = get(session, server.base, f"/api/v2/image_download/{im.id}",
            "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items()))
    if r.status_code == 200:
        assert r.headers["content-type"] == "image/jpeg"
        w, h = int(width), int(height)  # the server read them: short ASCII integers
        assert 0 < w * h <= MAX_DOWNLOAD_PIXELS and -MAX_OFFSET <= int(left) <= MAX_OFFSET
        return
    data = envelope_of(r)
    assert r.status_code == 400
    named = re.search(r"parameter (\w+)", data["msg"])
    assert named and named.group(1) in params


@pytest.mark.parametrize("params, name", [
    ("left=" + "9" * 5000, "left"),
    (f"left={2**64}", "left"),
    (f"top={-2**70}", "top"),
    (f"left={MAX_OFFSET + 1}", "left"),
    ("width=0", "width"),
    (f"width={MAX_DOWNLOAD_SIDE + 1}&height=1", "width"),
    (f"height={2**64}", "height"),
    ("width=4097&height=4096", "width"),  # each side allowed, the product is not
    ("quality=101&width=8&height=8", "quality"),
    ("downsample=17", "downsample"),
])
def test_image_download_limits(server, session, params, name):
    r = get(session, server.base, f"/api/v2/image_download/{image(server).id}", params)
    data = envelope_of(r)
    assert r.status_code == 400 and f"parameter {name}" in data["msg"]


def test_a_whole_tier_beyond_the_limit_is_refused_naming_it(server, session):
    im = max((im for d in CORONAL for im in server.catalog.images_of(d)),
             key=lambda im: im.width * im.height)
    assert im.width * im.height > MAX_DOWNLOAD_PIXELS
    r = get(session, server.base, f"/api/v2/image_download/{im.id}", "downsample=0")
    assert r.status_code == 400 and str(MAX_DOWNLOAD_PIXELS) in envelope_of(r)["msg"]


def test_regions_are_rendered_in_strips_into_the_same_jpeg(server):
    from PIL import Image

    from napari_allen_sync.server.params import Params

    im = image(server)
    service = service_module.Service(server.catalog, tiles=RecordingTiles())
    width, height = 3000, 1200
    got = service.render(im.id, Params(f"left=100&top=50&width={width}&height={height}"
                                       "&downsample=0&quality=85"))
    sizes = service.tiles.sizes
    assert len(sizes) > 1 and max(w * h for w, h in sizes) <= service_module.STRIP_PIXELS
    assert sum(h for _, h in sizes) == height
    whole = PatternTiles().read_region(im, 0, 100 - im.x, 50 - im.y, width, height)
    buf = io.BytesIO()
    Image.fromarray(whole, "RGB").save(buf, format="JPEG", quality=85)
    assert got == buf.getvalue()


class RecordingTiles(PatternTiles):
    def __init__(self):
        super().__init__()
        self.sizes = []

    def read_region(self, image, downsample, left, top, width, height):
        self.sizes.append((width, height))
        return super().read_region(image, downsample, left, top, width, height)


class BlockingTiles(PatternTiles):
    """Renders only once ``release`` is set (at most 30 s)."""

    def __init__(self):
        super().__init__()
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def read_region(self, *args):
        self.entered.release()
        self.release.wait(30)
        return super().read_region(*args)


def test_renders_beyond_the_concurrency_limit_get_503_with_retry_after(monkeypatch):
    monkeypatch.setattr(service_module, "RENDER_WAIT_S", 0.2)
    catalog = synthetic_catalog()
    im = catalog.images_of(CORONAL[0])[3]
    tiles = BlockingTiles()
    url_path = f"/api/v2/image_download/{im.id}?width=16&height=16"
    with serve_in_thread(create_app(catalog, tiles=tiles)) as base:
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(
            requests.get(base + url_path, timeout=60)))
            for _ in range(service_module.MAX_CONCURRENT_RENDERS)]
        for t in threads:
            t.start()
        for _ in threads:
            assert tiles.entered.acquire(timeout=30)  # every slot is taken
        busy = requests.get(base + url_path, timeout=60)
        tiles.release.set()
        for t in threads:
            t.join(60)
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert envelope_of(busy)["success"] is False
    assert [a.status_code for a in answers] == [200] * service_module.MAX_CONCURRENT_RENDERS


class BlockingEngine:
    """An engine whose ``image_to_reference_batch`` (called once by an image_to_image
    list, for the seed point) waits for ``release`` (at most 30 s); the rest is the
    real engine's."""

    def __init__(self, engine):
        self.engine = engine
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def image_to_reference_batch(self, *args):
        self.entered.release()
        self.release.wait(30)
        return self.engine.image_to_reference_batch(*args)


def test_large_id_lists_beyond_the_concurrency_limit_get_503(monkeypatch):
    monkeypatch.setattr(service_module, "LARGE_WAIT_S", 0.2)
    catalog = synthetic_catalog()
    app = create_app(catalog)
    engine = app.state.service.sync = BlockingEngine(app.state.service.sync)
    im = catalog.images_of(CORONAL[0])[3]
    large = (f"/api/v2/image_to_image/{im.id}.json?x=1&y=2&section_data_set_ids="
             + ",".join([str(CORONAL[1])] * (service_module.LARGE_LIST_IDS + 1)))
    small = f"/api/v2/image_to_image/{im.id}.json?x=1&y=2&section_data_set_ids={CORONAL[1]}"
    with serve_in_thread(app) as base:
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(
            requests.get(base + large, timeout=120)))
            for _ in range(service_module.MAX_CONCURRENT_LARGE)]
        for t in threads:
            t.start()
        for _ in threads:
            assert engine.entered.acquire(timeout=30)  # every slot is taken
        busy = requests.get(base + large, timeout=60)
        engine.release.set()
        # a small request takes no slot (it would block in the engine before the release)
        assert requests.get(base + small, timeout=60).status_code == 200
        for t in threads:
            t.join(120)
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert "1000 ids" in envelope_of(busy)["msg"]
    assert [a.status_code for a in answers] == [200] * service_module.MAX_CONCURRENT_LARGE


def test_a_render_in_progress_does_not_hold_the_other_clients():
    """A render blocked inside the tile source: another client is still answered (it
    would wait forever if endpoints ran on the event loop)."""
    catalog = synthetic_catalog()
    im = catalog.images_of(CORONAL[0])[3]
    tiles = BlockingTiles()
    with serve_in_thread(create_app(catalog, tiles=tiles)) as base:
        heavy = threading.Thread(target=requests.get, args=(
            f"{base}/api/v2/image_download/{im.id}?width=16&height=16",), kwargs={"timeout": 60})
        heavy.start()
        assert tiles.entered.acquire(timeout=30)
        try:
            light = requests.get(f"{base}/api/v2/image_to_reference/{im.id}.json?x=1&y=2",
                                 timeout=20)
            assert not tiles.release.is_set()
            assert light.status_code == 200
        finally:
            tiles.release.set()
            heavy.join(60)


def test_every_endpoint_is_a_plain_function():
    app = create_app(synthetic_catalog())
    endpoints = [route.endpoint for route in app.routes]
    assert endpoints and not any(inspect.iscoroutinefunction(e) for e in endpoints)


# ---------------------------------------------------------------------- RMA
@HYPO
@given(criteria=st.one_of(
    st.text(max_size=60),
    st.builds(lambda m, opt, v: f"model::{m},rma::options[{opt}$eq{v}]",
              st.sampled_from(["Atlas", "Structure", "Spécimen", "SectionDataSet"]),
              st.sampled_from(["num_rows", "start_row"]),
              st.one_of(region_texts, st.just("all"))),
    st.builds(lambda f, v: f"model::Structure,rma::criteria,[{f}$eq{v}]",
              st.text(max_size=8), st.text(max_size=8)),
))
def test_rma_queries_never_fail_the_server(server, session, criteria):
    r = get(session, server.base, "/api/v2/data/query.json", "criteria=" + quote(criteria))
    data = envelope_of(r)
    if r.status_code == 400 and not criteria.isascii():
        assert "parameter criteria" in data["msg"]


# ---------------------------------------------------------------------- methods
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/api/v2/image_to_reference/1.json?x=1&y=1",
                                  "/api/v2/data/query.json?criteria=model::Atlas",
                                  "/api/v2/data/Atlas/1.json", "/api/v2/image_download/1"])
def test_other_methods_are_405_with_allow(server, session, method, path):
    r = session.request(method, server.base + path, timeout=10, data=b"{}")
    data = envelope_of(r)
    assert r.status_code == 405
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}
    assert "Method Not Allowed" in data["msg"]


# ---------------------------------------------------------------------- transport
def _connect(base, timeout=20.0):
    u = urlparse(base)
    return socket.create_connection((u.hostname, u.port), timeout=timeout)


def _read_all(sock) -> bytes:
    """Everything the server sends until it closes the connection."""
    parts = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


def _answer(raw: bytes):
    """Status, headers and JSON body of the first answer in ``raw``."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
    return status, headers, json.loads(rest[:int(headers[b"content-length"])])


@pytest.mark.parametrize("request_bytes, status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /api/v2/data/Atlas/1.json HTTP/1.1\r\n\r\n", 400),  # no Host
    (b"GET /api/v2/data/Atlas/1.json HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400),
    (b"GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),  # the HTTP/2 preface: test_server_http2.py
    (b"GET /api/v2/data/Atlas/1.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX: "
     + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * (MAX_HEAD_BYTES + 10), 431),  # unfinished
    (b"GET /?" + b"a" * MAX_HEAD_BYTES + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
     431),
])
def test_what_uvicorn_refuses_is_an_allen_envelope(server, request_bytes, status):
    with _connect(server.base) as sock:
        sock.sendall(request_bytes)
        got, headers, data = _answer(_read_all(sock))
    assert got == status
    assert headers[b"content-type"] == b"application/json"
    assert data["success"] is False and data["msg"]


@pytest.fixture(scope="module")
def strict():
    """A server whose request heads must arrive within 0.5 s, idle after 1 s."""
    with serve_in_thread(create_app(synthetic_catalog()), header_timeout=0.5,
                         timeout_keep_alive=1) as base:
        yield base


def test_a_connection_that_sends_nothing_is_closed(strict):
    with _connect(strict) as sock:
        assert _read_all(sock) == b""  # closed (the socket's own timeout is 20 s)


def test_a_trickling_request_head_is_refused_with_408(strict):
    with _connect(strict) as sock:
        sock.sendall(b"GET /api/v2/data/Atlas/1.json HTTP/1.1\r\nHost: x\r\n")
        stop = threading.Event()

        def trickle():
            try:
                while not stop.wait(0.05):
                    sock.sendall(b"X-a: b\r\n")  # a header every 50 ms, never the end
            except OSError:
                pass  # the server closed the connection

        t = threading.Thread(target=trickle)
        t.start()
        try:
            status, _, data = _answer(_read_all(sock))
        finally:
            stop.set()
            t.join(10)
    assert status == 408 and "request head" in data["msg"]


def test_a_kept_alive_connection_is_closed_when_idle_and_trickling(strict):
    with _connect(strict) as sock:
        sock.sendall(b"GET /api/v2/data/Atlas/1.json HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while b"}" not in first:  # the whole first answer (the body ends the JSON)
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        assert _read_all(sock) == b""  # then idle: closed
    with _connect(strict) as sock:
        sock.sendall(b"GET /api/v2/data/Atlas/1.json HTTP/1.1\r\nHost: x\r\n\r\n")
        stop = threading.Event()

        def trickle():
            try:
                while not stop.wait(0.05):
                    sock.sendall(b"G")  # the next request, one byte at a time
            except OSError:
                pass

        t = threading.Thread(target=trickle)
        t.start()
        try:
            raw = _read_all(sock)
        finally:
            stop.set()
            t.join(10)
    assert raw.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 408 Request Timeout" in raw


# ---------------------------------------------------------------------- any query string
query_parts = st.lists(st.tuples(
    st.sampled_from(["x", "y", "z", "section_data_set_ids", "section_image_ids",
                     "structure_ids", "atlas_id", "include", "criteria", "downsample", "left",
                     "width", "quality", ""]) | st.text(max_size=5),
    st.one_of(number_texts, id_texts, st.text(max_size=20)),
), max_size=8)


@HYPO
@given(parts=query_parts, raw=st.booleans(), path=st.sampled_from([
    "/api/v2/image_to_reference/{im}.json", "/api/v2/reference_to_image/9.json",
    "/api/v2/image_to_image/{im}.json", "/api/v2/image_to_image_2d/{im}.json",
    "/api/v2/image_to_atlas/{im}.json", "/api/v2/structure_to_image/1001.json",
    "/api/v2/data/SectionDataSet/1001.json", "/api/v2/data/query.json",
    "/api/v2/image_download/{im}",
]))
def test_any_query_string_is_answered_with_an_envelope_or_a_jpeg(server, session, parts, raw,
                                                                   path):
    """Keys repeated, unknown, empty; values of any kind; sent percent-encoded or (where
    HTTP allows) as they are."""
    if raw:
        query = "&".join(f"{quote(k, safe='')}={quote(v, safe='=,&%+')}" for k, v in parts)
    else:
        query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in parts)
    r = get(session, server.base, path.format(im=image(server).id), query)
    if r.status_code == 200 and "image_download" in path:
        assert r.headers["content-type"] == "image/jpeg"
        return
    data = envelope_of(r)
    if r.status_code == 400 and "parameter " in data["msg"]:
        named = re.search(r"parameter (.+?):", data["msg"]).group(1)
        assert named in {k for k, _ in parts} | {"format", "path id", "image id"} or \
            "missing" in data["msg"]
