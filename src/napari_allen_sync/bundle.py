"""Offline bundles: part of the cache in one file, to carry to a machine with no network.

A bundle is a ZIP file (format version :data:`BUNDLE_VERSION`; see ``docs/bundle.md``)::

    bundle.json                 the manifest (below), at most MAX_MANIFEST_BYTES
    rma/<name>.json             cached Allen RMA answers, as the cache stores them
                                (search answers ``Search-<sha256>`` included)
    tiles/<image id>/[<view>/]d<D>/s<T>/<row>_<col>.jpg
                                cached image_download tiles (tier D, tile size T), of the
                                plain image or of a view: annotation-<atlas>, expression,
                                projection (version 2)
    annotation/<server>-<hash>/annotation_<res>.nrrd
                                the annotation volume as downloaded (version 2)
    servers/<server>-<hash>.json
                                what the tile client learnt about a server (version 2)

``bundle.json``::

    {"format": "napari-allen-sync-bundle", "version": 2,
     "created": "2026-11-23T21:30:00+00:00", "written_by": "napari-allen-sync 0.1.0",
     "section_data_set_ids": [...], "atlas_ids": [...], "tiers": [...] or null,
     "annotation_resolutions": [25],
     "files": {"rma/SectionDataSet-123.json": "<sha256>", ...}}

A bundle with none of the version-2 members is written as version 1 (no
``annotation_resolutions``), which older readers import.

Export takes, for each data set, its ``SectionDataSet-{id}`` answer (required) and
``Equalization-{id}`` (when cached); for each atlas its ``Atlas-{id}`` answer and every
cached ontology, StructureCenter and ReferenceToReferenceTransform answer; the cached
tiles of their images in every view (all tiers, or only ``tiers``); the cached
annotation volumes, search answers and server facts (each can be left out). It streams
each file into the ZIP in chunks and lands the bundle with
:func:`~napari_allen_sync.atomic.atomic_write`.

Import is all or nothing:

1. the ZIP's directory is checked: every member is ``bundle.json`` or listed in the
   manifest, no name twice, no absolute or ``..`` path, no symlink, folder or encrypted
   member, only stored or deflated data;
2. the manifest (read with a cap: :data:`MAX_MANIFEST_BYTES`) must have this format, a
   version that is an integer from 1 to :data:`BUNDLE_VERSION` (``true``, ``-5``,
   ``"1"`` are refused), no key twice, a SHA-256 for every file, and list exactly the
   members present;
3. every member is read in chunks (at most :data:`MAX_MEMBER_BYTES`), its SHA-256
   checked, each RMA answer parsed, each tile decoded (no larger than its tile size),
   each server fact checked, each annotation volume streamed to a scratch file and
   read as the download reads it (:meth:`AnnotationVolume.read
   <napari_allen_sync.annotation.AnnotationVolume.read>`: shape, type, data; Allen's
   published SHA-256 for Allen's own) -- all *before* the first write;
4. then the members land one by one through the cache's atomic writes; if one fails,
   those that landed are rolled back (files they replaced are restored).

Any failure is a :class:`BundleError` (or :class:`~napari_allen_sync.errors.CacheError`
for the cache), never a ``zlib.error`` or ``BadZipFile``; the cache is then as it was.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import io
import json
import os
import re
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from PIL import Image

from . import __version__
from .annotation import (
    MAX_VOLUME_BYTES,
    PUBLISHED_SHA256,
    RESOLUTIONS_UM,
    AnnotationVolume,
    annotation_url,
    expected_shape,
)
from .atomic import atomic_write, held_partial, scratch_file
from .cache import AllenCache
from .catalog import SEARCH_PREFIX, Catalog
from .errors import AllenSyncError, AnnotationError, CacheError, CatalogFormatError

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "MAX_MANIFEST_BYTES",
    "MAX_MEMBER_BYTES",
    "BundleError",
    "export_bundle",
    "import_bundle",
    "read_manifest",
]

BUNDLE_FORMAT = "napari-allen-sync-bundle"
#: The newest format this version writes and reads. Version 2 adds the annotation
#: volume, server facts and tile views; a bundle holding none of them is written as
#: version 1, which older readers take.
BUNDLE_VERSION = 2
#: Largest ``bundle.json`` read (bytes, decompressed): about 250,000 members.
MAX_MANIFEST_BYTES = 32 * 1024 * 1024
#: Largest member read (bytes, decompressed), by kind.
MAX_MEMBER_BYTES = {"rma": 256 * 1024 * 1024, "tiles": 16 * 1024 * 1024,
                    "annotation": MAX_VOLUME_BYTES, "servers": 64 * 1024}
_CHUNK = 1024 * 1024
_VIEWS = r"annotation-\d{1,12}|expression|projection"
_TILE = re.compile(rf"^tiles/(\d{{1,12}})/(?:({_VIEWS})/)?d(\d{{1,3}})/s(\d{{1,6}})/"
                   rf"(\d{{1,9}})_(\d{{1,9}})\.jpg$")
_RMA = re.compile(r"^rma/([A-Za-z0-9_\-]{1,200})\.json$")
#: The annotation volume as RemoteSource.annotation_path() keeps it (one folder per
#: download server and resolution).
_RESOLUTIONS = "|".join(str(r) for r in RESOLUTIONS_UM)
_ANNOTATION = re.compile(
    rf"^annotation/([A-Za-z0-9_]{{1,60}}-[0-9a-f]{{12}})/annotation_({_RESOLUTIONS})\.nrrd$")
#: What a tile server was found to do (its tile size convention): ``servers/*.json``.
_SERVER = re.compile(r"^servers/[A-Za-z0-9_]{1,60}-[0-9a-f]{16}\.json$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
_SHARED_PREFIXES = ("Structure-graph-", "StructureCenter-space-", "ReferenceToReferenceTransform")
#: Cached answers of experiment searches (search.py), taken whatever is exported.
_SEARCH_PREFIX = f"{SEARCH_PREFIX}-"
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
#: What reading damaged ZIP data raises, besides OSError.
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError,
            RuntimeError)


class BundleError(AllenSyncError):
    """A bundle cannot be written or read (names the file and what is wrong)."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_bundle(path, *, section_data_set_ids=(), atlas_ids=(), tiers=None, cache=None,
                  annotation=None, annotation_resolutions=None, searches=True,
                  servers=True) -> dict:
    """Write the cached records (and tiles) of data sets and atlases into one file.

    Parameters
    ----------
    path : str or os.PathLike
        The bundle to write (``.zip``); written with
        :func:`~napari_allen_sync.atomic.atomic_write`, so never partial.
    section_data_set_ids, atlas_ids : iterable of int
        What to take; each must be cached (``napari-allen-sync prefetch`` fills the cache).
        Their images' cached tiles are taken in every view (plain, annotated plates,
        expression and projection overlays).
    tiers : iterable of int, optional
        Image tiers (downsample levels) whose cached tiles to take; None takes all,
        ``[]`` none.
    cache : AllenCache, optional
        Default: the user cache.
    annotation : bool, optional
        The annotation volume(s) in the cache (``annotation/``, as
        :meth:`~napari_allen_sync.remote.RemoteSource.annotation_path` keeps them):
        None (default) takes those cached, True requires at least one, False none.
    annotation_resolutions : iterable of int, optional
        Only volumes of these voxel sizes (µm); None: every cached one.
    searches : bool
        Take every cached search answer (``rma/Search-*.json``).
    servers : bool
        Take what was learnt about each tile server (``servers/*.json``).

    Returns
    -------
    dict
        The manifest written as ``bundle.json``.

    Raises
    ------
    BundleError
        When a data set or atlas asked for is not in the cache, or ``annotation=True``
        and no volume (of those resolutions) is.
    WriteError
        When ``path`` cannot be written (missing folder, a folder, no permission).
    """
    cache = cache or AllenCache()
    ds_ids = [int(d) for d in section_data_set_ids]
    atlas_ids = [int(a) for a in atlas_ids]
    if not ds_ids and not atlas_ids:
        raise BundleError("name at least one data set or atlas to put in the bundle")
    names, catalog = _answer_names(cache, ds_ids, atlas_ids, searches)
    wanted_tiers = None if tiers is None else {int(t) for t in tiers}

    members: dict[str, Path] = {f"rma/{n}.json": cache.rma_path(n) for n in names}
    members.update(_tile_members(cache, _image_ids(catalog, ds_ids, atlas_ids), wanted_tiers))
    volumes = _cached_volumes(cache, annotation, annotation_resolutions)
    members.update(volumes)
    if servers:
        members.update(_server_members(cache))
    version = BUNDLE_VERSION if any(_new_in_2(n) for n in members) else 1
    manifest = {
        "format": BUNDLE_FORMAT,
        "version": version,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "written_by": f"napari-allen-sync {__version__}",
        "section_data_set_ids": ds_ids,
        "atlas_ids": atlas_ids,
        "tiers": None if wanted_tiers is None else sorted(wanted_tiers),
        "files": {},
    }
    if version > 1:
        manifest["annotation_resolutions"] = sorted(
            {int(_ANNOTATION.match(n).group(2)) for n in volumes})
    _write_zip(path, members, manifest)
    return manifest


