"""Which structure is at a point: the CCFv3 annotation volume (docs/annotation.md).

Allen publishes the CCFv3 annotation as NRRD volumes of structure ids (uint32, gzip
encoding), one voxel per 10, 25, 50 or 100 µm, indexed (AP, DV, LR) exactly like
reference space 9 divided by the voxel size. :class:`AnnotationVolume` holds one and
answers :meth:`~AnnotationVolume.structure_ids_at` for millions of points at once; every
source uses it: :class:`~napari_allen_sync.remote.RemoteSource` with Allen's file
(downloaded once by :func:`fetch_annotation`), :class:`~napari_allen_sync.demo.DemoSource`
with a volume built from its phantom brain.

Voxel convention: voxel ``(i, j, k)`` covers ``[i·v, (i+1)·v) × [j·v, (j+1)·v) ×
[k·v, (k+1)·v)`` µm of space 9 (its centre at ``(i + ½)·v``), so a point's voxel is
``floor(coordinate / v)``. Points outside the volume get 0. A point in
reference space 10 is mirrored to space 9 first (``r9 = 11350 − r10``, docs/arithmetic.md).

The NRRD files are read with pynrrd (pure Python over numpy, MIT, the reader AllenSDK's
``ReferenceSpaceApi`` itself uses for these files) and written by
:mod:`~napari_allen_sync.nrrd_bytes` in the same layout, without pynrrd's time stamp.

This module imports neither napari nor Qt.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import atomic
from .arithmetic import builtin_reference_transform
from .errors import (
    AllenSyncError,
    AnnotationError,
    ServiceError,
    ServiceTimeoutError,
    ServiceUnavailableError,
)
from .validation import as_coordinates, as_id

__all__ = [
    "ANNOTATION_PATH",
    "CCF_EXTENT_UM",
    "DEFAULT_DOWNLOAD_BASE_URL",
    "DEFAULT_RESOLUTION_UM",
    "PUBLISHED_SHA256",
    "RESOLUTIONS_UM",
    "AnnotationVolume",
    "DownloadCancelled",
    "annotation_file_name",
    "annotation_url",
    "expected_shape",
    "fetch_annotation",
    "label_points",
    "ontology_from_graph_download",
    "tqdm_progress",
]

log = logging.getLogger(__name__)

#: Where Allen publishes the annotation volumes (docs/annotation.md): scheme and host ...
DEFAULT_DOWNLOAD_BASE_URL = "http://download.alleninstitute.org"
#: ... and the path of one volume on that host (the one place this layout is written).
ANNOTATION_PATH = (
    "/informatics-archive/current-release/mouse_ccf/annotation/ccf_2017/"
    "annotation_{resolution}.nrrd"
)
#: Voxel sizes (µm) Allen publishes.
RESOLUTIONS_UM = (10, 25, 50, 100)
#: The volume the plugin downloads unless told otherwise.
DEFAULT_RESOLUTION_UM = 25
#: CCFv3 extent (µm), AP × DV × LR (docs/arithmetic.md).
CCF_EXTENT_UM = (13200, 8000, 11400)
#: Published SHA-256 of Allen's own files (docs/annotation.md), checked when downloading from
#: :data:`DEFAULT_DOWNLOAD_BASE_URL`.
PUBLISHED_SHA256 = {
    25: "c620cbcc562183e4dcd40250d440130501781f74b41de35b1c1bdabace290c42",
}
#: Reading in pieces of this size (bytes).
CHUNK_BYTES = 1 << 20
#: Points are looked up in blocks of this many, so temporaries stay in the CPU cache.
LOOKUP_BLOCK = 1 << 15
#: Largest volume file accepted (bytes): Allen's 10 µm file is well under this.
MAX_VOLUME_BYTES = 4 << 30

Progress = Callable[[int, int | None], None]


class DownloadCancelled(AllenSyncError):
    """The user stopped a download: a ``progress`` callback raised it.

    :func:`fetch_annotation` lets it through after deleting what had arrived, so a
    cancelled download leaves nothing in the cache (the next one starts over).
    """


def _resolution(resolution) -> int:
    res = as_id("resolution", resolution)
    if res not in RESOLUTIONS_UM:
        raise ValueError(f"annotation resolution must be one of {RESOLUTIONS_UM} µm, got {res}")
    return res


def annotation_file_name(resolution: int) -> str:
    """``annotation_{resolution}.nrrd``."""
    return Path(ANNOTATION_PATH.format(resolution=_resolution(resolution))).name


def annotation_url(resolution: int = DEFAULT_RESOLUTION_UM, base_url: str | None = None) -> str:
    """The download URL of one volume: Allen's (default) or a compatible server's.

    Examples
    --------
    >>> annotation_url(25, "http://127.0.0.1:8765/")
    'http://127.0.0.1:8765/informatics-archive/current-release/mouse_ccf/annotation/ccf_2017/annotation_25.nrrd'
    """
    base = (base_url or DEFAULT_DOWNLOAD_BASE_URL).rstrip("/")
    return base + ANNOTATION_PATH.format(resolution=_resolution(resolution))


def expected_shape(resolution: int) -> tuple[int, int, int]:
    """Voxels of the CCFv3 volume at ``resolution`` µm, e.g. (528, 320, 456) at 25."""
    res = _resolution(resolution)
    return tuple(e // res for e in CCF_EXTENT_UM)


class AnnotationVolume:
    """Structure ids on a regular grid of reference space 9.

    Parameters
    ----------
    ids : numpy.ndarray
        Three-dimensional array of non-negative structure ids indexed (AP, DV, LR);
        stored as uint32 (0 = no structure).
    resolution_um : float
        Voxel edge in µm.

    Examples
    --------
    >>> ids = np.zeros((132, 80, 114), np.uint32); ids[60:70, 30:50, 50:64] = 549
    >>> vol = AnnotationVolume(ids, 100)
    >>> vol.structure_ids_at(9, [6550, 100], [4000, 4000], [5700, 5700]).tolist()
    [549, 0]
    >>> vol.structure_ids_at(10, [6550], [4000], [11350 - 5700]).tolist()
    [549]
    """

    def __init__(self, ids: np.ndarray, resolution_um: float):
        ids = np.asarray(ids)
        if ids.ndim != 3 or 0 in ids.shape:
            raise AnnotationError(f"an annotation volume is 3-D and not empty, got shape "
                                  f"{ids.shape}")
        if ids.dtype != np.uint32:
            if ids.dtype.kind not in "iu" or (ids.size and int(ids.min()) < 0):
                raise AnnotationError(f"structure ids must be non-negative integers, got "
                                      f"{ids.dtype}")
            ids = ids.astype(np.uint32)
        res = float(resolution_um)
        if not np.isfinite(res) or res <= 0:
            raise AnnotationError(f"voxel size must be a positive number of µm, got {res}")
        if ids.flags.f_contiguous and not ids.flags.c_contiguous:
            flat = ids.ravel(order="F")
            n0, n1, _ = ids.shape
            self._strides = (1, n0, n0 * n1)
        else:
            ids = np.ascontiguousarray(ids)
            flat = ids.ravel()
            _, n1, n2 = ids.shape
            self._strides = (n1 * n2, n2, 1)
        self.ids = ids
        #: The ``.npy`` file the ids are mapped from (:meth:`read_decoded`), else None.
        self.mapped_from: Path | None = None
        self._flat = flat
        self.resolution_um = res
        self.shape = tuple(int(n) for n in ids.shape)

    def __repr__(self) -> str:
        return f"<AnnotationVolume {self.shape} voxels of {self.resolution_um:g} µm>"

    @property
    def extent_um(self) -> tuple[float, float, float]:
        """The volume's extent (µm) along AP, DV and LR."""
        return tuple(n * self.resolution_um for n in self.shape)

    def structure_ids(self) -> np.ndarray:
        """The distinct non-zero structure ids in the volume (sorted)."""
        ids = np.unique(self._flat)
        return ids[ids != 0].astype(np.int64)

    # ------------------------------------------------------------------ lookup
    def structure_ids_at(self, reference_space_id: int, x, y, z) -> np.ndarray:
        """The structure id at each point (µm), 0 outside the volume.

        Parameters
        ----------
        reference_space_id : int
            9 (PIR) or 10 (PIL, mirrored to 9 first); other spaces have no built-in
            map to space 9 and get 0 everywhere.
        x, y, z : array-like
            Coordinates of the points, equal lengths.

        Returns
        -------
        numpy.ndarray of int64
        """
        space = as_id("reference_space_id", reference_space_id)
        x = as_coordinates("x", x)
        y = as_coordinates("y", y)
        z = as_coordinates("z", z)
        if not len(x) == len(y) == len(z):
            raise ValueError(f"x, y and z need equal lengths, got {len(x)}, {len(y)}, {len(z)}")
        m = builtin_reference_transform(space, 9)
        if m is None:
            return np.zeros(len(x), dtype=np.int64)
        inv = 1.0 / self.resolution_um
        # The built-in maps are axis-aligned: scale and shift each axis on its own.
        scale = [m[k, k] * inv for k in range(3)]
        shift = [m[k, 3] * inv for k in range(3)]
        out = np.empty(len(x), dtype=np.int64)
        for start in range(0, len(x), LOOKUP_BLOCK):
            b = slice(start, start + LOOKUP_BLOCK)
            fx, fy, fz = (c[b] * a + o for c, a, o in zip((x, y, z), scale, shift, strict=True))
            out[b] = self._voxel_block(fx, fy, fz)
        return out

    def voxel_lookup(self, fx, fy, fz) -> np.ndarray:
        """Ids at fractional voxel coordinates (voxel ``i`` covers ``[i, i+1)``), int64,
        in the coordinates' shape."""
        fx, fy, fz = np.broadcast_arrays(*(np.asarray(f, dtype=np.float64) for f in (fx, fy, fz)))
        shape = fx.shape
        fx, fy, fz = (f.reshape(-1) for f in (fx, fy, fz))
        out = np.empty(len(fx), dtype=np.int64)
        for start in range(0, len(fx), LOOKUP_BLOCK):
            b = slice(start, start + LOOKUP_BLOCK)
            out[b] = self._voxel_block(fx[b], fy[b], fz[b])
        return out.reshape(shape)

    def _voxel_block(self, fx, fy, fz) -> np.ndarray:
        """:meth:`voxel_lookup` of one block (small enough for the CPU cache)."""
        n0, n1, n2 = self.shape
        valid = (fx >= 0) & (fx < n0)
        valid &= (fy >= 0) & (fy < n1)
        valid &= (fz >= 0) & (fz < n2)
        s0, s1, s2 = self._strides
        itype = np.int32 if self._flat.size < 2**31 else np.int64
        with np.errstate(invalid="ignore"):
            flat = fx.astype(itype)
            flat *= itype(s0)
            if s1 != 1:
                flat += fy.astype(itype) * itype(s1)
            else:
                flat += fy.astype(itype)
            if s2 != 1:
                flat += fz.astype(itype) * itype(s2)
            else:
                flat += fz.astype(itype)
        all_valid = bool(valid.all())
        if not all_valid:
            flat *= valid  # index 0 where outside (its id is masked below)
        out = self._flat.take(flat)
        if not all_valid:
            out *= valid
        return out

    # ------------------------------------------------------------------ NRRD
    def to_nrrd_bytes(self, compression_level: int = 1) -> bytes:
        """The volume as a gzip-encoded NRRD file, laid out like Allen's (the AP axis
        fastest, sizes AP DV LR, ``space directions`` the voxel size in µm).

        The bytes depend on the ids, the voxel size and ``compression_level`` alone (no
        time of writing, :mod:`napari_allen_sync.nrrd_bytes`), so the same volume always
        has the same SHA-256."""
        from .nrrd_bytes import annotation_nrrd_bytes

        return annotation_nrrd_bytes(self.ids, self.resolution_um, compression_level)

    def write(self, path, compression_level: int = 1) -> Path:
        """Write :meth:`to_nrrd_bytes` to ``path`` atomically."""
        return atomic.write_bytes(path, self.to_nrrd_bytes(compression_level))

    def write_decoded(self, path) -> Path:
        """Write the ids as a plain ``.npy`` file (atomically), which :meth:`read_decoded`
        maps into memory at once: a restarted plugin does not decompress the NRRD again."""
        with atomic.atomic_write(path, "wb") as fh:
            np.save(fh, self.ids, allow_pickle=False)
        return Path(path)

    @classmethod
    def read_decoded(cls, path, resolution_um: float, shape) -> AnnotationVolume:
        """Map a :meth:`write_decoded` file (read-only, lazily paged in).

        Raises
        ------
        AnnotationError
            Not such a file, or not a uint32 volume of ``shape``.
        """
        try:
            ids = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise AnnotationError(f"cannot map the decoded volume ({exc})", where=path) from exc
        if ids.dtype != np.uint32 or tuple(ids.shape) != tuple(shape):
            raise AnnotationError(f"decoded volume is {ids.dtype} {ids.shape}, expected "
                                  f"uint32 {tuple(shape)}", where=path)
        volume = cls(ids, resolution_um)
        volume.mapped_from = Path(path)
        return volume

    @classmethod
    def from_nrrd_bytes(cls, body: bytes, *, resolution_um: float | None = None,
                        shape=None, where=None) -> AnnotationVolume:
        """Parse an NRRD file held in memory; see :meth:`read`."""
        import nrrd

        fh = io.BytesIO(body)
        try:
            header = nrrd.read_header(fh)
        except Exception as exc:  # pynrrd raises NRRDError and ValueErrors alike
            raise AnnotationError(f"not an NRRD file ({exc})", where=where) from exc
        _check_header(header, where)
        try:
            data = nrrd.read_data(header, fh, index_order="F")
        except Exception as exc:  # zlib.error, EOFError, ValueError (short data)
            raise AnnotationError(f"damaged NRRD data ({type(exc).__name__}: {exc})",
                                  where=where) from exc
        res = resolution_um if resolution_um is not None else _header_resolution(header, where)
        if shape is not None and tuple(data.shape) != tuple(shape):
            raise AnnotationError(f"volume is {tuple(data.shape)} voxels, expected "
                                  f"{tuple(shape)}", where=where)
        return cls(data, res)

    @classmethod
    def read(cls, path, *, resolution_um: float | None = None, shape=None) -> AnnotationVolume:
        """Read an annotation NRRD file (Allen's or :meth:`write`'s).

        Parameters
        ----------
        path : path-like
        resolution_um : float, optional
            The voxel size; default: from the header's ``space directions``.
        shape : tuple of int, optional
            Refuse a volume of another shape.

        Raises
        ------
        AnnotationError
            Not an NRRD file, not a 3-D volume of unsigned integers, damaged data, or
            another shape than expected.
        """
        path = Path(path)
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise AnnotationError(f"cannot read it ({exc.strerror or exc})", where=path) from exc
        return cls.from_nrrd_bytes(body, resolution_um=resolution_um, shape=shape, where=path)


