"""Structure labels of many points: the perfect hash (:class:`IdLookup`),
:func:`label_points` on Allen's real ontology, and the blocked volume lookup."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_allen_sync import annotation
from napari_allen_sync.annotation import (
    AnnotationVolume,
    label_points,
    ontology_from_graph_download,
)
from napari_allen_sync.id_lookup import IdLookup
from napari_allen_sync.records import Structure

ONTOLOGY_FILE = Path(__file__).parents[1] / "data" / "real" / "structure_graph_download-1.json"


@settings(max_examples=100, deadline=None)
@given(
    keys=st.lists(st.integers(0, 2**40), max_size=300, unique=True),
    others=st.lists(st.integers(-(2**40), 2**40), max_size=200),
)
def test_id_lookup_finds_members_and_only_members(keys, others):
    lookup = IdLookup(keys)
    where = {k: i for i, k in enumerate(keys)}
    ids = np.array(keys + others + [0, -1], dtype=np.int64)
    got = lookup.positions(ids)
    assert got.tolist() == [where.get(int(v), -1) for v in ids]
    assert (lookup.numbers(ids) == got + 1).all()


def test_id_lookup_without_a_small_perfect_hash_still_answers(monkeypatch):
    from napari_allen_sync import id_lookup

    monkeypatch.setattr(id_lookup, "MAX_BITS", 3)  # no table: the binary search
    keys = [5, 900, 17, 3, 2**33]
    lookup = IdLookup(keys)
    assert lookup._slots is None
    assert lookup.positions([17, 4, 2**33, 5, 0]).tolist() == [2, -1, 4, 0, -1]
    assert IdLookup([]).positions([1, 2]).tolist() == [-1, -1]


def test_id_lookup_refuses_repeated_or_negative_ids():
    with pytest.raises(ValueError, match="distinct and non-negative"):
        IdLookup([3, 3])
    with pytest.raises(ValueError, match="distinct and non-negative"):
        IdLookup([-3])


def test_label_points_on_allens_1327_structures():
    structures = {
        s.id: s for s in ontology_from_graph_download(json.loads(ONTOLOGY_FILE.read_text()))
    }
    assert len(structures) == 1327
    rng = np.random.default_rng(2)
    known = np.array(sorted(structures))
    ids = np.concatenate(
        [rng.choice(known, 70_000), [0, 0, 7, 2**31 + 5], rng.integers(0, 2**30, 1000)]
    )
    rng.shuffle(ids)
    got_ids, got_acronyms = label_points(ids, structures)
    want = [structures.get(int(v)) for v in ids]
    assert got_ids.tolist() == [-1 if s is None else s.id for s in want]
    assert got_acronyms.tolist() == ["" if s is None else s.acronym for s in want]


def test_label_points_calls_zero_outside_even_if_listed():
    onto = {0: Structure(0, "none", "nothing"), 549: Structure(549, "TH", "Thalamus")}
    ids, acronyms = label_points(np.array([0, 549]), onto)
    assert ids.tolist() == [-1, 549] and acronyms.tolist() == ["", "TH"]


def test_label_points_with_an_empty_ontology():
    ids, acronyms = label_points([5, 0], {})
    assert ids.tolist() == [-1, -1] and acronyms.tolist() == ["", ""]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), space=st.sampled_from([9, 10]))
def test_blocked_volume_lookup_is_the_floor_of_every_point(seed, space):
    """Across several blocks: each point's id is that of voxel floor(µm / 100), 0 outside."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 2000, (132, 80, 114)).astype(np.uint32)
    vol = AnnotationVolume(ids, 100)
    n = 3 * annotation.LOOKUP_BLOCK + 11
    p, i, r = (rng.uniform(-500, e + 500, n) for e in (13200, 8000, 11400))
    got = vol.structure_ids_at(space, p, i, r)
    r9 = r if space == 9 else 11350.0 - r
    v = [np.floor(c * 0.01).astype(np.int64) for c in (p, i, r9)]
    inside = np.all([(a >= 0) & (a < s) for a, s in zip(v, ids.shape, strict=True)], axis=0)
    want = np.zeros(n, dtype=np.int64)
    want[inside] = ids[v[0][inside], v[1][inside], v[2][inside]]
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.int64


def test_voxel_lookup_keeps_the_shape_of_its_coordinates():
    vol = AnnotationVolume(np.arange(24, dtype=np.uint32).reshape(2, 3, 4), 10)
    got = vol.voxel_lookup(np.array([[0.5, 1.5]]), np.array([[2.2, 0.0]]), np.array([[3.9, 9]]))
    assert got.shape == (1, 2) and got.tolist() == [[11, 0]]
