"""The persistent on-disk cache of Allen metadata (raw RMA answers) and image tiles.

Layout (``root`` is :func:`default_cache_dir` unless given; see ``docs/cache.md``)::

    root/
      VERSION                  {"format": 1, "written_by": ...}: the layout version
      rma/{name}.json          raw RMA answers, one file each, readable by
                               Catalog.from_folder(root / "rma"); {name} is
                               SectionDataSet-{id}, Atlas-{id}, Structure-graph-{g},
                               StructureCenter-space-{s}, ReferenceToReferenceTransform,
                               Equalization-{id}
      tiles/{image_id}/d{downsample}/s{tile_size}/{row}_{col}.jpg
                               image_download answers, as the JPEG bytes received
      tiles/{image_id}/{view}/d{downsample}/s{tile_size}/{row}_{col}.jpg
                               other views: annotation-{atlas}, expression, projection
      annotation/{server}-{hash}/annotation_{res}.nrrd (.npy: decoded)
                               the annotation volume (RemoteSource.annotation_path)
      servers/{server}-{hash}.json
                               what a tile server was found to do (size convention)
      demo/annotation_50-{fingerprint}.npy
                               the demo's annotation volume
      tmp/.{name}.{random}.partial
                               files being written (never read)
      corrupt/{name}.json      cached answers found unreadable, set aside
      locks/{name}.lock        filelock files

The cache's own files are exactly those matching the patterns above (:func:`is_owned`);
nothing else in the folder is ever deleted, moved or rewritten, whatever ``VERSION``
says.

Guarantees
----------
- Every write goes through :func:`napari_allen_sync.atomic.atomic_write`, with its
  temporary file in ``tmp/``; an RMA answer is parsed and checked *before* it lands, so
  a partial, failed or malformed download leaves nothing behind. Temporary files of a
  writer that was killed are removed the next time a cache opens on the folder.
- :mod:`filelock` locks make concurrent processes safe: one root lock for the layout
  (versioning, migration), one lock per item so that two processes needing the same
  item fetch it once.
- A cache written in another layout version is never misread: an older layout is
  migrated (each cached answer is re-validated and kept if it parses, tiles are
  dropped); a newer layout is rebuilt (the cache's own files are removed). A ``VERSION``
  the cache did not write (not ``{"format": <int>, ...}``) makes it refuse the folder
  with :class:`~napari_allen_sync.errors.CacheError` and touch nothing.
- A read-only folder (read-only mount, folder of another user) opens read-only: reads
  work and create nothing (no lock file); every write raises :class:`CacheError`
  naming the folder.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
from pathlib import Path

import platformdirs
from filelock import FileLock
from filelock import Timeout as LockTimeout

from . import __version__
from .atomic import atomic_write, remove_stale_partials
from .catalog import Catalog
from .errors import CacheError, CatalogFormatError, WriteError

__all__ = ["CACHE_FORMAT", "ENV_VAR", "AllenCache", "default_cache_dir", "is_owned"]

log = logging.getLogger(__name__)

#: Layout version of the cache; bump when the layout or the meaning of a file changes.
CACHE_FORMAT = 1
#: Environment variable that moves the cache.
ENV_VAR = "NAPARI_ALLEN_SYNC_CACHE"
_APP = "napari-allen-sync"
#: Name patterns of the cache's own files, relative to the root (POSIX separators).
_NAME = r"[A-Za-z0-9_\-]+"
#: Tile views kept beside an image's plain tiles (RemoteTileSource.view): annotated atlas
#: plates of atlas {id}, and the expression / projection overlays.
_VIEW = r"(?:annotation-\d+|expression|projection)"
#: A partial file of atomic_write beside its target (``.{name}.{random}.partial``).
_PART = r"\.[^/]+\.partial"
_OWNED_FILES = (
    re.compile(rf"^rma/{_NAME}\.json$"),
    re.compile(rf"^corrupt/{_NAME}\.json$"),
    re.compile(rf"^tiles/\d+/(?:{_VIEW}/)?d\d+/s\d+/\d+_\d+\.jpg$"),
    re.compile(rf"^tiles/\d+/{_VIEW}/d\d+/s\d+/\.\d+_\d+\.jpg{_PART}$"),  # a view's writer
    re.compile(r"^tmp/\..+\.partial$"),                           # atomic_write's
    re.compile(rf"^tmp/{_NAME}\.[a-z0-9_]{{8}}\.(json|jpg)$"),      # version 0.1's
    # the annotation volume, one folder per download server and resolution
    # (RemoteSource.annotation_path), its decoded copy, the resumable download
    re.compile(r"^annotation/[A-Za-z0-9_]+-[0-9a-f]{12}/annotation_\d+\.(nrrd|npy)$"),
    re.compile(rf"^annotation/[A-Za-z0-9_]+-[0-9a-f]{{12}}/\.annotation_\d+\.(nrrd|npy)"
               rf"{_PART}$"),
    # what a tile server was found to do (remote._ServerTraits)
    re.compile(r"^servers/[A-Za-z0-9_]+-[0-9a-f]{16}\.json$"),
    re.compile(rf"^servers/\.[A-Za-z0-9_]+-[0-9a-f]{{16}}\.json{_PART}$"),
    # the demo's annotation volume (demo/annotation.py, phantom fingerprint)
    re.compile(r"^demo/annotation_\d+-[0-9a-f]{16}\.npy$"),
    re.compile(rf"^demo/\.annotation_\d+-[0-9a-f]{{16}}\.npy{_PART}$"),
)
_OWNED_DIRS = re.compile(
    rf"^(rma|corrupt|tmp|servers|demo|annotation(/[A-Za-z0-9_]+-[0-9a-f]{{12}})?"
    rf"|tiles(/\d+(/({_VIEW}(/d\d+(/s\d+)?)?|d\d+(/s\d+)?))?)?)$")
#: The top folders holding the cache's own files (all removed by a rebuild or clear()).
_PARTIAL_NAME = re.compile(rf"/{_PART}$")
_OWNED_TOPS = ("rma", "tiles", "tmp", "corrupt", "annotation", "servers", "demo")
_READ_ONLY_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS)


def default_cache_dir() -> Path:
    """``$NAPARI_ALLEN_SYNC_CACHE`` if set, else the platform's user cache folder."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir(_APP))


