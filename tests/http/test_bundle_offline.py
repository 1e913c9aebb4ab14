"""A bundle carries the whole picture to an offline machine (issue 10, item 8).

End to end over real HTTP: the demo served on loopback, a cache filled through
RemoteSource as a click fills it (data set, atlas with annotated plate tiles, an
expression overlay tile, the annotation volume, a search), exported, imported into an
empty cache, the server stopped: a RemoteSource on the new cache ("offline from cache")
gives the same structures, the same annotated and overlay tiles and the same search
results, with no request."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_allen_sync.bundle import BUNDLE_VERSION, export_bundle, import_bundle, read_manifest
from napari_allen_sync.cache import AllenCache, is_owned
from napari_allen_sync.cli import EXIT_USAGE, main
from napari_allen_sync.demo import DemoSource, demo_click
from napari_allen_sync.errors import CacheError, ServiceError
from napari_allen_sync.remote import RemoteSource
from napari_allen_sync.search import ExperimentSearch
from napari_allen_sync.server import create_app, serve_in_thread

RES = 50  # the demo volume's own resolution: quick to build, same code path as 25 µm


def _points(seed, n):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-200, e + 200, n) for e in (13200, 8000, 11400)]


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and "locks" not in p.parts}


@pytest.fixture(scope="module")
def click(tmp_path_factory):
    """What one click online leaves in a cache, the answers it gave, and its bundle."""
    root = tmp_path_factory.mktemp("offline")
    demo = DemoSource()
    seed_image, x, y = demo_click()
    seed_ds = demo.catalog.section_image(seed_image).data_set_id
    pts = _points(3, 5000)
    seen = {}
    with serve_in_thread(create_app(demo)) as base:
        online = RemoteSource(base, root / "online", timeout=(2, 60),
                              annotation_resolution=RES)
        online.ensure_data_set(seed_ds)
        online.ensure_atlas(1)
        ref = online.synchronizer.image_to_reference(seed_image, x, y)
        seen["reference"] = ref
        seen["ids"] = online.structure_ids_at(9, *pts)
        seen["acronyms"] = [s and s.acronym for s in online.structure_at(9, *pts)]
        plate = online.catalog.images_of(online.catalog.atlas_data_set(1).id)[70]
        d = plate.tier_count - 3
        seen["plate"] = (plate.id, d)
        seen["annotated"] = online.tiles.read_region(plate, d, 0, 0, 300, 200)  # default view
        seen["nissl"] = online.tiles.view("image").read_region(plate, d, 0, 0, 300, 200)
        image = online.catalog.section_image(seed_image)
        view = online.overlay_view(seed_ds)
        seen["overlay"] = (view, image.tier_count - 2)
        seen["mask"] = online.tiles.view(view).read_region(image, image.tier_count - 2,
                                                            0, 0, 200, 150)
        seen["stain"] = online.tiles.read_region(image, image.tier_count - 2, 0, 0, 200, 150)
        result = ExperimentSearch.for_source(online).find(gene="calb1")
        seen["hits"] = result.hits
        online.close()
    bundle = root / "click.zip"
    manifest = export_bundle(bundle, section_data_set_ids=[seed_ds], atlas_ids=[1],
                             cache=AllenCache(root / "online"))
    return root, base, bundle, manifest, seed_ds, seen


def test_the_bundle_lists_every_part_of_the_picture(click):
    root, _base, bundle, manifest, _seed_ds, seen = click
    files = manifest["files"]
    assert manifest["version"] == BUNDLE_VERSION == 2
    assert manifest["annotation_resolutions"] == [RES]
    assert read_manifest(bundle)["files"] == files
    plate_id, d = seen["plate"]
    view, tier = seen["overlay"]
    kinds = {
        "volume": [n for n in files if n.startswith("annotation/")],
        "server": [n for n in files if n.startswith("servers/")],
        "search": [n for n in files if n.startswith("rma/Search-")],
        "annotated": [n for n in files if n.startswith(f"tiles/{plate_id}/annotation-1/d{d}/")],
        "nissl": [n for n in files if n.startswith(f"tiles/{plate_id}/d{d}/")],
        "overlay": [n for n in files if f"/{view}/d{tier}/" in n],
    }
    assert all(kinds.values()), {k: len(v) for k, v in kinds.items()}
    assert kinds["volume"] == [n for n in files if n.endswith(f"annotation_{RES}.nrrd")]
    # every member is one of the cache's own files, byte for byte as cached
    cached = _files(root / "online")
    assert all(is_owned(n) and n in cached for n in files)
    assert not any(n.endswith(".npy") for n in files)  # the decoded copy is rebuilt
    # and leaving things out leaves them out
    small = export_bundle(root / "small.zip", section_data_set_ids=[click[4]], tiers=[],
                          annotation=False, searches=False, servers=False,
                          cache=AllenCache(root / "online"))
    assert small["version"] == 1
    assert all(n.startswith("rma/") and "Search-" not in n for n in small["files"])


def test_an_imported_bundle_gives_the_same_picture_offline(click, tmp_path):
    root, base, bundle, manifest, seed_ds, seen = click
    with pytest.raises(ServiceError):  # the server is gone
        RemoteSource(base, tmp_path / "probe", timeout=(0.5, 0.5), retries=0).ensure_atlas(1)
    target = AllenCache(tmp_path / "offline")
    import_bundle(bundle, cache=target)
    got = _files(target.root)
    want = _files(root / "online")
    assert {n: got[n] for n in manifest["files"]} == {n: want[n] for n in manifest["files"]}

    offline = RemoteSource(base, target.root, timeout=(0.5, 0.5), retries=0,
                           annotation_resolution=RES)
    assert offline.status() == "offline from cache"
    offline.ensure_data_set(seed_ds)
    offline.ensure_atlas(1)
    seed_image, x, y = demo_click()
    assert offline.synchronizer.image_to_reference(seed_image, x, y) == seen["reference"]
    # the same structures: the volume came with the bundle, verified, not downloaded
    assert offline.annotation_cached()
    pts = _points(3, 5000)
    assert np.array_equal(offline.structure_ids_at(9, *pts), seen["ids"])
    assert [s and s.acronym for s in offline.structure_at(9, *pts)] == seen["acronyms"]
    assert offline.annotation_problem is None and any(seen["acronyms"])
    # the same annotated plate, Nissl plate and expression overlay
    plate_id, d = seen["plate"]
    plate = offline.catalog.section_image(plate_id)
    assert np.array_equal(offline.tiles.read_region(plate, d, 0, 0, 300, 200), seen["annotated"])
    assert np.array_equal(offline.tiles.view("image").read_region(plate, d, 0, 0, 300, 200),
                          seen["nissl"])
    assert not np.array_equal(seen["annotated"], seen["nissl"])
    view, tier = seen["overlay"]
    image = offline.catalog.section_image(seed_image)
    assert offline.overlay_view(seed_ds) == view
    assert np.array_equal(offline.tiles.view(view).read_region(image, tier, 0, 0, 200, 150),
                          seen["mask"])
    assert np.array_equal(offline.tiles.read_region(image, tier, 0, 0, 200, 150), seen["stain"])
    assert not np.array_equal(seen["mask"], seen["stain"])
    # the same search results, from the cache
    search = ExperimentSearch.for_source(offline)
    result = search.find(gene="calb1")
    assert result.hits == seen["hits"] and result.hits and result.message is None
    # ... and not one request on the way
    assert search.fetched == 0 and offline.fetched == []
    assert all(offline.tiles.view(v).downloads == 0
               for v in ("default", "image", "annotation", view))


def test_a_cleared_cache_keeps_only_the_users_files(click, tmp_path):
    """After the import every new folder is the cache's own: clear() removes all of it,
    and nothing the user put beside it."""
    _root, _base, bundle, _manifest, _seed_ds, _seen = click
    cache = AllenCache(tmp_path / "c")
    import_bundle(bundle, cache=cache)
    volume = next((cache.root / "annotation").glob("*/annotation_*.nrrd"))
    volume.with_suffix(".npy").write_bytes(b"decoded")
    mine = ["annotation/notes.txt", f"{volume.parent.relative_to(cache.root)}/mine.nrrd",
            "servers/mine.json", "tiles/5/mine/d0/s512/0_0.jpg", "demo/phantom.npy"]
    for rel in mine:
        (cache.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (cache.root / rel).write_text("mine")
    cache.clear()
    left = _files(cache.root)
    assert sorted(n for n in left if n != "VERSION") == sorted(mine)


def test_a_volume_that_cannot_land_rolls_everything_back(click, tmp_path, monkeypatch):
    """The volume lands last, streamed; if it fails (disk full), every member that had
    landed is taken back and the volume it would have replaced is still there."""
    _root, _base, bundle, manifest, _seed_ds, _seen = click
    cache = AllenCache(tmp_path / "c")
    (name,) = [n for n in manifest["files"] if n.startswith("annotation/")]
    old = cache.root / name
    old.parent.mkdir(parents=True)
    old.write_bytes(b"an older volume")
    old.with_suffix(".npy").write_bytes(b"its decoded copy")
    before = _files(cache.root)
    real = AllenCache.write_owned

    def full_disk(self, relative):
        if relative.startswith("annotation/"):
            raise CacheError(f"cannot write {relative} in the cache: No space left on device")
        return real(self, relative)

    monkeypatch.setattr(AllenCache, "write_owned", full_disk)
    with pytest.raises(CacheError, match="nothing was imported"):
        import_bundle(bundle, cache=cache)
    assert _files(cache.root) == before
    monkeypatch.undo()
    import_bundle(bundle, cache=cache)  # then it lands, and the stale decoded copy goes
    assert old.read_bytes() != b"an older volume" and not old.with_suffix(".npy").exists()


def test_command_line_volume_options(click, tmp_path, capsys):
    root, _base, _bundle, _manifest, seed_ds, _seen = click
    cache = ["--cache-dir", str(root / "online")]
    common = ["--data-set", str(seed_ds), "--tiers", *cache]

    def export(name, *options):
        code = main(["bundle", "export", str(tmp_path / name), *common, *options])
        out = capsys.readouterr()
        return code, (json.loads(out.out) if code == 0 else out.err)

    code, summary = export("default.zip")
    assert code == 0 and summary["annotation_volumes"] == 1 and summary["search_answers"] >= 1
    assert summary["server_facts"] == 1 and summary["annotation_resolutions"] == [RES]
    code, summary = export("none.zip", "--no-annotation", "--no-search")
    assert code == 0 and summary["annotation_volumes"] == summary["search_answers"] == 0
    code, summary = export("res.zip", "--annotation", "--annotation-resolution", str(RES))
    assert code == 0 and summary["annotation_volumes"] == 1
    # asked for a volume that is not cached: a one-line error, no file
    code, err = export("missing.zip", "--annotation", "--annotation-resolution", "25")
    assert code == EXIT_USAGE and "no annotation volume of [25] µm" in err
    assert "Traceback" not in err and not (tmp_path / "missing.zip").exists()
    code, summary = export("quiet.zip", "--annotation-resolution", "25")  # only if cached
    assert code == 0 and summary["annotation_volumes"] == 0
