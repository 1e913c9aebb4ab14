"""Offline bundles: export from one cache, import into another, work with no network."""

from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import stat
import tempfile
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from napari_allen_sync.annotation import AnnotationVolume, annotation_url
from napari_allen_sync.bundle import BundleError, export_bundle, import_bundle, read_manifest
from napari_allen_sync.cache import AllenCache
from napari_allen_sync.cli import main
from napari_allen_sync.demo import DemoSource, demo_click
from napari_allen_sync.errors import CacheError
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
    # the tile client learnt the server's size convention: version 2 carries that fact
    assert manifest["version"] == 2 and manifest["section_data_set_ids"] == [seed_ds]
    assert [n for n in manifest["files"] if n.startswith("servers/")]
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
            "not a cached answer, tile",
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


# ---------------------------------------------------------------- crafted bundles
def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and "locks" not in p.parts}


def _members(path):
    """(manifest, {name: bytes}) of a bundle."""
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("bundle.json"))
        return manifest, {n: zf.read(n) for n in manifest["files"]}


def _craft(dst, manifest, members, *, extra=(), manifest_bytes=None):
    """Write a bundle from a manifest and members; ``extra`` are (ZipInfo or name, bytes)
    written after them as they are."""
    with zipfile.ZipFile(dst, "w") as zf:
        zf.writestr("bundle.json", manifest_bytes if manifest_bytes is not None
                    else json.dumps(manifest))
        for name, data in members.items():
            zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
        for info, data in extra:
            zf.writestr(info, data)
    return dst


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _symlink(name):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _jpeg(size):
    buf = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(buf, "JPEG")
    return buf.getvalue()


def _png():
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    return buf.getvalue()


