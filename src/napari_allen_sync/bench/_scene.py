"""The benchmarks' common scene: napari with the sync widget on the demo atlas."""

from __future__ import annotations

import time

import numpy as np

__all__ = ["FIRST_CLICK_IDLE_S", "BusyWatch", "RangeWatch", "open_demo_scene",
           "ready_and_idle"]

#: Seconds Qt's event loop stays idle (no turn over 50 ms, no worker) on the laid-out
#: panels before the first click: a user clicks after seeing them, not in the loop turn
#: that drew them.
FIRST_CLICK_IDLE_S = 0.5


def ready_and_idle(widget, timeout_s: float) -> None:
    """Turn Qt's event loop until every panel's image is laid out and shown, no worker
    runs (the read-ahead of the sections a click can reach included: a user looks at
    the panels for a few seconds before the first click; ``bench gui`` reports how long
    it takes, ``gui_read_ahead_ms``), and the loop has been idle for
    :data:`FIRST_CLICK_IDLE_S`."""
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance()
    deadline = quiet = time.monotonic()
    deadline += timeout_s
    while time.monotonic() < deadline:
        t = time.monotonic()
        app.processEvents()
        if (time.monotonic() - t > 0.05 or widget.runner.workers
                or not widget.layers.panels_shown(widget.session.keys())):
            quiet = time.monotonic()
        elif time.monotonic() - quiet >= FIRST_CLICK_IDLE_S:
            return
        time.sleep(0.002)
    raise TimeoutError(f"the panels were not laid out and idle: {widget.messages}")


def open_demo_scene(timeout_s: float = 120.0, click: bool = True):
    """A shown viewer with the docked widget on the demo scene (seed, three targets, the
    atlas), after one real click on the demo point unless ``click`` is False.

    ``opened_s`` runs from the dock added to every panel's image laid out and shown (the
    seed, the targets and the atlas chosen, their panels prepared, no worker left but
    the read-ahead of the sections a click can reach). The click is sent as a user
    sends it: on the panels drawn, the window idle (:func:`ready_and_idle`: the
    read-ahead done too), not in the loop turn that drew them.

    Returns ``(viewer, widget, opened_s)``; the caller closes the viewer.
    """
    import napari

    from napari_allen_sync import demo
    from napari_allen_sync._napari.canvas import (
        canvas_widget,
        process_events_until,
        send_click,
    )
    from napari_allen_sync._napari.layout import canvas_position
    from napari_allen_sync._napari.widget import AllenSyncWidget

    viewer = napari.Viewer(title="napari-allen-sync bench", show=True)
    try:
        widget = AllenSyncWidget(viewer)
        viewer.window.add_dock_widget(widget, name="Allen Brain Atlas sync", area="right")
        widget.window().resize(1600, 1000)
        targets = sorted(demo.DEMO_TARGET_DATA_SET_IDS)
        t0 = time.perf_counter()
        # the panels opened: every worker done but the read-ahead (see ready_and_idle)
        ok = process_events_until(
            lambda: widget.seed_image is not None and sorted(widget.target_ids) == targets
            and widget.atlas_id == demo.DEMO_ATLAS_ID
            and not [w for w in widget.running_workers() if w is not widget.click.reading]
            and widget.layers.panels_shown(widget.session.keys()),
            timeout_s,
        )
        if not ok:
            raise TimeoutError(f"the demo scene did not open: {widget.messages}")
        opened = time.perf_counter() - t0
        if not click:
            return viewer, widget, opened
        ready_and_idle(widget, timeout_s)
        _, x, y = demo.demo_click()
        done = []
        widget.synchronized.connect(done.append)
        pos = canvas_position(viewer, widget.layers.seed_layer, (y, x))
        send_click(canvas_widget(widget), pos, hold_s=0.0)
        if not process_events_until(lambda: bool(done) and not widget.running_workers(),
                                    timeout_s):
            raise TimeoutError(f"the first click did not synchronize: {widget.messages}")
        process_events_until(lambda: False, 0.3)
        return viewer, widget, opened
    except BaseException:
        viewer.close()
        raise


class RangeWatch:
    """Counts napari's dims range changes, and tells whether the range is stale."""

    def __init__(self, viewer):
        self.viewer = viewer
        self.count = 0  # range changes
        self.snaps = 0  # dims point changes: napari re-slices every layer on each
        viewer.dims.events.range.connect(self._changed)
        viewer.dims.events.point.connect(self._snapped)

    def _changed(self, _event=None) -> None:
        self.count += 1

    def _snapped(self, _event=None) -> None:
        self.snaps += 1

    def stale(self) -> bool:
        """Whether napari's dims range differs from the layers' extent, computed from
        each layer's own extent (not napari's cache of their union)."""
        layers = list(self.viewer.layers)
        if not layers:
            return False
        lo = np.min([lay.extent.world[0][-2:] for lay in layers], axis=0)
        hi = np.max([lay.extent.world[1][-2:] for lay in layers], axis=0)
        step = np.min([lay.extent.step[-2:] for lay in layers], axis=0)
        got = np.asarray([tuple(r) for r in self.viewer.dims.range], dtype=float)[-2:]
        return not np.allclose(got, np.column_stack([lo, hi, step]))

    def close(self) -> None:
        self.viewer.dims.events.range.disconnect(self._changed)
        self.viewer.dims.events.point.disconnect(self._snapped)


class BusyWatch:
    """When Qt's own event loop painted the dock's busy line.

    The dock is scrolled to show its readouts (the busy line at their top), as a user
    watching it sees them; a paint event of the busy label with text is its feedback.
    Nothing here paints. :meth:`reset` before each press.
    """

    def __init__(self, widget):
        from qtpy.QtCore import QEvent, QObject

        self.widget = widget
        self.label = widget.readout_view.busy
        self.painted = None  # first paint of the busy line with text since reset()
        self.section_feedback: list = []  # seconds, filled by bench.gui.section_change
        watch = self

        class _Filter(QObject):
            def eventFilter(self, obj, event):
                if (event.type() == QEvent.Type.Paint and watch.painted is None
                        and watch.label.text()):
                    watch.painted = time.perf_counter()
                return False

        self._filter = _Filter()
        self.label.installEventFilter(self._filter)
        widget.reveal(widget.readout_view)

    def reset(self) -> None:
        self.painted = None

    def close(self) -> None:
        self.label.removeEventFilter(self._filter)
