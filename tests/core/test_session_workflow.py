"""The session's workflow (click → outcome, navigation, placement, batch) on the demo
atlas, without a display: the answers are checked against the engine itself."""

from __future__ import annotations

import numpy as np
import pytest

from napari_allen_sync.session import Session, workflow
from napari_allen_sync.session import points as batch_points

demo = pytest.importorskip("napari_allen_sync.demo")


def run(gen):
    """Drive a workflow generator to its end; returns (steps, result)."""
    steps = []
    try:
        while True:
            steps.append(next(gen))
    except StopIteration as stop:
        return steps, stop.value


@pytest.fixture(scope="module")
def source():
    return demo.DemoSource()


@pytest.fixture(scope="module")
def seed(source):
    return source.catalog.section_image(demo.demo_click()[0])


TARGETS = tuple(demo.DEMO_TARGET_DATA_SET_IDS)


def test_open_source_offers_data_sets_and_atlases(source):
    _steps, info = run(workflow.open_source(source))
    assert info.source is source and info.status == "offline (demo)"
    offered = [ds_id for ds_id, _text in info.data_sets]
    assert set(TARGETS) <= set(offered)
    assert demo.DEMO_ATLAS_ID in [a for a, _ in info.atlases]


def test_a_click_answers_every_target_as_the_engine_does(source, seed):
    _img_id, x, y = demo.demo_click()
    request = workflow.SyncRequest(1, seed.id, float(x), float(y), TARGETS, demo.DEMO_ATLAS_ID)
    steps, outcome = run(workflow.synchronize_click(source, request))
    assert len(steps) == workflow.steps(request)
    assert [h.key for h in outcome.hits] == (
        ["seed", *(f"ds:{d}" for d in TARGETS), f"atlas:{demo.DEMO_ATLAS_ID}"])
    sync = source.synchronizer
    for h in outcome.hits[1:-1]:
        (b,) = sync.image_to_image_batch(seed.id, [x], [y], [h.section_data_set_id])
        assert h.section_image_id == int(b.section_image_id[0])
        assert h.x == pytest.approx(float(b.x[0])) and h.y == pytest.approx(float(b.y[0]))
    ref = sync.image_to_reference_batch(seed.id, [x], [y])
    np.testing.assert_allclose(outcome.reference, (ref.x[0], ref.y[0], ref.z[0]))
    assert outcome.structure is not None and outcome.problems == []


def test_placement_puts_every_registered_marker_under_the_click(source, seed):
    _img_id, x, y = demo.demo_click()
    request = workflow.SyncRequest(1, seed.id, float(x), float(y), TARGETS, demo.DEMO_ATLAS_ID)
    _steps, outcome = run(workflow.synchronize_click(source, request))
    for h in outcome.hits[1:]:
        world = h.world_from_data @ np.array([h.y, h.x, 1.0])
        np.testing.assert_allclose(world[:2], (y, x), atol=1e-6)


def test_navigation_to_a_structure_opens_the_section_that_holds_it(source, seed):
    catalog = source.catalog
    hpf = catalog.structure_by_acronym("HPF")
    request = workflow.NavigateRequest(2, seed.data_set_id, seed.id, TARGETS,
                                       demo.DEMO_ATLAS_ID, structure_id=hpf.id)
    _steps, nav = run(workflow.navigate(source, request))
    (b,) = [source.synchronizer.structure_to_image_batch(seed.data_set_id, [hpf.id])]
    assert nav.outcome.hits[0].section_image_id == int(b.section_image_id[0])
    assert "HPF" in nav.what
    if nav.loaded is not None:
        assert nav.loaded.image.id == int(b.section_image_id[0])


def test_a_far_point_is_flagged_far_and_clamped(source, seed):
    request = workflow.NavigateRequest(3, seed.data_set_id, seed.id, TARGETS,
                                       demo.DEMO_ATLAS_ID, point=(9, 0.0, 4000.0, 5000.0))
    _steps, nav = run(workflow.navigate(source, request))
    far = [h for h in nav.outcome.hits[1:] if h.far]
    assert far
    for h in far:
        assert abs(h.distance) > h.spacing and h.clamped


def test_a_batch_of_one_equals_the_click(source, seed):
    _img_id, x, y = demo.demo_click()
    request = batch_points.PointsBatchRequest(1, seed.id, np.array([float(y)]),
                                              np.array([float(x)]), TARGETS,
                                              demo.DEMO_ATLAS_ID, "one")
    _steps, batch = run(batch_points.sync_points(source, request))
    click = workflow.SyncRequest(1, seed.id, float(x), float(y), TARGETS, demo.DEMO_ATLAS_ID)
    _steps, outcome = run(workflow.synchronize_click(source, click))
    for target in batch.targets:
        hit = outcome.hit(target.key)
        assert int(target.section_image_id[0]) == hit.section_image_id
        assert float(target.x[0]) == pytest.approx(hit.x)


def test_the_session_records_an_outcome_and_the_history(source, seed, tmp_path):
    s = Session(source=source, source_key="demo")
    s.set_seed(seed, source.catalog.section_data_set(seed.data_set_id))
    _img_id, x, y = demo.demo_click()
    g = s.next_generation()
    _steps, outcome = run(workflow.synchronize_click(
        source, workflow.SyncRequest(g, seed.id, float(x), float(y))))
    assert s.is_current(outcome.request.generation)
    s.synchronized(outcome)
    s.history.add(outcome)
    assert s.last_point == (float(x), float(y)) and s.last_outcome is outcome
    path = s.history.export(tmp_path / "h.csv")
    assert path.read_text().count("\n") == 2  # the header and the seed's row
    assert not list(tmp_path.glob(".*"))  # no partial file left by the atomic write
