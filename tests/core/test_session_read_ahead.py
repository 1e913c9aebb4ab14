"""Reading ahead (session.read_ahead) on the demo atlas, without a display: the sections
a click on the seed can reach are the engine's answers for the grid's points, ranked by
how many points reach them; once read, a click at any of those points reads no tile."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_allen_sync.session import read_ahead, workflow
from napari_allen_sync.session.tiles import cached_tiles
from workflow_run import run

demo = pytest.importorskip("napari_allen_sync.demo")

TARGETS = tuple(sorted(demo.DEMO_TARGET_DATA_SET_IDS))
ATLAS = demo.DEMO_ATLAS_ID
#: a small grid keeps the module quick; the dock uses read_ahead.GRID
GRID = (8, 6)


@pytest.fixture(scope="module")
def view(seed):
    """A view of the panels: centred on the seed, about 300 screen pixels across it."""
    zoom = 300.0 / float(seed.width)
    return ((seed.height / 2.0, seed.width / 2.0), zoom, (260.0, 320.0))


@pytest.fixture(scope="module")
def shown(source, seed, view):
    """The sections the panels show after the dock lays them out (its centre point)."""
    request = workflow.SyncRequest(1, seed.id, seed.width / 2.0, seed.height / 2.0, TARGETS,
                                   ATLAS, {}, view=view)
    _steps, outcome = run(workflow.synchronize_click(source, request))
    return {h.key: h.section_image_id for h in outcome.hits}


def request_for(seed, shown, view=None, limit=None, targets=TARGETS):
    return read_ahead.ReadAheadRequest(2, seed.id, targets, ATLAS, dict(shown), view=view,
                                       limit=limit)


def engine_sections(source, seed, xs, ys) -> dict:
    """Each key's section for each point, one engine call per point and target."""
    sync = source.synchronizer
    out: dict = {}
    for x, y in zip(xs, ys, strict=True):
        for ds in TARGETS:
            (b,) = sync.image_to_image_batch(seed.id, [x], [y], [ds])
            out.setdefault(f"ds:{ds}", []).append(int(b.section_image_id[0]))
        b = sync.image_to_atlas_batch(seed.id, [x], [y], ATLAS)
        out.setdefault(f"atlas:{ATLAS}", []).append(int(b.section_image_id[0]))
    return out


def test_reachable_sections_are_the_engines_answers_for_the_grid_ranked(source, seed, shown):
    items = read_ahead.reachable(source, request_for(seed, shown), grid=GRID)
    xs, ys = read_ahead.grid_points(seed, GRID)
    assert len(xs) == GRID[0] * GRID[1]
    assert np.all((xs > 0) & (xs < seed.width) & (ys > 0) & (ys < seed.height))
    expected = engine_sections(source, seed, xs, ys)
    by_key: dict = {}
    for key, image, affine in items:
        by_key.setdefault(key, []).append(image.id)
        assert affine.shape == (3, 3) and np.all(np.isfinite(affine))
    for key, answers in expected.items():
        counts = Counter(answers)
        # every section reached, except the one shown, once each
        assert sorted(by_key.get(key, [])) == sorted(set(counts) - {shown[key]}), key
        # most reached first
        ranks = [counts[i] for i in by_key.get(key, [])]
        assert ranks == sorted(ranks, reverse=True), key
    # the targets take turns: each one's most likely section before any one's second
    firsts = {}
    for pos, (key, _image, _affine) in enumerate(items):
        firsts.setdefault(key, pos)
    assert sorted(firsts.values()) == list(range(len(firsts)))


def test_a_target_that_cannot_be_answered_is_left_out(source, seed, shown):
    items = read_ahead.reachable(
        source, request_for(seed, shown, targets=(*TARGETS, 999_999)), grid=GRID)
    keys = {key for key, _i, _a in items}
    assert "ds:999999" not in keys and {f"ds:{d}" for d in TARGETS} <= keys


def test_read_ahead_stops_at_its_limit_one_step_per_image(source, seed, shown, view):
    steps, loaded = run(read_ahead.read_ahead(source, request_for(seed, shown, view, limit=3)))
    assert len(loaded) == 3 and len(steps) == 1 + 3
    first = read_ahead.reachable(source, request_for(seed, shown))[:3]
    assert [(k, i.id) for k, i, _ in loaded] == [(k, i.id) for k, i, _ in first]


def test_the_budget_is_the_sources():
    assert read_ahead.budget(demo.DemoSource()) == demo.DemoSource.READ_AHEAD_IMAGES

    class Remote:  # a source that does not say
        pass

    assert read_ahead.budget(Remote()) == read_ahead.DEFAULT_IMAGES


@pytest.fixture(scope="module")
def read(source, seed, shown, view):
    """Every section the module's grid reaches, read ahead once."""
    request = request_for(seed, shown, view, limit=10_000)
    items = read_ahead.reachable(source, request)
    _steps, loaded = run(read_ahead.read_ahead(source, request))
    assert len(loaded) == len(items) > 0
    return loaded


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=st.integers(min_value=0, max_value=read_ahead.GRID[0] * read_ahead.GRID[1] - 1))
def test_after_reading_ahead_a_click_at_a_grid_point_reads_no_tile(source, seed, shown, view,
                                                                   read, k):
    """The property the dock relies on: a click at any point of the grid (the dock's),
    drawn in the panels' view, finds the images of every target's new section read (in
    whole, wherever the click places a target cut in another plane)."""
    xs, ys = read_ahead.grid_points(seed)
    caches = [cached_tiles(workflow.tiles_for(source, key)) for key in shown]
    before = [c.misses for c in caches]
    request = workflow.SyncRequest(3, seed.id, float(xs[k]), float(ys[k]), TARGETS, ATLAS,
                                   dict(shown), view=view)
    _steps, outcome = run(workflow.synchronize_click(source, request))
    moved = [h.key for h in outcome.hits[1:] if h.section_image_id != shown[h.key]]
    assert [c.misses for c in caches] == before, (k, moved)
