"""The command line, run as a user would (a subprocess of the installed console script)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine_fixtures import synthetic_catalog
from napari_allen_sync.cli import main
from napari_allen_sync.synchronizer import Synchronizer

CATALOG = synthetic_catalog()
SEED = CATALOG.images_of(101)[12].id


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("catalog")
    CATALOG.to_folder(folder)
    return folder


def test_help_explains_the_coordinate_frames():
    out = subprocess.run(
        [sys.executable, "-m", "napari_allen_sync.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "section pixels" in out and "reference space" in out and "PIR" in out
    out = subprocess.run(
        [sys.executable, "-m", "napari_allen_sync.cli", "sync", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "image_to_image_2d" in out and "distance" in out


def test_image_to_image_from_npy_to_csv(catalog_dir, tmp_path):
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 9000, (250, 2))
    np.save(tmp_path / "cells.npy", pts)
    out = tmp_path / "synced.csv"
    code = main(
        [
            "sync",
            "--catalog",
            str(catalog_dir),
            "image_to_image",
            "--section-image-id",
            str(SEED),
            "--section-data-set-ids",
            "102,103",
            "--points",
            str(tmp_path / "cells.npy"),
            "-o",
            str(out),
        ]
    )
    assert code == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 500
    expected = Synchronizer(CATALOG).image_to_image_batch(SEED, pts[:, 0], pts[:, 1], [102, 103])
    got_x = np.array([float(r["x"]) for r in rows]).reshape(250, 2)
    np.testing.assert_array_equal(got_x[:, 0], expected[0].x)
    np.testing.assert_array_equal(got_x[:, 1], expected[1].x)
    assert {r["section_data_set_id"] for r in rows} == {"102", "103"}


def test_reference_to_image_from_csv_with_header_to_json(catalog_dir, tmp_path):
    (tmp_path / "p.csv").write_text("z,y,x\n5000,4000,6000\n5100,4100,6100\n")
    out = tmp_path / "r.json"
    assert (
        main(
            [
                "sync",
                "--catalog",
                str(catalog_dir),
                "reference_to_image",
                "--reference-space-id",
                "9",
                "--section-data-set-ids",
                "103",
                "--points",
                str(tmp_path / "p.csv"),
                "-o",
                str(out),
            ]
        )
        == 0
    )
    rows = json.loads(out.read_text())
    msg = Synchronizer(CATALOG).reference_to_image(9, 6000, 4000, 5000, [103])[0]["image_sync"]
    assert rows[0]["x"] == msg["x"] and rows[0]["section_image_id"] == msg["section_image_id"]


def test_console_script_reports_bad_input_without_traceback(catalog_dir, tmp_path):
    (tmp_path / "p.csv").write_text("x,y\n1,2\nnan,3\n")
    exe = Path(sys.executable).with_name("napari-allen-sync")
    out = tmp_path / "never.csv"
    proc = subprocess.run(
        [
            str(exe),
            "sync",
            "--catalog",
            str(catalog_dir),
            "image_to_reference",
            "--section-image-id",
            str(SEED),
            "--points",
            str(tmp_path / "p.csv"),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "x must be finite" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists() and not list(tmp_path.glob(".*partial"))


def test_unknown_id_and_missing_arguments(catalog_dir, tmp_path, capsys):
    (tmp_path / "p.csv").write_text("1,2\n")
    assert (
        main(
            [
                "sync",
                "--catalog",
                str(catalog_dir),
                "image_to_reference",
                "--section-image-id",
                "4",
                "--points",
                str(tmp_path / "p.csv"),
            ]
        )
        == 2
    )
    assert "unknown SectionImage id 4" in capsys.readouterr().err
    assert (
        main(
            [
                "sync",
                "--catalog",
                str(catalog_dir),
                "image_to_atlas",
                "--section-image-id",
                str(SEED),
                "--points",
                str(tmp_path / "p.csv"),
            ]
        )
        == 2
    )
    assert "needs --atlas-id" in capsys.readouterr().err


def test_structure_to_image_needs_no_points(catalog_dir, capsys):
    assert (
        main(
            [
                "sync",
                "--catalog",
                str(catalog_dir),
                "structure_to_image",
                "--section-data-set-id",
                "101",
                "--structure-ids",
                "315,997",
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert [r["point"] for r in rows] == ["315", "997"]


def test_demo_example_of_the_help_runs(tmp_path):
    """The example the help shows works on the embedded demo atlas."""
    from napari_allen_sync.demo import demo_catalog, demo_click

    image_id, x, y = demo_click()
    (tmp_path / "cells.csv").write_text(f"x,y\n{x},{y}\n")
    out = tmp_path / "synced.csv"
    args = [
        "sync",
        "--demo",
        "image_to_image",
        "--section-image-id",
        str(image_id),
        "--section-data-set-ids",
        "900100002,900100003",
        "--points",
        str(tmp_path / "cells.csv"),
        "-o",
        str(out),
    ]
    assert main(args) == 0
    rows = list(csv.DictReader(out.open()))
    expected = Synchronizer(demo_catalog()).image_to_image(image_id, x, y, [900100002, 900100003])
    assert [int(r["section_image_id"]) for r in rows] == [
        e["image_sync"]["section_image_id"] for e in expected
    ]


# ---------------------------------------------------------------------- errors (issue 12)
@pytest.mark.parametrize(
    ("raised", "status", "words"),
    [
        (MemoryError(), 1, "not enough memory"),
        (PermissionError(13, "Permission denied", "/x/y.csv"), 1, "/x/y.csv: Permission denied"),
        (UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid"), 2, "not UTF-8"),
        (ValueError("a bug\nover two lines"), 1, "internal error: ValueError: a bug over two"),
    ],
)
def test_no_error_ends_in_a_traceback(monkeypatch, capsys, tmp_path, raised, status, words):
    from napari_allen_sync.commands import sync as sync_command

    def fail(*args, **kwargs):
        raise raised

    monkeypatch.setattr(sync_command, "read_points", fail)
    monkeypatch.delenv("NAPARI_ALLEN_SYNC_TRACEBACK", raising=False)
    code = main(["sync", "--demo", "image_to_reference", "--section-image-id", "1",
                 "--points", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert code == status
    assert words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_error_messages_are_bounded(tmp_path, capsys):
    (tmp_path / "p.csv").write_text("x,y\n" + "9" * 100_000 + "x,1\n")
    code = main(["sync", "--demo", "image_to_reference", "--section-image-id", "1",
                 "--points", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert code == 2 and len(err) < 700 and "line 2" in err


def test_exit_status_classes():
    from napari_allen_sync.cli import exit_status
    from napari_allen_sync.errors import (
        CacheError,
        InvalidIdListError,
        PointsFileError,
        ServiceError,
        ServiceUnavailableError,
        UnknownIdError,
        UsageError,
        WriteError,
    )

    assert exit_status(UsageError("x")) == 2
    assert exit_status(PointsFileError("p.csv", "bad")) == 2
    assert exit_status(InvalidIdListError("x")) == 2
    assert exit_status(UnknownIdError("SectionImage", 4)) == 2
    assert exit_status(ServiceError("unknown id", status=404)) == 2
    assert exit_status(ServiceError("overloaded", status=503)) == 1
    assert exit_status(ServiceUnavailableError("refused")) == 1
    assert exit_status(WriteError("o.csv", "disk full")) == 1
    assert exit_status(CacheError("locked")) == 1
    assert exit_status(MemoryError()) == 1


@pytest.mark.parametrize(("name", "status"), [("plate.foo", 2), ("plate.png", 0)])
def test_image_command_writes_atomically_or_refuses(tmp_path, capsys, name, status):
    out = tmp_path / name
    code = main(["image", "--atlas-plate", "70", "--downsample", "5", "-o", str(out)])
    assert code == status
    assert out.exists() == (status == 0)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    if status:
        assert "cannot tell the image format" in capsys.readouterr().err
