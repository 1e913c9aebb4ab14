"""Query and path parameters as the server reads them, and the limits it enforces.

Every number on the wire is written with ASCII digits only: ``0-9``, an optional sign,
and for coordinates a decimal point and an exponent (``1.5``, ``-2e3``). Anything
``int()`` or ``float()`` would also accept (Unicode digits such as ``²``, ``①``,
fullwidth ``１`` or Arabic-Indic ``١``, underscores ``1_000``, surrounding blanks) is
refused with :class:`~napari_allen_sync.errors.InvalidParameterError`, which names the
parameter; the server answers it with HTTP 400.
"""

from __future__ import annotations

import math
import re
from urllib.parse import parse_qs

from ..errors import InvalidParameterError
from ..validation import MAX_ABS_COORDINATE

__all__ = [
    "MAX_COORDINATE_CHARS",
    "MAX_DOWNLOAD_PIXELS",
    "MAX_DOWNLOAD_SIDE",
    "MAX_DOWNSAMPLE",
    "MAX_HEAD_BYTES",
    "MAX_ID",
    "MAX_IDS",
    "MAX_OFFSET",
    "Params",
    "path_id",
]

#: Largest id accepted (ids are positive and below 10**18: they fit a signed 64-bit int).
MAX_ID = 10**18 - 1
#: Most ids in one id-list parameter (``section_data_set_ids``, ``section_image_ids``,
#: ``structure_ids``).
MAX_IDS = 10_000
#: Longest coordinate text (``%f`` of any coordinate an atlas has is far shorter).
MAX_COORDINATE_CHARS = 64
#: Largest image_download region side (``width``, ``height``), in tier pixels.
MAX_DOWNLOAD_SIDE = 8192
#: Largest image_download region (``width * height``), in tier pixels: 4096 x 4096, an
#: RGB buffer of 48 MiB.
MAX_DOWNLOAD_PIXELS = 4096 * 4096
#: Largest ``|left|`` and ``|top|`` of image_download, in full-resolution pixels.
MAX_OFFSET = 10**7
#: Largest request head (request line and headers), in bytes: a request naming the most
#: ids allowed (10,000 ids of up to 18 digits) fits. Larger: HTTP 431.
MAX_HEAD_BYTES = 256 * 1024
#: Largest ``downsample`` (a tier factor of 2**16).
MAX_DOWNSAMPLE = 16

_INT = re.compile(r"[+-]?[0-9]+")
_ID = re.compile(r"[0-9]+")
#: A list of ids of at most 18 digits each (all at most MAX_ID): read without checking
#: each id again; any other text goes through :func:`parse_id`, id by id.
_ID_LIST = re.compile(r"[0-9]{1,18}(?:,[0-9]{1,18})*")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NONFINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_ASCII = "ASCII digits 0-9 only"


def _show(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def parse_id(text: str, name: str) -> int:
    """A positive id written with ASCII digits, at most :data:`MAX_ID`."""
    if not _ID.fullmatch(text):
        raise InvalidParameterError(name, f"an id is an integer written with {_ASCII}, "
                                          f"got {_show(text)}")
    if len(text.lstrip("0")) > len(str(MAX_ID)) or int(text) > MAX_ID:
        raise InvalidParameterError(name, f"an id is at most {MAX_ID}, got {_show(text)}",
                                    limit=MAX_ID)
    return int(text)


def path_id(text: str, what: str) -> int:
    """The id in a request path (``what`` names it in the error)."""
    return parse_id(text, f"{what} id")


class Params:
    """Query parameters of one request, parsed as the Allen service reads them.

    Parameters
    ----------
    query_string : str
        The raw query string (percent-encoded).
    """

    def __init__(self, query_string: str):
        self.values = parse_qs(query_string, keep_blank_values=True)

    def __contains__(self, name) -> bool:
        return name in self.values

    def text(self, name: str, default: str | None = None) -> str:
        """The first value of ``name`` (``default`` if absent; missing is an error)."""
        values = self.values.get(name)
        if not values:
            if default is not None:
                return default
            raise InvalidParameterError(name, "missing")
        return values[0]

    def number(self, name: str) -> float:
        """A finite decimal number (``1``, ``-2.5``, ``3e4``) in ASCII."""
        text = self.text(name)
        if len(text) > MAX_COORDINATE_CHARS:
            raise InvalidParameterError(
                name, f"a number is at most {MAX_COORDINATE_CHARS} characters, got "
                      f"{len(text)}", limit=MAX_COORDINATE_CHARS)
        if _NONFINITE.fullmatch(text):
            raise InvalidParameterError(name, f"must be finite, got {_show(text)}")
        if not _FLOAT.fullmatch(text):
            raise InvalidParameterError(name, f"must be a number written with {_ASCII} "
                                              f"(and . e + -), got {_show(text)}")
        value = float(text)
        if not math.isfinite(value):
            raise InvalidParameterError(name, f"must be finite, got {_show(text)}")
        if abs(value) > MAX_ABS_COORDINATE:
            raise InvalidParameterError(name, f"is out of range: |value| is at most "
                                              f"{MAX_ABS_COORDINATE:g}, got {_show(text)}")
        return value

    def integer(self, name: str, default: int | None = None, *, low: int, high: int) -> int:
        """An integer in ``low..high`` written with ASCII digits (``default`` if absent)."""
        if default is not None and name not in self.values:
            return default
        text = self.text(name)
        if not _INT.fullmatch(text):
            raise InvalidParameterError(name, f"must be an integer written with {_ASCII}, "
                                              f"got {_show(text)}")
        digits = text.lstrip("+-").lstrip("0")
        if len(digits) > max(len(str(abs(low))), len(str(abs(high)))) or \
                not low <= int(text) <= high:
            raise InvalidParameterError(name, f"must be {low}..{high}, got {_show(text)}",
                                        limit=high)
        return int(text)

    def identifier(self, name: str) -> int:
        """One id (``atlas_id``)."""
        return parse_id(self.text(name), name)

    def id_list(self, name: str) -> list[int]:
        """Ids joined by commas (at most :data:`MAX_IDS`)."""
        text = self.text(name)
        if not text:
            raise InvalidParameterError(name, "is empty: name at least one id")
        if text.count(",") >= MAX_IDS:
            raise InvalidParameterError(
                name, f"at most {MAX_IDS} ids in one request, got {text.count(',') + 1}",
                limit=MAX_IDS)
        if _ID_LIST.fullmatch(text):  # the common case at C speed: ids of <= 18 digits
            return list(map(int, text.split(",")))
        out = []
        for part in text.split(","):
            if not _ID.fullmatch(part):
                raise InvalidParameterError(
                    name, f"must be ids written with {_ASCII}, joined by commas; "
                          f"got {_show(part)} in {_show(text)}")
            out.append(parse_id(part, name))
        return out
