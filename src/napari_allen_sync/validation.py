"""Checks on what callers hand the engine: coordinates and ids.

Bad input raises the package's own errors naming the parameter and the value; it never
becomes a wrong number.
"""

from __future__ import annotations

import numbers

import numpy as np

from .errors import InvalidCoordinateError, InvalidIdListError

__all__ = ["MAX_ABS_COORDINATE", "as_coordinates", "as_id", "as_id_list"]

#: Largest magnitude accepted for a pixel or micron coordinate. The brain is ~13 mm
#: long and images ~10⁴–10⁵ pixels wide; beyond 10⁹ a float64 no longer resolves
#: 1e-6 px, so larger values are rejected as out of range rather than answered
#: imprecisely.
MAX_ABS_COORDINATE = 1e9


def as_coordinates(name: str, values) -> np.ndarray:
    """A 1-D float64 array of finite coordinates, or an :class:`InvalidCoordinateError`.

    Parameters
    ----------
    name : str
        The parameter's name, for the error message.
    values : scalar or array-like
        The coordinates.
    """
    if isinstance(values, str | bytes) or isinstance(values, bool | np.bool_):
        raise InvalidCoordinateError(f"{name} must be a number, got {values!r}")
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise InvalidCoordinateError(f"{name} must be numbers, got {values!r:.80}") from exc
    if arr.dtype == object or arr.dtype.kind not in "iuf":
        raise InvalidCoordinateError(f"{name} must be numbers, got {values!r:.80}")
    arr = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1)
    if arr.size and not np.isfinite(arr).all():
        bad = arr[~np.isfinite(arr)][0]
        where = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise InvalidCoordinateError(f"{name} must be finite, got {bad!r} at position {where}")
    if arr.size and np.abs(arr).max() > MAX_ABS_COORDINATE:
        where = int(np.argmax(np.abs(arr)))
        raise InvalidCoordinateError(
            f"{name} is out of range: {arr[where]!r} at position {where} "
            f"(|value| must be at most {MAX_ABS_COORDINATE:g})"
        )
    return arr


def as_id(name: str, value) -> int:
    """An Allen id as a Python int, or an :class:`InvalidIdListError`."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        if isinstance(value, float | np.floating) and float(value).is_integer():
            return int(value)
        raise InvalidIdListError(f"{name} must be an integer id, got {value!r}")
    return int(value)


def as_id_list(name: str, values) -> list[int]:
    """A non-empty list of Allen ids, or an :class:`InvalidIdListError`.

    A bare id, a string or an empty list is refused with a message saying so.
    """
    if isinstance(values, str | bytes):
        raise InvalidIdListError(f"{name} must be a list of ids, got the string {values!r}")
    if isinstance(values, numbers.Number) or isinstance(values, np.generic):
        raise InvalidIdListError(
            f"{name} must be a list of ids, got {values!r}; write [{values!r}]"
        )
    try:
        items = list(values)
    except TypeError:
        raise InvalidIdListError(f"{name} must be a list of ids, got {values!r}") from None
    if not items:
        raise InvalidIdListError(f"{name} is empty: name at least one id")
    return [as_id(f"{name}[{k}]", v) for k, v in enumerate(items)]
