"""Live cursor sync: the markers follow real cursor moves over the seed image.

Moves are real Qt mouse events on napari's canvas (``canvas.send_move``), placed with
``layout.canvas_position``; every expected marker comes from the engine on the same
catalog, never from a hard-coded number.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qtpy.QtCore import Qt

from napari_allen_sync._napari.canvas import canvas_widget, send_click, send_move
from napari_allen_sync._napari.layout import canvas_position
from napari_allen_sync._napari.live import LiveCursor
from napari_allen_sync._napari.views import RESULT_COLUMNS
from napari_allen_sync.synchronizer import Synchronizer
from widget_fixtures import (
    ATLAS_ID,
    SEED_DS,
    TARGETS,
    WAIT,
    FakeSource,
    assert_marker_on,
    demo_dock,
    wait_idle,
)
from widget_fixtures import make_widget as _make_widget

pytestmark = pytest.mark.gui
SHIFT = Qt.KeyboardModifier.ShiftModifier


# ---------------------------------------------------------------------- helpers
def make_widget(qtbot, make_napari_viewer, source, targets=TARGETS, atlas=ATLAS_ID):
    """The dock with a first real click (every target has its image and marker)."""
    return _make_widget(qtbot, make_napari_viewer, source, targets, atlas, click=(350.0, 500.0))


def move_to(viewer, widget, row, col, modifiers=Qt.KeyboardModifier.NoModifier):
    pos = canvas_position(viewer, widget.layers.seed_layer, (row, col))
    send_move(canvas_widget(widget), pos, modifiers)


def wait_delivered(qtbot, viewer, widget, row, col):
    """Wait until napari has handed the cursor move to (row, col) to its callbacks:
    napari throttles mouse moves (the last of a quick series arrives a few ms late)."""
    seed = widget.layers.seed_layer
    qtbot.waitUntil(
        lambda: within(viewer, *seed.world_to_data(viewer.cursor.position)[-2:], row, col),
        timeout=WAIT)


def live_frame(qtbot, viewer, widget, row, col, modifiers=Qt.KeyboardModifier.NoModifier):
    """Move the cursor to seed pixel (row, col); the frame drawn for it."""
    with qtbot.waitSignal(widget.live_updated, timeout=WAIT) as blocker:
        move_to(viewer, widget, row, col, modifiers)
    return blocker.args[0]


def within(viewer, r, c, row, col):
    """Whether seed pixel (r, c) is (row, col) to 1.5 canvas pixels."""
    tol = 1.5 / viewer.scene.camera.zoom
    return abs(c - col) < tol and abs(r - row) < tol


def near(viewer, outcome, row, col):
    return within(viewer, outcome.request.y, outcome.request.x, row, col)


def engine_answers(catalog, seed_id, x, y, target_ids, atlas_id):
    sync = Synchronizer(catalog)
    out = {"seed": (seed_id, x, y)}
    for ds, b in zip(target_ids, sync.image_to_image_batch(seed_id, [x], [y], list(target_ids)),
                     strict=True):
        out[f"ds:{ds}"] = (int(b.section_image_id[0]), float(b.x[0]), float(b.y[0]))
    if atlas_id:
        b = sync.image_to_atlas_batch(seed_id, [x], [y], atlas_id)
        out[f"atlas:{atlas_id}"] = (int(b.section_image_id[0]), float(b.x[0]), float(b.y[0]))
    return out


def check_live_markers(widget, catalog, outcome, features=True):
    """Every marker where the engine puts the frame's point; features when asked."""
    req = outcome.request
    want = engine_answers(catalog, req.section_image_id, req.x, req.y, widget.target_ids,
                          widget.atlas_id)
    assert set(widget.layers.markers) == set(want)
    for key, (image_id, x, y) in want.items():
        hit = outcome.hit(key)
        assert hit.section_image_id == image_id
        np.testing.assert_allclose([hit.x, hit.y], [x, y], atol=1e-9)
        marker = widget.layers.markers[key]
        if key == "seed":
            np.testing.assert_allclose(marker.data, [[y, x]], atol=1e-9)
        elif widget.layers.shown[key] == image_id:
            assert_marker_on(widget.layers, key, y, x)
        else:  # its image still shows another section: the marker is at the frame's
            # world position already (the image takes its new placement at the swap)
            world = np.asarray(hit.world_from_data) @ [y, x, 1.0]
            np.testing.assert_allclose(marker.data_to_world(marker.data[0]), world[:2],
                                       atol=1e-6)
        if features:
            f = marker.features.iloc[0]
            assert int(f["section_image_id"]) == image_id
            np.testing.assert_allclose([f["x"], f["y"]], [x, y], atol=1e-9)


