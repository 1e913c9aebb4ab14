"""Live cursor sync, the dock's side: start a frame for the throttle, draw it, load the
images of the sections frames moved to, and show the readouts once the cursor rests.

:class:`LiveController` owns the napari callback and throttle
(:class:`~napari_allen_sync._napari.live.LiveCursor`), its image worker and its readout
timer; the live mode itself is the session's :attr:`~napari_allen_sync.session.Session.live`.

Markers follow every frame; the images of the sections they moved to are paced: one
batch of loads at a time, started at most every :attr:`LiveController.IMAGE_INTERVAL_S`
after the previous batch was shown, always for the sections the latest frame wants.
Each swap gives a target a new placement, which changes napari's dims range and makes
napari re-slice every layer; pacing the swaps leaves those frames to the markers. A
load waiting for its turn is scheduled with :meth:`Runner.schedule
<napari_allen_sync._napari.runner.Runner.schedule>`, so it counts as a running worker
(the dock is not idle until the last frame's sections are shown).

The readouts (the results table, the reference point, the markers' features) follow
the cursor when it rests: :attr:`LiveController.READOUT_REST_S` after the last frame,
and at least every :attr:`LiveController.READOUT_INTERVAL_S` while it keeps moving.
Filling the table costs the GUI thread about as much as moving every marker, so
while the cursor moves the frames go to the markers.
"""

from __future__ import annotations

import time

from qtpy.QtCore import QTimer

from ..session import workflow
from .click_controller import hit_names
from .live import LIVE_MODIFIER, LiveCursor

__all__ = ["LiveController"]


