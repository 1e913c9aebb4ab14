"""The dock's width at napari's default window (issue 11: "notifications are cut off";
"at the default window size each panel is ~140 px wide"), on a real napari viewer with
its own layer docks: napari's notifications lie whole in the canvas, and every row of
the dock fits the width napari gives it, after real use."""

from __future__ import annotations

import pytest
from qtpy.QtWidgets import QDialog
from test_widget_labels import resize

from napari_allen_sync._napari.canvas import canvas_widget
from napari_allen_sync._napari.views.panel import DOCK_WIDTH_PX
from widget_fixtures import WAIT, FakeSource, make_widget

pytestmark = pytest.mark.gui

#: napari's own window size on first start (the size ``demo --window default`` keeps).
DEFAULT_WINDOW = (1089, 630)


def _toasts(canvas) -> list:
    """napari's notifications shown over the canvas (napari parents them to it)."""
    return [d for d in canvas.findChildren(QDialog)
            if d.isVisible() and type(d).__name__ == "NapariQtNotification"]


def test_a_notification_lies_whole_in_the_canvas_at_the_default_window(qtbot,
                                                                       make_napari_viewer):
    """The dock's message (a far target's, as a click says it) is napari's warning,
    drawn 400 px wide at the canvas's lower right: with the dock at its natural width,
    the canvas is wide enough for it (with the old 354 px dock it was 353 px wide and
    the message was cut at its left edge)."""
    viewer, widget = make_widget(qtbot, make_napari_viewer, FakeSource(), click=(300.0, 300.0))
    resize(qtbot, viewer, widget, DEFAULT_WINDOW)
    canvas = canvas_widget(widget)
    widget.runner.notify("no section near this point (2.5 mm away) in 900100003 · Gad1 · "
                         "sagittal #227: its marker is greyed on that nearest section")
    qtbot.waitUntil(lambda: bool(_toasts(canvas)), timeout=WAIT)
    for toast in _toasts(canvas):  # the click's own far warning too
        geometry = toast.geometry()
        assert geometry.left() >= 0, (geometry, canvas.width())
        assert geometry.right() < canvas.width(), (geometry, canvas.width())
    widget.close()


def test_every_row_of_the_dock_fits_its_natural_width(qtbot, make_napari_viewer):
    """The dock asks napari for :data:`DOCK_WIDTH_PX`; at the default window, after a
    click (readouts, history and target rows filled), its column of views is no wider
    than the room inside it: no row is cut at the dock's edge."""
    viewer, widget = make_widget(qtbot, make_napari_viewer, FakeSource(), click=(300.0, 300.0))
    resize(qtbot, viewer, widget, DEFAULT_WINDOW)
    panel = widget._scroll
    assert panel.sizeHint().width() == DOCK_WIDTH_PX
    assert widget.width() == DOCK_WIDTH_PX  # what napari gave it
    assert widget.readout_view.table.rowCount() == len(widget.session.keys())
    assert widget.readout_view.history.count() == 1
    assert panel.column_width() <= panel.viewport().width(), (
        panel.column_width(), panel.viewport().width())
    assert panel.horizontalScrollBar().maximum() == 0
    widget.close()
