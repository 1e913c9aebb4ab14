"""Offline bundles: part of the cache in one file, to carry to a machine with no network.

A bundle is a ZIP file (format version :data:`BUNDLE_VERSION`)::

    bundle.json                 the manifest (below)
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
tiles of their images (all tiers, or only ``tiers``). Import checks the format and version
(a bundle from a newer format is refused, never misread), every member's name (nothing
outside ``rma/`` and ``tiles/``) and SHA-256, parses every RMA answer and decodes every
tile *before* it lands, and stores them through the cache's atomic, locked writes: a bad
bundle leaves the cache as it was.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import re
import zipfile
from pathlib import Path, PurePosixPath

from PIL import Image

from . import __version__
from .cache import AllenCache
from .catalog import Catalog
from .errors import AllenSyncError, CacheError, CatalogFormatError

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "BundleError",
    "export_bundle",
    "import_bundle",
    "read_manifest",
]

BUNDLE_FORMAT = "napari-allen-sync-bundle"
BUNDLE_VERSION = 1
_TILE = re.compile(r"^tiles/(\d+)/d(\d+)/s(\d+)/(\d+)_(\d+)\.jpg$")
_RMA = re.compile(r"^rma/([A-Za-z0-9_\-]+)\.json$")
_SHARED_PREFIXES = ("Structure-graph-", "StructureCenter-space-", "ReferenceToReferenceTransform")


class BundleError(AllenSyncError):
    """A bundle cannot be written or read (names the file and what is wrong)."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_bundle(path, *, section_data_set_ids=(), atlas_ids=(), tiers=None, cache=None) -> dict:
    """Write the cached records (and tiles) of data sets and atlases into one file.

    Parameters
    ----------
    path : str or os.PathLike
        The bundle to write (``.zip``); written beside and renamed, so never partial.
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

    members: dict[str, bytes] = {}
    for n in names:
        members[f"rma/{n}.json"] = cache.rma_path(n).read_bytes()
    for image_id in sorted(image_ids):
        folder = cache.tiles_dir / str(image_id)
        for tile in sorted(folder.glob("d*/s*/*.jpg")) if folder.is_dir() else []:
            rel = tile.relative_to(cache.root).as_posix()
            m = _TILE.match(rel)
            if m and (wanted_tiers is None or int(m.group(2)) in wanted_tiers):
                members[rel] = tile.read_bytes()
    manifest = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "written_by": f"napari-allen-sync {__version__}",
        "section_data_set_ids": ds_ids,
        "atlas_ids": atlas_ids,
        "tiers": None if wanted_tiers is None else sorted(wanted_tiers),
        "files": {name: _sha256(data) for name, data in sorted(members.items())},
    }
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("bundle.json", json.dumps(manifest, indent=1))
            for name, data in sorted(members.items()):
                # JPEGs do not deflate: store them as they are
                kind = zipfile.ZIP_STORED if name.endswith(".jpg") else zipfile.ZIP_DEFLATED
                zf.writestr(name, data, compress_type=kind)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return manifest


def _require(cache, name, what):
    if not cache.has_rma(name):
        raise BundleError(
            f"{what} is not in the cache {cache.root}: fetch it first "
            f"(napari-allen-sync prefetch) or leave it out"
        )


def read_manifest(path) -> dict:
    """The checked manifest of a bundle (format, version and file list)."""
    with _open(path) as zf:
        return _manifest(zf, path)


def _open(path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleError(f"{path} is not a readable bundle: {exc}") from exc


def _manifest(zf: zipfile.ZipFile, path) -> dict:
    try:
        manifest = json.loads(zf.read("bundle.json"))
    except KeyError:
        raise BundleError(f"{path} has no bundle.json: not a napari-allen-sync bundle") from None
    except (ValueError, zipfile.BadZipFile) as exc:
        raise BundleError(f"{path}: bundle.json is unreadable ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{path} is not a napari-allen-sync bundle")
    version = manifest.get("version")
    if not isinstance(version, int) or version > BUNDLE_VERSION:
        raise BundleError(
            f"{path} is a bundle of format version {version!r}; this napari-allen-sync reads "
            f"up to version {BUNDLE_VERSION}: upgrade napari-allen-sync to import it"
        )
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise BundleError(f"{path}: bundle.json lists no files")
    for name in files:
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts or not (_RMA.match(name) or _TILE.match(name)):
            raise BundleError(f"{path}: refusing member {name!r} (outside rma/ and tiles/)")
    return manifest


def import_bundle(path, *, cache=None) -> dict:
    """Check a bundle whole, then add its records and tiles to the cache.

    Returns
    -------
    dict
        The bundle's manifest.

    Raises
    ------
    BundleError
        On a foreign, newer, damaged or tampered bundle; nothing is imported then.
    """
    cache = cache or AllenCache()
    with _open(path) as zf:
        manifest = _manifest(zf, path)
        rma: dict[str, dict] = {}
        tiles: list[tuple[tuple[int, ...], bytes]] = []
        for name, digest in manifest["files"].items():
            try:
                data = zf.read(name)
            except (KeyError, zipfile.BadZipFile, OSError) as exc:
                raise BundleError(f"{path}: member {name} is missing or damaged ({exc})") from exc
            if _sha256(data) != digest:
                raise BundleError(f"{path}: member {name} does not match its checksum")
            m = _RMA.match(name)
            if m:
                rma[m.group(1)] = _check_rma(path, name, data)
            else:
                t = _TILE.match(name)
                _check_jpeg(path, name, data)
                tiles.append((tuple(int(g) for g in t.groups()), data))
    try:
        for name, envelope in rma.items():
            cache.store_rma(name, envelope)
        for (image_id, d, size, row, col), data in tiles:
            cache.store_tile(image_id, d, row, col, size, data)
    except (CatalogFormatError, OSError) as exc:
        raise CacheError(f"importing {path} into {cache.root} failed: {exc}") from exc
    return manifest


def _check_rma(path, name, data) -> dict:
    try:
        envelope = json.loads(data)
        if not isinstance(envelope, dict) or "msg" not in envelope:
            raise ValueError("not an RMA envelope")
    except ValueError as exc:
        raise BundleError(f"{path}: {name} is not an Allen RMA answer ({exc})") from exc
    return envelope


def _check_jpeg(path, name, data):
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
    except Exception as exc:  # Pillow raises several types for damaged images
        raise BundleError(f"{path}: tile {name} is not a readable JPEG ({exc})") from exc