class AllenCache:
    """A persistent cache of raw RMA answers and image tiles, safe across processes.

    Parameters
    ----------
    root : str or os.PathLike, optional
        The cache folder; default :func:`default_cache_dir`.
    lock_timeout : float
        Seconds to wait for another process's lock before :class:`CacheError`.

    Attributes
    ----------
    read_only : bool
        The folder cannot be written (read-only mount, another user's folder): reads
        work, writes raise :class:`CacheError`.

    Examples
    --------
    >>> cache = AllenCache(tmp_path)                          # doctest: +SKIP
    >>> cache.has_rma("SectionDataSet-100055064")              # doctest: +SKIP
    False
    """

    def __init__(self, root=None, *, lock_timeout: float = 120.0):
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.lock_timeout = float(lock_timeout)
        self.rma_dir = self.root / "rma"
        self.tiles_dir = self.root / "tiles"
        self.annotation_dir = self.root / "annotation"
        self.servers_dir = self.root / "servers"
        self.tmp_dir = self.root / "tmp"
        self.locks_dir = self.root / "locks"
        self.read_only = False
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot create the cache folder {self.root}: "
                             f"{exc.strerror or exc}") from exc
        if not self.root.is_dir():
            raise CacheError(f"the cache folder {self.root} is not a folder")
        self._check_format()  # before anything is created in a folder that is not ours
        self.read_only = not self._can_write()
        try:
            if self.read_only:
                self._open_read_only()
            else:
                self._open()
        except CacheError:
            raise
        except OSError as exc:
            raise CacheError(f"cannot open the cache folder {self.root}: "
                             f"{exc.strerror or exc} ({exc.filename})") from exc

    def __repr__(self):
        return f"<AllenCache {self.root}>"

    # ------------------------------------------------------------------ locking
    def lock(self, name: str):
        """A cross-process lock named ``name`` (use as a context manager). On a
        read-only cache it does nothing: no lock file can be made, and this process
        writes nothing (other writers' files land atomically, so reads stay whole)."""
        if self.read_only:
            return contextlib.nullcontext(self)
        return _Lock(self.locks_dir / f"{_safe(name)}.lock", self.lock_timeout)

    def _can_write(self) -> bool:
        """Whether this process may create files in the cache (probing creates only
        ``locks/``, nothing when the answer is no)."""
        if not os.access(self.root, os.W_OK | os.X_OK):
            return False
        try:
            self.locks_dir.mkdir(exist_ok=True)
        except OSError as exc:
            if exc.errno in _READ_ONLY_ERRNOS:
                return False
            raise CacheError(f"cannot use the cache folder {self.root}: "
                             f"{exc.strerror or exc}") from exc
        return os.access(self.locks_dir, os.W_OK | os.X_OK)

    def _refuse_write(self, what) -> CacheError:
        return CacheError(
            f"the cache folder {self.root} is read-only: cannot store {what}. Reading "
            f"works; to cache more, point {ENV_VAR} (or --cache-dir) at a writable folder"
        )

    # ------------------------------------------------------------------ version
    @property
    def version_file(self) -> Path:
        return self.root / "VERSION"

    def read_format(self):
        """The layout version on disk: an int, None (no VERSION file) or ``"unreadable"``."""
        try:
            data = json.loads(self.version_file.read_text(encoding="utf-8"))
            fmt = data["format"]
            if isinstance(fmt, bool) or not isinstance(fmt, int):
                return "unreadable"
            return fmt
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return "unreadable"

    def _check_format(self):
        """The layout on disk, or :class:`CacheError` for a VERSION we did not write."""
        fmt = self.read_format()
        if fmt == "unreadable":
            try:
                start = self.version_file.read_bytes()[:40]
            except OSError as exc:
                start = f"<{exc.strerror}>".encode()
            raise CacheError(
                f"{self.version_file} was not written by napari-allen-sync (it begins "
                f"{start!r}): {self.root} is not a napari-allen-sync cache, and nothing in it "
                f"was touched. Use another folder ({ENV_VAR} or --cache-dir), or delete "
                f"that VERSION file to make the folder a cache"
            )
        return fmt

    def _open(self):
        with self.lock("layout"):
            fmt = self._check_format()
            if fmt == CACHE_FORMAT:
                pass
            elif fmt is None and not any((self.root / d).exists() for d in ("rma", "tiles")):
                pass  # a new cache
            elif isinstance(fmt, int) and fmt > CACHE_FORMAT:
                log.warning("cache %s has layout %r (this version writes %d): rebuilding it",
                            self.root, fmt, CACHE_FORMAT)
                self._rebuild()
            else:
                log.warning("cache %s has old layout %r: migrating to %d", self.root, fmt,
                            CACHE_FORMAT)
                self._migrate()
            for d in (self.rma_dir, self.tiles_dir, self.tmp_dir):
                d.mkdir(exist_ok=True)
            if self.read_format() != CACHE_FORMAT:
                self._write_version()
        removed = remove_stale_partials(self.tmp_dir, older_than=3600.0, unlocked=True)
        if removed:
            log.info("removed %d temporary file(s) of killed writers from %s", len(removed),
                     self.tmp_dir)

    def _open_read_only(self):
        fmt = self._check_format()
        new = fmt is None and not any((self.root / d).exists() for d in ("rma", "tiles"))
        if fmt != CACHE_FORMAT and not new:
            raise CacheError(
                f"the cache folder {self.root} is read-only and in layout {fmt!r} (this "
                f"version reads {CACHE_FORMAT}): it cannot be migrated. Use a writable copy "
                f"or another folder ({ENV_VAR} or --cache-dir)"
            )
        log.info("cache %s is read-only: reading only", self.root)

    def _owned_files(self, top: str):
        """The cache's own files under ``root/top`` (never symlinks, never user files)."""
        base = self.root / top
        if not base.is_dir() or base.is_symlink():
            return
        for folder, dirs, files in os.walk(base):
            rel_dir = Path(folder).relative_to(self.root).as_posix()
            dirs[:] = [d for d in dirs if _OWNED_DIRS.match(f"{rel_dir}/{d}")
                       and not (Path(folder) / d).is_symlink()]
            for f in files:
                path = Path(folder) / f
                if is_owned(f"{rel_dir}/{f}") and not path.is_symlink():
                    yield path

    def _prune(self, top: str):
        """Remove the now empty folders of the cache's own under ``root/top``."""
        base = self.root / top
        if not base.is_dir():
            return
        for folder, _dirs, _files in sorted(os.walk(base), key=lambda t: -len(t[0])):
            rel = Path(folder).relative_to(self.root).as_posix()
            if _OWNED_DIRS.match(rel) and rel != top:
                with contextlib.suppress(OSError):
                    Path(folder).rmdir()  # only when empty

    def _remove_owned(self, tops):
        for top in tops:
            for path in list(self._owned_files(top)):
                path.unlink(missing_ok=True)
            self._prune(top)

    def _rebuild(self):
        """Remove the cache's own files (answers, tiles of every view, temporaries,
        set-aside answers, annotation volumes, server facts, the demo's volume); the
        user's files in the folder stay, and so do the lock files."""
        self._remove_owned(_OWNED_TOPS)
        self.version_file.unlink(missing_ok=True)

    def _migrate(self):
        """Keep every old RMA answer that the current parser accepts; drop the others and
        every tile (their layout may differ). Files the cache did not write stay."""
        self._remove_owned(("tiles", "tmp"))
        for path in sorted(self._owned_files("rma")):
            try:
                Catalog.parse_file(path)
            except CatalogFormatError as exc:
                log.warning("dropping unreadable cached answer %s: %s", path, exc)
                path.unlink(missing_ok=True)
        self.version_file.unlink(missing_ok=True)

    # ------------------------------------------------------------------ writing
    def _write_bytes(self, path: Path, data: bytes, check=None):
        """Write ``data`` to ``path`` atomically (temporary file in ``tmp/``);
        ``check(tmp_path)`` runs on the complete temporary file before it lands and its
        result is returned."""
        if self.read_only:
            raise self._refuse_write(path.relative_to(self.root).as_posix())
        result = []
        try:
            self.tmp_dir.mkdir(exist_ok=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path, "wb", tmp_dir=self.tmp_dir,
                              check=None if check is None else lambda t: result.append(
                                  check(t))) as f:
                f.write(data)
        except OSError as exc:
            if exc.errno in _READ_ONLY_ERRNOS or (
                    isinstance(exc, WriteError) and "permission" in exc.reason):
                raise self._refuse_write(path.relative_to(self.root).as_posix()) from exc
            reason = exc.reason if isinstance(exc, WriteError) else (exc.strerror or exc)
            raise CacheError(f"cannot write {path} in the cache: {reason}") from exc
        return result[0] if result else None

    # ------------------------------------------------------------------ RMA answers
    def rma_path(self, name: str) -> Path:
        """The file of the RMA answer called ``name`` (e.g. ``"SectionDataSet-123"``)."""
        return self.rma_dir / f"{_safe(name)}.json"

    def has_rma(self, name: str) -> bool:
        """Whether the answer ``name`` is cached."""
        return self.rma_path(name).is_file()

    def store_rma(self, name: str, data: dict, check=None) -> list:
        """Validate an RMA answer and store it, atomically.

        Parameters
        ----------
        name : str
            File name without ``.json``; its prefix names the model (``Atlas-1``).
        data : dict
            The answer envelope.
        check : callable, optional
            ``check(records)`` raises if the parsed records are not what was asked for.

        Returns
        -------
        list
            The records parsed from the answer.

        Raises
        ------
        CatalogFormatError
            When the answer does not parse (nothing is written).
        """
        body = json.dumps(data, separators=(",", ":")).encode("utf-8")

        path = self.rma_path(name)

        def parse(tmp):
            records = Catalog.parse_file(tmp, name=path.name)
            if check is not None:
                check(records)
            return records

        return self._write_bytes(path, body, check=parse)

    def rma_names(self) -> list[str]:
        """Names of the cached RMA answers."""
        return sorted(p.stem for p in self.rma_dir.glob("*.json"))

    def load_records(self, names=None) -> list:
        """Records of the cached answers (all, or those named). An unreadable file is
        moved aside to ``corrupt/`` with a warning instead of failing the load."""
        out = []
        paths = sorted(self.rma_dir.glob("*.json")) if names is None else [
            self.rma_path(n) for n in names
        ]
        for path in paths:
            try:
                out.extend(Catalog.parse_file(path))
            except CatalogFormatError as exc:
                if not path.exists():
                    continue
                if self.read_only:
                    log.warning("cached answer %s is unreadable (%s): skipped", path, exc)
                    continue
                log.warning("cached answer %s is unreadable (%s): moved aside", path, exc)
                aside = self.root / "corrupt"
                try:
                    aside.mkdir(exist_ok=True)
                    os.replace(path, aside / path.name)
                except OSError as move_exc:
                    log.warning("could not move %s aside: %s", path, move_exc)
        return out

    def catalog(self) -> Catalog:
        """A new Catalog of every cached record."""
        return Catalog(self.load_records())

    # ------------------------------------------------------------------ tiles
    def tile_path(self, image_id: int, downsample: int, row: int, col: int, tile_size: int,
                  view: str | None = None) -> Path:
        """The file of one tile of one tier of an image; ``view`` (``"annotation-{atlas}"``,
        ``"expression"``, ``"projection"``) names one of the image's other views, kept in
        its own folder ``tiles/{image}/{view}/``."""
        folder = self.tiles_dir / str(int(image_id))
        if view:
            if not re.fullmatch(_VIEW, view):
                raise ValueError(f"not a tile view: {view!r}")
            folder = folder / view
        return folder / f"d{int(downsample)}" / f"s{int(tile_size)}" / f"{int(row)}_{int(col)}.jpg"

    def read_tile(self, image_id, downsample, row, col, tile_size, view=None) -> bytes | None:
        """The cached JPEG bytes of a tile, or None."""
        try:
            return self.tile_path(image_id, downsample, row, col, tile_size, view).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CacheError(f"cannot read a cached tile: {exc}") from exc

    def store_tile(self, image_id, downsample, row, col, tile_size, jpeg: bytes, check=None,
                   view=None):
        """Store a tile's JPEG bytes atomically; ``check(tmp_path)`` runs before it lands."""
        path = self.tile_path(image_id, downsample, row, col, tile_size, view)
        return self._write_bytes(path, jpeg, check=check)

    # ------------------------------------------------------------------ other own files
    def owned_path(self, relative: str) -> Path:
        """The file of one of the cache's own files, by its path relative to the root
        (POSIX separators); :class:`CacheError` for any other path."""
        if not is_owned(relative) or relative.startswith("tmp/") or _PARTIAL_NAME.search(
                relative):
            raise CacheError(f"{relative!r} is not a file of the cache's own")
        return self.root.joinpath(*relative.split("/"))

    @contextlib.contextmanager
    def write_owned(self, relative: str):
        """Write one of the cache's own files (:meth:`owned_path`) atomically, streamed:
        yields a binary file object; the file lands whole when the block ends cleanly,
        not at all otherwise (temporary file in ``tmp/``).

        Raises
        ------
        CacheError
            Not a file of the cache's own, a read-only cache, or the write failed.
        """
        path = self.owned_path(relative)
        if self.read_only:
            raise self._refuse_write(relative)
        try:
            self.tmp_dir.mkdir(exist_ok=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path, "wb", tmp_dir=self.tmp_dir) as f:
                yield f
        except OSError as exc:
            if exc.errno in _READ_ONLY_ERRNOS or (
                    isinstance(exc, WriteError) and "permission" in exc.reason):
                raise self._refuse_write(relative) from exc
            reason = exc.reason if isinstance(exc, WriteError) else (exc.strerror or exc)
            raise CacheError(f"cannot write {path} in the cache: {reason}") from exc

    def clear(self) -> None:
        """Remove every cached answer and tile (the layout stays; files the cache did not
        write stay too)."""
        if self.read_only:
            raise self._refuse_write("anything (clear)")
        with self.lock("layout"):
            self._rebuild()
            self._open_dirs()

    def _open_dirs(self):
        for d in (self.rma_dir, self.tiles_dir, self.tmp_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._write_version()

    def _write_version(self):
        text = json.dumps({"format": CACHE_FORMAT, "written_by": f"{_APP} {__version__}"})
        self._write_bytes(self.version_file, text.encode())


class _Lock:
    """A FileLock whose timeout raises :class:`CacheError`."""

    def __init__(self, path, timeout):
        self._lock = FileLock(str(path), timeout=timeout)
        self._path = path
        self._timeout = timeout

    def __enter__(self):
        try:
            self._lock.acquire()
        except LockTimeout as exc:
            raise CacheError(
                f"another process holds the cache lock {self._path} for more than "
                f"{self._timeout:g} s; if no other napari-allen-sync is running, delete it"
            ) from exc
        except OSError as exc:
            raise CacheError(f"cannot take the cache lock {self._path}: "
                             f"{exc.strerror or exc}") from exc
        return self

    def __exit__(self, *exc):
        self._lock.release()


def is_owned(relative_path: str) -> bool:
    """Whether a path relative to the cache root (POSIX separators) names one of the
    cache's own files (answers, tiles, temporaries, set-aside answers): only those are
    ever removed by a rebuild, a migration or :meth:`AllenCache.clear`."""
    return any(p.match(relative_path) for p in _OWNED_FILES)


def _safe(name: str) -> str:
    """A file-name-safe version of a cache item name (no separators, no dot-dot)."""
    out = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(name))
    if not out:
        raise CacheError(f"empty cache item name {name!r}")
    return out
