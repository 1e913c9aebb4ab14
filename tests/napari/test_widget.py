"""The sync dock widget, driven like a user: real mouse events on napari's canvas.

Every expected marker comes from the engine (a Synchronizer on the same catalog), never
from a hard-coded number.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from qtpy.QtCore import QEvent, QPointF, Qt
from qtpy.QtGui import QMouseEvent
from qtpy.QtWidgets import QApplication

from napari_allen_sync._napari.layout import canvas_position
from napari_allen_sync._napari.widget import AllenSyncWidget
from napari_allen_sync.session import workflow as workers
from napari_allen_sync.synchronizer import Synchronizer
from widget_fixtures import (
    ATLAS_ID,
    FAILED_DS,
    TARGETS,
    WAIT,
    FakeSource,
    assert_marker_on,
    make_widget,
    simple_pyramid,
    wait_idle,
)

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def _pyramid(monkeypatch):
    """Use images.image_pyramid when it exists, a stand-in otherwise."""
    try:
        from napari_allen_sync.images import image_pyramid  # noqa: F401
    except ImportError:
        monkeypatch.setattr(workers, "image_levels", simple_pyramid)


# ---------------------------------------------------------------------- helpers
def canvas_widget(widget):
    """The vispy canvas: a QOpenGLWidget in the Qt widget tree of the dock's window."""
    from qtpy.QtOpenGLWidgets import QOpenGLWidget

    found = [w for w in widget.window().findChildren(QOpenGLWidget) if w.isVisible()]
    assert found, "no visible OpenGL canvas in the window"
    return max(found, key=lambda w: w.width() * w.height())


def _send(target, kind, pos, button, buttons):
    p = QPointF(*pos)
    event = QMouseEvent(kind, p, target.mapToGlobal(p), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, event)


def click(qtbot, canvas, pos):
    """A left press and release at canvas pixel ``pos`` = (x, y)."""
    left = Qt.MouseButton.LeftButton
    _send(canvas, QEvent.Type.MouseButtonPress, pos, left, left)
    qtbot.wait(20)
    _send(canvas, QEvent.Type.MouseButtonRelease, pos, left, Qt.MouseButton.NoButton)


def drag(qtbot, canvas, start, end, steps=6):
    left = Qt.MouseButton.LeftButton
    _send(canvas, QEvent.Type.MouseButtonPress, start, left, left)
    for t in np.linspace(0, 1, steps)[1:]:
        qtbot.wait(15)
        pos = tuple(np.asarray(start) + t * (np.asarray(end) - np.asarray(start)))
        _send(canvas, QEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton, left)
    _send(canvas, QEvent.Type.MouseButtonRelease, end, left, Qt.MouseButton.NoButton)


def click_data(qtbot, viewer, widget, row, col):
    """Click the seed image at data point (row, col); returns the outcome."""
    pos = canvas_position(viewer, widget.layers.seed_layer, (row, col))
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT) as blocker:
        click(qtbot, canvas_widget(widget), pos)
    return blocker.args[0]


def expected(source, seed_id, x, y, targets, atlas):
    """The engine's answers on a fresh Synchronizer over the same catalog."""
    sync = Synchronizer(source.catalog)
    out = {"seed": (seed_id, x, y)}
    for ds, b in zip(targets, sync.image_to_image_batch(seed_id, [x], [y], list(targets)),
                     strict=True):
        out[f"ds:{ds}"] = (int(b.section_image_id[0]), float(b.x[0]), float(b.y[0]))
    if atlas:
        b = sync.image_to_atlas_batch(seed_id, [x], [y], atlas)
        out[f"atlas:{atlas}"] = (int(b.section_image_id[0]), float(b.x[0]), float(b.y[0]))
    return out


