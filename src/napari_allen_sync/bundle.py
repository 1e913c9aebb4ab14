"""Offline bundles: part of the cache in one file, to carry to a machine with no network.

A bundle is a ZIP file (format version :data:`BUNDLE_VERSION`; see ``docs/bundle.md``)::

    bundle.json                 the manifest (below), at most MAX_MANIFEST_BYTES
    rma/<name>.json             cached Allen RMA answers, as the cache stores them
    tiles/<image id>/d<D>/s<T>/<row>_<col>.jpg
                                cached image_download tiles (tier D, tile size T)

``bundle.json``::

    {"format": "napari-allen-sync-bundle", "version": 1,
     "created": "2026-11-23T21:30:00+00:00", "written_by": "napari-allen-sync 0.1.0",
     "section_data_set_ids": [...], "atlas_ids": [...], "tiers": [...] or null,
     "files": {"rma/SectionDataSet-123.json": "<sha256>", ...}}

Export takes, for each data set, its ``SectionDataSet-{id}`` answer (required) and
``Equalization-{id}`` (when cached); for each atlas its ``Atlas-{id}`` answer and every
cached ontology, StructureCenter and ReferenceToReferenceTransform answer; and the cached
tiles of their images (all tiers, or only ``tiers``). It streams each file into the ZIP
in chunks and lands the bundle with :func:`~napari_allen_sync.atomic.atomic_write`.

Import is all or nothing:

1. the ZIP's directory is checked: every member is ``bundle.json`` or listed in the
   manifest, no name twice, no absolute or ``..`` path, no symlink, folder or encrypted
   member, only stored or deflated data;
2. the manifest (read with a cap: :data:`MAX_MANIFEST_BYTES`) must have this format, a
   version that is an integer from 1 to :data:`BUNDLE_VERSION` (``true``, ``-5``,
   ``"1"`` are refused), no key twice, a SHA-256 for every file, and list exactly the
   members present;
3. every member is read in chunks (at most :data:`MAX_MEMBER_BYTES`), its SHA-256
   checked, each RMA answer parsed and each tile decoded (no larger than its tile size)
   -- all *before* the first write;
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
from .atomic import atomic_write, held_partial, scratch_file
from .cache import AllenCache
from .catalog import Catalog
from .errors import AllenSyncError, CacheError, CatalogFormatError

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
BUNDLE_VERSION = 1
#: Largest ``bundle.json`` read (bytes, decompressed): about 250,000 members.
MAX_MANIFEST_BYTES = 32 * 1024 * 1024
#: Largest member read (bytes, decompressed), by kind.
MAX_MEMBER_BYTES = {"rma": 256 * 1024 * 1024, "tiles": 16 * 1024 * 1024}
_CHUNK = 1024 * 1024
_TILE = re.compile(r"^tiles/(\d{1,12})/d(\d{1,3})/s(\d{1,6})/(\d{1,9})_(\d{1,9})\.jpg$")
_RMA = re.compile(r"^rma/([A-Za-z0-9_\-]{1,200})\.json$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
_SHARED_PREFIXES = ("Structure-graph-", "StructureCenter-space-", "ReferenceToReferenceTransform")
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
#: What reading damaged ZIP data raises, besides OSError.
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError,
            RuntimeError)


class BundleError(AllenSyncError):
    """A bundle cannot be written or read (names the file and what is wrong)."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_bundle(path, *, section_data_set_ids=(), atlas_ids=(), tiers=None, cache=None) -> dict:
    """Write the cached records (and tiles) of data sets and atlases into one file.

    Parameters
    ----------
    path : str or os.PathLike
        The bundle to write (``.zip``); written with
        :func:`~napari_allen_sync.atomic.atomic_write`, so never partial.
    section_data_set_ids, atlas_ids : iterable of int
        What to take; each must be cached (``napari-allen-sync prefetch`` fills the cache).
    tiers : iterable of int, optional
        Image tiers (downsample levels) whose cached tiles to take; None takes all,
        ``[]`` none.
    cache : AllenCache, optional
        Default: the user cache.

    Returns
    -------
    dict
        The manifest written as ``bundle.json``.

    Raises
    ------
    BundleError
        When a data set or atlas asked for is not in the cache.
    WriteError
        When ``path`` cannot be written (missing folder, a folder, no permission).
    """
    cache = cache or AllenCache()
    ds_ids = [int(d) for d in section_data_set_ids]
    atlas_ids = [int(a) for a in atlas_ids]
    if not ds_ids and not atlas_ids:
        raise BundleError("name at least one data set or atlas to put in the bundle")
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
    image_ids = {im.id for d in ds_ids for im in catalog.images_of(d)}
    for a in atlas_ids:
        for d in catalog.atlas(a).data_set_ids:
            image_ids.update(im.id for im in catalog.images_of(d))
    wanted_tiers = None if tiers is None else {int(t) for t in tiers}

    members: dict[str, Path] = {}
    for n in names:
        members[f"rma/{n}.json"] = cache.rma_path(n)
    for image_id in sorted(image_ids):
        folder = cache.tiles_dir / str(image_id)
        for tile in sorted(folder.glob("d*/s*/*.jpg")) if folder.is_dir() else []:
            rel = tile.relative_to(cache.root).as_posix()
            m = _TILE.match(rel)
            if m and (wanted_tiers is None or int(m.group(2)) in wanted_tiers):
                members[rel] = tile
    manifest = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "written_by": f"napari-allen-sync {__version__}",
        "section_data_set_ids": ds_ids,
        "atlas_ids": atlas_ids,
        "tiers": None if wanted_tiers is None else sorted(wanted_tiers),
        "files": {},
    }
    with atomic_write(path, "wb") as out, zipfile.ZipFile(out, "w") as zf:
        for name, source in sorted(members.items()):
            # JPEGs do not deflate: store them as they are
            kind = zipfile.ZIP_STORED if name.endswith(".jpg") else zipfile.ZIP_DEFLATED
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = kind
            info.external_attr = 0o644 << 16
            digest = hashlib.sha256()
            try:
                with open(source, "rb") as src, zf.open(info, "w") as dst:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        dst.write(chunk)
            except FileNotFoundError as exc:
                raise BundleError(f"{source} left the cache while the bundle was being "
                                  f"written: export again") from exc
            manifest["files"][name] = digest.hexdigest()
        zf.writestr("bundle.json", json.dumps(manifest, indent=1),
                    compress_type=zipfile.ZIP_DEFLATED)
    return manifest


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
    version = manifest.get("version")
    if type(version) is not int or version < 1:
        raise BundleError(f"{path}: bundle.json has version {version!r}; a bundle's version "
                          f"is a whole number from 1 to {BUNDLE_VERSION}")
    if version > BUNDLE_VERSION:
        raise BundleError(
            f"{path} is a bundle of format version {version!r}; this napari-allen-sync reads "
            f"up to version {BUNDLE_VERSION}: upgrade napari-allen-sync to import it"
        )
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise BundleError(f"{path}: bundle.json lists no files")
    for name, digest in files.items():
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts or not (_RMA.match(name) or _TILE.match(name)):
            raise BundleError(f"{path}: refusing member {name!r} (outside rma/ and tiles/)")
        if not isinstance(digest, str) or not _SHA.match(digest):
            raise BundleError(f"{path}: bundle.json gives {name} no SHA-256 ({digest!r:.80})")
    extra = sorted(set(members) - set(files) - {"bundle.json"})
    if extra:
        raise BundleError(f"{path}: member {extra[0]!r} is not listed in bundle.json "
                          f"({len(extra)} unlisted member(s))")
    missing = sorted(set(files) - set(members))
    if missing:
        raise BundleError(f"{path}: member {missing[0]} is missing or damaged "
                          f"({len(missing)} listed member(s) absent)")
    return manifest


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
        # RMA answers first, then tiles: the order they land in
        order = sorted(manifest["files"], key=lambda n: (not n.startswith("rma/"), n))
        for name in order:  # 1. verify everything; nothing is written yet
            _verify(zf, members[name], manifest["files"][name], path, cache)
        _land(zf, members, manifest["files"], order, path, cache)  # 2. land, or roll back
    return manifest