def _check_header(header: dict, where) -> None:
    if int(header.get("dimension", 0)) != 3:
        raise AnnotationError(f"NRRD dimension is {header.get('dimension')}, expected 3",
                              where=where)
    kind = str(header.get("type", ""))
    if kind not in ("uint32", "unsigned int", "uint", "uint16", "unsigned short", "ushort",
                    "uint8", "uchar", "unsigned char", "int32", "int", "signed int"):
        raise AnnotationError(f"NRRD type {kind!r} is not an integer label type", where=where)
    sizes = [int(s) for s in header.get("sizes", [])]
    if len(sizes) != 3 or min(sizes) < 1 or np.prod(sizes, dtype=float) * 4 > MAX_VOLUME_BYTES:
        raise AnnotationError(f"NRRD sizes {sizes} are not those of an annotation volume",
                              where=where)
    if str(header.get("encoding", "")) not in ("gzip", "gz", "raw"):
        raise AnnotationError(f"NRRD encoding {header.get('encoding')!r} is not gzip or raw",
                              where=where)


def _header_resolution(header: dict, where) -> float:
    directions = header.get("space directions")
    if directions is not None:
        d = np.asarray(directions, dtype=float)
        if d.shape == (3, 3) and np.all(np.isfinite(d)):
            sizes = np.sqrt((d * d).sum(axis=1))
            if np.allclose(sizes, sizes[0]) and sizes[0] > 0:
                return float(sizes[0])
    spacings = header.get("spacings")
    if spacings is not None and len(spacings) == 3 and float(spacings[0]) > 0:
        return float(spacings[0])
    raise AnnotationError("NRRD header gives no voxel size (space directions or spacings)",
                          where=where)


