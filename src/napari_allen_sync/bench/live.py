"""Live cursor sync benchmark: the target markers follow real cursor moves.

The demo atlas (seed, three target experiments and the atlas: four targets) in a shown
napari window (needs a display; ``make bench`` provides one through Xvfb). One real click
first (the layout exists), then ``widget.set_live(True)`` and real Qt cursor moves
(``send_move``) over the seed image at about 120 Hz for about 3 s along a Lissajous path
within the central 60 % of the seed image. A move that is late by more than one period
is skipped, as a real mouse's moves are coalesced while the GUI is busy. Two paths:

- ``vertical``: mostly up and down (the sagittal target seldom changes section);
- ``horizontal``: crossing left to right (the sagittal target changes section often).

Per path (``live_<path>``):

- ``live_updates_per_s``: live frames drawn (``widget.live_updated``) / elapsed time.
- ``live_moves_per_s``: cursor moves the live sync saw (``widget.live.moves``) / elapsed;
  ``send_move_ms_median`` / ``_max``: time inside one ``send_move`` (napari handles a
  move synchronously); ``event_loop_ms_total`` / ``_max``: time in the Qt event loop
  between moves (frames applied, canvas repainted, image swaps);
  ``moves_sent`` / ``moves_skipped``: moves sent and skipped (GUI too late).
- ``live_started`` / ``live_dropped``: frames started, points superseded before
  their frame started (latest point wins).
- ``live_worker_ms_median``: ``timings_ms['total']`` (the worker's synchronization).
- ``live_apply_ms_median``: ``timings_ms['draw']`` (``move_live`` on the GUI thread).
- ``live_move_to_frame_ms_median`` / ``_p90``: from sending the move whose point a frame
  computed (matched by the frame's request x/y to the nearest point sent) to its
  ``live_updated`` signal: throttle wait + worker + hand-over + apply.
- ``live_image_swaps``: target images swapped in (``live_images_swapped`` keys);
  ``live_image_batches``: batches of swaps (``live_images_swapped`` signals; at most one
  per ``live_image_interval_s``, the pacing in seconds, :attr:`LiveController.IMAGE_INTERVAL_S
  <napari_allen_sync._napari.live_controller.LiveController.IMAGE_INTERVAL_S>`);
  ``live_stale_after_path``: targets still showing another section than their marker
  once the dock is idle after the path (should be 0: the last frame's sections are
  shown); ``live_sections_changed``: frame-to-frame section changes summed over the
  targets (``live_sections_changed_by_target`` per key).
- ``live_layers_created``: ``len(viewer.layers)`` after − before (should be 0).
- ``live_plugin_rate_per_s``: the plugin's own budget, 1000 / (worker + apply medians).
- ``live_dims_range_changes`` / ``live_dims_point_snaps``: napari dims range changes
  while the path was driven (new placements of targets: image swaps), and those that
  moved napari's dims point (on each, napari re-slices and redraws every layer; see
  ``bench gui``'s ``napari_range_change_ms``): 0 while the hidden dims anchor holds the
  range's start (:mod:`napari_allen_sync._napari.dims_anchor`);
  ``live_dims_anchor_placements``: times the anchor had to be placed again (a section
  reached below it: one re-slice each).
- ``moves_delivered``: moves napari handed to its ``mouse_move_callbacks`` (napari
  throttles them at 5 ms: a move that comes while its throttle timer runs waits for it);
  ``napari_one_point_moves_delivered``: the same for the baseline below.
- ``moves_per_s_live_off``: the same path with live sync off (moves only, no frames);
  ``moves_ratio_live_on_off``: live on / live off.
- ``napari_one_point_updates_per_s``: the same path, live off, with the simplest
  cursor-following napari offers (a ``mouse_move_callbacks`` entry setting one Points
  layer's one point): napari's own ceiling for a canvas that changes on every move on
  this machine; ``live_ratio_to_napari_one_point``: live sync (five markers, four
  targets) / that ceiling.
- napari's floor for this very scene, ``napari_scene_updates_per_s``. During the
  live-on run each live frame's drawn state is recorded (:class:`SceneRecord`, on
  ``live_updated``, once the frame is drawn; ``live_record_ms_median``: what reading it
  costs the live run's GUI thread): per marker layer its one point, its label (the
  ``label`` feature its text shows), the text's ``translation``, ``size`` and ``color``
  and the ring's ``border_color``; per image layer its pyramid (the very object,
  napari's ``data_raw``), its ``affine`` and ``opacity``. An image swap
  (``live_images_swapped``) is in the state of the frame after it. Then the same path
  is driven again, live off (the plugin's mouse callbacks installed, as for the
  one-point baseline), with a plain ``mouse_move_callbacks`` entry
  (:class:`SceneReplay`) that on the k-th delivered move applies the k-th recorded
  frame through napari's public setters only, every value precomputed, nothing of the
  plugin's code in the loop: each image whose pyramid changed its ``data``, each
  changed placement its ``affine``, a changed ``opacity``; each changed label written
  in the marker's features table and the text refreshed from it (``text.refresh``, as
  our layers do), a changed text ``size`` / ``translation`` / ``color`` and
  ``border_color``; then each of the five markers' point written in place and the
  layer's ``refresh(thumbnail=False, highlight=False)`` (as a live frame moves them,
  every frame). Counted as the baseline: a step applied on a delivered move, over the
  path's elapsed time. napari delivers more moves than the live run drew frames: the
  recorded frames are then replayed backwards and forwards again (:func:`ping_pong`),
  each step one the live run drew, with its image swaps at the same frames, so the
  replay has the live run's swaps per frame, not per second. The plugin's dims-range
  handler is out during the replay (as ``bench gui``'s floor); the hidden dims anchor
  layer stays. Afterwards the layers show again what they showed before. Not
  replayed: the Allen computation and its worker thread and hand-over, the plugin's
  label and ink choice, the readouts, the image loads (the pyramids are the live
  run's), layer names. ``napari_scene_markers_only_updates_per_s``: the same replay
  setting the five points only (labels, colours and images stay as at the live run's
  start). ``live_ratio_to_napari_scene`` = ``live_updates_per_s`` /
  ``napari_scene_updates_per_s``; ``napari_scene_ratio_to_one_point`` =
  ``napari_scene_updates_per_s`` / ``napari_one_point_updates_per_s`` (what drawing
  this scene at all costs napari). ``napari_scene_apply_ms_median`` (and
  ``_markers_only_``): ms inside the replay's setters per step (beside
  ``live_apply_ms_median``). ``napari_scene_frames_recorded``: live frames recorded;
  ``napari_scene_moves_delivered`` / ``napari_scene_updates``: moves delivered and
  steps applied (equal); ``napari_scene_image_swaps``, ``_affine_sets``,
  ``_label_changes``, ``_style_changes`` (text size, translation, colour, ring colour,
  image opacity): setters in the steps applied; ``napari_scene_dims_point_snaps``.
- Where an update's time goes, for the live run (``live_``), the scene replay
  (``napari_scene_``) and the one-point baseline (``napari_one_point_``):
  ``*_frame_interval_ms_median`` (between consecutive updates),
  ``*_sent_to_frame_ms_median`` (from the latest move sent before an update to it: for
  the live run throttle wait, worker, hand-over and apply; for the replays napari's
  move handling and the setters) and ``*_frame_to_next_move_ms_median`` (from an update
  to the next move sent: its repaint and the pacing). ``canvas_paints``: Qt paint
  events of napari's canvas during the path (an event filter); per update:
  ``live_canvas_paints_per_frame``, ``napari_scene_canvas_paints_per_update``,
  ``napari_one_point_canvas_paints_per_update``.

Like with like: the live run and the baseline drive the same path at the same pace,
through the same event loop, with the same callbacks installed, and count an update at
the same moment (the scene changed: the baseline's ``data`` set, the live frame drawn;
either is painted by the next canvas redraw). Between moves the loop runs Qt's events,
as a real event loop does; a move is sent no sooner than napari's mouse-move throttle
(5 ms) after napari delivered the previous one (``NAPARI_MOVE_THROTTLE_S``). Without
that wait, a callback that returns quickly (the live one, about 1 ms: it only starts
a worker) left napari's throttle timer running when the event loop was left, and the
next move then waited one whole event-loop turn (a canvas redraw) for it, while a
callback that takes longer than 5 ms (the baseline's ``data`` set, about 10 ms) never
did: about 1 move in 3 was held back on the live side only (``moves_delivered``).

Once per run:

- ``canvas_render_ms_median``: ``viewer.screenshot(canvas_only=True)`` with nothing
  changed (20×): what one redraw of the canvas costs with software OpenGL.
- ``live_engine_frames_per_s``: ``workers.synchronize_click(..., images=False)`` run
  500× in a loop on the demo source, no Qt: the engine's ceiling for live frames.
"""

