"""The hidden dims anchor: clicks and live moves change napari's dims range, but its
dims point never snaps (no re-slice of every layer); Home still shows whole sections.

Real napari viewer on the demo scene, real Qt mouse and key events. A control test
shows that, without the anchor, the same clicks do make napari snap the point (so the
main test can fail).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from qtpy.QtCore import Qt

from dock_scene import click_seed, live_across_a_section, open_demo_dock
from napari_allen_sync._napari.canvas import canvas_widget
from napari_allen_sync._napari.dims_anchor import ANCHOR_KEY, panels_bound
from widget_fixtures import WAIT


# ---------------------------------------------------------------------- the bound
def _box(r, c, h, w):
    return np.array([[r, c], [r + h, c + w]], dtype=float)


coord = st.floats(-5e3, 5e3, allow_nan=False)
size = st.floats(1.0, 3e3, allow_nan=False)


@given(
    st.lists(st.tuples(coord, coord, size, size), min_size=2, max_size=6),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
)
def test_bound_stays_below_a_box_shifted_by_less_than_its_size(boxes, fr, fc):
    """Any panel moved so that a point of it lands inside another panel (a marker on the
    seed's marker) stays above and left of the anchor."""
    boxes = [_box(*b) for b in boxes]
    bound = panels_bound(boxes)
    assert np.all(bound < np.min([b[0] for b in boxes], axis=0))
    # a panel moved so that a point of it (fr, fc of its size) lands anywhere on another
    fixed, moving = boxes[0], boxes[1]
    extent = moving[1] - moving[0]
    for corner in (fixed[0], fixed[1]):
        low = corner - np.array([fr, fc]) * extent
        assert np.all(bound <= low)


def test_one_box_bound_is_its_corner():
    box = _box(3.0, -7.0, 10.0, 20.0)
    np.testing.assert_array_equal(panels_bound([box]), box[0])


# ---------------------------------------------------------------------- real events
class PointWatch:
    """Counts napari's dims range and point events."""

    def __init__(self, viewer):
        self.range = self.point = 0
        viewer.dims.events.range.connect(self._range)
        viewer.dims.events.point.connect(self._point)

    def _range(self, _e=None):
        self.range += 1

    def _point(self, _e=None):
        self.point += 1


def points_around(widget, start, n=8):
    """Seed pixels around ``start`` (row, col), inside the seed image."""
    h, w = widget.layers.seed_layer.level_shapes[0][:2]
    rng = np.random.default_rng(5)
    return [
        (
            float(np.clip(start[0] + dr * h, 0.1 * h, 0.9 * h)),
            float(np.clip(start[1] + dc * w, 0.1 * w, 0.9 * w)),
        )
        for dr, dc in rng.uniform(-0.3, 0.3, (n, 2))
    ]


def clicks_events(qtbot, viewer, widget, start):
    """Per click: (range events, point events)."""
    out = []
    for row, col in points_around(widget, start):
        watch = PointWatch(viewer)
        click_seed(qtbot, viewer, widget, (row, col))
        out.append((watch.range, watch.point))
    return out


def own_panels_above_anchor(widget):
    anchor = widget.layers.dims_anchor.point
    for key in widget.layers.order:
        low = np.asarray(widget.layers.images[key].extent.world, dtype=float)[0, -2:]
        assert np.all(anchor < low), key


@pytest.mark.gui
def test_clicks_change_the_range_but_never_snap_the_point(qtbot, make_napari_viewer):
    viewer, widget, start = open_demo_dock(qtbot, make_napari_viewer)
    anchor = widget.layers.dims_anchor
    assert anchor.layer is not None and anchor.layer in viewer.layers
    assert anchor.layer.metadata["allen_sync"]["key"] == ANCHOR_KEY
    assert not anchor.layer.visible and not anchor.layer.shown.any()
    grid = viewer.canvas.grid
    index = list(viewer.layers).index(anchor.layer)
    assert tuple(grid.position(index, viewer.layers)) == (-1, -1)  # no grid cell
    placed = anchor.placements
    events = clicks_events(qtbot, viewer, widget, start)
    assert sum(r for r, _ in events) > 0, "no click changed napari's range: proves nothing"
    assert [p for _, p in events] == [0] * len(events)
    assert anchor.placements == placed
    displayed = viewer.dims.displayed
    assert [viewer.dims.current_step[a] for a in displayed] == [0, 0]
    own_panels_above_anchor(widget)
    widget.close()
    assert anchor.layer is None and not [
        lay
        for lay in viewer.layers
        if (lay.metadata.get("allen_sync") or {}).get("key") == ANCHOR_KEY
    ]


@pytest.mark.gui
def test_without_the_anchor_napari_snaps_the_point(qtbot, make_napari_viewer):
    """The control: the same clicks with the anchor taken away move napari's point."""
    viewer, widget, start = open_demo_dock(qtbot, make_napari_viewer)
    widget.layers.dims_anchor.close()  # no anchor, no listening
    events = clicks_events(qtbot, viewer, widget, start)
    assert sum(p for _, p in events) > 0
    widget.close()


@pytest.mark.gui
def test_live_moves_never_snap_the_point(qtbot, make_napari_viewer):
    viewer, widget, start = open_demo_dock(qtbot, make_napari_viewer)
    key = "ds:900100003"  # sagittal: its section changes as the cursor crosses the seed
    watch = PointWatch(viewer)
    first = live_across_a_section(qtbot, viewer, widget, key, start)
    assert widget.layers.shown[key] != first
    assert watch.range > 0  # the new section's placement changed napari's range
    assert watch.point == 0
    own_panels_above_anchor(widget)
    widget.close()


@pytest.mark.gui
def test_home_shows_whole_sections_centred(qtbot, make_napari_viewer):
    viewer, widget, _ = open_demo_dock(qtbot, make_napari_viewer)
    layers = widget.layers
    fitted = layers.fitted_view()
    camera = viewer.camera if not hasattr(viewer, "scene") else viewer.scene.camera
    camera.zoom = camera.zoom * 3.0  # the user zoomed in and panned away
    camera.center = tuple(np.asarray(camera.center)[-2:] + 500.0)
    assert not layers.layout.whole_sections_in_view()
    homed = []
    viewer.events.reset_view.connect(homed.append)
    canvas = canvas_widget(widget)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(homed), timeout=WAIT)
    assert layers.layout.whole_sections_in_view()
    # the synchronization's own fit: the anchor (far below the panels) is not fitted
    assert camera.zoom == pytest.approx(fitted[1], rel=1e-6)
    np.testing.assert_allclose(np.asarray(camera.center)[-2:], fitted[0], atol=1e-6)
    widget.close()


@pytest.mark.gui
def test_a_section_below_the_anchor_moves_it_below_again(qtbot, make_napari_viewer):
    """The fallback: a panel placed below the anchor (here through its public
    ``affine`` setter) takes the anchor below it again, the point on the new start."""
    viewer, widget, _ = open_demo_dock(qtbot, make_napari_viewer)
    anchor = widget.layers.dims_anchor
    before, placed = anchor.point.copy(), anchor.placements
    image = widget.layers.images["ds:900100003"]
    matrix = np.array(image.affine.affine_matrix)
    low = np.asarray(image.extent.world, dtype=float)[0, -2:]
    matrix[-3:-1, -1] += before - low - 500.0  # its corner 500 px below the anchor
    image.affine = matrix
    qtbot.waitUntil(lambda: anchor.placements == placed + 1, timeout=WAIT)
    own_panels_above_anchor(widget)
    assert np.all(anchor.point < before)
    dims = viewer.dims
    assert [dims.point[a] for a in dims.displayed] == [dims.range[a].start for a in dims.displayed]
    assert [dims.range[a].start for a in dims.displayed] == list(anchor.point)
    widget.close()
