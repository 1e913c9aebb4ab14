"""Whole sections in view (issue 11): after every layout change, driven with real Qt
events, every panel's whole section lies inside its own grid cell of the canvas.

The check uses only the public camera, canvas size and grid (through
``layout.canvas_position`` and ``layout.cell_of``): the four outer corners of each
panel's image, with its own placement (rotation, scale, shift), land inside its cell.
"""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt

from napari_allen_sync._napari.canvas import canvas_widget, send_click
from napari_allen_sync._napari.layout import canvas_position, cell_of, data_shape
from widget_fixtures import (
    TARGETS,
    WAIT,
    FakeSource,
    make_widget,
    wait_idle,
)

pytestmark = pytest.mark.gui
#: Canvas pixels a corner may stick out (rounding of napari's integer grid gaps).
TOLERANCE_PX = 1.5


def panel_rects(viewer, widget) -> dict:
    """key → (cell (x0, y0, x1, y1), section's canvas box (x0, y0, x1, y1))."""
    out = {}
    for key in widget.layers.order:
        image = widget.layers.images[key]
        origin, box = cell_of(viewer, image)
        h, w = data_shape(image) - 0.5
        xy = np.array([canvas_position(viewer, image, c)
                       for c in [(-0.5, -0.5), (-0.5, w), (h, -0.5), (h, w)]])
        cell = (origin[1], origin[0], origin[1] + box[1], origin[0] + box[0])
        out[key] = (cell, (*xy.min(axis=0), *xy.max(axis=0)))
    return out


def cut_sections(viewer, widget) -> list:
    """The panels whose whole section is not inside its grid cell (or whose cell is not
    inside the canvas), with their rectangles; empty when every section is whole."""
    h, w = np.asarray(viewer.canvas.size, dtype=float)
    bad = []
    for key, (cell, section) in panel_rects(viewer, widget).items():
        inside = (section[0] >= cell[0] - TOLERANCE_PX and section[1] >= cell[1] - TOLERANCE_PX
                  and section[2] <= cell[2] + TOLERANCE_PX
                  and section[3] <= cell[3] + TOLERANCE_PX)
        on_canvas = cell[2] <= w + TOLERANCE_PX and cell[3] <= h + TOLERANCE_PX
        if not (inside and on_canvas):
            bad.append((key, np.round(cell, 1).tolist(), np.round(section, 1).tolist()))
    return bad


def fill(viewer, widget) -> float:
    """How much of a cell the panels' common extent fills, along its tighter axis (1 when
    the largest section spans a whole cell): sections in view, and not tiny."""
    rects = list(panel_rects(viewer, widget).values())
    rel = np.array([np.subtract(section, [*cell[:2], *cell[:2]]) for cell, section in rects])
    span = rel[:, 2:].max(axis=0) - rel[:, :2].min(axis=0)
    cell = np.subtract(rects[0][0][2:], rects[0][0][:2])
    return float(np.max(span / cell))


def whole(viewer, widget) -> bool:
    return not cut_sections(viewer, widget) and fill(viewer, widget) > 0.9


def check_whole(qtbot, viewer, widget, what):
    wait_idle(qtbot, widget)
    try:  # a resize is followed once it settles
        qtbot.waitUntil(lambda: whole(viewer, widget), timeout=WAIT)
    except qtbot.TimeoutError:
        pass
    assert cut_sections(viewer, widget) == [], what
    assert fill(viewer, widget) > 0.9, what
    assert len(widget.layers.order) == len(widget.session.keys()), what