from __future__ import annotations

import math
import statistics
import sys
import time

import numpy as np

from ._live_replay import (  # the replay's parts, also reached from here
    SceneRecord,
    SceneReplay,
    apply_scene_step,
    cycle_figures,
    per_update,
    ping_pong,
    scene_state,
    scene_step,
)

__all__ = ["SceneRecord", "SceneReplay", "apply_scene_step", "ping_pong", "run",
           "scene_floor", "scene_state", "scene_step"]

RATE_HZ = 120.0
#: napari's mouse-move throttle (``qthrottled(..., timeout=5)`` in its vispy canvas) and
#: a millisecond: the next move is sent once it has run out (see the module docstring).
NAPARI_MOVE_THROTTLE_S = 0.006
DURATION_S = 3.0
ENGINE_FRAMES = 500


def _ms(t) -> float:
    return round(t * 1e3, 2)


def _log(msg: str) -> None:
    print(f"bench live: {msg}", file=sys.stderr)


def lissajous(image, kind: str, n: int, fraction: float = 0.6) -> np.ndarray:
    """``n`` seed pixels (x, y) along a Lissajous path in the central ``fraction``."""
    t = np.linspace(0.0, 1.0, n, endpoint=False)
    cx, cy = image.width / 2, image.height / 2
    hw, hh = fraction * image.width / 2, fraction * image.height / 2
    if kind == "vertical":  # up and down, a little sideways
        x = cx + 0.08 * hw * np.sin(2 * np.pi * 2 * t)
        y = cy + hh * np.sin(2 * np.pi * 3 * t + np.pi / 2)
    else:  # crossing left to right, a little up and down
        x = cx + hw * np.sin(2 * np.pi * 3 * t + np.pi / 2)
        y = cy + 0.15 * hh * np.sin(2 * np.pi * 2 * t)
    return np.column_stack([x, y])


