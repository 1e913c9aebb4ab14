"""The one atomic-write helper: all or nothing, clear errors, stale partials removed."""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_allen_sync.atomic import (
    atomic_write,
    is_partial,
    remove_stale_partials,
    write_bytes,
    write_text,
)
from napari_allen_sync.errors import AllenSyncError, WriteError


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if is_partial(p))


def test_writes_and_replaces(tmp_path):
    target = tmp_path / "a.txt"
    write_text(target, "old")
    write_text(target, "new")
    assert target.read_text() == "new"
    assert _leftovers(tmp_path) == []


def test_exception_inside_keeps_old_file(tmp_path):
    target = tmp_path / "a.bin"
    write_bytes(target, b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_write(target) as f:
        f.write(b"half")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("case", ["missing folder", "is a folder", "read-only folder"])
def test_clear_errors(tmp_path, case):
    if case == "missing folder":
        target, reason = tmp_path / "nope" / "a.csv", "does not exist"
    elif case == "is a folder":
        target, reason = tmp_path, "is a folder"
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        target, reason = ro / "a.csv", "permission denied"
    with pytest.raises(WriteError, match=reason) as info:
        write_text(target, "x")
    assert isinstance(info.value, AllenSyncError) and isinstance(info.value, OSError)
    assert str(target) in str(info.value)


def test_stale_partials_removed_but_not_fresh_or_foreign(tmp_path):
    (tmp_path / "sub").mkdir()
    stale = tmp_path / "sub" / ".x.json.abc123.partial"
    fresh = tmp_path / ".y.json.def456.partial"
    foreign = tmp_path / "notes.partial"          # not ours: no leading dot
    for p in (stale, fresh, foreign):
        p.write_bytes(b"?")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    os.utime(foreign, (old, old))
    removed = remove_stale_partials(tmp_path, older_than=3600)
    assert removed == [stale]
    assert fresh.exists() and foreign.exists() and not stale.exists()


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=4096), fail=st.booleans())
def test_all_or_nothing_property(tmp_path_factory, data, fail):
    folder = tmp_path_factory.mktemp("w")
    target = folder / "t.bin"
    write_bytes(target, b"before")
    try:
        with atomic_write(target) as f:
            f.write(data)
            if fail:
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert target.read_bytes() == (b"before" if fail else data)
    assert _leftovers(folder) == []
