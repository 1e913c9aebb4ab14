"""Batch sync of a Points layer through the dock: combo, Sync button, result layers,
CSV; every answer checked against the engine on the same catalog."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from qtpy.QtCore import Qt

from napari_allen_sync._napari.widget import AllenSyncWidget
from napari_allen_sync.session import points as batch_points
from napari_allen_sync.synchronizer import Synchronizer
from widget_fixtures import ATLAS_ID, SEED_DS, TARGETS, WAIT, FakeSource, wait_idle
from widget_fixtures import make_widget as _make_widget

pytestmark = pytest.mark.gui


def make_widget(qtbot, make_napari_viewer, source, targets=TARGETS, atlas=ATLAS_ID):
    """The dock with a first real click (every target has its image and marker)."""
    return _make_widget(qtbot, make_napari_viewer, source, targets, atlas, click=(350.0, 500.0))


POINTS = np.array([[350.0, 500.0], [120.0, 80.0], [600.0, 900.0], [10.0, 990.0]])


def sync_via_gui(qtbot, widget, name):
    view = widget.batch_view
    index = view.layer.findText(name)
    assert index >= 0, f"{name!r} not offered"
    view.layer.setCurrentIndex(index)
    with qtbot.waitSignal(widget.batch_synchronized, timeout=WAIT) as blocker:
        qtbot.mouseClick(view.sync_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, widget)
    return blocker.args[0]


def check_batch(widget, catalog, batch, rows, cols):
    sync = Synchronizer(catalog)
    sid = widget.seed_image.id
    np.testing.assert_allclose(batch.request.rows, rows, atol=1e-9)
    np.testing.assert_allclose(batch.request.cols, cols, atol=1e-9)
    ref = sync.image_to_reference_batch(sid, cols, rows)
    np.testing.assert_allclose(batch.reference, ref.as_array(), atol=1e-9)
    assert {t.key for t in batch.targets} == (
        {f"ds:{d}" for d in widget.target_ids} | {f"atlas:{widget.atlas_id}"})
    for t in batch.targets:
        if t.key.startswith("ds:"):
            (b,) = sync.image_to_image_batch(sid, cols, rows, [t.section_data_set_id])
        else:
            b = sync.image_to_atlas_batch(sid, cols, rows, widget.atlas_id)
        np.testing.assert_array_equal(t.section_image_id, b.section_image_id)
        np.testing.assert_allclose(t.x, b.x, atol=1e-9)
        np.testing.assert_allclose(t.y, b.y, atol=1e-9)
        layer = widget.layers.batch[t.key]
        np.testing.assert_allclose(layer.data, np.column_stack([b.y, b.x]), atol=1e-9)
        for col in ("section_image_id", "x", "y", "reference_x", "structure", "far"):
            assert col in layer.features
        np.testing.assert_array_equal(layer.features["section_image_id"], b.section_image_id)
        np.testing.assert_array_equal(
            np.asarray(layer.shown, bool),
            np.asarray(b.section_image_id) == widget.layers.shown[t.key])
        np.testing.assert_allclose(layer.features["reference_x"], ref.x, atol=1e-9)
    # the reference-space answers ride in the features: no 3-D layer, no dims slider
    assert widget.viewer.dims.ndim == 2


def test_batch_sync_via_gui_and_csv(qtbot, make_napari_viewer, tmp_path):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source)
    cells = viewer.add_points(POINTS, name="cells")
    assert "cells" in [widget.batch_view.layer.itemText(i)
                       for i in range(widget.batch_view.layer.count())]
    own = {id(lay) for lay in widget.layers.layers()}
    assert all(id(lay) not in own for lay in widget.points_layers())
    batch = sync_via_gui(qtbot, widget, "cells")
    check_batch(widget, source.catalog, batch, POINTS[:, 0], POINTS[:, 1])
    assert viewer.canvas.grid.stride == 3 and widget.layers.stride == 3
    assert widget.batch_view.export_button.isEnabled()
    # CSV
    path = widget.export_batch(tmp_path / "b.csv")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == batch_points.CSV_COLUMNS
        rows = list(reader)
    assert len(rows) == len(POINTS) * len(batch.targets)
    sync = Synchronizer(source.catalog)
    sid = widget.seed_image.id
    for row in rows[:: len(POINTS) - 1]:
        i = int(row["point"])
        assert float(row["seed_x"]) == pytest.approx(POINTS[i, 1])
        key = row["target"]
        if key.startswith("ds:"):
            (b,) = sync.image_to_image_batch(sid, [POINTS[i, 1]], [POINTS[i, 0]],
                                             [int(key[3:])])
        else:
            b = sync.image_to_atlas_batch(sid, [POINTS[i, 1]], [POINTS[i, 0]], ATLAS_ID)
        assert int(row["section_image_id"]) == int(b.section_image_id[0])
        assert float(row["x"]) == pytest.approx(float(b.x[0]), abs=1e-9)
        assert float(row["y"]) == pytest.approx(float(b.y[0]), abs=1e-9)
    # removing the synchronized layer ends the batch
    batch_layers = [lay for k, lay in widget.layers.batch.items() if k != "seed"]
    viewer.layers.remove(cells)
    # cleared right after napari's own removal, not inside it
    qtbot.waitUntil(lambda: widget.layers.batch == {}, timeout=WAIT)
    assert not any(lay in viewer.layers for lay in batch_layers)
    assert viewer.canvas.grid.stride == 2


def test_grid_stride_back_to_two_after_batch_removed(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source, targets=(12,))
    cells = viewer.add_points(POINTS, name="cells")
    sync_via_gui(qtbot, widget, "cells")
    assert viewer.canvas.grid.stride == 3
    viewer.layers.remove(cells)
    qtbot.waitUntil(lambda: viewer.canvas.grid.stride == 2, timeout=WAIT)
    # every image and its marker share a cell again
    layers = viewer.layers
    for key in widget.layers.order:
        image, marker = widget.layers.images[key], widget.layers.markers[key]
        assert viewer.canvas.grid.position(layers.index(image), layers) == \
            viewer.canvas.grid.position(layers.index(marker), layers)


def test_scaled_layer_new_target_new_seed(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source, targets=(12,))
    data = np.array([[50.0, 100.0], [100.0, 150.0], [20.0, 300.0]])
    layer = viewer.add_points(data, name="scaled", scale=(2.0, 3.0), translate=(10.0, 20.0))
    batch = sync_via_gui(qtbot, widget, "scaled")
    world = data * [2.0, 3.0] + [10.0, 20.0]
    seed_pix = np.array([widget.layers.seed_layer.world_to_data(p) for p in world])
    check_batch(widget, source.catalog, batch, seed_pix[:, 0], seed_pix[:, 1])
    assert layer in viewer.layers
    # a new target re-runs the batch: a result layer for it, drawn after the re-sync of
    # the last click (which stays where the user clicked)
    clicked = (widget.last_outcome.request.x, widget.last_outcome.request.y)
    with qtbot.waitSignal(widget.batch_synchronized, timeout=WAIT) as blocker:
        widget.add_target(13)
    wait_idle(qtbot, widget)
    assert (widget.last_outcome.request.x, widget.last_outcome.request.y) == clicked
    assert widget.last_outcome.hit("ds:13") is not None
    again = blocker.args[0]
    assert "ds:13" in {t.key for t in again.targets}
    qtbot.waitUntil(lambda: "ds:13" in widget.layers.batch, timeout=WAIT)
    # a new seed clears the batch layers
    olds = [lay for k, lay in widget.layers.batch.items() if k != "seed"]
    with qtbot.waitSignal(widget.seed_loaded, timeout=WAIT):
        widget.open_seed_section(SEED_DS * 1000 + 12)
    wait_idle(qtbot, widget)
    assert widget.layers.batch == {}
    assert not any(lay in viewer.layers for lay in olds)


def test_batch_before_any_click_first_synchronizes_its_median_point(qtbot,
                                                                    make_napari_viewer):
    """With no click yet no target has a cell: the batch synchronizes the point nearest
    its median first (as a click would), then draws every target's answers."""
    source = FakeSource()
    viewer, widget = _make_widget(qtbot, make_napari_viewer, source, targets=(12, 13))
    # the target panels are laid out (no marker yet): the batch has cells to draw in
    assert widget.last_outcome is None and set(widget.layers.images) == set(widget.session.keys())
    assert all(len(m.data) == 0 for m in widget.layers.markers.values())
    viewer.add_points(POINTS, name="cells")
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT) as clicked:
        batch = sync_via_gui(qtbot, widget, "cells")
    wait_idle(qtbot, widget)
    qtbot.waitUntil(lambda: widget.layers.batch.get("ds:13") is not None, timeout=WAIT)
    outcome = clicked.args[0]
    rows, cols = POINTS[:, 0], POINTS[:, 1]
    k = int(np.argmin(np.hypot(rows - np.median(rows), cols - np.median(cols))))
    assert (outcome.request.y, outcome.request.x) == pytest.approx((rows[k], cols[k]))
    keys = {t.key for t in batch.targets}
    assert keys == {"ds:12", "ds:13", f"atlas:{ATLAS_ID}"}
    for key in keys:
        layer = widget.layers.batch[key]
        assert len(layer.data) == len(POINTS)
        shown = np.asarray(layer.shown)
        assert np.array_equal(shown, np.asarray(layer.features["section_image_id"])
                              == widget.layers.shown[key])
    assert len(widget.history) == 1  # the batch's own click, recorded as a click


