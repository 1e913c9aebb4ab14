"""GUI benchmark: a real click on the seed → every marker drawn.

The demo atlas with three target experiments and the atlas, in a shown napari window
(needs a display; ``make bench`` provides one through Xvfb). Clicks are real Qt mouse
events on napari's canvas.

- ``first_sync_ms``: the first click, from the mouse press to the markers drawn and the
  canvas rendered, new target images included (pyramids created, tiles rendered). It is
  made as a user makes it: on the target panels laid out and drawn, once the window has
  been idle for :data:`FIRST_CLICK_IDLE_S` (:func:`_ready_and_idle`).
- ``click_to_markers_median_ms``: later clicks at different points, images already
  cached (one untimed pass over the same points first): press → markers updated.
- ``click_to_rendered_median_ms``: the same up to a rendered canvas.
- ``*_breakdown_ms``: where that time goes. ``worker``: synchronization, pyramids and
  tile prefetch in the worker thread; ``apply``: layers and readouts updated on the GUI
  thread (with new layers, Qt's first paint of the scene too); ``other``: press →
  worker start and worker end → result handled (Qt event loop, thread hand-over);
  ``render``: markers drawn → rendered frame.
- Busy feedback. A click says at once what it does (busy line, status bar, dimmed
  markers), but Qt paints at low priority: a quick answer, queued before the loop turns,
  is drawn and clears the busy line before it is ever painted (no flash).
  ``gui_clicks_no_busy_flash_share``: share of the timed clicks whose busy line was not
  painted before their markers. ``gui_busy_feedback_ms`` is measured where feedback is
  due: on ``gui_busy_feedback_clicks`` clicks whose answer is made late
  (:data:`LATE_ANSWER_S` of sleep in the worker thread before the synchronization, as a
  slow network would), each pressed 0.1 s after the previous answer was rendered: median
  of press → the dock's busy line painted by Qt's own event loop (the dock scrolled to
  show it; the status bar and the dimmed markers are set in the same handler). Nothing
  forces a paint.
  ``gui_section_busy_feedback_ms``: the same for the section changes (a key press on the
  seed slider → the busy line painted), said at once.
- ``gui_section_change_ms``: median over sections of the seed slider moved (a real
  key press on it) → every target drawn at the last point on the new section and the
  canvas rendered.
- ``gui_structure_tree_fill_ms``, ``gui_structure_search_ms`` (median, and ``_max_ms``):
  the dock's structure tree filled with the real Allen ontology (1327 structures, the
  repository's ``tests/data/real/structure_graph_download-1.json``) and filtered by a
  typed search, painted; None when that file is not there.
- ``gui_click_dims_range_changes_median``: napari dims range changes per timed click
  (``viewer.dims.events.range``). A new placement of a target changes the layers'
  combined extent; on every range change napari's dims sliders snap the point and
  napari re-slices and redraws every layer. ``gui_clicks_dims_range_stale``: timed
  clicks after which napari's dims range was not the layers' extent (napari missed a
  placement: should be 0). ``gui_click_dims_point_snaps_median``: of those, the ones
  that moved napari's dims point (each re-slices every layer): 0 while the hidden dims
  anchor holds the range's start (:mod:`napari_allen_sync._napari.dims_anchor`);
  ``gui_clicks_dims_anchor_placements``: over the timed clicks, times the anchor had to
  be placed again (a section reached below it: one re-slice each).
- What napari itself costs, on the same scene: ``napari_range_change_ms`` (median) is
  one target image's placement set through its public ``affine`` setter so that the
  dims range changes (the image with the finest step made 0.2 % finer, then back; it
  stays in view): that layer's slice and napari's re-slicing of every layer;
  ``napari_point_snap_ms`` is napari's dims point on the displayed axes moved by one
  step and back (public ``dims.set_point``): what one snap costs, every layer
  re-sliced (with the dims anchor, ``napari_range_change_ms`` no longer includes one);
  ``napari_one_point_set_ms`` is one Points layer's one point set through its ``data``
  setter (what ``bench live``'s napari baseline does per move), without the render;
  ``napari_canvas_render_ms`` is a render of the canvas with nothing changed
  (``viewer.screenshot(canvas_only=True)``).
  ``gui_click_napari_range_ms_estimate`` = point snaps per click × one snap.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

__all__ = ["FIRST_CLICK_IDLE_S", "LATE_ANSWER_S", "measure", "run"]

#: Seconds a late click's synchronization waits in its worker (``gui_busy_feedback_ms``):
#: a slow network's answer, long enough for the busy line to be painted before it.
LATE_ANSWER_S = 0.3


#: Seconds Qt's event loop stays idle (no turn over 50 ms, no worker) on the laid-out
#: panels before the first click: a user clicks after seeing them, not in the loop turn
#: that drew them.
FIRST_CLICK_IDLE_S = 0.5


def _ready_and_idle(widget, timeout_s: float) -> None:
    """Turn Qt's event loop until every panel's image is laid out and shown, no worker
    runs, and the loop has been idle for :data:`FIRST_CLICK_IDLE_S`."""
    from qtpy.QtWidgets import QApplication

    app, keys, images = QApplication.instance(), widget.session.keys(), widget.layers.images
    deadline = quiet = time.monotonic()
    deadline += timeout_s
    while time.monotonic() < deadline:
        t = time.monotonic()
        app.processEvents()
        if (time.monotonic() - t > 0.05 or widget.runner.workers
                or not all(k in images and images[k].visible for k in keys)):
            quiet = time.monotonic()
        elif time.monotonic() - quiet >= FIRST_CLICK_IDLE_S:
            return
        time.sleep(0.002)
    raise TimeoutError(f"the panels were not laid out and idle: {widget.messages}")


def _render(viewer) -> None:
    viewer.screenshot(canvas_only=True)  # draws the canvas now, tiles included


def _ms(t) -> float:
    return round(t * 1e3, 2)


def measure(viewer, widget, click, n_clicks: int = 12, timeout_s: float = 120.0, seed=0) -> dict:
    """Time clicks on an open widget whose scene is ready.

    Parameters
    ----------
    viewer, widget
        A shown viewer and its docked :class:`AllenSyncWidget`.
    click : (x, y)
        The first click's seed pixel.
    n_clicks : int
        Timed clicks after the first (at least 10 for a meaningful median).
    """
    from napari_allen_sync._napari.canvas import canvas_widget, process_events_until, send_click
    from napari_allen_sync._napari.layout import canvas_position

    from ._scene import BusyWatch, RangeWatch

    canvas = canvas_widget(widget)
    stamps = []
    widget.synchronized.connect(lambda outcome: stamps.append(time.perf_counter()))

    busy = BusyWatch(widget)
    flashed = []  # per timed click: whether its busy line was painted before its markers
    watch = RangeWatch(viewer)
    anchor = widget.layers.dims_anchor
    ranges = []  # per click: (dims range changes, range stale afterwards, point snaps)

    def one(x, y):
        n = len(stamps)
        c0, p0 = watch.count, watch.snaps
        pos = canvas_position(viewer, widget.layers.seed_layer, (y, x))
        t0 = time.perf_counter()
        busy.reset()
        send_click(canvas, pos, hold_s=0.0)
        if not process_events_until(lambda: len(stamps) > n, timeout_s):
            raise TimeoutError(f"no synchronization within {timeout_s} s: {widget.messages}")
        t1 = stamps[n]
        flashed.append(busy.painted is not None and busy.painted <= t1)
        ranges.append((watch.count - c0, watch.stale(), watch.snaps - p0))
        _render(viewer)
        t2 = time.perf_counter()
        return t1 - t0, t2 - t0, widget.last_outcome

    def breakdown(markers_s, rendered_s, outcome) -> dict:
        t = outcome.timings_ms
        worker, apply = t.get("total", 0.0), t.get("draw", 0.0) + t.get("readouts", 0.0)
        return {
            "worker": round(worker, 2),
            "apply": round(apply, 2),
            "other": round(markers_s * 1e3 - worker - apply, 2),
            "render": round((rendered_s - markers_s) * 1e3, 2),
        }

    _ready_and_idle(widget, timeout_s)  # the first click: on panels drawn, the window idle
    first_markers, first_rendered, first = one(*click)
    first_breakdown = breakdown(first_markers, first_rendered, first)
    # points around the first click, inside the seed image; recentring follows each click
    image = widget.seed_image
    rng = np.random.default_rng(seed)
    points = [
        (float(np.clip(click[0] + dx, 0.1 * image.width, 0.9 * image.width)),
         float(np.clip(click[1] + dy, 0.1 * image.height, 0.9 * image.height)))
        for dx, dy in rng.uniform(-0.2, 0.2, (n_clicks, 2)) * [image.width, image.height]
    ]
    for x, y in points:  # warm the image caches
        one(x, y)
    markers, rendered, parts = [], [], []
    flashed.clear()
    ranges.clear()
    placed0 = anchor.placements
    for x, y in points:
        m, r, outcome = one(x, y)
        markers.append(m)
        rendered.append(r)
        parts.append(breakdown(m, r, outcome))
    out = {
        "gui_targets": len(widget.target_ids),
        "gui_atlas_id": widget.atlas_id,
        "gui_first_sync_ms": _ms(first_rendered),
        "gui_first_sync_markers_ms": _ms(first_markers),
        "gui_first_sync_worker_ms": {k: round(v, 2) for k, v in first.timings_ms.items()},
        "gui_first_sync_breakdown_ms": first_breakdown,
        "gui_clicks": len(points),
        "gui_click_to_markers_median_ms": _ms(statistics.median(markers)),
        "gui_click_to_rendered_median_ms": _ms(statistics.median(rendered)),
        "gui_click_to_rendered_max_ms": _ms(max(rendered)),
        "gui_click_breakdown_median_ms": {
            k: round(statistics.median(p[k] for p in parts), 2) for k in parts[0]
        },
        "gui_clicks_no_busy_flash_share": round(1.0 - sum(flashed) / len(flashed), 3),
        **late_clicks(viewer, widget, points[:5], busy, timeout_s=timeout_s),
        "gui_section_change_ms": section_change(viewer, widget, timeout_s=timeout_s,
                                                busy=busy),
        "gui_section_busy_feedback_ms": _ms(statistics.median(busy.section_feedback))
        if busy.section_feedback else None,
        "gui_click_dims_range_changes_median": statistics.median(r[0] for r in ranges),
        "gui_click_dims_point_snaps_median": statistics.median(r[2] for r in ranges),
        "gui_clicks_dims_range_stale": sum(bool(r[1]) for r in ranges),
        "gui_clicks_dims_anchor_placements": anchor.placements - placed0,
    }
    busy.close()
    watch.close()
    return out


def late_clicks(viewer, widget, points, busy, timeout_s: float = 120.0) -> dict:
    """Busy feedback of clicks whose answer is late (see the module's documentation),
    watched by ``busy`` (a :class:`~._scene.BusyWatch`)."""
    from napari_allen_sync._napari.canvas import canvas_widget, process_events_until, send_click
    from napari_allen_sync._napari.layout import canvas_position
    from napari_allen_sync.session import workflow

    original = workflow.synchronize_click

    def late(source, request):  # the click's worker: a slow network's delay first
        time.sleep(LATE_ANSWER_S)
        return (yield from original(source, request))

    canvas = canvas_widget(widget)
    done = []
    widget.synchronized.connect(lambda outcome: done.append(time.perf_counter()))
    feedback = []
    workflow.synchronize_click = late
    try:
        for x, y in points:
            n = len(done)
            pos = canvas_position(viewer, widget.layers.seed_layer, (y, x))
            _render(viewer)  # the previous answer painted, a moment passed: as a user
            process_events_until(lambda: False, 0.1)  # clicks, not at once after it
            busy.reset()
            t0 = time.perf_counter()
            send_click(canvas, pos, hold_s=0.0)
            if not process_events_until(lambda n=n: len(done) > n, timeout_s):
                raise TimeoutError(f"no synchronization within {timeout_s} s: {widget.messages}")
            if busy.painted is not None:
                feedback.append(busy.painted - t0)
            process_events_until(lambda: not widget.running_workers(), timeout_s)
    finally:
        workflow.synchronize_click = original
    return {
        "gui_busy_feedback_ms": _ms(statistics.median(feedback)) if feedback else None,
        "gui_busy_feedback_clicks": len(feedback),
    }


def napari_costs(viewer, widget, n: int = 10) -> dict:
    """What napari itself costs on this scene (see the module's documentation)."""
    from ._scene import RangeWatch

    layers = widget.layers
    # the target image with the finest step (napari's dims step is the finest): a
    # placement 0.2 % finer changes the dims range, the image staying in view
    image = min((layers.images[k] for k in layers.order if k != "seed" and k in layers.images),
                key=lambda lay: float(np.min(lay.extent.step)))
    matrix = np.array(image.affine.affine_matrix)
    shifted = matrix.copy()
    shifted[-3:-1, -3:-1] *= 0.998
    watch = RangeWatch(viewer)
    reslice = []
    for k in range(2 * n):
        t = time.perf_counter()
        image.affine = shifted if k % 2 == 0 else matrix
        reslice.append(time.perf_counter() - t)
    changes, snaps = watch.count, watch.snaps
    watch.close()
    dims = viewer.dims
    axes = tuple(dims.displayed)
    start = [float(dims.range[a].start) for a in axes]
    moved = [float(dims.range[a].start + dims.range[a].step) for a in axes]
    point = []
    for k in range(2 * n):  # what one snap costs: every layer re-sliced
        t = time.perf_counter()
        dims.set_point(axes, moved if k % 2 == 0 else start)
        point.append(time.perf_counter() - t)
    marker = layers.markers["seed"]
    kept = marker.data.copy()
    sets = []
    for k in range(n):
        t = time.perf_counter()
        marker.data = kept + (k % 2)
        sets.append(time.perf_counter() - t)
    marker.data = kept
    renders = []
    for _ in range(n):
        t = time.perf_counter()
        _render(viewer)
        renders.append(time.perf_counter() - t)
    return {
        "napari_range_change_ms": _ms(statistics.median(reslice)),
        "napari_range_changes_seen": changes,
        "napari_range_change_reslices_seen": snaps,
        "napari_point_snap_ms": _ms(statistics.median(point)),
        "napari_one_point_set_ms": _ms(statistics.median(sets)),
        "napari_canvas_render_ms": _ms(statistics.median(renders)),
    }


def section_change(viewer, widget, n: int = 6, timeout_s: float = 120.0, busy=None):
    """Median ms from a key press on the seed slider to every target drawn at the last
    point on the new section and the canvas rendered (see the module's documentation);
    with ``busy`` (a :class:`~._scene.BusyWatch`), each press → busy line painted is
    added to its ``section_feedback``."""
    from qtpy.QtCore import Qt
    from qtpy.QtTest import QTest

    from napari_allen_sync._napari.canvas import process_events_until

    slider = widget.seed_view.slider
    done = []
    widget.synchronized.connect(lambda outcome: done.append(time.perf_counter()))
    times = []
    for k in range(n):
        key = Qt.Key.Key_Right if k % 2 == 0 else Qt.Key.Key_Left
        m = len(done)
        if busy is not None:
            busy.reset()
        t0 = time.perf_counter()
        QTest.keyClick(slider, key)
        if not process_events_until(lambda m=m: len(done) > m, timeout_s):
            raise TimeoutError(f"no synchronization after a section change: {widget.messages}")
        if busy is not None and busy.painted is not None:
            busy.section_feedback.append(busy.painted - t0)
        _render(viewer)
        times.append(time.perf_counter() - t0)
    return _ms(statistics.median(times))


#: Searches typed into the structure tree (each filters the whole ontology).
SEARCHES = ("c", "ca", "ca1", "hip", "hippo", "th", "cortex", "", "l", "layer 5", "")


def structure_search(widget) -> dict:
    """Fill the dock's structure tree with the real ontology, then time typed searches
    (the view's filter and Qt's repaint of the tree)."""
    from pathlib import Path

    from qtpy.QtWidgets import QApplication

    from napari_allen_sync.catalog import Catalog

    path = (Path(__file__).resolve().parents[3] / "tests" / "data" / "real"
            / "structure_graph_download-1.json")
    none = {"gui_structure_tree_fill_ms": None, "gui_structure_search_ms": None,
            "gui_structure_search_max_ms": None}
    if not path.exists():
        return none
    structures = list(Catalog(Catalog.parse_file(path)).structures.values())
    view, app = widget.structure_view, QApplication.instance()
    t0 = time.perf_counter()
    view.set_structures(structures)
    app.processEvents()
    fill = time.perf_counter() - t0
    times = []
    for text in SEARCHES:
        t0 = time.perf_counter()
        view.search.setText(text)  # textChanged → the view's filter, as typing does
        view.tree.repaint()
        times.append(time.perf_counter() - t0)
    return {"gui_structures": len(structures), "gui_structure_tree_fill_ms": _ms(fill),
            "gui_structure_search_ms": _ms(statistics.median(times)),
            "gui_structure_search_max_ms": _ms(max(times))}


def run(n_clicks: int = 12) -> dict:
    """The GUI benchmark on the demo atlas; JSON-able figures."""
    from napari_allen_sync import demo

    from ._scene import open_demo_scene

    viewer, widget, opened = open_demo_scene(click=False)
    try:
        _, x, y = demo.demo_click()
        out = {"gui_open_scene_ms": _ms(opened)}
        out.update(measure(viewer, widget, (x, y), n_clicks=n_clicks))
        out.update(napari_costs(viewer, widget))
        out["gui_click_napari_range_ms_estimate"] = round(
            out["gui_click_dims_point_snaps_median"] * out["napari_point_snap_ms"], 2)
        out.update(structure_search(widget))
        widget.close()
        return out
    finally:
        viewer.close()


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(), indent=1))