def _case(kind, manifest, members):
    """Return (manifest, members, extra, manifest_bytes, words) for one crafted bundle."""
    m = json.loads(json.dumps(manifest))
    files = m["files"]
    first_rma = next(n for n in members if n.startswith("rma/"))
    last = sorted(members)[-1]
    extra, raw = [], None
    if kind == "duplicate":
        extra = [(first_rma, members[first_rma])]
        words = "appears twice"
    elif kind.startswith("version "):
        m["version"] = json.loads(kind[len("version "):])
        words = "version"
    elif kind == "traversal listed":
        files["../../evil.json"] = _sha(b"x")
        extra = [("../../evil.json", b"x")]
        words = "absolute path or '..'"
    elif kind == "traversal in rma":
        extra = [("rma/../../evil.json", b"x")]
        words = "absolute path or '..'"
    elif kind == "absolute":
        extra = [("/etc/evil.json", b"x")]
        words = "absolute path or '..'"
    elif kind == "backslash":
        extra = [("rma\\..\\..\\evil.json", b"x")]
        words = "absolute path or '..'"
    elif kind == "symlink":
        extra = [(_symlink("rma/Link-1.json"), b"/etc/passwd")]
        words = "symbolic link"
    elif kind == "symlink listed":
        files["rma/Link-1.json"] = _sha(b"/etc/passwd")
        extra = [(_symlink("rma/Link-1.json"), b"/etc/passwd")]
        words = "symbolic link"
    elif kind == "unlisted rma":
        extra = [("rma/Atlas-999.json", json.dumps({"success": True, "msg": []}))]
        words = "not listed in bundle.json"
    elif kind == "unlisted other":
        extra = [("notes.txt", b"hi")]
        words = "not listed in bundle.json"
    elif kind == "folder":
        extra = [(zipfile.ZipInfo("rma/sub/"), b"")]
        words = "a folder"
    elif kind == "duplicate key":
        text = json.dumps(m)
        raw = text.replace('"files": {', f'"files": {{"{first_rma}": "{"0" * 64}", ', 1)
        words = "appears twice"
    elif kind == "bad digest":
        files[first_rma] = "not-a-sha"
        words = "no SHA-256"
    elif kind == "not parsing, listed last":
        name = "rma/SectionDataSet-999999.json"
        bad = json.dumps({"success": True, "msg": [{"id": "x"}]}).encode()
        files[name] = _sha(bad)
        members = {**members, name: bad}
        words = "does not parse"
    elif kind == "tile too big":
        name = "tiles/5/d0/s16/0_0.jpg"
        data = _jpeg((32, 32))
        files[name] = _sha(data)
        members = {**members, name: data}
        words = "larger than its tile size"
    elif kind == "png tile":
        name = "tiles/5/d0/s512/0_0.jpg"
        data = _png()
        files[name] = _sha(data)
        members = {**members, name: data}
        words = "not a readable JPEG"
    elif kind.startswith("unknown path "):  # well-formed data under a name no bundle holds
        name = kind[len("unknown path "):]
        data = _jpeg((8, 8)) if name.endswith(".jpg") else b"{}"
        files[name] = _sha(data)
        members = {**members, name: data}
        words = "not a cached answer, tile"
    elif kind.startswith("server fact "):
        fact = {"base_uri": "http://127.0.0.1:1", "size_convention": "tier",
                "missing_forms": []}
        name = _server_name("http://127.0.0.1:1")
        if kind == "server fact under another name":
            name = "servers/evil_host-0123456789abcdef.json"
        elif kind == "server fact unknown key":
            fact["exec"] = "rm -rf /"
        elif kind == "server fact bad convention":
            fact["size_convention"] = "both"
        data = json.dumps(fact).encode()
        files[name] = _sha(data)
        members = {**members, name: data}
        words = "is not a tile server's facts"
    elif kind.startswith("volume "):
        folder = "127_0_0_1_1-0123456789ab"
        res = 50
        if kind == "volume damaged":
            data = b"NRRD0004\ntype: uint32\ndimension: 3\n\ngarbage"
            words = "not a usable annotation volume"
        elif kind == "volume of another shape":  # a 100 µm volume named 50 µm
            data = AnnotationVolume(np.zeros((132, 80, 114), np.uint32), 100).to_nrrd_bytes()
            words = "not a usable annotation volume"
        else:  # under Allen's folder, not Allen's bytes
            res = 25
            folder = f"download_alleninstitute_org-{_sha(annotation_url(25).encode())[:12]}"
            data = b"anything"
            words = "not Allen's 25"
        name = f"annotation/{folder}/annotation_{res}.nrrd"
        files[name] = _sha(data)
        members = {**members, name: data}
    elif kind == "v1 bundle with a server fact":
        m["version"] = 1
        words = "only version 2"
    elif kind == "v1 bundle with a tile view":
        m["version"] = 1
        for n in [n for n in files if n.startswith("servers/")]:
            del files[n]
        members = {n: d for n, d in members.items() if not n.startswith("servers/")}
        name = "tiles/5/expression/d0/s512/0_0.jpg"
        data = _jpeg((8, 8))
        files[name] = _sha(data)
        members = {**members, name: data}
        words = "only version 2"
    elif kind == "manifest not an object":
        raw = "[1, 2]"
        words = "not a napari-allen-sync bundle"
    elif kind == "manifest nested deep":
        raw = "[" * 100000 + "]" * 100000
        words = "unreadable"
    else:
        raise AssertionError(kind)
    assert last  # the members stay in their order
    return m, members, extra, raw, words