def check_markers(widget, source, outcome):
    req = outcome.request
    want = expected(source, req.section_image_id, req.x, req.y, widget.target_ids, widget.atlas_id)
    assert set(widget.layers.markers) == set(want)
    seed_world = widget.layers.markers["seed"].data_to_world(widget.layers.markers["seed"].data[0])
    for key, (image_id, x, y) in want.items():
        marker = widget.layers.markers[key]
        assert_marker_on(widget.layers, key, y, x)
        f = marker.features.iloc[0]
        assert int(f["section_image_id"]) == image_id
        assert int(f["section_number"]) == source.catalog.section_image(image_id).section_number
        np.testing.assert_allclose([f["x"], f["y"]], [x, y], atol=1e-9)
        # the image layer shows that very section, in sync pixels
        image = widget.layers.images[key]
        assert widget.layers.shown[key] == image_id
        assert tuple(image.level_shapes[0][:2]) == (
            source.catalog.section_image(image_id).height,
            source.catalog.section_image(image_id).width,
        )
        # layout: every marker at the seed marker's world position
        np.testing.assert_allclose(marker.data_to_world(marker.data[0]), seed_world, atol=1e-6)
        # structure under the marker, from the source's annotation
        r = Synchronizer(source.catalog).image_to_reference_batch(image_id, [x], [y])
        (st,) = source.structure_at(r.reference_space_id, r.x, r.y, r.z)
        assert f["structure"] == ("" if st is None else st.acronym)


# ---------------------------------------------------------------------- tests
def test_real_click_synchronizes_every_target_and_atlas(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source)
    # the targets' panels are laid out as soon as they are chosen, their markers empty:
    # the first click only moves markers
    # an image and a marker per panel, and the hidden dims anchor (dims_anchor.py)
    assert len(viewer.layers) == 2 * (1 + len(TARGETS) + 1) + 1
    assert set(widget.layers.images) == set(widget.session.keys())
    assert all(len(m.data) == 0 for m in widget.layers.markers.values())
    assert widget.last_outcome is None and len(widget.history) == 0
    n_layers = len(viewer.layers)

    outcome = click_data(qtbot, viewer, widget, 350.0, 500.0)
    # the click landed where it was aimed, within a canvas pixel
    tol = 1.5 / viewer.scene.camera.zoom
    assert abs(outcome.request.x - 500.0) < tol and abs(outcome.request.y - 350.0) < tol
    check_markers(widget, source, outcome)
    assert viewer.canvas.grid.enabled and viewer.canvas.grid.stride == 2
    assert len(viewer.layers) == n_layers
    # the grid pairs image and marker of each target in one cell, seed first
    positions = {}
    for i, layer in enumerate(viewer.layers):
        key = layer.metadata.get("allen_sync", {}).get("key")
        positions.setdefault(key, set()).add(tuple(viewer.canvas.grid.position(i, viewer.layers)))
    assert all(len(cells) == 1 for cells in positions.values())
    assert len({next(iter(c)) for c in positions.values()}) == len(positions)
    assert widget.readout_view.table.rowCount() == 2 + len(TARGETS)
    assert "voxel" in widget.readout_view.reference.text()

    # a second click, now through the grid: markers move in place, no layer piles up
    layers_before = list(viewer.layers)
    images_before = dict(widget.layers.images)
    outcome2 = click_data(qtbot, viewer, widget, 200.0, 300.0)
    assert abs(outcome2.request.x - 300.0) < tol and abs(outcome2.request.y - 200.0) < tol
    check_markers(widget, source, outcome2)
    assert len(viewer.layers) == len(layers_before)
    for key, layer in widget.layers.images.items():
        assert layer is images_before[key]  # swapped data in place, never a new layer
    assert len(widget.history) == 2


def test_drag_pans_and_does_not_sync(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source, targets=(12,), atlas=None)
    canvas = canvas_widget(widget)
    centre_before = np.asarray(viewer.scene.camera.center)
    start = canvas_position(viewer, widget.layers.seed_layer, (350.0, 500.0))
    drag(qtbot, canvas, start, (start[0] + 60, start[1] + 40))
    wait_idle(qtbot, widget)
    assert not np.allclose(viewer.scene.camera.center, centre_before)  # it panned
    # a click outside the seed image is ignored too
    click(qtbot, canvas, (2, 2))
    wait_idle(qtbot, widget)
    assert len(widget.history) == 0 and widget.last_outcome is None
    outcome = click_data(qtbot, viewer, widget, 100.0, 100.0)
    assert len(widget.history) == 1
    check_markers(widget, source, outcome)


