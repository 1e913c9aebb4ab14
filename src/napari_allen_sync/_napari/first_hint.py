"""What to do first, written on the canvas until the first synchronization.

Before the first click a newcomer sees sections and no marker; the dock's own hint is
below its fold at napari's default window size and the status bar is easily missed.
:class:`FirstClickHint` writes two short lines over the canvas with napari's text overlay
(``viewer.canvas.overlays.text``, public API), at the top left, over the seed's grid
cell, and takes it away at the first synchronization, for good: once the user has
synchronized a point, later seeds show no hint. It never takes the overlay from
its user: when the text overlay is already shown with another text (the user's or
another plugin's), nothing is written.

Until the first synchronization, the panels' fits keep a band of :data:`HINT_BAND_PX`
free at the top of every cell (``PanelLayout.top_band_px``), so the lines sit above the
seed's section, not over it (they covered its top on a large window). The first answer
with markers is drawn in a fit without the band, in the same redraw as its markers.
"""

from __future__ import annotations

__all__ = ["FIRST_CLICK_TEXT", "HINT_BAND_PX", "FirstClickHint"]

#: The text shown over the canvas until the first synchronization: two short lines,
#: whole at napari's default window size (a canvas about 340 px wide).
FIRST_CLICK_TEXT = "Click a point on the seed (top left)\nto synchronize every panel"
#: Canvas pixels kept free at the top of each cell for the hint's two lines and
#: napari's box around them (font size 10, measured on the default window and a
#: 1600 × 1000 one).
HINT_BAND_PX = 56.0


class FirstClickHint:
    """The canvas text saying to click on the seed, until the first synchronization.

    Parameters
    ----------
    viewer : napari.Viewer
        Its ``canvas.overlays.text`` carries the line.
    layout : PanelLayout, optional
        The panels' layout: it keeps :data:`HINT_BAND_PX` free above the sections
        while the hint is shown.
    """

    def __init__(self, viewer, layout=None):
        self.viewer = viewer
        self.layout = layout
        self.shown = False
        self.done = False  # a point was synchronized: the user knows

    @property
    def _overlay(self):
        return self.viewer.canvas.overlays.text

    def show(self, *_) -> None:
        """Write the text (a seed is shown and nothing is synchronized yet)."""
        overlay = self._overlay
        if self.done:
            return
        if overlay.visible and overlay.text not in ("", FIRST_CLICK_TEXT):
            return  # the overlay is somebody else's
        overlay.text = FIRST_CLICK_TEXT
        overlay.position = "top_left"
        overlay.visible = True
        self.shown = True
        if self.layout is not None:
            self.layout.top_band_px = HINT_BAND_PX
            if self.layout.fitted:  # panels already fitted (a dock reopened): make room
                self.layout.fit()

    def synchronized(self, *_) -> None:
        """The first synchronization: the text goes, and is not shown again."""
        self.done = True
        self.hide()

    def hide(self, *_) -> None:
        """Take the text away (the first synchronization, the dock closing); an
        overlay somebody else wrote meanwhile stays."""
        if not self.shown:
            return
        self.shown = False
        if self.layout is not None:
            self.layout.release_band()  # the next fit uses the whole cell
        overlay = self._overlay
        if overlay.text == FIRST_CLICK_TEXT:
            overlay.visible = False
            overlay.text = ""
