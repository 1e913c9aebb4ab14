"""napari's floor for a live run, replayed (``bench live``): what the live layers show
(:func:`scene_state`), each live frame recorded (:class:`SceneRecord`), and the recorded
frames set again by a plain napari mouse-move callback with public setters only
(:class:`SceneReplay`, :func:`scene_step`, :func:`apply_scene_step`), so that the live
run can be compared with napari drawing the very same scene with no plugin code in the
loop (see :mod:`napari_allen_sync.bench.live`, which drives both).
"""

from __future__ import annotations

import itertools
import statistics
import time

import numpy as np

__all__ = ["SceneRecord", "SceneReplay", "apply_scene_step", "cycle_figures", "per_update",
           "ping_pong", "scene_state", "scene_step"]


def _ms(t) -> float:
    return round(t * 1e3, 2)


def cycle_figures(prefix: str, updates, sent) -> dict:
    """Where one update's cycle goes: medians of the time between consecutive updates
    (``_frame_interval_ms_median``), from the latest move sent before an update to it
    (``_sent_to_frame_ms_median``) and from an update to the next move sent
    (``_frame_to_next_move_ms_median``: its repaint and the pacing)."""
    sent_t = np.array([s[0] for s in sent])
    to_frame, after = [], []
    for t in updates:
        k = np.searchsorted(sent_t, t)  # sent_t[k - 1] <= t < sent_t[k]
        if k:
            to_frame.append(t - sent_t[k - 1])
        if k < len(sent_t):
            after.append(sent_t[k] - t)

    def med(values):
        return _ms(statistics.median(values)) if len(values) else None

    return {f"{prefix}_frame_interval_ms_median": med(np.diff(updates)),
            f"{prefix}_sent_to_frame_ms_median": med(to_frame),
            f"{prefix}_frame_to_next_move_ms_median": med(after)}


def per_update(n, d):
    return round(n / d, 2) if d else None


def scene_state(widget) -> dict:
    """What the live layers show now, as napari holds it: per marker layer with one
    point its point, label (the text drawn), the text's translation, size and colour and
    the ring's colour; per image layer its pyramid (as set, napari's ``data_raw``),
    placement and opacity. Copies, except the pyramids (the very objects)."""
    layers = widget.layers
    markers = {}
    for key, m in layers.markers.items():
        table = m.features
        if len(m.data) != 1 or len(table) != 1 or "label" not in table:
            continue
        text = m.text
        colour = getattr(text.color, "constant", None)
        markers[key] = {
            "point": np.array(m.data[0], dtype=float),
            "label": str(table.at[0, "label"]),
            "translation": np.array(np.broadcast_to(text.translation, (2,)), dtype=float),
            "size": float(text.size),
            "color": None if colour is None else np.array(colour, dtype=float),
            "border": np.array(m.border_color[0], dtype=float),
        }
    images = {key: {"levels": lay.data_raw,
                    "affine": np.array(lay.affine.affine_matrix, dtype=float),
                    "opacity": float(lay.opacity)}
              for key, lay in layers.images.items()}
    return {"markers": markers, "images": images}


def _changed(a, b) -> bool:
    if a is None or b is None:
        return a is not b
    return not np.array_equal(a, b)


def scene_step(widget, before: dict, after: dict, full: bool = True) -> tuple:
    """The napari setters that take the layers from ``before`` to ``after``
    (:func:`scene_state`): ``(images, texts, points)``, each entry a layer and the new
    values (None: unchanged). Every marker's point is set, as a live frame sets it;
    with ``full`` False only the points (no text, colour or image change)."""
    layers = widget.layers
    images, texts = [], []
    if full:
        for key, want in after["images"].items():
            layer, old = layers.images.get(key), before["images"].get(key)
            if layer is None or old is None:
                continue
            change = (want["levels"] if want["levels"] is not old["levels"] else None,
                      want["affine"] if _changed(want["affine"], old["affine"]) else None,
                      want["opacity"] if want["opacity"] != old["opacity"] else None)
            if any(v is not None for v in change):
                images.append((layer, *change))
        for key, want in after["markers"].items():
            marker, old = layers.markers.get(key), before["markers"].get(key)
            if marker is None or old is None:
                continue
            change = (want["label"] if want["label"] != old["label"] else None,
                      want["translation"] if _changed(want["translation"], old["translation"])
                      else None,
                      want["size"] if want["size"] != old["size"] else None,
                      want["color"] if _changed(want["color"], old["color"]) else None,
                      want["border"] if _changed(want["border"], old["border"]) else None)
            if any(v is not None for v in change):
                texts.append((marker, *change))
    points = [(layers.markers[key], want["point"]) for key, want in after["markers"].items()
              if key in layers.markers]
    return images, texts, points


def apply_scene_step(step) -> None:
    """One :func:`scene_step` through napari's public setters only: an image's ``data``,
    ``affine``, ``opacity``; a marker's label written in its features table and its
    text refreshed from it, the text's ``size``, ``translation``, ``color``, the ring's
    ``border_color``; then each marker's one point written in place and the layer's
    ``refresh(thumbnail=False, highlight=False)`` (as the live frames move them)."""
    images, texts, points = step
    _apply_images(images)
    _apply_texts(texts)
    for marker, point in points:
        marker.data[0] = point
        marker.refresh(thumbnail=False, highlight=False)


def _apply_images(images) -> None:
    for layer, levels, affine, opacity in images:
        if levels is not None:
            layer.data = levels
        if affine is not None:
            layer.affine = affine
        if opacity is not None:
            layer.opacity = opacity