def _answer_names(cache, ds_ids, atlas_ids, searches) -> tuple[list[str], Catalog]:
    """The cached RMA answers to export, and the catalog of the data sets and atlases."""
    names = []
    for d in ds_ids:
        _require(cache, f"SectionDataSet-{d}", f"SectionDataSet {d}")
        names.append(f"SectionDataSet-{d}")
        if cache.has_rma(f"Equalization-{d}"):
            names.append(f"Equalization-{d}")
    for a in atlas_ids:
        _require(cache, f"Atlas-{a}", f"Atlas {a}")
        names.append(f"Atlas-{a}")
    if atlas_ids:
        names += [n for n in cache.rma_names() if n.startswith(_SHARED_PREFIXES)]
    catalog = Catalog(cache.load_records(names))
    if searches:
        names += [n for n in cache.rma_names() if n.startswith(_SEARCH_PREFIX)]
    return names, catalog


def _image_ids(catalog, ds_ids, atlas_ids) -> set[int]:
    """The SectionImages and AtlasImages of the exported data sets and atlases."""
    image_ids = {im.id for d in ds_ids for im in catalog.images_of(d)}
    for a in atlas_ids:
        for d in catalog.atlas(a).data_set_ids:
            image_ids.update(im.id for im in catalog.images_of(d))
    return image_ids


