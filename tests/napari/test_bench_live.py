"""``bench live``: napari's floor for the live scene, replayed beside our live frames (no
speed is asserted: the figures go to ``make bench``)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from widget_fixtures import demo_dock

WAIT = 60_000  # ms: a bound on waiting, not a speed requirement

live = pytest.importorskip("napari_allen_sync.bench.live")


def _demo(qtbot, make_napari_viewer):
    """The demo scene after one real click (the markers exist)."""
    from napari_allen_sync import demo
    from napari_allen_sync._napari.canvas import canvas_widget, send_click
    from napari_allen_sync._napari.layout import canvas_position

    viewer, widget = demo_dock(qtbot, make_napari_viewer, timeout=WAIT)
    _, x, y = demo.demo_click()
    pos = canvas_position(viewer, widget.layers.seed_layer, (y, x))
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        send_click(canvas_widget(widget), pos, hold_s=0.0)
    qtbot.waitUntil(lambda: not widget.running_workers(), timeout=WAIT)
    return viewer, widget


def _same(a: dict, b: dict, parts=("points", "text", "images")) -> None:
    """Two :func:`~napari_allen_sync.bench.live.scene_state` show the same ``parts``."""
    assert a["markers"].keys() == b["markers"].keys()
    for key, m in a["markers"].items():
        other = b["markers"][key]
        if "points" in parts:
            np.testing.assert_array_equal(m["point"], other["point"], err_msg=key)
        if "text" in parts:
            assert m["label"] == other["label"], key
            np.testing.assert_allclose(m["translation"], other["translation"])
            np.testing.assert_array_equal(m["border"], other["border"])
    if "images" in parts:
        for key, im in a["images"].items():
            assert im["levels"] is b["images"][key]["levels"], key
            np.testing.assert_array_equal(im["affine"], b["images"][key]["affine"])


@given(st.integers(0, 40), st.integers(0, 200))
def test_ping_pong_walks_the_recorded_frames_one_step_at_a_time(n_frames, n):
    order = live.ping_pong(n_frames, n)
    assert len(order) == (n if n_frames else 0)
    assert all(0 <= i < n_frames for i in order)
    if order:
        assert order[0] == 0
    if n_frames >= 2:  # each step is one the live run drew, forwards or backwards
        assert all(abs(a - b) == 1 for a, b in itertools.pairwise(order))
        assert order[: n_frames] == list(range(min(n, n_frames)))


@pytest.mark.gui
def test_scene_floor_replays_the_live_frames_with_napari_alone(qtbot, make_napari_viewer):
    viewer, widget = _demo(qtbot, make_napari_viewer)
    points = live.lissajous(widget.seed_image, "horizontal", 240)
    move = list(viewer.mouse_move_callbacks)
    # the live run: each frame's state is recorded as the layers show it
    drawn = []
    widget.live_updated.connect(lambda _o: drawn.append(live.scene_state(widget)))
    record = live.SceneRecord(widget)
    on = live.drive(viewer, widget, points, live=True, record=record)
    assert on["live_frames"] == len(record.frames) > 1
    for got, want in zip(record.frames, drawn, strict=False):
        _same(got, want)
    # the labels, points or sections change from frame to frame (else nothing to replay)
    assert any(not np.array_equal(a["markers"]["seed"]["point"], b["markers"]["seed"]["point"])
               for a, b in itertools.pairwise(record.frames))
    before = live.scene_state(widget)
    started = []
    start = widget.runner.start
    widget.runner.start = lambda *a, **k: started.append(a) or start(*a, **k)
    for full in (True, False):
        replay = live.SceneReplay(widget, record, len(points), full=full)
        seen = []  # the scene on each delivered move, before the replay's step

        def look(_viewer, _event, seen=seen):
            seen.append(live.scene_state(widget))

        viewer.mouse_move_callbacks.append(look)
        try:
            out = live.drive(viewer, widget, points, live=False, replay=replay)
        finally:
            viewer.mouse_move_callbacks.remove(look)
        # one recorded frame per delivered move, as the layers then showed it
        assert len(replay.applied) == out["moves_delivered"] == out["scene_updates"] > 0
        assert len(seen) == out["moves_delivered"]
        for k, state in enumerate(seen):
            if full:
                _same(state, replay.states[k])
            else:  # the points only: labels and images stay at the live run's start
                _same(state, replay.states[k], parts=("points",))
                _same(state, record.start, parts=("text", "images"))
        # the layers show what they showed before the replay, callbacks as before
        _same(live.scene_state(widget), before)
        assert viewer.mouse_move_callbacks == move
        assert out["scene_dims_point_snaps"] >= 0 and out["scene_label_changes"] >= 0
        if not full:
            assert out["scene_label_changes"] == out["scene_image_swaps"] == 0
    widget.runner.start = start
    assert started == []  # no plugin synchronization ran during the replays
    # and live sync works again afterwards
    with qtbot.waitSignal(widget.live_updated, timeout=WAIT):
        live.drive(viewer, widget, points[:10], live=True)
    widget.close()


@pytest.mark.gui
def test_bench_reports_the_scene_floor_beside_the_one_point_baseline(qtbot,
                                                                      make_napari_viewer):
    viewer, widget = _demo(qtbot, make_napari_viewer)
    # as the bench does: the path once with live off first (the first live frame's
    # section swaps then cost no stall inside the recorded run), and a path of one
    # second, so that a stall of the shared machine cannot leave it without a frame
    points = live.lissajous(widget.seed_image, "vertical", 120)
    live.drive(viewer, widget, points, live=False)
    record = live.SceneRecord(widget)
    on = live.drive(viewer, widget, points, live=True, record=record)
    base = live.drive(viewer, widget, points, live=False, baseline=True)
    out = live.scene_floor(viewer, widget, points, record, on, base)
    for key in ("napari_scene_updates_per_s", "napari_scene_markers_only_updates_per_s",
                "live_ratio_to_napari_scene", "napari_scene_ratio_to_one_point",
                "napari_scene_apply_ms_median", "napari_scene_frame_interval_ms_median"):
        assert isinstance(out[key], float) and math.isfinite(out[key]) and out[key] > 0, key
    assert out["live_ratio_to_napari_scene"] == pytest.approx(
        on["live_updates_per_s"] / out["napari_scene_updates_per_s"], abs=1e-3)
    assert out["napari_scene_ratio_to_one_point"] == pytest.approx(
        out["napari_scene_updates_per_s"] / base["napari_one_point_updates_per_s"], abs=1e-3)
    assert out["napari_scene_frames_recorded"] == on["live_frames"]
    assert out["napari_scene_updates"] == out["napari_scene_moves_delivered"]
    widget.close()
