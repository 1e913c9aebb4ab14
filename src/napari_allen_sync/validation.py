"""Checks on what callers hand the engine: coordinates and ids.

Bad input raises the package's own errors naming the parameter and the value; it never
becomes a wrong number.

Rules (each tested in ``tests/core/test_bad_input.py``):

- Coordinates are real numbers (integer or float dtypes). Strings, ``None``, booleans,
  complex numbers, dates and other objects are refused, never converted.
- NaN and ±inf are refused (:class:`InvalidCoordinateError` "must be finite", with the
  position of the first such value), as are magnitudes above :data:`MAX_ABS_COORDINATE`.
- Masked arrays (:mod:`numpy.ma`): a masked value is refused with the position of the
  first masked element, because the value under the mask is not data. A masked array
  with nothing masked is used as its plain data.
- The coordinates of one call must have the same shape: ``x`` of shape (2, 3) with ``y``
  of shape (3, 2) is refused, not flattened into six points. Equal N-d shapes are
  flattened in C order into N points.
- A batch of zero points is valid (its answer is empty). The one-point (Allen) forms need
  exactly one number per coordinate.

Every :class:`InvalidCoordinateError` raised here for one value carries the attributes
``parameter`` (the name), ``index`` (flat position, or None) and ``value``, so that a
caller processing a large input in chunks can report the absolute point number.
"""

from __future__ import annotations

import numbers

import numpy as np

from .errors import InvalidCoordinateError, InvalidIdListError

__all__ = [
    "MAX_ABS_COORDINATE",
    "as_coordinates",
    "as_id",
    "as_id_array",
    "as_id_list",
    "as_one_coordinate",
    "as_points",
]

#: Largest magnitude accepted for a pixel or micron coordinate. The brain is ~13 mm
#: long and images ~10⁴–10⁵ pixels wide; beyond 10⁹ a float64 no longer resolves
#: 1e-6 px, so larger values are rejected as out of range rather than answered
#: imprecisely.
MAX_ABS_COORDINATE = 1e9


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _coordinate_error(message, name, index=None, value=None) -> InvalidCoordinateError:
    err = InvalidCoordinateError(message)
    err.parameter = name
    err.index = index
    err.value = value
    return err


def _numeric(name: str, values) -> np.ndarray:
    """``values`` as a float64 array of its own shape (not yet checked for finiteness)."""
    if isinstance(values, str | bytes) or isinstance(values, bool | np.bool_):
        raise _coordinate_error(f"{name} must be numbers, got {_short(values)}", name,
                                value=values)
    if np.ma.isMaskedArray(values):
        mask = np.ma.getmaskarray(values)
        if mask.any():
            where = int(np.flatnonzero(mask.reshape(-1))[0])
            raise _coordinate_error(
                f"{name} is masked at position {where} ({int(mask.sum())} masked values): "
                "a masked value is not data; drop or fill the masked points first",
                name, where)
        values = np.ma.getdata(values)
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise _coordinate_error(f"{name} must be numbers, got {_short(values)}", name,
                                value=values) from exc
    if arr.dtype == object or arr.dtype.kind not in "iuf":
        kind = {"b": "booleans", "c": "complex numbers", "M": "dates", "m": "time spans",
                "U": "text", "S": "bytes"}.get(arr.dtype.kind)
        got = f"{kind} ({arr.dtype})" if kind else _short(values)
        raise _coordinate_error(f"{name} must be numbers, got {got}", name, value=values)
    return np.asarray(arr, dtype=np.float64)


def _checked(name: str, arr: np.ndarray) -> np.ndarray:
    """A flat contiguous copy-or-view of ``arr``, checked for finiteness and range."""
    arr = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1)
    if arr.size and not np.isfinite(arr).all():
        where = int(np.flatnonzero(~np.isfinite(arr))[0])
        bad = float(arr[where])
        raise _coordinate_error(
            f"{name} must be finite, got {bad!r} at position {where}", name, where, bad)
    if arr.size and np.abs(arr).max() > MAX_ABS_COORDINATE:
        where = int(np.flatnonzero(np.abs(arr) > MAX_ABS_COORDINATE)[0])
        bad = float(arr[where])
        raise _coordinate_error(
            f"{name} is out of range: {bad!r} at position {where} "
            f"(|value| must be at most {MAX_ABS_COORDINATE:g})", name, where, bad)
    return arr


def as_coordinates(name: str, values) -> np.ndarray:
    """A 1-D float64 array of finite coordinates, or an :class:`InvalidCoordinateError`.

    Parameters
    ----------
    name : str
        The parameter's name, for the error message.
    values : scalar or array-like
        The coordinates (flattened in C order). See the module docstring for what is
        refused; an empty input gives an empty array.
    """
    return _checked(name, _numeric(name, values))


