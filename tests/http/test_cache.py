"""The persistent cache: atomic, validated writes, restarts, concurrent processes,
layout versions."""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from _http_fixtures import (
    ATLAS_ID,
    CORONAL,
    DATA_SETS,
    SAGITTAL,
    fill_cache_worker,
    msg_equal,
)
from napari_allen_sync.cache import (
    CACHE_FORMAT,
    ENV_VAR,
    AllenCache,
    default_cache_dir,
    is_owned,
)
from napari_allen_sync.catalog import Catalog, envelope
from napari_allen_sync.errors import AllenSyncError, CacheError, CatalogFormatError, ServiceError
from napari_allen_sync.records import Structure
from napari_allen_sync.remote import RemoteSource
from napari_allen_sync.synchronizer import Synchronizer
from other_user import AS_NOBODY, skip_unless_nobody_imports


def data_set_answer(catalog, ds_id):
    return envelope([catalog.data_set_rma(ds_id)])


def test_default_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    assert AllenCache().root == tmp_path / "here"
    assert AllenCache(tmp_path / "there").root == tmp_path / "there"
    assert (tmp_path / "here" / "VERSION").is_file()


def test_store_is_validated_and_atomic(served, tmp_path):
    cache = AllenCache(tmp_path)
    good = data_set_answer(served.catalog, CORONAL[0])
    records = cache.store_rma("SectionDataSet-1001", good)
    assert any(getattr(r, "id", None) == CORONAL[0] for r in records)
    bad = json.loads(json.dumps(good))
    bad["msg"][0]["section_images"][3]["alignment2d"]["tsv_02"] = "oops"
    with pytest.raises(CatalogFormatError):
        cache.store_rma("SectionDataSet-1002", bad)

    def refuse(records):
        raise ServiceError("not what was asked for")

    with pytest.raises(ServiceError):
        cache.store_rma("SectionDataSet-1003", data_set_answer(served.catalog, CORONAL[2]), refuse)
    assert cache.rma_names() == ["SectionDataSet-1001"]
    assert list(cache.tmp_dir.iterdir()) == []
    # what landed is exactly what Catalog.from_folder reads
    loaded = Catalog.from_folder(cache.rma_dir)
    assert loaded.images_of(CORONAL[0]) == served.catalog.images_of(CORONAL[0])


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(1, 10**9), st.text("abcXYZ_-", min_size=1, max_size=8),
                          st.text("0123456789ABCDEF", min_size=6, max_size=6)),
                min_size=1, max_size=30, unique_by=lambda t: t[0]))
def test_any_valid_answer_round_trips(tmp_path, rows):
    structures = [Structure(id=i, acronym=a, name=a.lower(), structure_id_path=(997, i),
                            color_hex_triplet=c) for i, a, c in rows]
    cache = AllenCache(tmp_path)
    cache.store_rma("Structure-graph-1", envelope([s.to_rma() for s in structures]))
    again = AllenCache(tmp_path).catalog()
    assert [again.structure(s.id) for s in structures] == structures


