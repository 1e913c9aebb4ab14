"""Busy feedback of a click, with real Qt events on a real napari viewer.

A click says at once what it does (``test_widget_dock.py``); here: a click whose answer
waits for the network shows napari's moving progress bar and clears it,
with the busy line, when the answer is drawn; a quick click after it leaves nothing
busy; an operation the dock already says it is doing stays said until its targets are
drawn. The held source answers only when the test lets it: nothing depends on how fast
the machine is.
"""

from __future__ import annotations

import threading

import pytest
from qtpy.QtCore import Qt

from napari_allen_sync._napari.canvas import canvas_widget, send_click
from napari_allen_sync._napari.layout import canvas_position
from widget_fixtures import WAIT, FakeSource, make_widget, wait_idle

pytestmark = pytest.mark.gui


class HeldSource(FakeSource):
    """A FakeSource whose data sets wait for :attr:`gate` while :attr:`held` (a network
    that answers only when the test lets it)."""

    def __init__(self):
        super().__init__()
        self.gate = threading.Event()
        self.held = False

    def ensure_data_set(self, section_data_set_id):
        if self.held:
            self.gate.wait(WAIT / 1000)
        return super().ensure_data_set(section_data_set_id)


def _watch(widget, viewer):
    """Every busy text the session said, status-bar text and marker opacity set."""
    seen = {"busy": [], "status": [], "opacity": []}
    widget.session.events.busy.connect(seen["busy"].append)
    viewer.events.status.connect(lambda e: seen["status"].append(e.value))
    for marker in widget.layers.markers.values():
        marker.events.opacity.connect(lambda e, m=marker: seen["opacity"].append(m.opacity))
    return seen


def _near(point, expected, px=8.0) -> bool:
    """Seed pixel ``point`` within ``px`` of ``expected`` (the canvas maps a click to
    the nearest screen pixel of a zoomed-out image)."""
    return all(abs(a - b) <= px for a, b in zip(point, expected, strict=True))


def _click(viewer, widget, row_col):
    pos = canvas_position(viewer, widget.layers.seed_layer, row_col)
    send_click(canvas_widget(widget), pos, hold_s=0.0)


def test_a_held_answer_is_told_then_cleared(qtbot, make_napari_viewer):
    """A click whose answer waits for the network: busy line, status bar, dimmed markers
    and napari's moving progress bar, all cleared by the answer."""
    source = HeldSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source, click=(300.0, 300.0))
    seen = _watch(widget, viewer)
    source.held = True
    _click(viewer, widget, (320.0, 310.0))
    busy = widget.readout_view.busy
    assert busy.isVisibleTo(widget) and "synchronizing (" in busy.text()  # at once
    assert "synchronizing" in viewer.status
    assert all(m.opacity < 1 for m in widget.layers.markers.values())
    (worker,) = widget.runner.workers - widget.runner.quiet
    # napari's activity dock shows a moving bar (no total) with its Cancel, even after
    # the quick workers that opened the panels and answered the first click
    activity = worker.activity
    qtbot.waitUntil(lambda: activity.bar is not None and activity.bar.gui, timeout=WAIT)
    bar = activity.bar
    assert bar.total == 0 and "synchronizing" in bar.desc
    assert len(seen["busy"]) == 1  # said once
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        source.gate.set()
    wait_idle(qtbot, widget)
    assert _near(widget.session.last_point, (310.0, 320.0))
    assert seen["busy"][-1] == "" and not busy.isVisibleTo(widget)
    assert all(m.opacity == 1 for m in widget.layers.markers.values())
    assert bar not in type(bar)._all_instances  # napari's bar closed


def test_a_fast_click_after_a_held_one_clears_its_busy_line(qtbot, make_napari_viewer):
    """A held click told busy, superseded by a click answered at once: once the held
    worker is gone, nothing says busy and the markers are bright."""
    source = HeldSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source, click=(300.0, 300.0))
    source.held = True
    _click(viewer, widget, (320.0, 310.0))
    busy = widget.readout_view.busy
    qtbot.waitUntil(lambda: busy.isVisibleTo(widget), timeout=WAIT)
    source.held = False
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        _click(viewer, widget, (280.0, 330.0))
        source.gate.set()  # the superseded worker ends too
    wait_idle(qtbot, widget)
    assert _near(widget.session.last_point, (330.0, 280.0))
    assert widget.session.busy == "" and not busy.isVisibleTo(widget)
    assert all(m.opacity == 1 for m in widget.layers.markers.values())


def test_a_section_change_stays_said_until_its_targets_are_drawn(qtbot, make_napari_viewer):
    """The targets that follow a section change continue the operation: the busy line
    does not go blank between the seed shown and its targets drawn."""
    _viewer, widget = make_widget(qtbot, make_napari_viewer, FakeSource(), click=(300.0, 300.0))
    said = []
    widget.session.events.busy.connect(said.append)
    drawn = []
    widget.synchronized.connect(lambda outcome: drawn.append(list(said)))
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        qtbot.keyClick(widget.seed_view.slider, Qt.Key.Key_Right)
    wait_idle(qtbot, widget)
    (before_drawn,) = drawn
    assert before_drawn and before_drawn[0].startswith("opening")
    assert "" not in before_drawn  # never blank before the targets were drawn
    assert any(text.startswith("synchronizing") for text in before_drawn)
    assert said[-1] == ""  # then idle