class LiveController:
    """Live sync of one dock (see the module's documentation)."""

    #: The readouts (table, reference point) are shown once no live frame has come for
    #: this long (s): the cursor rests.
    READOUT_REST_S = 0.15
    #: Longest time between two refreshes of the readouts while the cursor keeps moving (s).
    READOUT_INTERVAL_S = 1.0
    #: Shortest time from one batch of live image swaps to the start of the next (s).
    IMAGE_INTERVAL_S = 0.25

    def __init__(self, dock):
        self.dock = dock
        self.session = dock.session
        self.runner = dock.runner
        self.errors: set = set()  # kinds of problem live sync has reported
        self.failed_images: set = set()  # live image loads that failed (not retried)
        self.images_worker = None
        self.images_scheduled = None  # a paced load waiting for its turn (Scheduled)
        self.images_at = -1e9  # perf_counter of the last batch of swaps shown
        self.readouts_since = None  # perf_counter of the oldest frame not in the readouts
        self.readouts_pending = None
        self.readouts_timer = QTimer(dock)
        self.readouts_timer.setSingleShot(True)
        self.readouts_timer.timeout.connect(self.flush_readouts)
        self.cursor = LiveCursor(dock.viewer, dock.click_callback.hit, self.request)
        self.cursor.install()
        self.session.events.live.connect(self._on_live)
        self.session.events.seed_image.connect(lambda *_: self.cursor.reset())
        self.runner.disconnect.append(self.cursor.remove)

    modifier = LIVE_MODIFIER

    def _on_live(self, enabled: bool) -> None:
        if enabled and not self.cursor.enabled:
            self.errors.clear()
        self.cursor.enabled = bool(enabled)
        if not enabled:
            self.cursor.reset()

    def click_arrived(self) -> None:
        """A click's answer is drawn: its readouts win, every image and error anew."""
        self.readouts_pending = None
        self.failed_images.clear()
        self.errors.clear()

    # ------------------------------------------------------------------ frames
    def request(self, point) -> bool:
        """Start one live frame for the seed point ``(row, col)`` (called by the throttle)."""
        s, layers = self.session, self.dock.layers
        if self.runner.released or s.source is None or s.seed_image is None:
            return False
        self.dock.click.stop_reading()  # a frame does not share the machine with it
        row, col = point
        keys = s.keys()
        # a target without layers yet (a new seed, a target just added): this frame
        # prepares its image as a click does, so that it can be drawn
        ready = all(k in layers.images and k in layers.markers for k in keys)
        request = workflow.SyncRequest(
            s.generation, s.seed_image.id, float(col), float(row), s.target_ids, s.atlas_id,
            dict(layers.shown), view=layers.view_for(len(keys), (float(row), float(col))),
            images=not ready, atlas_view=s.atlas_view,
        )
        worker = self.runner.start(
            workflow.synchronize_click, s.source, request, desc="live sync",
            returned=self.on_frame, errored=self.on_error, finished=self.cursor.done,
            progress=False)
        return worker is not None

    def on_error(self, exc: Exception) -> None:
        # one notification per kind of problem while live sync runs, not one per frame
        kind = (type(exc).__name__, str(getattr(exc, "message", None) or exc))
        if kind not in self.errors:
            self.errors.add(kind)
            self.runner.error(exc)

    def on_frame(self, outcome) -> None:
        dock, s = self.dock, self.session
        if self.runner.released or not s.is_current(outcome.request.generation):
            return
        t0 = time.perf_counter()
        names = hit_names(s, dock.layers.seed_layer, outcome.hits)
        if not dock.layers.move_live(outcome, names):
            dock.layers.show_outcome(outcome, names)
        outcome.timings_ms["draw"] = (time.perf_counter() - t0) * 1e3
        s.synchronized(outcome)
        self.load_stale_images()
        if self.readouts_pending is None:
            self.readouts_since = None
        self.readouts_pending = (outcome, names)
        self._schedule_readouts()
        dock.live_updated.emit(outcome)

    def _schedule_readouts(self) -> None:
        """(Re)start the readouts' timer on a frame: due once the cursor has rested for
        :attr:`READOUT_REST_S`, and no later than :attr:`READOUT_INTERVAL_S` after the
        oldest frame the readouts do not show yet."""
        now = time.perf_counter()
        if self.readouts_since is None:
            self.readouts_since = now
        wait = min(self.READOUT_REST_S, self.READOUT_INTERVAL_S - (now - self.readouts_since))
        self.readouts_timer.start(max(0, int(wait * 1000 + 0.5)))

    def load_stale_images(self) -> None:
        """Load, one batch at a time in a worker, the images of the sections live frames
        moved the markers to; each is shown if its target still wants it. A batch starts
        at most :attr:`IMAGE_INTERVAL_S` after the previous one was shown (scheduled
        until then, and then for the sections wanted at that time)."""
        s, pending = self.session, self.images_scheduled
        if pending is not None and not pending.is_running:  # cancelled (quit_all)
            pending = self.images_scheduled = None
        if (self.images_worker is not None or pending is not None
                or self.runner.released or s.source is None):
            return
        # an image whose load failed is not asked again by itself (no retry loop)
        stale = [item for item in self.dock.layers.stale_images()
                 if item[1].id not in self.failed_images]
        if not stale:
            return
        wait = self.IMAGE_INTERVAL_S - (time.perf_counter() - self.images_at)
        if wait > 0:
            self.images_scheduled = self.runner.schedule(wait, self._scheduled_load,
                                                         desc="live images (paced)")
            return
        self._start_images(stale)

    def _scheduled_load(self) -> None:
        self.images_scheduled = None
        self.load_stale_images()

    def _start_images(self, stale: list) -> None:
        """Start the worker loading ``stale`` (``(key, SectionImage, affine)``)."""
        s, layers = self.session, self.dock.layers
        view = None
        if s.last_point is not None:
            view = layers.view_for(len(layers.order), s.last_point[::-1])

        def finished():
            self.images_worker = None
            self.load_stale_images()

        def errored(exc):
            self.failed_images.update(item[1].id for item in stale)
            self.on_error(exc)

        self.images_worker = self.runner.start(
            workflow.load_images, s.source, tuple(stale), view, s.atlas_view,
            desc="live images",
            returned=self.on_images, errored=errored, finished=finished, progress=False)

    def on_images(self, loaded) -> None:
        if self.runner.released:
            return
        swapped = self.dock.layers.swap_images(loaded)
        if swapped:
            self.images_at = time.perf_counter()
            self.dock.live_images_swapped.emit(swapped)

    def flush_readouts(self) -> None:
        """Show the latest live frame's readouts (when the cursor rests, see the module's
        documentation: a table is slow to fill)."""
        if self.runner.released or self.readouts_pending is None:
            return
        outcome, names = self.readouts_pending
        self.readouts_pending = self.readouts_since = None
        if self.session.is_current(outcome.request.generation):
            self.dock.layers.update_features(outcome)
            self.dock.show_readouts(outcome, names, history=False)
