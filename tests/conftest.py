"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_user_folders(tmp_path_factory, monkeypatch):
    """Never touch the real user cache or config: every test gets its own folders."""
    root = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("NAPARI_ALLEN_SYNC_CACHE", str(root / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(root / "xdg-cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(root / "xdg-config"))
    yield