def table_shows(widget, outcome) -> bool:
    """The results table shows this outcome's hits."""
    view = widget.readout_view
    if view._keys != [h.key for h in outcome.hits]:
        return False
    cx, cy = RESULT_COLUMNS.index("x"), RESULT_COLUMNS.index("y")
    return all(
        view.table.item(r, cx).text() == f"{h.x:.1f}"
        and view.table.item(r, cy).text() == f"{h.y:.1f}"
        for r, h in enumerate(outcome.hits)
    )


def ours(viewer):
    return [cb for cb in viewer.mouse_move_callbacks
            if isinstance(getattr(cb, "__self__", None), LiveCursor)]


# ---------------------------------------------------------------------- widget, FakeSource
def test_toggle_markers_follow_the_cursor_reusing_layers(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source)
    layers_before = list(viewer.layers)
    n_history = len(widget.history)
    assert n_history == 1
    assert len(ours(viewer)) == 1
    # the dock's checkbox, clicked like a user
    box = widget.readout_view.live
    assert not box.isChecked() and not widget.live.enabled
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=box.rect().center())
    assert box.isChecked() and widget.live.enabled

    frames = []
    widget.live_updated.connect(frames.append)
    for row, col in [(300.0, 420.0), (250.0, 380.0), (420.0, 610.0)]:
        outcome = live_frame(qtbot, viewer, widget, row, col)
        assert near(viewer, outcome, row, col)
        assert outcome is widget.last_outcome
        check_live_markers(widget, source.catalog, outcome, features=False)
        assert list(viewer.layers) == layers_before  # no layer created or removed
    wait_idle(qtbot, widget)
    qtbot.waitUntil(lambda: not widget.live_sync.readouts_timer.isActive(), timeout=WAIT)
    last = frames[-1]
    assert widget.last_outcome is last
    # live frames are not clicks
    assert len(widget.history) == n_history
    # the final state is shown: the table and the markers' features are up to date
    assert table_shows(widget, last)
    check_live_markers(widget, source.catalog, last, features=True)
    # a live frame reports where its images stand: every target shows its section
    for h in last.hits[1:]:
        assert widget.layers.shown[h.key] == h.section_image_id

    # the checkbox off: moves do nothing
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=box.rect().center())
    assert not widget.live.enabled
    moves = widget.live.moves
    move_to(viewer, widget, 100.0, 100.0)
    qtbot.wait(150)
    wait_idle(qtbot, widget)
    assert widget.live.moves == moves and widget.last_outcome is last
    assert frames[-1] is last


class FailingTiles:
    """Tiles that fail for some images (a tile server down), counting the attempts."""

    def __init__(self, tiles, bad=()):
        self.tiles = tiles
        self.bad = set(bad)
        self.attempts = 0

    def read_region(self, image, downsample, left, top, width, height):
        from napari_allen_sync.errors import ServiceUnavailableError

        if image.id in self.bad:
            self.attempts += 1
            raise ServiceUnavailableError("tile server down", url=f"http://tiles/{image.id}")
        return self.tiles.read_region(image, downsample, left, top, width, height)