# ---------------------------------------------------------------------- download
def tqdm_progress(desc: str = "annotation volume"):
    """A ``progress(done_bytes, total_bytes)`` callback drawing a tqdm bar on stderr
    (the bar is its ``bar``); call its ``close()`` at the end."""
    from tqdm import tqdm

    bar = tqdm(total=None, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
               leave=False)

    def progress(done: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)

    progress.close = bar.close
    progress.bar = bar
    return progress


def _resume_path(dest: Path) -> Path:
    """Where an unfinished download waits to be resumed: a hidden ``.partial`` file
    beside the target (:func:`atomic.remove_stale_partials` removes it when stale)."""
    return dest.with_name(f".{dest.name}.download{atomic.PARTIAL_SUFFIX}")


def fetch_annotation(url: str, dest, *, session=None, timeout=(10.0, 60.0),
                     sha256: str | None = None, resolution: int | None = None,
                     progress: Progress | None = None, attempts: int = 2) -> AnnotationVolume:
    """Download an annotation volume into ``dest`` (once), verify it and read it.

    The bytes are streamed into a hidden partial file beside ``dest``; an interrupted
    download leaves only that file, and the next call resumes it with a ``Range``
    request (or starts over when the server ignores ranges). Only a complete, verified
    file is moved under the name ``dest`` (:func:`atomic.write_bytes`): the size the
    server announced, the SHA-256 when one is known, an NRRD header of a 3-D integer
    volume, the data decompressing to the shape of the CCF at ``resolution``. A file
    that fails is deleted and fetched again (``attempts`` times in all); then
    :class:`AnnotationError`.

    Parameters
    ----------
    url : str
        The volume's URL (:func:`annotation_url`).
    dest : path-like
        Where the verified file is kept (its folder is created).
    session : requests.Session, optional
        The HTTP session (default: a new one).
    timeout : (float, float)
        Connect and read (between two pieces) timeouts in seconds.
    sha256 : str, optional
        The expected SHA-256 (hex) of the whole file.
    resolution : int, optional
        Voxel size in µm: the shape must then be :func:`expected_shape`.
    progress : callable, optional
        ``progress(done_bytes, total_bytes)`` as pieces arrive (total None if unknown).
        When it raises :class:`DownloadCancelled` the download stops and what had
        arrived is deleted (nothing of it stays in the cache).
    attempts : int
        Downloads tried in all when a file arrives damaged.

    Returns
    -------
    AnnotationVolume

    Raises
    ------
    AnnotationError
        The file is damaged every time, or the server sends no volume (HTTP 4xx).
    ServiceError
        The server cannot be reached or stops answering (the partial file is kept so
        that the next call resumes it).
    DownloadCancelled
        ``progress`` raised it (the partial file is deleted).
    """
    import requests

    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise atomic.WriteError(dest.parent, exc.strerror or str(exc)) from exc
    shape = expected_shape(resolution) if resolution is not None else None
    own = session is None
    if own:
        session = requests.Session()
    try:
        problem = None
        for attempt in range(max(1, attempts)):
            try:
                body = _download(session, url, dest, timeout, progress)
            except DownloadCancelled:
                with contextlib.suppress(OSError):
                    _resume_path(dest).unlink()
                raise
            try:
                _verify_bytes(body, url, sha256)
                volume = AnnotationVolume.from_nrrd_bytes(
                    body, resolution_um=resolution, shape=shape, where=url)
            except AnnotationError as exc:
                problem = exc
                log.warning("annotation download %d of %d from %s is damaged: %s",
                            attempt + 1, attempts, url, exc)
                with contextlib.suppress(OSError):
                    _resume_path(dest).unlink()
                continue
            atomic.write_bytes(dest, body)
            with contextlib.suppress(OSError):
                _resume_path(dest).unlink()
            return volume
        raise AnnotationError(
            f"the annotation volume arrived damaged {attempts} times in a row "
            f"({problem.reason if problem else 'unknown'}); nothing was kept",
            where=url)
    finally:
        if own:
            session.close()


