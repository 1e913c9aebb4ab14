"""The dock on a source (the demo, or ``serve --demo`` over HTTP) with the demo's scene:
its seed section, targets and atlas, and a real click on the seed through the canvas.

Import explicitly (``from dock_scene import ...``) in the issue 10 dock tests.
"""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QPoint, Qt

from widget_fixtures import wait_idle

#: ms: a bound on waiting, not a speed requirement
WAIT = 60_000


def remote_source(base, tmp_path):
    """A RemoteSource on a local server, with its own cache."""
    from napari_allen_sync.remote import RemoteSource

    return RemoteSource(base, cache_dir=tmp_path / "cache", timeout=(2, 60))


def open_dock(qtbot, viewer, source):
    """The dock on ``source`` (no scene), docked and idle."""
    from napari_allen_sync._napari.widget import AllenSyncWidget

    widget = AllenSyncWidget(viewer, source=source)
    viewer.window.add_dock_widget(widget, name="Allen sync", area="right")
    qtbot.waitUntil(lambda: widget.source is not None, timeout=WAIT)
    wait_idle(qtbot, widget)
    return widget


def demo_scene(qtbot, viewer, source, targets=None, atlas=True, click=True):
    """The dock on ``source`` with the demo's seed section, targets (default: the
    demo's) and atlas; with ``click``, a real click at the demo's point."""
    from napari_allen_sync import demo

    widget = open_dock(qtbot, viewer, source)
    image_id, x, y = demo.demo_click()
    with qtbot.waitSignal(widget.seed_loaded, timeout=WAIT):
        widget.open_seed_section(image_id)
    targets = tuple(demo.DEMO_TARGET_DATA_SET_IDS) if targets is None else tuple(targets)
    for ds in targets:  # one at a time: the same order on every source
        widget.add_target(ds)
        qtbot.waitUntil(lambda ds=ds: ds in widget.target_ids, timeout=WAIT)
    if atlas:
        widget.set_atlas(demo.DEMO_ATLAS_ID)
    qtbot.waitUntil(
        lambda: len(widget.target_ids) == len(targets) and bool(widget.atlas_id) == bool(atlas),
        timeout=WAIT,
    )
    wait_idle(qtbot, widget)
    if click:
        click_seed(qtbot, viewer, widget, (y, x))
    return widget


def open_demo_dock(qtbot, make_napari_viewer):
    """A shown viewer with the dock's own default scene (the embedded demo: seed,
    targets, atlas), idle, then a real click at the demo's point; returns
    ``(viewer, widget, (row, col))`` of that click."""
    from napari_allen_sync import demo
    from widget_fixtures import demo_dock

    viewer, widget = demo_dock(qtbot, make_napari_viewer, timeout=WAIT)
    _, x0, y0 = demo.demo_click()
    click_seed(qtbot, viewer, widget, (y0, x0))
    return viewer, widget, (y0, x0)


def click_seed(qtbot, viewer, widget, rc):
    """A real left click on the seed image at data point ``(row, col)``."""
    from napari_allen_sync._napari.canvas import canvas_widget, send_click
    from napari_allen_sync._napari.layout import canvas_position

    canvas = canvas_widget(widget)
    # a window just shown may not have sized its canvas yet
    qtbot.waitUntil(lambda: canvas.width() > 1 and canvas.height() > 1
                    and min(viewer.canvas.size) > 1, timeout=WAIT)
    qtbot.wait(50)
    pos = canvas_position(viewer, widget.layers.seed_layer, rc)
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT) as blocker:
        send_click(canvas, pos)
    wait_idle(qtbot, widget)
    return blocker.args[0]


def live_across_a_section(qtbot, viewer, widget, key, rc):
    """Live sync on, then real cursor moves rightwards from seed pixel ``rc`` (row, col)
    until target ``key``'s marker is on another section; waits for that section's image
    to be swapped in and the dock to be idle. Returns the section shown before."""
    from napari_allen_sync._napari.canvas import canvas_widget, send_move
    from napari_allen_sync._napari.layout import canvas_position

    before = widget.layers.shown[key]
    swaps = []
    widget.live_images_swapped.connect(swaps.append)
    widget.set_live(True)
    row, col = rc
    width = widget.layers.seed_layer.level_shapes[0][1]
    for dx in np.linspace(0, 0.35 * width, 12)[1:]:
        pos = canvas_position(viewer, widget.layers.seed_layer, (row, col + dx))
        with qtbot.waitSignal(widget.live_updated, timeout=WAIT) as blocker:
            send_move(canvas_widget(widget), pos)
        if blocker.args[0].hit(key).section_image_id != before:
            break
    qtbot.waitUntil(lambda: any(key in s for s in swaps), timeout=WAIT)
    wait_idle(qtbot, widget)
    return before


def click_box(qtbot, box):
    """A real click on a check box's indicator (its left end)."""
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def lowest(layer) -> np.ndarray:
    """A multiscale layer's coarsest level, computed."""
    return np.asarray(layer.data[-1])


def cell(viewer, layer) -> tuple:
    """The grid cell napari draws a layer in."""
    from napari_allen_sync._napari._layer_utils import grid

    layers = viewer.layers
    index = next(i for i, lay in enumerate(layers) if lay is layer)
    return tuple(grid(viewer).position(index, layers))


def change_section(qtbot, widget, key=Qt.Key.Key_PageUp):
    """Another seed section through the slider, by keyboard (a page: several sections);
    waits until the targets followed."""
    slider = widget.seed_view.slider
    before = widget.seed_image.id
    slider.setFocus()
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        qtbot.keyClick(slider, key)
    qtbot.waitUntil(lambda: widget.seed_image.id != before, timeout=WAIT)
    wait_idle(qtbot, widget)
