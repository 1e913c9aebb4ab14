"""``sync`` against every kind of input file a user may hand it (issue 12).

Each failure class is a hypothesis strategy: well-formed CSV in all its dialects must read
back exactly; one injected fault anywhere must give exit status 2, one error line naming
the file and the line, no traceback and no output file; any bytes at all must never give
a traceback; every ``.npy`` dtype is either a real number type (read exactly) or refused.
"""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cli_helpers import DEMO, SEED, assert_one_line_error, fresh_dir
from napari_allen_sync.commands import sync as sync_command
from napari_allen_sync.tables import read_points

SYNC = DEMO.synchronizer
FIELD_LIMIT = csv.field_size_limit()

coordinate = st.floats(-30000, 30000, allow_nan=False, allow_infinity=False)
#: How a number may be written: Python's repr, %.17g (both exact), %e and %.3f (rounded:
#: the expected value is what the text says).
number_formats = st.sampled_from([repr, "{:.17g}".format, "{:e}".format, "{:.3f}".format,
                                  lambda v: f" {v!r} ", lambda v: f'"{v!r}"'])


@st.composite
def csv_files(draw, columns=2):
    """(bytes of a well-formed points CSV, the points it holds, the line of each point)."""
    names = ["x", "y", "z"][:columns]
    n = draw(st.integers(0, 10))
    values = draw(st.lists(st.lists(coordinate, min_size=columns, max_size=columns),
                           min_size=n, max_size=n))
    header = draw(st.sampled_from(["none", "named", "positional", "named-extra"]))
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    fmt = draw(number_formats)
    order = list(range(columns))
    extras: list[str] = []
    if header.startswith("named"):
        order = draw(st.permutations(order))
        if header == "named-extra":
            extras = draw(st.lists(st.sampled_from(["id", "label", "Area µm²", "notes"]),
                                   min_size=1, max_size=3, unique=True))
    lines: list[str] = []
    point_lines = []
    if draw(st.booleans()):
        lines.append("# written by numpy.savetxt")
    if header in ("named", "named-extra"):
        cols = [draw(st.sampled_from([names[k], names[k].upper(), f" {names[k]} "]))
                for k in order] + extras
        lines.append(",".join(cols))
    elif header == "positional":
        lines.append(",".join(["px", "py", "pz"][:columns]))
    expected = []
    for row in values:
        while draw(st.booleans()) and len(lines) < 40:
            lines.append(draw(st.sampled_from(["", "  ", "# a comment", ","])))
        cells = [fmt(row[k]) for k in order] + ["some, \"quoted\" text" for _ in extras]
        if header == "none" and draw(st.booleans()):
            cells.append("")  # a trailing comma
        lines.append(",".join(c if '"' not in c or c.startswith('"') else
                              '"' + c.replace('"', '""') + '"' for c in cells))
        point_lines.append(len(lines))
        expected.append([float(fmt(row[k]).strip().strip('"')) for k in range(columns)])
    text = nl.join(lines) + (nl if draw(st.booleans()) else "")
    data = text.encode("utf-8")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data  # a byte-order mark, with or without a header
    return data, np.array(expected, dtype=float).reshape(-1, columns), point_lines


@settings(max_examples=300, deadline=None)
@given(case=csv_files())
def test_well_formed_csv_reads_back_exactly(case):
    data, expected, lines = case
    got = read_points("-", 2, stdin=io.BytesIO(data))
    np.testing.assert_array_equal(got.points, expected)
    assert got.lines.tolist() == lines


@settings(max_examples=150, deadline=None)
@given(case=csv_files(columns=3))
def test_well_formed_csv_of_three_columns(case):
    data, expected, lines = case
    folder = fresh_dir()
    (folder / "p.csv").write_bytes(data)
    got = read_points(folder / "p.csv", 3)
    np.testing.assert_array_equal(got.points, expected)
    assert got.lines.tolist() == lines