# napari itself warns when it draws a Points layer holding NaN (the bad input below)
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
def test_batch_errors(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer = make_napari_viewer(show=True)
    widget = AllenSyncWidget(viewer, source=source)
    viewer.window.add_dock_widget(widget, area="right")
    qtbot.waitUntil(lambda: widget.source is not None, timeout=WAIT)
    viewer.add_points(POINTS, name="cells")
    with qtbot.waitSignal(widget.failed, timeout=WAIT) as blocker:
        widget.sync_points_layer("cells")
    assert "seed" in blocker.args[0]
    with qtbot.waitSignal(widget.seed_loaded, timeout=WAIT):
        widget.open_seed_section(SEED_DS * 1000 + 10)
    wait_idle(qtbot, widget)
    with qtbot.waitSignal(widget.failed, timeout=WAIT) as blocker:
        widget.sync_points_layer("no such layer")
    assert "no such layer" in blocker.args[0]
    viewer.add_points(np.empty((0, 2)), name="empty")
    with qtbot.waitSignal(widget.failed, timeout=WAIT) as blocker:
        widget.sync_points_layer("empty")
    assert "no points" in blocker.args[0]
    try:
        viewer.add_points(np.array([[1.0, 2.0], [np.nan, 5.0]]), name="nan")
    except Exception:  # napari refuses NaN: nothing more to check
        return
    with qtbot.waitSignal(widget.failed, timeout=WAIT) as blocker:
        widget.sync_points_layer("nan")
    assert "not finite" in blocker.args[0] and "point 1" in blocker.args[0]
    assert widget.last_batch is None
