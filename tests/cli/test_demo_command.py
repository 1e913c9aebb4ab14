"""``napari-allen-sync demo --screenshot``: a real click in a shown window, end to end."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from napari_allen_sync.commands import demo as demo_command

pytestmark = pytest.mark.gui

demo = pytest.importorskip("napari_allen_sync.demo")


def test_parser():
    sub = argparse.ArgumentParser().add_subparsers()
    p = demo_command.add_parser(sub)
    args = p.parse_args(["--screenshot", "x.png", "--timeout", "5"])
    assert args.screenshot == "x.png" and args.timeout == 5.0
    assert p.parse_args([]).screenshot is None


def _run(*argv, timeout=240):
    env = dict(os.environ, QT_API="pyqt6")
    code = "import sys; from napari_allen_sync.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, "demo", *argv], capture_output=True,
                          text=True, env=env, timeout=timeout)


@pytest.mark.slow
def test_demo_screenshot(tmp_path):
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs a display (pytest-xvfb provides one)")
    png = tmp_path / "demo.png"
    done = _run("--screenshot", str(png), "--timeout", "180")
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    from napari_allen_sync.synchronizer import Synchronizer

    image_id, x, y = demo.demo_click()
    assert summary["click"]["section_image_id"] == image_id
    sx, sy = summary["click"]["seed_pixel"]
    assert abs(sx - x) < 20 and abs(sy - y) < 20  # a real click lands within a screen pixel
    sync = Synchronizer(demo.demo_catalog())
    targets = list(demo.DEMO_TARGET_DATA_SET_IDS)
    markers = summary["markers"]
    assert set(markers) == {"seed", *(f"ds:{d}" for d in targets), f"atlas:{demo.DEMO_ATLAS_ID}"}
    for d, b in zip(targets, sync.image_to_image_batch(image_id, [sx], [sy], targets),
                    strict=True):
        m = markers[f"ds:{d}"]
        assert m["section_image_id"] == int(b.section_image_id[0])
        np.testing.assert_allclose([m["x"], m["y"]], [b.x[0], b.y[0]], atol=1e-6)
    a = sync.image_to_atlas_batch(image_id, [sx], [sy], demo.DEMO_ATLAS_ID)
    m = markers[f"atlas:{demo.DEMO_ATLAS_ID}"]
    assert m["section_image_id"] == int(a.section_image_id[0])
    ref = sync.image_to_reference_batch(image_id, [sx], [sy])
    np.testing.assert_allclose(summary["reference"]["xyz_um"], ref.as_array()[0], atol=1e-6)
    assert summary["reference"]["ccf_voxel_25um"] == [
        int(v) for v in np.floor(ref.as_array()[0] / 25.0)
    ]
    # an image and a marker per panel, and the hidden dims anchor (one Points layer)
    from napari_allen_sync._napari.dims_anchor import ANCHOR_NAME

    anchors = [lay for lay in summary["layers"] if lay["name"] == ANCHOR_NAME]
    assert [lay["type"] for lay in anchors] == ["Points"]
    assert len(summary["layers"]) - len(anchors) == 2 * (2 + len(targets))
    assert summary["timings_ms"]["click_to_markers"] > 0


@pytest.mark.slow
def test_demo_timeout_fails_cleanly(tmp_path):
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs a display (pytest-xvfb provides one)")
    done = _run("--screenshot", str(tmp_path / "x.png"), "--timeout", "0.001")
    assert done.returncode == 1
    assert "error" in done.stderr and "within" in done.stderr
    assert not (tmp_path / "x.png").exists()