def test_rapid_clicks_show_only_latest(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source)
    click_data(qtbot, viewer, widget, 300.0, 400.0)
    n_layers = len(viewer.layers)
    source.delay = 0.15  # each target now takes a while
    canvas = canvas_widget(widget)
    points = [(100.0 + 40 * k, 150.0 + 60 * k) for k in range(5)]
    seen = []
    widget.synchronized.connect(seen.append)
    for row, col in points:
        click(qtbot, canvas, canvas_position(viewer, widget.layers.seed_layer, (row, col)))
    wait_idle(qtbot, widget)
    assert len(seen) == 1  # the earlier four were quit and dropped
    last = seen[0]
    assert last is widget.last_outcome
    tol = 1.5 / viewer.scene.camera.zoom
    assert abs(last.request.x - points[-1][1]) < tol and abs(last.request.y - points[-1][0]) < tol
    check_markers(widget, source, last)
    assert len(viewer.layers) == n_layers


def test_unreachable_source_notifies_and_stays_responsive(qtbot, make_napari_viewer):
    from napari.utils.notifications import notification_manager

    notes = []
    notification_manager.notification_ready.connect(notes.append)
    try:
        source = FakeSource()
        viewer, widget = make_widget(qtbot, make_napari_viewer, source, targets=(12,), atlas=None)
        source.broken = True  # the network goes away
        with qtbot.waitSignal(widget.failed, timeout=WAIT) as blocker:
            widget.add_target(13)
        assert "connection refused" in blocker.args[0]
        assert widget.target_ids == [12]
        # a click still answers; the lost target is reported, not a crash
        outcome = click_data(qtbot, viewer, widget, 300.0, 300.0)
        assert any("connection refused" in p for p in outcome.problems)
        assert any("connection refused" in str(n.message) for n in notes)
        # a broken source from the start: status unreachable, a notification
        with qtbot.waitSignal(widget.source_ready, timeout=WAIT) as blocker:
            widget.set_source(FakeSource(broken=True))
        assert blocker.args[0] == "unreachable"
        assert "unreachable" in widget.source_view.status.text()
        assert any("unreachable" in str(n.message) for n in notes)
    finally:
        notification_manager.notification_ready.disconnect(notes.append)


def test_unknown_and_unusable_targets_warn(qtbot, make_napari_viewer):
    source = FakeSource()
    _viewer, widget = make_widget(qtbot, make_napari_viewer, source, targets=(12,), atlas=None,
                                 show=False)
    with qtbot.waitSignal(widget.failed, timeout=WAIT) as blocker:
        widget.add_target(987654)
    assert "unknown SectionDataSet id 987654" in blocker.args[0]
    with qtbot.waitSignal(widget.failed, timeout=WAIT) as blocker:
        widget.add_target(FAILED_DS)
    assert "no usable image" in blocker.args[0]
    with qtbot.waitSignal(widget.failed, timeout=WAIT) as blocker:
        widget.set_atlas(77)
    assert "77" in blocker.args[0]
    assert widget.target_ids == [12] and widget.atlas_id is None


def test_point_outside_the_brain(qtbot, make_napari_viewer):
    source = FakeSource()
    _viewer, widget = make_widget(qtbot, make_napari_viewer, source, targets=(12,), show=False)
    # pixel (990, 5): r = 700 + 10·990 ≈ 10600 µm, fine; i = 500 + 50 µm: inside; take a
    # point left of the crop instead, where the fake annotation has no brain
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT) as blocker:
        widget.synchronize(x=-200.0, y=-100.0)
    outcome = blocker.args[0]
    assert outcome.structure is None
    assert "outside" in widget.readout_view.structure.text()
    check_markers(widget, source, outcome)