def _apply_texts(texts) -> None:
    for marker, label, translation, size, colour, border in texts:
        if label is not None:
            marker.features.at[0, "label"] = label
            marker.text.refresh(marker.features)
        if size is not None:
            marker.text.size = size
        if translation is not None:
            marker.text.translation = translation
        if colour is not None:
            marker.text.color = colour
        if border is not None:
            marker.border_color = border


class SceneRecord:
    """The live run's drawn states: :attr:`start` before its first frame, then one per
    live frame (``widget.live_updated``, after the frame was drawn; an image swap shows
    in the next frame's state)."""

    def __init__(self, widget):
        self.widget = widget
        self.start = scene_state(widget)
        self.frames: list = []
        self.record_s: list = []  # seconds spent reading each frame's state

    def on_frame(self, _outcome=None) -> None:
        t = time.perf_counter()
        self.frames.append(scene_state(self.widget))
        self.record_s.append(time.perf_counter() - t)

    def install(self) -> None:
        """Record from now on (after :func:`drive`'s own frame count)."""
        self.widget.live_updated.connect(self.on_frame)

    def remove(self, n_frames: int) -> None:
        """Stop recording; keep the ``n_frames`` frames drawn during the path."""
        self.widget.live_updated.disconnect(self.on_frame)
        del self.frames[n_frames:]

    def figures(self, *_) -> dict:
        """What recording cost the live run (on the GUI thread, after each frame)."""
        times = self.record_s
        return {"live_record_ms_median": _ms(statistics.median(times)) if times else None}


def ping_pong(n_frames: int, n: int) -> list:
    """``n`` frame indices 0, 1, …, last, last − 1, …, 0, 1, …: each step one the live
    run drew (backwards on the way back)."""
    if n_frames <= 1:
        return [0] * n if n_frames else []
    period = 2 * (n_frames - 1)
    return [i if i < n_frames else period - i for i in (k % period for k in range(n))]


class SceneReplay:
    """napari's floor for a recorded live run: a plain ``mouse_move_callbacks`` entry
    that, on the k-th delivered move, applies the k-th precomputed step
    (:func:`scene_step`, :func:`apply_scene_step`) over the recorded frames
    (:func:`ping_pong` once they run out); no plugin code in the loop.

    Parameters
    ----------
    widget : AllenSyncWidget
    record : SceneRecord
    n : int
        Steps to precompute (at most one per move sent).
    full : bool
        False: the points only (:func:`scene_step`).
    """

    def __init__(self, widget, record: SceneRecord, n: int, full: bool = True):
        self.widget, self.record, self.full = widget, record, full
        self.order = ping_pong(len(record.frames), n)
        states = [record.start, *(record.frames[i] for i in self.order)]
        self.states = states
        self.steps = [scene_step(widget, a, b, full) for a, b in itertools.pairwise(states)]
        self.applied: list = []  # perf_counter after each step
        self.apply_s: list = []  # seconds inside each step's setters
        self.kept = None
        self._anchor = widget.layers.dims_anchor._on_range  # the plugin's range handler

    def install(self) -> None:
        """:meth:`prepare`, then the plugin's dims-range handler out (as ``bench gui``'s
        floor) and this callback in napari's ``mouse_move_callbacks``."""
        from napari_allen_sync._napari.canvas import process_events_until

        viewer = self.widget.viewer
        self.prepare()
        process_events_until(lambda: False, 0.2)
        viewer.dims.events.range.disconnect(self._anchor)
        viewer.mouse_move_callbacks.append(self)

    def remove(self, _n_frames: int = 0) -> None:
        """The callback out, the range handler back, the layers restored (:meth:`restore`)."""
        from napari_allen_sync._napari.canvas import process_events_until

        viewer = self.widget.viewer
        viewer.mouse_move_callbacks.remove(self)
        viewer.dims.events.range.connect(self._anchor)
        self.restore()
        process_events_until(lambda: False, 0.2)

    def prepare(self) -> None:
        """Show the recorded start (untimed); keep what the layers showed."""
        self.kept = scene_state(self.widget)
        apply_scene_step(scene_step(self.widget, self.kept, self.record.start))

    def restore(self) -> None:
        """Show again what the layers showed before :meth:`prepare`."""
        if self.kept is not None:
            now = scene_state(self.widget)
            apply_scene_step(scene_step(self.widget, now, self.kept))

    def __call__(self, _viewer, _event) -> None:
        k = len(self.applied)
        if k >= len(self.steps):
            return
        t = time.perf_counter()
        apply_scene_step(self.steps[k])
        self.applied.append(time.perf_counter())
        self.apply_s.append(self.applied[-1] - t)

    def figures(self, elapsed: float, n_paints: int, snaps: int, sent) -> dict:
        """The replay's figures for :func:`drive` (``scene_`` keys)."""
        done = len(self.applied)
        return {
            "scene_updates": done,
            "scene_updates_per_s": round(done / elapsed, 1),
            "scene_apply_ms_median": (_ms(statistics.median(self.apply_s))
                                      if self.apply_s else None),
            "scene_canvas_paints_per_update": per_update(n_paints, done),
            "scene_dims_point_snaps": snaps,
            **{f"scene_{k}": v for k, v in self.counts().items()},
            **cycle_figures("scene", self.applied, sent),
        }

    def counts(self) -> dict:
        """Setters in the steps applied: image pyramids, placements, labels."""
        done = self.steps[:len(self.applied)]
        return {
            "image_swaps": sum(lv is not None for s in done for _, lv, _, _ in s[0]),
            "affine_sets": sum(a is not None for s in done for _, _, a, _ in s[0]),
            "label_changes": sum(lab is not None for s in done for _, lab, *_ in s[1]),
            "style_changes": sum(any(v is not None for v in rest)
                                 for s in done for _, _, *rest in s[1])
            + sum(op is not None for s in done for *_, op in s[0]),
        }
