"""The annotation volume (annotation.py) and the demo's volume built from its phantom."""

from __future__ import annotations

import gzip
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_allen_sync.annotation import (
    ANNOTATION_PATH,
    AnnotationVolume,
    annotation_url,
    expected_shape,
)
from napari_allen_sync.demo import DemoSource, phantom
from napari_allen_sync.demo.annotation import demo_annotation
from napari_allen_sync.errors import AnnotationError, InvalidCoordinateError


def _reference_lookup(vol, p, i, r):
    """floor(coordinate / voxel) with numpy fancy indexing, 0 outside."""
    ids = vol.ids
    v = vol.resolution_um
    idx = [np.floor(np.asarray(c, float) / v).astype(np.int64) for c in (p, i, r)]
    inside = np.ones(len(idx[0]), bool)
    for k, n in zip(idx, ids.shape, strict=True):
        inside &= (k >= 0) & (k < n)
    out = np.zeros(len(idx[0]), np.int64)
    out[inside] = ids[tuple(k[inside] for k in idx)]
    return out


def test_demo_volume_is_the_phantom_at_voxel_centres():
    vol = demo_annotation()
    assert vol.shape == expected_shape(50) == (264, 160, 228)
    assert vol.ids.dtype == np.uint32
    rng = np.random.default_rng(5)
    idx = [rng.integers(0, n, 4000) for n in vol.shape]
    centres = [(k + 0.5) * 50.0 for k in idx]
    assert np.array_equal(vol.ids[tuple(idx)], phantom.structure_id_at(*centres))
    assert {315, 549, 1089, 512, 1009, 73} <= set(vol.structure_ids().tolist())


def test_demo_source_answers_through_the_volume():
    source = DemoSource()
    rng = np.random.default_rng(11)
    pts = [rng.uniform(-300, e + 300, 20_000) for e in (13200, 8000, 11400)]
    got = source.structure_ids_at(9, *pts)
    assert np.array_equal(got, _reference_lookup(demo_annotation(), *pts))
    # and mostly as the phantom itself (they differ only within a voxel of a boundary)
    assert (got == phantom.structure_id_at(*pts)).mean() > 0.9


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-1000, 14000), st.floats(-1000, 9000),
                          st.floats(-1000, 12500)), min_size=1, max_size=50))
def test_lookup_is_floor_of_voxel_and_space_10_is_the_mirror(points):
    vol = demo_annotation(100)
    p, i, r = (np.array(c) for c in zip(*points, strict=True))
    want = _reference_lookup(vol, p, i, r)
    assert np.array_equal(vol.structure_ids_at(9, p, i, r), want)
    assert np.array_equal(vol.structure_ids_at(10, p, i, 11350.0 - r), want)
    assert np.array_equal(vol.structure_ids_at(12345, p, i, r), np.zeros(len(p)))


def test_25_um_demo_volume_answers_exactly_as_the_50_um_one():
    rng = np.random.default_rng(3)
    pts = [rng.uniform(-100, e + 100, 50_000) for e in (13200, 8000, 11400)]
    v25, v50 = demo_annotation(25), demo_annotation(50)
    assert v25.shape == (528, 320, 456)
    assert np.array_equal(v25.structure_ids_at(9, *pts), v50.structure_ids_at(9, *pts))
    with pytest.raises(AnnotationError, match="25, 50, 100"):
        demo_annotation(10)


def test_nrrd_round_trip_in_allens_layout(tmp_path):
    vol = demo_annotation(100)
    path = vol.write(tmp_path / "annotation_100.nrrd")
    back = AnnotationVolume.read(path)
    assert back.resolution_um == 100 and np.array_equal(back.ids, vol.ids)
    header = path.read_bytes().split(b"\n\n", 1)[0].decode()
    assert "type: uint32" in header and "encoding: gzip" in header
    assert "sizes: 132 80 114" in header  # AP fastest, as Allen's files
    # the same bytes read the same through a file handle as from memory
    assert np.array_equal(AnnotationVolume.from_nrrd_bytes(path.read_bytes()).ids, vol.ids)


def _nrrd_with(header_lines, data: bytes) -> bytes:
    return ("NRRD0004\n" + "\n".join(header_lines) + "\n\n").encode() + data


@pytest.mark.parametrize("body, match", [
    (b"not an nrrd at all", "not an NRRD"),
    (_nrrd_with(["type: uint32", "dimension: 2", "sizes: 4 4", "encoding: raw",
                 "endian: little"], bytes(64)), "dimension is 2"),
    (_nrrd_with(["type: float", "dimension: 3", "sizes: 2 2 2", "encoding: raw",
                 "endian: little", "spacings: 10 10 10"], bytes(32)), "not an integer"),
    (_nrrd_with(["type: uint32", "dimension: 3", "sizes: 2 2 2", "encoding: gzip",
                 "endian: little", "spacings: 10 10 10"], b"\x1f\x8b garbage"), "damaged"),
])
def test_bad_nrrd_files_raise_annotation_error(body, match):
    with pytest.raises(AnnotationError, match=match):
        AnnotationVolume.from_nrrd_bytes(body, where="test")


