"""A robust client for the Allen Brain Atlas API (or a compatible server).

:class:`SynchronizationApi` is a drop-in replacement for AllenSDK 2.16.2's
``allensdk.api.queries.synchronization_api.SynchronizationApi``: the same six methods,
parameters and return values (the ``msg`` of the answer), and the same request URLs
(``%f`` coordinates, id lists joined by a bare comma; docs/wire-format.md). Unlike AllenSDK it

- talks to ``https://api.brain-map.org`` by default;
- uses one :class:`requests.Session` with urllib3 :class:`~urllib3.util.Retry`
  (exponential backoff on connection errors, read errors and 429/500/502/503/504; GET
  only), honouring ``Retry-After``;
- caps every wait by the deadline: a ``Retry-After`` longer than what is left of the
  deadline is not slept but raises :class:`~napari_allen_sync.errors.ServiceUnavailableError`
  at once, naming the status and the wait asked for;
- puts a connect and a read timeout on every request, and a total ``deadline`` on each
  call (retries and a trickling answer included), so no server can stall it forever;
- checks every answer: ``success: false``, non-JSON, truncated or wrongly shaped answers
  raise :class:`~napari_allen_sync.errors.ServiceError` carrying the service's message and
  the URL; timeouts raise :class:`~napari_allen_sync.errors.ServiceTimeoutError`, an
  unreachable server :class:`~napari_allen_sync.errors.ServiceUnavailableError`;
- validates inputs before sending (NaN, infinite, empty id lists) with the same errors as
  the local engine (:mod:`napari_allen_sync.validation`).

Failed synchronizations
-----------------------
A target that the service could not synchronize comes back as an ``image_sync`` element
without ``section_image_id`` (docs/wire-format.md). Such elements are **kept in place**, so that
answer ``i`` still belongs to target ``i`` of the request; :func:`failed_syncs` lists them.

:class:`AllenApi` (the transport: :meth:`AllenApi.get_envelope`, :meth:`AllenApi.get_bytes`)
is shared by the RMA metadata queries (:mod:`napari_allen_sync.rma`) and the image
downloads (:mod:`napari_allen_sync.remote`).
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import threading
import time

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from . import __version__
from .errors import (
    InvalidCoordinateError,
    ServiceError,
    ServiceTimeoutError,
    ServiceUnavailableError,
)
from .validation import as_coordinates, as_id, as_id_list

__all__ = [
    "DEFAULT_BASE_URI",
    "DEFAULT_DEADLINE",
    "DEFAULT_TIMEOUT",
    "AllenApi",
    "SynchronizationApi",
    "failed_syncs",
]

#: The Allen Brain Atlas API.
DEFAULT_BASE_URI = "https://api.brain-map.org"
#: (connect, read) timeouts in seconds, for every single request.
DEFAULT_TIMEOUT = (3.05, 30.0)
#: Longest time in seconds one call may take, retries and backoff included.
DEFAULT_DEADLINE = 90.0
#: Answers larger than this are refused (bytes).
MAX_ANSWER_BYTES = 256 * 1024 * 1024
#: HTTP statuses worth retrying (transient server trouble).
RETRY_STATUSES = (429, 500, 502, 503, 504)

_CHUNK = 64 * 1024


class _RetryAfterTooLong(Exception):
    """Raised inside urllib3 when the server asks for a longer wait than the deadline
    leaves; :meth:`AllenApi.get_bytes` turns it into :class:`ServiceUnavailableError`.
    (Not a urllib3 or requests exception, so that neither catches nor wraps it.)"""

    def __init__(self, status, retry_after, remaining):
        super().__init__(status, retry_after, remaining)
        self.status = status
        self.retry_after = retry_after
        self.remaining = remaining


def _retry_after_seconds(response) -> float | None:
    """The wait a ``Retry-After`` header asks for, in seconds (not capped), or None when
    the header is absent or unreadable (then the ordinary backoff applies)."""
    value = response.headers.get("Retry-After") if response is not None else None
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(int(value))
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(0.0, email.utils.mktime_tz(parsed) - time.time())


class _DeadlineRetry(Retry):
    """urllib3 Retry whose every wait is capped by the calling thread's deadline.

    - A backoff that would end after the deadline is not slept: the retries stop.
    - A ``Retry-After`` longer than what is left of the deadline is not slept either:
      :class:`_RetryAfterTooLong` is raised at once, naming the real cause.
    """

    def __init__(self, *args, deadline_of=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.deadline_of = deadline_of

    def new(self, **kw):
        out = super().new(**kw)
        out.deadline_of = self.deadline_of
        return out

    def _remaining(self):
        deadline = self.deadline_of() if self.deadline_of is not None else None
        return None if deadline is None else deadline - time.monotonic()

    def increment(self, method=None, url=None, response=None, error=None, _pool=None,
                  _stacktrace=None):
        remaining = self._remaining()
        asked = _retry_after_seconds(response) if self.respect_retry_after_header else None
        if remaining is not None and asked is not None and asked > remaining:
            status = getattr(response, "status", None)
            with contextlib.suppress(Exception):  # do not read the body: drop the connection
                response.close()
                response.release_conn()
            raise _RetryAfterTooLong(status, asked, max(0.0, remaining))
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        wait = asked if asked is not None else new.get_backoff_time()
        if remaining is not None and remaining <= wait:
            reason = error if error is not None else urllib3.exceptions.ResponseError(
                "deadline reached while retrying"
            )
            raise MaxRetryError(_pool, url, reason)
        return new

    def sleep(self, response=None):
        remaining = self._remaining()
        if remaining is None:
            return super().sleep(response)
        wait = _retry_after_seconds(response) if self.respect_retry_after_header else None
        if wait is None:
            wait = self.get_backoff_time()
        time.sleep(max(0.0, min(wait, remaining)))
        return None


def failed_syncs(msg) -> list[int]:
    """Positions of the targets the service could not synchronize.

    Parameters
    ----------
    msg : list or dict
        The ``msg`` of a synchronization answer (a list of ``{"image_sync": {...}}``
        elements, or one such element for ``image_to_atlas``).

    Returns
    -------
    list of int
        Indices of elements whose ``image_sync`` lacks ``section_image_id`` (for a single
        element: ``[0]`` or ``[]``).

    Examples
    --------
    >>> failed_syncs([{"image_sync": {"section_image_id": 5, "x": 1.0, "y": 2.0}},
    ...               {"image_sync": {"section_data_set_id": "7"}}])
    [1]
    """
    items = msg if isinstance(msg, list) else [msg]
    out = []
    for k, item in enumerate(items):
        sync = item.get("image_sync") if isinstance(item, dict) else None
        if not isinstance(sync, dict) or sync.get("section_image_id") is None:
            out.append(k)
    return out


class AllenApi:
    """The HTTP transport to the Allen Brain Atlas API or a compatible server.

    Parameters
    ----------
    base_uri : str, optional
        Scheme and host, e.g. ``"http://127.0.0.1:8765"``; default :data:`DEFAULT_BASE_URI`.
        A trailing ``/`` is dropped.
    timeout : (float, float)
        Connect and read timeouts in seconds, for every request (a single number sets both).
    retries : int
        How often a GET is retried after a connection error, a read error (reset, stall)
        or a 429/500/502/503/504 answer, with exponential backoff (or the ``Retry-After``
        the server asks for, when it fits in the deadline).
    backoff_factor : float
        Backoff base in seconds: waits are ``backoff_factor × 2**(n-1)``.
    deadline : float
        The most seconds one call may take in all (retries, backoff and a slowly
        trickling answer included); afterwards :class:`ServiceTimeoutError`.
    session : requests.Session, optional
        Use this session instead of a new one (its adapters are replaced).
    """

    def __init__(self, base_uri=None, *, timeout=DEFAULT_TIMEOUT, retries=3, backoff_factor=0.2,
                 deadline=DEFAULT_DEADLINE, session=None):
        base = DEFAULT_BASE_URI if base_uri is None else str(base_uri)
        if not base.startswith(("http://", "https://")):
            raise ValueError(f"base_uri must start with http:// or https://, got {base!r}")
        self.base_uri = base.rstrip("/")
        if isinstance(timeout, int | float):
            timeout = (float(timeout), float(timeout))
        self.timeout = (float(timeout[0]), float(timeout[1]))
        self.deadline = float(deadline)
        self.retries = int(retries)
        self._local = threading.local()
        self.session = session if session is not None else requests.Session()
        self.session.headers.update(
            {"User-Agent": f"napari-allen-sync/{__version__}", "Accept-Encoding": "gzip, identity"}
        )
        retry = _DeadlineRetry(
            total=self.retries,
            connect=self.retries,
            read=self.retries,
            status=self.retries,
            other=0,
            redirect=3,
            allowed_methods=frozenset({"GET"}),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_factor,
            backoff_max=10.0,
            raise_on_status=False,
            respect_retry_after_header=True,
            deadline_of=lambda: getattr(self._local, "deadline", None),
        )
        adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    # ------------------------------------------------------------------ plumbing
    def url(self, path: str) -> str:
        """The absolute URL of a path such as ``/api/v2/...``."""
        return self.base_uri + (path if path.startswith("/") else "/" + path)

    def close(self) -> None:
        """Close the session's connections."""
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (f"<{type(self).__name__} {self.base_uri} timeout={self.timeout} "
                f"retries={self.retries}>")

    def get_bytes(self, url: str, *, deadline: float | None = None
                  ) -> tuple[bytes, requests.Response]:
        """GET a URL and read its whole body, within the timeouts and the deadline.

        Returns
        -------
        body : bytes
        response : requests.Response
            Status and headers (the body is already consumed).

        Raises
        ------
        ServiceTimeoutError, ServiceUnavailableError, ServiceError
        """
        budget = self.deadline if deadline is None else float(deadline)
        end = time.monotonic() + budget
        self._local.deadline = end
        try:
            try:
                response = self.session.get(
                    url, timeout=(self.timeout[0], min(self.timeout[1], budget)), stream=True
                )
            except _RetryAfterTooLong as exc:
                what = "server busy" if exc.status in (429, 503) else "server asked to wait"
                err = ServiceUnavailableError(
                    f"{what} (HTTP {exc.status}), asked to retry after {exc.retry_after:.0f} s, "
                    f"more than the {round(exc.remaining, 1):g} s left of the deadline", url=url)
                err.status = exc.status
                raise err from None
            except requests.exceptions.RetryError as exc:
                raise ServiceError(f"gave up after retries: {_reason(exc)}", url=url) from exc
            except (requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout) as exc:
                raise ServiceTimeoutError(
                    f"no answer within the timeout ({_reason(exc)})", url=url
                ) from exc
            except requests.exceptions.ConnectionError as exc:
                if _is_timeout(exc):
                    raise ServiceTimeoutError(
                        f"no answer within the timeout ({_reason(exc)})", url=url
                    ) from exc
                raise ServiceUnavailableError(
                    f"cannot reach the service ({_reason(exc)})", url=url
                ) from exc
            except requests.exceptions.RequestException as exc:
                raise ServiceError(f"request failed ({_reason(exc)})", url=url) from exc
            with response:
                body = self._read_body(response, url, end)
            return body, response
        finally:
            self._local.deadline = None

    def _read_body(self, response, url, end) -> bytes:
        raw = response.raw
        parts = []
        size = 0
        try:
            while True:
                if time.monotonic() > end:
                    raise ServiceTimeoutError(
                        f"answer not complete within the {self.deadline:g} s deadline "
                        f"({size} bytes received)",
                        url=url,
                        status=response.status_code,
                    )
                chunk = raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    break
                parts.append(chunk)
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise ServiceError(
                        f"answer larger than {MAX_ANSWER_BYTES} bytes", url=url,
                        status=response.status_code,
                    )
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise ServiceTimeoutError(
                f"answer stalled after {size} bytes (read timeout {self.timeout[1]:g} s)",
                url=url, status=response.status_code,
            ) from exc
        except (urllib3.exceptions.ProtocolError, urllib3.exceptions.DecodeError, OSError) as exc:
            raise ServiceError(
                f"truncated answer after {size} bytes ({exc})", url=url, status=response.status_code
            ) from exc
        return b"".join(parts)

    def get_envelope(self, url: str, *, deadline: float | None = None) -> dict:
        """GET a URL whose answer is an Allen JSON envelope; return the checked envelope.

        Raises
        ------
        ServiceError
            On a non-JSON answer, an answer that is not an envelope, ``success: false``
            (carrying the service's ``msg``) or an HTTP error status.
        """
        body, response = self.get_bytes(url, deadline=deadline)
        status = response.status_code
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            text = body[:120].decode("utf-8", "replace")
            what = "error page" if status >= 400 else "answer"
            raise ServiceError(
                f"{what} is not JSON ({exc.__class__.__name__}: {exc}); it begins {text!r}",
                url=url, status=status,
            ) from None
        if not isinstance(data, dict) or "success" not in data:
            raise ServiceError(
                f"answer is not an Allen envelope (no 'success' member): {str(data)[:120]!r}",
                url=url, status=status,
            )
        if data.get("success") is not True:
            msg = data.get("msg")
            text = msg if isinstance(msg, str) else json.dumps(msg)[:300]
            raise ServiceError(f"the service reports failure: {text}", url=url, status=status)
        if status >= 400:
            raise ServiceError("HTTP error status with a successful envelope", url=url,
                               status=status)
        if "msg" not in data:
            raise ServiceError("answer envelope has no 'msg'", url=url, status=status)
        return data

    def get_msg(self, url: str):
        """The ``msg`` of a checked envelope (AllenSDK's ``json_msg_query``)."""
        return self.get_envelope(url)["msg"]


