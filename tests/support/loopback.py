"""The loopback server fixtures: our own server on 127.0.0.1, in a thread, with fault
injection (:mod:`_fault_server`) and a request counter.

Registered by the ``conftest.py`` of tests/http, tests/cli and tests/napari (a test there
just names ``served``, ``server``, ``demo_served`` or ``demo_server``); not imported by test
modules.
"""

from __future__ import annotations

import pytest

from _fault_server import Faults, with_faults
from _http_fixtures import PatternTiles, synthetic_catalog
from napari_allen_sync.server import create_app, serve_in_thread

__all__ = ["Served", "demo_served", "demo_server", "served", "server"]


class Served:
    """A running loopback server: ``base``, ``catalog``, ``faults``, ``tiles``."""

    def __init__(self, base, catalog, faults, tiles):
        self.base = base
        self.catalog = catalog
        self.faults = faults
        self.tiles = tiles


def _clear(faults):
    faults.clear()
    faults.latency = 0.0


@pytest.fixture(scope="module")
def served():
    """The synthetic catalog served (with pixels and fault injection) on loopback."""
    catalog = synthetic_catalog()
    faults = Faults()
    tiles = PatternTiles()
    with serve_in_thread(with_faults(create_app(catalog, tiles=tiles), faults)) as base:
        yield Served(base, catalog, faults, tiles)


@pytest.fixture
def server(served):
    """:func:`served`, with no fault left planned before or after the test."""
    _clear(served.faults)
    yield served
    _clear(served.faults)


@pytest.fixture(scope="module")
def demo_served():
    """``serve --demo`` on loopback (the demo source, its pixels), with fault injection
    and a request counter; ``catalog`` is the demo's."""
    from napari_allen_sync.demo import DemoSource

    source = DemoSource()
    faults = Faults()
    with serve_in_thread(with_faults(create_app(source), faults)) as base:
        yield Served(base, source.catalog, faults, getattr(source, "tiles", None))


@pytest.fixture
def demo_server(demo_served):
    """:func:`demo_served`, with no fault left planned before or after the test."""
    _clear(demo_served.faults)
    yield demo_served
    _clear(demo_served.faults)
