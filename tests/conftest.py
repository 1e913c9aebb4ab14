"""Fixtures shared by the whole suite.

- every test gets private user folders (cache, config; napari's settings too);
- ``demo_source``: the embedded demo atlas (a fresh :class:`DemoSource` per test);
  ``demo_catalog``: its catalog (shared, read-only);
- ``synthetic_catalog``: the one synthetic-catalog builder (tests/support/synthetic.py),
  as a factory: ``synthetic_catalog("engine", seed=0)`` (random affines, the engine
  tests'), ``synthetic_catalog("served", seed=7)`` (what the loopback server serves),
  ``synthetic_catalog("widget")`` (planned geometry for the dock's clicks).

Per area: tests/http/conftest.py, tests/cli/conftest.py and tests/napari/conftest.py
(the loopback servers, ``run_cli``, ``make_widget``); helper modules that are not fixtures
are in tests/support (on pytest's ``pythonpath``: ``from synthetic import data_set``).
"""

from __future__ import annotations

import os
import tempfile

import pytest

# napari fixes its settings path (and the plugins' settings files beside it) when it is
# first imported, before any fixture runs: point it at a private folder now, so that no
# test reads or writes the user's napari settings (ours included).
os.environ["NAPARI_CONFIG"] = os.path.join(
    tempfile.mkdtemp(prefix="napari-allen-sync-tests-"), "settings.yaml")


@pytest.fixture(autouse=True)
def _private_user_folders(tmp_path_factory, monkeypatch):
    """Never touch the real user cache or config: every test gets its own folders."""
    root = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("NAPARI_ALLEN_SYNC_CACHE", str(root / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(root / "xdg-cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(root / "xdg-config"))
    yield


@pytest.fixture
def demo_source():
    """The embedded demo atlas: a new :class:`~napari_allen_sync.demo.DemoSource`."""
    from napari_allen_sync.demo import DemoSource

    return DemoSource()


@pytest.fixture(scope="session")
def demo_catalog():
    """The demo's catalog (shared by every test: do not change it)."""
    from napari_allen_sync.demo import demo_catalog

    return demo_catalog()


@pytest.fixture(scope="session")
def synthetic_catalog():
    """The synthetic catalogs, by kind: ``synthetic_catalog(kind, seed=None)`` with
    ``kind`` one of ``"engine"``, ``"served"``, ``"widget"`` (a new catalog each call)."""

    def build(kind: str = "engine", seed: int | None = None):
        if kind == "engine":
            from engine_fixtures import synthetic_catalog as engine

            return engine(0 if seed is None else seed)
        if kind == "served":
            from _http_fixtures import synthetic_catalog as served

            return served(7 if seed is None else seed)
        if kind == "widget":
            from widget_fixtures import make_catalog

            return make_catalog()
        raise ValueError(f"unknown synthetic catalog {kind!r}: engine, served or widget")

    return build
