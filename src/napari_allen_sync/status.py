"""What the cache holds for a remote source, what is missing, and how to get it.

With no network a :class:`~napari_allen_sync.remote.RemoteSource` works from its cache
alone. :func:`cache_status` inspects that cache (metadata of data sets and atlases, the
ontology, the annotation volume, image tiles of which data sets) and
:meth:`CacheStatus.report` says it in words, with the commands that fill the gaps
(``napari-allen-sync bundle import`` of a bundle made on a machine with network, or
``napari-allen-sync prefetch`` once the network is back). ``RemoteSource`` puts this
report in the message of the error it raises when the server cannot be reached
(:func:`offline_error`), so the plugin shows it as it shows any error, and
``napari-allen-sync status`` prints it.

Imports neither napari nor Qt.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ServiceError, ServiceTimeoutError, ServiceUnavailableError

__all__ = [
    "CacheStatus",
    "ImageSetStatus",
    "cache_status",
    "describe_cached_name",
    "network_cause",
    "offline_error",
]

#: The command line, as a user types it.
CLI = "napari-allen-sync"


@dataclass(frozen=True)
class ImageSetStatus:
    """The cached part of one data set or atlas.

    Attributes
    ----------
    kind : {"data set", "atlas"}
    id : int
        SectionDataSet id, or Atlas id.
    images : int
        Images (or plates) whose metadata is cached.
    images_with_tiles : int
        Of those, images with at least one cached tile (any tier or view).
    tiles : int
        Cached tile files of these images.
    """

    kind: str
    id: int
    images: int
    images_with_tiles: int
    tiles: int

    def describe(self) -> str:
        """``data set 123: 62 images, tiles of 5 (340 tiles)``."""
        if not self.tiles:
            tiles = "no image tiles"
        elif self.images_with_tiles == self.images:
            tiles = f"tiles of every image ({self.tiles} tiles)"
        else:
            tiles = f"tiles of {self.images_with_tiles} ({self.tiles} tiles)"
        noun = "plates" if self.kind == "atlas" else "images"
        return f"{self.kind} {self.id}: {self.images} {noun}, {tiles}"


@dataclass(frozen=True)
class CacheStatus:
    """What one cache folder holds for one source (:func:`cache_status`).

    Attributes
    ----------
    source : str
        The server (API base URL).
    cache_dir : Path
    structures : int
        Structures of the ontology in the cache (0: none, no structure names).
    data_sets, atlases : tuple of ImageSetStatus
        Cached data sets (not atlas data sets) and atlases.
    annotation_resolution : int or None
        The annotation volume the source uses (µm), None when it uses none.
    annotation_cached : bool
        Whether that volume is in the cache.
    other_resolutions : tuple of int
        Volumes of other resolutions cached from the same download server.
    annotation_url : str or None
        Where the volume is downloaded from.
    """

    source: str
    cache_dir: Path
    structures: int
    data_sets: tuple[ImageSetStatus, ...]
    atlases: tuple[ImageSetStatus, ...]
    annotation_resolution: int | None
    annotation_cached: bool
    other_resolutions: tuple[int, ...] = ()
    annotation_url: str | None = None

    @property
    def empty(self) -> bool:
        """Nothing at all is cached for this source."""
        return not (self.structures or self.data_sets or self.atlases or self.annotation_cached)

    def cached(self) -> list[str]:
        """What is there, one item a line."""
        out = []
        if self.structures:
            out.append(f"the ontology ({self.structures} structures: structure names)")
        out += [a.describe() for a in self.atlases]
        out += [d.describe() for d in self.data_sets]
        if self.annotation_cached:
            out.append(
                f"the annotation volume at {self.annotation_resolution} µm "
                "(the structure at a point)"
            )
        return out

    def missing(self) -> list[str]:
        """What is not there, one item a line, each with what it is for."""
        out = []
        if not self.data_sets:
            out.append("any data set (a seed and targets to synchronize)")
        if not self.atlases:
            out.append("any atlas (the atlas panel)")
        if not self.structures:
            out.append("the ontology (structure names)")
        if self.annotation_resolution is not None and not self.annotation_cached:
            other = ""
            if self.other_resolutions:
                res = ", ".join(f"{r} µm" for r in self.other_resolutions)
                other = (
                    f"; cached at {res}: choose it in Preferences ▸ Allen Brain Atlas "
                    "API ▸ Annotation resolution"
                )
            out.append(
                f"the annotation volume at {self.annotation_resolution} µm "
                f"(the structure at a point{other})"
            )
        for s in (*self.atlases, *self.data_sets):
            if not s.tiles:
                out.append(f"image tiles of {s.kind} {s.id} (its pictures)")
        return out

    def remedy(self, data_set_ids=()) -> str:
        """The commands that bring what is missing (``data_set_ids``: needed besides the
        cached ones)."""
        from .cache import default_cache_dir

        wanted = dict.fromkeys([*(int(i) for i in data_set_ids), *(d.id for d in self.data_sets)])
        ids = " ".join(str(i) for i in wanted) or "ID"
        atlases = " ".join(str(a.id) for a in self.atlases) or "1"
        base = "" if self.source_is_allen else f" --base-uri {self.source}"
        here = "" if self.cache_dir == default_cache_dir() else f" --cache-dir {self.cache_dir}"
        return (
            f"To get what is missing: on a machine with network run `{CLI} prefetch "
            f"--data-set {ids} --atlas {atlases} --tiers 4 5{base}` and `{CLI} bundle export "
            f"allen.zip --data-set {ids} --atlas {atlases}`, then here `{CLI} bundle import "
            f"allen.zip{here}` (a bundle also carries the annotation volume when that cache "
            f"has it); or run that prefetch here{here and ' (with' + here + ')'} once the "
            f"network is back. `{CLI} status{base.replace('--base-uri', '--source')}{here}` "
            f"shows this again."
        )

    @property
    def source_is_allen(self) -> bool:
        from .client import DEFAULT_BASE_URI

        return self.source.rstrip("/") == DEFAULT_BASE_URI

    def report(self, needed: str | None = None, data_set_ids=()) -> str:
        """The whole status in words: cached, missing, how to get it.

        Parameters
        ----------
        needed : str, optional
            What was asked for when the network failed (``"the metadata of
            SectionDataSet 123"``).
        data_set_ids : iterable of int
            Data sets needed besides the cached ones (they join the commands).
        """
        lines = []
        if needed:
            lines.append(f"Needed now: {needed}, which is not in the cache.")
        cached = self.cached()
        if cached:
            lines.append(f"Cached in {self.cache_dir}:")
            lines += [f"  - {c}" for c in cached]
        else:
            lines.append(f"Nothing for {self.source} is cached in {self.cache_dir}.")
        missing = self.missing()
        if missing:
            lines.append("Missing:")
            lines += [f"  - {m}" for m in missing]
        lines.append(self.remedy(data_set_ids))
        return "\n".join(lines)


def _tiles_of(tiles_dir: Path, image_id: int) -> int:
    """Tile files cached for one image (every tier and view)."""
    folder = tiles_dir / str(int(image_id))
    if not folder.is_dir():
        return 0
    count = 0
    for _root, _dirs, files in os.walk(folder):
        count += sum(1 for f in files if f.endswith(".jpg"))
    return count


def _image_set(kind: str, ident: int, images, tiles_dir: Path) -> ImageSetStatus:
    counts = [_tiles_of(tiles_dir, im.id) for im in images]
    return ImageSetStatus(kind, int(ident), len(images), sum(1 for c in counts if c), sum(counts))


def cache_status(source) -> CacheStatus:
    """What the cache of ``source`` holds (reads the disk; no request).

    Parameters
    ----------
    source : RemoteSource
        Its ``cache``, ``catalog``, API base URL and annotation volume settings.

    Returns
    -------
    CacheStatus
    """
    catalog = source.catalog
    tiles_dir = source.cache.tiles_dir
    atlas_ds = {d for a in catalog.atlases.values() for d in a.data_set_ids}
    data_sets = tuple(
        _image_set("data set", ds, catalog.images_of(ds), tiles_dir)
        for ds in sorted(catalog.section_data_sets)
        if ds not in atlas_ds
    )
    atlases = tuple(
        _image_set(
            "atlas",
            aid,
            [
                im
                for d in catalog.atlases[aid].data_set_ids
                if d in catalog.section_data_sets
                for im in catalog.images_of(d)
            ],
            tiles_dir,
        )
        for aid in sorted(catalog.atlases)
    )
    resolution = getattr(source, "annotation_resolution", None)
    cached = False
    others: tuple[int, ...] = ()
    url = getattr(source, "annotation_url", None)
    if resolution is not None and callable(getattr(source, "annotation_path", None)):
        from .annotation import RESOLUTIONS_UM

        cached = source.annotation_cached()
        others = tuple(
            r for r in RESOLUTIONS_UM if r != resolution and source.annotation_path(r).is_file()
        )
    return CacheStatus(
        source=source.api.base_uri,
        cache_dir=source.cache.root,
        structures=len(catalog.structures),
        data_sets=data_sets,
        atlases=atlases,
        annotation_resolution=resolution,
        annotation_cached=cached,
        other_resolutions=others,
        annotation_url=url,
    )


_NAMES = (
    ("SectionDataSet-", "the metadata of SectionDataSet {}"),
    ("Atlas-", "the metadata of atlas {}"),
    ("Structure-graph-", "the ontology (structure graph {})"),
    ("StructureCenter-space-", "the StructureCenters of reference space {}"),
    ("Equalization-", "the equalization of SectionDataSet {}"),
)


def describe_cached_name(name: str) -> str:
    """A cache entry's name (``"SectionDataSet-123"``) in words."""
    for prefix, words in _NAMES:
        if name.startswith(prefix):
            return words.format(name[len(prefix) :])
    return name


def network_cause(exc: Exception) -> str:
    """Why a server could not be reached, in words (not the HTTP library's text)."""
    text = str(exc).lower()
    if isinstance(exc, ServiceTimeoutError) or "timed out" in text or "timeout" in text:
        return "it did not answer in time"
    if "refused" in text:
        return "the connection was refused: no server listens there"
    if "name or service not known" in text or "name resolution" in text or "nodename" in text:
        return "its host name is not known (DNS)"
    if "unreachable" in text:
        return "the network cannot be reached"
    return "it cannot be reached"


def offline_error(
    source, exc: ServiceError, needed: str | None = None, data_set_ids=()
) -> ServiceError:
    """``exc`` (the server cannot be reached) as an error of the same type whose message
    says so and adds :meth:`CacheStatus.report`: what is cached, what is missing, how to
    get it. The report is also its ``offline_report`` attribute; ``url`` and ``status``
    are kept.

    Only for :class:`~napari_allen_sync.errors.ServiceUnavailableError` and
    :class:`~napari_allen_sync.errors.ServiceTimeoutError`; any other error is returned
    as it is.
    """
    if not isinstance(exc, ServiceUnavailableError | ServiceTimeoutError):
        return exc
    if getattr(exc, "offline_report", None):
        return exc
    try:
        report = cache_status(source).report(needed, data_set_ids)
    except Exception as problem:  # the message must never fail: say less
        report = f"(the cache could not be inspected: {problem})"
    new = type(exc)(exc.message, url=exc.url, status=exc.status)
    new.args = (
        f"{source.api.base_uri} does not answer ({network_cause(exc)}), so only "
        f"what is cached can be used.\n{report}",
    )
    new.offline_report = report
    return new