CASES = ["duplicate", "version true", "version -5", 'version "1"', "version 0",
         "version 1.0", "version null", "version 3", "traversal listed", "traversal in rma",
         "absolute", "backslash", "symlink", "symlink listed", "unlisted rma",
         "unlisted other", "folder", "duplicate key", "bad digest",
         "not parsing, listed last", "tile too big", "png tile", "manifest not an object",
         "manifest nested deep",
         # version 2's members: only the names the cache gives them, and checked
         "unknown path tiles/5/mine/d0/s512/0_0.jpg",
         "unknown path tiles/5/annotation/d0/s512/0_0.jpg",
         "unknown path tiles/5/annotation-1/x/d0/s512/0_0.jpg",
         "unknown path annotation/127_0_0_1_1-0123456789ab/annotation_50.npy",
         "unknown path annotation/127_0_0_1_1-0123456789ab/annotation_7.nrrd",
         "unknown path annotation/127_0_0_1_1-0123456789ab/notes.nrrd",
         "unknown path annotation/annotation_25.nrrd",
         "unknown path annotation/127_0_0_1_1-0123456789ab/sub/annotation_25.nrrd",
         "unknown path demo/annotation_50-0123456789abcdef.npy",
         "unknown path servers/evil.json", "unknown path servers/a/b-0123456789abcdef.json",
         "unknown path locks/layout.lock", "unknown path tmp/.x.partial", "unknown path VERSION",
         "unknown path rma/sub/Atlas-1.json",
         "server fact under another name", "server fact unknown key",
         "server fact bad convention", "volume damaged", "volume of another shape",
         "volume not Allen's", "v1 bundle with a server fact", "v1 bundle with a tile view"]


def _server_name(base_uri):
    """Where the tile client keeps what it learnt about ``base_uri``."""
    from napari_allen_sync.remote import _ServerTraits

    with tempfile.TemporaryDirectory() as tmp:
        cache = AllenCache(tmp)
        return _ServerTraits(cache, base_uri).path.relative_to(cache.root).as_posix()


@pytest.fixture
def target_cache(tmp_path, bundle_file):
    """A cache holding one older answer of the bundle's (different bytes) and a user file:
    whatever an import refuses, both stay as they were."""
    cache = AllenCache(tmp_path / "target")
    _manifest, members = _members(bundle_file[0])
    name = next(n for n in members if n.startswith("rma/SectionDataSet"))
    older = json.loads(members[name])
    older["start_row"] = 0
    older["note"] = "an older fetch"
    cache.store_rma(name[4:-5], older)
    (cache.root / "notes.txt").write_text("mine")
    return cache


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("kind", CASES)
def test_crafted_bundles_are_refused_whole(bundle_file, target_cache, tmp_path, kind):
    manifest, members = _members(bundle_file[0])
    m, mem, extra, raw, words = _case(kind, manifest, members)
    bad = _craft(tmp_path / "bad.zip", m, mem, extra=extra, manifest_bytes=raw)
    before = _tree(target_cache.root)
    with pytest.raises(BundleError, match=re.escape(words)) as info:
        import_bundle(bad, cache=target_cache)
    assert str(bad) in str(info.value)
    assert _tree(target_cache.root) == before


def _damage_compressed(src, dst, member):
    """Flip bytes in the middle of one deflated member's compressed data."""
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as zf:
        info = zf.getinfo(member)
    # local header: 30 bytes + name + extra, then the data
    name_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    for k in range(start + info.compress_size // 3, start + info.compress_size // 3 + 8):
        data[k] ^= 0x5A
    dst.write_bytes(bytes(data))
    return dst


def test_damaged_compressed_data_is_a_bundle_error(bundle_file, target_cache, tmp_path):
    path = bundle_file[0]
    manifest, members = _members(path)
    deflated = _craft(tmp_path / "deflated.zip", manifest, members)
    before = _tree(target_cache.root)
    for member in sorted(members, key=lambda n: -len(members[n]))[:3]:
        bad = _damage_compressed(deflated, tmp_path / "bad.zip", member)
        with pytest.raises(BundleError, match=r"damaged|checksum"):
            import_bundle(bad, cache=target_cache)
        assert _tree(target_cache.root) == before


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.floats(0, 1, exclude_max=True), value=st.integers(0, 255),
       width=st.integers(1, 16))
