"""Where ``sync`` writes: refused before anything is written when it cannot or must not."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_helpers import DEMO, SEED, TARGETS, assert_one_line_error, fresh_dir

ARGS = ["sync", "--demo", "image_to_image", "--section-image-id", SEED,
        "--section-data-set-ids", ",".join(map(str, TARGETS))]
POINTS = "x,y\n1000,2000\n1500,2500\n"


def _ls(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def points(tmp_path):
    (tmp_path / "p.csv").write_text(POINTS)
    return tmp_path / "p.csv"


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: d / "missing" / "out.csv", "the folder"),
        (lambda d: (d / "afolder").mkdir() or d / "afolder", "it is a folder"),
        (lambda d: ((d / "afile").write_text("x"), d / "afile" / "out.csv")[1],
         "is a file, not a folder"),
    ],
)
def test_output_that_cannot_be_written_fails_with_status_1(run_cli, points, make, words):
    out = make(points.parent)
    before = _ls(points.parent)
    code, _, err = run_cli(*ARGS, "--points", points, "-o", out)
    line = assert_one_line_error(code, err, status=1)
    assert words in line and "cannot write" in line
    assert _ls(points.parent) == before


def test_unwritable_output_fails_with_status_1(run_cli, points, tmp_path):
    if os.geteuid() == 0:
        # root writes through file modes: use a read-only file system instead
        target = Path("/sys/napari-allen-sync-test.csv")
        if _can_create_in("/sys"):
            pytest.skip("no unwritable folder available to root")
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        target = ro / "out.csv"
    code, _, err = run_cli(*ARGS, "--points", points, "-o", target)
    assert "permission denied" in assert_one_line_error(code, err, status=1)
    assert not target.exists()


def _can_create_in(folder: str) -> bool:
    try:
        fd, name = tempfile.mkstemp(dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


@pytest.mark.parametrize("spelling", ["same", "relative", "dotted", "symlink", "hardlink"])
@pytest.mark.parametrize("fmt", ["csv", "npy"])
def test_output_equal_to_the_input_is_refused_before_anything_is_written(
        run_cli, tmp_path, monkeypatch, spelling, fmt):
    src = tmp_path / f"p.{fmt}"
    if fmt == "csv":
        src.write_text(POINTS)
    else:
        np.save(src, np.array([[1000.0, 2000.0]]))
    before = src.read_bytes()
    monkeypatch.chdir(tmp_path)
    out = {
        "same": str(src),
        "relative": src.name,
        "dotted": f"./../{tmp_path.name}/{src.name}",
    }.get(spelling)
    if spelling == "symlink":
        (tmp_path / f"link.{fmt}").symlink_to(src)
        out = str(tmp_path / f"link.{fmt}")
    elif spelling == "hardlink":
        os.link(src, tmp_path / f"hard.{fmt}")
        out = str(tmp_path / f"hard.{fmt}")
    code, _, err = run_cli(*ARGS, "--points", src, "-o", out)
    assert "is the input points file" in assert_one_line_error(code, err)
    assert src.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_a_failed_run_leaves_the_previous_output_untouched(run_cli, points, tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("previous results\n")
    (tmp_path / "bad.csv").write_text("x,y\n1,2\n3,inf\n")
    code, _, err = run_cli(*ARGS, "--points", tmp_path / "bad.csv", "-o", out)
    assert_one_line_error(code, err)
    assert out.read_text() == "previous results\n"


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 30), fmt=st.sampled_from(["csv", "json", "stdout"]),
       structures=st.booleans())
def test_outputs_agree_with_the_engine_in_every_format(run_cli, n, fmt, structures):
    """CSV file, JSON file and CSV on stdout hold the same rows: point-major, one per
    (point, target), exact coordinates; a header even for zero points."""
    folder = fresh_dir()
    rng = np.random.default_rng(n)
    pts = rng.uniform(0, 6000, (n, 2))
    np.save(folder / "p.npy", pts)
    extra = ["--structures"] if structures else []
    if fmt == "stdout":
        code, text, err = run_cli(*ARGS, *extra, "--points", folder / "p.npy")
        rows = list(csv.DictReader(io.StringIO(text)))
        header = text.splitlines()[0].split(",")
    else:
        out = folder / f"out.{fmt}"
        code, _, err = run_cli(*ARGS, *extra, "--points", folder / "p.npy", "-o", out)
        if fmt == "json":
            import json

            rows = json.loads(out.read_text())
            header = None
        else:
            rows = list(csv.DictReader(out.open()))
            header = out.read_text().splitlines()[0].split(",")
    assert code == 0, err
    if header is not None:
        assert ("structure_name" in header) == structures and "clamped" in header
    assert len(rows) == 2 * n
    batches = DEMO.synchronizer.image_to_image_batch(SEED, pts[:, 0], pts[:, 1], list(TARGETS))
    for k in range(n):
        for t, b in enumerate(batches):
            row = rows[2 * k + t]
            assert int(row["point"]) == k and int(row["target"]) == t
            assert int(row["section_data_set_id"]) == TARGETS[t]
            assert int(row["section_image_id"]) == b.section_image_id[k]
            assert float(row["x"]) == b.x[k] and float(row["y"]) == b.y[k]
            assert float(row["distance"]) == b.distance[k]
            assert str(row["clamped"]) == str(bool(b.clamped[k]))


def test_console_script_stdout_closed_early_is_quiet(points):
    """``sync ... | head -1``: the reader goes away; no traceback."""
    exe = Path(sys.executable).with_name("napari-allen-sync")
    pts = np.random.default_rng(3).uniform(0, 6000, (200_000, 2))
    np.save(points.parent / "many.npy", pts)
    proc = subprocess.Popen(
        [str(exe), *map(str, ARGS), "--points", str(points.parent / "many.npy")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert first.startswith(b"point,target")
    assert "Traceback" not in err and "Exception ignored" not in err