def _verify_bytes(body: bytes, url: str, sha256: str | None) -> None:
    if sha256 is not None:
        got = hashlib.sha256(body).hexdigest()
        if got != sha256.lower():
            raise AnnotationError(f"SHA-256 is {got}, the published value is {sha256}",
                                  where=url)


def _download(session, url: str, dest: Path, timeout, progress) -> bytes:
    """Stream ``url`` into the resume file (resuming what is there); return its bytes."""
    part = _resume_path(dest)
    have = part.stat().st_size if part.is_file() else 0
    response = _request(session, url, have, timeout)
    with response:
        status = response.status_code
        if status == 416 and have:  # the partial file is already complete (or too long)
            part.unlink()
            return _download(session, url, dest, timeout, progress)
        _refuse_error_status(response, url)
        mode = "ab"
        if status == 206:
            start = _range_start(response.headers.get("Content-Range", ""))
            if start != have:
                raise ServiceError(f"server resumed at byte {start}, not at {have}", url=url,
                                   status=status)
            done = have
        else:  # 200: the whole file (the server ignored the range): start over
            mode, done = "wb", 0
        length = response.headers.get("Content-Length")
        total = done + int(length) if length and length.isdigit() else None
        if total is not None and total > MAX_VOLUME_BYTES:
            raise AnnotationError(f"{total} bytes is more than any annotation volume", where=url)
        done = _stream_to(part, mode, response, done, total, progress, url)
    if total is not None and done != total:
        raise ServiceError(f"download ended after {done} of {total} bytes; the next try "
                           f"resumes it", url=url)
    return part.read_bytes()


