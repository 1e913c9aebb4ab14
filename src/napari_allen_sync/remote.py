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

import numpy as np

from .cache import AllenCache
from .client import DEFAULT_DEADLINE, DEFAULT_TIMEOUT, AllenApi, SynchronizationApi
from .errors import (
    AllenSyncError,
    CatalogFormatError,
    MissingAlignmentError,
    NoUsableImagesError,
    ServiceError,
    UnknownIdError,
)
from .records import Atlas, SectionDataSet, SectionImage, Structure
from .rma import RmaApi, RmaQuery
from .synchronizer import Synchronizer
from .validation import as_coordinates, as_id, as_id_list

__all__ = ["CachedSynchronizationApi", "RemoteSource", "RemoteTileSource", "decode_jpeg"]

log = logging.getLogger(__name__)

#: Reference spaces whose StructureCenters an atlas brings along (coronal, sagittal).
CENTER_SPACES = (9, 10)
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


class RemoteTileSource:
    """A :class:`~napari_allen_sync.source.TileSource` over Allen's ``image_download``.

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
    """

    def __init__(self, api: AllenApi, cache: AllenCache, tile_size: int = 512,
                 memory_tiles: int = 64):
        self.api = api
        self.cache = cache
        self.tile_size = int(tile_size)
        self.memory_tiles = int(memory_tiles)
        self._memory: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        #: Tiles downloaded by this object.
        self.downloads = 0

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

    def tile_url(self, image: SectionImage, downsample: int, row: int, col: int) -> str:
        """The ``image_download`` request of one tile."""
        h, w = self.tier_shape(image, downsample)
        t, f = self.tile_size, 2**downsample
        width = min(t, w - col * t)
        height = min(t, h - row * t)
        if width <= 0 or height <= 0 or row < 0 or col < 0:
            raise ValueError(
                f"tile ({row}, {col}) is outside tier {downsample} of image {image.id}")
        left = image.x + col * t * f
        top = image.y + row * t * f
        return self.api.url(
            f"/api/v2/image_download/{image.id}?downsample={downsample}"
            f"&left={left}&top={top}&width={width}&height={height}"
        )

    def is_cached(self, image: SectionImage, downsample: int, row: int, col: int) -> bool:
        """Whether a tile is on disk."""
        return self.cache.tile_path(image.id, downsample, row, col, self.tile_size).is_file()

    def tile(self, image: SectionImage, downsample: int, row: int, col: int) -> np.ndarray:
        """One tile as an RGB array (memory, then disk, then one download)."""
        key = (image.id, downsample, row, col)
        with self._lock:
            found = self._memory.get(key)
            if found is not None:
                self._memory.move_to_end(key)
                return found
        h, w = self.tier_shape(image, downsample)
        t = self.tile_size
        size = (min(t, w - col * t), min(t, h - row * t))
        body = self.cache.read_tile(image.id, downsample, row, col, t)
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
        url = self.tile_url(image, downsample, row, col)
        body, response = self.api.get_bytes(url)
        if response.status_code >= 400 or not body.startswith(b"\xff\xd8"):
            raise _error_from_body(body, url, response.status_code)
        pixels = decode_jpeg(body, size, url)  # raises before anything is cached
        self.cache.store_tile(image.id, downsample, row, col, self.tile_size, body)
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
                 deadline=DEFAULT_DEADLINE, tile_size=512, name=None):
        self.api = SynchronizationApi(base_uri, timeout=timeout, retries=retries, deadline=deadline)
        connect = self.api.timeout[0]
        self._probe = AllenApi(self.api.base_uri, timeout=(min(connect, 2.0), 3.0), retries=0,
                               deadline=4.0)
        self.name = name or ("Allen Brain Atlas API" if base_uri is None else self.api.base_uri)
        self.rma = RmaApi(self.api)
        self.cache = AllenCache(cache_dir)
        self.catalog = self.cache.catalog()
        self.synchronizer = Synchronizer(self.catalog)
        self.tiles = RemoteTileSource(self.api, self.cache, tile_size)
        self._lock = threading.RLock()
        self._status = None
        self._unavailable: dict[int, tuple[float, Exception]] = {}
        self._atlases_ready: set[int] = set()  # atlases whose records are in the catalog
        #: RMA answers fetched over the network by this object (not from the cache).
        self.fetched: list[str] = []

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
    def _fetch(self, name: str, fetch, check=None) -> list:
        """Records of the cached answer ``name``, fetching and storing it when missing."""
        with self.cache.lock(name):
            if self.cache.has_rma(name):
                records = self.cache.load_records([name])
                if records:
                    return records
            data = fetch()
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
            msg = self.api.get_msg(url)
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
                                       self.rma.reference_transforms)
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

    # ------------------------------------------------------------------ annotation
    def structure_at(self, reference_space_id: int, x, y, z) -> list[Structure | None]:
        """None for every point: the remote source has no annotation volume."""
        n = len(as_coordinates("x", x))
        return [None] * n


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
