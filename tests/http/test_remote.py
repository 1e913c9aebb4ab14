"""RemoteSource and its tiles over real HTTP: the AtlasSource protocol, status, the
cached path (no request once cached), image_download tiles, and the prefetch command."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _http_fixtures import (
    ALL_FAILED,
    ATLAS_ID,
    CORONAL,
    DATA_SETS,
    NO_ALIGNMENT,
    SAGITTAL,
    STRUCTURES,
    PatternTiles,
    msg_equal,
)
from napari_allen_sync.cli import main
from napari_allen_sync.client import SynchronizationApi
from napari_allen_sync.errors import MissingAlignmentError, ServiceError, UnknownIdError
from napari_allen_sync.remote import CachedSynchronizationApi, RemoteSource, decode_jpeg
from napari_allen_sync.source import AtlasSource, TileSource
from napari_allen_sync.synchronizer import Synchronizer


@pytest.fixture
def source(server, tmp_path):
    s = RemoteSource(server.base, tmp_path / "cache", timeout=(2, 10), retries=1)
    yield s
    s.close()


def test_is_an_atlas_source(source):
    assert isinstance(source, AtlasSource)
    assert isinstance(source.tiles, TileSource)
    assert source.name == source.api.base_uri
    assert RemoteSource(cache_dir=source.cache.root).name == "Allen Brain Atlas API"


def test_status(source, tmp_path):
    assert source.status() == "online"
    down = RemoteSource("http://127.0.0.1:9", tmp_path / "empty", timeout=(0.3, 0.3))
    assert down.status() == "unreachable"
    source.ensure_data_set(CORONAL[0])
    cached = RemoteSource("http://127.0.0.1:9", source.cache.root, timeout=(0.3, 0.3))
    assert cached.status() == "offline from cache"


def test_structure_at_is_unknown_where_the_server_has_no_volume(source):
    """The synthetic server serves no annotation volume: no structure anywhere, the
    reason kept (structures with a volume: test_remote_annotation.py)."""
    assert source.structure_at(9, [1.0, 2.0, 3.0], [1, 2, 3], [4, 5, 6]) == [None] * 3
    assert "no annotation volume" in str(source.annotation_problem)


def test_once_cached_no_request_is_made(source, server):
    for d in DATA_SETS:
        source.ensure_data_set(d)
    source.ensure_atlas(ATLAS_ID)
    before = server.faults.requests
    engine = Synchronizer(server.catalog)
    rng = np.random.default_rng(3)
    for _ in range(20):
        d = int(rng.choice(DATA_SETS))
        image = server.catalog.images_of(d)[int(rng.integers(10))]
        x, y = rng.uniform(0, 3000, 2)
        source.ensure_data_set(d)
        for d2 in DATA_SETS:
            source.ensure_data_set(d2)
        source.ensure_atlas(ATLAS_ID)
        assert msg_equal(source.synchronizer.image_to_image(image.id, x, y, list(DATA_SETS)),
                         engine.image_to_image(image.id, x, y, list(DATA_SETS)))
        assert msg_equal(source.synchronizer.image_to_atlas(image.id, x, y, ATLAS_ID),
                         engine.image_to_atlas(image.id, x, y, ATLAS_ID))
    assert msg_equal(source.synchronizer.structure_to_image(SAGITTAL, [315, 1089]),
                     engine.structure_to_image(SAGITTAL, [315, 1089]))
    assert server.faults.requests == before
    assert source.data_set_ids() == sorted(DATA_SETS)
    assert source.atlas_ids() == [ATLAS_ID]


def test_ensure_section_image_fetches_its_data_set(source, server):
    image = server.catalog.images_of(SAGITTAL)[4]
    assert source.ensure_section_image(image.id) == image
    assert source.fetched[0] == f"SectionDataSet-{SAGITTAL}"
    with pytest.raises((UnknownIdError, ServiceError)):
        source.ensure_section_image(77)


def test_unaligned_or_unknown_data_sets_are_not_cached(source):
    with pytest.raises(MissingAlignmentError):
        source.ensure_data_set(NO_ALIGNMENT)
    with pytest.raises(ServiceError) as info:
        source.ensure_data_set(4242)
    assert info.value.status == 404
    assert source.cache.rma_names() == []


def test_tile_url_uses_full_resolution_scan_pixels(source, server):
    image = server.catalog.images_of(CORONAL[1])[0]
    q = parse_qs(urlparse(source.tiles.tile_url(image, 2, 1, 1)).query)
    assert q["downsample"] == ["2"]
    assert q["left"] == [str(image.x + 512 * 4)]
    assert q["top"] == [str(image.y + 512 * 4)]
    h, w = source.tiles.tier_shape(image, 2)
    assert q["width"] == [str(min(512, w - 512))]
    assert q["height"] == [str(min(512, h - 512))]


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(d=st.integers(0, 4), left=st.integers(-600, 5000), top=st.integers(-600, 4000),
       width=st.integers(1, 700), height=st.integers(1, 700), k=st.integers(0, 30))
def test_read_region_matches_the_pixels(source, server, d, left, top, width, height, k):
    image = server.catalog.images_of(CORONAL[2])[k]
    left, top = left - left % 2**d, top - top % 2**d  # tier-aligned, as pyramids ask
    got = source.tiles.read_region(image, d, left, top, width, height)
    want = PatternTiles().read_region(image, d, left, top, width, height)
    assert got.shape == want.shape == (height, width, 3)
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.mean() < 4  # JPEG at quality 90 on a smooth pattern


def test_tiles_come_from_disk_the_second_time(source, server, tmp_path):
    image = server.catalog.images_of(CORONAL[0])[9]
    first = source.tiles.read_region(image, 1, 0, 0, 900, 700)
    calls = server.tiles.calls
    fresh = RemoteSource(server.base, source.cache.root)
    again = fresh.tiles.read_region(image, 1, 0, 0, 900, 700)
    assert np.array_equal(first, again)
    assert server.tiles.calls == calls
    assert fresh.tiles.downloads == 0
    # a tile damaged on disk is fetched again
    path = source.cache.tile_path(image.id, 1, 0, 0, 512)
    path.write_bytes(path.read_bytes()[:200])
    fresh.tiles.forget_memory()
    assert np.array_equal(fresh.tiles.read_region(image, 1, 0, 0, 900, 700), first)
    assert fresh.tiles.downloads == 1
    assert decode_jpeg(path.read_bytes()).shape == (512, 512, 3)


def test_image_download_without_pixels_is_404(tmp_path, served):
    from napari_allen_sync.server import create_app, serve_in_thread

    with serve_in_thread(create_app(served.catalog)) as base:
        source = RemoteSource(base, tmp_path)
        with pytest.raises(ServiceError, match="no pixels") as info:
            source.tiles.tile(served.catalog.images_of(CORONAL[0])[0], 3, 0, 0)
        assert info.value.status == 404


def test_prefetch_fills_the_cache_and_resumes(server, tmp_path, capsys):
    cache = tmp_path / "prefetch"
    image = server.catalog.images_of(CORONAL[1])[5]
    server.faults.add("500", count=1000, path_contains=f"image_download/{image.id}")
    args = ["prefetch", "--data-set", str(CORONAL[0]), str(CORONAL[1]), "--atlas", str(ATLAS_ID),
            "--tiers", "4", "--base-uri", server.base, "--cache-dir", str(cache), "--quiet"]
    assert main(args) == 1  # one image's tiles failed
    assert "failed: tile" in capsys.readouterr().err
    server.faults.clear()
    before = server.faults.requests
    assert main(args) == 0
    # the second run fetched only the missing tiles: one per tier-4 tile of that image
    assert server.faults.requests - before == 1
    before = server.faults.requests
    assert main(args) == 0
    assert server.faults.requests == before
    offline = RemoteSource("http://127.0.0.1:9", cache, timeout=(0.3, 0.3), retries=0)
    assert offline.data_set_ids() == [CORONAL[0], CORONAL[1]]
    offline.tiles.read_region(image, 4, 0, 0, 64, 64)
    assert offline.tiles.downloads == 0


def test_prefetch_needs_something_to_do(capsys):
    assert main(["prefetch", "--quiet"]) == 2


def test_cached_api_answers_like_the_service_then_offline(source, server):
    cached = CachedSynchronizationApi(source)
    http = SynchronizationApi(server.base, timeout=(2, 10))
    seed = server.catalog.images_of(CORONAL[0])[8]
    other = server.catalog.images_of(SAGITTAL)[2]
    targets = [*DATA_SETS, ALL_FAILED, NO_ALIGNMENT, 4242]
    calls = [
        ("get_image_to_reference", (seed.id, 100.25, 300.5)),
        ("get_reference_to_image", (9, 6000.0, 3000.0, 5000.0, targets)),
        ("get_image_to_image", (seed.id, 100.25, 300.5, targets)),
        ("get_image_to_image_2d", (seed.id, 100.25, 300.5, [other.id, seed.id])),
        ("get_image_to_atlas", (seed.id, 100.25, 300.5, ATLAS_ID)),
        ("get_structure_to_image", (SAGITTAL, [*STRUCTURES, 5555])),
    ]
    for method, args in calls:
        assert msg_equal(getattr(cached, method)(*args), getattr(http, method)(*args)), method
    before = server.faults.requests
    for method, args in calls:  # unknown or unaligned targets are remembered, too
        getattr(cached, method)(*args)
    assert server.faults.requests == before


def test_a_ready_atlas_is_not_read_again(source, server):
    """Every click asks for the atlas: once its records are in the catalog, no request and
    no cache read is made (the cache's answers may even be gone)."""
    import shutil

    source.ensure_atlas(ATLAS_ID)
    before = server.faults.requests
    shutil.rmtree(source.cache.root / "rma")
    for _ in range(3):
        source.ensure_atlas(ATLAS_ID)
    assert server.faults.requests == before
    assert ATLAS_ID in source.catalog.atlases
    # a fresh source on the same (now emptied) cache must fetch again: the shortcut is
    # the catalog in memory, not a stale flag
    again = RemoteSource(server.base, source.cache.root, timeout=(2, 10), retries=1)
    again.ensure_atlas(ATLAS_ID)
    assert server.faults.requests > before
