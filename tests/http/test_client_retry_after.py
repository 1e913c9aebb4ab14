"""``Retry-After`` over real HTTP: a wait that fits in the deadline is honoured, one that
does not is never slept but reported at once with its real cause."""

from __future__ import annotations

import email.utils
import http.server
import json
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_allen_sync.client import AllenApi
from napari_allen_sync.errors import AllenSyncError, ServiceError, ServiceUnavailableError

pytestmark = pytest.mark.timeout(60)

OK = json.dumps({"success": True, "id": 0, "start_row": 0, "num_rows": 0, "total_rows": 0,
                 "msg": []}).encode()


class _Handler(http.server.BaseHTTPRequestHandler):
    """``GET /busy/{status}/{retry_after}/{n}/{key}``: the first ``n`` requests of
    ``key`` get ``status`` with ``Retry-After: retry_after`` (``-`` sends an HTTP date
    that far ahead, ``none`` no header), later ones a successful envelope."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        _, kind, status, retry_after, n, key = self.path.split("/")
        with self.server.lock:
            self.server.hits[key] = self.server.hits.get(key, 0) + 1
            k = self.server.hits[key]
        if kind == "busy" and k <= int(n):
            body = b"busy"
            self.send_response(int(status))
            if retry_after.startswith("date"):
                when = time.time() + int(retry_after[4:])
                self.send_header("Retry-After", email.utils.formatdate(when, usegmt=True))
            elif retry_after != "none":
                self.send_header("Retry-After", retry_after)
        else:
            body = OK
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def busy_server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.hits = {}
    httpd.lock = threading.Lock()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


_keys = iter(range(10**9))


def _url(server, status, retry_after, n):
    key = f"k{next(_keys)}"
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/busy/{status}/{retry_after}/{n}/{key}", key


@pytest.mark.parametrize("status", [503, 429])
@pytest.mark.parametrize("retry_after", ["3600", "date3600", "99999999999999999999"])
def test_a_wait_longer_than_the_deadline_is_not_slept(busy_server, status, retry_after):
    api = AllenApi(timeout=(2, 5), retries=3, deadline=12)
    url, key = _url(busy_server, status, retry_after, 1)
    with pytest.raises(ServiceUnavailableError) as info:
        api.get_envelope(url)
    text = str(info.value)
    assert f"server busy (HTTP {status}), asked to retry after" in text
    assert "s left of the deadline" in text and url in text
    assert info.value.status == status and info.value.url == url
    asked = float(text.split("retry after ")[1].split(" s")[0])
    left = float(text.split("than the ")[1].split(" s left")[0])
    assert asked > left and left <= 12
    assert busy_server.hits[key] == 1  # no retry was sent


@settings(max_examples=12, deadline=None)
@given(deadline=st.integers(2, 40), fits=st.booleans(), short=st.integers(0, 1),
       over=st.integers(0, 10**9))
def test_every_retry_after_is_honoured_or_refused_at_once(busy_server, deadline, fits, short,
                                                          over):
    """The whole class: a wait that fits in the deadline is slept and the retry succeeds
    (kept to at most 1 s here); a wait longer than the deadline, by any amount, is refused
    with one request sent."""
    api = AllenApi(timeout=(2, 5), retries=3, deadline=deadline)
    asked = short if fits else deadline + 1 + over
    url, key = _url(busy_server, 503, str(asked), 1)
    if fits:
        assert api.get_envelope(url)["success"] is True
        assert busy_server.hits[key] == 2
    else:
        with pytest.raises(ServiceUnavailableError, match=f"asked to retry after {asked} s"):
            api.get_envelope(url)
        assert busy_server.hits[key] == 1


@pytest.mark.parametrize("retry_after", ["none", "soon", "1"])
def test_endless_busy_ends_in_a_package_error(busy_server, retry_after):
    """No Retry-After, a malformed one, or a short one answered forever: a retry or
    two within the deadline, then the package's error, never a raw urllib3 one."""
    api = AllenApi(timeout=(2, 5), retries=2, backoff_factor=0.01, deadline=6)
    url, key = _url(busy_server, 503, retry_after, 100)
    with pytest.raises(ServiceError) as info:
        api.get_envelope(url)
    assert isinstance(info.value, AllenSyncError)
    assert info.value.status == 503
    assert 1 <= busy_server.hits[key] <= 3