def test_whole_sections_after_every_layout_change(qtbot, make_napari_viewer):
    """First sync, a target added and removed with the dock's buttons, a section change
    with the slider's key: each time every section is whole in its cell."""
    viewer, widget = make_widget(qtbot, make_napari_viewer, FakeSource(), targets=TARGETS[:1],
                                 click=(350.0, 500.0))
    check_whole(qtbot, viewer, widget, "first sync")
    view = widget.targets_view
    # the sagittal data set (another plane: placed by scale and shift at the click)
    view.offered.setCurrentIndex(view.offered.findData(TARGETS[1]))
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        qtbot.mouseClick(view.add_offered_button, Qt.MouseButton.LeftButton)
    check_whole(qtbot, viewer, widget, "target added")
    assert f"ds:{TARGETS[1]}" in widget.layers.order
    # clicks near the seed's edges push the sagittal panel around: the view is refitted
    # when a section would leave its cell, and every panel keeps its cell
    canvas = canvas_widget(widget)
    grid = viewer.canvas.grid
    cells = (tuple(grid.shape), [cell_of(viewer, layer)[0].tolist() for layer in viewer.layers])
    for row, col in [(350.0, 60.0), (650.0, 940.0), (40.0, 500.0)]:
        seed = widget.layers.seed_layer
        with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
            send_click(canvas, canvas_position(viewer, seed, (row, col)))
        check_whole(qtbot, viewer, widget, f"click at {row, col}")
        assert (tuple(grid.shape),
                [cell_of(viewer, layer)[0].tolist() for layer in viewer.layers]) == cells
    view.targets.setCurrentRow(0)
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        qtbot.mouseClick(view.remove_button, Qt.MouseButton.LeftButton)
    check_whole(qtbot, viewer, widget, "target removed")
    assert widget.target_ids == [TARGETS[1]]
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        qtbot.keyClick(widget.seed_view.slider, Qt.Key.Key_Right)
    check_whole(qtbot, viewer, widget, "section change")
    widget.close()


@pytest.mark.parametrize("size", [(1000, 1000), (1500, 950)], ids=["narrow-tall", "maximised"])
def test_whole_sections_after_a_resize_and_a_grid_for_the_canvas(qtbot, make_napari_viewer,
                                                                  size):
    """A resized window (narrow and tall, or maximised-like): the grid's shape suits the
    canvas (more rows than columns on a tall canvas) and every section is whole."""
    viewer, widget = make_widget(qtbot, make_napari_viewer, FakeSource(), click=(350.0, 500.0))
    check_whole(qtbot, viewer, widget, "first sync")
    window = widget.window()
    before = tuple(viewer.canvas.size)
    window.resize(*size)
    qtbot.waitUntil(lambda: tuple(viewer.canvas.size) != before, timeout=WAIT)
    check_whole(qtbot, viewer, widget, "resize")
    h, w = np.asarray(viewer.canvas.size, dtype=float)
    rows, cols = viewer.canvas.grid.actual_shape(viewer.layers)
    assert rows * cols >= len(widget.layers.order) > (rows - 1) * cols  # no empty row
    if h > 1.3 * w:
        assert rows >= cols, (h, w, rows, cols)
    elif w > 1.3 * h:
        assert cols >= rows, (h, w, rows, cols)
    widget.close()


def test_whole_sections_after_go_to_in_the_demo_at_the_default_window(qtbot,
                                                                       make_napari_viewer):
    """The demo (a sagittal target beside coronal ones) at napari's default window: the
    first click, then Go to a reference point with the dock's button."""
    demo = pytest.importorskip("napari_allen_sync.demo")
    from widget_fixtures import demo_dock

    viewer, widget = demo_dock(qtbot, make_napari_viewer)
    wait_idle(qtbot, widget)
    image_id, x, y = demo.demo_click()
    assert widget.seed_image.id == image_id
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        send_click(canvas_widget(widget), canvas_position(viewer, widget.layers.seed_layer,
                                                          (y, x)))
    check_whole(qtbot, viewer, widget, "demo click")
    catalog = demo.demo_catalog()
    c = catalog.structure_center(catalog.structure_by_acronym("HPF").id, 9)
    view = widget.coordinate_view
    view.set_point([c.x, c.y, c.z], "µm", 9)
    with qtbot.waitSignal(widget.navigated, timeout=WAIT):
        qtbot.mouseClick(view.go_button, Qt.MouseButton.LeftButton)
    check_whole(qtbot, viewer, widget, "Go to")
    widget.close()