def as_points(**coordinates) -> tuple[np.ndarray, ...]:
    """Several coordinates of the same points (``x=..., y=..., z=...``), checked together.

    Returns
    -------
    tuple of numpy.ndarray
        One flat float64 array per keyword, in the order given, all of one length.

    Raises
    ------
    InvalidCoordinateError
        A coordinate fails :func:`as_coordinates`, or the shapes differ (``x`` of shape
        (2, 3) with ``y`` of shape (3, 2) is refused, not flattened).
    """
    arrays = {name: _numeric(name, v) for name, v in coordinates.items()}
    names = list(arrays)
    first = arrays[names[0]].shape
    for name in names[1:]:
        shape = arrays[name].shape
        if shape != first:
            if len(first) == len(shape) == 1:
                detail = f"the same length, got {first[0]} and {shape[0]}"
            else:
                detail = f"the same shape, got {first} and {shape}"
            raise _coordinate_error(f"{names[0]} and {name} must have {detail}", name)
    return tuple(_checked(name, arr) for name, arr in arrays.items())


def as_one_coordinate(name: str, value) -> float:
    """Exactly one finite number (the one-point Allen forms), or an error.

    A scalar or a one-element array is accepted; zero or several values are refused
    (the batch forms take many points).
    """
    arr = as_coordinates(name, value)
    if arr.size != 1:
        raise _coordinate_error(
            f"{name} must be one number, got {arr.size} values"
            + ("" if arr.size else " (empty)")
            + "; use the *_batch form for many points", name)
    return float(arr[0])


def as_id(name: str, value) -> int:
    """An Allen id as a Python int, or an :class:`InvalidIdListError`."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        if isinstance(value, float | np.floating) and float(value).is_integer():
            return int(value)
        raise InvalidIdListError(f"{name} must be an integer id, got {_short(value)}")
    return int(value)


def as_id_list(name: str, values) -> list[int]:
    """A non-empty list of Allen ids, or an :class:`InvalidIdListError`.

    A bare id, a string or an empty list is refused with a message saying so; a None or
    a masked element is refused naming its position (``name[k]``).
    """
    if isinstance(values, str | bytes):
        raise InvalidIdListError(
            f"{name} must be a list of ids, got the string {_short(values)}")
    if isinstance(values, numbers.Number) or isinstance(values, np.generic):
        raise InvalidIdListError(
            f"{name} must be a list of ids, got {values!r}; write [{values!r}]"
        )
    if isinstance(values, np.ndarray) and values.ndim == 0:
        raise InvalidIdListError(f"{name} must be a list of ids, got a 0-d array {values!r}")
    if np.ma.isMaskedArray(values):
        mask = np.ma.getmaskarray(values).reshape(-1)
        if mask.any():
            raise InvalidIdListError(f"{name}[{int(np.flatnonzero(mask)[0])}] is masked")
        values = np.ma.getdata(values)
    try:
        items = list(values)
    except TypeError:
        raise InvalidIdListError(f"{name} must be a list of ids, got {_short(values)}") from None
    if not items:
        raise InvalidIdListError(f"{name} is empty: name at least one id")
    return [as_id(f"{name}[{k}]", v) for k, v in enumerate(items)]


def as_id_array(name: str, values, n: int) -> np.ndarray:
    """One Allen id per point: an int64 array of length ``n``, or an error.

    Integer dtypes are taken as they are; floats must be whole and finite; object arrays
    are checked element by element (a None names its position). Booleans, strings and
    masked elements are refused.

    Raises
    ------
    InvalidIdListError
        Naming ``name[k]`` for the first bad element, or the shape.
    """
    if np.ma.isMaskedArray(values):
        mask = np.ma.getmaskarray(values).reshape(-1)
        if mask.any():
            raise InvalidIdListError(f"{name}[{int(np.flatnonzero(mask)[0])}] is masked")
        values = np.ma.getdata(values)
    arr = np.asarray(values)
    if arr.ndim == 0 or arr.size != n:
        raise InvalidIdListError(
            f"{name} must be one id or one id per point ({n}), got shape {arr.shape}")
    flat = arr.reshape(-1)
    kind = flat.dtype.kind
    if kind in "iu":
        return flat.astype(np.int64, copy=False)
    if kind == "f":
        bad = ~(np.isfinite(flat) & (flat == np.round(flat)))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise InvalidIdListError(f"{name}[{k}] must be an integer id, got {flat[k]!r}")
        return flat.astype(np.int64)
    if kind == "O":
        return np.array([as_id(f"{name}[{k}]", v) for k, v in enumerate(flat)], dtype=np.int64)
    raise InvalidIdListError(f"{name} must be integer ids, got {flat.dtype} values")
