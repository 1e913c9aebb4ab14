"""The session's workflow (click → outcome, navigation, placement, batch) on the demo
atlas, without a display: the answers are checked against the engine itself."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_allen_sync.session import Session, workflow
from napari_allen_sync.session import points as batch_points
from workflow_run import run

demo = pytest.importorskip("napari_allen_sync.demo")


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


# ---------------------------------------------------------------------- issue 10
def _genes(source):
    """(data set id, gene acronym) of every demo data set that has a gene."""
    from napari_allen_sync.search import data_set_facets

    out = []
    for ds_id in source.data_set_ids():
        genes = data_set_facets(source.catalog.section_data_set(ds_id))["genes"]
        if genes and genes[0].get("acronym"):
            out.append((ds_id, genes[0]["acronym"]))
    return out


def test_find_experiments_finds_each_demo_gene_in_any_case(source):
    genes = _genes(source)
    assert genes, "the demo has in-situ data sets"
    for ds_id, acronym in genes:
        for text in (acronym.lower(), acronym.upper(), f"{acronym}, coronal"):
            steps, result = run(workflow.find_experiments(source, text))
            assert steps and "finding" in steps[0]
            want_plane = "coronal" if "coronal" in text else None
            ds = source.catalog.section_data_set(ds_id)
            if want_plane is None or ds.plane == want_plane:
                assert ds_id in result.ids
            else:
                assert ds_id not in result.ids
            for hit in result.hits:
                assert hit.gene_acronym.lower() == acronym.lower()
                assert hit.section_count == len(workflow._sections(source.catalog, hit.id))


def test_find_experiments_explicit_plane_and_product_win_over_words(source):
    ds_id, acronym = _genes(source)[0]
    plane = source.catalog.section_data_set(ds_id).plane
    other = "sagittal" if plane == "coronal" else "coronal"
    _, hit = run(workflow.find_experiments(source, f"{acronym} {other}", plane=plane))
    assert ds_id in hit.ids
    _, miss = run(workflow.find_experiments(source, acronym, product="connectivity"))
    assert ds_id not in miss.ids


def test_find_experiments_unknown_gene_is_empty_with_a_message(source):
    _, result = run(workflow.find_experiments(source, "Nosuchgene1"))
    assert len(result) == 0 and result.message and "Nosuchgene1".lower() in result.message.lower()


@pytest.mark.parametrize("text", ["coronal", "sagittal ish", "ish"])
def test_find_experiments_with_filter_words_only_lists_their_data_sets(source, text):
    from napari_allen_sync.search import ExperimentSearch, find_arguments

    args = find_arguments(text)
    assert "gene" not in args
    _, result = run(workflow.find_experiments(source, text))
    want = ExperimentSearch.for_source(source).find(**args)
    assert result.ids == want.ids and len(result) > 0
    for hit in result.hits:
        if "plane" in args:
            assert hit.plane == args["plane"]


@pytest.mark.parametrize("text", ["", "  "])
def test_find_experiments_with_nothing_to_search_for_says_what_to_type(source, text):
    from napari_allen_sync.errors import InvalidIdListError

    with pytest.raises(InvalidIdListError, match="nothing to search for"):
        run(workflow.find_experiments(source, text))


def _pixels(tiles, image, tier=4):
    from napari_allen_sync.images import tier_shape

    h, w = tier_shape(image, tier)
    return np.asarray(tiles.read_region(image, tier, 0, 0, w, h))


def test_atlas_tiles_follow_the_atlas_view(source, seed):
    from napari_allen_sync.images import tile_view

    request = workflow.SyncRequest(0, seed.id, *demo.demo_click()[1:], (),
                                   demo.DEMO_ATLAS_ID, atlas_view="nissl")
    _, nissl = run(workflow.synchronize_click(source, request))
    _, annotated = run(workflow.synchronize_click(
        source, workflow.SyncRequest(0, seed.id, *demo.demo_click()[1:], (),
                                     demo.DEMO_ATLAS_ID)))
    a_n, a_a = nissl.hits[-1], annotated.hits[-1]
    assert a_n.key == a_a.key == f"atlas:{demo.DEMO_ATLAS_ID}"
    assert a_n.section_image_id == a_a.section_image_id
    plate = a_n.image
    low_n = np.asarray(a_n.levels[-1])
    low_a = np.asarray(a_a.levels[-1])
    np.testing.assert_array_equal(low_n, _pixels(tile_view(source.tiles, "image"), plate,
                                                 len(a_n.levels) - 1))
    np.testing.assert_array_equal(low_a, _pixels(source.tiles, plate, len(a_a.levels) - 1))
    assert np.abs(low_n.astype(int) - low_a.astype(int)).mean() > 1  # colours differ
    # any other key is drawn as stained whatever the atlas view
    assert workflow.tiles_for(source, "ds:1", "nissl") is source.tiles
    assert workflow.tiles_for(source, "atlas:1", "annotation") is source.tiles


def test_load_images_draws_the_atlas_in_its_view(source, seed):
    from napari_allen_sync.images import tile_view

    plate = source.catalog.images_of(source.catalog.atlas_data_set(demo.DEMO_ATLAS_ID).id)[60]
    _, [(_key, image, levels)] = run(workflow.load_images(
        source, [(f"atlas:{demo.DEMO_ATLAS_ID}", plate, np.eye(3))], None, "nissl"))
    assert image is plate
    np.testing.assert_array_equal(np.asarray(levels[-1]), _pixels(
        tile_view(source.tiles, "image"), plate, len(levels) - 1))


def test_find_experiments_by_injection_structure(source):
    """Connectivity experiments by the structure injected (``injection:ACRONYM``): the
    demo's connectivity set is found by its injection structure and by every ancestor
    of it, and not by a structure elsewhere."""
    from napari_allen_sync.search import data_set_facets

    catalog = source.catalog
    found_any = False
    for ds_id in source.data_set_ids():
        sid = data_set_facets(catalog.section_data_set(ds_id)).get("injection_structure_id")
        if not sid:
            continue
        found_any = True
        structure = catalog.structure(int(sid))
        for ancestor in structure.structure_id_path:
            acronym = catalog.structure(int(ancestor)).acronym
            _, result = run(workflow.find_experiments(source, f"injection:{acronym}"))
            assert ds_id in result.ids, acronym
            assert all(h.injection_structures for h in result.hits)
        path = set(structure.structure_id_path)
        elsewhere = next(s for s in catalog.structures.values()
                         if s.id not in path and sid not in s.structure_id_path)
        _, result = run(workflow.find_experiments(source, f"injection:{elsewhere.acronym}"))
        assert ds_id not in result.ids
    assert found_any


# ------------------------------------------------ answer_targets: one engine call
def _one_at_a_time(source, target_ids, to_data_sets, wrap):
    """What answer_targets answered before it batched: each target alone, in order."""
    from napari_allen_sync.errors import AllenSyncError

    out, problems = [], []
    for ds_id in target_ids:
        try:
            source.ensure_data_set(int(ds_id))
            out.append(wrap(f"ds:{ds_id}", "data set", int(ds_id),
                            to_data_sets([int(ds_id)])[0]))
        except AllenSyncError as exc:
            problems.append(f"target SectionDataSet {ds_id}: {exc}")
    return out, problems


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(targets=st.lists(st.sampled_from([*TARGETS, 999_999]), max_size=8),
       broken=st.sampled_from([None, *TARGETS]))
def test_targets_are_answered_by_one_engine_call_as_one_at_a_time(source, seed, targets,
                                                                 broken):
    """Every target the source has is answered by one ``image_to_image_batch`` call
    (each with the answer it gets alone); an unknown id fails at ``ensure_data_set``, a
    ``broken`` one in the engine (the batch call then falls back to one target at a
    time); the answers and the problems, in target order, are those of one at a time."""
    from napari_allen_sync.errors import NoUsableImagesError

    _img_id, x, y = demo.demo_click()
    calls = []

    def to_data_sets(ids):
        calls.append(list(ids))
        if broken in ids:
            raise NoUsableImagesError(f"SectionDataSet {broken} is broken for this test")
        return source.synchronizer.image_to_image_batch(seed.id, [x], [y], ids)

    def wrap(key, kind, ds_id, batch):
        return (key, kind, ds_id, int(batch.section_image_id[0]), float(batch.x[0]),
                float(batch.y[0]), float(batch.distance[0]))

    problems = []
    steps, got = run(workflow.answer_targets(source, targets, None, to_data_sets,
                                             None, wrap, problems))
    assert len(steps) == len(targets)
    known = [int(t) for t in targets if t != 999_999]
    assert calls[:1] == ([known] if known else [])
    if broken not in known:
        assert len(calls) == (1 if known else 0)
    calls.clear()
    want, want_problems = _one_at_a_time(source, targets, to_data_sets, wrap)
    assert got == want and problems == want_problems
