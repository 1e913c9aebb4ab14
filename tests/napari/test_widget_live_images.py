"""Live sync's paced image swaps: markers follow every frame, the images of the sections
they moved to follow at a slower pace, and when the cursor stops every target shows the
section of the last frame.

Moves are real Qt mouse events on napari's canvas; the expected sections come from the
engine on the same catalog (``check_live_markers``), never from a hard-coded number.
"""

from __future__ import annotations

import pytest
from test_widget_live import (
    check_live_markers,
    live_frame,
    make_widget,
    move_to,
    near,
    table_shows,
    wait_delivered,
)

from napari_allen_sync._napari.runner import Scheduled
from widget_fixtures import WAIT, FakeSource, assert_marker_on, wait_idle

pytestmark = pytest.mark.gui

SAGITTAL = "ds:13"  # its section changes as the cursor crosses the coronal seed


def shows_last_frame(widget, outcome) -> None:
    """Every target's image shows the section of ``outcome``, with its marker on it."""
    layers = widget.layers
    assert layers.stale_images() == []
    assert layers.wanted == {}
    for h in outcome.hits[1:]:
        assert layers.shown[h.key] == h.section_image_id
        meta = layers.images[h.key].metadata["allen_sync"]
        assert meta["section_image_id"] == h.section_image_id
        assert_marker_on(layers, h.key, h.y, h.x)


@pytest.mark.parametrize("path", ["across", "across and back"])
def test_after_the_cursor_stops_every_target_shows_the_last_frame(
        qtbot, make_napari_viewer, path):
    """A quick sweep of real moves across sections, then the cursor stops: once the dock
    is idle (``wait_idle``, which counts a paced image load still waiting for its turn),
    every target shows the section of the last live frame, not an older one."""
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source)
    start = widget.layers.shown[SAGITTAL]
    layers_before = list(viewer.layers)
    image_layers = dict(widget.layers.images)
    widget.set_live(True)
    frames, swaps = [], []
    widget.live_updated.connect(frames.append)
    widget.live_images_swapped.connect(swaps.append)
    cols = [150.0 + 50.0 * k for k in range(15)]  # 150 … 850: across sagittal sections
    if path == "across and back":
        cols += cols[-2:4:-1]
    points = [(350.0 + 3.0 * (k % 4), col) for k, col in enumerate(cols)]
    for row, col in points:
        move_to(viewer, widget, row, col)
        qtbot.wait(15)  # vispy drops a move < 10 ms after the previous one
    wait_delivered(qtbot, viewer, widget, *points[-1])
    qtbot.waitUntil(lambda: bool(frames) and near(viewer, frames[-1], *points[-1]),
                    timeout=WAIT)
    wait_idle(qtbot, widget)
    last = frames[-1]
    assert widget.last_outcome is last and near(viewer, last, *points[-1])
    shows_last_frame(widget, last)  # as soon as the dock is idle
    assert any(f.hit(SAGITTAL).section_image_id != start for f in frames)  # sections changed
    assert swaps  # and images were swapped in while the cursor moved
    qtbot.waitUntil(lambda: not widget.live_sync.readouts_timer.isActive(), timeout=WAIT)
    check_live_markers(widget, source.catalog, last, features=True)
    assert table_shows(widget, last)
    # swapped in place: no layer created or removed
    assert list(viewer.layers) == layers_before
    assert dict(widget.layers.images) == image_layers
    assert widget.running_workers() == []


def test_a_paced_image_load_counts_as_a_running_worker(qtbot, make_napari_viewer):
    """While a new section's image waits for its turn, the dock is not idle (a scheduled
    load is among ``running_workers``), the marker is drawn at the frame's point on the
    image still shown; a cancel drops the waiting load, and the next frame loads it."""
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source)
    live = widget.live_sync
    live.IMAGE_INTERVAL_S = 600.0  # the next load waits far longer than this test runs
    widget.set_live(True)
    start = widget.layers.shown[SAGITTAL]
    scheduled = []
    for col in (200.0, 320.0, 440.0, 560.0, 680.0, 800.0):
        outcome = live_frame(qtbot, viewer, widget, 350.0, col)
        qtbot.waitUntil(lambda: live.images_worker is None, timeout=WAIT)  # a load ran
        # an image in the wrong section always has a load running or waiting
        if widget.layers.stale_images():
            assert widget.running_workers()
        scheduled += [w for w in widget.running_workers() if isinstance(w, Scheduled)]
        check_live_markers(widget, source.catalog, outcome, features=False)
        if scheduled:
            break
    # the first new section was loaded at once; the next one waits for its turn
    assert scheduled, "crossing two sagittal sections must schedule a paced load"
    waiting = widget.layers.wanted[SAGITTAL][0].id
    assert waiting == outcome.hit(SAGITTAL).section_image_id
    assert widget.layers.shown[SAGITTAL] not in (waiting, start)
    assert scheduled[-1].is_running and scheduled[-1] in widget.runner.workers
    widget.cancel()
    assert widget.running_workers() == [] and not scheduled[-1].is_running
    # the next frame (the pace back to normal) loads the section it wants
    live.IMAGE_INTERVAL_S = 0.0
    last = live_frame(qtbot, viewer, widget, 352.0, 800.0)
    wait_idle(qtbot, widget)
    shows_last_frame(widget, last)