def canvas_render(viewer, n: int = 20) -> float:
    """Median ms of a canvas render with nothing changed."""
    viewer.screenshot(canvas_only=True)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        viewer.screenshot(canvas_only=True)
        times.append(time.perf_counter() - t)
    return _ms(statistics.median(times))


def engine_frames(widget, n: int = ENGINE_FRAMES, seed: int = 3) -> dict:
    """``synchronize_click`` with ``images=False`` in a loop, no Qt."""
    from napari_allen_sync.session import workflow as workers

    image = widget.seed_image
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0.2, 0.8, (n, 2)) * [image.width, image.height]
    shown = dict(widget.layers.shown)
    times = []
    for i, (x, y) in enumerate(pts):
        request = workers.SyncRequest(
            i, image.id, float(x), float(y), tuple(widget.target_ids), widget.atlas_id,
            shown, images=False,
        )
        t = time.perf_counter()
        gen = workers.synchronize_click(widget.source, request)
        try:
            while True:
                next(gen)
        except StopIteration as stop:
            outcome = stop.value
        times.append(time.perf_counter() - t)
        assert outcome is not None
    total = sum(times)
    return {
        "live_engine_frames": n,
        "live_engine_frames_per_s": round(n / total, 1),
        "live_engine_frame_ms_median": _ms(statistics.median(times)),
    }