def test_a_failing_image_load_is_reported_once_and_not_retried_in_a_loop(
        qtbot, make_napari_viewer):
    """When the image of the section a live frame moved to cannot be loaded, the marker
    still moves, one notification names the problem, and the loader does not retry the
    same image again and again; a click retries it."""
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source, targets=(13,), atlas=None)
    shown = widget.layers.shown["ds:13"]
    source.tiles = FailingTiles(source.tiles, bad={
        im.id for im in source.catalog.images_of(13) if im.id != shown})
    widget.set_live(True)
    n_messages = len(widget.messages)
    for col in (200.0, 800.0, 650.0):  # across sagittal sections of data set 13
        live_frame(qtbot, viewer, widget, 350.0, col)
    wait_idle(qtbot, widget)
    last = widget.last_outcome
    moved_to = last.hit("ds:13").section_image_id
    assert moved_to != shown  # the frame crossed into another section
    assert widget.layers.shown["ds:13"] == shown  # whose image could not be loaded
    assert widget.layers.wanted["ds:13"][0].id == moved_to  # the marker is there already
    problems = widget.messages[n_messages:]
    # three images failed; one notification for this kind of problem
    assert len(problems) == 1 and "tile server down" in problems[0]
    attempts = source.tiles.attempts
    qtbot.wait(300)
    wait_idle(qtbot, widget)
    assert source.tiles.attempts == attempts  # no retry loop
    # a click retries: the tiles are back, the image is loaded with the click
    source.tiles.bad.clear()
    widget.set_live(False)
    pos = canvas_position(viewer, widget.layers.seed_layer, (350.0, 650.0))
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT) as blocker:
        send_click(canvas_widget(widget), pos)
    wait_idle(qtbot, widget)
    assert widget.layers.shown["ds:13"] == blocker.args[0].hit("ds:13").section_image_id


def test_plain_moves_without_toggle_do_nothing(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source, targets=(12,))
    assert widget.live_modifier == "Shift"
    before = {k: m.data.copy() for k, m in widget.layers.markers.items()}
    first = widget.last_outcome
    frames = []
    widget.live_updated.connect(frames.append)
    move_to(viewer, widget, 330.0, 480.0)
    move_to(viewer, widget, 340.0, 520.0)
    qtbot.wait(150)
    wait_idle(qtbot, widget)
    assert frames == [] and widget.live.moves == 0 and widget.last_outcome is first
    for k, m in widget.layers.markers.items():
        np.testing.assert_array_equal(m.data, before[k])
    # the same moves with the toggle on do start frames (this test can fail)
    widget.set_live(True)
    outcome = live_frame(qtbot, viewer, widget, 340.0, 520.0)
    assert near(viewer, outcome, 340.0, 520.0)


def test_shift_held_makes_markers_follow(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source, targets=(12,))
    frames = []
    widget.live_updated.connect(frames.append)
    pos = canvas_position(viewer, widget.layers.seed_layer, (330.0, 480.0))
    send_move(canvas_widget(widget), pos, SHIFT)
    qtbot.waitUntil(lambda: bool(frames), timeout=3000)
    outcome = frames[0]
    assert near(viewer, outcome, 330.0, 480.0)
    check_live_markers(widget, source.catalog, outcome, features=False)
    assert not widget.live.enabled and not widget.readout_view.live.isChecked()
    # Shift released: nothing again
    wait_idle(qtbot, widget)
    n = len(frames)
    move_to(viewer, widget, 340.0, 500.0)
    qtbot.wait(150)
    wait_idle(qtbot, widget)
    assert len(frames) == n and len(widget.history) == 1


