"""Tables in and out: the package's one CSV writer, and the points reader of ``sync``.

Writing
-------
Every CSV the package writes (``sync`` results, the click history, a batch of points)
goes through :func:`write_rows` (a sequence of mappings, e.g. the history) or
:func:`write_columns` (named 1-D arrays, or an iterable of such chunks for tables too
large for memory). Both write through :func:`napari_allen_sync.atomic.atomic_write`, so
a failure half-way leaves no file (and the old one untouched), or to an open text file
such as ``sys.stdout``.

One cell format everywhere (:func:`format_cell`):

- floats: Python's shortest repr that reads back to the same float64 (``0.1``,
  ``1e-05``, ``6825.000000000001``) — coordinates are never rounded; non-finite values
  are written ``nan``, ``inf``, ``-inf``;
- integers in decimal; booleans ``True``/``False``; ``None`` as an empty cell;
- text as it is (quoted by the csv module where needed);
- NumPy scalars as the Python value they hold.

Reading
-------
:func:`read_points` reads an ``(N, 2)`` or ``(N, 3)`` table of points from a CSV file,
a ``.npy`` file (memory-mapped) or standard input (either format, recognised by its
first bytes). Its rules are in its docstring; every refusal is a
:class:`~napari_allen_sync.errors.PointsFileError` naming the file and, for text, the
line.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_write
from .errors import PointsFileError

__all__ = [
    "NPY_MAGIC",
    "PointsInput",
    "format_cell",
    "read_points",
    "same_file",
    "write_columns",
    "write_json_records",
    "write_rows",
]

#: The first bytes of every NumPy ``.npy`` file.
NPY_MAGIC = b"\x93NUMPY"
#: Rows turned into Python cells at once when writing.
BLOCK = 65_536
#: The csv module's limit on one field (characters); longer fields are refused.
FIELD_LIMIT = csv.field_size_limit()


# ====================================================================== writing
def format_cell(value):
    """A value as the package writes it into a CSV cell (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return repr(value)
    return value


@contextlib.contextmanager
def _opened(target) -> Iterator:
    """A text handle on ``target``: an open file as it is, a path through atomic_write."""
    if hasattr(target, "write"):
        yield target
        return
    with atomic_write(target, "w", encoding="utf-8", newline="") as handle:
        yield handle


def _column_list(values, n: int) -> list:
    """One column as a list of cells (Python values the csv module formats as
    :func:`format_cell` does)."""
    arr = np.asarray(values)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"column of shape {arr.shape}, expected ({n},)")
    if arr.dtype.kind in "biuf":
        return arr.tolist()  # Python floats: the csv module writes repr(float)
    return [format_cell(v) for v in arr.tolist()]


def write_columns(target, columns, fieldnames: Sequence[str] | None = None) -> int:
    """Write named columns as CSV, with a header row.

    Parameters
    ----------
    target : path-like or text file
        A path is written atomically; an open file (``sys.stdout``) is written to.
    columns : mapping or iterable of mappings
        ``{name: 1-D array-like}`` of equal lengths, or an iterable of such chunks
        written one after the other (tables larger than memory).
    fieldnames : sequence of str, optional
        The columns to write, in order (default: the first chunk's keys). The header is
        written even when there are no rows.

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    WriteError
        The file cannot be written (nothing was).
    """
    chunks = [columns] if isinstance(columns, Mapping) else columns
    n_rows = 0
    with _opened(target) as handle:
        writer = csv.writer(handle)
        header_done = False
        for chunk in chunks:
            if fieldnames is None:
                fieldnames = list(chunk)
            if not header_done:
                writer.writerow(fieldnames)
                header_done = True
            if not fieldnames:
                continue
            arrays = [np.asarray(chunk[name]) for name in fieldnames]
            n = len(arrays[0])
            for start in range(0, n, BLOCK):  # bounded memory for the Python cells
                stop = min(n, start + BLOCK)
                lists = [_column_list(a[start:stop], stop - start) for a in arrays]
                writer.writerows(zip(*lists, strict=True))
            n_rows += n
        if not header_done and fieldnames is not None:
            writer.writerow(fieldnames)
    return n_rows


