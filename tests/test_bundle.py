"""Offline bundles: export from one cache, import into another, work with no network."""

from __future__ import annotations

import json
import socket
import zipfile

import pytest

from napari_allen_sync.bundle import BundleError, export_bundle, import_bundle, read_manifest
from napari_allen_sync.cache import AllenCache
from napari_allen_sync.cli import main
from napari_allen_sync.demo import DemoSource, demo_click
from napari_allen_sync.remote import RemoteSource
from napari_allen_sync.server import create_app, serve_in_thread


def _closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def bundle_file(tmp_path_factory):
    """A bundle of the demo's seed data set and atlas 1, with one tier of seed tiles."""
    root = tmp_path_factory.mktemp("bundle")
    demo = DemoSource()
    seed_image, _, _ = demo_click()
    seed_ds = demo.catalog.section_image(seed_image).data_set_id
    with serve_in_thread(create_app(demo)) as base:
        online = RemoteSource(base, root / "cache-a", timeout=(2, 30))
        online.ensure_data_set(seed_ds)
        online.ensure_atlas(1)
        image = online.catalog.section_image(seed_image)
        tier = image.tier_count - 1
        online.tiles.read_region(image, tier, 0, 0, 64, 64)
        online.tiles.read_region(image, tier - 1, 0, 0, 64, 64)
    path = root / "demo.zip"
    manifest = export_bundle(
        path,
        section_data_set_ids=[seed_ds],
        atlas_ids=[1],
        tiers=[tier],
        cache=AllenCache(root / "cache-a"),
    )
    return path, manifest, seed_ds, tier


def test_import_then_synchronize_with_no_network(bundle_file, tmp_path):
    path, manifest, seed_ds, tier = bundle_file
    assert manifest["version"] == 1 and manifest["section_data_set_ids"] == [seed_ds]
    tiles = [n for n in manifest["files"] if n.startswith("tiles/")]
    assert tiles and all(f"/d{tier}/" in n for n in tiles)
    import_bundle(path, cache=AllenCache(tmp_path / "cache-b"))
    offline = RemoteSource(_closed_port_url(), tmp_path / "cache-b", timeout=(0.5, 1), retries=0)
    assert offline.status() == "offline from cache"
    image_id, x, y = demo_click()
    offline.ensure_data_set(seed_ds)  # served from the cache, no request
    offline.ensure_atlas(1)
    local = DemoSource().synchronizer
    assert offline.synchronizer.image_to_atlas(image_id, x, y, 1) == local.image_to_atlas(
        image_id, x, y, 1
    )
    assert offline.synchronizer.image_to_reference(image_id, x, y) == local.image_to_reference(
        image_id, x, y
    )
    image = offline.catalog.section_image(image_id)
    region = offline.tiles.read_region(image, tier, 0, 0, 32, 32)  # the cached tile
    assert region.shape == (32, 32, 3)


def _rewrite(src, dst, edit):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            name, data = edit(item.filename, zin.read(item.filename))
            if name is not None:
                zout.writestr(name, data)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (
            lambda n, d: (n, d[:-20] + b"x" * 20) if n.startswith("rma/SectionDataSet") else (n, d),
            "does not match its checksum",
        ),
        (
            lambda n, d: (
                (n, json.dumps({**json.loads(d), "version": 99}).encode())
                if n == "bundle.json"
                else (n, d)
            ),
            "format version 99",
        ),
        (lambda n, d: (None, d) if n.startswith("tiles/") else (n, d), "missing or damaged"),
        (
            lambda n, d: (
                (n, json.dumps({**json.loads(d), "files": {"../../etc/passwd": "0"}}).encode())
                if n == "bundle.json"
                else (n, d)
            ),
            "outside rma/ and tiles/",
        ),
        (lambda n, d: (None, d) if n == "bundle.json" else (n, d), "no bundle.json"),
    ],
    ids=["tampered", "newer", "missing-member", "path-traversal", "foreign"],
)
def test_bad_bundles_import_nothing(bundle_file, tmp_path, edit, words):
    bad = tmp_path / "bad.zip"
    _rewrite(bundle_file[0], bad, edit)
    cache = AllenCache(tmp_path / "cache")
    with pytest.raises(BundleError, match=words):
        import_bundle(bad, cache=cache)
    assert cache.rma_names() == [] and not list(cache.tiles_dir.rglob("*.jpg"))


def test_export_refuses_what_is_not_cached(tmp_path):
    with pytest.raises(BundleError, match="SectionDataSet 42 is not in the cache"):
        export_bundle(
            tmp_path / "x.zip", section_data_set_ids=[42], cache=AllenCache(tmp_path / "c")
        )
    assert not list(tmp_path.glob("*.zip")) and not list(tmp_path.glob(".*partial"))


def test_command_line_import_and_info(bundle_file, tmp_path, capsys):
    path = bundle_file[0]
    assert main(["bundle", "info", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["tiles"] > 0 and info["rma_answers"] >= 2
    assert main(["bundle", "import", str(path), "--cache-dir", str(tmp_path / "c")]) == 0
    assert AllenCache(tmp_path / "c").rma_names() == sorted(
        n[4:-5] for n in read_manifest(path)["files"] if n.startswith("rma/")
    )
