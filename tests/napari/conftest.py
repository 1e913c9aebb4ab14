"""Fixtures of the napari tests, and the GUI smoke subset.

- the loopback servers (``served``/``server``: the synthetic catalog;
  ``demo_served``/``demo_server``: the demo), from support/loopback.py;
- pytest-qt's ``qtbot`` and napari's ``make_napari_viewer``;
- ``make_widget(source, targets=..., atlas=..., show=True, click=None)``: a viewer with
  the dock on ``source``, seed/targets/atlas loaded (and a first real click), returns
  ``(viewer, widget)``; ``wait_idle(widget)``: wait until no worker runs; ``fake_source``:
  the synthetic widget catalog with grey tiles. The plain functions behind them, the ids
  (``SEED_DS``, ``TARGETS``, ``ATLAS_ID``) and ``demo_scene_ready`` are in
  support/widget_fixtures.py (``from widget_fixtures import TARGETS``).

:data:`SMOKE` names the tests marked ``smoke``: the few dock tests ``make test`` runs
again on the oldest supported napari with PySide6 (``.venv-floor``, ``-m smoke``).
"""

from __future__ import annotations

import functools
import os
import sys

import pytest

import widget_fixtures
from loopback import demo_served, demo_server, served, server  # noqa: F401

#: Seconds a test's thread workers may still run after it (they were quit with its dock).
WORKERS_DONE_S = 10


@pytest.fixture(autouse=True)
def workers_done():
    """After each test, wait (up to :data:`WORKERS_DONE_S`) until the thread workers it
    started have ended. napari's thread workers run in Qt's global thread pool; one still
    running when its test's viewer is gone emits into deleted Qt objects ("wrapped C/C++
    object of type WorkerBaseSignals has been deleted"), and one still running at
    interpreter exit aborted a whole run (exit status 134) after every test had passed."""
    yield
    if "qtpy" in sys.modules:
        from qtpy.QtCore import QThreadPool

        QThreadPool.globalInstance().waitForDone(WORKERS_DONE_S * 1000)


@pytest.fixture
def make_widget(qtbot, make_napari_viewer):
    """:func:`widget_fixtures.make_widget` with this test's ``qtbot`` and viewer maker."""
    return functools.partial(widget_fixtures.make_widget, qtbot, make_napari_viewer)


@pytest.fixture
def wait_idle(qtbot):
    """:func:`widget_fixtures.wait_idle` with this test's ``qtbot``."""
    return functools.partial(widget_fixtures.wait_idle, qtbot)


@pytest.fixture
def fake_source():
    """:class:`widget_fixtures.FakeSource`: the synthetic widget catalog, grey tiles."""
    return widget_fixtures.FakeSource()


#: ``file::test`` of the GUI smoke subset: the dock docks and draws the demo, a real click
#: synchronizes, the npe2 manifest's widget and writer work.
SMOKE = frozenset({
    "test_widget_demo.py::test_demo_scene_and_real_click",
    "test_widget_demo.py::test_plugin_manifest_widget",
    "test_widget.py::test_real_click_synchronizes_every_target_and_atlas",
    "test_widget_dock.py::test_a_click_says_at_once_what_is_being_done",
    "test_napari_io.py::test_writer_round_trip_after_batch_sync",
})


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselect anything
def pytest_collection_modifyitems(config, items):
    found, files = set(), set()
    for item in items:
        name = f"{item.path.name}::{item.originalname}"
        files.add(item.path.name)
        if name in SMOKE:
            item.add_marker(pytest.mark.smoke)
            found.add(name)
    lost = sorted(n for n in SMOKE - found if n.split("::")[0] in files)
    if lost:  # a renamed smoke test would silently leave the subset
        raise pytest.UsageError(f"tests/napari/conftest.py SMOKE names missing tests: {lost}")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """PySide6 (6.12, the newest napari 0.9.0 resolves to) aborts the interpreter while
    it garbage-collects at exit ("none_dealloc: deallocating None"), after every test
    passed: under PySide6, stop pytest-xvfb's Xvfb (an atexit handler, which os._exit
    skips) and leave with pytest's exit status before that finalization."""
    if os.environ.get("QT_API", "").lower() != "pyside6" or "PySide6" not in sys.modules:
        return
    status = getattr(config, "_allen_sync_exit_status", None)
    if status is None:
        return
    xvfb = sys.modules.get("pytest_xvfb")
    if xvfb is not None:
        xvfb.shutdown_xvfb()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(status))


def pytest_sessionfinish(session, exitstatus):
    session.config._allen_sync_exit_status = exitstatus