def _request(session, url: str, have: int, timeout):
    """GET ``url`` streamed, from byte ``have`` on; transport errors as the package's."""
    import requests

    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        return session.get(url, headers=headers, stream=True, timeout=timeout)
    except requests.exceptions.Timeout as exc:
        raise ServiceTimeoutError(f"no answer within the timeout ({exc})", url=url) from exc
    except requests.exceptions.ConnectionError as exc:
        raise ServiceUnavailableError(f"cannot reach the download server ({exc})",
                                      url=url) from exc
    except requests.exceptions.RequestException as exc:
        raise ServiceError(f"request failed ({exc})", url=url) from exc


def _refuse_error_status(response, url: str) -> None:
    """A 4xx is "no volume here" (:class:`AnnotationError`), a 5xx a :class:`ServiceError`."""
    status = response.status_code
    if status < 400:
        return
    text = response.raw.read(2000, decode_content=True).decode("utf-8", "replace")
    if status < 500:
        raise AnnotationError(f"the server has no annotation volume here (HTTP "
                              f"{status}: {text[:200]})", where=url)
    raise ServiceError(f"download failed: {text[:200]}", url=url, status=status)


def _stream_to(part: Path, mode: str, response, done: int, total, progress, url) -> int:
    """Append (``"ab"``) or write (``"wb"``) the answer's body to ``part``, reporting
    ``progress(done, total)``; returns the bytes now in ``part``."""
    import requests
    import urllib3

    if progress is not None:
        progress(done, total)
    try:
        with open(part, mode) as fh:
            while chunk := response.raw.read(CHUNK_BYTES, decode_content=False):
                fh.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
            fh.flush()
            os.fsync(fh.fileno())
    except (urllib3.exceptions.HTTPError, requests.exceptions.RequestException) as exc:
        raise ServiceError(f"download interrupted after {done} bytes ({exc}); the "
                           f"next try resumes it", url=url) from exc
    except OSError as exc:
        raise atomic.WriteError(part, exc.strerror or str(exc)) from exc
    return done