def _tile_members(cache, image_ids, wanted_tiers) -> dict[str, Path]:
    """The cached tiles of these images, in every view, of the wanted tiers (None: all)."""
    members = {}
    for image_id in sorted(image_ids):
        folder = cache.tiles_dir / str(image_id)
        found = [*folder.glob("d*/s*/*.jpg"), *folder.glob("*/d*/s*/*.jpg")] \
            if folder.is_dir() else []
        for tile in sorted(found):
            rel = tile.relative_to(cache.root).as_posix()
            m = _TILE.match(rel)
            if m and (wanted_tiers is None or int(m.group(3)) in wanted_tiers) \
                    and not tile.is_symlink():
                members[rel] = tile
    return members


def _server_members(cache) -> dict[str, Path]:
    """What was learnt about each tile server (``servers/*.json``)."""
    members = {}
    for fact in sorted(cache.servers_dir.glob("*.json")):
        rel = fact.relative_to(cache.root).as_posix()
        if _SERVER.match(rel) and not fact.is_symlink():
            members[rel] = fact
    return members


def _write_zip(path, members: dict[str, Path], manifest: dict) -> None:
    """Stream ``members`` into the bundle at ``path`` (atomically), hashing each into
    ``manifest["files"]``, then write the manifest as ``bundle.json``."""
    with atomic_write(path, "wb") as out, zipfile.ZipFile(out, "w", allowZip64=True) as zf:
        for name, source in sorted(members.items()):
            # JPEGs and the gzip-encoded volume do not deflate: store them as they are
            stored = name.endswith((".jpg", ".nrrd"))
            kind = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = kind
            info.external_attr = 0o644 << 16
            digest = hashlib.sha256()
            try:
                big = name.endswith(".nrrd")  # a volume may pass 2 GiB: ZIP64 from the start
                with open(source, "rb") as src, zf.open(info, "w", force_zip64=big) as dst:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        dst.write(chunk)
            except FileNotFoundError as exc:
                raise BundleError(f"{source} left the cache while the bundle was being "
                                  f"written: export again") from exc
            manifest["files"][name] = digest.hexdigest()
        zf.writestr("bundle.json", json.dumps(manifest, indent=1),
                    compress_type=zipfile.ZIP_DEFLATED)


