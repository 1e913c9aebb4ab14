"""One way to write a file: all of it or nothing.

Every writer of the package (cache entries, bundles, catalogs, CSV and JSON exports,
the history) goes through :func:`atomic_write`: the data goes to a temporary file in
the target's own folder (same file system), is flushed and ``fsync``-ed, and only then
renamed onto the target with :func:`os.replace`, which is atomic on POSIX and Windows.
A reader therefore sees the old file or the new one, never a torn one; a failure or an
exception half-way leaves the old file untouched and removes the temporary file.

A process killed mid-write cannot remove its temporary file. Temporary files are named
``.{target}.{random}.partial`` so that :func:`remove_stale_partials` can find and
delete those left behind (the cache calls it when it opens). On POSIX the writer holds
an exclusive :func:`fcntl.flock` on its temporary file from creation until after the
rename; the kernel drops it when the process dies, so a partial nobody holds is known
to be abandoned, however recent (``remove_stale_partials(..., unlocked=True)``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import WriteError

try:  # POSIX only: Windows refuses to delete a file another process holds open anyway
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["PARTIAL_SUFFIX", "atomic_write", "held_partial", "is_partial",
           "remove_stale_partials", "scratch_file", "write_bytes", "write_text"]

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


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _usual_permissions(fd: int, path: Path) -> None:
    """Give the temporary file the permissions the target would get from ``open()``:
    those of the file it replaces, else ``0o666`` less the umask (not ``mkstemp``'s
    owner-only ``0o600``: caches, results and images are meant to be shared)."""
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~_umask()
    with contextlib.suppress(OSError, AttributeError):
        os.fchmod(fd, mode)


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", *, encoding: str | None = None,
                 newline: str | None = None, tmp_dir=None, fsync: bool = True,
                 check=None) -> Iterator[IO]:
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
    check : callable, optional
        ``check(tmp_path)`` runs on the complete, flushed temporary file before it
        lands; whatever it raises aborts the write (nothing lands) and propagates.

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
    fd, tmp = _temporary_beside(path, tmp_dir)
    try:
        with _locked_handle(fd, path, mode, encoding, newline) as handle:
            yield handle
            _complete(handle, tmp, fsync, check)
            if not _CLOSE_BEFORE_RENAME:
                os.replace(tmp, path)  # the lock is held until the file has its name
        if _CLOSE_BEFORE_RENAME:
            os.replace(tmp, path)
    except OSError as exc:
        if isinstance(exc, WriteError):
            raise
        raise WriteError(path, _reason(exc)) from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _temporary_beside(path: Path, tmp_dir) -> tuple[int, Path]:
    """A new temporary file (descriptor, path) for :func:`atomic_write` of ``path``."""
    if path.is_dir():
        raise WriteError(path, "it is a folder")
    folder = Path(tmp_dir) if tmp_dir is not None else path.parent
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.",
                                   suffix=PARTIAL_SUFFIX)
    except OSError as exc:
        raise WriteError(path, _reason(exc)) from exc
    return fd, Path(tmp)


def _locked_handle(fd: int, path: Path, mode: str, encoding, newline) -> IO:
    """The temporary file's descriptor, locked ("a writer is alive"), with ``path``'s
    usual permissions, opened as a binary or text file object."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _usual_permissions(fd, path)
    if mode == "w":
        return os.fdopen(fd, "w", encoding=encoding or "utf-8", newline=newline)
    return os.fdopen(fd, "wb")


def _complete(handle: IO, tmp: Path, fsync: bool, check) -> None:
    """Flush the temporary file (to the device with ``fsync``), then run ``check``."""
    handle.flush()
    if fsync:
        os.fsync(handle.fileno())
    if check is not None:
        check(tmp)


#: Windows cannot rename a file that is still open.
_CLOSE_BEFORE_RENAME = sys.platform == "win32"


def held_partial(folder, name: str = "scratch"):
    """Create an empty temporary file in ``folder``, named and locked like
    :func:`atomic_write`'s, and return ``(open binary file, path)``.

    While the file object stays open, :func:`remove_stale_partials` leaves the file
    alone; once this process dies it is removed. The caller deletes it when done.
    """
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=PARTIAL_SUFFIX)
    except OSError as exc:
        raise WriteError(Path(folder) / name, _reason(exc)) from exc
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return os.fdopen(fd, "r+b"), Path(tmp)
    except OSError as exc:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise WriteError(tmp, _reason(exc)) from exc


@contextlib.contextmanager
def scratch_file(folder, data: bytes, *, name: str = "scratch") -> Iterator[Path]:
    """A temporary file holding ``data`` in ``folder``, removed when the block ends.

    Named and locked like :func:`atomic_write`'s temporaries, so that
    :func:`remove_stale_partials` leaves it alone while this process lives and removes
    it if the process is killed.
    """
    handle, tmp = held_partial(folder, name)
    try:
        with handle:
            handle.write(data)
            handle.flush()
            yield tmp
    except OSError as exc:
        if isinstance(exc, WriteError):
            raise
        raise WriteError(tmp, _reason(exc)) from exc
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


def _abandoned(path: Path) -> bool:
    """Whether no living writer holds the partial ``path`` (POSIX; False elsewhere)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # a writer holds it
    else:
        # the lock is ours: is the name still this file (not renamed meanwhile)?
        try:
            return os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False))
        except OSError:
            return False
    finally:
        os.close(fd)


def remove_stale_partials(folder, older_than: float = 3600.0, *,
                          recursive: bool = True, unlocked: bool = False) -> list[Path]:
    """Delete temporary files of :func:`atomic_write` that writers left behind.

    Only files named like ours (:func:`is_partial`) are considered, and of those only
    the ones not modified for ``older_than`` seconds or, with ``unlocked``, the non-empty
    ones no living writer holds (POSIX: the writer's :func:`fcntl.flock` died with it). A write
    still in progress in another process is left alone. Files the user put there are
    never touched.

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
            if not (is_partial(p) and p.is_file() and not p.is_symlink()):
                continue
            st = p.stat()
            # size 0: maybe just created, not yet locked by its writer (mkstemp, then flock)
            if now - st.st_mtime > older_than or (unlocked and st.st_size > 0
                                                   and _abandoned(p)):
                p.unlink()
                removed.append(p)
        except OSError:
            continue
    return removed
