"""User preferences of the remote source: API base URL, cache folder, timeouts, retries,
and the annotation volume (its resolution and where it is downloaded from).

:class:`Preferences` is the validated, immutable form of the settings that the napari
plugin declares in its manifest (``contributions.configurations``, key
:data:`CONFIGURATION_KEY`) and that napari shows in its Preferences dialog. It lives in
the core (no napari, no Qt) so that scripts and tests can build the same
:class:`~napari_allen_sync.remote.RemoteSource` the plugin builds::

    prefs = Preferences(api_base_url="http://127.0.0.1:8765", read_timeout_s=60)
    source = RemoteSource(**prefs.remote_source_kwargs())

Reading the napari settings is the job of :mod:`napari_allen_sync._napari.preferences`.
Scripts and the command line can keep a set in a JSON file (:meth:`Preferences.save`,
written atomically, and :meth:`Preferences.load`, validated).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from numbers import Integral, Real
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import atomic
from .annotation import DEFAULT_DOWNLOAD_BASE_URL, DEFAULT_RESOLUTION_UM, RESOLUTIONS_UM
from .client import DEFAULT_BASE_URI, DEFAULT_DEADLINE, DEFAULT_TIMEOUT
from .errors import AllenSyncError

__all__ = [
    "CONFIGURATION_KEY",
    "DEFAULT_RETRIES",
    "LIMITS",
    "TITLES",
    "InvalidPreferenceError",
    "Preferences",
]

#: Key of the configuration contribution in ``napari.yaml`` (``get_plugin_settings(
#: 'napari-allen-sync').allensync``). One word: napari reads environment overrides named
#: ``NAPARI_<KEY>_<PROPERTY>`` (split at the first underscore), so the key must hold no
#: underscore and should be unlikely to clash with another plugin's.
CONFIGURATION_KEY = "allensync"
#: Retries of a request after a connection error or a 5xx (as ``RemoteSource``).
DEFAULT_RETRIES = 3
#: Inclusive (minimum, maximum) of each numeric setting; the manifest declares the same.
LIMITS: dict[str, tuple[float, float]] = {
    "connect_timeout_s": (0.1, 60.0),
    "read_timeout_s": (1.0, 300.0),
    "retries": (0, 10),
}
#: What each setting is called in napari's Preferences dialog (for messages).
TITLES = {
    "api_base_url": "API base URL",
    "cache_dir": "Cache folder",
    "connect_timeout_s": "Connect timeout (s)",
    "read_timeout_s": "Read timeout (s)",
    "retries": "Retries",
    "annotation_resolution": "Annotation resolution (µm)",
    "annotation_base_url": "Annotation download URL",
}


class InvalidPreferenceError(AllenSyncError, ValueError):
    """A preference has a value that cannot be used.

    Parameters
    ----------
    setting : str
        The setting at fault (a :class:`Preferences` field, e.g. ``"read_timeout_s"``).
    value : object
        The value that was refused.
    reason : str
        What is wrong and what is allowed.

    Attributes
    ----------
    setting, value, reason
        As given.
    """

    def __init__(self, setting: str, value: Any, reason: str):
        self.setting = setting
        self.value = value
        self.reason = reason
        title = TITLES.get(setting)
        name = f"{setting} ({title})" if title else setting
        super().__init__(f"preference {name} = {value!r}: {reason}")


def _url(value: Any, setting: str = "api_base_url", example: str = DEFAULT_BASE_URI) -> str:
    if not isinstance(value, str):
        raise InvalidPreferenceError(setting, value, "must be a string")
    text = value.strip()
    if not text:
        raise InvalidPreferenceError(setting, value, "must not be empty")
    if any(c.isspace() for c in text):
        raise InvalidPreferenceError(setting, value, "must not contain spaces")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as exc:
        raise InvalidPreferenceError(setting, value, f"is not a URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidPreferenceError(
            setting, value, f"must begin with http:// or https://, e.g. {example}")
    if not parts.hostname:
        raise InvalidPreferenceError(setting, value, "has no host name")
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise InvalidPreferenceError(setting, value,
                                     "must not have a query (?) or fragment (#)")
    if parts.username is not None or parts.password is not None:
        raise InvalidPreferenceError(setting, value, "must not contain a user name")
    return scheme + text[len(parts.scheme):].rstrip("/")


def _download_url(value: Any) -> str:
    """The annotation download server: empty for "automatic", else an http(s) URL."""
    if isinstance(value, str) and not value.strip():
        return ""
    return _url(value, "annotation_base_url", DEFAULT_DOWNLOAD_BASE_URL)


def _resolution(value: Any) -> int:
    """One of Allen's voxel sizes, as an int (napari's dropdown gives the text "25")."""
    allowed = ", ".join(str(r) for r in RESOLUTIONS_UM)
    out = None
    if isinstance(value, Integral) and not isinstance(value, bool):
        out = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        out = int(value.strip())
    elif isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(
            float(value)) and float(value).is_integer():
        out = int(value)
    if out not in RESOLUTIONS_UM:
        raise InvalidPreferenceError(
            "annotation_resolution", value,
            f"must be one of {allowed} µm (the voxel sizes Allen publishes)")
    return out


def _folder(value: Any) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise InvalidPreferenceError("cache_dir", value, "must be a string (a folder path)")
    text = value.strip()
    if not text:
        return ""
    if "\x00" in text:
        raise InvalidPreferenceError("cache_dir", value, "must not contain a NUL character")
    if not Path(text).expanduser().is_absolute():
        raise InvalidPreferenceError(
            "cache_dir", value, "must be an absolute folder (~ allowed), or empty for the "
            "default")
    return text


def _number(name: str, value: Any) -> float:
    lo, hi = LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidPreferenceError(name, value, "must be a number of seconds")
    out = float(value)
    if not math.isfinite(out):
        raise InvalidPreferenceError(name, value, "must be a finite number of seconds")
    if not lo <= out <= hi:
        raise InvalidPreferenceError(name, value, f"must be between {lo:g} and {hi:g} seconds")
    return out


def _count(name: str, value: Any) -> int:
    lo, hi = LIMITS[name]
    if isinstance(value, bool):
        raise InvalidPreferenceError(name, value, "must be a whole number")
    if isinstance(value, Integral):
        out = int(value)
    elif isinstance(value, Real) and math.isfinite(float(value)) and float(value).is_integer():
        out = int(value)
    else:
        raise InvalidPreferenceError(name, value, "must be a whole number")
    if not lo <= out <= hi:
        raise InvalidPreferenceError(name, value, f"must be between {lo:g} and {hi:g}")
    return out


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "api_base_url": _url,
    "cache_dir": _folder,
    "connect_timeout_s": lambda v: _number("connect_timeout_s", v),
    "read_timeout_s": lambda v: _number("read_timeout_s", v),
    "retries": lambda v: _count("retries", v),
    "annotation_resolution": _resolution,
    "annotation_base_url": _download_url,
}


@dataclass(frozen=True)
class Preferences:
    """The settings of the remote source, validated.

    Values are checked and normalized on construction (a trailing ``/`` of the URL is
    dropped, numbers become ``float``/``int``); a bad value raises
    :class:`InvalidPreferenceError` naming the setting.

    Parameters
    ----------
    api_base_url : str
        Scheme and host (optionally a path prefix) of the Allen Brain Atlas API or of a
        compatible server; ``http://`` or ``https://``. Default
        :data:`~napari_allen_sync.client.DEFAULT_BASE_URI`.
    cache_dir : str
        Absolute cache folder (``~`` allowed), or ``""`` for
        :func:`~napari_allen_sync.cache.default_cache_dir` (``$NAPARI_ALLEN_SYNC_CACHE``
        or the user cache folder), resolved when the source is created.
    connect_timeout_s : float
        Seconds to wait for a connection, within :data:`LIMITS`. Default
        ``DEFAULT_TIMEOUT[0]``.
    read_timeout_s : float
        Seconds to wait for data, within :data:`LIMITS`. Default ``DEFAULT_TIMEOUT[1]``.
    retries : int
        Retries after a connection error or a 5xx, within :data:`LIMITS`. Default
        :data:`DEFAULT_RETRIES`.
    annotation_resolution : int
        Voxel size (µm) of the CCFv3 annotation volume that names the structure at a
        point: one of :data:`~napari_allen_sync.annotation.RESOLUTIONS_UM` (the text
        ``"25"`` is accepted). Default
        :data:`~napari_allen_sync.annotation.DEFAULT_RESOLUTION_UM`; 10 µm is a large
        download, 100 µm coarse.
    annotation_base_url : str
        Scheme and host serving the volume under Allen's path layout
        (:data:`~napari_allen_sync.annotation.ANNOTATION_PATH`), or ``""`` (default)
        for automatic: Allen's download server
        (:data:`~napari_allen_sync.annotation.DEFAULT_DOWNLOAD_BASE_URL`) with the Allen
        API, else the API server itself (``napari-allen-sync serve`` serves it).

    Raises
    ------
    InvalidPreferenceError
        When a value is of the wrong type, out of range, NaN, or a URL is not
        ``http(s)://host``.

    Examples
    --------
    >>> Preferences(api_base_url="http://127.0.0.1:8765/").api_base_url
    'http://127.0.0.1:8765'
    >>> Preferences(read_timeout_s=-1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    napari_allen_sync.preferences.InvalidPreferenceError: preference read_timeout_s ...
    """

    api_base_url: str = DEFAULT_BASE_URI
    cache_dir: str = ""
    connect_timeout_s: float = DEFAULT_TIMEOUT[0]
    read_timeout_s: float = DEFAULT_TIMEOUT[1]
    retries: int = DEFAULT_RETRIES
    annotation_resolution: int = DEFAULT_RESOLUTION_UM
    annotation_base_url: str = ""

    def __post_init__(self):
        for name, check in _CHECKS.items():
            object.__setattr__(self, name, check(getattr(self, name)))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The settings, in declaration order (the manifest's property keys)."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def check(cls, name: str, value: Any) -> Any:
        """Validate and normalize one setting.

        Parameters
        ----------
        name : str
            A field of :class:`Preferences`.
        value : object
            The candidate value.

        Returns
        -------
        object
            The normalized value.

        Raises
        ------
        InvalidPreferenceError
            When the value cannot be used.
        KeyError
            When ``name`` is not a setting.
        """
        return _CHECKS[name](value)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *,
                     on_invalid: Callable[[InvalidPreferenceError], None] | None = None,
                     ) -> Preferences:
        """Preferences from a mapping of setting name to value (e.g. napari's settings).

        Parameters
        ----------
        values : mapping
            Setting names to values; missing settings take their default, unknown keys
            are ignored.
        on_invalid : callable, optional
            When given, a bad value is replaced by its setting's default and
            ``on_invalid(error)`` is called; otherwise the error is raised.

        Returns
        -------
        Preferences

        Raises
        ------
        InvalidPreferenceError
            A bad value, when ``on_invalid`` is not given.
        """
        defaults = cls()
        kwargs = {}
        for name in cls.names():
            if name not in values:
                continue
            try:
                kwargs[name] = cls.check(name, values[name])
            except InvalidPreferenceError as exc:
                if on_invalid is None:
                    raise
                on_invalid(exc)
                kwargs[name] = getattr(defaults, name)
        return cls(**kwargs)

    @property
    def timeout(self) -> tuple[float, float]:
        """``(connect, read)`` timeouts in seconds, as ``AllenApi`` takes them."""
        return (self.connect_timeout_s, self.read_timeout_s)

    @property
    def deadline(self) -> float:
        """Total seconds one call may take: :data:`~napari_allen_sync.client.DEFAULT_DEADLINE`,
        raised when needed so that one attempt always gets its full timeouts."""
        return max(DEFAULT_DEADLINE, self.connect_timeout_s + self.read_timeout_s)

    def resolved_cache_dir(self) -> Path | None:
        """The cache folder with ``~`` expanded, or None for the default."""
        return Path(self.cache_dir).expanduser() if self.cache_dir else None

    def remote_source_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~napari_allen_sync.remote.RemoteSource`.

        Returns
        -------
        dict
            ``base_uri`` (None for :data:`~napari_allen_sync.client.DEFAULT_BASE_URI`, so
            that the source keeps its name "Allen Brain Atlas API"), ``cache_dir`` (None
            for the default), ``timeout`` (connect, read), ``retries`` and ``deadline``
            (see :attr:`deadline`), ``annotation_resolution`` and ``annotation_base_url``
            (None for automatic).

        Examples
        --------
        >>> from napari_allen_sync.remote import RemoteSource
        >>> source = RemoteSource(**Preferences().remote_source_kwargs())  # doctest: +SKIP
        """
        return {
            "base_uri": None if self.api_base_url == DEFAULT_BASE_URI else self.api_base_url,
            "cache_dir": self.resolved_cache_dir(),
            "timeout": self.timeout,
            "retries": self.retries,
            "deadline": self.deadline,
            "annotation_resolution": self.annotation_resolution,
            "annotation_base_url": self.annotation_base_url or None,
        }

    def to_mapping(self) -> dict[str, Any]:
        """The settings as a plain dict (JSON-able), in :meth:`names` order."""
        return {name: getattr(self, name) for name in self.names()}

    def save(self, path) -> Path:
        """Write the settings to a JSON file, all or nothing
        (:func:`~napari_allen_sync.atomic.atomic_write`).

        Raises
        ------
        WriteError
            The folder is missing or read-only, or the disk is full; the old file, if
            any, is untouched.
        """
        path = Path(path)
        atomic.write_text(path, json.dumps(self.to_mapping(), indent=1, ensure_ascii=False)
                          + "\n")
        return path

    @classmethod
    def load(cls, path) -> Preferences:
        """Read settings written by :meth:`save` (or by hand), validated.

        Missing settings take their default; unknown keys are ignored.

        Raises
        ------
        InvalidPreferenceError
            The file cannot be read, is not a JSON object (``setting`` is ``"file"``),
            or a value cannot be used (``setting`` names it).
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidPreferenceError("file", str(path),
                                         f"cannot be read ({exc.strerror or exc})") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidPreferenceError("file", str(path), f"is not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise InvalidPreferenceError("file", str(path), "must hold a JSON object of "
                                         "settings")
        return cls.from_mapping(data)
