"""Live cursor sync, the dock's side: start a frame for the throttle, draw it, load the
images of the sections frames moved to, and keep the readouts at a readable pace.

A mixin of :class:`~napari_allen_sync._napari.widget.AllenSyncWidget` (which holds the
state and the Qt signals); the throttle and the napari callback are
:class:`~napari_allen_sync._napari.live.LiveCursor`.
"""

from __future__ import annotations

import time

from . import workers
from .live import LIVE_MODIFIER

__all__ = ["LiveSyncMixin"]


class LiveSyncMixin:
    """The live-sync methods of the dock widget."""

    #: Fastest refresh of the readouts (table, reference point) during live sync (s).
    LIVE_READOUT_INTERVAL_S = 0.2

    def set_live(self, enabled: bool) -> None:
        """Turn live sync on or off: the markers follow the cursor over the seed image
        (holding Shift does the same while it is off)."""
        enabled = bool(enabled)
        if enabled and not self.live.enabled:
            self._live_errors.clear()
        self.live.enabled = enabled
        if not enabled:
            self.live.reset()
        if self.readout_view.live.isChecked() != enabled:
            self.readout_view.live.blockSignals(True)
            self.readout_view.live.setChecked(enabled)
            self.readout_view.live.blockSignals(False)

    @property
    def live_modifier(self) -> str:
        """The key that turns live sync on while held."""
        return LIVE_MODIFIER

    def _live_request(self, point) -> bool:
        """Start one live frame for the seed point ``(row, col)`` (called by the throttle)."""
        if self._closed or self.source is None or self.seed_image is None:
            return False
        row, col = point
        keys = ["seed", *(f"ds:{d}" for d in self.target_ids)]
        if self.atlas_id:
            keys.append(f"atlas:{self.atlas_id}")
        # a target without layers yet (a new seed, a target just added): this frame
        # prepares its image as a click does, so that it can be drawn
        ready = all(k in self.layers.images and k in self.layers.markers for k in keys)
        request = workers.SyncRequest(
            self._generation, self.seed_image.id, float(col), float(row),
            tuple(self.target_ids), self.atlas_id, dict(self.layers.shown),
            view=self.layers.view_for(len(keys), (float(row), float(col))), images=not ready,
        )
        worker = self._start(
            workers.synchronize_click, self.source, request, desc="live sync",
            returned=self._on_live_frame, errored=self._on_live_error,
            finished=self.live.done, progress=False,
        )
        return worker is not None

    def _on_live_error(self, exc: Exception) -> None:
        # one notification per kind of problem while live sync runs, not one per frame
        # or per image (a click, or turning live sync on again, reports anew)
        kind = (type(exc).__name__, str(getattr(exc, "message", None) or exc))
        if kind not in self._live_errors:
            self._live_errors.add(kind)
            self._on_error(exc)

    def _on_live_frame(self, outcome) -> None:
        if self._closed or outcome.request.generation != self._generation:
            return
        t0 = time.perf_counter()
        names = self._names(outcome.hits)
        if not self.layers.move_live(outcome, names):
            self.layers.show_outcome(outcome, names)
        outcome.timings_ms["draw"] = (time.perf_counter() - t0) * 1e3
        self.last_outcome = outcome
        self._last_click = (float(outcome.request.x), float(outcome.request.y))
        self._load_stale_images()
        self._readouts_pending = (outcome, names)
        wait = self.LIVE_READOUT_INTERVAL_S - (time.perf_counter() - self._readouts_at)
        if wait <= 0:
            self._flush_readouts()
        elif not self._readouts_timer.isActive():
            self._readouts_timer.start(max(1, int(wait * 1000 + 0.5)))
        self.live_updated.emit(outcome)

    def _load_stale_images(self) -> None:
        """Load, one batch at a time in a worker, the images of the sections live frames
        moved the markers to; each is shown if its target still wants it."""
        if self._images_worker is not None or self._closed or self.source is None:
            return
        # an image whose load failed is not asked again by itself (no retry loop): the
        # error was shown once; the next click, or a later frame that wants it, retries
        stale = [item for item in self.layers.stale_images()
                 if item[1].id not in self._failed_images]
        if not stale:
            return
        n_keys = len(self.layers.order)
        view = None
        if self._last_click is not None:
            view = self.layers.view_for(n_keys, self._last_click[::-1])

        def finished():
            self._images_worker = None
            self._load_stale_images()

        def errored(exc):
            self._failed_images.update(item[1].id for item in stale)
            self._on_live_error(exc)

        self._images_worker = self._start(
            workers.load_images, self.source, tuple(stale), view, desc="live images",
            returned=self._on_live_images, errored=errored, finished=finished,
            progress=False,
        )

    def _on_live_images(self, loaded) -> None:
        if self._closed:
            return
        swapped = self.layers.swap_images(loaded)
        if swapped:
            self.live_images_swapped.emit(swapped)

    def _flush_readouts(self) -> None:
        """Show the latest live frame's readouts (throttled: a table is slow to fill)."""
        if self._closed or self._readouts_pending is None:
            return
        outcome, names = self._readouts_pending
        self._readouts_pending = None
        if outcome.request.generation == self._generation:
            self._readouts_at = time.perf_counter()
            self.layers.update_features(outcome)
            self._show_readouts(outcome, names, history=False)