def _range_start(content_range: str) -> int | None:
    # "bytes 100-199/200"
    try:
        unit, rest = content_range.split(" ", 1)
        return int(rest.split("-", 1)[0]) if unit == "bytes" else None
    except ValueError:
        return None


# ---------------------------------------------------------------------- ontology
def label_points(ids, structures) -> tuple[np.ndarray, np.ndarray]:
    """Structure ids and acronyms of many points, for tables and CSV files.

    Parameters
    ----------
    ids : array-like of int
        What :meth:`AnnotationVolume.structure_ids_at` answered (0 outside).
    structures : Mapping[int, Structure]
        The ontology (``catalog.structures``).

    Returns
    -------
    ids : numpy.ndarray of int64
        The structure id, -1 outside the brain or for an id the ontology lacks.
    acronyms : numpy.ndarray of object
        The acronym, ``""`` where the id is -1.

    Notes
    -----
    Each id is found in the ontology with a perfect hash (:class:`~.id_lookup.IdLookup`):
    constant time per point, no ``np.unique`` or binary search, whose sorts and searches
    cost several times the volume lookup for a million points. Id 0 is "outside" even
    if an ontology were to list it.

    Examples
    --------
    >>> from napari_allen_sync.records import Structure
    >>> onto = {549: Structure(549, "TH", "Thalamus"), 315: Structure(315, "Isocortex", "")}
    >>> i, a = label_points([549, 0, 315, 7], onto)
    >>> i.tolist(), a.tolist()
    ([549, -1, 315, -1], ['TH', '', 'Isocortex', ''])
    """
    from .id_lookup import IdLookup

    keys = np.fromiter((k for k in structures.keys() if k > 0), dtype=np.int64)
    lookup = IdLookup(keys)
    known = np.concatenate([[-1], keys])
    acronyms = np.empty(len(keys) + 1, dtype=object)
    acronyms[0] = ""
    acronyms[1:] = [structures[int(k)].acronym for k in keys]
    number = lookup.numbers(ids)
    return known.take(number), acronyms.take(number)


