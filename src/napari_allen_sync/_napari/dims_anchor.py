"""A hidden anchor that keeps napari's dims point still while the panels move.

napari keeps ``viewer.dims.range`` equal to the union of every layer's world extent
(start, stop) with the finest layer's step. On each range change its Qt dims sliders
set the slider of every axis, the displayed ones too, to ``dims.current_step``,
``round((point - start) / step)``; when that integer moved, the slider writes the
point back snapped to ``start + k · step``, and napari re-slices every layer. A
synchronization click moves crossed-plane targets (a new placement each click) and
swaps sections (other extents and scales): the union's start and step change on most
clicks, and each change costs a re-slice of every layer (``make bench``:
``gui_click_dims_point_snaps_median``, ``napari_range_change_ms``).

Our layers are 2-D: both axes are displayed, and their dims point has no visible
meaning. With the displayed axes' point exactly at the range's start
(``current_step`` 0) and a start that never changes, no range change can move the
point: ``current_step`` stays 0 whatever the step and stop, the sliders' value stays
0, napari's clip into ``[start, stop]`` does nothing.

:class:`DimsAnchor` pins the start with a hidden Points layer of one point
(``visible=False``: napari's grid gives hidden layers no cell; ``shown=False``: never
drawn; its point at the origin, placed by its ``translate``) placed below and left
of every panel's section by one panel's size: a click
shifts a crossed-plane target by less than its own size, so its section stays above
the anchor. If a section ever reaches below it, the anchor is placed again on the
next event-loop turn (a re-slice or two, as before). The displayed axes' point is set
to the start through napari's public ``dims.set_point``.

The anchor is part of the layers' extent, so napari's Home button
(``viewer.reset_view``) would fit it too; after the first layout the synchronization's
own fit (whole sections, centred) answers Home instead, through the public
``viewer.events.reset_view``.
"""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QTimer

__all__ = ["ANCHOR_KEY", "DimsAnchor", "panels_bound"]

#: The anchor layer's ``metadata["allen_sync"]["key"]``.
ANCHOR_KEY = "dims-anchor"
#: The anchor layer's name in napari's layer list.
ANCHOR_NAME = "sync dims anchor (hidden)"


def panels_bound(boxes) -> np.ndarray:
    """The anchor's world point ``(row, col)`` for panels' world boxes: below and left
    of every box by the largest box's size (one box: its own lower corner).

    Parameters
    ----------
    boxes : sequence of array, shape (2, 2)
        ``[[row0, col0], [row1, col1]]`` of each panel.
    """
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 2, 2)
    low = boxes[:, 0].min(axis=0)
    if len(boxes) < 2:
        return low
    size = (boxes[:, 1] - boxes[:, 0]).max(axis=0)
    return np.floor(low - size - 1.0)


