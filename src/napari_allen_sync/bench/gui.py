"""GUI benchmark: a real click on the seed → every marker drawn.

The demo atlas with three target experiments and the atlas, in a shown napari window
(needs a display; ``make bench`` provides one through Xvfb). Clicks are real Qt mouse
events on napari's canvas.

- ``first_sync_ms``: the first click, from the mouse press to the markers drawn and the
  canvas rendered, new target images included (pyramids created, tiles rendered). It is
  made as a user makes it: on the target panels laid out and drawn, once the window has
  been idle for :data:`~._scene.FIRST_CLICK_IDLE_S` (:func:`~._scene.ready_and_idle`),
  the sections a click can reach read ahead
  (:mod:`napari_allen_sync.session.read_ahead`). ``gui_read_ahead_ms``: how long that
  read-ahead ran after the panels opened (a user clicking sooner stops it: the first
  click then reads its own sections, as before it existed); ``gui_read_ahead_images``:
  the images it read.
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
- napari's floor for our later clicks, measured in the same run at once after the timed
  clicks, on the same scene (seed, the same target panels in napari's grid, the same
  window): ``gui_click_napari_floor_ms`` (median over two passes) replays the timed
  clicks' own answers with napari alone. The same real Qt press and release on the seed,
  at the same canvas pixels, sent the same way (``send_click``); the plugin's mouse
  callbacks (click, live cursor) and its dims-range handler are out meanwhile (napari's
  own mouse callbacks stay), and a
  plain napari mouse-drag callback does, on the release (where ours answers), only what
  napari must do to show the answer: each target whose section that click changed gets
  the same pyramid through its image layer's ``data`` setter, each changed placement the
  same matrix through its ``affine`` setter, and each marker layer's one point is moved
  to the answer's (written in place and the layer's public ``refresh(thumbnail=False,
  highlight=False)``: napari's cheapest public move of one point; its ``data`` setter
  also recomputes every layer's extent, ``napari_one_point_set_ms``). Timed from the
  press to the callback's last setter returned, the point where
  ``gui_click_to_markers_median_ms`` stamps our clicks (``synchronized`` emitted). It
  includes Qt → vispy → napari's mouse handling, vispy's picking render on the press
  (``gui_press_pick_ms``), napari's re-slice of each changed layer (two per changed
  section: ``data`` then ``affine``) and its dims range updates; the hidden dims anchor
  layer stays in the scene (without it napari would snap its point: more re-slices).
  It excludes what our click does beyond that: the answer's computation (precomputed,
  no Allen arithmetic, no worker thread, no thread hand-over), the busy statement (dock,
  status bar, dimmed markers, activity bar) and any Qt paint of it before the answer,
  the markers' labels, features and ink, the readouts and the history.
  ``gui_click_napari_floor_rendered_ms``: the same, up to a rendered canvas (as
  ``gui_click_to_rendered_median_ms``). ``gui_click_napari_floor_markers_only_ms``: the
  same presses moving only the markers (no section change). The replay changes the
  sections the timed clicks changed: ``gui_click_section_changes_median`` (targets per
  click), ``gui_clicks_changing_sections_share`` (clicks that changed at least one),
  ``gui_click_napari_floor_placements_median`` (``affine`` sets per click).
  ``gui_click_to_napari_floor_ratio`` = ``gui_click_to_markers_median_ms`` /
  ``gui_click_napari_floor_ms`` (the two figures as reported).
  ``gui_press_pick_ms``: vispy's ``SceneCanvas.visual_at`` at the timed clicks' seed
  pixels, called directly (median): the picking render napari's canvas runs on every
  press before any mouse callback.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

__all__ = ["LATE_ANSWER_S", "measure", "run"]

#: Seconds a late click's synchronization waits in its worker (``gui_busy_feedback_ms``):
#: a slow network's answer, long enough for the busy line to be painted before it.
LATE_ANSWER_S = 0.3


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

    from ._scene import BusyWatch, RangeWatch, ready_and_idle

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

    ready_and_idle(widget, timeout_s)  # the first click: on panels drawn, the window idle
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
    answers = []  # per timed click: what it shows (napari_floor replays them)
    flashed.clear()
    ranges.clear()
    placed0 = anchor.placements
    for x, y in points:
        m, r, outcome = one(x, y)
        markers.append(m)
        rendered.append(r)
        parts.append(breakdown(m, r, outcome))
        answers.append(shown_answer(widget))
    # at once, from the state the timed clicks started from (the last point's answer):
    # the replay changes the same sections, click by click
    floor = napari_floor(viewer, widget, points, answers)
    ours = statistics.median(markers)
    out = {
        "gui_targets": len(widget.target_ids),
        "gui_atlas_id": widget.atlas_id,
        "gui_first_sync_ms": _ms(first_rendered),
        "gui_first_sync_markers_ms": _ms(first_markers),
        "gui_first_sync_worker_ms": {k: round(v, 2) for k, v in first.timings_ms.items()},
        "gui_first_sync_breakdown_ms": first_breakdown,
        "gui_clicks": len(points),
        "gui_click_to_markers_median_ms": _ms(ours),
        "gui_click_to_rendered_median_ms": _ms(statistics.median(rendered)),
        "gui_click_to_rendered_max_ms": _ms(max(rendered)),
        "gui_click_breakdown_median_ms": {
            k: round(statistics.median(p[k] for p in parts), 2) for k in parts[0]
        },
        "gui_clicks_no_busy_flash_share": round(1.0 - sum(flashed) / len(flashed), 3),
        **floor,
        "gui_click_to_napari_floor_ratio": round(
            _ms(ours) / floor["gui_click_napari_floor_ms"], 3),
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


def shown_answer(widget) -> dict:
    """What the layers show after a click: each target's section, pyramid (as set,
    napari's ``data_raw``) and placement, and each marker's point."""
    layers = widget.layers
    return {
        "images": {k: (layers.shown.get(k), lay.data_raw, np.array(lay.affine.affine_matrix))
                   for k, lay in layers.images.items() if k != "seed"},
        "markers": {k: np.array(m.data, dtype=float) for k, m in layers.markers.items()},
    }


def _floor_steps(widget, answers, images: bool = True) -> list:
    """Per answer, the napari setters that show it after the one before (the first after
    the last: the layers show the last answer now): ``(layer, data)`` for the pyramid of
    each target whose section changed, ``(layer, affine)`` for each new placement, one
    point per marker layer. Everything is computed here, before any timing."""
    layers = widget.layers
    steps = []
    for k, answer in enumerate(answers):
        before = answers[k - 1]
        data, affines = [], []
        if images:
            for key, (section, levels, affine) in answer["images"].items():
                old = before["images"].get(key)
                layer = layers.images.get(key)
                if layer is None or old is None:
                    continue
                if section != old[0]:
                    data.append((layer, levels))
                if section != old[0] or not np.array_equal(affine, old[2]):
                    affines.append((layer, affine))
        points = [(layers.markers[key], point) for key, point in answer["markers"].items()
                  if key in layers.markers and len(point) == 1]
        steps.append((data, affines, points))
    return steps


def _floor_drag(pending, stamps):
    """A plain napari mouse-drag callback (no plugin code): on the release, the next
    pending step's setters (:func:`_floor_steps`), then the time."""

    def floor_drag(_viewer, event):
        yield  # a click: the answer on the release, as the plugin's own callback
        while event.type == "mouse_move":
            yield
        data, affines, marks = pending.pop()
        for layer, levels in data:
            layer.data = levels
        for layer, affine in affines:
            layer.affine = affine
        for marker, point in marks:  # napari's cheapest public move of one point
            marker.data[0] = point[0]
            marker.refresh(thumbnail=False, highlight=False)
        stamps.append(time.perf_counter())

    return floor_drag