def write_rows(target, rows: Iterable[Mapping], fieldnames: Sequence[str] | None = None) -> int:
    """Write mappings as CSV rows, with a header row.

    Parameters
    ----------
    target : path-like or text file
        As :func:`write_columns`.
    rows : iterable of mapping
        One mapping per row; a missing key is an empty cell.
    fieldnames : sequence of str, optional
        The columns, in order (default: the first row's keys).

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    ValueError
        A row has a key that is not a column (a programming error, caught before
        anything is renamed into place).
    WriteError
        The file cannot be written (nothing was).
    """
    n = 0
    with _opened(target) as handle:
        writer = csv.writer(handle)
        names = None if fieldnames is None else list(fieldnames)
        if names is not None:
            writer.writerow(names)
        for row in rows:
            if names is None:
                names = list(row)
                writer.writerow(names)
            extra = set(row).difference(names)
            if extra:
                raise ValueError(f"row {n} has keys that are not columns: {sorted(extra)}")
            writer.writerow([format_cell(row.get(k)) for k in names])
            n += 1
    return n


def _json_value(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def write_json_records(target, columns, fieldnames: Sequence[str] | None = None) -> int:
    """Write named columns (or chunks of them) as a JSON list of objects, one per row,
    streamed. Non-finite floats become ``null``. Same ``target`` rules and return value
    as :func:`write_columns`."""
    chunks = [columns] if isinstance(columns, Mapping) else columns
    n_rows = 0
    with _opened(target) as handle:
        handle.write("[")
        for chunk in chunks:
            names = list(chunk) if fieldnames is None else list(fieldnames)
            arrays = [np.asarray(chunk[k]) for k in names]
            for start in range(0, len(arrays[0]), BLOCK):
                lists = [a[start : start + BLOCK].tolist() for a in arrays]
                for values in zip(*lists, strict=True):
                    record = {k: _json_value(v) for k, v in zip(names, values, strict=True)}
                    handle.write(("\n" if n_rows == 0 else ",\n") + json.dumps(record))
                    n_rows += 1
        handle.write("\n]\n")
    return n_rows


# ====================================================================== reading
_NUMERIC_KINDS = {"i": "integers", "u": "integers", "f": "floats"}
_REFUSED_KINDS = {
    "b": "booleans",
    "c": "complex numbers (the imaginary part would be lost)",
    "M": "dates (datetime64)",
    "m": "time spans (timedelta64)",
    "U": "text",
    "S": "bytes",
    "O": "Python objects",
    "V": "records (a structured array)",
}


@dataclass(frozen=True, eq=False)
class PointsInput:
    """Points read by :func:`read_points`.

    Attributes
    ----------
    points : numpy.ndarray
        ``(N, columns)``; float64 for CSV, the file's own (checked) dtype for ``.npy``
        (memory-mapped when read from a file).
    name : str
        The file as the user named it (``"<stdin>"`` for standard input).
    lines : numpy.ndarray or None
        For CSV, the 1-based line of each point.
    """

    points: np.ndarray
    name: str
    lines: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.points)

    def where(self, index: int) -> str:
        """Point ``index`` (0-based) described for a user: ``"point 1000001 (line
        1000002 of cells.csv)"`` or ``"point 1000001 (row 1000000 of cells.npy)"``."""
        if self.lines is not None:
            return f"point {index + 1} (line {int(self.lines[index])} of {self.name})"
        return f"point {index + 1} (row {index} of {self.name})"


def _describe(source) -> str:
    return "<stdin>" if source in ("-", None) else str(source)