def drive(viewer, widget, points, live: bool, rate_hz: float = RATE_HZ,
          baseline: bool = False, record: SceneRecord | None = None,
          replay: SceneReplay | None = None) -> dict:
    """Send real cursor moves to the seed points ``(x, y)`` at ``rate_hz``.

    With ``baseline`` (live off), a plain napari mouse-move callback moves the seed
    marker's one point to the cursor on each move: napari's own ceiling for a canvas
    that changes on every move, on this machine. With ``record`` (live on), each live
    frame's drawn state is recorded (:class:`SceneRecord`, truncated to the frames
    drawn during the path). With ``replay`` (live off), that callback is
    :class:`SceneReplay`: the recorded frames, one per delivered move; the layers show
    what they showed before once the path is done.
    """
    from qtpy.QtWidgets import QApplication

    from napari_allen_sync._napari.canvas import canvas_widget, process_events_until
    from napari_allen_sync._napari.layout import canvas_position

    from ._scene import RangeWatch

    app = QApplication.instance()
    canvas = canvas_widget(widget)
    seed = widget.layers.seed_layer
    positions = [canvas_position(viewer, seed, (float(y), float(x))) for x, y in points]
    widget.set_live(live)
    frames, swaps = [], []

    def on_frame(outcome):
        frames.append((time.perf_counter(), outcome))

    batches = []

    def on_swap(keys):
        swaps.extend(keys)
        batches.append(len(keys))

    widget.live_updated.connect(on_frame)
    widget.live_images_swapped.connect(on_swap)
    extras = [x for x in (OnePoint(widget) if baseline else None, record, replay) if x]
    for extra in extras:
        extra.install()
    anchor = widget.layers.dims_anchor
    delivered = []  # when napari handed a move to its callbacks (after ours and the extras)

    def stamp(_viewer, _event):
        delivered.append(time.perf_counter())

    viewer.mouse_move_callbacks.append(stamp)
    n_layers = len(viewer.layers)
    moves0, started0, dropped0 = widget.live.moves, widget.live.started, widget.live.dropped
    watch = RangeWatch(viewer)
    placed0 = anchor.placements
    paints = PaintCount(canvas)
    n_frames = 0
    try:
        paced = _send_paced_moves(app, canvas, points, positions, 1.0 / rate_hz,
                                  lambda: delivered[-1] if delivered else -1e9)
        n_delivered = len(delivered)
        n_paints = paints.count
        sent, send_s, loop_s, skipped, elapsed = paced
        n_frames = len(frames)
        moves = widget.live.moves - moves0
        snaps, ranges = watch.snaps, watch.count
        placed = anchor.placements - placed0
        # let the frame in flight and the image loads finish (not counted in the rates)
        process_events_until(lambda: _idle(widget), 30.0)
        stale_after = len(widget.layers.stale_images())
        process_events_until(lambda: False, 0.2)
    finally:
        watch.close()
        paints.close()
        widget.live_updated.disconnect(on_frame)
        widget.live_images_swapped.disconnect(on_swap)
        viewer.mouse_move_callbacks.remove(stamp)
        widget.set_live(False)
        for extra in extras:
            extra.remove(n_frames)
    out = {
        "moves_sent": len(sent),
        "moves_skipped": skipped,
        "elapsed_s": round(elapsed, 3),
        "moves_sent_per_s": round(len(sent) / elapsed, 1),
        "moves_delivered": n_delivered,
        "send_move_ms_median": _ms(statistics.median(send_s)),
        "send_move_ms_max": _ms(max(send_s)),
        "event_loop_ms_total": _ms(sum(loop_s)),
        "event_loop_ms_max": _ms(max(loop_s, default=0.0)),
        "canvas_paints": n_paints,
    }
    for extra in extras:
        out.update(extra.figures(elapsed, n_paints, snaps, sent))
    if not live:
        return out
    latency, worker, apply, changes = _frame_figures(frames, sent)
    w_med = statistics.median(worker) if worker else math.nan
    a_med = statistics.median(apply) if apply else math.nan
    out.update({
        "live_frames": n_frames,
        "live_frames_after_path": len(frames) - n_frames,
        "live_updates_per_s": round(n_frames / elapsed, 1),
        "live_moves_per_s": round(moves / elapsed, 1),
        "live_started": widget.live.started - started0,
        "live_dropped": widget.live.dropped - dropped0,
        "live_worker_ms_median": round(w_med, 2),
        "live_apply_ms_median": round(a_med, 2),
        "live_move_to_frame_ms_median": _ms(statistics.median(latency)) if latency else None,
        "live_move_to_frame_ms_p90": (_ms(float(np.percentile(latency, 90)))
                                      if latency else None),
        "live_image_swaps": len(swaps),
        "live_image_batches": len(batches),
        "live_image_interval_s": getattr(widget.live_sync, "IMAGE_INTERVAL_S", 0.0),
        "live_stale_after_path": stale_after,
        "live_sections_changed": sum(changes.values()),
        "live_sections_changed_by_target": changes,
        "live_layers_created": len(viewer.layers) - n_layers,
        "live_plugin_rate_per_s": round(1000.0 / (w_med + a_med), 1) if frames else None,
        "live_dims_range_changes": ranges,
        "live_dims_point_snaps": snaps,
        "live_dims_anchor_placements": placed,
        "live_canvas_paints_per_frame": per_update(n_paints, n_frames),
        **cycle_figures("live", [t for t, _ in frames[:n_frames]], sent),
    })
    return out


