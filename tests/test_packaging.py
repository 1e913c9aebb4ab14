"""The distribution a napari-hub user installs: wheel contents, metadata, npe2 manifest.

Builds the wheel, installs it into a fresh virtual environment and runs
``npe2 validate napari-allen-sync`` there, as the napari hub does.
"""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (found,) = out.glob("napari_allen_sync-*.whl")
    return found


def test_wheel_carries_the_manifest_inside_the_package(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "napari_allen_sync/napari.yaml" in names
        assert zf.read("napari_allen_sync/napari.yaml") == (ROOT / "napari.yaml").read_bytes()
        (ep,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = zf.read(ep).decode()
    assert "[napari.manifest]" in entry_points
    assert "napari-allen-sync = napari_allen_sync:napari.yaml" in entry_points
    assert "napari-allen-sync = napari_allen_sync.cli:main" in entry_points


def test_metadata_fits_the_napari_hub(wheel):
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        meta = Parser().parsestr(zf.read(name).decode())
    assert meta["Name"] == "napari-allen-sync"
    assert "Framework :: napari" in meta.get_all("Classifier")
    assert meta["License-Expression"] == "BSD-3-Clause" or meta["License"]
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "make test" in meta.get_payload()
    assert len(meta.get_all("Project-URL")) >= 3
    reqs = [Requirement(r) for r in meta.get_all("Requires-Dist")]
    base = [r for r in reqs if r.marker is None]
    qt = {"pyqt5", "pyqt6", "pyside2", "pyside6"}
    assert not [r for r in base if r.name.lower() in qt or r.name == "napari"], base
    extra_all = [r for r in reqs if r.marker is not None and r.marker.evaluate({"extra": "all"})]
    assert any(r.name == "napari" and "pyqt6" in r.extras for r in extra_all), extra_all


def test_npe2_validate_in_a_fresh_environment(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True, capture_output=True, timeout=300)
    subprocess.run([*pip, "npe2"], check=True, capture_output=True, timeout=600)
    proc = subprocess.run(
        [str(env_dir / "bin" / "npe2"), "validate", "napari-allen-sync"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "valid" in (proc.stdout + proc.stderr).lower()