def read_points(source, columns: int, *, stdin=None) -> PointsInput:
    """Points as an ``(N, columns)`` table from a CSV file, a ``.npy`` file or stdin.

    Parameters
    ----------
    source : path-like or "-"
        ``"-"`` reads standard input (CSV text or ``.npy`` bytes).
    columns : {2, 3}
        ``x, y`` (section pixels) or ``x, y, z`` (reference µm).
    stdin : binary file, optional
        Read instead of ``sys.stdin.buffer`` for ``"-"``.

    Returns
    -------
    PointsInput

    Raises
    ------
    PointsFileError
        Naming the file and, for text, the line. See Notes.

    Notes
    -----
    The format is recognised by the first bytes, not the name: a file starting with
    NumPy's magic string is a ``.npy`` array, anything else is CSV text. A file named
    ``*.npy`` that is not one is refused.

    ``.npy``: an ``(N, columns)`` array of integers or floats. Booleans, complex
    numbers, dates, text, bytes, objects and structured arrays are refused, not
    converted; so is any other shape.

    CSV: UTF-8 (a byte-order mark is dropped, whatever follows it), comma-separated.
    Blank lines and lines starting with ``#`` are skipped (NumPy's ``savetxt`` header).
    The first remaining row is a header when none of its fields is a number and some
    field has a letter (``1_000,5`` is a bad data row, not a header); a header
    naming ``x``, ``y`` (and ``z``), in any case and order, selects those columns among
    others, and a header of exactly ``columns`` other names is taken in order. Without a
    header every row has exactly ``columns`` fields (trailing empty fields ignored).
    Numbers are ASCII decimals (``12``, ``-3.5``, ``1e-3``, ``nan``, ``inf``); digits of
    other scripts, digit-group underscores and fields longer than the csv module's limit
    (131,072 characters) are refused. Bytes that are not UTF-8, and NUL bytes (a binary
    file), are refused naming the line. Finiteness is not checked here: the engine's
    rule applies (:mod:`napari_allen_sync.validation`).
    """
    name = _describe(source)
    if source in ("-", None):
        stream = stdin if stdin is not None else sys.stdin.buffer
        data = stream.read()
        if data.startswith(NPY_MAGIC):
            return PointsInput(_npy(io.BytesIO(data), name, columns), name)
        return _csv_points(data, name, columns)
    path = Path(source)
    if path.is_dir():
        raise PointsFileError(name, "is a folder, not a points file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(NPY_MAGIC))
            if head == NPY_MAGIC:
                return PointsInput(_npy(path, name, columns, mmap=True), name)
            if path.suffix.lower() == ".npy":
                raise PointsFileError(
                    name, f"is not a NumPy .npy file (it begins {head!r}, not {NPY_MAGIC!r})")
            data = head + handle.read()
    except OSError as exc:
        raise PointsFileError(name, f"cannot be read: {exc.strerror or exc}") from exc
    return _csv_points(data, name, columns)


def _npy(file, name: str, columns: int, *, mmap: bool = False) -> np.ndarray:
    try:
        arr = np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as exc:
        text = str(exc)
        if "allow_pickle" in text or "Python objects" in text:
            raise PointsFileError(name, "holds Python objects; save an (N, "
                                  f"{columns}) array of numbers") from exc
        raise PointsFileError(name, f"is not a readable .npy file: {text}") from exc
    except (OSError, EOFError) as exc:
        raise PointsFileError(name, f"is not a readable .npy file: {exc}") from exc
    kind = arr.dtype.kind
    if kind not in _NUMERIC_KINDS:
        what = _REFUSED_KINDS.get(kind, str(arr.dtype))
        raise PointsFileError(
            name, f"holds {what} (dtype {arr.dtype}), not coordinates; save an (N, "
                  f"{columns}) array of integers or floats")
    if arr.ndim != 2 or arr.shape[1] != columns:
        raise PointsFileError(
            name, f"must hold an (N, {columns}) array ({'x, y, z'[: 3 * columns - 2]}), "
                  f"got shape {arr.shape}")
    return arr


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _number(field: str):
    """``float(field)`` for an ASCII decimal, else None."""
    try:
        value = float(field)
    except ValueError:
        return None
    if not field.isascii() or "_" in field:
        return None
    return value


def _decode(data: bytes, name: str) -> str:
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise PointsFileError(
            name, f"is a binary file, not CSV text (a NUL byte at offset {nul}); points "
                  "files are CSV text or NumPy .npy", line=line)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start : exc.start + 1]
        raise PointsFileError(
            name, f"byte 0x{byte.hex().upper()} at offset {exc.start} is not UTF-8 text; "
                  "save the file as UTF-8", line=line) from None


