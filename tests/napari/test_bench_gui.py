"""``bench gui``: napari's floor for a click, measured beside our clicks (no speed is
asserted: the figures go to ``make bench``)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from napari_allen_sync._napari.canvas import canvas_widget, send_click
from napari_allen_sync._napari.layout import canvas_position
from widget_fixtures import demo_dock

pytestmark = pytest.mark.gui
WAIT = 60_000  # ms: a bound on waiting, not a speed requirement

demo = pytest.importorskip("napari_allen_sync.demo")
gui = pytest.importorskip("napari_allen_sync.bench.gui")

#: The floor's figures: each a positive, finite number of milliseconds.
FLOOR_MS = ("gui_click_napari_floor_ms", "gui_click_napari_floor_rendered_ms",
            "gui_click_napari_floor_markers_only_ms", "gui_press_pick_ms")


def _points(widget, n):
    """``n`` seed pixels (x, y) around the demo point, inside the seed image."""
    _, x, y = demo.demo_click()
    image = widget.seed_image
    rng = np.random.default_rng(1)
    return [(float(np.clip(x + dx, 0.1 * image.width, 0.9 * image.width)),
             float(np.clip(y + dy, 0.1 * image.height, 0.9 * image.height)))
            for dx, dy in rng.uniform(-0.2, 0.2, (n, 2)) * [image.width, image.height]]


def test_bench_measures_napari_floor_beside_our_clicks(qtbot, make_napari_viewer):
    viewer, widget = demo_dock(qtbot, make_napari_viewer, timeout=WAIT)
    _, x, y = demo.demo_click()
    drag, move = list(viewer.mouse_drag_callbacks), list(viewer.mouse_move_callbacks)
    assert widget.click_callback.mouse_drag in drag and widget.live.mouse_move in move
    out = gui.measure(viewer, widget, (x, y), n_clicks=3)
    for key in (*FLOOR_MS, "gui_click_to_markers_median_ms", "gui_click_to_napari_floor_ratio"):
        assert isinstance(out[key], float) and math.isfinite(out[key]) and out[key] > 0, key
    assert out["gui_click_to_napari_floor_ratio"] == pytest.approx(
        out["gui_click_to_markers_median_ms"] / out["gui_click_napari_floor_ms"], abs=1e-3)
    assert 0.0 <= out["gui_clicks_changing_sections_share"] <= 1.0
    assert 0 <= out["gui_click_section_changes_median"] <= out["gui_targets"] + 1
    # the plugin's own mouse callbacks are back, napari's own were kept
    assert viewer.mouse_drag_callbacks == drag and viewer.mouse_move_callbacks == move
    widget.close()


def test_floor_replays_the_clicks_answers_with_napari_alone(qtbot, make_napari_viewer):
    viewer, widget = demo_dock(qtbot, make_napari_viewer, timeout=WAIT)
    canvas = canvas_widget(widget)
    points = _points(widget, 4)
    answers = []
    for x, y in points:
        pos = canvas_position(viewer, widget.layers.seed_layer, (y, x))
        with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
            send_click(canvas, pos, hold_s=0.0)
        qtbot.waitUntil(lambda: not widget.running_workers(), timeout=WAIT)
        answers.append(gui.shown_answer(widget))
    # the answers differ (else the replay shows nothing): some section or point moves
    assert any(not np.array_equal(a["markers"]["seed"], b["markers"]["seed"])
               for a, b in itertools.pairwise(answers))
    synced, started = [], []
    widget.synchronized.connect(synced.append)
    start = widget.runner.start
    widget.runner.start = lambda *a, **k: started.append(a) or start(*a, **k)
    moved, swapped = [], []  # the seed marker's points, the targets' new pyramids
    seed = widget.layers.markers["seed"]
    refresh = seed.refresh
    seed.refresh = lambda *a, **k: moved.append(np.array(seed.data)) or refresh(*a, **k)
    for key, layer in widget.layers.images.items():
        if key != "seed":
            layer.events.data.connect(lambda e, k=key, lay=layer: swapped.append(
                (k, lay.data_raw)))
    try:
        out = gui.napari_floor(viewer, widget, points, answers, passes=1)
    finally:
        widget.runner.start = start
        del seed.refresh
    assert synced == [] and started == []  # no plugin synchronization ran
    # each press showed its click's answer: the seed marker at the answer's point (the
    # markers-only pass the same again), each changed section's own pyramid
    want = [a["markers"]["seed"] for a in answers]
    assert len(moved) == 2 * len(answers)
    for got, point in zip(moved, want + want, strict=True):
        np.testing.assert_array_equal(got, point)
    changed = [(k, a["images"][k][1]) for b, a in zip([answers[-1], *answers], answers,
                                                       strict=False)
               for k in a["images"] if a["images"][k][0] != b["images"][k][0]]
    assert [k for k, _ in swapped] == [k for k, _ in changed]
    assert all(got is levels for (_, got), (_, levels) in zip(swapped, changed, strict=True))
    # the replay ends on the last click's answer, which the layers show again
    last = gui.shown_answer(widget)
    for key, (section, levels, affine) in answers[-1]["images"].items():
        assert last["images"][key][0] == section
        assert last["images"][key][1] is levels
        np.testing.assert_array_equal(last["images"][key][2], affine)
    for key, point in answers[-1]["markers"].items():
        np.testing.assert_array_equal(last["markers"][key], point)
    for key in FLOOR_MS:
        assert math.isfinite(out[key]) and out[key] > 0, key
    assert widget.click_callback.mouse_drag in viewer.mouse_drag_callbacks
    # and a real click synchronizes again
    x, y = points[0]
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        send_click(canvas, canvas_position(viewer, widget.layers.seed_layer, (y, x)),
                   hold_s=0.0)
    widget.close()
