"""What to do first, written on the canvas until the first synchronization.

Before the first click a newcomer sees sections and no marker; the dock's own hint is
below its fold at napari's default window size and the status bar is easily missed.
:class:`FirstClickHint` writes two short lines over the canvas with napari's text overlay
(``viewer.canvas.overlays.text``, public API), at the top left, over the seed's grid
cell, and takes it away at the first synchronization, for good: once the user has
synchronized a point, later seeds show no hint. It never takes the overlay from
its user: when the text overlay is already shown with another text (the user's or
another plugin's), nothing is written.
"""

from __future__ import annotations

__all__ = ["FIRST_CLICK_TEXT", "FirstClickHint"]

#: The text shown over the canvas until the first synchronization: two short lines,
#: whole at napari's default window size (a canvas about 340 px wide).
FIRST_CLICK_TEXT = "Click a point on the seed (top left)\nto synchronize every panel"


class FirstClickHint:
    """The canvas text saying to click on the seed, until the first synchronization.

    Parameters
    ----------
    viewer : napari.Viewer
        Its ``canvas.overlays.text`` carries the line.
    """

    def __init__(self, viewer):
        self.viewer = viewer
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
        overlay = self._overlay
        if overlay.text == FIRST_CLICK_TEXT:
            overlay.visible = False
            overlay.text = ""
