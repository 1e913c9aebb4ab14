"""One way to write a file: all of it or nothing.

Every writer of the package (cache entries, bundles, catalogs, CSV and JSON exports,
the history) goes through :func:`atomic_write`: the data goes to a temporary file in
the target's own folder (same file system), is flushed and ``fsync``-ed, and only then
renamed onto the target with :func:`os.replace`, which is atomic on POSIX and Windows.
A reader therefore sees the old file or the new one, never a torn one; a failure or an
exception half-way leaves the old file untouched and removes the temporary file.

A process killed mid-write cannot remove its temporary file. Temporary files are named
``.{target}.{random}.partial`` so that :func:`remove_stale_partials` can find and
delete those left behind (the cache calls it when it opens).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import WriteError

__all__ = ["PARTIAL_SUFFIX", "atomic_write", "is_partial", "remove_stale_partials",
           "write_bytes", "write_text"]

#: Suffix of every temporary file :func:`atomic_write` creates.
PARTIAL_SUFFIX = ".partial"


def _reason(exc: OSError) -> str:
    """A short, user-facing reason for an ``OSError``."""
    if exc.errno == errno.ENOENT:
        return "the folder does not exist"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "permission denied (read-only folder or file?)"
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    if exc.errno == errno.EISDIR:
        return "it is a folder"
    return exc.strerror or str(exc)


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", *, encoding: str | None = None,
                 newline: str | None = None, tmp_dir=None, fsync: bool = True
                 ) -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` when the ``with`` block ends cleanly.

    Parameters
    ----------
    path : path-like
        The file to (re)write. Its folder must exist.
    mode : {"wb", "w"}
        Binary or text.
    encoding, newline : str, optional
        As for :func:`open`, in text mode (the encoding defaults to UTF-8).
    tmp_dir : path-like, optional
        Where the temporary file goes; it must be on the same file system as ``path``.
        Default: ``path``'s own folder.
    fsync : bool
        Flush the data to the device before the rename (default), so that a power cut
        cannot leave an empty file under the final name.

    Yields
    ------
    file object
        Write to it; do not close it.

    Raises
    ------
    WriteError
        ``path`` is a folder, its folder is missing or read-only, or the disk is full.
        Nothing was written and the temporary file is gone. Exceptions raised inside
        the block propagate unchanged, with the same clean-up.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "points.csv"
    >>> with atomic_write(target, "w") as f:
    ...     _ = f.write("x,y\\n1,2\\n")
    >>> target.read_text()
    'x,y\\n1,2\\n'
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', not {mode!r}")
    path = Path(path)
    if path.is_dir():
        raise WriteError(path, "it is a folder")
    folder = Path(tmp_dir) if tmp_dir is not None else path.parent
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.",
                                   suffix=PARTIAL_SUFFIX)
    except OSError as exc:
        raise WriteError(path, _reason(exc)) from exc
    tmp = Path(tmp)
    try:
        if mode == "w":
            handle = os.fdopen(fd, "w", encoding=encoding or "utf-8", newline=newline)
        else:
            handle = os.fdopen(fd, "wb")
        with handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if isinstance(exc, WriteError):
            raise
        raise WriteError(path, _reason(exc)) from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_bytes(path, data: bytes, **kwargs) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "wb", **kwargs) as f:
        f.write(data)
    return Path(path)


def write_text(path, text: str, **kwargs) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "w", **kwargs) as f:
        f.write(text)
    return Path(path)


def is_partial(path) -> bool:
    """Whether ``path`` is named like a temporary file of :func:`atomic_write`."""
    name = Path(path).name
    return name.startswith(".") and name.endswith(PARTIAL_SUFFIX)


def remove_stale_partials(folder, older_than: float = 3600.0, *,
                          recursive: bool = True) -> list[Path]:
    """Delete temporary files of :func:`atomic_write` that writers left behind.

    Only files named like ours (:func:`is_partial`) and not modified for
    ``older_than`` seconds are removed: a write still in progress in another process is
    left alone. Files the user put there are never touched.

    Returns
    -------
    list of Path
        The files removed.
    """
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    candidates = folder.rglob(f"*{PARTIAL_SUFFIX}") if recursive else folder.glob(
        f"*{PARTIAL_SUFFIX}")
    for p in candidates:
        try:
            if is_partial(p) and p.is_file() and now - p.stat().st_mtime > older_than:
                p.unlink()
                removed.append(p)
        except OSError:
            continue
    return removed