def test_table_row_centres_camera_and_history_export(qtbot, make_napari_viewer, tmp_path):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source, show=False)
    for x, y in [(100.0, 200.0), (640.0, 420.0)]:
        with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
            widget.synchronize(x=x, y=y)
    viewer.scene.camera.center = (0.0, -5000.0, -5000.0)
    widget.readout_view.table.selectRow(2)
    key = widget.readout_view._keys[2]
    marker = widget.layers.markers[key]
    np.testing.assert_allclose(
        np.asarray(viewer.scene.camera.center)[-2:], marker.data_to_world(marker.data[0])[-2:]
    )

    n_markers = 2 + len(TARGETS)
    rows = list(csv.DictReader(open(widget.export_history(tmp_path / "h.csv"), newline="")))
    assert len(rows) == 2 * n_markers
    last = widget.last_outcome
    for row in rows[-n_markers:]:
        hit = last.hit(row["target"])
        assert int(row["section_image_id"]) == hit.section_image_id
        assert float(row["x"]) == pytest.approx(hit.x) and float(row["y"]) == pytest.approx(hit.y)
        assert float(row["pir_p"]) == pytest.approx(last.pir[0])
    data = json.loads(widget.export_history(tmp_path / "h.json").read_text())
    assert [c["seed_x"] for c in data["clicks"]] == [100.0, 640.0]
    assert data["clicks"][1]["ccf_voxel"] == list(last.ccf_voxel)


def _ours(callbacks):
    from napari_allen_sync._napari.seed_click import ClickToSync

    return [cb for cb in callbacks if isinstance(getattr(cb, "__self__", None), ClickToSync)]


def test_close_mid_sync_releases_everything(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source, show=False)
    assert len(_ours(viewer.mouse_drag_callbacks)) == 1
    source.delay = 0.3
    widget.synchronize(x=300.0, y=300.0)
    qtbot.waitUntil(lambda: bool(widget.running_workers()), timeout=WAIT)
    seen = []
    widget.synchronized.connect(seen.append)
    widget.close()
    assert _ours(viewer.mouse_drag_callbacks) == []
    assert widget.running_workers() == []
    qtbot.wait(400)  # late signals of the quit worker must not draw or raise
    assert seen == []


def test_removing_dock_widget_and_closing_viewer_release(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source, targets=(), atlas=None,
                                 show=False)
    viewer.window.remove_dock_widget(widget)
    assert _ours(viewer.mouse_drag_callbacks) == []
    assert widget._res.released

    viewer2 = make_napari_viewer()
    widget2 = AllenSyncWidget(viewer2, source=FakeSource())
    viewer2.window.add_dock_widget(widget2)
    qtbot.waitUntil(lambda: widget2.source is not None, timeout=WAIT)
    res = widget2._res
    assert len(_ours(viewer2.mouse_drag_callbacks)) == 1
    callbacks = viewer2.mouse_drag_callbacks
    viewer2.close()
    qtbot.waitUntil(lambda: res.released, timeout=WAIT)
    assert _ours(callbacks) == []


def test_cancel_button_quits_the_sync(qtbot, make_napari_viewer):
    source = FakeSource()
    _, widget = make_widget(qtbot, make_napari_viewer, source, show=False)
    source.delay = 0.3
    seen = []
    widget.synchronized.connect(seen.append)
    widget.synchronize(x=300.0, y=300.0)
    qtbot.waitUntil(lambda: widget.readout_view.cancel_button.isEnabled(), timeout=WAIT)
    widget.readout_view.cancel_button.click()
    wait_idle(qtbot, widget)
    assert seen == [] and widget.last_outcome is None
    assert not widget.readout_view.cancel_button.isEnabled()
    source.delay = 0.0
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):  # still usable afterwards
        widget.synchronize(x=310.0, y=300.0)