def test_any_damage_imports_all_or_nothing(bundle_file, tmp_path_factory, where, value, width):
    """The whole class: bytes overwritten anywhere in a bundle give either a complete
    import (the damage hit nothing that matters) or a BundleError with the cache as it
    was; never another exception, never part of the bundle."""
    path = bundle_file[0]
    folder = tmp_path_factory.mktemp("dmg")
    data = bytearray(path.read_bytes())
    at = int(where * len(data))
    data[at:at + width] = bytes([value]) * len(data[at:at + width])
    bad = folder / "bad.zip"
    bad.write_bytes(bytes(data))
    cache = AllenCache(folder / "cache")
    before = _tree(cache.root)
    try:
        import_bundle(bad, cache=cache)
    except BundleError:
        assert _tree(cache.root) == before
    else:
        good = AllenCache(folder / "good")
        import_bundle(path, cache=good)
        assert _tree(cache.root) == _tree(good.root)


def test_an_oversized_manifest_is_refused_unread(bundle_file, target_cache, tmp_path,
                                                 monkeypatch):
    import napari_allen_sync.bundle as bundle_module

    manifest, members = _members(bundle_file[0])
    padded = json.dumps(manifest) + " " * 5000
    bad = _craft(tmp_path / "big.zip", manifest, members, manifest_bytes=padded)
    monkeypatch.setattr(bundle_module, "MAX_MANIFEST_BYTES", 4096)
    before = _tree(target_cache.root)
    with pytest.raises(BundleError, match="more than the 4096 a manifest may hold"):
        import_bundle(bad, cache=target_cache)
    with pytest.raises(BundleError, match="more than the 4096"):
        read_manifest(bad)
    assert _tree(target_cache.root) == before


def test_an_oversized_member_is_refused(bundle_file, target_cache, tmp_path, monkeypatch):
    import napari_allen_sync.bundle as bundle_module

    _manifest, members = _members(bundle_file[0])
    tile = next(n for n in members if n.startswith("tiles/"))
    monkeypatch.setattr(bundle_module, "MAX_MEMBER_BYTES",
                        {"rma": 10**9, "tiles": len(members[tile]) - 1})
    before = _tree(target_cache.root)
    with pytest.raises(BundleError, match=f"member {tile} is larger than"):
        import_bundle(bundle_file[0], cache=target_cache)
    assert _tree(target_cache.root) == before


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_landing_that_fails_midway_is_rolled_back(bundle_file, tmp_path_factory, data):
    """Landing blocked at any member (a folder where its file goes: a real OSError
    from the file system): what landed before it is rolled back, the answer it had
    replaced restored byte for byte."""
    _manifest, members = _members(bundle_file[0])
    folder = tmp_path_factory.mktemp("roll")
    cache = AllenCache(folder / "cache")
    ds = next(n for n in members if n.startswith("rma/SectionDataSet"))
    older = json.loads(members[ds])
    older["note"] = "an older fetch"
    cache.store_rma(ds[4:-5], older)
    blocked = data.draw(st.sampled_from(sorted(n for n in members if n != ds)))
    block = cache.root / blocked
    (block / "inside").mkdir(parents=True)  # a non-empty folder: os.replace fails
    before = _tree(cache.root)
    with pytest.raises(CacheError, match="nothing was imported") as info:
        import_bundle(bundle_file[0], cache=cache)
    assert str(block) in str(info.value)
    assert _tree(cache.root) == before
    assert not [p for p in cache.tmp_dir.iterdir()]


def test_export_goes_through_atomic_write(bundle_file, tmp_path):
    from napari_allen_sync.errors import WriteError

    root = bundle_file[0].parent
    cache = AllenCache(root / "cache-a")
    seed_ds = bundle_file[2]
    with pytest.raises(WriteError, match="is a folder"):
        export_bundle(tmp_path, section_data_set_ids=[seed_ds], cache=cache)
    with pytest.raises(WriteError, match="does not exist"):
        export_bundle(tmp_path / "no" / "b.zip", section_data_set_ids=[seed_ds], cache=cache)
    out = tmp_path / "b.zip"
    manifest = export_bundle(out, section_data_set_ids=[seed_ds], cache=cache)
    assert _members(out)[0]["files"] == manifest["files"]
    assert all(_sha(d) == manifest["files"][n] for n, d in _members(out)[1].items())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.zip"]