def test_the_camera_settles_clicks_do_not_make_the_panels_jump(qtbot, make_napari_viewer):
    """The demo at napari's default window, real clicks around the demo point: every
    section is whole in its cell after each click, and clicking the same points again
    leaves the camera where it is (a fit to the sections of each click alone zoomed in
    and out again between clicks bringing smaller and larger sections)."""
    demo = pytest.importorskip("napari_allen_sync.demo")
    from napari_allen_sync._napari.layout import _camera
    from widget_fixtures import demo_dock

    viewer, widget = demo_dock(qtbot, make_napari_viewer)
    wait_idle(qtbot, widget)
    _, x0, y0 = demo.demo_click()
    image = widget.seed_image
    rng = np.random.default_rng(7)
    points = [(float(np.clip(x0 + dx, 0.1 * image.width, 0.9 * image.width)),
               float(np.clip(y0 + dy, 0.1 * image.height, 0.9 * image.height)))
              for dx, dy in rng.uniform(-0.2, 0.2, (8, 2)) * [image.width, image.height]]
    canvas = canvas_widget(widget)
    camera = _camera(viewer)

    def click(x, y):
        with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
            send_click(canvas, canvas_position(viewer, widget.layers.seed_layer, (y, x)))
        wait_idle(qtbot, widget)
        assert cut_sections(viewer, widget) == [], (x, y)
        return tuple(np.round(camera.center, 6)), round(float(camera.zoom), 9)

    first = [click(x, y) for x, y in [(x0, y0), *points]]
    again = [click(x, y) for x, y in points]
    assert len(set(again)) == 1, again  # the same clicks again: the camera stays
    assert again[0] == first[-1]
    widget.close()


def test_a_zoom_the_user_chose_survives_a_click(qtbot, make_napari_viewer):
    """Seen on the tour: zoom in on the seed with the wheel, click, and the view was
    reset to the whole sections. A click on the same seed section now keeps the
    user's view; a section step and napari's Home show whole sections again."""
    demo = pytest.importorskip("napari_allen_sync.demo")
    from napari_allen_sync._napari.layout import _camera
    from widget_fixtures import demo_dock, wheel

    viewer, widget = demo_dock(qtbot, make_napari_viewer)
    wait_idle(qtbot, widget)
    _, x0, y0 = demo.demo_click()
    canvas, camera = canvas_widget(widget), _camera(viewer)

    def click(x, y):
        with qtbot.waitSignal(widget.synchronized, timeout=WAIT) as blocker:
            send_click(canvas, canvas_position(viewer, widget.layers.seed_layer, (y, x)))
        wait_idle(qtbot, widget)
        return blocker.args[0]

    def view():
        return tuple(np.round(camera.center, 6)), round(float(camera.zoom), 9)

    click(x0, y0)
    assert cut_sections(viewer, widget) == []
    fitted, size0 = view(), tuple(viewer.canvas.size)
    # the wheel over the seed's point: napari zooms in about it
    wheel(canvas, steps=3, pos=canvas_position(viewer, widget.layers.seed_layer, (y0, x0)))
    qtbot.waitUntil(lambda: float(camera.zoom) > 1.2 * fitted[1], timeout=WAIT)
    zoomed = view()
    assert cut_sections(viewer, widget) != []  # the user looks closer than whole sections
    x1, y1 = x0 + 0.02 * widget.seed_image.width, y0 + 0.02 * widget.seed_image.height
    outcome = click(x1, y1)
    # the point clicked (to a canvas pixel, some seed pixels at this zoom)
    assert (outcome.request.x, outcome.request.y) == pytest.approx(
        (x1, y1), abs=0.01 * widget.seed_image.width)
    assert view() == zoomed  # the user's view stays
    # the window resized and back before the resize settles (a dock's layout passing
    # through another size): the canvas has its size again, the user's view stays
    window = widget.window()
    width, height = window.width(), window.height()
    window.resize(width + 60, height)
    qtbot.waitUntil(lambda: canvas.width() > 0 and tuple(viewer.canvas.size) != size0,
                    timeout=WAIT)
    window.resize(width, height)
    qtbot.waitUntil(lambda: tuple(viewer.canvas.size) == size0, timeout=WAIT)
    qtbot.wait(300)  # past the resize's debounce
    assert view() == zoomed
    viewer.reset_view()  # napari's Home: whole sections again
    assert cut_sections(viewer, widget) == []
    wheel(canvas, steps=3, pos=canvas_position(viewer, widget.layers.seed_layer, (y1, x1)))
    qtbot.waitUntil(lambda: cut_sections(viewer, widget) != [], timeout=WAIT)
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):  # another seed section
        qtbot.keyClick(widget.seed_view.slider, Qt.Key.Key_Right)
    wait_idle(qtbot, widget)
    assert cut_sections(viewer, widget) == []  # a section step fits again
    widget.close()