def _limit(name):
    return MAX_MEMBER_BYTES["rma" if name.startswith("rma/") else "tiles"]


def _verify(zf, info, digest, path, cache):
    name = info.filename
    data = _read(zf, info, path, _limit(name), digest)
    if name.startswith("rma/"):
        envelope = _check_rma(path, name, data)
        _parse_rma(cache, path, name, data)
        return envelope
    _check_jpeg(path, name, data, int(_TILE.match(name).group(3)))
    return None


def _land(zf, members, files, order, path, cache):
    """Store each member through the cache's atomic writes; on any failure put back
    what was there before each landed one. A cached file already identical to the
    member is left as it is."""
    landed: list[tuple[Path, Path | None]] = []  # (target, copy of what it replaced)
    held = []  # open, locked backups: no other process removes them meanwhile
    backups: list[Path] = []
    try:
        for name in order:
            # read again (checksum checked again): a member is never held in memory twice
            data = _read(zf, members[name], path, _limit(name), files[name])
            m = _RMA.match(name)
            if m:
                target = cache.rma_path(m.group(1))
            else:
                image_id, d, size, row, col = (int(g) for g in _TILE.match(name).groups())
                target = cache.tile_path(image_id, d, row, col, size)
            backup = None
            if target.is_file():
                old = target.read_bytes()
                if old == data:
                    continue
                handle, backup = held_partial(cache.tmp_dir, f"{target.name}.backup")
                held.append(handle)
                backups.append(backup)
                handle.write(old)
                handle.flush()
            if m:
                cache.store_rma(m.group(1), _check_rma(path, name, data))
            else:
                cache.store_tile(image_id, d, row, col, size, data)
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
