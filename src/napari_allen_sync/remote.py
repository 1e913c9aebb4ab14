"""The real Allen service (or a compatible server) as an
:class:`~napari_allen_sync.source.AtlasSource`.

:class:`RemoteSource` keeps a :class:`~napari_allen_sync.catalog.Catalog` backed by the
persistent cache (:class:`~napari_allen_sync.cache.AllenCache`): records are fetched
through RMA once (``ensure_data_set``, ``ensure_atlas``) and from then on every
synchronization involving them is computed by the local engine
(:attr:`RemoteSource.synchronizer`) with no request at all. Its :attr:`~RemoteSource.tiles`
(:class:`RemoteTileSource`) downloads tiles of ``image_download`` and caches them on disk.

Pixel convention (docs/wire-format.md): ``image_download``'s ``left``/``top`` are full-resolution
pixels of the whole scan, i.e. the crop's ``x``/``y`` plus the sync-pixel offset;
``width``/``height`` are pixels of the requested tier. Tiles are ``tile_size`` square in
tier pixels; tile (row, col) of tier ``d`` covers tier pixels
``[row·T, row·T + T) × [col·T, col·T + T)`` clipped to the tier's size
``ceil(width / 2**d) × ceil(height / 2**d)``.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

from . import atomic
from .annotation import (
    DEFAULT_DOWNLOAD_BASE_URL,
    DEFAULT_RESOLUTION_UM,
    PUBLISHED_SHA256,
    AnnotationVolume,
    annotation_file_name,
    annotation_url,
    expected_shape,
    fetch_annotation,
)
from .annotation import _resolution as _annotation_resolution
from .cache import AllenCache
from .client import DEFAULT_DEADLINE, DEFAULT_TIMEOUT, AllenApi, SynchronizationApi
from .errors import (
    AllenSyncError,
    AnnotationError,
    AnnotationPendingError,
    CacheError,
    CatalogFormatError,
    MissingAlignmentError,
    NoUsableImagesError,
    ServiceError,
    ServiceTimeoutError,
    ServiceUnavailableError,
    UnknownIdError,
)
from .records import Atlas, AtlasImage, SectionDataSet, SectionImage, Structure
from .rma import RmaApi, RmaQuery
from .status import describe_cached_name
from .synchronizer import Synchronizer
from .validation import as_coordinates, as_id, as_id_list

__all__ = ["CachedSynchronizationApi", "RemoteSource", "RemoteTileSource", "decode_jpeg"]

log = logging.getLogger(__name__)

#: Reference spaces whose StructureCenters an atlas brings along (coronal, sagittal).
CENTER_SPACES = (9, 10)
#: Read timeout (s) of the annotation volume download at least: a server may prepare a
#: large file before its first byte (``serve --demo`` builds its volume on request).
ANNOTATION_READ_TIMEOUT = 120.0
#: Seconds a status() answer is reused.
STATUS_TTL = 10.0
#: Seconds a data set the service definitively refused (unknown, unaligned, no images)
#: is not asked for again (in memory only; nothing negative is ever cached on disk).
UNAVAILABLE_TTL = 300.0


def decode_jpeg(body: bytes, expected_size=None, url=None) -> np.ndarray:
    """Decode a complete JPEG into an RGB ``uint8`` array.

    Parameters
    ----------
    body : bytes
        The JPEG file.
    expected_size : (width, height), optional
        Refuse an image of another size.
    url : str, optional
        For error messages.

    Raises
    ------
    ServiceError
        When the bytes are not a complete, decodable JPEG (truncated, corrupt, wrong size).
    """
    from PIL import Image, UnidentifiedImageError

    if len(body) < 4 or body[:2] != b"\xff\xd8":
        raise ServiceError(f"answer is not a JPEG ({len(body)} bytes, begins {body[:16]!r})",
                           url=url)
    if body.rstrip(b"\x00")[-2:] != b"\xff\xd9":
        raise ServiceError(f"truncated JPEG ({len(body)} bytes, no end-of-image marker)", url=url)
    try:
        with Image.open(io.BytesIO(body)) as img:
            img.load()
            rgb = img.convert("RGB")
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise ServiceError(f"corrupt JPEG ({exc})", url=url) from exc
    if expected_size is not None and rgb.size != tuple(expected_size):
        raise ServiceError(f"JPEG is {rgb.size[0]} x {rgb.size[1]}, expected "
                           f"{expected_size[0]} x {expected_size[1]}", url=url)
    return np.asarray(rgb, dtype=np.uint8)


class _ServerTraits:
    """What a tile server was found to do, remembered per server in the cache
    (``servers/<host>.json``): the ``width``/``height`` convention of its
    ``image_download`` (docs/annotation.md) and which of AllenSDK's named download forms it
    does not serve (404)."""

    def __init__(self, cache: AllenCache, base_uri: str):
        import hashlib
        import json

        self.base_uri = base_uri
        digest = hashlib.sha256(base_uri.encode()).hexdigest()[:16]
        safe = "".join(c if c.isalnum() else "_" for c in base_uri.split("//")[-1])[:60]
        self.path = cache.root / "servers" / f"{safe}-{digest}.json"
        self._lock = threading.Lock()
        self.size_convention: str | None = None
        self.missing_forms: set[str] = set()
        try:
            data = json.loads(self.path.read_text())
            if data.get("base_uri") == base_uri:
                conv = data.get("size_convention")
                self.size_convention = conv if conv in SIZE_CONVENTIONS else None
                self.missing_forms = {f for f in data.get("missing_forms", [])
                                      if f in NAMED_FORMS.values()}
        except (OSError, ValueError, AttributeError):
            pass

    def _save(self) -> None:
        import json

        data = {"base_uri": self.base_uri, "size_convention": self.size_convention,
                "missing_forms": sorted(self.missing_forms)}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic.write_text(self.path, json.dumps(data, indent=1))
        except OSError as exc:  # remembered in memory; learnt again next time
            log.warning("cannot remember the tile convention of %s: %s", self.base_uri, exc)

    def learn_convention(self, convention: str) -> None:
        with self._lock:
            if self.size_convention != convention:
                log.info("%s reads image_download width/height in %s pixels", self.base_uri,
                         "tier" if convention == "tier" else "full-resolution")
                self.size_convention = convention
                self._save()

    def form_missing(self, form: str) -> None:
        with self._lock:
            if form not in self.missing_forms:
                self.missing_forms.add(form)
                self._save()


#: ``width``/``height`` of ``image_download`` in pixels of the requested tier (AllenSDK's
#: docstring) or of full resolution (one public tiled client): docs/annotation.md.
SIZE_CONVENTIONS = ("tier", "full")
#: AllenSDK's named download forms (``ImageDownloadApi``), by kind of image.
NAMED_FORMS = {"section": "section_image_download", "atlas": "atlas_image_download",
               "projection": "projection_image_download"}
#: The generic form (Allen's tutorial, other clients): the fallback on 404.
GENERIC_FORM = "image_download"


class _TileShared:
    """What every view of one tile client shares: memory, lock, server traits."""

    def __init__(self, api, cache, tile_size, memory_tiles, catalog):
        self.memory: OrderedDict = OrderedDict()
        self.lock = threading.Lock()
        self.memory_tiles = int(memory_tiles)
        self.traits = _ServerTraits(cache, api.base_uri)
        self.catalog = catalog
        self.views: dict = {}


class RemoteTileSource:
    """A :class:`~napari_allen_sync.source.TileSource` over Allen's ``image_download``.

    Requests go to AllenSDK's named forms (``section_image_download``,
    ``atlas_image_download`` for AtlasImages, ``projection_image_download`` for
    connectivity images), falling back to the generic ``image_download`` when a server
    answers 404 (remembered per server). Whether the server reads ``width``/``height`` in
    tier or full-resolution pixels is learnt from the size of the first JPEG of a tier
    below full resolution, and remembered per server in the cache (docs/annotation.md).

    Parameters
    ----------
    api : AllenApi
        The transport.
    cache : AllenCache
        Where tiles are kept (as the JPEG bytes received, after validation).
    tile_size : int
        Side of a tile in tier pixels.
    memory_tiles : int
        Decoded tiles kept in memory (least recently used dropped first).
    catalog : Catalog, optional
        Where to look up an image's atlas (for ``annotation=true&atlas=``) and data
        set (for the download form). Without it plates are downloaded plain.
    """

    def __init__(self, api: AllenApi, cache: AllenCache, tile_size: int = 512,
                 memory_tiles: int = 64, *, catalog=None, _view: str = "default",
                 _shared: _TileShared | None = None):
        self.api = api
        self.cache = cache
        self.tile_size = int(tile_size)
        self.memory_tiles = int(memory_tiles)
        self._shared = _shared or _TileShared(api, cache, tile_size, memory_tiles, catalog)
        self._memory = self._shared.memory
        self._lock = self._shared.lock
        #: How this object shows images (:data:`napari_allen_sync.images.VIEWS`).
        self.view_name = _view
        #: Tiles downloaded by this object.
        self.downloads = 0

    def __repr__(self):
        return f"<RemoteTileSource {self.api.base_uri} view={self.view_name}>"

    def view(self, name: str) -> RemoteTileSource:
        """The same images seen another way (:data:`napari_allen_sync.images.VIEWS`):
        ``"image"`` (plain; atlas plates as Nissl), ``"annotation"``
        (``annotation=true&atlas={id}`` on atlas plates), ``"expression"`` or
        ``"projection"`` (``view=...``), ``"default"`` (this object: annotated plates
        with their annotation). Each view is cached as its own tiles; one object per
        view, sharing memory and what was learnt about the server."""
        from .images import VIEWS

        if name not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {name!r}")
        if name == self.view_name:
            return self
        views = self._shared.views
        with self._lock:
            if "default" not in views and self.view_name == "default":
                views["default"] = self
            found = views.get(name)
            if found is None:
                found = RemoteTileSource(self.api, self.cache, self.tile_size,
                                         self.memory_tiles, _view=name, _shared=self._shared)
                views[name] = found
        return found

    @property
    def size_convention(self) -> str | None:
        """``"tier"``, ``"full"`` or None (not learnt yet) for this server."""
        return self._shared.traits.size_convention

    @staticmethod
    def tier_shape(image: SectionImage, downsample: int) -> tuple[int, int]:
        """(height, width) of the image's crop at tier ``downsample``."""
        f = 2**int(downsample)
        return -(-image.height // f), -(-image.width // f)

    def tile_grid(self, image: SectionImage, downsample: int) -> tuple[int, int]:
        """(rows, cols) of tiles of one tier."""
        h, w = self.tier_shape(image, downsample)
        t = self.tile_size
        return -(-h // t), -(-w // t)

    # ------------------------------------------------------------------ views
    def _atlas_of(self, image) -> int | None:
        catalog = self._shared.catalog
        if catalog is None or not isinstance(image, AtlasImage):
            return None
        for atlas in catalog.atlases.values():
            if image.data_set_id in atlas.data_set_ids:
                return atlas.id
        return None

    def _view_query(self, image) -> tuple[str, str]:
        """(cache key, extra query) of this view for one image; key "" is the plain
        image (the cache's original tile layout)."""
        view = self.view_name
        if view == "default":
            view = "annotation" if isinstance(image, AtlasImage) and image.annotated else "image"
        if view == "annotation":
            atlas = self._atlas_of(image)
            if atlas is None:
                return "", ""
            return f"annotation-{atlas}", f"&annotation=true&atlas={atlas}"
        if view in ("expression", "projection"):
            return view, f"&view={view}"
        return "", ""

    def _form(self, image) -> str:
        from .images import overlay_view

        if isinstance(image, AtlasImage):
            form = NAMED_FORMS["atlas"]
        else:
            catalog = self._shared.catalog
            ds = None if catalog is None else catalog.section_data_sets.get(image.data_set_id)
            kind = "projection" if ds is not None and overlay_view(ds) == "projection" \
                else "section"
            form = NAMED_FORMS[kind]
        return GENERIC_FORM if form in self._shared.traits.missing_forms else form

    def tile_url(self, image: SectionImage, downsample: int, row: int, col: int, *,
                 form: str | None = None, convention: str | None = None) -> str:
        """The download request of one tile (default: the form and the size convention
        known for this server; tier pixels until learnt otherwise)."""
        h, w = self.tier_shape(image, downsample)
        t, f = self.tile_size, 2**downsample
        width = min(t, w - col * t)
        height = min(t, h - row * t)
        if width <= 0 or height <= 0 or row < 0 or col < 0:
            raise ValueError(
                f"tile ({row}, {col}) is outside tier {downsample} of image {image.id}")
        left = image.x + col * t * f
        top = image.y + row * t * f
        convention = convention or self.size_convention or "tier"
        if convention == "full":
            width, height = width * f, height * f
        form = form or self._form(image)
        _, extra = self._view_query(image)
        return self.api.url(
            f"/api/v2/{form}/{image.id}?downsample={downsample}"
            f"&left={left}&top={top}&width={width}&height={height}{extra}"
        )

    def _tile_path(self, image, downsample, row, col):
        key, _ = self._view_query(image)
        if not key:
            return self.cache.tile_path(image.id, downsample, row, col, self.tile_size)
        return (self.cache.tiles_dir / str(int(image.id)) / key / f"d{int(downsample)}"
                / f"s{self.tile_size}" / f"{int(row)}_{int(col)}.jpg")

    def _read_cached(self, image, downsample, row, col) -> bytes | None:
        key, _ = self._view_query(image)
        if not key:
            return self.cache.read_tile(image.id, downsample, row, col, self.tile_size)
        try:
            return self._tile_path(image, downsample, row, col).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CacheError(f"cannot read a cached tile: {exc}") from exc

    def _store(self, image, downsample, row, col, body: bytes) -> None:
        key, _ = self._view_query(image)
        if not key:
            self.cache.store_tile(image.id, downsample, row, col, self.tile_size, body)
            return
        path = self._tile_path(image, downsample, row, col)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(path, body)

    def is_cached(self, image: SectionImage, downsample: int, row: int, col: int) -> bool:
        """Whether a tile (of this view) is on disk."""
        return self._tile_path(image, downsample, row, col).is_file()

    def tile(self, image: SectionImage, downsample: int, row: int, col: int) -> np.ndarray:
        """One tile as an RGB array (memory, then disk, then one download)."""
        key = (self._view_query(image)[0], image.id, downsample, row, col)
        with self._lock:
            found = self._memory.get(key)
            if found is not None:
                self._memory.move_to_end(key)
                return found
        h, w = self.tier_shape(image, downsample)
        t = self.tile_size
        size = (min(t, w - col * t), min(t, h - row * t))
        body = self._read_cached(image, downsample, row, col)
        pixels = None
        if body is not None:
            try:
                pixels = decode_jpeg(body, size)
            except ServiceError as exc:  # damaged on disk: fetch again
                log.warning("cached tile %s of image %s is unreadable (%s)", key, image.id, exc)
        if pixels is None:
            pixels = self._download(image, downsample, row, col, size)
        with self._lock:
            self._memory[key] = pixels
            while len(self._memory) > self.memory_tiles:
                self._memory.popitem(last=False)
        return pixels

    def _download(self, image, downsample, row, col, size) -> np.ndarray:
        traits = self._shared.traits
        f = 2**downsample
        reduced = {(-(-size[0] // f), -(-size[1] // f)), (max(1, size[0] // f),
                                                          max(1, size[1] // f))}
        form = self._form(image)
        convention = traits.size_convention
        for _ in range(3):  # at most: a 404 of a named form, a convention learnt
            url = self.tile_url(image, downsample, row, col, form=form,
                                convention=convention or "tier")
            body, response = self.api.get_bytes(url)
            if response.status_code == 404 and form != GENERIC_FORM:
                log.info("%s is not served by %s: using %s", form, self.api.base_uri,
                         GENERIC_FORM)
                traits.form_missing(form)
                form = GENERIC_FORM
                continue
            if response.status_code >= 400 or not body.startswith(b"\xff\xd8"):
                raise _error_from_body(body, url, response.status_code)
            pixels = decode_jpeg(body, None, url)  # raises before anything is cached
            got = (pixels.shape[1], pixels.shape[0])
            if got == size:
                if convention is None and f > 1 and size not in reduced:
                    traits.learn_convention("tier")
                break
            if convention is None and f > 1 and got in reduced:
                traits.learn_convention("full")  # it read our tier sizes as full-res
                convention = "full"
                continue
            raise ServiceError(f"JPEG is {got[0]} x {got[1]}, expected {size[0]} x {size[1]}",
                               url=url)
        else:  # pragma: no cover - the loop always breaks or raises within 3 rounds
            raise ServiceError("image_download gave no usable answer", url=url)
        self._store(image, downsample, row, col, body)
        self.downloads += 1
        return pixels

    def read_region(self, image, downsample, left, top, width, height) -> np.ndarray:
        """An RGB ``uint8`` array ``(height, width, 3)`` of tier ``downsample``, whose
        top-left pixel is at sync pixel (``left``, ``top``). Outside the crop: white."""
        d = int(downsample)
        f = 2**d
        x0, y0 = int(left) // f, int(top) // f
        out = np.full((int(height), int(width), 3), 255, dtype=np.uint8)
        th, tw = self.tier_shape(image, d)
        t = self.tile_size
        xa, xb = max(x0, 0), min(x0 + int(width), tw)
        ya, yb = max(y0, 0), min(y0 + int(height), th)
        if xa >= xb or ya >= yb:
            return out
        for row in range(ya // t, (yb - 1) // t + 1):
            for col in range(xa // t, (xb - 1) // t + 1):
                tile = self.tile(image, d, row, col)
                ty0, tx0 = row * t, col * t
                sy0, sy1 = max(ya, ty0), min(yb, ty0 + tile.shape[0])
                sx0, sx1 = max(xa, tx0), min(xb, tx0 + tile.shape[1])
                out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = tile[sy0 - ty0:sy1 - ty0,
                                                                 sx0 - tx0:sx1 - tx0]
        return out

    def forget_memory(self) -> None:
        """Drop the in-memory tiles (the disk cache stays)."""
        with self._lock:
            self._memory.clear()


def _error_from_body(body, url, status):
    import json

    try:
        data = json.loads(body.decode("utf-8"))
        msg = data.get("msg") if isinstance(data, dict) else None
    except (UnicodeDecodeError, ValueError):
        msg = None
    if isinstance(msg, str):
        return ServiceError(f"image_download failed: {msg}", url=url, status=status)
    return ServiceError(f"image_download answered {len(body)} bytes that are not a JPEG "
                        f"(begins {body[:16]!r})", url=url, status=status)


class RemoteSource:
    """The Allen Brain Atlas API (or a compatible server) through the persistent cache.

    Parameters
    ----------
    base_uri : str, optional
        Default ``https://api.brain-map.org``.
    cache_dir : str or os.PathLike, optional
        Default :func:`napari_allen_sync.cache.default_cache_dir` (``$NAPARI_ALLEN_SYNC_CACHE``
        or the user cache folder).
    timeout, retries, deadline
        As :class:`~napari_allen_sync.client.AllenApi`.
    tile_size : int
        Tile side in tier pixels.
    name : str, optional
        Shown to users; default "Allen Brain Atlas API" or the URL.
    annotation_resolution : int
        Voxel size (µm) of the annotation volume for structures: 10, 25 (default), 50
        or 100.
    annotation_base_url : str, optional
        Scheme and host serving the volume under Allen's path layout
        (:data:`~napari_allen_sync.annotation.ANNOTATION_PATH`). Default: Allen's download
        server for the Allen API, else the same server as ``base_uri`` (as
        ``napari-allen-sync serve`` does).

    Attributes
    ----------
    catalog : Catalog
        Every cached record (loaded at start-up, grown by ``ensure_*``).
    synchronizer : Synchronizer
        The local engine over :attr:`catalog`.
    api : SynchronizationApi
        The HTTP client (also usable for the six services directly).
    tiles : RemoteTileSource
    cache : AllenCache

    Examples
    --------
    >>> source = RemoteSource("http://127.0.0.1:8765", cache_dir=tmp)   # doctest: +SKIP
    >>> source.ensure_data_set(100055064)                               # doctest: +SKIP
    >>> source.synchronizer.image_to_reference(101082698, 624, 780)     # doctest: +SKIP
    """

    def __init__(self, base_uri=None, cache_dir=None, *, timeout=DEFAULT_TIMEOUT, retries=3,
                 deadline=DEFAULT_DEADLINE, tile_size=512, name=None,
                 annotation_resolution=DEFAULT_RESOLUTION_UM, annotation_base_url=None):
        self.api = SynchronizationApi(base_uri, timeout=timeout, retries=retries, deadline=deadline)
        connect = self.api.timeout[0]
        self._probe = AllenApi(self.api.base_uri, timeout=(min(connect, 2.0), 3.0), retries=0,
                               deadline=4.0)
        self.name = name or ("Allen Brain Atlas API" if base_uri is None else self.api.base_uri)
        self.rma = RmaApi(self.api)
        self.cache = AllenCache(cache_dir)
        self.catalog = self.cache.catalog()
        self.synchronizer = Synchronizer(self.catalog)
        self.tiles = RemoteTileSource(self.api, self.cache, tile_size, catalog=self.catalog)
        self._lock = threading.RLock()
        self._status = None
        self._unavailable: dict[int, tuple[float, Exception]] = {}
        self._atlases_ready: set[int] = set()  # atlases whose records are in the catalog
        #: RMA answers fetched over the network by this object (not from the cache).
        self.fetched: list[str] = []
        #: Voxel size (µm) of the annotation volume used for structures.
        self.annotation_resolution = _annotation_resolution(annotation_resolution)
        if annotation_base_url is None:
            annotation_base_url = DEFAULT_DOWNLOAD_BASE_URL if base_uri is None else \
                self.api.base_uri
        #: Where the annotation volume is downloaded from (docs/annotation.md's path layout).
        self.annotation_url = annotation_url(self.annotation_resolution, annotation_base_url)
        self._annotation: AnnotationVolume | None = None
        self._annotation_lock = threading.Lock()
        #: Why the last attempt to get the annotation volume failed (None if it did not).
        self.annotation_problem: Exception | None = None

    def __repr__(self):
        return f"<RemoteSource {self.name} cache={self.cache.root} {self.catalog!r}>"

    def close(self) -> None:
        """Close network connections."""
        self.api.close()
        self._probe.close()

    # ------------------------------------------------------------------ status
    def status(self) -> str:
        """``"online"`` if the service answers a tiny RMA query within ~4 s, else
        ``"offline from cache"`` when something is cached, else ``"unreachable"``.
        The answer is reused for a few seconds."""
        now = time.monotonic()
        if self._status is not None and now - self._status[0] < STATUS_TTL:
            return self._status[1]
        query = RmaQuery("Atlas", num_rows=1, start_row=0)
        try:
            self._probe.get_envelope(self._probe.url(query.path()))
            state = "online"
        except AllenSyncError:
            state = "offline from cache" if self.cache.rma_names() else "unreachable"
        self._status = (now, state)
        return state

    def cache_status(self):
        """What the cache holds for this source
        (:class:`~napari_allen_sync.status.CacheStatus`; reads the disk, no request)."""
        from .status import cache_status

        return cache_status(self)

    def _offline(self, exc, needed: str | None = None, data_set_ids=()):
        """A connection failure as an error that says what is cached, what is missing
        and how to get it (:func:`~napari_allen_sync.status.offline_error`)."""
        from .status import offline_error

        return offline_error(self, exc, needed, data_set_ids)

    # ------------------------------------------------------------------ listing
    def _atlas_data_set_ids(self) -> set[int]:
        return {d for a in self.catalog.atlases.values() for d in a.data_set_ids}

    def data_set_ids(self) -> list[int]:
        """Cached SectionDataSets (not atlas data sets), usable with no request."""
        atlas = self._atlas_data_set_ids()
        return sorted(d for d in self.catalog.section_data_sets if d not in atlas)

    def atlas_ids(self) -> list[int]:
        """Cached atlases, usable with no request."""
        return sorted(self.catalog.atlases)

    # ------------------------------------------------------------------ fetching
    def _fetch(self, name: str, fetch, check=None, *, empty_ok: bool = False) -> list:
        """Records of the cached answer ``name``, fetching and storing it when missing
        (or cached empty, unless an empty answer is a real one: ``empty_ok``)."""
        with self.cache.lock(name):
            if self.cache.has_rma(name):
                records = self.cache.load_records([name])
                if records or empty_ok:
                    return records
            try:
                data = fetch()
            except (ServiceUnavailableError, ServiceTimeoutError) as exc:
                ds = name.split("-", 1)[1] if name.startswith(("SectionDataSet-",
                                                               "Equalization-")) else ""
                raise self._offline(exc, describe_cached_name(name),
                                    [int(ds)] if ds.isdigit() else []) from exc
            records = self.cache.store_rma(name, data, check=check)
            self.fetched.append(name)
            return records

    def ensure_data_set(self, section_data_set_id: int) -> SectionDataSet:
        """Make a data set (alignment3d, images with alignment2d) available, fetching
        ``SectionDataSet/{id}.json?include=section_images(alignment2d),alignment3d`` and
        its Equalization into the cache when missing.

        Raises
        ------
        MissingAlignmentError
            The service has the data set but no alignment3d (nothing is cached).
        ServiceError
            Any trouble with the service (nothing is cached).
        """
        ds_id = as_id("section_data_set_id", section_data_set_id)
        with self._lock:
            ds = self.catalog.section_data_sets.get(ds_id)
            if ds is not None and self.catalog.images_of(ds_id):
                return ds
            known = self._unavailable.get(ds_id)
            if known is not None and time.monotonic() - known[0] < UNAVAILABLE_TTL:
                raise known[1]
            try:
                return self._fetch_data_set(ds_id)
            except (MissingAlignmentError, NoUsableImagesError, ServiceError) as exc:
                if not isinstance(exc, ServiceError) or exc.status in (400, 404):
                    self._unavailable[ds_id] = (time.monotonic(), exc)
                raise

    def _fetch_data_set(self, ds_id: int) -> SectionDataSet:
        with self._lock:

            def check(records):
                found = [r for r in records if isinstance(r, SectionDataSet) and r.id == ds_id]
                if not found:
                    raise ServiceError(f"answer holds no SectionDataSet {ds_id}")
                if found[0].alignment3d is None:
                    raise MissingAlignmentError(
                        f"SectionDataSet {ds_id} has no alignment3d: it cannot be synchronized")
                if not any(isinstance(r, SectionImage) for r in records):
                    raise NoUsableImagesError(f"SectionDataSet {ds_id} has no images")

            records = self._fetch(f"SectionDataSet-{ds_id}",
                                  lambda: self.rma.section_data_set(ds_id), check)
            try:
                records += self._fetch(f"Equalization-{ds_id}",
                                       lambda: self.rma.equalization(ds_id))
            except (ServiceError, CatalogFormatError) as exc:
                log.warning("no Equalization for data set %s: %s", ds_id, exc)
            self.catalog.add_all(records)
            return self.catalog.section_data_set(ds_id)

    def ensure_section_image(self, section_image_id: int) -> SectionImage:
        """Make a SectionImage and its whole data set available (one RMA lookup of the
        image's ``data_set_id`` when it is not cached)."""
        sid = as_id("section_image_id", section_image_id)
        image = self.catalog.section_images.get(sid)
        if image is None:
            url = self.api.url(RmaQuery("SectionImage", [("id", "eq", str(sid))]).path())
            try:
                msg = self.api.get_msg(url)
            except (ServiceUnavailableError, ServiceTimeoutError) as exc:
                raise self._offline(exc, f"the metadata of SectionImage {sid}") from exc
            if not msg or not isinstance(msg, list) or not isinstance(msg[0], dict):
                raise UnknownIdError("SectionImage", sid, f"the service does not know it ({url})")
            ds_id = msg[0].get("data_set_id")
            if not isinstance(ds_id, int):
                raise ServiceError(f"SectionImage {sid} has no data_set_id", url=url)
            self.ensure_data_set(ds_id)
            image = self.catalog.section_image(sid)
        else:
            self.ensure_data_set(image.data_set_id)
        return image

    def ensure_atlas(self, atlas_id: int) -> None:
        """Make an atlas, its plates (with alignments), the ontology and the
        StructureCenters available, fetching what is missing into the cache."""
        aid = as_id("atlas_id", atlas_id)
        with self._lock:
            if aid in self._atlases_ready and aid in self.catalog.atlases:
                return  # every click asks: no disk read once it is in the catalog

            def check(records):
                atlases = [r for r in records if isinstance(r, Atlas) and r.id == aid]
                if not atlases:
                    raise ServiceError(f"answer holds no Atlas {aid}")
                if not any(isinstance(r, SectionDataSet) and r.alignment3d is not None
                           for r in records):
                    raise MissingAlignmentError(f"Atlas {aid} has no aligned atlas data set")

            records = self._fetch(f"Atlas-{aid}", lambda: self.rma.atlas(aid), check)
            atlas = next(r for r in records if isinstance(r, Atlas) and r.id == aid)
            graph = atlas.structure_graph_id or 1

            def check_graph(records):
                if not any(isinstance(r, Structure) for r in records):
                    raise ServiceError(f"structure graph {graph} has no structures")

            records += self._fetch(f"Structure-graph-{graph}",
                                   lambda: self.rma.structure_graph(graph), check_graph)
            spaces = sorted({*CENTER_SPACES, atlas.reference_space_id} - {None})
            for space in spaces:
                try:
                    records += self._fetch(f"StructureCenter-space-{space}",
                                           lambda s=space: self.rma.structure_centers(s))
                except (ServiceError, CatalogFormatError) as exc:
                    log.warning("no StructureCenters for reference space %s: %s", space, exc)
            try:
                records += self._fetch("ReferenceToReferenceTransform",
                                       self.rma.reference_transforms, empty_ok=True)
            except (ServiceError, CatalogFormatError) as exc:
                log.warning("no ReferenceToReferenceTransforms: %s", exc)
            self.catalog.add_all(records)
            self._atlases_ready.add(aid)

    def ensure_structure_centers(self, reference_space_id: int) -> None:
        """Make the ontology and the StructureCenters of one reference space available."""
        space = as_id("reference_space_id", reference_space_id)
        with self._lock:
            if any(k[1] == space for k in self.catalog.structure_centers):
                return
            records = self._fetch("Structure-graph-1", lambda: self.rma.structure_graph(1))
            records += self._fetch(f"StructureCenter-space-{space}",
                                   lambda: self.rma.structure_centers(space))
            self.catalog.add_all(records)

    def ensure_ontology(self, graph_id: int = 1) -> None:
        """Make the structures of one ontology available (fetched once into the cache)."""
        graph = as_id("structure_graph_id", graph_id)
        with self._lock:
            if self.catalog.structures:
                return

            def check_graph(records):
                if not any(isinstance(r, Structure) for r in records):
                    raise ServiceError(f"structure graph {graph} has no structures")

            self.catalog.add_all(self._fetch(f"Structure-graph-{graph}",
                                             lambda: self.rma.structure_graph(graph),
                                             check_graph))

    # ------------------------------------------------------------------ annotation
    def annotation_path(self, resolution: int | None = None) -> Path:
        """Where the annotation volume is kept in the cache (one folder per download
        server, so that a demo server's volume never stands in for Allen's); the
        source's resolution, or ``resolution`` µm from the same server."""
        import hashlib

        base = self.annotation_url.rsplit("/informatics-archive/", 1)[0]
        res = self.annotation_resolution if resolution is None else _annotation_resolution(
            resolution)
        url = annotation_url(res, base)
        digest = hashlib.sha256(url.encode()).hexdigest()[:12]
        safe = "".join(c if c.isalnum() else "_" for c in base.split("//")[-1])[:60]
        return self.cache.root / "annotation" / f"{safe}-{digest}" / annotation_file_name(res)

    def annotation_cached(self) -> bool:
        """Whether the annotation volume is on disk (no download needed)."""
        return self._annotation is not None or self.annotation_path().is_file()

    def annotation(self, progress=None) -> AnnotationVolume:
        """The CCFv3 annotation volume: from memory, else the cache, else downloaded
        once (:func:`~napari_allen_sync.annotation.fetch_annotation`: streamed,
        resumable, verified; Allen's 25 µm file against its published SHA-256).

        Parameters
        ----------
        progress : callable, optional
            ``progress(done_bytes, total_bytes)`` while downloading (total may be None);
            :func:`~napari_allen_sync.annotation.tqdm_progress` draws a bar.

        Raises
        ------
        AnnotationError
            The volume arrived damaged twice, or the server has none.
        ServiceError
            The download server cannot be reached (what arrived is kept and resumed
            next time).
        """
        with self._annotation_lock:
            if self._annotation is not None:
                return self._annotation
            res = self.annotation_resolution
            path = self.annotation_path()
            decoded = path.with_suffix(".npy")
            with self.cache.lock(f"annotation-{path.parent.name}-{res}"):
                volume = self._cached_annotation(path, decoded, res)
                if volume is None:
                    volume = self._download_annotation(path, res, progress)
                if volume.mapped_from is None:
                    try:  # the next start maps it instead of decompressing the NRRD
                        volume.write_decoded(decoded)
                    except OSError as exc:
                        log.warning("cannot keep a decoded annotation volume: %s", exc)
            self.annotation_problem = None
            self._annotation = volume
            return volume

    @staticmethod
    def _cached_annotation(path, decoded, res) -> AnnotationVolume | None:
        """The volume from the cache: the decoded array if usable, else the NRRD file;
        None if neither is there. A damaged file is deleted so that it is fetched again."""
        if path.is_file() and decoded.is_file():
            try:
                return AnnotationVolume.read_decoded(decoded, res, expected_shape(res))
            except AnnotationError as exc:
                log.warning("decoded annotation volume unusable, reading the file: %s", exc)
        if path.is_file():
            try:
                return AnnotationVolume.read(path, resolution_um=res, shape=expected_shape(res))
            except AnnotationError as exc:
                log.warning("cached annotation volume is damaged, fetching it again: %s", exc)
                path.unlink(missing_ok=True)
                decoded.unlink(missing_ok=True)
        return None

    def _download_annotation(self, path, res, progress) -> AnnotationVolume:
        """Fetch the volume into ``path`` (streamed, resumable, verified); a network
        failure raises with the offline report (what is cached, what is missing)."""
        sha = PUBLISHED_SHA256.get(res) if self.annotation_url.startswith(
            DEFAULT_DOWNLOAD_BASE_URL + "/") else None
        try:
            return fetch_annotation(
                self.annotation_url, path, session=self.api.session,
                timeout=(self.api.timeout[0], max(self.api.timeout[1], ANNOTATION_READ_TIMEOUT)),
                sha256=sha, resolution=res, progress=progress)
        except (ServiceUnavailableError, ServiceTimeoutError) as exc:
            self.annotation_problem = self._offline(exc, f"the annotation volume at {res} µm")
            raise self.annotation_problem from exc
        except AllenSyncError as exc:
            self.annotation_problem = exc
            raise

    def structure_ids_at(self, reference_space_id: int, x, y, z) -> np.ndarray:
        """The structure id at each reference point (µm, space 9 or 10), 0 outside the
        brain: the annotation volume's lookup (:meth:`annotation`; the first call may
        download it). Raises as :meth:`annotation` when the volume cannot be had."""
        return self.annotation().structure_ids_at(reference_space_id, x, y, z)

    def annotation_pending(self) -> bool:
        """Whether the annotation volume is being fetched or read by another call right
        now (not in memory yet, and :meth:`annotation` is running)."""
        return self._annotation is None and self._annotation_lock.locked()

    def structure_at(self, reference_space_id: int, x, y, z,
                     wait: bool = True) -> list[Structure | None]:
        """The structure at each reference point (µm), None outside the brain.

        Uses :meth:`structure_ids_at` and the ontology (fetched once). When the volume
        or the ontology cannot be had (no network, nothing cached) every point is None
        and :attr:`annotation_problem` says why: a click still synchronizes.

        Parameters
        ----------
        reference_space_id : int
            9 or 10.
        x, y, z : array-like
            Reference points, µm.
        wait : bool
            With False, when the volume is being downloaded (:meth:`annotation_pending`,
            e.g. by the dock's download) every point is None at once and
            :attr:`annotation_problem` is an
            :class:`~napari_allen_sync.errors.AnnotationPendingError`, instead of
            waiting for the transfer to end.
        """
        n = len(as_coordinates("x", x))
        if not wait and self.annotation_pending():
            self.annotation_problem = AnnotationPendingError(
                f"the annotation volume ({self.annotation_resolution} µm) is still "
                "downloading: structures are named once it has arrived (progress in "
                "napari's activity dock)")
            return [None] * n
        try:
            ids = self.structure_ids_at(reference_space_id, x, y, z)
            self.ensure_ontology()
        except AllenSyncError as exc:
            self.annotation_problem = exc
            log.warning("no structures: %s", exc)
            return [None] * n
        structures = self.catalog.structures
        return [structures.get(int(i)) if i else None for i in ids]

    def overlay_view(self, section_data_set_id: int) -> str | None:
        """The overlay of a data set's images (``"expression"``, ``"projection"`` or
        None), from its cached record (:func:`~napari_allen_sync.images.overlay_view`)."""
        from .images import overlay_view

        ds = self.catalog.section_data_sets.get(as_id("section_data_set_id",
                                                      section_data_set_id))
        return None if ds is None else overlay_view(ds)


#: Errors that make one target of a list service fail (as the service reports it)
#: rather than the whole call.
_TARGET_ERRORS = (UnknownIdError, NoUsableImagesError, MissingAlignmentError)


class CachedSynchronizationApi:
    """AllenSDK's six ``SynchronizationApi`` methods, answered by the local engine.

    Every record a call needs is fetched once into the persistent cache (through
    ``source.ensure_*``); from then on calls involving it make no request at all. The
    answers have the service's shape (docs/wire-format.md), and as with the service a target that
    cannot be synchronized is an ``image_sync`` element without ``section_image_id``
    (see :func:`napari_allen_sync.client.failed_syncs`).

    Parameters
    ----------
    source : RemoteSource, optional
        Default: a new :class:`RemoteSource` on the Allen Brain Atlas API.

    Examples
    --------
    >>> api = CachedSynchronizationApi(RemoteSource(cache_dir=tmp))        # doctest: +SKIP
    >>> api.get_image_to_image(114754496, 18232, 10704, [113887162])      # doctest: +SKIP
    """

    def __init__(self, source: RemoteSource | None = None):
        self.source = source if source is not None else RemoteSource()

    @property
    def _sync(self) -> Synchronizer:
        return self.source.synchronizer

    def _target(self, compute, data_set_id):
        try:
            return compute()
        except _TARGET_ERRORS:
            ds = None if data_set_id is None else str(data_set_id)
            return {"image_sync": {"section_data_set_id": ds}}

    def _data_sets(self, ids):
        ids = as_id_list("section_data_set_ids", ids)
        for d in ids:
            try:
                self.source.ensure_data_set(d)
            except (ServiceError, MissingAlignmentError, NoUsableImagesError) as exc:
                log.info("data set %s cannot be a target: %s", d, exc)
        return ids

    def get_image_to_reference(self, section_image_id, x, y) -> dict:
        """As the service: ``{"image_to_reference": {"x", "y", "z"}}``."""
        self.source.ensure_section_image(section_image_id)
        return self._sync.image_to_reference(section_image_id, x, y)

    def get_reference_to_image(self, reference_space_id, x, y, z, section_data_set_ids) -> list:
        """As the service: one element per data set."""
        as_coordinates("x", x), as_coordinates("y", y), as_coordinates("z", z)
        ids = self._data_sets(section_data_set_ids)
        return [self._target(
            lambda d=d: self._sync.reference_to_image(reference_space_id, x, y, z, [d])[0], d)
            for d in ids]

    def get_image_to_image(self, section_image_id, x, y, section_data_set_ids) -> list:
        """As the service: one element per data set."""
        as_coordinates("x", x), as_coordinates("y", y)
        ids = as_id_list("section_data_set_ids", section_data_set_ids)
        self.source.ensure_section_image(section_image_id)
        self._data_sets(ids)
        return [self._target(
            lambda d=d: self._sync.image_to_image(section_image_id, x, y, [d])[0], d)
            for d in ids]

    def get_image_to_image_2d(self, section_image_id, x, y, section_image_ids) -> list:
        """As the service: one element per listed image."""
        as_coordinates("x", x), as_coordinates("y", y)
        ids = as_id_list("section_image_ids", section_image_ids)
        self.source.ensure_section_image(section_image_id)
        out = []
        for t in ids:
            try:
                image = self.source.ensure_section_image(t)
            except (ServiceError, *_TARGET_ERRORS):
                out.append({"image_sync": {"section_data_set_id": None}})
                continue
            out.append(self._target(
                lambda t=t: self._sync.image_to_image_2d(section_image_id, x, y, [t])[0],
                image.data_set_id))
        return out

    def get_image_to_atlas(self, section_image_id, x, y, atlas_id) -> dict:
        """As the service: one ``image_sync`` object (its ``section_data_set_id`` null)."""
        self.source.ensure_section_image(section_image_id)
        self.source.ensure_atlas(atlas_id)
        return self._sync.image_to_atlas(section_image_id, x, y, atlas_id)

    def get_structure_to_image(self, section_data_set_id, structure_ids) -> list:
        """As the service: one element per structure, in request order."""
        ids = as_id_list("structure_ids", structure_ids)
        ds = self.source.ensure_data_set(section_data_set_id)
        self.source.ensure_structure_centers(ds.reference_space_id)
        return [self._target(
            lambda s=s: self._sync.structure_to_image(ds.id, [s])[0], ds.id) for s in ids]
