"""The engine's fast paths give the same bits as the rules they replace.

- :class:`SectionLookup` (constant time per point) against
  :func:`inferred.nearest_sections` (one binary search per point), ties, neighbours of
  every mid-point, infinities and NaN included; :func:`index_of_each` (one point into
  each of many stacks, the list services' form) against the binary search of each stack;
- the engine's blocked batch forms against the plain array arithmetic of
  :mod:`napari_allen_sync.arithmetic` on the whole batch, for batches that cross block
  boundaries.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine_fixtures import synthetic_catalog
from napari_allen_sync import inferred, synchronizer
from napari_allen_sync.arithmetic import apply_3x4, compose_3x4
from napari_allen_sync.section_lookup import SectionLookup, index_of_each
from napari_allen_sync.synchronizer import Synchronizer

CATALOG = synthetic_catalog()
DATA_SETS = [101, 102, 103, 104]

section_numbers = st.lists(st.integers(-50, 2000), min_size=1, max_size=60, unique=True).map(
    lambda v: np.array(sorted(v), dtype=np.int64)
)


def _probes(numbers: np.ndarray, extra) -> np.ndarray:
    """Every half section around the stack, its float neighbours, and ``extra``."""
    halves = np.arange(2 * numbers[0] - 6, 2 * numbers[-1] + 7) / 2.0
    return np.concatenate(
        [
            halves,
            np.nextafter(halves, np.inf),
            np.nextafter(halves, -np.inf),
            np.asarray(extra, dtype=float),
            [np.inf, -np.inf, 1e300, -1e300, 0.0, -0.0],
        ]
    )


@settings(max_examples=200, deadline=None)
@given(
    numbers=section_numbers, extra=st.lists(st.floats(-3000, 3000, allow_nan=False), max_size=50)
)
def test_section_lookup_is_the_binary_search(numbers, extra):
    lookup = SectionLookup(numbers)
    q = _probes(numbers, extra)
    # without NaN (the table), then with one (NaN goes where the search puts it)
    for probe in (q, np.append(q, np.nan)):
        index, clamped = lookup(probe)
        want_index, want_clamped = inferred.nearest_sections(numbers, probe)
        np.testing.assert_array_equal(index, want_index)
        np.testing.assert_array_equal(clamped, want_clamped)


def test_section_lookup_ties_go_to_the_lower_section():
    index, _ = SectionLookup([10, 13, 20])(np.array([11.5, 16.5, np.nextafter(11.5, 12)]))
    assert index.tolist() == [0, 1, 1]


def test_section_lookup_refuses_what_it_cannot_answer():
    with pytest.raises(ValueError, match="strictly increasing integers"):
        SectionLookup([3, 3, 4])
    with pytest.raises(ValueError, match="strictly increasing integers"):
        SectionLookup([1.5, 2.5])
    with pytest.raises(ValueError, match="non-empty"):
        SectionLookup([])


def test_section_lookup_spread_over_millions_falls_back_to_the_search():
    numbers = np.array([0, 5, 10_000_000], dtype=np.int64)
    q = _probes(np.array([0, 5]), [4_999_999.0, 5_000_002.5, 5_000_002.6, 9e6])
    index, _ = SectionLookup(numbers)(q)
    np.testing.assert_array_equal(index, inferred.nearest_sections(numbers, q)[0])


def test_index_of_each_is_the_binary_search_of_each_stack():
    """Stacks of one section, without a table (spread over millions) and with one, their
    probes (ties, neighbours of mid-points, infinities, NaN) interleaved: each q gets its
    own stack's answer. (tests/http/test_server_fanout.py draws many stacks at random.)"""
    stacks = [np.array([7]), np.array([0, 5, 10_000_000]), np.array([10, 13, 20]),
              np.array([-40, -8, 0, 8, 16, 1000])]
    extra = [np.nan, 5_000_002.5, 4_999_999.0]
    # the spread stack: every half section around its first two sections only
    pairs = [(numbers, v) for numbers in stacks
             for v in _probes(numbers if numbers[-1] < 10_000 else numbers[:2], extra)]
    order = np.random.default_rng(0).permutation(len(pairs))
    lookups = {id(n): SectionLookup(n) for n in stacks}
    chosen = [lookups[id(pairs[j][0])] for j in order]
    q = np.array([pairs[j][1] for j in order])
    want = [inferred.nearest_sections(pairs[j][0], q[k : k + 1])[0][0]
            for k, j in enumerate(order)]
    assert SectionLookup(stacks[1])._table is None  # the fallback is exercised
    np.testing.assert_array_equal(index_of_each(chosen, q), want)


