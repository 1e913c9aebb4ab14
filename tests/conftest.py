"""Fixtures shared by the whole suite."""

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
