"""The package's own exception types.

Every error a user can act on is raised as a subclass of :class:`AllenSyncError`
and names the id, value, file, field or URL at fault. Several also derive from the
matching built-in (``KeyError``, ``ValueError``) so that generic code can catch them.
"""

from __future__ import annotations

__all__ = [
    "AllenSyncError",
    "AnnotationError",
    "AnnotationPendingError",
    "CacheError",
    "CatalogFormatError",
    "InvalidCoordinateError",
    "InvalidIdListError",
    "InvalidParameterError",
    "MissingAlignmentError",
    "NoUsableImagesError",
    "NotServedError",
    "PointsFileError",
    "ServerBusyError",
    "ServiceError",
    "ServiceTimeoutError",
    "ServiceUnavailableError",
    "UnknownIdError",
    "UsageError",
    "WriteError",
]


class AllenSyncError(Exception):
    """Base class of every error raised by napari-allen-sync."""


class CatalogFormatError(AllenSyncError, ValueError):
    """A catalog file or record is malformed.

    Parameters
    ----------
    message : str
        What is wrong.
    path : str, optional
        The file at fault.
    record_id : int, optional
        The id of the record at fault, when it has one.
    field : str, optional
        The field at fault.
    """

    def __init__(self, message, *, path=None, record_id=None, field=None):
        self.path = None if path is None else str(path)
        self.record_id = record_id
        self.field = field
        where = []
        if self.path is not None:
            where.append(f"file {self.path}")
        if record_id is not None:
            where.append(f"record id {record_id}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message)


class UnknownIdError(AllenSyncError, KeyError):
    """An id names no record of the expected kind in the catalog.

    Parameters
    ----------
    kind : str
        The Allen model that was looked up (``"SectionImage"``, ``"Atlas"``, ...).
    value : object
        The id that was not found.
    hint : str, optional
        What to do next.
    """

    def __init__(self, kind, value, hint=""):
        self.kind = kind
        self.value = value
        self.hint = hint
        super().__init__(kind, value)

    def __str__(self):
        text = f"unknown {self.kind} id {self.value!r}"
        return f"{text}: {self.hint}" if self.hint else text


class InvalidCoordinateError(AllenSyncError, ValueError):
    """A coordinate is NaN, infinite, out of range or not a number."""


class InvalidIdListError(AllenSyncError, ValueError):
    """An id or id list is empty, of the wrong type or malformed."""


class MissingAlignmentError(AllenSyncError):
    """A data set or image lacks the alignment a synchronization needs."""


class NoUsableImagesError(AllenSyncError):
    """A data set has no image that can be synchronized (all failed or unaligned)."""


class CacheError(AllenSyncError):
    """The on-disk cache cannot be read or written."""


class ServiceError(AllenSyncError):
    """The Allen service (or a compatible server) answered with an error or garbage.

    Parameters
    ----------
    message : str
        The service's own message, or a description of what was wrong with the answer.
    url : str, optional
        The URL that was requested.
    status : int, optional
        The HTTP status code, when an answer arrived.
    """

    def __init__(self, message, *, url=None, status=None):
        self.message = message
        self.url = url
        self.status = status
        text = message
        if status is not None:
            text = f"{text} (HTTP {status})"
        if url is not None:
            text = f"{text} [{url}]"
        super().__init__(text)


class ServiceUnavailableError(ServiceError):
    """The service could not be reached (connection refused, reset, DNS failure)."""


class ServiceTimeoutError(ServiceError):
    """The service did not answer within the configured timeout."""


class WriteError(AllenSyncError, OSError):
    """A file could not be written (missing folder, a folder in its place, no permission,
    disk full). Nothing was written: see :func:`napari_allen_sync.atomic.atomic_write`.

    Parameters
    ----------
    path : path-like
        The file that was to be written.
    reason : str
        What went wrong, in words a user can act on.
    """

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot write {path}: {reason}")


class InvalidParameterError(AllenSyncError, ValueError):
    """A request parameter is missing, malformed or beyond its limit (the server answers
    HTTP 400 naming the parameter).

    Parameters
    ----------
    parameter : str
        The query or path parameter at fault (``"x"``, ``"section_data_set_ids"``, ...).
    message : str
        What is wrong with it, and what is accepted.
    limit : int, optional
        The limit that was exceeded, when one was.
    """

    def __init__(self, parameter, message, *, limit=None):
        self.parameter = parameter
        self.limit = limit
        super().__init__(f"parameter {parameter}: {message}")


class NotServedError(AllenSyncError, LookupError):
    """A path, service, model or kind of answer the server does not serve (HTTP 404)."""


class ServerBusyError(AllenSyncError):
    """The server is at its limit of concurrent heavy requests (HTTP 503 with
    ``Retry-After``)."""

    def __init__(self, message, *, retry_after=1):
        self.retry_after = int(retry_after)
        super().__init__(message)


class UsageError(AllenSyncError, ValueError):
    """A command was called with arguments that cannot work together (a missing option
    for the chosen operation, an output file that is the input file). The command line
    exits with status 2 for it, as for its own usage errors."""


class PointsFileError(InvalidCoordinateError):
    """A points file (CSV or ``.npy``) cannot be read as points.

    Parameters
    ----------
    path : str
        The file (``"-"`` or ``"<stdin>"`` for standard input).
    reason : str
        What is wrong, in words a user can act on.
    line : int, optional
        The 1-based line of a text file at fault.
    """

    def __init__(self, path, reason, *, line=None):
        self.path = str(path)
        self.reason = reason
        self.line = line
        where = self.path if line is None else f"{self.path}, line {line}"
        super().__init__(f"{where}: {reason}")


class AnnotationError(AllenSyncError, ValueError):
    """An annotation volume (CCFv3 structure ids) is damaged, of the wrong shape, or
    not served where it was looked for.

    Parameters
    ----------
    reason : str
        What is wrong, in words a user can act on.
    where : str or path-like, optional
        The URL or file at fault.
    """

    def __init__(self, reason, *, where=None):
        self.reason = reason
        self.where = None if where is None else str(where)
        super().__init__(reason if where is None else f"{reason} [{where}]")


class AnnotationPendingError(AnnotationError):
    """The annotation volume is being fetched right now (by another thread, e.g. the
    dock's download in the activity dock): a structure lookup that does not wait says
    so instead of blocking until the transfer ends."""
