"""Structure and reference-point navigation of the sync dock widget, and its
sync-quality warnings, on the embedded demo atlas.

Every expected marker comes from a fresh Synchronizer on the demo catalog.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_allen_sync._napari.seed_click import ClickToSync
from napari_allen_sync._napari.widget import AllenSyncWidget
from napari_allen_sync.session import workflow as workers
from widget_fixtures import assert_marker_on, demo_scene_ready

pytestmark = pytest.mark.gui
WAIT = 60_000  # ms: a bound on waiting, not a speed requirement

demo = pytest.importorskip("napari_allen_sync.demo")


@pytest.fixture
def scene(qtbot, make_napari_viewer):
    viewer = make_napari_viewer(show=False)
    widget = AllenSyncWidget(viewer)  # the demo atlas and its scene
    viewer.window.add_dock_widget(widget, area="right")
    qtbot.waitUntil(lambda: demo_scene_ready(widget), timeout=WAIT)
    # a first click, so that every target has its layers
    _, x, y = demo.demo_click()
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        widget.synchronize(x, y)
    qtbot.waitUntil(lambda: not widget._res.workers, timeout=WAIT)
    yield viewer, widget
    widget.close()


def engine():
    from napari_allen_sync.synchronizer import Synchronizer

    return Synchronizer(demo.demo_catalog())


def seed_ds(widget):
    return widget.seed_data_set.id


def check_marker(widget, key, image_id, x, y):
    marker = widget.layers.markers[key]
    if key in widget.layers.images:
        assert_marker_on(widget.layers, key, y, x)
    else:
        np.testing.assert_allclose(marker.data, [[y, x]], atol=1e-6)
    assert int(marker.features["section_image_id"].iloc[0]) == int(image_id)
    assert widget.layers.shown.get(key, widget.seed_image.id if key == "seed" else None) == \
        int(image_id)


def check_reference(widget, space, x, y, z):
    """Every marker where reference_to_image puts (x, y, z) µm of ``space``."""
    sync = engine()
    ids = [seed_ds(widget), *widget.target_ids]
    batches = sync.reference_to_image_batch(space, [x], [y], [z], ids)
    for key, b in zip(["seed", *[f"ds:{d}" for d in widget.target_ids]], batches, strict=True):
        check_marker(widget, key, b.section_image_id[0], b.x[0], b.y[0])
    assert widget.seed_image.id == int(batches[0].section_image_id[0])
    return batches


def navigate(qtbot, widget, go):
    with qtbot.waitSignal(widget.navigated, timeout=WAIT) as blocker:
        go()
    qtbot.waitUntil(lambda: not widget._res.workers, timeout=WAIT)
    return blocker.args[0]


# ---------------------------------------------------------------------- structures
def test_search_filters_the_tree(scene):
    _viewer, widget = scene
    view = widget.structure_view
    catalog = widget.source.catalog
    assert set(view.items) == set(catalog.structures)
    root = view.tree.topLevelItem(0)
    assert view.tree.topLevelItemCount() == 1 and root.childCount() > 0
    # a child sits under its parent
    for sid, item in view.items.items():
        parent = catalog.structures[sid].parent_structure_id
        if parent in view.items:
            assert item.parent() is view.items[parent]
    view.search.setText("hippo")  # a name, any case
    shown = set(view.visible_ids())
    hpf = catalog.structure_by_acronym("HPF").id
    assert hpf in shown
    matching = {s.id for s in catalog.structures.values()
                if "hippo" in s.name.casefold() or "hippo" in s.acronym.casefold()}
    ancestors = {a.id for m in matching for a in catalog.ancestors(m)}
    assert shown == ancestors
    view.search.setText("th")  # an acronym, lower case
    assert catalog.structure_by_acronym("TH").id in view.visible_ids()
    assert catalog.structure_by_acronym("CB").id not in view.visible_ids()
    view.search.setText("")
    assert set(view.visible_ids()) == set(catalog.structures)


def test_typing_a_search_and_enter_goes_to_the_first_match(qtbot, scene):
    from qtpy.QtCore import Qt

    _viewer, widget = scene
    catalog = widget.source.catalog
    view = widget.structure_view
    view.search.clear()
    view.search.setFocus()
    qtbot.keyClicks(view.search, "cb")  # typed, lower case
    first = view.tree.currentItem()
    assert first is not None and not first.isHidden()
    assert "cb" in first.text(0).casefold()
    # the first match in the tree's order, not an ancestor shown for its child
    order = [sid for sid in view.items if "cb" in view.items[sid].text(0).casefold()]
    chosen = int(first.data(0, Qt.ItemDataRole.UserRole))
    assert chosen in order
    nav = navigate(qtbot, widget, lambda: qtbot.keyClick(view.search, Qt.Key.Key_Return))
    assert nav.request.structure_id == chosen
    want = engine().structure_to_image_batch(seed_ds(widget), [chosen])
    check_marker(widget, "seed", want.section_image_id[0], want.x[0], want.y[0])
    assert catalog.structures[chosen].acronym.casefold().startswith("cb") or (
        "cb" in catalog.structures[chosen].name.casefold())


def test_a_search_matching_nothing_says_so_and_enter_goes_nowhere(qtbot, scene):
    """Typing a structure the source's ontology lacks (the demo's has no CA1): the
    partial text matched a structure first ("C", "CA"), and Enter went to that hidden
    structure (seen on the tour: "CA1" + Enter went to the cortical plate)."""
    from qtpy.QtCore import Qt

    _viewer, widget = scene
    catalog = widget.source.catalog
    view = widget.structure_view
    assert not any("ca1" in f"{s.acronym} {s.name}".casefold()
                   for s in catalog.structures.values())
    view.search.clear()
    view.search.setFocus()
    qtbot.keyClicks(view.search, "C")
    assert view.tree.currentItem() is not None  # "C" matches: the first match is current
    assert view.no_match.isHidden()
    qtbot.keyClicks(view.search, "A1")
    assert view.tree.currentItem() is None
    assert not view.no_match.isHidden() and "CA1" in view.no_match.text()
    assert not view.go_button.isEnabled()
    assert view.visible_ids() == []
    requested = []
    view.structure_requested.connect(requested.append)
    n = len(widget.messages)
    qtbot.keyClick(view.search, Qt.Key.Key_Return)
    qtbot.mouseClick(view.go_button, Qt.MouseButton.LeftButton)
    assert requested == [] and len(widget.messages) == n and not widget._res.workers
    # deleting the "1": matches again, the message goes, Go is back
    qtbot.keyClick(view.search, Qt.Key.Key_Backspace)
    assert view.tree.currentItem() is not None and view.no_match.isHidden()
    assert view.go_button.isEnabled()


@pytest.mark.parametrize("acronym", ["HPF", "CB"])
def test_structure_navigation_matches_engine(qtbot, scene, acronym):
    viewer, widget = scene
    catalog = widget.source.catalog
    structure = catalog.structure_by_acronym(acronym)
    n_layers = len(viewer.layers)
    view = widget.structure_view
    view.search.setText(acronym)
    view.tree.setCurrentItem(view.items[structure.id])
    nav = navigate(qtbot, widget, view.go_button.click)
    sync = engine()
    want = {}
    for key, ds in [("seed", seed_ds(widget))] + [(f"ds:{d}", d) for d in widget.target_ids]:
        b = sync.structure_to_image_batch(ds, [structure.id])
        want[key] = b
        check_marker(widget, key, b.section_image_id[0], b.x[0], b.y[0])
        hit = nav.outcome.hit(key)
        assert hit.distance == pytest.approx(float(b.distance[0]))
        assert hit.clamped == bool(b.clamped[0])
    assert widget.seed_image.id == int(want["seed"].section_image_id[0])
    if int(want["seed"].section_image_id[0]) != demo.demo_click()[0]:
        assert nav.loaded is not None and nav.loaded.image.id == widget.seed_image.id
        assert widget.seed_view._image_ids[widget.seed_view.slider.value()] == widget.seed_image.id
    # the atlas: image_to_atlas from the seed's answer
    b = sync.image_to_atlas_batch(widget.seed_image.id, want["seed"].x, want["seed"].y,
                                  widget.atlas_id)
    check_marker(widget, f"atlas:{widget.atlas_id}", b.section_image_id[0], b.x[0], b.y[0])
    # the layer-update path: one image and one marker per target, no pile-up
    # and the hidden dims anchor (dims_anchor.py)
    assert len(viewer.layers) == n_layers == 2 * (2 + len(widget.target_ids)) + 1
    # the results table has distance and clamped columns
    from napari_allen_sync._napari.views import RESULT_COLUMNS

    assert "distance µm" in RESULT_COLUMNS and "clamped" in RESULT_COLUMNS
    assert widget.readout_view.table.rowCount() == len(nav.outcome.hits)


def test_structure_double_click_and_missing_centre(qtbot, scene):
    _viewer, widget = scene
    catalog = widget.source.catalog
    view = widget.structure_view
    target = catalog.structure_by_acronym("TH")
    nav = navigate(qtbot, widget, lambda: view.tree.itemDoubleClicked.emit(
        view.items[target.id], 0))
    assert nav.request.structure_id == target.id
    # the same structure again: no section changes, so no image is swapped
    images = {k: layer for k, layer in widget.layers.images.items()}
    seed_layer = widget.layers.seed_layer
    again = navigate(qtbot, widget, lambda: widget.go_to_structure(target.id))
    assert again.loaded is None
    assert all(h.levels is None for h in again.outcome.hits[1:])
    assert widget.layers.seed_layer is seed_layer
    assert all(widget.layers.images[k] is layer for k, layer in images.items())
    # a structure without a StructureCenter: a warning naming it, nothing else
    gone = catalog.structure_by_acronym("MB")
    for space in (9, 10):
        catalog.structure_centers.pop((gone.id, space), None)
    before = {k: m.data.copy() for k, m in widget.layers.markers.items()}
    n = len(widget.messages)
    widget.go_to_structure(gone.id)
    assert len(widget.messages) == n + 1
    assert "MB" in widget.messages[-1] and "StructureCenter" in widget.messages[-1]
    assert not widget._res.workers
    for k, m in widget.layers.markers.items():
        np.testing.assert_array_equal(m.data, before[k])


# ---------------------------------------------------------------------- coordinates
def test_coordinate_navigation_um_voxels_and_space_10(qtbot, scene):
    _viewer, widget = scene
    sync = engine()
    # a point inside the brain: the centroid of the hippocampal formation (space 9)
    c = demo.demo_catalog().structure_center(demo.demo_catalog().structure_by_acronym("HPF").id, 9)
    view = widget.coordinate_view
    view.set_point([c.x, c.y, c.z], "µm", 9)
    navigate(qtbot, widget, view.go_button.click)
    check_reference(widget, 9, c.x, c.y, c.z)

    # 25 µm voxels: voxel (i, j, k) is (25 i, 25 j, 25 k) µm
    voxel = (300, 160, 200)
    view.set_point(list(voxel), "25 µm voxels", 9)
    navigate(qtbot, widget, view.go_button.click)
    check_reference(widget, 9, *(25.0 * v for v in voxel))

    # space 10: the same point, mirrored
    p10 = sync.reference_transform(9, 10) @ np.array([c.x, c.y, c.z, 1.0])
    nav = navigate(qtbot, widget, lambda: widget.go_to_point(*p10, units="µm", space=10))
    batches = check_reference(widget, 10, *p10)
    b9 = sync.reference_to_image_batch(9, [c.x], [c.y], [c.z], [seed_ds(widget)])[0]
    assert int(batches[0].section_image_id[0]) == int(b9.section_image_id[0])
    assert nav.outcome.reference_space_id == 9
    np.testing.assert_allclose(nav.outcome.pir, (c.x, c.y, c.z), atol=1e-6)


@pytest.mark.parametrize("values,field", [
    (["abc", "1", "2"], "x"),
    (["1", "nan", "2"], "y"),
    (["1", "2", ""], "z"),
    (["1", "2", "inf"], "z"),
    (["99999", "1", "2"], "x"),  # outside the CCF extent (13200 × 8000 × 11400 µm)
    (["1", "-5", "2"], "y"),
    (["1", "2", "11401"], "z"),
])
def test_invalid_coordinates_notify_and_change_nothing(qtbot, scene, values, field):
    viewer, widget = scene
    before = {k: m.data.copy() for k, m in widget.layers.markers.items()}
    seed = widget.seed_image.id
    n_layers = len(viewer.layers)
    n = len(widget.messages)
    # the form's spin boxes cannot hold these: the scripting API checks them too
    with qtbot.waitSignal(widget.failed, timeout=WAIT) as blocker:
        widget.go_to_point(*values)
    assert blocker.args[0].startswith(f"coordinate {field}")
    assert len(widget.messages) == n + 1
    assert not widget._res.workers
    assert widget.seed_image.id == seed and len(viewer.layers) == n_layers
    for k, m in widget.layers.markers.items():
        np.testing.assert_array_equal(m.data, before[k])


def test_the_point_form_is_bounded_by_the_ccf_extent(qtbot, scene):
    from qtpy.QtCore import Qt

    _viewer, widget = scene
    view = widget.coordinate_view
    x = view.fields["x"]
    x.native.selectAll()
    qtbot.keyClicks(x.native, "99999")
    qtbot.keyClick(x.native, Qt.Key.Key_Enter)
    assert x.value <= 13200.0  # typing past the extent is refused
    view.set_point([99999, 100, 100])
    assert x.value == 13200.0
    view.units_box.value = "25 µm voxels"  # bounds follow the units; the point stays
    assert x.max == 13200.0 / 25 and x.value == pytest.approx(13200.0 / 25)
    assert view.fields["y"].value == pytest.approx(100.0 / 25)


# ---------------------------------------------------------------------- quality
def test_far_section_warning(qtbot, scene):
    _viewer, widget = scene
    # the normal click of the fixture: no far-section warning, no flagged row
    assert not any("section spacing" in m for m in widget.messages)
    assert widget.readout_view.flagged_rows() == []
    assert "far" in widget.layers.markers["seed"].features.columns
    # a point at the CCF's front edge, beyond the sections of the coronal stacks
    n = len(widget.messages)
    nav = navigate(qtbot, widget, lambda: widget.go_to_point(0, 4000, 5000))
    far = [h for h in nav.outcome.hits[1:] if h.far]
    assert far
    sync = engine()
    for h in far:
        spacing = workers.section_spacing(sync, h.section_data_set_id,
                                          "atlas" if h.kind == "atlas" else "images")
        assert h.spacing == pytest.approx(spacing)
        assert abs(h.distance) > spacing
        assert h.clamped
        assert bool(widget.layers.markers[h.key].features["far"].iloc[0])
    warned = widget.messages[n:]
    for h in far:
        assert any(str(h.section_data_set_id) in m and f"{abs(h.distance):.0f} µm" in m
                   and "no section near this point" in m for m in warned)
    assert sorted(widget.readout_view.flagged_rows()) == sorted(h.key for h in far)
    # the panel's own message is read whole, in a small panel too (wrapped, not cut)
    layout = widget.layers.layout
    for size, width in ((6, 100.0), (7, 120.0)):
        layout.side = layout.side._replace(size=size, width_px=width)
        for h in far:
            rows = layout.label(h).split("\n")
            assert " ".join(rows[2:]) == (f"no section near this point "
                                          f"(nearest {abs(h.distance) / 1000:.1f} mm)"), rows


def test_spacing_is_median_step_times_thickness():
    catalog = demo.demo_catalog()
    sync = engine()
    for ds_id in demo.DEMO_TARGET_DATA_SET_IDS:
        numbers = sync.stack(ds_id).section_numbers
        thickness = catalog.section_data_set(ds_id).section_thickness
        want = float(np.median(np.diff(numbers))) * thickness
        assert workers.section_spacing(sync, ds_id) == pytest.approx(want)


# ---------------------------------------------------------------------- closing
def test_close_after_navigation_leaves_no_callbacks(qtbot, make_napari_viewer):
    viewer = make_napari_viewer(show=False)
    widget = AllenSyncWidget(viewer)
    viewer.window.add_dock_widget(widget, area="right")
    qtbot.waitUntil(lambda: demo_scene_ready(widget), timeout=WAIT)
    structure = widget.source.catalog.structure_by_acronym("HPF")
    navigate(qtbot, widget, lambda: widget.go_to_structure(structure.id))
    widget.close()
    assert widget._res.released
    assert widget.running_workers() == []
    assert not [cb for cb in viewer.mouse_drag_callbacks
                if isinstance(getattr(cb, "__self__", None), ClickToSync)]
    # a navigation asked after closing does nothing
    widget.go_to_point(1, 2, 3)
    assert not widget._res.workers