def test_target_panels_are_laid_out_when_chosen_and_shown_once_laid_out(
        qtbot, make_napari_viewer):
    """Choosing targets lays out their panels before any click (images shown once the
    grid and the camera fit their layout, markers empty, the seed's image active); the
    first click then only moves markers: the same layers, updated in place."""
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source, targets=(), atlas=None)
    assert len(viewer.layers) == 2  # the seed alone
    shown_at = {}

    def on_visible(event):
        layer = event.source
        if layer.visible:
            fit = widget.layers.fitted_view()[1]  # every panel's whole section
            shown_at[layer.name] = (bool(viewer.canvas.grid.enabled),
                                    float(viewer.scene.camera.zoom), fit)

    viewer.layers.events.inserted.connect(
        lambda e: e.value.events.visible.connect(on_visible)
    )
    for ds in TARGETS:
        widget.add_target(ds)
    widget.set_atlas(ATLAS_ID)
    qtbot.waitUntil(lambda: len(widget.target_ids) == len(TARGETS)
                    and widget.atlas_id == ATLAS_ID and len(widget.layers.images) == 4,
                    timeout=WAIT)
    wait_idle(qtbot, widget)
    assert set(widget.layers.images) == set(widget.session.keys())
    for key, layer in widget.layers.images.items():
        assert layer.visible
        if key != "seed":  # shown after the grid was laid out, at its fitted zoom
            grid_on, zoom, fit = shown_at[layer.name]
            assert grid_on and zoom == pytest.approx(fit)
            assert len(widget.layers.markers[key].data) == 0  # no click yet
    assert viewer.layers.selection.active is widget.layers.seed_layer
    assert widget.last_outcome is None

    layers_before = list(viewer.layers)
    outcome = click_data(qtbot, viewer, widget, 350.0, 500.0)
    check_markers(widget, source, outcome)
    assert list(viewer.layers) == layers_before
    for key in widget.layers.images:
        if key != "seed":  # markers keep the world frame; their images are placed
            np.testing.assert_allclose(widget.layers.markers[key].affine.affine_matrix,
                                       np.eye(3))
    assert outcome.timings_ms["draw"] >= 0 and outcome.timings_ms["readouts"] >= 0
    outcome2 = click_data(qtbot, viewer, widget, 200.0, 300.0)
    check_markers(widget, source, outcome2)
    assert list(viewer.layers) == layers_before
    anchor = widget.layers.dims_anchor.layer  # hidden: it keeps napari's dims point still
    assert all(layer.visible for layer in viewer.layers if layer is not anchor)
    assert viewer.layers.selection.active is widget.layers.seed_layer


def test_removed_target_drops_its_layers(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source)
    click_data(qtbot, viewer, widget, 350.0, 500.0)
    gone = TARGETS[0]
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        widget.remove_target(gone)
    wait_idle(qtbot, widget)
    assert f"ds:{gone}" not in widget.layers.images and f"ds:{gone}" not in widget.layers.markers
    assert not any(
        layer.metadata.get("allen_sync", {}).get("key") == f"ds:{gone}" for layer in viewer.layers
    )
    assert len(viewer.layers) == 2 * (1 + len(TARGETS)) + 1  # and the hidden dims anchor


def _near(rgb, hex_colour, tol=60) -> bool:
    want = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)
    return float(np.abs(np.asarray(rgb[:3], dtype=float) - want).max()) < tol


def test_markers_are_thin_rings_that_leave_the_clicked_point_visible(qtbot, make_napari_viewer):
    """Drawn by napari (a real screenshot of the canvas): the seed marker's colour is on
    a ring around the click, not on the clicked pixel itself."""
    from napari_allen_sync._napari.markers import MARKER_COLOURS, RING_PX

    viewer, widget = make_widget(qtbot, make_napari_viewer, FakeSource(), click=(350.0, 500.0))
    marker = widget.layers.markers["seed"]
    shot = viewer.screenshot(canvas_only=True, flash=False)
    h, w = np.asarray(viewer.canvas.size, dtype=float)
    x, y = canvas_position(viewer, marker, marker.data[0])
    fy, fx = shot.shape[0] / h, shot.shape[1] / w  # screenshot pixels per canvas pixel
    colour = MARKER_COLOURS["seed"]

    def pixel(dx, dy):
        return shot[round((y + dy) * fy), round((x + dx) * fx)]

    # the clicked point and the pixels around it, up to 6 px away, show the image
    for a in np.linspace(0, 2 * np.pi, 12, endpoint=False):
        for d in (0.0, 3.0, 6.0):
            assert not _near(pixel(d * np.cos(a), d * np.sin(a)), colour), (a, d)
    # the ring, about RING_PX / 2 away, has the marker's colour somewhere on it
    r = RING_PX / 2.0
    ring = [pixel(r * np.cos(a) + d, r * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 24)
            for d in (-1.5, 0.0, 1.5)]
    assert any(_near(p, colour) for p in ring)