def test_moves_off_the_seed_image_do_nothing(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source)
    widget.set_live(True)
    assert widget.readout_view.live.isChecked()  # the checkbox follows set_live
    frames = []
    widget.live_updated.connect(frames.append)
    canvas = canvas_widget(widget)
    seed = widget.layers.seed_layer
    shape = seed.level_shapes[0][:2]
    zoom = viewer.scene.camera.zoom
    off = [
        # over a target's image, in another grid cell
        canvas_position(viewer, widget.layers.images["ds:12"], (300.0, 400.0)),
        canvas_position(viewer, widget.layers.images[f"atlas:{ATLAS_ID}"], (100.0, 100.0)),
        # in the seed's cell, outside the image
        canvas_position(viewer, seed, (-4.0 / zoom - 1.0, shape[1] / 2)),
        canvas_position(viewer, seed, (shape[0] + 4.0 / zoom, shape[1] / 2)),
        canvas_position(viewer, seed, (shape[0] / 2, -4.0 / zoom - 1.0)),
        canvas_position(viewer, seed, (shape[0] / 2, shape[1] + 4.0 / zoom)),
    ]
    w, h = canvas.width(), canvas.height()
    on_canvas = [(x, y) for x, y in off if 0 <= x < w and 0 <= y < h]
    assert len(on_canvas) >= 3, "at least one off-image probe in the seed's cell"
    for x, y in on_canvas:
        send_move(canvas, (x, y))
    qtbot.wait(150)
    wait_idle(qtbot, widget)
    assert frames == [] and widget.live.moves == 0
    # the same probe on the seed image does start a frame (the probes could fail)
    outcome = live_frame(qtbot, viewer, widget, 300.0, 400.0)
    assert near(viewer, outcome, 300.0, 400.0)


def test_rapid_moves_latest_point_wins(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source)
    widget.set_live(True)
    source.delay = 0.05  # each frame now takes a while: moves pile up meanwhile
    frames = []
    widget.live_updated.connect(frames.append)
    # 3 canvas pixels apart (a move to the same pixel is no move)
    step = 3.0 / viewer.scene.camera.zoom
    points = [(350.0 + step * (k - 5), 500.0 + step * (k - 5)) for k in range(10)]
    for row, col in points:
        move_to(viewer, widget, row, col)
        # vispy drops a move that comes < 10 ms after the previous one (and napari
        # throttles at 5 ms): 15 ms apart, the last move always reaches the callbacks
        qtbot.wait(15)
    wait_delivered(qtbot, viewer, widget, *points[-1])
    wait_idle(qtbot, widget)
    qtbot.waitUntil(lambda: not widget.live_sync.readouts_timer.isActive(), timeout=WAIT)
    live = widget.live
    # napari may merge moves that arrive together: at most one per event sent
    assert 2 <= live.moves <= len(points)
    assert live.started + live.dropped == live.moves
    assert len(frames) == live.started
    last = frames[-1]
    assert near(viewer, last, *points[-1])
    assert widget.last_outcome is last
    check_live_markers(widget, source.catalog, last, features=True)
    assert table_shows(widget, last)
    assert len(widget.history) == 1


def test_readouts_wait_for_the_cursor_to_rest(qtbot, make_napari_viewer):
    """While the cursor keeps moving the frames go to the markers; the results table
    shows the latest frame once the cursor rests (or after the longest wait)."""
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source)
    clicked = widget.last_outcome
    assert table_shows(widget, clicked)
    live = widget.live_sync
    live.READOUT_REST_S = live.READOUT_INTERVAL_S = 600.0  # the cursor never rests here
    widget.set_live(True)
    shown = []  # whether the table showed each frame when it was drawn
    widget.live_updated.connect(lambda outcome: shown.append(table_shows(widget, outcome)))
    points = [(300.0, 420.0), (250.0, 380.0), (420.0, 610.0), (330.0, 470.0)]
    for row, col in points:
        outcome = live_frame(qtbot, viewer, widget, row, col)
        assert near(viewer, outcome, row, col)
    wait_idle(qtbot, widget)
    assert shown == [False] * len(points)
    assert table_shows(widget, clicked) and live.readouts_timer.isActive()
    # the markers followed every frame all the same
    check_live_markers(widget, source.catalog, widget.last_outcome, features=False)

    # the cursor rests: the table (and the markers' features) show the last frame
    live.READOUT_REST_S = 0.05
    last = live_frame(qtbot, viewer, widget, 360.0, 520.0)
    qtbot.waitUntil(lambda: not live.readouts_timer.isActive(), timeout=WAIT)
    assert table_shows(widget, last)
    check_live_markers(widget, source.catalog, last, features=True)

    # a cursor that never rests: the readouts still follow, at the longest wait
    live.READOUT_REST_S, live.READOUT_INTERVAL_S = 600.0, 0.0
    moving = live_frame(qtbot, viewer, widget, 280.0, 400.0)
    qtbot.waitUntil(lambda: not live.readouts_timer.isActive(), timeout=WAIT)
    assert table_shows(widget, moving)