@settings(max_examples=60, deadline=None)
@given(case=csv_files())
def test_sync_of_well_formed_csv_equals_the_engine(run_cli, case):
    """First point kept whatever precedes it (a BOM, no header, a comment)."""
    data, expected, _ = case
    folder = fresh_dir()
    (folder / "p.csv").write_bytes(data)
    code, out, err = run_cli("sync", "--demo", "image_to_reference", "--section-image-id",
                             SEED, "--points", folder / "p.csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["point"]) for r in rows] == list(range(len(expected)))
    ref = SYNC.image_to_reference_batch(SEED, expected[:, 0], expected[:, 1])
    np.testing.assert_array_equal([float(r["x"]) for r in rows], ref.x)
    np.testing.assert_array_equal([float(r["z"]) for r in rows], ref.z)


def test_bom_without_header_keeps_the_first_point(run_cli, tmp_path):
    (tmp_path / "p.csv").write_bytes(b"\xef\xbb\xbf1000,2000\n1500,2500\n")
    code, out, err = run_cli("sync", "--demo", "image_to_reference", "--section-image-id",
                             SEED, "--points", tmp_path / "p.csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    ref = SYNC.image_to_reference(SEED, 1000, 2000)["image_to_reference"]
    assert len(rows) == 2 and float(rows[0]["x"]) == ref["x"]


# ---------------------------------------------------------------------- one fault
letters = st.text(st.characters(whitelist_categories=("Lu", "Ll")), min_size=1, max_size=8)
FAULTS = ("high-byte", "nul", "word", "unicode-digits", "underscore", "fields", "long",
          "nan", "inf", "huge", "quote")


@st.composite
def faulty_csv(draw):
    """(bytes, the line at fault, a regex the error must match): a well-formed CSV with
    one fault injected on one of its data lines."""
    n = draw(st.integers(1, 8))
    header = draw(st.booleans())
    rows = [[f"{draw(coordinate)!r}", f"{draw(coordinate)!r}"] for _ in range(n)]
    k = draw(st.integers(0, n - 1))
    col = draw(st.integers(0, 1))
    axis = "xy"[col]
    fault = draw(st.sampled_from(FAULTS))
    line = k + 1 + header
    raw = None
    if fault == "word":
        word = draw(letters)
        assume(not re.fullmatch(r"(?i)[+-]?(nan|inf|infinity)", word))
        rows[k][col] = word
        expect = rf"line {line}: {axis} is .*not a number"
    elif fault == "unicode-digits":
        rows[k][col] = draw(st.sampled_from(["１２３", "٣٤", "१२", "²", "12\u0663"]))
        expect = rf"line {line}: {axis} is .*not a number"
    elif fault == "underscore":
        rows[k][col] = "1_000"
        expect = rf"line {line}: {axis} is '1_000', not a number"
    elif fault == "fields":
        if header:  # extra fields are allowed beside named columns; a missing one is not
            rows[k] = rows[k][:1]
            expect = rf"line {line}: 1 field, but the header puts y in field 2"
        else:
            rows[k] = rows[k] + ["7"] if draw(st.booleans()) else rows[k][:1]
            expect = rf"line {line}: {len(rows[k])} fields?, expected 2"
    elif fault == "long":
        rows[k][col] = "1" * draw(st.integers(FIELD_LIMIT + 1, FIELD_LIMIT + 70_000))
        expect = rf"line {line}: is not valid CSV: a field is longer than"
    elif fault in ("nan", "inf", "huge"):
        rows[k][col] = {"nan": "nan", "inf": "-inf", "huge": "2e9"}[fault]
        word = "out of range" if fault == "huge" else "must be finite"
        expect = rf"point {k + 1} \(line {line} of .*p\.csv\): {axis} .*{word}"
    elif fault == "quote":
        rows[k][col] = '"12'  # an unclosed quote swallows the rest of the file
        expect = r"line \d+: "
    else:
        raw = fault
        expect = None
    lines = (["x,y"] if header else []) + [",".join(r) for r in rows]
    data = "\n".join(lines).encode("utf-8") + b"\n"
    if raw is not None:
        offsets = [0]
        for ln in lines:
            offsets.append(offsets[-1] + len(ln.encode()) + 1)
        start = offsets[line - 1]
        at = draw(st.integers(start, offsets[line] - 1))
        if raw == "nul":
            bad = b"\x00"
            expect = rf"line {line}: is a binary file"
        else:
            bad = bytes([draw(st.integers(0x80, 0xFF))])
            expect = rf"line {line}: byte 0x{bad.hex().upper()} at offset {at} is not UTF-8"
        data = data[:at] + bad + data[at:]
    return data, line, expect


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=faulty_csv())
def test_one_fault_anywhere_is_named_by_line_and_nothing_is_written(run_cli, case):
    data, _, expect = case
    folder = fresh_dir()
    (folder / "p.csv").write_bytes(data)
    out = folder / "out.csv"
    code, _, err = run_cli("sync", "--demo", "image_to_reference", "--section-image-id", SEED,
                           "--points", folder / "p.csv", "-o", out)
    message = assert_one_line_error(code, err)
    assert re.search(expect, message), message
    assert len(message) <= 700
    assert sorted(p.name for p in folder.iterdir()) == ["p.csv"]


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400), via_stdin=st.booleans())
def test_any_bytes_give_an_answer_or_one_error_line(run_cli, data, via_stdin):
    """Whatever the bytes (binary files, binary stdin, truncated .npy headers), the
    outcome is exit 0 with a table or exit 2 with one line; never a traceback."""
    folder = fresh_dir()
    out = folder / "out.csv"
    if via_stdin:
        code, _, err = run_cli("sync", "--demo", "image_to_reference", "--section-image-id",
                               SEED, "--points", "-", "-o", out, stdin=data)
    else:
        (folder / "p.csv").write_bytes(data)
        code, _, err = run_cli("sync", "--demo", "image_to_reference", "--section-image-id",
                               SEED, "--points", folder / "p.csv", "-o", out)
    if code == 0:
        assert out.exists()
    else:
        assert_one_line_error(code, err)
        assert not out.exists()
    assert not [p for p in folder.iterdir() if p.name.endswith(".partial")]


