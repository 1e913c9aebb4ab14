"""The core runs in scripts, servers and dask workers: it imports neither napari nor Qt."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "napari_allen_sync",
    "napari_allen_sync.catalog",
    "napari_allen_sync.synchronizer",
    "napari_allen_sync.batch",
    "napari_allen_sync.cli",
    "napari_allen_sync.commands.sync",
]


def test_core_modules_import_neither_napari_nor_qt():
    code = (
        "import sys, importlib\n"
        f"for m in {CORE!r}: importlib.import_module(m)\n"
        "from napari_allen_sync.cli import build_parser; build_parser()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('napari', 'qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'vispy', 'magicgui'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "", out.stdout