def test_index_of_each_wants_one_q_per_lookup():
    with pytest.raises(ValueError, match="one q per lookup"):
        index_of_each([SectionLookup([1, 2])], [1.0, 2.0])
    assert index_of_each([], []).tolist() == []


def _plain(sync, stack, space, x, y, z, ds):
    """The whole-array arithmetic the blocked engine replaced (same operations)."""
    m = compose_3x4(stack.trv, sync.reference_transform(space, stack.data_set.reference_space_id))
    vx, vy, vz = apply_3x4(m, x, y, z)
    index, clamped = inferred.nearest_sections(stack.section_numbers, vz / stack.thickness)
    t = stack.tvs
    sx = t[0].take(index) * vx + t[1].take(index) * vy + t[2].take(index)
    sy = t[3].take(index) * vx + t[4].take(index) * vy + t[5].take(index)
    sn = stack.section_numbers.take(index)
    return (
        stack.image_ids.take(index),
        sn,
        sx,
        sy,
        (vz - sn * stack.thickness) / stack.plane_norm,
        clamped,
    )


def _assert_same(batch, want):
    got = (
        batch.section_image_id,
        batch.section_number,
        batch.x,
        batch.y,
        batch.distance,
        batch.clamped,
    )
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), space=st.sampled_from([9, 10]), extra=st.integers(0, 5))
def test_blocked_batches_equal_the_plain_arithmetic(seed, space, extra):
    """Batches of 2½ blocks: every answer bit-identical to whole-array arithmetic."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(synchronizer, "BLOCK_POINTS", 1000)  # several blocks, fast
        _check_blocked(seed, space, extra)


def _check_blocked(seed, space, extra):
    sync = Synchronizer(CATALOG)
    rng = np.random.default_rng(seed)
    n = 2 * synchronizer.BLOCK_POINTS + synchronizer.BLOCK_POINTS // 2 + extra
    x, y, z = (rng.uniform(-2000, e + 2000, n) for e in (13200, 8000, 11400))
    batches = sync.reference_to_image_batch(space, x, y, z, DATA_SETS)
    for ds, batch in zip(DATA_SETS, batches, strict=True):
        _assert_same(batch, _plain(sync, sync.stack(ds), space, x, y, z, ds))
    # seed pixels: the reference points of the blocks are made block by block
    seed = CATALOG.images_of(101)[int(rng.integers(0, 70))]
    px, py = rng.uniform(-500, 9500, n), rng.uniform(-500, 6500, n)
    ref = sync.image_to_reference_batch(seed.id, px, py)
    m = sync._image_matrix(seed, CATALOG.section_data_set(101))
    np.testing.assert_array_equal(ref.x, m[0, 0] * px + m[0, 1] * py + m[0, 2])
    np.testing.assert_array_equal(ref.y, m[1, 0] * px + m[1, 1] * py + m[1, 2])
    np.testing.assert_array_equal(ref.z, m[2, 0] * px + m[2, 1] * py + m[2, 2])
    for ds, batch in zip(
        DATA_SETS, sync.image_to_image_batch(seed.id, px, py, DATA_SETS), strict=True
    ):
        _assert_same(batch, _plain(sync, sync.stack(ds), 9, ref.x, ref.y, ref.z, ds))
    atlas = sync.image_to_atlas_batch(seed.id, px, py, 1)
    _assert_same(atlas, _plain(sync, sync.stack(9001, kind="atlas"), 9, ref.x, ref.y, ref.z, None))
    assert atlas.section_data_set_id is None


@pytest.fixture
def monkeypatch_block(monkeypatch):
    """Small blocks, so that hypothesis's examples cross several block boundaries fast."""
    monkeypatch.setattr(synchronizer, "BLOCK_POINTS", 1000)


def test_per_point_seed_images_cross_blocks(monkeypatch_block):
    sync = Synchronizer(CATALOG)
    rng = np.random.default_rng(4)
    images = [im.id for im in CATALOG.images_of(101)[:6]]
    n = 2500
    ids = np.array(images)[rng.integers(0, 6, n)]
    px, py = rng.uniform(0, 9000, n), rng.uniform(0, 6000, n)
    ref = sync.image_to_reference_batch(ids, px, py)
    (batch,) = sync.image_to_image_batch(ids, px, py, [102])
    _assert_same(
        batch, _plain(sync, sync.stack(102), ref.reference_space_id, ref.x, ref.y, ref.z, 102)
    )


def test_empty_batches_answer_empty():
    sync = Synchronizer(CATALOG)
    (b,) = sync.reference_to_image_batch(9, [], [], [], [101])
    assert len(b) == 0 and b.section_image_id.dtype == np.int64
    ref = sync.image_to_reference_batch(CATALOG.images_of(101)[0].id, [], [])
    assert len(ref) == 0