class OnePoint:
    """:func:`drive`'s napari baseline: a plain ``mouse_move_callbacks`` entry that moves
    the seed marker's one point to the cursor on each move (``data`` setter)."""

    def __init__(self, widget):
        self.widget = widget
        self.marker = widget.layers.markers["seed"]
        self.kept = (self.marker.data.copy(), self.marker.features.copy())
        self.moves: list = []  # perf_counter of each point set

    def __call__(self, _viewer, event) -> None:  # the simplest live view napari offers
        self.marker.data = np.asarray([event.position[-2:]], dtype=float)
        self.moves.append(time.perf_counter())

    def install(self) -> None:
        self.widget.viewer.mouse_move_callbacks.append(self)

    def remove(self, _n_frames: int = 0) -> None:
        self.widget.viewer.mouse_move_callbacks.remove(self)
        self.marker.data = self.kept[0]
        self.marker.features = self.kept[1]

    def figures(self, elapsed: float, n_paints: int, _snaps: int, sent) -> dict:
        return {"napari_one_point_updates_per_s": round(len(self.moves) / elapsed, 1),
                "napari_one_point_canvas_paints_per_update": per_update(n_paints, len(self.moves)),
                **cycle_figures("napari_one_point", self.moves, sent)}


class PaintCount:
    """Counts Qt paint events of napari's canvas (its redraws), with an event filter
    that lets every event through."""

    def __init__(self, canvas):
        from qtpy.QtCore import QEvent, QObject

        self.canvas, self.count = canvas, 0
        counter = self

        class _Filter(QObject):
            def eventFilter(self, obj, event):
                if event.type() == QEvent.Type.Paint:
                    counter.count += 1
                return False

        self._filter = _Filter()
        canvas.installEventFilter(self._filter)

    def close(self) -> None:
        self.canvas.removeEventFilter(self._filter)


def scene_floor(viewer, widget, points, record, on, base) -> dict:
    """napari's floor for the recorded live run (see the module's documentation): the
    same path, live off, replayed with every frame's setters, then with the points only.
    ``on`` and ``base``: the live run's and the one-point baseline's figures."""
    _log(f"napari scene replay ({len(record.frames)} live frames recorded)")
    scene = drive(viewer, widget, points, live=False,
                  replay=SceneReplay(widget, record, len(points)))
    _log("napari scene replay, markers' points only")
    only = drive(viewer, widget, points, live=False,
                 replay=SceneReplay(widget, record, len(points), full=False))
    rate = scene["scene_updates_per_s"]
    out = {"napari_scene_frames_recorded": len(record.frames),
           "napari_scene_moves_delivered": scene["moves_delivered"],
           "napari_scene_markers_only_updates_per_s": only["scene_updates_per_s"],
           "napari_scene_markers_only_apply_ms_median": only["scene_apply_ms_median"]}
    for key, value in scene.items():
        if key.startswith("scene_"):
            out[f"napari_{key}"] = value
    out["live_ratio_to_napari_scene"] = round(on["live_updates_per_s"] / rate, 3) if rate else None
    out["napari_scene_ratio_to_one_point"] = round(
        rate / base["napari_one_point_updates_per_s"], 3)
    return out


def _idle(widget) -> bool:
    """No worker running or still handing its answer over, no image load waiting for
    its turn, no live point waiting for the throttle (as the widget tests wait)."""
    live = widget.live
    return (not widget.running_workers() and not widget.runner.workers
            and live.pending is None and not live.in_flight)


