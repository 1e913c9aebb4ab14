"""Chunked synchronization with dask, locally and on a dask.distributed LocalCluster."""

from __future__ import annotations

import pickle

import dask.array as da
import numpy as np
import pytest

from engine_fixtures import synthetic_catalog
from napari_allen_sync import batch
from napari_allen_sync.errors import InvalidCoordinateError, UnknownIdError
from napari_allen_sync.synchronizer import Synchronizer

CATALOG = synthetic_catalog()
SYNC = Synchronizer(CATALOG)
SEED = CATALOG.images_of(102)[33].id


def _points(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(0, 9000, n), rng.uniform(0, 6000, n)])


def test_chunked_equals_in_memory():
    pts = _points(10_000)
    lazy = batch.image_to_image(CATALOG, SEED, da.from_array(pts, chunks=(1_337, 2)), [101, 103])
    expected = SYNC.image_to_image_batch(SEED, pts[:, 0], pts[:, 1], [101, 103])
    for ds, exp in zip([101, 103], expected, strict=True):
        got = batch.as_image_sync_batch(lazy[ds].compute(), ds)
        np.testing.assert_array_equal(got.section_image_id, exp.section_image_id)
        np.testing.assert_array_equal(got.x, exp.x)
        np.testing.assert_array_equal(got.distance, exp.distance)
    ref = batch.image_to_reference(CATALOG, SEED, da.from_array(pts, chunks=(999, 2))).compute()
    r = SYNC.image_to_reference_batch(SEED, pts[:, 0], pts[:, 1])
    np.testing.assert_array_equal(ref, r.as_array())
    back = batch.reference_to_image(CATALOG, 9, da.from_array(ref, chunks=(2048, 3)), [102])[
        102
    ].compute()
    np.testing.assert_allclose(back[:, 2], pts[:, 0], atol=1e-6)
    atlas = batch.image_to_atlas(CATALOG, SEED, pts, 1).compute()
    assert atlas.shape == (10_000, 6)


def test_bad_ids_fail_before_compute():
    with pytest.raises(UnknownIdError):
        batch.image_to_image(CATALOG, SEED, _points(10), [101, 404])
    with pytest.raises(UnknownIdError):
        batch.image_to_reference(CATALOG, 404, _points(10))
    with pytest.raises(InvalidCoordinateError, match=r"\(N, 3\)"):
        batch.reference_to_image(CATALOG, 9, _points(10), [101])


def test_catalog_pickles():
    again = pickle.loads(pickle.dumps(CATALOG))
    assert Synchronizer(again).image_to_reference(SEED, 3, 4) == SYNC.image_to_reference(SEED, 3, 4)


@pytest.mark.slow
def test_same_code_on_a_local_cluster():
    distributed = pytest.importorskip("dask.distributed")
    pts = _points(200_000, seed=5)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        lazy = batch.image_to_image(CATALOG, SEED, da.from_array(pts, chunks=(25_000, 2)), [103])
        got = client.compute(lazy[103]).result(timeout=120)
    expected = SYNC.image_to_image_batch(SEED, pts[:, 0], pts[:, 1], [103])[0]
    np.testing.assert_array_equal(got[:, 2], expected.x)
    np.testing.assert_array_equal(got[:, 0].astype(np.int64), expected.section_image_id)
