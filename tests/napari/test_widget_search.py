"""Finding experiments in the dock, with real Qt events, on the demo source and on
``napari-allen-sync serve --demo`` over real HTTP: the list is the core search's answer,
its hits become the seed or targets, and bad input says what to type."""

from __future__ import annotations

import pytest
from qtpy.QtCore import Qt

from _http_fixtures import server_process
from dock_scene import WAIT, demo_scene, open_dock, remote_source
from widget_fixtures import wait_idle

pytestmark = pytest.mark.gui

demo = pytest.importorskip("napari_allen_sync.demo")

from napari_allen_sync.search import ExperimentSearch, data_set_facets  # noqa: E402


@pytest.fixture(scope="module")
def demo_server_process():
    with server_process() as base:
        yield base


@pytest.fixture(params=["demo", "served"])
def source(request, tmp_path):
    if request.param == "demo":
        return demo.DemoSource()
    return remote_source(request.getfixturevalue("demo_server_process"), tmp_path)


def demo_genes():
    """(data set id, gene acronym, plane) of the demo's in-situ data sets."""
    catalog = demo.demo_catalog()
    out = []
    for ds_id in sorted(catalog.section_data_sets):
        ds = catalog.section_data_set(ds_id)
        genes = data_set_facets(ds)["genes"]
        if genes:
            out.append((ds_id, genes[0]["acronym"], ds.plane))
    return out


def type_and_find(qtbot, widget, text):
    view = widget.search_view
    view.text.clear()
    qtbot.keyClicks(view.text, text)
    with qtbot.waitSignal(widget.experiments_found, timeout=WAIT) as blocker:
        qtbot.mouseClick(view.find_button, Qt.MouseButton.LeftButton)
        # said at once, before the worker answers: Find is off, Cancel on
        assert not view.find_button.isEnabled() and view.cancel_button.isEnabled()
        assert "finding" in view.status.text()
    qtbot.waitUntil(lambda: view.find_button.isEnabled(), timeout=WAIT)
    return blocker.args[0]


def listed_ids(view) -> list[int]:
    return [int(view.results.item(r, 0).text()) for r in range(view.results.rowCount())]


