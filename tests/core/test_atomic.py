"""The one atomic-write helper: all or nothing, clear errors, stale partials removed."""

from __future__ import annotations

import os
import time
from pathlib import Path

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
from other_user import AS_NOBODY, skip_unless_nobody_imports


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
            _read_only_as_another_user()
            return
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        target, reason = ro / "a.csv", "permission denied"
    with pytest.raises(WriteError, match=reason) as info:
        write_text(target, "x")
    assert isinstance(info.value, AllenSyncError) and isinstance(info.value, OSError)
    assert str(target) in str(info.value)


def _read_only_as_another_user():
    """Root writes anywhere: check the read-only case as user nobody (setpriv)."""
    import shutil
    import subprocess
    import sys
    import tempfile

    if shutil.which("setpriv") is None:
        pytest.skip("root writes into read-only folders and setpriv is not installed")
    skip_unless_nobody_imports()
    base = Path(tempfile.mkdtemp(prefix="atomic-ro-"))
    try:
        base.chmod(0o755)
        (base / "ro").mkdir(mode=0o555)
        target = base / "ro" / "a.csv"
        code = ("import sys\n"
                "from napari_allen_sync.atomic import write_text\n"
                "from napari_allen_sync.errors import AllenSyncError, WriteError\n"
                "try:\n    write_text(sys.argv[1], 'x')\n"
                "except WriteError as exc:\n"
                "    assert isinstance(exc, AllenSyncError) and isinstance(exc, OSError)\n"
                "    print(exc)\n")
        done = subprocess.run([*AS_NOBODY,
                               sys.executable, "-c", code, str(target)],
                              capture_output=True, text=True, timeout=60)
        if "Operation not permitted" in done.stderr and "setpriv" in done.stderr:
            pytest.skip(f"cannot switch user here: {done.stderr.strip()}")
        assert done.returncode == 0, done.stderr
        assert "permission denied" in done.stdout and str(target) in done.stdout
        assert list((base / "ro").iterdir()) == []
    finally:
        shutil.rmtree(base, ignore_errors=True)


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


_WRITER = """
import sys, time
from napari_allen_sync.atomic import atomic_write
with atomic_write(sys.argv[1]) as f:
    f.write(b"x" * 100_000)
    f.flush()
    print("writing", flush=True)
    time.sleep(600)
"""


def _start_writer(target):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    return proc


def test_partial_of_a_killed_writer_is_removed_at_once_a_live_one_never(tmp_path):
    """Real processes: one killed with SIGKILL mid-write, one still writing. Only the
    dead one's partial goes, however recent; the live writer then lands its file."""
    import signal

    dead = _start_writer(tmp_path / "dead.bin")
    alive = _start_writer(tmp_path / "alive.bin")
    try:
        os.kill(dead.pid, signal.SIGKILL)
        dead.wait(timeout=30)
        partials = _leftovers(tmp_path)
        assert len(partials) == 2
        # not old: the age rule alone keeps both
        assert remove_stale_partials(tmp_path, older_than=3600) == []
        removed = remove_stale_partials(tmp_path, older_than=3600, unlocked=True)
        assert [p.name for p in removed] == [n for n in partials if n.startswith(".dead")]
        assert _leftovers(tmp_path) == [n for n in partials if n.startswith(".alive")]
        assert not (tmp_path / "dead.bin").exists()
    finally:
        alive.kill()
        alive.wait(timeout=30)
    # the live writer was killed too now: its partial is abandoned in turn
    assert len(remove_stale_partials(tmp_path, unlocked=True)) == 1
    assert _leftovers(tmp_path) == []


def test_check_runs_before_the_file_lands(tmp_path):
    target = tmp_path / "a.json"
    write_text(target, "old")
    seen = []

    def refuse(tmp):
        seen.append(tmp.read_text())
        assert is_partial(tmp) and tmp.parent == tmp_path
        raise ValueError("not valid")

    with pytest.raises(ValueError, match="not valid"):
        write_text(target, "new", check=refuse)
    assert seen == ["new"] and target.read_text() == "old" and _leftovers(tmp_path) == []
    write_text(target, "new", check=lambda tmp: None)
    assert target.read_text() == "new"


def test_user_files_and_symlinks_named_like_partials_are_kept(tmp_path):
    """Files not ours (no leading dot) and symlinks are never removed, even unlocked."""
    mine = tmp_path / "notes.partial"
    mine.write_text("user's")
    real = tmp_path / "precious.txt"
    real.write_text("keep")
    link = tmp_path / ".link.x.partial"
    link.symlink_to(real)
    old = time.time() - 10**6
    os.utime(mine, (old, old))
    assert remove_stale_partials(tmp_path, older_than=0, unlocked=True) == []
    assert mine.exists() and link.is_symlink() and real.read_text() == "keep"


def test_new_files_get_open_permissions_and_replaced_files_keep_theirs(tmp_path):
    old = os.umask(0o022)
    try:
        new = write_text(tmp_path / "new.csv", "x")
        assert new.stat().st_mode & 0o777 == 0o644
        kept = tmp_path / "kept.csv"
        kept.write_text("a")
        kept.chmod(0o640)
        write_text(kept, "b")
        assert kept.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)