def test_truncated_and_wrong_shape_volumes_are_refused(tmp_path):
    body = demo_annotation(100).to_nrrd_bytes()
    with pytest.raises(AnnotationError, match="damaged"):
        AnnotationVolume.from_nrrd_bytes(body[: len(body) // 2])
    with pytest.raises(AnnotationError, match=r"expected \(528, 320, 456\)"):
        AnnotationVolume.from_nrrd_bytes(body, shape=expected_shape(25))
    missing = tmp_path / "nothing.nrrd"
    with pytest.raises(AnnotationError, match="cannot read") as info:
        AnnotationVolume.read(missing)
    assert str(missing) in str(info.value)


def test_volume_rejects_bad_arrays_and_coordinates():
    with pytest.raises(AnnotationError):
        AnnotationVolume(np.zeros((4, 4), np.uint32), 10)
    with pytest.raises(AnnotationError):
        AnnotationVolume(-np.ones((2, 2, 2), np.int32), 10)
    with pytest.raises(AnnotationError):
        AnnotationVolume(np.zeros((2, 2, 2), np.uint32), 0)
    vol = AnnotationVolume(np.ones((2, 2, 2), np.uint16), 10)
    assert vol.ids.dtype == np.uint32
    with pytest.raises(InvalidCoordinateError):
        vol.structure_ids_at(9, [np.nan], [1], [1])
    with pytest.raises(ValueError, match="equal lengths"):
        vol.structure_ids_at(9, [1, 2], [1], [1])


def test_url_layout_is_allens():
    assert annotation_url(25) == ("http://download.alleninstitute.org/informatics-archive/"
                                  "current-release/mouse_ccf/annotation/ccf_2017/"
                                  "annotation_25.nrrd")
    assert annotation_url(100, "http://127.0.0.1:9/").endswith(
        ANNOTATION_PATH.format(resolution=100))
    with pytest.raises(ValueError, match="10, 25, 50, 100"):
        annotation_url(30)


def test_gzip_of_demo_volume_is_plain_gzip():
    """Allen's files are gzip-encoded NRRD: the data after the header is one gzip stream
    of little-endian uint32 in Fortran (AP-fastest) order."""
    vol = demo_annotation(100)
    body = vol.to_nrrd_bytes()
    raw = gzip.GzipFile(fileobj=io.BytesIO(body.split(b"\n\n", 1)[1])).read()
    data = np.frombuffer(raw, "<u4").reshape(vol.shape, order="F")
    assert np.array_equal(data, vol.ids)


_WRITE_DEMO_VOLUMES = """
import sys
from pathlib import Path
from napari_allen_sync.demo.annotation import demo_annotation_nrrd
for res in (50, 100):
    Path(sys.argv[1], f"annotation_{res}.nrrd").write_bytes(demo_annotation_nrrd(res))
"""


def test_demo_volume_files_are_the_same_bytes_whenever_written(tmp_path):
    """The demo's NRRD files are a function of the data: two processes, the second more
    than a second later (pynrrd's header stamped the second of writing) and mapping the
    50 µm volume from the cache folder the first one built, write identical files, which
    pynrrd reads (by path, as AllenSDK's ReferenceSpaceApi does) in Allen's layout."""
    import hashlib
    import subprocess
    import sys
    import time

    import nrrd

    digests = []
    for run in ("first", "second"):
        if run == "second":
            time.sleep(1.1)
        folder = tmp_path / run
        folder.mkdir()
        subprocess.run([sys.executable, "-c", _WRITE_DEMO_VOLUMES, str(folder)], check=True,
                       timeout=300)
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                        for p in sorted(folder.glob("*.nrrd"))})
    assert sorted(digests[0]) == ["annotation_100.nrrd", "annotation_50.nrrd"]
    assert digests[0] == digests[1]
    for res in (50, 100):
        data, header = nrrd.read(str(tmp_path / "second" / f"annotation_{res}.nrrd"))
        assert np.array_equal(data, demo_annotation(res).ids)
        assert np.array_equal(header["space directions"], np.diag([res] * 3))
        assert header["encoding"] == "gzip" and header["type"] == "uint32"


@settings(max_examples=25, deadline=None)
@given(shape=st.tuples(*[st.integers(1, 6)] * 3), res=st.sampled_from([10, 25, 12.5, 0.1]),
       seed=st.integers(0, 2**32 - 1), fortran=st.booleans())
def test_nrrd_bytes_depend_on_the_data_alone(shape, res, seed, fortran):
    """Equal ids (in either memory layout) give equal files; the file reads back."""
    ids = np.random.default_rng(seed).integers(0, 2**32, shape, dtype=np.uint32)
    vol = AnnotationVolume(np.asfortranarray(ids) if fortran else ids, res)
    body = vol.to_nrrd_bytes()
    assert body == AnnotationVolume(ids.copy(), res).to_nrrd_bytes()
    back = AnnotationVolume.from_nrrd_bytes(body)
    assert back.resolution_um == res and np.array_equal(back.ids, ids)


def test_demo_volume_is_kept_in_the_cache_folder():
    """Built once, then mapped from the (private, per-test) cache folder by later
    processes; a damaged copy is rebuilt."""
    from napari_allen_sync.demo import annotation as demo_ann

    first = demo_ann._cached_50()
    path = first.mapped_from
    assert path is None  # built: this test's cache folder was empty
    again = demo_ann._cached_50()
    assert again.mapped_from is not None and again.mapped_from.is_file()
    assert np.array_equal(again.ids, first.ids)
    assert np.array_equal(again.ids, demo_annotation().ids)
    again.mapped_from.write_bytes(b"damaged")
    rebuilt = demo_ann._cached_50()
    assert rebuilt.mapped_from is None and np.array_equal(rebuilt.ids, first.ids)
