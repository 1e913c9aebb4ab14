"""``napari-allen-sync serve --demo`` in a child process, used through RemoteSource:
the embedded demo atlas's records and pixels arrive intact over HTTP."""

from __future__ import annotations

import numpy as np
import pytest

from _http_fixtures import msg_equal, server_process

demo = pytest.importorskip("napari_allen_sync.demo")

from napari_allen_sync.remote import RemoteSource  # noqa: E402


@pytest.fixture(scope="module")
def demo_server():
    with server_process() as base:
        yield base


def test_demo_over_http_equals_the_demo(demo_server, tmp_path):
    local = demo.DemoSource()
    remote = RemoteSource(demo_server, tmp_path, timeout=(2, 30))
    assert remote.status() == "online"
    for d in local.data_set_ids():
        remote.ensure_data_set(d)
    for a in local.atlas_ids():
        remote.ensure_atlas(a)
    assert remote.data_set_ids() == sorted(local.data_set_ids())
    assert remote.atlas_ids() == sorted(local.atlas_ids())
    sid, x, y = demo.demo_click()
    ids = local.data_set_ids()
    assert msg_equal(remote.synchronizer.image_to_image(sid, x, y, ids),
                     local.synchronizer.image_to_image(sid, x, y, ids))
    atlas = local.atlas_ids()[0]
    assert msg_equal(remote.synchronizer.image_to_atlas(sid, x, y, atlas),
                     local.synchronizer.image_to_atlas(sid, x, y, atlas))
    ds = ids[0]
    space = local.catalog.section_data_set(ds).reference_space_id
    centers = local.catalog.structure_centers
    structures = [s for s in local.catalog.structures if (s, space) in centers]
    assert msg_equal(remote.synchronizer.structure_to_image(ds, structures[:5]),
                     local.synchronizer.structure_to_image(ds, structures[:5]))


def test_demo_pixels_over_http(demo_server, tmp_path):
    local = demo.DemoSource()
    remote = RemoteSource(demo_server, tmp_path, timeout=(2, 30))
    sid, _, _ = demo.demo_click()
    remote.ensure_section_image(sid)
    image = remote.catalog.section_image(sid)
    got = remote.tiles.read_region(image, 4, -64, 0, 700, 300)  # crosses tiles and the edge
    want = local.tiles.read_region(local.catalog.section_image(sid), 4, -64, 0, 700, 300)
    assert got.shape == want.shape
    assert np.abs(got.astype(int) - want.astype(int)).mean() < 6  # JPEG, quality 90