def ontology_from_graph_download(data) -> list:
    """The structures of a ``structure_graph_download/{id}.json`` answer (nested through
    ``children``) as :class:`~napari_allen_sync.records.Structure` records, parsed by
    :meth:`Structure.from_rma <napari_allen_sync.records.Structure.from_rma>` as the
    client's RMA answers are; ``structure_id_path`` is derived from the nesting when
    the answer does not carry it.

    Raises
    ------
    CatalogFormatError
        When a node is not a structure.
    """
    from .errors import CatalogFormatError
    from .records import Structure

    msg = data.get("msg") if isinstance(data, dict) else data
    if isinstance(msg, dict):
        msg = [msg]
    if not isinstance(msg, list):
        raise CatalogFormatError("structure graph answer has no list of structures")
    out = []
    stack = [(node, ()) for node in reversed(msg)]
    while stack:
        node, parents = stack.pop()
        if not isinstance(node, dict):
            raise CatalogFormatError(f"structure graph node is {type(node).__name__}, "
                                     f"not an object")
        row = {k: v for k, v in node.items() if k != "children"}
        sid = row.get("id")
        if not row.get("structure_id_path") and isinstance(sid, int):
            row["structure_id_path"] = "/" + "".join(f"{p}/" for p in (*parents, sid))
        if "parent_structure_id" not in row and parents:
            row["parent_structure_id"] = parents[-1]
        out.append(Structure.from_rma(row))
        for child in reversed(node.get("children") or []):
            stack.append((child, (*parents, sid)))
    return out