def _cached_volumes(cache, annotation, resolutions) -> dict[str, Path]:
    """The annotation volumes to export, by member name."""
    if annotation is False:
        return {}
    wanted = None if resolutions is None else {int(r) for r in resolutions}
    out = {}
    base = cache.annotation_dir
    for volume in sorted(base.glob("*/annotation_*.nrrd")) if base.is_dir() else []:
        rel = volume.relative_to(cache.root).as_posix()
        m = _ANNOTATION.match(rel)
        if m and (wanted is None or int(m.group(2)) in wanted) and not volume.is_symlink():
            out[rel] = volume
    if annotation and not out:
        which = "" if wanted is None else f" of {sorted(wanted)} µm"
        raise BundleError(
            f"no annotation volume{which} is in the cache {cache.root}: show a structure "
            f"once online (the volume is downloaded then) or leave the volume out")
    return out


def _require(cache, name, what):
    if not cache.has_rma(name):
        raise BundleError(
            f"{what} is not in the cache {cache.root}: fetch it first "
            f"(napari-allen-sync prefetch) or leave it out"
        )


def read_manifest(path) -> dict:
    """The checked manifest of a bundle (ZIP directory, format, version, file list)."""
    with _open(path) as zf:
        return _manifest(zf, path, _directory(zf, path))


def _open(path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (OSError, *_DAMAGED) as exc:
        raise BundleError(f"{path} is not a readable bundle: {exc}") from exc


def _directory(zf: zipfile.ZipFile, path) -> dict[str, zipfile.ZipInfo]:
    """The members by name, after refusing anything a bundle never holds."""
    out: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        name = info.filename
        if name in out:
            raise BundleError(f"{path}: member {name!r} appears twice (a bundle holds each "
                              f"file once; refusing rather than picking one)")
        pure = PurePosixPath(name)
        if (name.startswith(("/", "\\")) or "\\" in name or pure.is_absolute()
                or ".." in pure.parts or re.match(r"^[A-Za-z]:", name)):
            raise BundleError(f"{path}: refusing member {name!r} (absolute path or '..')")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode) or info.is_dir():
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "a folder"
            raise BundleError(f"{path}: refusing member {name!r} ({kind})")
        if info.flag_bits & 0x1:
            raise BundleError(f"{path}: refusing member {name!r} (encrypted)")
        if info.compress_type not in _METHODS:
            raise BundleError(f"{path}: member {name!r} uses compression method "
                              f"{info.compress_type} (a bundle uses stored or deflated data)")
        out[name] = info
    return out


def _read(zf, info, path, limit, digest=None) -> bytes:
    """A member's bytes, read in chunks, at most ``limit`` of them; with ``digest``,
    checked against it. Damaged data raises :class:`BundleError`."""
    name = info.filename
    h = hashlib.sha256()
    buf = bytearray()
    try:
        with zf.open(info) as f:
            while chunk := f.read(_CHUNK):
                buf += chunk
                h.update(chunk)
                if len(buf) > limit:
                    raise BundleError(f"{path}: member {name} is larger than {limit} bytes "
                                      f"(the most a bundle member may hold)")
    except BundleError:
        raise
    except (OSError, *_DAMAGED) as exc:
        raise BundleError(f"{path}: member {name} is damaged ({type(exc).__name__}: "
                          f"{exc})") from exc
    if digest is not None and h.hexdigest() != digest:
        raise BundleError(f"{path}: member {name} does not match its checksum")
    return bytes(buf)