@settings(max_examples=100, deadline=None)
@given(data=st.binary(min_size=0, max_size=300))
def test_npy_magic_followed_by_anything_is_refused_cleanly(run_cli, data):
    folder = fresh_dir()
    (folder / "p.npy").write_bytes(b"\x93NUMPY" + data)
    code, _, err = run_cli("sync", "--demo", "image_to_reference", "--section-image-id", SEED,
                           "--points", folder / "p.npy", "-o", folder / "o.csv")
    line = assert_one_line_error(code, err)
    assert "p.npy" in line


# ---------------------------------------------------------------------- .npy dtypes
NUMERIC = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "float32", "float64", ">f8", "<i4"]
REFUSED = {
    "bool": "booleans",
    "complex64": "complex numbers",
    "complex128": "complex numbers",
    "datetime64[D]": "dates",
    "datetime64[ns]": "dates",
    "timedelta64[s]": "time spans",
    "U8": "text",
    "S8": "bytes",
    "f8,f8": "records",
    "object": "Python objects",
}


@settings(max_examples=120, deadline=None)
@given(dtype=st.sampled_from(NUMERIC + sorted(REFUSED)), n=st.integers(0, 20),
       fortran=st.booleans(), via_stdin=st.booleans(), data=st.data())
def test_npy_of_every_dtype_is_read_exactly_or_refused(run_cli, dtype, n, fortran, via_stdin, data):
    """Real numbers are read exactly; booleans, complex numbers, dates, text, records and
    objects are refused naming what they hold, never converted."""
    folder = fresh_dir()
    raw = data.draw(st.lists(st.integers(0, 120), min_size=2 * n, max_size=2 * n))
    if dtype == "f8,f8":
        arr = np.zeros(n, dtype=dtype)
    elif dtype == "object":
        arr = np.array(raw, dtype=object).reshape(n, 2)
    elif dtype.startswith(("U", "S")):
        arr = np.array([str(v) for v in raw], dtype=dtype).reshape(n, 2)
    else:
        arr = np.array(raw).astype(dtype).reshape(n, 2)
    if fortran:
        arr = np.asfortranarray(arr)
    np.save(folder / "p.npy", arr, allow_pickle=dtype == "object")
    args = ["sync", "--demo", "image_to_reference", "--section-image-id", SEED,
            "-o", folder / "o.csv"]
    if via_stdin:
        code, _, err = run_cli(*args, "--points", "-", stdin=(folder / "p.npy").read_bytes())
    else:
        code, _, err = run_cli(*args, "--points", folder / "p.npy")
    if dtype in REFUSED:
        line = assert_one_line_error(code, err)
        assert f"holds {REFUSED[dtype]}" in line
        assert not (folder / "o.csv").exists()
        return
    assert code == 0, err
    rows = list(csv.DictReader((folder / "o.csv").open()))
    want = np.asarray(arr, dtype=float)
    ref = SYNC.image_to_reference_batch(SEED, want[:, 0], want[:, 1])
    np.testing.assert_array_equal([float(r["x"]) for r in rows], ref.x)


@pytest.mark.parametrize("shape", [(4,), (4, 1), (4, 3), (2, 2, 2), (), (3, 2, 1)])
def test_npy_of_the_wrong_shape_is_refused(run_cli, tmp_path, shape):
    np.save(tmp_path / "p.npy", np.ones(shape))
    code, _, err = run_cli("sync", "--demo", "image_to_reference", "--section-image-id", SEED,
                           "--points", tmp_path / "p.npy")
    assert "must hold an (N, 2) array (x, y), got shape" in assert_one_line_error(code, err)


def test_a_file_named_npy_that_is_not_one(run_cli, tmp_path):
    (tmp_path / "p.npy").write_text("1,2\n")
    code, _, err = run_cli("sync", "--demo", "image_to_reference", "--section-image-id", SEED,
                           "--points", tmp_path / "p.npy")
    assert "is not a NumPy .npy file" in assert_one_line_error(code, err)


def test_npy_whatever_its_name_is_read_as_npy(run_cli, tmp_path):
    np.save(tmp_path / "p.npy", np.array([[1000.0, 2000.0]]))
    (tmp_path / "p.npy").rename(tmp_path / "points.dat")
    code, out, err = run_cli("sync", "--demo", "image_to_reference", "--section-image-id",
                             SEED, "--points", tmp_path / "points.dat")
    assert code == 0, err
    ref = SYNC.image_to_reference(SEED, 1000, 2000)["image_to_reference"]
    assert float(next(csv.DictReader(io.StringIO(out)))["x"]) == ref["x"]


