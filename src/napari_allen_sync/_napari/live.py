"""Live cursor sync: the target markers follow the cursor over the seed image.

:class:`LiveCursor` is a napari ``mouse_move_callbacks`` entry plus a throttle. While
live sync is on (its toggle, or the modifier key held), every cursor move over the seed
image becomes the *pending* point; one synchronization runs at a time in a worker
thread, at most every ``min_interval_s``, always for the latest pending point (the ones
in between are dropped, not queued). The coordinator starts the worker for a point
(``request``) and calls :meth:`LiveCursor.done` when its frame has arrived, which starts
the next one at once: the next frame is computed while the current one is drawn.

The synchronization itself is the click's (a live frame is a click that adds nothing
to the history): computed locally by the engine, in a worker, reusing every layer; a
target's image changes only when the cursor crosses into another of its sections.
"""

from __future__ import annotations

import time

from qtpy.QtCore import QTimer

__all__ = ["LIVE_MODIFIER", "MAX_RATE_HZ", "LiveCursor"]

#: Holding this key makes the markers follow the cursor while the toggle is off.
LIVE_MODIFIER = "Shift"
#: Most live frames per second (a display refreshes at about 60 Hz).
MAX_RATE_HZ = 60.0


class LiveCursor:
    """Throttled cursor-following over one layer.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
    hit : callable
        ``hit(position, viewbox)`` → the cursor's point ``(row, col)`` in the seed's data
        coordinates, or None when the cursor is not over the seed image
        (:meth:`~napari_allen_sync._napari.seed_click.ClickToSync.hit`).
    request : callable
        ``request(point)`` starts the synchronization of a point; returns False when
        nothing was started (then no :meth:`done` is due).
    min_interval_s : float
        Shortest time between two starts (the throttle).
    modifier : str
        Key that turns live sync on while held.

    Attributes
    ----------
    enabled : bool
        The toggle.
    moves, started, dropped : int
        Cursor moves seen over the seed, frames started, and points superseded by a
        newer one before they were started (for the benchmark and the tests).
    """

    def __init__(self, viewer, hit, request, min_interval_s: float = 1.0 / MAX_RATE_HZ,
                 modifier: str = LIVE_MODIFIER):
        self.viewer = viewer
        self.hit = hit
        self.request = request
        self.min_interval_s = float(min_interval_s)
        self.modifier = modifier
        self.enabled = False
        self.installed = False
        self.pending = None
        self.in_flight = False
        self.moves = 0
        self.started = 0
        self.dropped = 0
        self._last_start = -1e9
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._pump)

    # ------------------------------------------------------------------ napari
    def install(self) -> None:
        """Add the callback to ``viewer.mouse_move_callbacks``."""
        if not self.installed:
            self.viewer.mouse_move_callbacks.append(self.mouse_move)
            self.installed = True

    def remove(self) -> None:
        """Take the callback out and forget any pending point."""
        if self.installed:
            callbacks = self.viewer.mouse_move_callbacks
            while self.mouse_move in callbacks:
                callbacks.remove(self.mouse_move)
            self.installed = False
        self.reset()

    def reset(self) -> None:
        """Drop the pending point (the seed or the targets changed, or live went off)."""
        self.pending = None
        try:
            self._timer.stop()
        except RuntimeError:  # the Qt object is gone (application shutting down)
            pass

    def active(self, modifiers=()) -> bool:
        """Whether a move with these modifier keys follows the cursor."""
        # napari gives vispy Key objects (equal to their name) or plain strings
        return self.enabled or any(
            m == self.modifier or getattr(m, "name", None) == self.modifier
            for m in (modifiers or ())
        )

    def mouse_move(self, viewer, event) -> None:
        """napari calls this on every cursor move without a pressed button."""
        if not self.active(getattr(event, "modifiers", ())):
            return
        point = self.hit(tuple(event.position), getattr(event, "viewbox", None))
        if point is None:
            return
        self.moves += 1
        if self.pending is not None:
            self.dropped += 1
        self.pending = point
        self._pump()

    # ------------------------------------------------------------------ throttle
    def _pump(self) -> None:
        if self.pending is None or self.in_flight:
            return
        wait = self.min_interval_s - (time.perf_counter() - self._last_start)
        if wait > 0:
            if not self._timer.isActive():
                self._timer.start(max(1, int(wait * 1000 + 0.5)))
            return
        point, self.pending = self.pending, None
        self._last_start = time.perf_counter()
        self.in_flight = True
        if self.request(point) is False:
            self.in_flight = False
        else:
            self.started += 1

    def done(self) -> None:
        """The frame in flight has arrived (or failed): start the next pending point."""
        self.in_flight = False
        self._pump()