def _no_duplicates(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice")
        out[key] = value
    return out


def _manifest(zf: zipfile.ZipFile, path, members: dict[str, zipfile.ZipInfo]) -> dict:
    manifest = _read_manifest(zf, path, members)
    version = _manifest_version(path, manifest)
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise BundleError(f"{path}: bundle.json lists no files")
    for name, digest in files.items():
        _check_listed_member(path, version, name, digest)
    _check_members_listed(path, members, files)
    return manifest


def _read_manifest(zf: zipfile.ZipFile, path, members: dict[str, zipfile.ZipInfo]) -> dict:
    """The parsed ``bundle.json`` (a JSON object of this format, size capped)."""
    info = members.get("bundle.json")
    if info is None:
        raise BundleError(f"{path} has no bundle.json: not a napari-allen-sync bundle")
    if info.file_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{path}: bundle.json is {info.file_size} bytes, more than the "
                          f"{MAX_MANIFEST_BYTES} a manifest may hold: refused unread")
    data = _read(zf, info, path, MAX_MANIFEST_BYTES)  # the header may lie: capped anyway
    try:
        manifest = json.loads(data, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:
        raise BundleError(f"{path}: bundle.json is unreadable ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{path} is not a napari-allen-sync bundle")
    return manifest


def _manifest_version(path, manifest: dict) -> int:
    """The manifest's format version: a whole number this package reads."""
    version = manifest.get("version")
    if type(version) is not int or version < 1:
        raise BundleError(f"{path}: bundle.json has version {version!r}; a bundle's version "
                          f"is a whole number from 1 to {BUNDLE_VERSION}")
    if version > BUNDLE_VERSION:
        raise BundleError(
            f"{path} is a bundle of format version {version!r}; this napari-allen-sync reads "
            f"up to version {BUNDLE_VERSION}: upgrade napari-allen-sync to import it"
        )
    return version


def _check_listed_member(path, version: int, name: str, digest) -> None:
    """A member listed in the manifest: a known kind, inside the bundle, of its version,
    with a SHA-256."""
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or _kind(name) is None:
        raise BundleError(f"{path}: refusing member {name!r} (not a cached answer, tile, "
                          f"annotation volume or server fact)")
    if version < 2 and _new_in_2(name):
        raise BundleError(f"{path}: refusing member {name!r} in a version {version} "
                          f"bundle (only version 2 holds it)")
    if not isinstance(digest, str) or not _SHA.match(digest):
        raise BundleError(f"{path}: bundle.json gives {name} no SHA-256 ({digest!r:.80})")


def _check_members_listed(path, members: dict, files: dict) -> None:
    """The archive holds exactly the members the manifest lists (and the manifest)."""
    extra = sorted(set(members) - set(files) - {"bundle.json"})
    if extra:
        raise BundleError(f"{path}: member {extra[0]!r} is not listed in bundle.json "
                          f"({len(extra)} unlisted member(s))")
    missing = sorted(set(files) - set(members))
    if missing:
        raise BundleError(f"{path}: member {missing[0]} is missing or damaged "
                          f"({len(missing)} listed member(s) absent)")


def import_bundle(path, *, cache=None) -> dict:
    """Check a bundle whole, then add its records and tiles to the cache, all or nothing.

    Returns
    -------
    dict
        The bundle's manifest.

    Raises
    ------
    BundleError
        On a foreign, newer, damaged, oversized or tampered bundle; nothing is imported.
    CacheError
        When the cache cannot take it (read-only, disk full); what had landed is
        rolled back.
    """
    cache = cache or AllenCache()
    if cache.read_only:
        raise CacheError(f"cannot import {path}: the cache folder {cache.root} is read-only")
    with _open(path) as zf:
        members = _directory(zf, path)
        manifest = _manifest(zf, path, members)
        # RMA answers first, then tiles, server facts, the volume: the order they land in
        rank = {"rma": 0, "tiles": 1, "servers": 2, "annotation": 3}
        order = sorted(manifest["files"], key=lambda n: (rank[_kind(n)], n))
        for name in order:  # 1. verify everything; nothing is written yet
            _verify(zf, members[name], manifest["files"][name], path, cache)
        _land(zf, members, manifest["files"], order, path, cache)  # 2. land, or roll back
    return manifest


def _kind(name) -> str | None:
    """``"rma"``, ``"tiles"``, ``"annotation"`` or ``"servers"``: the kind of member a
    name may be, or None for a name no bundle holds."""
    for kind, pattern in (("rma", _RMA), ("tiles", _TILE), ("annotation", _ANNOTATION),
                          ("servers", _SERVER)):
        if pattern.match(name):
            return kind
    return None


def _new_in_2(name) -> bool:
    """Whether only a version 2 bundle may hold this member."""
    kind = _kind(name)
    return kind in ("annotation", "servers") or (kind == "tiles"
                                                 and _TILE.match(name).group(2) is not None)


def _limit(name):
    return MAX_MEMBER_BYTES[_kind(name)]


def _verify(zf, info, digest, path, cache):
    name = info.filename
    kind = _kind(name)
    if kind == "annotation":
        _check_volume(zf, info, digest, path, cache)
        return None
    data = _read(zf, info, path, _limit(name), digest)
    if kind == "rma":
        envelope = _check_rma(path, name, data)
        _parse_rma(cache, path, name, data)
        return envelope
    if kind == "servers":
        _check_server(path, name, data, cache)
        return None
    _check_jpeg(path, name, data, int(_TILE.match(name).group(4)))
    return None


def _copy(zf, info, path, limit, digest, out) -> None:
    """Stream a member into the open binary file ``out`` in chunks (at most ``limit``
    bytes), checking its SHA-256 at the end: a member too large to hold in memory."""
    name = info.filename
    h = hashlib.sha256()
    done = 0
    try:
        with zf.open(info) as f:
            while chunk := f.read(_CHUNK):
                done += len(chunk)
                if done > limit:
                    raise BundleError(f"{path}: member {name} is larger than {limit} bytes "
                                      f"(the most a bundle member may hold)")
                h.update(chunk)
                out.write(chunk)
    except BundleError:
        raise
    except _DAMAGED as exc:
        raise BundleError(f"{path}: member {name} is damaged ({type(exc).__name__}: "
                          f"{exc})") from exc
    if h.hexdigest() != digest:
        raise BundleError(f"{path}: member {name} does not match its checksum")


def _check_volume(zf, info, digest, path, cache):
    """Verify an annotation volume as the download does: streamed to a scratch file in
    the cache's ``tmp/`` (checksum checked), then read by
    :meth:`AnnotationVolume.read <napari_allen_sync.annotation.AnnotationVolume.read>`
    (an NRRD header of a 3-D integer volume, data decompressing to the CCF's shape at
    its resolution); a volume from Allen's download server must have Allen's published
    SHA-256."""
    name = info.filename
    folder, res = _ANNOTATION.match(name).groups()
    res = int(res)
    published = PUBLISHED_SHA256.get(res)
    allen = hashlib.sha256(annotation_url(res).encode()).hexdigest()[:12]
    if published is not None and folder.endswith(f"-{allen}") and digest != published:
        raise BundleError(f"{path}: {name} is not Allen's {res} µm annotation volume "
                          f"(SHA-256 {digest}, the published value is {published})")
    try:
        handle, scratch = held_partial(cache.tmp_dir, "bundle-volume")
    except OSError as exc:
        raise CacheError(f"cannot check {name} of {path} in {cache.tmp_dir}: {exc}") from exc
    try:
        with handle:
            try:
                _copy(zf, info, path, _limit(name), digest, handle)
                handle.flush()
            except OSError as exc:
                if isinstance(exc, BundleError):
                    raise
                raise CacheError(f"cannot check {name} of {path} in {cache.tmp_dir}: "
                                 f"{exc}") from exc
            try:
                AnnotationVolume.read(scratch, resolution_um=res, shape=expected_shape(res))
            except AnnotationError as exc:
                raise BundleError(f"{path}: {name} is not a usable annotation volume: "
                                  f"{exc.reason}") from exc
    finally:
        with contextlib.suppress(OSError):
            scratch.unlink(missing_ok=True)


def _check_server(path, name, data, cache):
    """A server fact must be what the tile client writes, under the name it uses."""
    from .remote import NAMED_FORMS, SIZE_CONVENTIONS, _ServerTraits

    try:
        fact = json.loads(data, object_pairs_hook=_no_duplicates)
        if not isinstance(fact, dict) or not isinstance(fact.get("base_uri"), str):
            raise ValueError("no base_uri")
        unknown = sorted(set(fact) - {"base_uri", "size_convention", "missing_forms"})
        if unknown:
            raise ValueError(f"unknown keys {unknown!r:.80}")
        if fact.get("size_convention") not in (None, *SIZE_CONVENTIONS):
            raise ValueError(f"size_convention {fact.get('size_convention')!r}")
        forms = fact.get("missing_forms", [])
        if not isinstance(forms, list) or not set(forms) <= set(NAMED_FORMS.values()):
            raise ValueError(f"missing_forms {forms!r:.80}")
        own = _ServerTraits(cache, fact["base_uri"]).path.relative_to(cache.root).as_posix()
        if own != name:
            raise ValueError(f"the facts of {fact['base_uri']!r:.80} are kept as {own}")
    except (ValueError, TypeError, RecursionError) as exc:
        raise BundleError(f"{path}: {name} is not a tile server's facts ({exc})") from exc


def _target(cache, name) -> Path:
    """Where a member lands in the cache."""
    m = _RMA.match(name)
    if m:
        return cache.rma_path(m.group(1))
    m = _TILE.match(name)
    if m:
        image_id, view, d, size, row, col = m.groups()
        return cache.tile_path(int(image_id), int(d), int(row), int(col), int(size), view)
    return cache.owned_path(name)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _land(zf, members, files, order, path, cache):
    """Store each member through the cache's atomic writes; on any failure put back
    what was there before each landed one. A cached file already identical to the
    member is left as it is."""
    landed: list[tuple[Path, Path | None]] = []  # (target, copy of what it replaced)
    held = []  # open, locked backups: no other process removes them meanwhile
    backups: list[Path] = []
    try:
        for name in order:
            target = _target(cache, name)
            if target.is_file() and _file_sha256(target) == files[name]:
                continue
            backup = None
            if target.is_file():
                handle, backup = _held_copy(cache, target)
                held.append(handle)
                backups.append(backup)
            _store_member(zf, members, files, name, path, cache, target)
            landed.append((target, backup))  # atomic: it landed whole, or not at all
    except BaseException as exc:
        problems = _roll_back(landed)
        if isinstance(exc, AllenSyncError | OSError | CatalogFormatError):
            note = f"; could not roll back {problems}" if problems else "; nothing was imported"
            raise CacheError(f"importing {path} into {cache.root} failed: {exc}{note}") from exc
        raise
    finally:
        _close(held)
        for backup in backups:  # those restored are gone already
            with contextlib.suppress(OSError):
                backup.unlink(missing_ok=True)


def _held_copy(cache, target: Path):
    """A locked copy of ``target`` (its bytes, streamed): ``(open file, path)``."""
    handle, backup = held_partial(cache.tmp_dir, f"{target.name}.backup")
    try:
        with open(target, "rb") as old:
            while chunk := old.read(_CHUNK):
                handle.write(chunk)
        handle.flush()
    except BaseException:
        _close([handle])
        with contextlib.suppress(OSError):
            backup.unlink(missing_ok=True)
        raise
    return handle, backup


def _store_member(zf, members, files, name, path, cache, target: Path) -> None:
    """Store one member into the cache through its atomic writes, its checksum checked
    again as it is read."""
    kind = _kind(name)
    if kind == "annotation":
        # streamed, checksum checked again; lands only whole and checked
        with cache.write_owned(name) as out:
            _copy(zf, members[name], path, _limit(name), files[name], out)
        # a decoded copy of the volume it replaced is no longer its copy
        target.with_suffix(".npy").unlink(missing_ok=True)
        return
    # read again (checksum checked again): a member is never held in memory twice
    data = _read(zf, members[name], path, _limit(name), files[name])
    if kind == "rma":
        cache.store_rma(_RMA.match(name).group(1), _check_rma(path, name, data))
    elif kind == "tiles":
        image_id, view, d, size, row, col = _TILE.match(name).groups()
        cache.store_tile(int(image_id), int(d), int(row), int(col), int(size), data,
                         view=view)
    else:
        with cache.write_owned(name) as out:
            out.write(data)


def _close(handles):
    for h in handles:
        with contextlib.suppress(OSError):
            h.close()


def _roll_back(landed) -> list[str]:
    problems = []
    for target, backup in reversed(landed):
        try:
            if backup is not None:
                os.replace(backup, target)
            else:
                target.unlink(missing_ok=True)
        except OSError as exc:
            problems.append(f"{target} ({exc})")
    return problems


def _check_rma(path, name, data) -> dict:
    try:
        envelope = json.loads(data)
        if not isinstance(envelope, dict) or "msg" not in envelope:
            raise ValueError("not an RMA envelope")
    except (ValueError, RecursionError) as exc:
        raise BundleError(f"{path}: {name} is not an Allen RMA answer ({exc})") from exc
    return envelope


def _parse_rma(cache, path, name, data):
    """Parse an answer exactly as the cache will (its records, its model from its name),
    from a scratch file in the cache's ``tmp/``: one that does not parse is refused
    before anything lands."""
    try:
        with scratch_file(cache.tmp_dir, data, name="bundle-check") as scratch:
            Catalog.parse_file(scratch, name=PurePosixPath(name).name)
    except CatalogFormatError as exc:
        raise BundleError(f"{path}: {name} does not parse: {exc}") from exc
    except OSError as exc:
        raise CacheError(f"cannot check {name} of {path} in {cache.tmp_dir}: {exc}") from exc


def _check_jpeg(path, name, data, tile_size):
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != "JPEG":
                raise ValueError(f"a {im.format} image")
            w, h = im.size
            if w > tile_size or h > tile_size:
                raise ValueError(f"{w} x {h} pixels, larger than its tile size {tile_size}")
            im.load()
    except Exception as exc:  # Pillow raises several types for damaged images
        raise BundleError(f"{path}: tile {name} is not a readable JPEG ({exc})") from exc
