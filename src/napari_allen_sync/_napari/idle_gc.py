"""Python's full garbage collection run once, when the target panels are first drawn,
instead of inside the user's first click.

Python (3.11) runs a full collection, over every tracked object, when more than ten
younger collections happened since the last one *and* the objects that survived into
the oldest generation since then ("pending") exceed a quarter of those it held after
it. napari with the dock on the demo holds about 400,000 tracked objects: a full
collection takes 240-400 ms on the benchmark machine. Opening the scene and laying out
the target panels (the layers, their vispy visuals, napari's layer controls) leave
pending near the threshold (measured with ``gc.callbacks``, the survivors counted per
younger collection, on ``bench gui``'s scene: 76,000 pending of a threshold of 84,000
when the panels are laid out, 82,000 when the window is idle), and the first click's
few thousand new objects crossed it: the full collection ran inside the first click.

:class:`IdleCollection` runs ``gc.collect()`` once, when the target panels are laid out
and Qt has painted the canvas with them, on a zero-timer after that paint (so after
what Qt queued with the layout), when no worker runs and nothing was clicked yet: the
user is looking at the new panels, not waiting for an answer. Pending starts again
from zero, with a threshold of about 100,000 objects; the first click (about 6,000)
stays far below it. Nothing is collected that Python would not collect anyway: only
the moment changes. Python's own settings (thresholds, ``gc.freeze``) are not touched:
they are the whole napari process's.

The moment matters. A collection on a timer 0.25 s after the layout (tried before)
ran *inside* the first click: ``bench gui`` then clicked in the same Qt loop turn that
drew the panels, before any timer could fire, so the timer fired while the click's
worker ran and its 280 ms were the click's. The benchmark now clicks as a user does,
once the window has been idle on the drawn panels (``bench._scene.FIRST_CLICK_IDLE_S``).

Measured with ``gc.callbacks`` around ``bench gui``'s first click (the survivors of
each younger collection counted), paired alternating rounds against main's code with
the same idle wait, 2 shared cores. Quiet (load 2.3-3.2): main's pending at the press
78,300-82,100 of a threshold of 82,600-84,000, ten-collection condition met (12); a
full collection of 270-310 ms inside the first click in 3 of 4 rounds; with this, in 0
of 4 (pending 0 of 98,700 at the press; the idle collection took 280-300 ms, 0.64 s
before the press); ``gui_first_sync_ms`` 560-750 ms against 730-1140 ms, median paired
ratio 0.62. Loaded (load 4-7): 4 of 4 against 0 of 4 (ratio 0.60), then a run in which
main's first click held no full collection either (0 of 5 both, ratio 1.20: noise). It
takes out a full collection only when one was due, which on main depends on a few
thousand objects; it never adds one to the click.
"""

from __future__ import annotations

import gc

from qtpy.QtCore import QEvent, QObject, QTimer

__all__ = ["RETRY_MS", "IdleCollection"]

#: ms before trying again when a worker still runs at the moment chosen.
RETRY_MS = 200


class IdleCollection(QObject):
    """One full garbage collection once a dock's target panels are first painted.

    Parameters
    ----------
    dock : AllenSyncWidget
        Its session (the layer keys, the last point), layers and runner.

    Notes
    -----
    :meth:`arm` (on each seed shown) watches the paint events of napari's canvas, the
    ``QOpenGLWidget`` in the dock's window; the first paint with every panel's image
    laid out and visible schedules the collection on a zero-timer. It runs at most once
    per dock (:attr:`collections`); a click before it (the session's last point set)
    cancels it for good: that click already paid for the collection it contained.
    """

    def __init__(self, dock):
        super().__init__(dock)
        self.dock = dock
        self.canvas = None  # the canvas watched, while armed
        self.scheduled = False  # a zero-timer is on its way
        self.finished = False  # collected, or no longer useful
        #: full collections run (0 or 1), for the tests
        self.collections = 0

    def arm(self, *_) -> None:
        """Watch the canvas's paints until the panels are laid out (nothing once done,
        or without a shown canvas: then nothing is painted for a user to look at)."""
        from .canvas import canvas_widget

        if self.finished or self.canvas is not None or self.dock.runner.released:
            return
        try:
            canvas = canvas_widget(self.dock)
        except RuntimeError:
            return
        canvas.installEventFilter(self)
        self.canvas = canvas

    def disarm(self, *_) -> None:
        """Stop watching the canvas (the dock closing, or done)."""
        canvas, self.canvas = self.canvas, None
        if canvas is not None:
            try:
                canvas.removeEventFilter(self)
            except RuntimeError:  # the canvas is gone with its window
                pass

    def laid_out(self) -> bool:
        """Whether every panel (the seed, at least one target or the atlas) has its
        image layer, visible."""
        return self.dock.layers.panels_shown(self.dock.session.keys())

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Paint and not self.scheduled and not self.finished:
            if self.dock.session.last_point is not None:
                self._finish()  # a click came first: it had the collection it had
            elif self.laid_out():
                self.scheduled = True
                QTimer.singleShot(0, self._collect)
        return False

    def _collect(self) -> None:
        self.scheduled = False
        dock = self.dock
        if self.finished or dock.runner.released or dock.session.last_point is not None:
            self._finish()  # closed, or a click came first
            return
        if not self.laid_out():
            return  # the panels changed since the paint: the next paint decides
        if dock.runner.workers:  # a layout or a download on its way: not idle yet
            self.scheduled = True
            QTimer.singleShot(RETRY_MS, self._collect)
            return
        gc.collect()
        self.collections += 1
        self._finish()

    def _finish(self) -> None:
        self.finished = True
        self.disarm()
