"""Fixtures of the core tests (no napari, no Qt).

- ``source``: one embedded demo atlas (:class:`~napari_allen_sync.demo.DemoSource`) per
  test module, shared by its tests (its tile cache too: the workflow, read-ahead and
  overlay tests read through it); ``seed``: the demo's seed section image.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def source():
    demo = pytest.importorskip("napari_allen_sync.demo")
    return demo.DemoSource()


@pytest.fixture(scope="module")
def seed(source):
    from napari_allen_sync.demo import demo_click

    return source.catalog.section_image(demo_click()[0])
