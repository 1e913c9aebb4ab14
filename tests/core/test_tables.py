"""The one CSV writer: every value reads back as it was, and a write is all or nothing."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_helpers import fresh_dir
from napari_allen_sync.errors import WriteError
from napari_allen_sync.tables import (
    format_cell,
    write_columns,
    write_json_records,
    write_rows,
)

any_float = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)
text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00\r"),
               max_size=30)


def _same_float(a: float, b: float) -> bool:
    if math.isnan(a):
        return math.isnan(b)
    return a == b and math.copysign(1, a) == math.copysign(1, b)


@st.composite
def tables(draw):
    """Columns of every kind the package writes, and a random split into chunks."""
    n = draw(st.integers(0, 25))
    columns = {
        "f": np.array(draw(st.lists(any_float, min_size=n, max_size=n)), dtype=np.float64),
        "f32": np.array(draw(st.lists(st.floats(width=32), min_size=n, max_size=n)),
                        dtype=np.float32),
        "i": np.array(draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=n, max_size=n)),
                      dtype=np.int64),
        "b": np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool),
        "s": np.array(draw(st.lists(st.one_of(st.none(), text), min_size=n, max_size=n)),
                      dtype=object),
    }
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
    return columns, [0, *cuts, n]


def _check_read_back(rows, columns):
    n = len(columns["f"])
    assert len(rows) == n
    for k, row in enumerate(rows):
        assert _same_float(float(row["f"]), float(columns["f"][k]))
        assert float(row["f32"]) == float(columns["f32"][k]) or math.isnan(columns["f32"][k])
        assert int(row["i"]) == columns["i"][k]
        assert row["b"] == str(bool(columns["b"][k]))
        s = columns["s"][k]
        assert row["s"] == ("" if s is None else s)


@settings(max_examples=200, deadline=None)
@given(case=tables())
def test_every_value_reads_back_exactly_whatever_the_chunks(case):
    columns, cuts = case
    folder = fresh_dir()
    chunks = [{k: v[a:b] for k, v in columns.items()} for a, b in itertools.pairwise(cuts)]
    n1 = write_columns(folder / "one.csv", columns)
    n2 = write_columns(folder / "chunks.csv", iter(chunks), list(columns))
    rows = [dict(zip(columns, (row[k] for k in columns), strict=True))
            for row in _records(columns)]
    n3 = write_rows(folder / "rows.csv", rows, list(columns))
    assert n1 == n2 == n3 == len(columns["f"])
    one = (folder / "one.csv").read_bytes()
    assert (folder / "chunks.csv").read_bytes() == one
    assert (folder / "rows.csv").read_bytes() == one
    with open(folder / "one.csv", newline="", encoding="utf-8") as f:
        _check_read_back(list(csv.DictReader(f)), columns)


def _records(columns):
    n = len(columns["f"])
    return [{k: v[i] for k, v in columns.items()} for i in range(n)]


@settings(max_examples=100, deadline=None)
@given(value=any_float)
def test_float_cells_are_the_shortest_exact_repr(value):
    for v in (value, np.float64(value)):
        cell = format_cell(v)
        assert cell == repr(float(value))
        assert _same_float(float(cell), value)


def test_cells_of_other_kinds():
    assert format_cell(None) == ""
    assert format_cell(np.int64(-7)) == -7
    assert format_cell(np.bool_(True)) is True
    assert format_cell("a,b") == "a,b"


def test_header_even_without_rows(tmp_path):
    assert write_columns(tmp_path / "a.csv", iter([]), ["x", "y"]) == 0
    assert (tmp_path / "a.csv").read_bytes() == b"x,y\r\n"
    assert write_rows(tmp_path / "b.csv", [], ["x", "y"]) == 0
    assert (tmp_path / "b.csv").read_bytes() == b"x,y\r\n"


def test_to_an_open_text_file():
    buf = io.StringIO()
    write_columns(buf, {"x": np.array([0.1, 2.0])})
    assert buf.getvalue().splitlines() == ["x", "0.1", "2.0"]


def test_a_failure_half_way_leaves_the_old_file_and_no_partial(tmp_path):
    target = tmp_path / "t.csv"
    target.write_text("old\n")

    def chunks():
        yield {"x": np.arange(3.0)}
        raise RuntimeError("computation failed in chunk 2")

    with pytest.raises(RuntimeError, match="chunk 2"):
        write_columns(target, chunks(), ["x"])
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]
    with pytest.raises(ValueError, match="not columns: \\['z'\\]"):
        write_rows(target, [{"x": 1}, {"z": 2}], ["x"])
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


@pytest.mark.parametrize("where", ["missing/t.csv", "."])
def test_unwritable_targets_raise_write_error(tmp_path, where):
    with pytest.raises(WriteError, match="cannot write"):
        write_columns(tmp_path / where, {"x": np.arange(2.0)})


@settings(max_examples=60, deadline=None)
@given(case=tables())
def test_json_records_hold_the_same_values(case):
    columns, cuts = case
    folder = fresh_dir()
    chunks = [{k: v[a:b] for k, v in columns.items()} for a, b in itertools.pairwise(cuts)]
    n = write_json_records(folder / "t.json", iter(chunks), list(columns))
    records = json.loads((folder / "t.json").read_text())
    assert n == len(records) == len(columns["f"])
    for k, rec in enumerate(records):
        f = float(columns["f"][k])
        assert (rec["f"] is None) if not math.isfinite(f) else _same_float(rec["f"], f)
        assert rec["i"] == columns["i"][k] and rec["b"] == bool(columns["b"][k])
        assert rec["s"] == columns["s"][k]


def test_written_files_get_the_permissions_open_would_give(tmp_path):
    """Not mkstemp's owner-only 0o600: a results table is meant to be shared."""
    import os

    old = os.umask(0o027)
    try:
        write_columns(tmp_path / "t.csv", {"x": np.arange(2.0)})
    finally:
        os.umask(old)
    assert (tmp_path / "t.csv").stat().st_mode & 0o777 == 0o640