def test_cache_survives_a_restart_in_a_new_process(server, tmp_path):
    source = RemoteSource(server.base, tmp_path)
    for d in DATA_SETS:
        source.ensure_data_set(d)
    source.ensure_atlas(ATLAS_ID)
    image = server.catalog.images_of(CORONAL[0])[5]
    # a new object, pointed at an unreachable server, has everything
    offline = RemoteSource("http://127.0.0.1:9", tmp_path, timeout=(0.3, 0.3), retries=0)
    assert offline.data_set_ids() == sorted(DATA_SETS)
    assert offline.atlas_ids() == [ATLAS_ID]
    offline.ensure_data_set(CORONAL[0])  # no request: it is cached
    assert offline.fetched == []
    # and so has a new process
    code = (
        "import json, sys\n"
        "from napari_allen_sync.remote import RemoteSource\n"
        f"s = RemoteSource('http://127.0.0.1:9', {str(tmp_path)!r}, timeout=(0.3, 0.3),\n"
        "                 retries=0)\n"
        "print(json.dumps([\n"
        f"    s.synchronizer.image_to_image({image.id}, 10.5, 20.25, {list(DATA_SETS)}),\n"
        f"                  s.synchronizer.image_to_atlas({image.id}, 10.5, 20.25, {ATLAS_ID}),\n"
        f"                  s.synchronizer.structure_to_image({SAGITTAL}, [315, 698]),\n"
        "                  s.status(), s.fetched]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         check=True)
    i2i, i2a, s2i, status, fetched = json.loads(out.stdout)
    engine = Synchronizer(server.catalog)
    assert msg_equal(i2i, engine.image_to_image(image.id, 10.5, 20.25, list(DATA_SETS)))
    assert msg_equal(i2a, engine.image_to_atlas(image.id, 10.5, 20.25, ATLAS_ID))
    assert msg_equal(s2i, engine.structure_to_image(SAGITTAL, [315, 698]))
    assert status == "offline from cache"
    assert fetched == []


def test_concurrent_processes_never_corrupt_the_cache(server, tmp_path):
    jobs = [(server.base, str(tmp_path), list(DATA_SETS)[k:] + list(DATA_SETS)[:k], ATLAS_ID)
            for k in range(3)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        fetched = pool.map(fill_cache_worker, jobs, chunksize=1)
    names = [n for f in fetched for n in f]
    # every answer was fetched by exactly one process: the others waited and read it
    assert sorted(names) == sorted(set(names))
    cache = AllenCache(tmp_path)
    assert sorted(names) == cache.rma_names()
    assert list(cache.tmp_dir.iterdir()) == []
    catalog = Catalog.from_folder(cache.rma_dir)
    for d in DATA_SETS:
        assert catalog.images_of(d) == server.catalog.images_of(d)
        assert catalog.section_data_set(d) == server.catalog.section_data_set(d)
    assert catalog.structures == server.catalog.structures
    image = catalog.images_of(DATA_SETS[0])[1]
    assert sorted(p.name for p in cache.tile_path(image.id, 2, 0, 0, 512).parent.iterdir()) == [
        "0_0.jpg", "1_0.jpg"]


#: Files a user may keep in (or under) a cache folder; none matches the cache's patterns.
USER_FILES = {
    "notes.txt": b"my notes",
    "VERSION.txt": b"1.2.3",
    "images/brain.png": b"\x89PNG user image",
    "rma/notes.txt": b"junk the user put here",
    "rma/mine/SectionDataSet-7.json": b"{}",          # in a sub-folder: not the cache's
    "tiles/5/x.jpg": b"a user jpeg",
    "tiles/my-images/0_0.jpg": b"another",
    "tmp/draft.partial": b"no leading dot: not atomic_write's",
    "locks/README": b"hands off",
}


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _old_cache(tmp_path, served, version, user_files=USER_FILES, own=None):
    root = tmp_path / "old"
    (root / "rma").mkdir(parents=True)
    for rel, data in {**(own or {}), **user_files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "tiles" / "5" / "d0" / "s512").mkdir(parents=True, exist_ok=True)
    (root / "tiles" / "5" / "d0" / "s512" / "0_0.jpg").write_bytes(b"old tile")
    (root / "rma" / "SectionDataSet-1001.json").write_text(
        json.dumps(data_set_answer(served.catalog, CORONAL[0])))
    (root / "rma" / "SectionDataSet-1002.json").write_text('{"success": true, "msg": [{"id": ')
    if version is not None:
        (root / "VERSION").write_text(version)
    return root


def _user_files_intact(root, user_files=USER_FILES):
    tree = _tree(root)
    return all(tree.get(rel) == data for rel, data in user_files.items())


@pytest.mark.parametrize("version", [None, '{"format": 0}'])
def test_an_older_layout_is_migrated(served, tmp_path, version):
    root = _old_cache(tmp_path, served, version)
    cache = AllenCache(root)
    assert cache.read_format() == CACHE_FORMAT
    assert cache.rma_names() == ["SectionDataSet-1001"]  # the valid answer is kept
    assert not (root / "tiles" / "5" / "d0").exists()     # the cache's tiles are dropped
    assert _user_files_intact(root)
    assert cache.catalog().images_of(CORONAL[0]) == served.catalog.images_of(CORONAL[0])


def test_a_newer_layout_is_rebuilt_keeping_the_users_files(served, tmp_path):
    root = _old_cache(tmp_path, served, '{"format": 99}')
    cache = AllenCache(root)
    assert cache.read_format() == CACHE_FORMAT
    assert cache.rma_names() == []
    assert not any(is_owned(rel) for rel in _tree(root))
    assert not (root / "tiles" / "5" / "d0").exists()
    assert _user_files_intact(root)


@pytest.mark.parametrize("version", ["garbage", '{"format": "1"}', '{"format": true}', "[1]",
                                     '{"version": 1}', "1.2.3", "\xff\xfe"])
def test_a_version_file_the_cache_did_not_write_touches_nothing(served, tmp_path, version):
    root = _old_cache(tmp_path, served, version)
    before = _tree(root)
    with pytest.raises(CacheError) as info:
        AllenCache(root)
    assert isinstance(info.value, AllenSyncError)
    assert str(root / "VERSION") in str(info.value) and "not written by" in str(info.value)
    assert _tree(root) == before


_name = st.text("abcXYZ019_-", min_size=1, max_size=8)
_user_path = st.tuples(
    st.sampled_from(["", "rma/", "rma/sub/", "tiles/", "tiles/5/", "tiles/5/d0/",
                     "tiles/5/d0/s512/", "tmp/", "corrupt/", "locks/", "other/",
                     # the folders of the annotation volume, tile views, server facts, demo
                     "annotation/", "annotation/h_1-0123456789ab/", "servers/", "demo/",
                     "tiles/5/expression/", "tiles/5/annotation-1/d0/s512/",
                     "tiles/5/projection/d0/", "tiles/5/mine/d0/s512/"]),
    _name,
    st.sampled_from([".txt", ".png", ".jpg.bak", "", ".JSON", ".tif", ".nrrd", ".npy"]),
).map(lambda t: t[0] + t[1] + t[2]).filter(lambda rel: rel not in ("rma", "tiles", "tmp",
                                                                     "corrupt", "locks",
                                                                     "VERSION", "other",
                                                                     "annotation", "servers",
                                                                     "demo"))
#: The cache's own files in the folders added by issue 10 (volume, views, facts, demo).
OWN_NEW = {
    "annotation/h_1-0123456789ab/annotation_25.nrrd": b"volume",
    "annotation/h_1-0123456789ab/annotation_25.npy": b"decoded",
    "annotation/h_1-0123456789ab/.annotation_25.nrrd.download.partial": b"half",
    "servers/h_1-0123456789abcdef.json": b"{}",
    "demo/annotation_50-0123456789abcdef.npy": b"demo",
    "tiles/5/expression/d0/s512/0_0.jpg": b"mask",
    "tiles/5/annotation-1/d0/s512/0_0.jpg": b"plate",
    "tiles/5/projection/d0/s512/.0_0.jpg.x1y2.partial": b"half",
}


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.dictionaries(_user_path, st.binary(max_size=16), min_size=1, max_size=8),
       version=st.sampled_from([None, '{"format": 0}', '{"format": 1}', '{"format": 99}']))
def test_no_layout_ever_deletes_a_file_the_cache_did_not_write(served, tmp_path_factory,
                                                               files, version):
    """The whole class: any user files under any of the cache's folders, any layout
    on disk: opening (migrating, rebuilding) and clearing keep every one of them."""
    # a user file cannot also be a folder of another one
    assume(not any(o.startswith(n + "/") for o in files for n in files))
    assume(not any(o.startswith(n + "/") for o in OWN_NEW for n in files))
    root = _old_cache(tmp_path_factory.mktemp("c"), served, version, files, own=OWN_NEW)
    assert not any(is_owned(rel) for rel in files) and all(is_owned(rel) for rel in OWN_NEW)
    cache = AllenCache(root)
    assert _user_files_intact(root, files)
    cache.clear()
    assert _user_files_intact(root, files)
    assert cache.rma_names() == [] and not any(is_owned(rel) for rel in _tree(root))


def test_a_damaged_cached_answer_is_set_aside_and_fetched_again(server, tmp_path):
    source = RemoteSource(server.base, tmp_path)
    source.ensure_data_set(CORONAL[0])
    path = source.cache.rma_path(f"SectionDataSet-{CORONAL[0]}")
    path.write_text(path.read_text()[:100])  # damaged behind our back
    again = RemoteSource(server.base, tmp_path)
    assert CORONAL[0] not in again.catalog.section_data_sets
    assert (tmp_path / "corrupt" / path.name).is_file()
    again.ensure_data_set(CORONAL[0])
    assert again.fetched == [f"SectionDataSet-{CORONAL[0]}"]
    assert again.catalog.images_of(CORONAL[0]) == server.catalog.images_of(CORONAL[0])


# ---------------------------------------------------------------- read-only folders
_READER = """
import json, sys
from napari_allen_sync.cache import AllenCache
from napari_allen_sync.catalog import envelope
from napari_allen_sync.errors import CacheError
from napari_allen_sync.remote import RemoteSource
root, ds = sys.argv[1], int(sys.argv[2])
cache = AllenCache(root)
out = {"read_only": cache.read_only, "names": cache.rma_names(),
       "images": len(cache.catalog().images_of(ds)),
       "tile": cache.read_tile(5, 0, 0, 0, 512).decode()}
with cache.lock("SectionDataSet-1"):
    pass
errors = []
for write in (lambda: cache.store_rma("Atlas-1", envelope([])),
              lambda: cache.store_tile(5, 0, 0, 1, 512, b"x"), cache.clear):
    try:
        write()
    except CacheError as exc:
        errors.append(str(exc))
out["errors"] = errors
source = RemoteSource("http://127.0.0.1:9", root, timeout=(0.3, 0.3), retries=0)
out["status"] = source.status()
out["data_sets"] = source.data_set_ids()
print(json.dumps(out))
"""


def _shared_tmp():
    """A folder every user can traverse (pytest's tmp_path is root's own, 0700)."""
    import tempfile

    path = tempfile.mkdtemp(prefix="allen-ro-")
    os.chmod(path, 0o755)
    return Path(path)


@pytest.fixture
def filled_cache(served):
    """A cache filled (by root), then with its locks/ folder removed, and a bundle."""
    import shutil

    base = _shared_tmp()
    root = base / "cache"
    cache = AllenCache(root)
    cache.store_rma(f"SectionDataSet-{CORONAL[0]}", data_set_answer(served.catalog, CORONAL[0]))
    cache.store_tile(5, 0, 0, 0, 512, b"tile bytes")
    shutil.rmtree(root / "locks")
    bundle = base / "b.zip"
    jpeg = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(jpeg, "JPEG")
    name = "tiles/5/d0/s512/0_1.jpg"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("bundle.json", json.dumps({
            "format": "napari-allen-sync-bundle", "version": 1,
            "files": {name: hashlib.sha256(jpeg.getvalue()).hexdigest()}}))
        zf.writestr(name, jpeg.getvalue())
    for p in [base, *base.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    yield root, bundle
    shutil.rmtree(base, ignore_errors=True)


def _runners():
    """How to run a command against a read-only cache: in a read-only bind mount (a
    private mount namespace) and as another user (the folder is root's)."""
    import shutil

    def read_only_mount(root, argv):
        script = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && shift && ' \
                 'exec "$@"'
        return ["unshare", "-m", "sh", "-c", script, "sh", str(root), *argv]

    def other_user(root, argv):
        return [*AS_NOBODY, *argv]

    out = []
    for name, tool, fn in (("read-only mount", "unshare", read_only_mount),
                           ("another user's folder", "setpriv", other_user)):
        marks = ()
        if shutil.which(tool) is None:
            marks = pytest.mark.skip(reason=f"{tool} is not installed")
        out.append(pytest.param(fn, id=name, marks=marks))
    return out


def _run(wrap, root, argv):
    if wrap.__name__ == "other_user":
        skip_unless_nobody_imports()
    cmd = wrap(root, argv)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0 and ("Operation not permitted" in done.stderr
                                 or ("cannot" in done.stderr and "mount" in done.stderr)):
        pytest.skip(f"cannot make a read-only folder here: {done.stderr.strip()}")
    return done


@pytest.mark.parametrize("wrap", _runners())
def test_a_read_only_cache_reads_and_refuses_writes_clearly(filled_cache, wrap):
    root, bundle = filled_cache
    before = _tree(root)
    done = _run(wrap, root, [sys.executable, "-c", _READER, str(root), str(CORONAL[0])])
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["read_only"] is True
    assert out["names"] == [f"SectionDataSet-{CORONAL[0]}"] and out["images"] > 0
    assert out["tile"] == "tile bytes"
    assert out["status"] == "offline from cache" and out["data_sets"] == [CORONAL[0]]
    assert len(out["errors"]) == 3
    for message in out["errors"]:
        assert str(root) in message and "is read-only" in message
    assert not (root / "locks").exists()  # reading created no lock file
    assert _tree(root) == before

    # the command line: the package's one-line error, no traceback
    done = _run(wrap, root, [sys.executable, "-m", "napari_allen_sync.cli", "bundle",
                             "import", str(bundle), "--cache-dir", str(root)])
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "is read-only" in done.stderr and str(root) in done.stderr
    assert _tree(root) == before


# ---------------------------------------------------------------- killed writers
_WRITER = """
import sys, time
from napari_allen_sync.cache import AllenCache
from napari_allen_sync.catalog import envelope
cache = AllenCache(sys.argv[1])

def hold(records):  # the answer is written and checked, not yet landed
    print("written", flush=True)
    sys.stdin.readline()

cache.store_rma("Structure-graph-1", envelope([{"id": 997, "acronym": "root", "name": "root",
                "structure_id_path": "/997/", "color_hex_triplet": "FFFFFF"}]), check=hold)
print("landed", flush=True)
"""


def _writer(root):
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(root)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "written"
    return proc


def test_a_killed_writer_leaves_nothing_a_live_one_is_left_alone(tmp_path):
    """Real processes: a writer killed (SIGKILL) between writing and landing leaves a
    partial that the next cache to open removes; a writer still alive keeps its partial
    and lands its answer after another process opened the cache."""
    import signal

    AllenCache(tmp_path)
    dead = _writer(tmp_path)
    os.kill(dead.pid, signal.SIGKILL)
    dead.wait(timeout=30)
    partials = list((tmp_path / "tmp").iterdir())
    assert len(partials) == 1 and is_owned(f"tmp/{partials[0].name}")
    alive = _writer(tmp_path)
    try:
        cache = AllenCache(tmp_path)  # opens while one writer is dead, one alive
        left = list((tmp_path / "tmp").iterdir())
        assert partials[0] not in left and len(left) == 1
        assert cache.rma_names() == []
        out, _ = alive.communicate("go\n", timeout=60)
    finally:
        alive.kill()
    assert alive.returncode == 0 and out.strip() == "landed"
    assert cache.rma_names() == ["Structure-graph-1"]
    assert list((tmp_path / "tmp").iterdir()) == []
    assert cache.catalog().structure(997).acronym == "root"