def run() -> dict:
    """The live-sync benchmark on the demo atlas; JSON-able figures."""
    from napari_allen_sync._napari.canvas import process_events_until

    from ._scene import open_demo_scene

    viewer, widget, opened = open_demo_scene()
    try:
        out = {"live_open_scene_ms": _ms(opened), "live_targets": len(widget.target_ids)
               + (1 if widget.atlas_id else 0)}
        _log("canvas render")
        out["canvas_render_ms_median"] = canvas_render(viewer)
        _log("engine frames")
        out.update(engine_frames(widget))
        n = int(RATE_HZ * DURATION_S)
        for kind in ("vertical", "horizontal"):
            points = lissajous(widget.seed_image, kind, n)
            _log(f"{kind} path, live off")
            off = drive(viewer, widget, points, live=False)
            _log(f"{kind} path, live on")
            record = SceneRecord(widget)
            on = drive(viewer, widget, points, live=True, record=record)
            on["moves_per_s_live_off"] = off["moves_sent_per_s"]
            on["moves_skipped_live_off"] = off["moves_skipped"]
            on["moves_ratio_live_on_off"] = round(
                on["moves_sent_per_s"] / off["moves_sent_per_s"], 3)
            _log(f"{kind} path, napari baseline (one point follows the cursor)")
            base = drive(viewer, widget, points, live=False, baseline=True)
            on["napari_one_point_updates_per_s"] = base["napari_one_point_updates_per_s"]
            on["napari_one_point_moves_delivered"] = base["moves_delivered"]
            on["live_ratio_to_napari_one_point"] = round(
                on["live_updates_per_s"] / base["napari_one_point_updates_per_s"], 3)
            on.update({k: v for k, v in base.items() if k.startswith("napari_one_point_")
                       and k != "napari_one_point_updates_per_s"})
            on.update(scene_floor(viewer, widget, points, record, on, base))
            out[f"live_{kind}"] = on
            process_events_until(lambda: False, 0.3)
        widget.close()
        return out
    finally:
        viewer.close()


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(), indent=1))


def _send_paced_moves(app, canvas, points, positions, period, delivered=lambda: -1e9):
    """Send one cursor move per point every ``period`` seconds, processing Qt events in
    between; when the GUI was busy, the moves in between are coalesced (skipped). A move
    is sent no sooner than :data:`NAPARI_MOVE_THROTTLE_S` after ``delivered()``, the
    time napari last handed a move to its callbacks.

    Returns ``(sent, send_s, loop_s, skipped, elapsed)``: the moves sent as
    ``(time, x, y)``, the seconds inside each ``send_move`` and each ``processEvents``,
    the moves skipped and the seconds it all took.
    """
    from napari_allen_sync._napari.canvas import send_move

    sent = []  # (time, x, y)
    send_s, loop_s = [], []  # time inside send_move, inside one processEvents
    skipped = 0
    t0 = time.perf_counter()
    i = 0
    while i < len(points):
        due = t0 + i * period
        now = time.perf_counter()
        ready = max(due, delivered() + NAPARI_MOVE_THROTTLE_S)
        if now < ready:
            t = time.perf_counter()
            app.processEvents()
            loop_s.append(time.perf_counter() - t)
            time.sleep(min(0.001, max(0.0, ready - time.perf_counter())))
            continue
        late = int((now - due) / period)
        if late >= 1:  # the GUI was busy: the moves in between are coalesced
            skipped += min(late, len(points) - 1 - i)
            i = min(i + late, len(points) - 1)
        x, y = points[i]
        sent.append((time.perf_counter(), float(x), float(y)))
        send_move(canvas, positions[i])
        send_s.append(time.perf_counter() - sent[-1][0])
        i += 1
    return sent, send_s, loop_s, skipped, time.perf_counter() - t0


def _frame_figures(frames, sent):
    """Per live frame: the move-to-frame latency (from the latest move nearest to the
    frame's request), the worker and draw milliseconds; and the section changes per
    target. Returns ``(latency, worker, apply, changes)``."""
    sent_t = np.array([s[0] for s in sent])
    sent_xy = np.array([s[1:] for s in sent])
    latency, worker, apply = [], [], []
    changes: dict = {}
    last_section: dict = {}
    for t, outcome in frames:
        worker.append(outcome.timings_ms.get("total", math.nan))
        apply.append(outcome.timings_ms.get("draw", math.nan))
        before = np.flatnonzero(sent_t <= t)
        if len(before):
            d = np.hypot(*(sent_xy[before] - [outcome.request.x, outcome.request.y]).T)
            k = before[np.flatnonzero(d <= d.min() + 1e-6)[-1]]  # the latest nearest
            latency.append(t - sent_t[k])
        for h in outcome.hits[1:]:
            prev = last_section.get(h.key)
            if prev is not None and prev != h.section_image_id:
                changes[h.key] = changes.get(h.key, 0) + 1
            last_section[h.key] = h.section_image_id
    return latency, worker, apply, changes