def test_click_while_live_still_syncs_and_records(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source)
    widget.set_live(True)
    live_frame(qtbot, viewer, widget, 260.0, 330.0)
    wait_idle(qtbot, widget)
    pos = canvas_position(viewer, widget.layers.seed_layer, (410.0, 560.0))
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT) as blocker:
        send_click(canvas_widget(widget), pos)
    wait_idle(qtbot, widget)
    outcome = blocker.args[0]
    assert near(viewer, outcome, 410.0, 560.0)
    assert len(widget.history) == 2
    assert widget.history.clicks[-1]["seed_x"] == outcome.request.x
    qtbot.waitUntil(lambda: not widget.live_sync.readouts_timer.isActive(), timeout=WAIT)
    assert widget.last_outcome is outcome
    check_live_markers(widget, source.catalog, outcome, features=True)
    assert table_shows(widget, outcome)


def test_cancel_and_close_stop_live_cleanly(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source)
    widget.set_live(True)
    before = widget.last_outcome
    source.delay = 0.3
    frames = []
    widget.live_updated.connect(frames.append)
    move_to(viewer, widget, 200.0, 250.0)
    qtbot.waitUntil(lambda: bool(widget.running_workers()), timeout=WAIT)
    widget.cancel()
    wait_idle(qtbot, widget)
    qtbot.wait(100)
    assert frames == [] and widget.last_outcome is before
    assert not widget.live.in_flight  # the throttle is free again
    # still live afterwards
    source.delay = 0.0
    outcome = live_frame(qtbot, viewer, widget, 220.0, 260.0)
    assert near(viewer, outcome, 220.0, 260.0)
    wait_idle(qtbot, widget)

    # close mid-frame: the callback goes, no late frame draws or raises
    source.delay = 0.3
    move_to(viewer, widget, 300.0, 350.0)
    qtbot.waitUntil(lambda: bool(widget.running_workers()), timeout=WAIT)
    n = len(frames)
    canvas = canvas_widget(widget)
    widget.close()
    assert ours(viewer) == [] and widget.running_workers() == []
    qtbot.wait(400)
    assert len(frames) == n
    send_move(canvas, canvas_position(viewer, widget.layers.seed_layer, (310.0, 360.0)), SHIFT)
    qtbot.wait(100)
    assert len(frames) == n and not widget._res.workers


def test_new_seed_resets_live(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source)
    widget.set_live(True)
    live_frame(qtbot, viewer, widget, 250.0, 300.0)
    wait_idle(qtbot, widget)
    # a pending point must not survive a new seed
    source.delay = 0.2
    move_to(viewer, widget, 260.0, 310.0)
    move_to(viewer, widget, 270.0, 320.0)
    new_seed = SEED_DS * 1000 + 12
    with qtbot.waitSignal(widget.seed_loaded, timeout=WAIT):
        widget.open_seed_section(new_seed)
    assert widget.live.pending is None
    wait_idle(qtbot, widget)
    source.delay = 0.0
    assert widget.last_outcome is None or widget.last_outcome.request.section_image_id == new_seed
    # the target panels are laid out again for the new seed, no marker drawn yet
    assert set(widget.layers.images) == set(widget.session.keys())
    assert all(len(m.data) == 0 for m in widget.layers.markers.values())
    # live on the new seed: frames on it, markers from the engine
    qtbot.wait(50)
    outcome = live_frame(qtbot, viewer, widget, 300.0, 400.0)
    assert outcome.request.section_image_id == new_seed
    wait_idle(qtbot, widget)
    qtbot.waitUntil(lambda: not widget.live_sync.readouts_timer.isActive(), timeout=WAIT)
    seed_marker = widget.layers.markers["seed"]
    np.testing.assert_allclose(seed_marker.data, [[outcome.request.y, outcome.request.x]])
    assert len(widget.history) == 1  # the first click only