@pytest.mark.parametrize("what", ["missing", "folder"])
def test_an_input_that_is_not_a_file(run_cli, tmp_path, what):
    path = tmp_path / "nothing.csv"
    if what == "folder":
        path.mkdir()
    code, _, err = run_cli("sync", "--demo", "image_to_reference", "--section-image-id", SEED,
                           "--points", path)
    assert "nothing.csv" in assert_one_line_error(code, err)


# ---------------------------------------------------------------------- later chunks
@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 400), chunk=st.integers(1, 60), data=st.data(),
       fmt=st.sampled_from(["csv", "npy"]), op=st.sampled_from(["image_to_reference",
                                                                "image_to_image"]))
def test_bad_value_in_a_later_chunk_names_its_absolute_point(run_cli, n, chunk, data, fmt, op):
    folder = fresh_dir()
    k = data.draw(st.integers(0, n - 1))
    bad = data.draw(st.sampled_from([np.nan, np.inf, -np.inf, 5e9]))
    pts = np.linspace(0, 3000, 2 * n).reshape(n, 2)
    pts[k, data.draw(st.integers(0, 1))] = bad
    if fmt == "npy":
        np.save(folder / "p.npy", pts)
        where = rf"point {k + 1} \(row {k} of .*p\.npy\)"
    else:
        text = "".join(f"{a!r},{b!r}\n" for a, b in pts.tolist())
        (folder / "p.csv").write_text("x,y\n" + text)
        where = rf"point {k + 1} \(line {k + 2} of .*p\.csv\)"
    old = sync_command.CHUNK
    sync_command.CHUNK = chunk
    try:
        extra = ["--section-data-set-ids", "900100002"] if op == "image_to_image" else []
        code, _, err = run_cli("sync", "--demo", op, "--section-image-id", SEED, *extra,
                               "--points", folder / f"p.{fmt}", "-o", folder / "o.csv")
    finally:
        sync_command.CHUNK = old
    line = assert_one_line_error(code, err)
    assert re.search(where, line), line
    assert "position" not in line
    assert not (folder / "o.csv").exists()


def test_point_1000001_is_named_point_1000001(run_cli, tmp_path):
    """The issue's own case: a NaN in the second chunk of the real chunk size."""
    pts = np.full((sync_command.CHUNK + 5, 2), 1000.0)
    pts[sync_command.CHUNK, 1] = np.nan
    np.save(tmp_path / "p.npy", pts)
    code, out, err = run_cli("sync", "--demo", "image_to_reference", "--section-image-id",
                             SEED, "--points", tmp_path / "p.npy")
    line = assert_one_line_error(code, err)
    assert f"point {sync_command.CHUNK + 1} (row {sync_command.CHUNK} of" in line
    assert "y must be finite, got nan" in line
    assert out == ""  # checked before anything is computed or written, stdout included


# ---------------------------------------------------------------------- arguments
@settings(max_examples=150, deadline=None)
@given(option=st.sampled_from(["--section-image-id", "--section-data-set-ids",
                               "--reference-space-id"]),
       value=st.one_of(st.text(max_size=30), st.integers(-10, 2**70).map(str),
                       st.lists(st.integers(0, 10**12), max_size=4).map(
                           lambda v: ",".join(map(str, v)))))
def test_any_id_argument_gives_an_answer_or_a_usage_error(run_cli, option, value):
    """Ids typed by a user: ASCII digits or a usage error (status 2); never a traceback,
    never an internal error, never a silently reinterpreted number."""
    folder = fresh_dir()
    (folder / "p.csv").write_text("1000,2000,3000\n")
    args = {"--section-image-id": SEED, "--section-data-set-ids": "900100002",
            "--reference-space-id": "9"}
    args[option] = value
    op = "reference_to_image" if option == "--reference-space-id" else "image_to_image"
    argv = ["sync", "--demo", op, "--section-data-set-ids", args["--section-data-set-ids"],
            "--reference-space-id", args["--reference-space-id"], "--points",
            folder / ("p.csv" if op == "reference_to_image" else "p2.csv")]
    if op == "image_to_image":
        (folder / "p2.csv").write_text("1000,2000\n")
        argv += ["--section-image-id", args["--section-image-id"]]
    try:
        code, _, err = run_cli(*argv)
    except SystemExit as exc:  # argparse's usage error
        assert exc.code == 2
        return
    assert "internal error" not in err and "Traceback" not in err
    if code:
        assert_one_line_error(code, err)
    else:
        assert value.strip().replace(",", "").isascii()
