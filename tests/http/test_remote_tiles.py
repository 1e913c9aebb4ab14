"""Tiles online, over real HTTP against our own server serving the demo: annotated atlas
plates (coronal and sagittal) and overlays as their own cached tiles, AllenSDK's
download forms with the generic fallback, and the width/height convention detected
from the first JPEG and remembered per server."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from starlette.responses import JSONResponse

from _fault_server import with_faults
from napari_allen_sync.demo import DemoSource
from napari_allen_sync.errors import ServiceError
from napari_allen_sync.images import image_pyramid, tile_view
from napari_allen_sync.remote import RemoteSource, RemoteTileSource
from napari_allen_sync.server import create_app, serve_in_thread

LOCAL = DemoSource()


def _serve(convention="tier", named_forms=True):
    app = with_faults(create_app(DemoSource(), tile_convention=convention))
    if not named_forms:
        app = _WithoutNamedForms(app)
    return serve_in_thread(app), app


class _WithoutNamedForms:
    """A server that only knows the generic image_download (404 for AllenSDK's forms)."""

    def __init__(self, app):
        self.app = app
        self.faults = app.faults
        self.named_requests = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and re.search(r"/(section|atlas|projection)_image_download/",
                                                 scope["path"]):
            self.named_requests += 1
            await JSONResponse({"success": False, "msg": "no such path"},
                               status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def tier_server():
    served, app = _serve("tier")
    with served as base:
        yield base, app


def _remote(base, cache):
    remote = RemoteSource(base, cache, timeout=(2, 60))
    for a in LOCAL.atlas_ids():
        remote.ensure_atlas(a)
    for d in LOCAL.data_set_ids():
        remote.ensure_data_set(d)
    return remote


def _close(got, want, tol=6.0):
    assert got.shape == want.shape
    return np.abs(got.astype(int) - want.astype(int)).mean() < tol  # JPEG, quality 90


def _plate(catalog, atlas_id, k):
    ds = catalog.atlas_data_set(atlas_id)
    return catalog.images_of(ds.id)[k]


@pytest.mark.parametrize("atlas_id, k", [(1, 70), (2, 15)])
def test_annotated_and_nissl_plates_online(tier_server, tmp_path, atlas_id, k):
    base, _ = tier_server
    remote = _remote(base, tmp_path)
    plate = _plate(remote.catalog, atlas_id, k)
    local_plate = LOCAL.catalog.section_image(plate.id)
    d = plate.tier_count - 3
    region = (d, 0, 0, 400, 300)
    annotated = remote.tiles.read_region(plate, *region)  # the default: annotated
    assert _close(annotated, LOCAL.tiles.view("annotation").read_region(local_plate, *region))
    assert remote.tiles.view("annotation").read_region(plate, *region) is not None
    nissl = remote.tiles.view("image").read_region(plate, *region)
    assert _close(nissl, LOCAL.tiles.view("image").read_region(local_plate, *region))
    assert not _close(nissl, annotated, tol=15)  # two different pictures
    url = remote.tiles.tile_url(plate, d, 0, 0)
    assert f"/api/v2/atlas_image_download/{plate.id}?" in url
    assert parse_qs(urlparse(url).query)["annotation"] == ["true"]
    assert parse_qs(urlparse(url).query)["atlas"] == [str(atlas_id)]
    assert "annotation" not in remote.tiles.view("image").tile_url(plate, d, 0, 0)
    # each cached as its own tile
    assert remote.tiles.is_cached(plate, d, 0, 0)
    assert remote.tiles.view("image").is_cached(plate, d, 0, 0)
    a = remote.tiles._tile_path(plate, d, 0, 0)
    b = remote.tiles.view("image")._tile_path(plate, d, 0, 0)
    assert a != b and a.read_bytes() != b.read_bytes()
    # a fresh source answers both from the cache with no download
    again = RemoteSource(base, tmp_path)
    plate2 = again.catalog.section_image(plate.id)
    assert np.array_equal(again.tiles.read_region(plate2, *region), annotated)
    assert np.array_equal(again.tiles.view("image").read_region(plate2, *region), nissl)
    assert again.tiles.downloads == again.tiles.view("image").downloads == 0


@pytest.mark.parametrize("data_set, view, form", [
    (900100001, "expression", "section_image_download"),
    (900100003, "expression", "section_image_download"),
    (900100004, "projection", "projection_image_download"),
])
def test_overlays_online(tier_server, tmp_path, data_set, view, form):
    base, _ = tier_server
    remote = _remote(base, tmp_path)
    assert remote.overlay_view(data_set) == LOCAL.overlay_view(data_set) == view
    images = remote.catalog.images_of(data_set)
    image = images[len(images) // 2]
    d = image.tier_count - 3
    overlay = tile_view(remote.tiles, view)
    got = overlay.read_region(image, d, 0, 0, 500, 400)
    want = LOCAL.tiles.view(view).read_region(LOCAL.catalog.section_image(image.id), d, 0, 0,
                                              500, 400)
    assert _close(got, want)
    assert (want.max(axis=2) > 60).mean() > 0.02  # the mask shows signal ...
    assert (want.max(axis=2) < 10).mean() > 0.3  # ... on black
    stain = remote.tiles.read_region(image, d, 0, 0, 500, 400)
    assert not _close(stain, got, tol=15)
    url = overlay.tile_url(image, d, 0, 0)
    assert f"/api/v2/{form}/{image.id}?" in url
    assert parse_qs(urlparse(url).query)["view"] == [view]
    assert overlay._tile_path(image, d, 0, 0) != remote.tiles._tile_path(image, d, 0, 0)
    levels = image_pyramid(image, overlay)  # the layer the dock shows
    assert levels[d].shape[:2] == remote.tiles.tier_shape(image, d)


def test_overlay_of_a_nissl_plate_is_refused(tier_server, tmp_path):
    base, _ = tier_server
    remote = _remote(base, tmp_path)
    plate = _plate(remote.catalog, 1, 60)
    with pytest.raises(ServiceError, match="no expression mask") as info:
        remote.tiles.view("expression").tile(plate, plate.tier_count - 1, 0, 0)
    assert info.value.status == 400
    assert not remote.tiles.view("expression").is_cached(plate, plate.tier_count - 1, 0, 0)


@pytest.mark.parametrize("convention", ["tier", "full"])
def test_size_convention_is_learnt_and_remembered(tmp_path, convention):
    served, app = _serve(convention)
    with served as base:
        remote = _remote(base, tmp_path)
        assert remote.tiles.size_convention is None
        image = remote.catalog.images_of(900100002)[10]
        d = 3
        before = app.faults.requests
        got = remote.tiles.read_region(image, d, 0, 0, 300, 200)  # one tile
        want = LOCAL.tiles.read_region(LOCAL.catalog.section_image(image.id), d, 0, 0, 300, 200)
        assert _close(got, want)
        assert remote.tiles.size_convention == convention
        # the "full" server first sent a JPEG 2**d times too small: asked again once
        assert app.faults.requests - before == (1 if convention == "tier" else 2)
        q = parse_qs(urlparse(remote.tiles.tile_url(image, d, 0, 1)).query)
        tw = min(512, remote.tiles.tier_shape(image, d)[1] - 512)
        assert int(q["width"][0]) == (tw if convention == "tier" else tw * 2**d)
        # remembered for this server in the cache: a new client asks once per tile
        fresh = RemoteSource(base, tmp_path)
        assert fresh.tiles.size_convention == convention
        before = app.faults.requests
        fresh.tiles.tile(fresh.catalog.section_image(image.id), d, 0, 1)
        assert app.faults.requests - before == 1
        # full resolution (tier 0) tiles are the same either way
        t0 = fresh.tiles.read_region(fresh.catalog.section_image(image.id), 0, 1000, 1000, 64, 64)
        assert _close(t0, LOCAL.tiles.read_region(LOCAL.catalog.section_image(image.id), 0,
                                                  1000, 1000, 64, 64))


def test_named_forms_fall_back_to_image_download(tmp_path):
    served, app = _serve("tier", named_forms=False)
    with served as base:
        remote = _remote(base, tmp_path)
        image = remote.catalog.images_of(900100004)[20]
        plate = _plate(remote.catalog, 1, 50)
        for im in (image, plate):
            got = remote.tiles.read_region(im, im.tier_count - 1, 0, 0, 50, 40)
            want = LOCAL.tiles.read_region(LOCAL.catalog.section_image(im.id),
                                           im.tier_count - 1, 0, 0, 50, 40)
            assert _close(got, want)
        # each named form was tried once, then the generic form is used directly
        assert app.named_requests == 2
        assert "/api/v2/image_download/" in remote.tiles.tile_url(image, 2, 0, 0)
        fresh = RemoteSource(base, tmp_path)
        assert "/api/v2/image_download/" in fresh.tiles.tile_url(
            fresh.catalog.section_image(plate.id), 2, 0, 0)
        fresh.tiles.view("image").tile(fresh.catalog.section_image(plate.id), 3, 0, 0)
        assert app.named_requests == 2


def test_views_are_one_object_each_and_validated(tmp_path):
    with serve_in_thread(create_app(DemoSource())) as base:
        remote = RemoteSource(base, tmp_path)
        tiles = remote.tiles
        assert tiles.view("default") is tiles
        assert tiles.view("expression") is tiles.view("expression")
        assert tiles.view("expression").view("default") is tiles
        with pytest.raises(ValueError, match="view must be one of"):
            tiles.view("nissl")
        assert isinstance(tile_view(tiles, "projection"), RemoteTileSource)
        with pytest.raises(ValueError):
            tile_view(object(), "annotation")


def test_serve_command_runs_either_convention(tmp_path):
    """``napari-allen-sync serve --demo --tile-convention full`` in a child process."""
    from _http_fixtures import server_process

    with server_process(extra_args=("--tile-convention", "full")) as base:
        remote = RemoteSource(base, tmp_path, timeout=(2, 60))
        image = remote.ensure_section_image(LOCAL.seed_image_id)
        got = remote.tiles.read_region(image, 4, 0, 0, 100, 80)
        assert remote.tiles.size_convention == "full"
        assert _close(got, LOCAL.tiles.read_region(LOCAL.catalog.section_image(image.id), 4,
                                                   0, 0, 100, 80))