class DimsAnchor:
    """Keeps napari's dims point on the displayed axes at a fixed range start.

    Parameters
    ----------
    sync : SyncLayers
        The synchronization's layers (its ``images``, ``order``, ``viewer`` and
        ``layout``: whether it was fitted, and its fit).
    """

    def __init__(self, sync):
        self.sync = sync
        self.viewer = sync.viewer
        self.layer = None
        self._homing = False
        self._due = False  # a placement is queued (_on_range)
        self._closed = False
        #: times the anchor was placed (a new layer or a new point): each re-slices
        self.placements = 0
        self.viewer.dims.events.range.connect(self._on_range)
        self.viewer.events.reset_view.connect(self._on_home)

    # ------------------------------------------------------------------ state
    @property
    def point(self):
        """The anchor's world point, or None without an anchor layer."""
        layer = self.layer
        if layer is None or layer not in self.viewer.layers or len(layer.data) != 1:
            return None
        return np.asarray(layer.data_to_world(layer.data[0]), dtype=float)[-2:]

    def boxes(self) -> list:
        """Every panel image's world extent (napari's ``layer.extent.world``)."""
        sync = self.sync
        return [
            np.asarray(sync.images[k].extent.world, dtype=float)[:, -2:]
            for k in sync.order
            if k in sync.images
        ]

    def laid_out(self) -> bool:
        """Whether the synchronization shows targets beside the seed."""
        return bool(self.sync.layout.fitted) and len(self.sync.order) > 1

    # ------------------------------------------------------------------ actions
    def update(self) -> None:
        """After a layout: the anchor below every panel (placed again only when a
        panel reached below it or no anchor exists), and the displayed axes' dims
        point on the range's start."""
        boxes = self.boxes()
        if not boxes:
            return
        if not self.laid_out():  # the seed alone: the anchor (if any) on its corner
            if self.point is not None and not np.array_equal(self.point, boxes[0][0]):
                self._place(boxes[0][0])
            return
        low = np.asarray(boxes, dtype=float)[:, 0].min(axis=0)
        point = self.point
        if point is None or np.any(point > low):
            self._place(panels_bound(boxes))
        self.pin()

    def _place(self, world) -> None:
        world = np.asarray(world, dtype=float)
        self.placements += 1
        layer = self.layer
        if layer is None or layer not in self.viewer.layers:
            selection = self.viewer.layers.selection
            active = selection.active
            self.layer = self.viewer.add_points(
                np.zeros((1, 2)),
                translate=world,
                name=ANCHOR_NAME,
                visible=False,
                shown=False,
                size=1,
                metadata={"allen_sync": {"key": ANCHOR_KEY}},
            )
            if active is not None and active in self.viewer.layers:
                selection.active = active
        else:
            # moved by its translate: napari refreshes a hidden layer's extent on a
            # new placement, not on new data (its refresh skips hidden layers)
            layer.translate = world

    def pin(self) -> None:
        """Put the displayed axes' dims point on the range's start (napari re-slices
        once, only when it was elsewhere)."""
        dims = self.viewer.dims
        axes = tuple(dims.displayed)[-2:]  # the sections' two axes
        start = [float(dims.range[a].start) for a in axes]
        if any(float(dims.point[a]) != s for a, s in zip(axes, start, strict=True)):
            dims.set_point(axes, start)

    def _on_range(self, _event=None) -> None:
        """A range change: if a panel reached below the anchor (the start moved), the
        anchor goes below it again."""
        point = self.point
        if point is None or not self.laid_out():
            return
        dims = self.viewer.dims
        start = np.array([dims.range[a].start for a in dims.displayed][-2:], dtype=float)
        if np.any(start < point) and not self._due:
            # not inside napari's own range change: its union of extents is being
            # set, a nested one would be overwritten; on the next event-loop turn
            self._due = True
            QTimer.singleShot(0, self._again)

    def _again(self) -> None:
        self._due = False
        if not self._closed:
            self.update()

    def _on_home(self, _event=None) -> None:
        """napari's Home (``reset_view``) fitted the anchor too: whole sections, centred,
        with the synchronization's own fit instead; with the seed alone (targets
        removed), the anchor back on the seed's corner and napari's Home again."""
        if self._homing or self.point is None:
            return
        self._homing = True
        try:
            if self.laid_out():
                self.sync.layout.forget_fits()  # Home: the sections shown now, largest
                self.sync.layout.fit()
            else:
                placed = self.placements
                self.update()
                if self.placements != placed:
                    self.viewer.reset_view()
        finally:
            self._homing = False

    def remove(self) -> None:
        """Take the anchor layer out of the viewer (the session's layers are gone: it
        must not widen the user's own layers' extent)."""
        layer, self.layer = self.layer, None
        if layer is not None and layer in self.viewer.layers:
            self.viewer.layers.remove(layer)

    def close(self) -> None:
        """Disconnect from the viewer and remove the anchor layer."""
        self._closed = True
        self.remove()
        for emitter, callback in (
            (self.viewer.dims.events.range, self._on_range),
            (self.viewer.events.reset_view, self._on_home),
        ):
            try:
                emitter.disconnect(callback)
            except (RuntimeError, TypeError, ValueError):
                pass