def _napari_own(callbacks) -> list:
    """The mouse callbacks that are not the plugin's (napari's own stay)."""
    return [c for c in callbacks
            if not getattr(c, "__module__", "").startswith("napari_allen_sync.")]


def _press_pick_s(canvas, positions) -> list:
    """vispy's picking render at each canvas pixel, as napari's canvas runs it on a press
    (``SceneCanvas.visual_at``), called directly: seconds each."""
    scene_canvas = canvas._vispy_canvas  # vispy's SceneCanvas behind napari's canvas
    times = []
    for pos in positions:
        t0 = time.perf_counter()
        scene_canvas.visual_at(tuple(float(v) for v in pos))
        times.append(time.perf_counter() - t0)
    return times


def napari_floor(viewer, widget, points, answers, passes: int = 2) -> dict:
    """What napari itself needs for the timed clicks' answers (see the module's
    documentation): the same presses on the seed, the plugin's mouse callbacks and its
    dims-range handler out, a plain mouse-drag callback that only sets the layers.

    Parameters
    ----------
    points : list of (x, y)
        The timed clicks' seed pixels.
    answers : list of dict
        What each timed click showed (:func:`shown_answer`); the layers show the last.
    passes : int
        Timed passes over the clicks with their section changes (then one moving the
        markers only).
    """
    from napari_allen_sync._napari.canvas import canvas_widget, send_click
    from napari_allen_sync._napari.layout import canvas_position

    canvas = canvas_widget(widget)
    seed = widget.layers.seed_layer
    positions = [canvas_position(viewer, seed, (y, x)) for x, y in points]
    full = _floor_steps(widget, answers)
    runs = [("full", full)] * passes + [("markers", _floor_steps(widget, answers, False))]
    pending, stamps = [], []
    drag, move = list(viewer.mouse_drag_callbacks), list(viewer.mouse_move_callbacks)
    anchor = widget.layers.dims_anchor
    viewer.dims.events.range.disconnect(anchor._on_range)
    viewer.mouse_drag_callbacks[:] = [*_napari_own(drag), _floor_drag(pending, stamps)]
    viewer.mouse_move_callbacks[:] = _napari_own(move)
    timed = {"full": [], "markers": [], "rendered": []}
    try:
        for kind, steps in runs:
            for pos, step in zip(positions, steps, strict=True):
                pending[:] = [step]
                n = len(stamps)
                t0 = time.perf_counter()
                send_click(canvas, pos, hold_s=0.0)
                if len(stamps) <= n:
                    raise RuntimeError("napari's floor callback did not run on the click")
                timed[kind].append(stamps[n] - t0)
                _render(viewer)
                if kind == "full":
                    timed["rendered"].append(time.perf_counter() - t0)
    finally:
        viewer.mouse_drag_callbacks[:] = drag
        viewer.mouse_move_callbacks[:] = move
        viewer.dims.events.range.connect(anchor._on_range)
    sections = [len(data) for data, _, _ in full]
    return {
        "gui_click_napari_floor_ms": _ms(statistics.median(timed["full"])),
        "gui_click_napari_floor_rendered_ms": _ms(statistics.median(timed["rendered"])),
        "gui_click_napari_floor_markers_only_ms": _ms(statistics.median(timed["markers"])),
        "gui_click_section_changes_median": statistics.median(sections),
        "gui_clicks_changing_sections_share": round(
            sum(n > 0 for n in sections) / len(sections), 3),
        "gui_click_napari_floor_placements_median": statistics.median(
            len(a) for _, a, _ in full),
        "gui_press_pick_ms": _ms(statistics.median(_press_pick_s(canvas, positions))),
    }


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


def read_ahead(widget, timeout_s: float = 120.0) -> dict:
    """How long the read-ahead of the sections a click can reach runs after the panels
    opened, and how many images it read (None: it had ended before it was watched)."""
    from napari_allen_sync._napari.canvas import process_events_until

    t0 = time.perf_counter()
    worker, images = widget.click.reading, []
    if worker is not None:
        worker.returned.connect(lambda loaded: images.append(len(loaded)))
    if not process_events_until(lambda: widget.click.reading is None, timeout_s):
        raise TimeoutError("the read-ahead did not end")
    process_events_until(lambda: bool(images) or worker is None, 1.0)
    return {"gui_read_ahead_ms": _ms(time.perf_counter() - t0),
            "gui_read_ahead_images": images[0] if images else None}


def run(n_clicks: int = 12) -> dict:
    """The GUI benchmark on the demo atlas; JSON-able figures."""
    from napari_allen_sync import demo

    from ._scene import open_demo_scene

    viewer, widget, opened = open_demo_scene(click=False)
    try:
        _, x, y = demo.demo_click()
        out = {"gui_open_scene_ms": _ms(opened)}
        out.update(read_ahead(widget))
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