def _reason(exc) -> str:
    inner = exc.args[0] if exc.args else exc
    reason = getattr(inner, "reason", None)
    return str(reason if reason is not None else inner)


def _is_timeout(exc) -> bool:
    inner = exc.args[0] if exc.args else None
    reason = getattr(inner, "reason", None)
    if isinstance(reason, urllib3.exceptions.NewConnectionError):  # subclasses ConnectTimeoutError
        return False
    return isinstance(reason, urllib3.exceptions.TimeoutError | TimeoutError)


def _f(value) -> str:
    """A coordinate as AllenSDK writes it (``%f``), after the engine's checks."""
    return "%f" % float(value)  # noqa: UP031 - the exact format AllenSDK sends


def _ids(values) -> str:
    return ",".join(str(v) for v in values)


def _point(**coords) -> list[float]:
    out = []
    for name, value in coords.items():
        arr = as_coordinates(name, value)
        if arr.size != 1:
            raise InvalidCoordinateError(f"{name} must be one number, got {arr.size} values")
        out.append(float(arr[0]))
    return out


class SynchronizationApi(AllenApi):
    """Drop-in replacement for AllenSDK's ``SynchronizationApi`` (same six methods).

    Each method validates its inputs, sends the URL AllenSDK sends, checks the answer
    and returns its ``msg``. See :class:`AllenApi` for the parameters and the module
    docstring for failed synchronizations.

    Examples
    --------
    >>> api = SynchronizationApi("http://127.0.0.1:8765", timeout=(2, 10))  # doctest: +SKIP
    >>> api.get_image_to_reference(68173101, 6208, 2368)                    # doctest: +SKIP
    {'image_to_reference': {'x': ..., 'y': ..., 'z': ...}}
    """

    # URL builders: exactly AllenSDK's (allensdk-urls.json).
    def image_to_reference_url(self, section_image_id, x, y) -> str:
        """The request URL of :meth:`get_image_to_reference`."""
        sid = as_id("section_image_id", section_image_id)
        x, y = _point(x=x, y=y)
        return self.url(f"/api/v2/image_to_reference/{sid}.json?x={_f(x)}&y={_f(y)}")

    def reference_to_image_url(self, reference_space_id, x, y, z, section_data_set_ids) -> str:
        """The request URL of :meth:`get_reference_to_image`."""
        rs = as_id("reference_space_id", reference_space_id)
        x, y, z = _point(x=x, y=y, z=z)
        ids = as_id_list("section_data_set_ids", section_data_set_ids)
        return self.url(
            f"/api/v2/reference_to_image/{rs}.json?x={_f(x)}&y={_f(y)}&z={_f(z)}"
            f"&section_data_set_ids={_ids(ids)}"
        )

    def image_to_image_url(self, section_image_id, x, y, section_data_set_ids) -> str:
        """The request URL of :meth:`get_image_to_image`."""
        sid = as_id("section_image_id", section_image_id)
        x, y = _point(x=x, y=y)
        ids = as_id_list("section_data_set_ids", section_data_set_ids)
        return self.url(
            f"/api/v2/image_to_image/{sid}.json?x={_f(x)}&y={_f(y)}"
            f"&section_data_set_ids={_ids(ids)}"
        )

    def image_to_image_2d_url(self, section_image_id, x, y, section_image_ids) -> str:
        """The request URL of :meth:`get_image_to_image_2d`."""
        sid = as_id("section_image_id", section_image_id)
        x, y = _point(x=x, y=y)
        ids = as_id_list("section_image_ids", section_image_ids)
        return self.url(
            f"/api/v2/image_to_image_2d/{sid}.json?x={_f(x)}&y={_f(y)}"
            f"&section_image_ids={_ids(ids)}"
        )

    def image_to_atlas_url(self, section_image_id, x, y, atlas_id) -> str:
        """The request URL of :meth:`get_image_to_atlas`."""
        sid = as_id("section_image_id", section_image_id)
        x, y = _point(x=x, y=y)
        aid = as_id("atlas_id", atlas_id)
        return self.url(f"/api/v2/image_to_atlas/{sid}.json?x={_f(x)}&y={_f(y)}&atlas_id={aid}")

    def structure_to_image_url(self, section_data_set_id, structure_ids) -> str:
        """The request URL of :meth:`get_structure_to_image`."""
        ds = as_id("section_data_set_id", section_data_set_id)
        ids = as_id_list("structure_ids", structure_ids)
        return self.url(f"/api/v2/structure_to_image/{ds}.json?structure_ids={_ids(ids)}")

    # The six services.
    def get_image_to_reference(self, section_image_id, x, y) -> dict:
        """Section pixel → reference µm: ``{"image_to_reference": {"x", "y", "z"}}``."""
        url = self.image_to_reference_url(section_image_id, x, y)
        msg = self.get_msg(url)
        point = msg.get("image_to_reference") if isinstance(msg, dict) else None
        if not isinstance(point, dict) or not all(_is_number(point.get(k)) for k in "xyz"):
            raise ServiceError(
                f"answer is not shaped like image_to_reference: {str(msg)[:200]!r}", url=url
            )
        return msg

    def get_reference_to_image(self, reference_space_id, x, y, z, section_data_set_ids) -> list:
        """Reference point → the nearest section of each data set (one element each)."""
        ids = as_id_list("section_data_set_ids", section_data_set_ids)
        url = self.reference_to_image_url(reference_space_id, x, y, z, ids)
        return _image_sync_list(self.get_msg(url), len(ids), url)

    def get_image_to_image(self, section_image_id, x, y, section_data_set_ids) -> list:
        """Seed pixel → the matching section and pixel of each data set (one element each)."""
        ids = as_id_list("section_data_set_ids", section_data_set_ids)
        url = self.image_to_image_url(section_image_id, x, y, ids)
        return _image_sync_list(self.get_msg(url), len(ids), url)

    def get_image_to_image_2d(self, section_image_id, x, y, section_image_ids) -> list:
        """Seed pixel → the closest pixel on each listed image (one element each)."""
        ids = as_id_list("section_image_ids", section_image_ids)
        url = self.image_to_image_2d_url(section_image_id, x, y, ids)
        return _image_sync_list(self.get_msg(url), len(ids), url)

    def get_image_to_atlas(self, section_image_id, x, y, atlas_id) -> dict:
        """Seed pixel → the nearest annotated plate of an atlas: one ``image_sync`` object."""
        url = self.image_to_atlas_url(section_image_id, x, y, atlas_id)
        msg = self.get_msg(url)
        if isinstance(msg, list) and len(msg) == 1:  # tolerate a list of one
            msg = msg[0]
        _check_image_sync(msg, url)
        return msg

    def get_structure_to_image(self, section_data_set_id, structure_ids) -> list:
        """Structure centroids → the nearest section of a data set (one element each)."""
        ids = as_id_list("structure_ids", structure_ids)
        url = self.structure_to_image_url(section_data_set_id, ids)
        return _image_sync_list(self.get_msg(url), len(ids), url)


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _check_image_sync(item, url):
    sync = item.get("image_sync") if isinstance(item, dict) else None
    if not isinstance(sync, dict):
        raise ServiceError(f"answer element is not an image_sync: {str(item)[:200]!r}", url=url)
    if sync.get("section_image_id") is not None:  # a synchronized target: check its numbers
        if not all(_is_number(sync.get(k)) for k in ("x", "y", "section_image_id")):
            raise ServiceError(f"image_sync lacks numeric x, y: {str(sync)[:200]!r}", url=url)


def _image_sync_list(msg, expected: int, url) -> list:
    if not isinstance(msg, list):
        raise ServiceError(f"answer msg is not a list: {str(msg)[:200]!r}", url=url)
    if len(msg) != expected:
        raise ServiceError(
            f"answer has {len(msg)} elements for {expected} targets", url=url
        )
    for item in msg:
        _check_image_sync(item, url)
    return msg