def pick(qtbot, view, ds_id):
    row = listed_ids(view).index(ds_id)
    rect = view.results.visualItemRect(view.results.item(row, 0))
    qtbot.mouseClick(view.results.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert view.chosen_id() == ds_id


def test_find_by_gene_lists_what_the_core_finds(qtbot, make_napari_viewer, source):
    widget = open_dock(qtbot, make_napari_viewer(show=True), source)
    view = widget.search_view
    core = ExperimentSearch.for_source(demo.DemoSource())
    genes = demo_genes()
    assert genes
    for ds_id, acronym, plane in genes:
        for text in (acronym.lower(), acronym.upper() + " " + plane):
            result = type_and_find(qtbot, widget, text)
            want = core.find(acronym, plane=plane if " " in text else None)
            assert listed_ids(view) == want.ids and ds_id in want.ids
            assert result.ids == want.ids
            for r, hit in enumerate(want.hits):
                cells = [view.results.item(r, c).text() for c in range(5)]
                assert cells[0] == str(hit.id) and cells[1].startswith(hit.gene_acronym)
                assert cells[2] == hit.plane and cells[4] == str(hit.section_count)
                assert hit.products[0] in cells[3]
            assert str(len(want.hits)) in view.status.text()
    # the product choice narrows the search
    ds_id, acronym, _plane = genes[0]
    view.product.setCurrentIndex(view.product.findData("connectivity"))
    type_and_find(qtbot, widget, acronym)
    assert ds_id not in listed_ids(view)
    assert widget.session.search == acronym


def test_hits_become_the_seed_or_targets(qtbot, make_napari_viewer, source):
    viewer = make_napari_viewer(show=True)
    widget = demo_scene(qtbot, viewer, source, targets=(), atlas=False, click=False)
    view = widget.search_view
    seed_ds = widget.seed_data_set.id
    genes = demo_genes()
    other = next((d, a) for d, a, _p in genes if d != seed_ds)
    type_and_find(qtbot, widget, other[1])
    assert not view.target_button.isEnabled()  # nothing chosen yet
    pick(qtbot, view, other[0])
    qtbot.mouseClick(view.target_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: widget.target_ids == [other[0]], timeout=WAIT)
    wait_idle(qtbot, widget)
    # the seed's own data set is refused as a target, with a message
    own = next((a for d, a, _p in genes if d == seed_ds), None)
    if own is not None:
        type_and_find(qtbot, widget, own)
        pick(qtbot, view, seed_ds)
        with qtbot.waitSignal(widget.failed, timeout=WAIT) as blocker:
            qtbot.mouseClick(view.target_button, Qt.MouseButton.LeftButton)
        assert "seed's own data set" in blocker.args[0]
        assert widget.target_ids == [other[0]]
    # Make seed opens the chosen data set as the seed
    type_and_find(qtbot, widget, other[1])
    pick(qtbot, view, other[0])
    with qtbot.waitSignal(widget.seed_loaded, timeout=WAIT):
        qtbot.mouseClick(view.seed_button, Qt.MouseButton.LeftButton)
    assert widget.seed_data_set.id == other[0]
    wait_idle(qtbot, widget)


def test_unknown_gene_is_an_empty_list_with_a_message(qtbot, make_napari_viewer, source):
    widget = open_dock(qtbot, make_napari_viewer(show=True), source)
    failed = []
    widget.failed.connect(failed.append)
    result = type_and_find(qtbot, widget, "Nosuchgene7")
    assert result is not None and len(result) == 0
    assert widget.search_view.results.rowCount() == 0
    assert "nosuchgene7" in widget.search_view.status.text().lower()
    assert failed == []  # not an error


def test_filter_words_only_list_their_data_sets(qtbot, make_napari_viewer, source):
    widget = open_dock(qtbot, make_napari_viewer(show=True), source)
    core = ExperimentSearch.for_source(demo.DemoSource())
    result = type_and_find(qtbot, widget, "coronal")
    want = core.find(plane="coronal")
    assert len(want.ids) > 0 and result.ids == want.ids
    assert listed_ids(widget.search_view) == want.ids


def test_nothing_to_search_for_says_what_to_type(qtbot, make_napari_viewer):
    widget = open_dock(qtbot, make_napari_viewer(show=True), demo.DemoSource())
    view = widget.search_view
    view.text.clear()
    with qtbot.waitSignal(widget.failed, timeout=WAIT) as blocker:
        qtbot.mouseClick(view.find_button, Qt.MouseButton.LeftButton)
    assert "nothing to search for" in blocker.args[0] and "Traceback" not in blocker.args[0]
    qtbot.waitUntil(lambda: view.find_button.isEnabled(), timeout=WAIT)
    assert view.status.text() == blocker.args[0]
    assert view.results.rowCount() == 0


def test_cancel_drops_the_answer(qtbot, make_napari_viewer):
    widget = open_dock(qtbot, make_napari_viewer(show=True), demo.DemoSource())
    view = widget.search_view
    found = []
    widget.experiments_found.connect(found.append)
    qtbot.keyClicks(view.text, demo_genes()[0][1])
    qtbot.mouseClick(view.find_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    assert view.find_button.isEnabled() and not view.cancel_button.isEnabled()
    assert "cancelled" in view.status.text()
    wait_idle(qtbot, widget)
    assert found == [] and widget.session.search_result is None
    assert view.results.rowCount() == 0


def test_find_connectivity_by_injection_structure(qtbot, make_napari_viewer, source):
    catalog = demo.demo_catalog()
    found = [
        (d, data_set_facets(catalog.section_data_set(d)).get("injection_structure_id"))
        for d in sorted(catalog.section_data_sets)
    ]
    ds_id, sid = next((d, s) for d, s in found if s)
    acronym = catalog.structure(int(sid)).acronym
    widget = open_dock(qtbot, make_napari_viewer(show=True), source)
    view = widget.search_view
    view.product.setCurrentIndex(view.product.findData("connectivity"))
    type_and_find(qtbot, widget, f"injection:{acronym}")
    want = ExperimentSearch.for_source(demo.DemoSource()).find(injection=acronym)
    assert listed_ids(view) == want.ids and ds_id in want.ids
    row = listed_ids(view).index(ds_id)
    assert acronym in view.results.item(row, 1).text()
    assert "Connectivity" in view.results.item(row, 3).text()
