"""The persistent on-disk cache of Allen metadata (raw RMA answers) and image tiles.

Layout (``root`` is :func:`default_cache_dir` unless given)::

    root/
      VERSION                  {"format": 1, ...}: the layout version of everything below
      rma/                     raw RMA answers, one file each, readable by
                               Catalog.from_folder(root / "rma")
        SectionDataSet-{id}.json, Atlas-{id}.json, Structure-graph-{g}.json,
        StructureCenter-space-{s}.json, ReferenceToReferenceTransform.json,
        Equalization-{id}.json
      tiles/{image_id}/d{downsample}/s{tile_size}/{row}_{col}.jpg
                               image_download answers, as the JPEG bytes received
      tmp/                     files being written (never read)
      locks/                   filelock files

Guarantees
----------
- Every write goes to ``tmp/`` first and lands with :func:`os.replace` (atomic); an RMA
  answer is parsed and checked with :mod:`napari_allen_sync.catalog` *before* it lands,
  so a partial, failed or malformed download leaves nothing behind.
- :mod:`filelock` locks make concurrent processes safe: one root lock for the layout
  (versioning, migration), one lock per item so that two processes needing the same
  item fetch it once.
- A cache written in another layout version is never misread: an older layout is
  migrated (each RMA answer is re-validated and kept if it parses, tiles are dropped);
  a newer or unreadable layout is rebuilt (emptied).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import platformdirs
from filelock import FileLock
from filelock import Timeout as LockTimeout

from . import __version__
from .catalog import Catalog
from .errors import CacheError, CatalogFormatError

__all__ = ["CACHE_FORMAT", "ENV_VAR", "AllenCache", "default_cache_dir"]

log = logging.getLogger(__name__)

#: Layout version of the cache; bump when the layout or the meaning of a file changes.
CACHE_FORMAT = 1
#: Environment variable that moves the cache.
ENV_VAR = "NAPARI_ALLEN_SYNC_CACHE"
_APP = "napari-allen-sync"
_OWNED = ("rma", "tiles", "tmp")


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
        self.tmp_dir = self.root / "tmp"
        self.locks_dir = self.root / "locks"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.locks_dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot create the cache folder {self.root}: {exc}") from exc
        self._open()

    def __repr__(self):
        return f"<AllenCache {self.root}>"

    # ------------------------------------------------------------------ locking
    def lock(self, name: str) -> _Lock:
        """A cross-process lock named ``name`` (use as a context manager)."""
        return _Lock(self.locks_dir / f"{_safe(name)}.lock", self.lock_timeout)

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

    def _open(self):
        with self.lock("layout"):
            fmt = self.read_format()
            if fmt == CACHE_FORMAT:
                pass
            elif fmt is None and not any((self.root / d).exists() for d in ("rma", "tiles")):
                pass  # a new cache
            elif (isinstance(fmt, int) and fmt > CACHE_FORMAT) or fmt == "unreadable":
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

    def _rebuild(self):
        self.version_file.unlink(missing_ok=True)
        for d in _OWNED:
            shutil.rmtree(self.root / d, ignore_errors=True)

    def _migrate(self):
        """Keep every old RMA answer that the current parser accepts; drop the rest and
        every tile (their layout may differ)."""
        self.version_file.unlink(missing_ok=True)
        shutil.rmtree(self.tiles_dir, ignore_errors=True)
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        if self.rma_dir.is_dir():
            for path in sorted(self.rma_dir.rglob("*")):
                if path.is_dir():
                    continue
                keep = path.suffix == ".json" and path.parent == self.rma_dir
                if keep:
                    try:
                        Catalog.parse_file(path)
                    except CatalogFormatError as exc:
                        log.warning("dropping unreadable cached answer %s: %s", path, exc)
                        keep = False
                if not keep:
                    path.unlink(missing_ok=True)
            for sub in sorted(self.rma_dir.iterdir()):
                if sub.is_dir():
                    shutil.rmtree(sub, ignore_errors=True)

    # ------------------------------------------------------------------ writing
    def _write_bytes(self, path: Path, data: bytes, check=None):
        """Write ``data`` to ``path`` atomically; ``check(tmp_path)`` runs before it lands."""
        self.tmp_dir.mkdir(exist_ok=True)
        stem = path.name.split(".")[0]
        fd, tmp = tempfile.mkstemp(dir=self.tmp_dir, prefix=f"{stem}.",
                                   suffix="".join(path.suffixes))
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            result = check(Path(tmp)) if check is not None else None
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, path)
            return result
        except OSError as exc:
            raise CacheError(f"cannot write {path}: {exc}") from exc
        finally:
            Path(tmp).unlink(missing_ok=True)

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

        def parse(tmp):
            records = Catalog.parse_file(tmp)
            if check is not None:
                check(records)
            return records

        return self._write_bytes(self.rma_path(name), body, check=parse)

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
                log.warning("cached answer %s is unreadable (%s): moved aside", path, exc)
                aside = self.root / "corrupt"
                aside.mkdir(exist_ok=True)
                os.replace(path, aside / path.name)
        return out

    def catalog(self) -> Catalog:
        """A new Catalog of every cached record."""
        return Catalog(self.load_records())

    # ------------------------------------------------------------------ tiles
    def tile_path(self, image_id: int, downsample: int, row: int, col: int, tile_size: int) -> Path:
        """The file of one tile of one tier of an image."""
        return (self.tiles_dir / str(int(image_id)) / f"d{int(downsample)}" / f"s{int(tile_size)}"
                / f"{int(row)}_{int(col)}.jpg")

    def read_tile(self, image_id, downsample, row, col, tile_size) -> bytes | None:
        """The cached JPEG bytes of a tile, or None."""
        try:
            return self.tile_path(image_id, downsample, row, col, tile_size).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CacheError(f"cannot read a cached tile: {exc}") from exc

    def store_tile(self, image_id, downsample, row, col, tile_size, jpeg: bytes, check=None):
        """Store a tile's JPEG bytes atomically; ``check(tmp_path)`` runs before it lands."""
        path = self.tile_path(image_id, downsample, row, col, tile_size)
        return self._write_bytes(path, jpeg, check=check)

    def clear(self) -> None:
        """Remove every cached answer and tile (the layout stays)."""
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
        return self

    def __exit__(self, *exc):
        self._lock.release()


def _safe(name: str) -> str:
    """A file-name-safe version of a cache item name (no separators, no dot-dot)."""
    out = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(name))
    if not out:
        raise CacheError(f"empty cache item name {name!r}")
    return out
