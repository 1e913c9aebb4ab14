"""Structures online: RemoteSource downloads the annotation volume from our own server
over real HTTP (once, verified, resumable) and answers as the demo does; the real
Allen ontology (1327 structures) through the client's parsers."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from _fault_server import with_faults
from _http_fixtures import catalog_folder, server_process, synthetic_catalog
from napari_allen_sync.annotation import (
    AnnotationVolume,
    annotation_url,
    fetch_annotation,
    ontology_from_graph_download,
)
from napari_allen_sync.catalog import Catalog
from napari_allen_sync.demo import DemoSource
from napari_allen_sync.demo.annotation import demo_annotation
from napari_allen_sync.errors import AnnotationError, ServiceError
from napari_allen_sync.remote import RemoteSource
from napari_allen_sync.server import create_app, serve_in_thread

ONTOLOGY = Path(__file__).parents[1] / "data" / "rma-examples" / "structure_graph_download-1.json"


def _points(seed, n):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-200, e + 200, n) for e in (13200, 8000, 11400)]


@pytest.fixture(scope="module")
def demo_app_server():
    """The demo served in this process, with fault injection."""
    app = with_faults(create_app(DemoSource()))
    with serve_in_thread(app) as base:
        yield base, app.faults


@pytest.fixture
def demo_served(demo_app_server):
    base, faults = demo_app_server
    faults.clear()
    yield base, faults
    faults.clear()


def test_serve_demo_volume_gives_the_demos_structures(tmp_path):
    """End to end: ``serve --demo`` in a child process, the default 25 µm volume, the
    ontology over RMA: the same structure at every point as the demo source."""
    local = DemoSource()
    pts = _points(1, 20_000)
    with server_process() as base:
        remote = RemoteSource(base, tmp_path, timeout=(2, 60))
        assert remote.annotation_url == annotation_url(25, base)
        assert not remote.annotation_cached()
        ids = remote.structure_ids_at(9, *pts)
        assert remote.annotation_cached() and remote.annotation().shape == (528, 320, 456)
        assert np.array_equal(ids, local.structure_ids_at(9, *pts))
        assert np.array_equal(remote.structure_ids_at(10, pts[0], pts[1], 11350 - pts[2]), ids)
        got = remote.structure_at(9, *(p[:300] for p in pts))
        want = local.structure_at(9, *(p[:300] for p in pts))
        assert [s and s.acronym for s in got] == [s and s.acronym for s in want]
        assert any(s is not None for s in got) and any(s is None for s in got)
        remote.close()
    # the server is gone: the cached volume (and ontology) still answer
    offline = RemoteSource(base, tmp_path, timeout=(0.5, 0.5), retries=0)
    assert offline.annotation_cached()
    assert np.array_equal(offline.structure_ids_at(9, *pts), ids)
    assert [s and s.acronym for s in offline.structure_at(9, *(p[:300] for p in pts))] == \
        [s and s.acronym for s in want]


def test_progress_and_download_once(demo_served, tmp_path):
    base, faults = demo_served
    seen = []
    remote = RemoteSource(base, tmp_path, annotation_resolution=100)
    vol = remote.annotation(progress=lambda done, total: seen.append((done, total)))
    size = len(DemoSource().annotation_nrrd(100))
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))
    assert np.array_equal(vol.ids, demo_annotation(100).ids)
    before = faults.requests
    again = RemoteSource(base, tmp_path, annotation_resolution=100)
    again.structure_ids_at(9, [6500], [4000], [6400])
    assert faults.requests == before  # from the cache: no request at all
    assert remote.annotation_path().read_bytes() == DemoSource().annotation_nrrd(100)


def test_interrupted_download_leaves_nothing_and_resumes_with_range(demo_served, tmp_path):
    base, faults = demo_served
    remote = RemoteSource(base, tmp_path, annotation_resolution=100, retries=0)
    faults.add("truncate", path_contains="annotation_100.nrrd")
    with pytest.raises(ServiceError, match="resumes"):
        remote.annotation()
    final = remote.annotation_path()
    assert not final.exists()  # nothing half-written under the real name
    partials = list(final.parent.glob(".*.partial"))
    size = len(DemoSource().annotation_nrrd(100))
    assert len(partials) == 1 and 0 < partials[0].stat().st_size < size
    have = partials[0].stat().st_size
    seen = []
    vol = remote.annotation(progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (have, size)  # resumed: the first bytes were not sent again
    assert np.array_equal(vol.ids, demo_annotation(100).ids)
    assert final.read_bytes() == DemoSource().annotation_nrrd(100)
    assert not list(final.parent.glob(".*.partial"))


class _Flaky:
    """An annotation provider that sends damaged bytes the first ``bad`` times."""

    def __init__(self, bad):
        self.bad = bad
        self.calls = 0

    def __call__(self, resolution):
        self.calls += 1
        body = DemoSource().annotation_nrrd(resolution)
        if self.calls <= self.bad:
            head, data = body.split(b"\n\n", 1)
            return head + b"\n\n" + data[:100] + bytes(len(data) - 100)  # corrupt gzip
        return body


@pytest.mark.parametrize("bad", [1, 5])
def test_damaged_download_is_fetched_again_once_then_a_clear_error(tmp_path, bad):
    provider = _Flaky(bad)
    with serve_in_thread(create_app(synthetic_catalog(), annotation=provider)) as base:
        remote = RemoteSource(base, tmp_path, annotation_resolution=100)
        if bad == 1:
            assert remote.annotation().shape == (132, 80, 114)
            assert provider.calls == 2
        else:
            with pytest.raises(AnnotationError, match="damaged 2 times") as info:
                remote.annotation()
            assert annotation_url(100, base) in str(info.value)
            assert provider.calls == 2
            assert not remote.annotation_path().exists()
            assert not list(remote.annotation_path().parent.glob(".*.partial"))
            # a click still works, with no structure, and says why
            assert remote.structure_at(9, [6500], [4000], [6400]) == [None]
            assert isinstance(remote.annotation_problem, AnnotationError)


def test_damaged_cached_file_is_fetched_again(demo_served, tmp_path):
    base, faults = demo_served
    remote = RemoteSource(base, tmp_path, annotation_resolution=100)
    remote.annotation()
    path = remote.annotation_path()
    decoded = path.with_suffix(".npy")
    assert decoded.is_file()  # the decoded copy a restart maps instead of decompressing
    before = faults.requests
    mapped = RemoteSource(base, tmp_path, annotation_resolution=100).annotation()
    assert mapped.mapped_from == decoded and faults.requests == before
    assert not mapped.ids.flags.owndata  # mapped, not read into memory
    assert np.array_equal(mapped.ids, demo_annotation(100).ids)
    # a damaged decoded copy is rebuilt from the file, with no download
    decoded.write_bytes(decoded.read_bytes()[:1000])
    again = RemoteSource(base, tmp_path, annotation_resolution=100).annotation()
    assert np.array_equal(again.ids, demo_annotation(100).ids) and faults.requests == before
    # both damaged: fetched again
    path.write_bytes(path.read_bytes()[:5000])
    decoded.write_bytes(b"garbage")
    fresh = RemoteSource(base, tmp_path, annotation_resolution=100)
    assert np.array_equal(fresh.annotation().ids, demo_annotation(100).ids)
    assert path.read_bytes() == DemoSource().annotation_nrrd(100)
    assert faults.requests > before


def test_sha256_is_checked(demo_served, tmp_path):
    base, _ = demo_served
    url = annotation_url(100, base)
    good = hashlib.sha256(DemoSource().annotation_nrrd(100)).hexdigest()
    vol = fetch_annotation(url, tmp_path / "a.nrrd", sha256=good, resolution=100)
    assert vol.shape == (132, 80, 114)
    with pytest.raises(AnnotationError, match="SHA-256"):
        fetch_annotation(url, tmp_path / "b.nrrd", sha256="0" * 64, resolution=100)
    assert not (tmp_path / "b.nrrd").exists()


def test_server_without_volume_is_a_clear_error(tmp_path):
    with serve_in_thread(create_app(synthetic_catalog())) as base:
        remote = RemoteSource(base, tmp_path, annotation_resolution=50)
        with pytest.raises(AnnotationError, match="no annotation volume") as info:
            remote.annotation()
        assert "annotation_50.nrrd" in str(info.value)
        assert remote.structure_at(9, [1.0, 2.0], [1, 2], [4, 5]) == [None, None]
        with pytest.raises(AnnotationError):
            remote.structure_ids_at(9, [1.0], [1], [4])


def test_serve_catalog_serves_a_volume_placed_in_its_folder(tmp_path):
    folder = catalog_folder(tmp_path / "catalog")
    # a volume whose ids are structures of the folder's own ontology
    ids = np.zeros((132, 80, 114), np.uint32)
    ids[10:60, 10:40, 20:60] = 315
    ids[60:120, 30:70, 50:110] = 1089
    AnnotationVolume(ids, 100).write(folder / "annotation_100.nrrd")
    with server_process(folder) as base:
        remote = RemoteSource(base, tmp_path / "cache", annotation_resolution=100)
        got = remote.structure_at(9, [3000, 9000, 50], [2000, 5000, 50], [4000, 8000, 50])
        assert [s and s.acronym for s in got] == ["Isocortex", "HPF", None]
        other = RemoteSource(base, tmp_path / "cache2", annotation_resolution=25)
        with pytest.raises(AnnotationError, match=r"annotation_100\.nrrd"):
            other.annotation()


# ---------------------------------------------------------------------- real scale
@pytest.fixture(scope="module")
def real_ontology():
    return ontology_from_graph_download(json.loads(ONTOLOGY.read_text()))


def test_real_ontology_loads_through_the_clients_parser(real_ontology):
    structures = {s.id: s for s in real_ontology}
    assert len(real_ontology) == len(structures) == 1327
    assert structures[997].acronym == "root" and structures[997].parent_structure_id is None
    for sid, acronym in {315: "Isocortex", 698: "OLF", 1089: "HPF", 549: "TH",
                         512: "CB", 1009: "fiber tracts", 73: "VS"}.items():
        assert structures[sid].acronym == acronym
        assert structures[sid].structure_id_path[0] == 997
        assert structures[sid].structure_id_path[-1] == sid
    for s in real_ontology:  # every path is the chain of parents
        if s.parent_structure_id is not None:
            assert s.structure_id_path[:-1] == structures[s.parent_structure_id].structure_id_path
    assert structures[315].color_hex_triplet == "70FF71"
    # the records go into a catalog as the RMA answers do
    catalog = Catalog(real_ontology)
    assert len(catalog.structures) == 1327


def test_real_scale_volume_names_via_real_ontology(real_ontology, tmp_path):
    """A 25 µm CCF-sized volume whose ids are drawn from the real ontology, served over
    HTTP from a catalog folder holding the real ontology: every point's structure is the
    one the volume holds, named as Allen names it."""
    rng = np.random.default_rng(7)
    ids_pool = np.array([s.id for s in real_ontology if s.id != 997], np.uint32)
    coarse = rng.choice(ids_pool, size=(66, 40, 57))  # 200 µm blocks
    ids = coarse.repeat(8, 0).repeat(8, 1).repeat(8, 2)
    assert ids.shape == (528, 320, 456)
    folder = tmp_path / "catalog"
    folder.mkdir()
    payload = {"success": True, "id": 0, "start_row": 0, "num_rows": len(real_ontology),
               "total_rows": len(real_ontology),
               "msg": [s.to_rma() for s in real_ontology]}
    (folder / "Structure-graph-1.json").write_text(json.dumps(payload))
    AnnotationVolume(ids, 25).write(folder / "annotation_25.nrrd")
    pts = _points(9, 5000)
    with serve_in_thread(create_app(Catalog.from_folder(folder), annotation=folder)) as base:
        remote = RemoteSource(base, tmp_path / "cache")
        found = remote.structure_at(9, *pts)
    by_id = {s.id: s for s in real_ontology}
    inside = [(k, int(v)) for k, v in enumerate(_truth(ids, pts))]
    assert len(remote.catalog.structures) == 1327
    for k, sid in inside:
        if sid == 0:
            assert found[k] is None
        else:
            assert found[k].id == sid and found[k].name == by_id[sid].name
    assert len({s.id for s in found if s is not None}) > 500


def _truth(ids, pts):
    idx = [np.floor(p / 25).astype(int) for p in pts]
    ok = np.all([(k >= 0) & (k < n) for k, n in zip(idx, ids.shape, strict=True)], axis=0)
    out = np.zeros(len(pts[0]), np.int64)
    out[ok] = ids[tuple(k[ok] for k in idx)]
    return out


def test_tqdm_progress_bar_on_the_command_line(demo_served, tmp_path, capsys):
    from napari_allen_sync.annotation import tqdm_progress

    base, _ = demo_served
    bar = tqdm_progress("annotation_100.nrrd")
    vol = RemoteSource(base, tmp_path, annotation_resolution=100).annotation(progress=bar)
    size = len(DemoSource().annotation_nrrd(100))
    assert bar.bar.n == bar.bar.total == size
    bar.close()
    assert vol.shape == (132, 80, 114)
    assert "annotation_100.nrrd" in capsys.readouterr().err


def test_a_lookup_that_does_not_wait_answers_during_the_download(demo_served, tmp_path):
    """``structure_at(..., wait=False)`` while another thread downloads the volume: every
    point None at once, and ``annotation_problem`` says it is still downloading; once
    the volume is in, the same call names the demo's structures (and waits for nothing)."""
    import threading

    from napari_allen_sync.errors import AnnotationPendingError

    base, _faults = demo_served
    remote = RemoteSource(base, tmp_path, timeout=(2, 60), annotation_resolution=100)
    pts = _points(7, 200)
    first, gate, got = threading.Event(), threading.Event(), []

    def held(done, _total):  # the HTTP transfer is real; only its pace is held
        if done and not first.is_set():
            first.set()
            gate.wait(60)

    fetch = threading.Thread(target=lambda: got.append(remote.annotation(progress=held)))
    fetch.start()
    try:
        assert first.wait(30) and remote.annotation_pending()
        assert remote.structure_at(9, *pts, wait=False) == [None] * len(pts[0])
        assert isinstance(remote.annotation_problem, AnnotationPendingError)
        assert "still downloading" in str(remote.annotation_problem)
    finally:
        gate.set()
        fetch.join(60)
    assert got and not remote.annotation_pending() and remote.annotation_problem is None
    named = remote.structure_at(9, *pts, wait=False)
    want = demo_annotation(100).structure_ids_at(9, *pts)  # the served volume's answer
    assert [s.id if s is not None else 0 for s in named] == want.tolist()
    assert any(s is not None for s in named)
    remote.close()