def test_live_after_new_seed_shows_every_marker(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source)
    new_seed = SEED_DS * 1000 + 12
    with qtbot.waitSignal(widget.seed_loaded, timeout=WAIT):
        widget.open_seed_section(new_seed)
    wait_idle(qtbot, widget)
    qtbot.wait(50)
    widget.set_live(True)
    live_frame(qtbot, viewer, widget, 300.0, 400.0)
    wait_idle(qtbot, widget)
    qtbot.waitUntil(lambda: not widget.live_sync.readouts_timer.isActive(), timeout=WAIT)
    check_live_markers(widget, source.catalog, widget.last_outcome, features=True)


# ---------------------------------------------------------------------- demo: section change
def test_demo_section_change_swaps_images(qtbot, make_napari_viewer):
    from napari_allen_sync import demo

    viewer, widget = demo_dock(qtbot, make_napari_viewer, timeout=60_000)
    seed_id, x0, y0 = demo.demo_click()
    assert widget.seed_image.id == seed_id
    pos = canvas_position(viewer, widget.layers.seed_layer, (y0, x0))
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        send_click(canvas_widget(widget), pos)
    wait_idle(qtbot, widget)
    qtbot.wait(50)
    key = "ds:900100003"
    assert key in widget.layers.images
    start_section = widget.layers.shown[key]
    layers_before = list(viewer.layers)
    image_layer = widget.layers.images[key]

    widget.set_live(True)
    swaps, frames = [], []
    widget.live_images_swapped.connect(swaps.append)
    widget.live_updated.connect(frames.append)
    width = widget.layers.seed_layer.level_shapes[0][1]
    changed = None
    for dx in np.linspace(0, 0.35 * width, 12)[1:]:
        outcome = live_frame(qtbot, viewer, widget, float(y0), float(x0 + dx))
        hit = outcome.hit(key)
        # the marker moves at once, whatever the image shows: drawn where the seed's is
        # (in the world frame; the image takes its new placement at the swap)
        marker, seed_marker = widget.layers.markers[key], widget.layers.markers["seed"]
        np.testing.assert_allclose(marker.data_to_world(marker.data[0]),
                                   seed_marker.data_to_world(seed_marker.data[0]), atol=1e-6)
        if hit.section_image_id != start_section:
            changed = outcome
            break
    assert changed is not None, "moving across the coronal seed must change the sagittal section"
    qtbot.waitUntil(lambda: any(key in s for s in swaps), timeout=WAIT)
    wait_idle(qtbot, widget)
    qtbot.waitUntil(lambda: not widget.live_sync.readouts_timer.isActive(), timeout=WAIT)
    last = widget.last_outcome
    assert last is frames[-1]
    sync = Synchronizer(demo.demo_catalog())
    for h in last.hits[1:]:
        if h.kind == "atlas":
            b = sync.image_to_atlas_batch(seed_id, [last.request.x], [last.request.y], h.atlas_id)
        else:
            (b,) = sync.image_to_image_batch(seed_id, [last.request.x], [last.request.y],
                                             [h.section_data_set_id])
        assert h.section_image_id == int(b.section_image_id[0])
        np.testing.assert_allclose([h.x, h.y], [b.x[0], b.y[0]], atol=1e-9)
        # after the swaps: every image shows its marker's section
        assert widget.layers.shown[h.key] == h.section_image_id
        meta = widget.layers.images[h.key].metadata["allen_sync"]
        assert meta["section_image_id"] == h.section_image_id
        assert_marker_on(widget.layers, h.key, h.y, h.x)
    assert widget.layers.shown[key] != start_section
    assert widget.layers.images[key] is image_layer  # swapped in place
    assert list(viewer.layers) == layers_before
    assert len(widget.history) == 1
    assert widget.layers.stale_images() == []
    widget.close()