def _csv_points(data: bytes, name: str, columns: int) -> PointsInput:
    text = _decode(data, name)
    # float() also reads digits of other scripts and "1_000": with neither anywhere in
    # the file, a row whose fields all pass float() is a row of ASCII decimals
    clean = text.isascii() and "_" not in text
    wanted = ("x", "y", "z")[:columns]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    values: list[float] = []
    lines: list[int] = []
    select: list[int] | None = None
    first = True
    try:
        for row in reader:
            line = reader.line_num
            if _is_blank_or_comment(row):
                continue
            if first:
                first = False
                if _is_header(row):
                    select = _header(row, wanted, name, line)
                    continue
            fields = _point_fields(row, select, wanted, name, line)
            values.extend(_row_numbers(fields, wanted, clean, name, line))
            lines.append(line)
    except csv.Error as exc:
        line = reader.line_num
        reason = str(exc)
        if "field larger than field limit" in reason:
            reason = f"a field is longer than {FIELD_LIMIT:,} characters"
        raise PointsFileError(name, f"is not valid CSV: {reason}", line=line) from None
    points = np.array(values, dtype=np.float64).reshape(-1, columns)
    return PointsInput(points, name, np.array(lines, dtype=np.int64))


def _is_blank_or_comment(row) -> bool:
    """An empty row, a row of blank fields, or a comment (``#`` first)."""
    if not row:
        return True
    head = row[0].lstrip()
    return head.startswith("#") or (not head and not any(f.strip() for f in row))


def _point_fields(row, select, wanted, name, line) -> list[str]:
    """The coordinate fields of a row: its fields (trailing blanks dropped) without a
    header, the header's columns with one."""
    columns = len(wanted)
    if select is None:
        fields = list(row)
        while fields and not fields[-1].strip():
            fields.pop()
        if len(fields) != columns:
            raise PointsFileError(
                name, f"{_fields(len(fields))}, expected {columns} "
                      f"({', '.join(wanted)}; fields are separated by commas, and a "
                      "header row naming x and y selects columns among others)",
                line=line)
        return fields
    last = max(select)
    if len(row) <= last:
        raise PointsFileError(
            name, f"{_fields(len(row))}, but the header puts "
                  f"{wanted[select.index(last)]} in field {last + 1}",
            line=line)
    return [row[k] for k in select]


def _row_numbers(fields, wanted, clean: bool, name, line) -> list[float]:
    """The numbers of a row's coordinate fields; a field that is not a number is a
    :class:`PointsFileError` naming its axis and line."""
    if clean:
        try:
            return [float(f) for f in fields]
        except ValueError:
            pass  # the careful path, field by field
    values = []
    for axis, field in zip(wanted, fields, strict=True):
        value = _number(field.strip())
        if value is None:
            raise PointsFileError(
                name, f"{axis} is {_short(field)}, not a number", line=line
            ) from None
        values.append(value)
    return values


def _is_header(row) -> bool:
    """A header names columns: no field is a number and some field has a letter."""
    fields = [f.strip() for f in row]
    return (not any(_number(f) is not None for f in fields)
            and any(c.isalpha() for f in fields for c in f))


def _fields(n: int) -> str:
    return f"{n} field" if n == 1 else f"{n} fields"


def _header(row, wanted, name, line) -> list[int]:
    header = [c.strip().lower() for c in row]
    while header and not header[-1]:
        header.pop()
    if all(w in header for w in wanted):
        for w in wanted:
            if header.count(w) > 1:
                raise PointsFileError(name, f"the header names {w} twice", line=line)
        return [header.index(w) for w in wanted]
    if len(header) == len(wanted):
        return list(range(len(wanted)))
    shown = ",".join(header)
    raise PointsFileError(
        name, f"the header {_short(shown, 60)} names no {', '.join(wanted)} columns "
              f"(and has {len(header)} fields, not {len(wanted)})", line=line)


def same_file(a, b) -> bool:
    """Whether two paths name the same file (the same inode, or the same resolved path
    when the second does not exist yet)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        try:
            return Path(a).resolve() == Path(b).resolve()
        except (OSError, RuntimeError):
            return False