# ---------------------------------------------------------------------- the throttle alone
class _Event:
    def __init__(self, point, modifiers=()):
        self.position = point
        self.modifiers = modifiers
        self.viewbox = None


class _Viewer:
    def __init__(self):
        self.mouse_move_callbacks = []


class _Frames:
    """A fake coordinator: ``request`` starts a frame, at most one at a time."""

    def __init__(self):
        self.in_flight = None
        self.started = []
        self.overlaps = 0

    def request(self, point):
        if self.in_flight is not None:
            self.overlaps += 1
        self.in_flight = point
        self.started.append(point)
        return True


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.tuples(st.just("move"), st.integers(0, 10_000)),
                          st.just(("done", 0))), max_size=60))
def test_throttle_property(qapp, ops):
    frames = _Frames()
    live = LiveCursor(_Viewer(), lambda pos, viewbox: pos, frames.request, min_interval_s=0.0)
    live.enabled = True
    moves = 0
    for op, value in ops:
        if op == "move":
            live.mouse_move(None, _Event((value, value + 1)))
            moves += 1
            assert live.pending is None or live.in_flight  # idle → started at once
        elif live.in_flight:
            pending = live.pending
            frames.in_flight = None
            n = len(frames.started)
            live.done()
            if pending is not None:  # the latest pending point is the next one started
                assert frames.started[n:] == [pending]
                assert live.pending is None
            else:
                assert frames.started[n:] == []
    assert frames.overlaps == 0
    assert live.moves == moves
    assert live.started == len(frames.started)
    # finish: answer every frame
    while live.in_flight:
        frames.in_flight = None
        live.done()
    assert frames.overlaps == 0 and live.pending is None
    assert live.started + live.dropped == live.moves


def test_throttle_interval_modifier_and_reset(qtbot):
    frames = _Frames()
    viewer = _Viewer()
    live = LiveCursor(viewer, lambda pos, viewbox: None if pos[0] < 0 else pos, frames.request,
                      min_interval_s=0.05)
    live.install()
    live.install()
    assert viewer.mouse_move_callbacks == [live.mouse_move]
    live.mouse_move(None, _Event((1, 1)))
    assert frames.started == []  # not enabled, no modifier
    live.mouse_move(None, _Event((1, 1), ("Control",)))
    assert frames.started == []
    live.mouse_move(None, _Event((-1, 1), ("Shift",)))  # off the seed
    assert frames.started == [] and live.moves == 0
    live.mouse_move(None, _Event((1, 1), ("Shift",)))
    assert frames.started == [(1, 1)]
    frames.in_flight = None
    live.done()
    # within the interval: the next point waits for the timer, then is started
    live.mouse_move(None, _Event((2, 2), ("Shift",)))
    live.mouse_move(None, _Event((3, 3), ("Shift",)))
    assert frames.started == [(1, 1)] and live.pending == (3, 3)
    qtbot.waitUntil(lambda: len(frames.started) == 2, timeout=2000)
    assert frames.started == [(1, 1), (3, 3)] and live.dropped == 1
    frames.in_flight = None
    live.done()
    # reset drops a waiting point; remove takes the callback out
    live.mouse_move(None, _Event((4, 4), ("Shift",)))
    live.reset()
    qtbot.wait(100)
    assert frames.started == [(1, 1), (3, 3)] and live.pending is None
    live.remove()
    assert viewer.mouse_move_callbacks == []
    # a request that starts nothing leaves the throttle free
    refused = LiveCursor(viewer, lambda pos, viewbox: pos, lambda point: False,
                         min_interval_s=0.0)
    refused.enabled = True
    refused.mouse_move(None, _Event((5, 5)))
    assert not refused.in_flight and refused.started == 0
