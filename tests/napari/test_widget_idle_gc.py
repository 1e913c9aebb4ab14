"""Python's full garbage collection runs once, when the target panels are first drawn
(:class:`~napari_allen_sync._napari.idle_gc.IdleCollection`), not inside the first click."""

from __future__ import annotations

import gc
import sys

from napari_allen_sync._napari.canvas import canvas_widget, send_click
from napari_allen_sync._napari.idle_gc import IdleCollection
from napari_allen_sync._napari.layout import canvas_position
from widget_fixtures import TARGETS, WAIT, FakeSource, start_widget, wait_idle


class FullCollections:
    """Records Python's full (generation 2) collections while installed; for those run
    by :meth:`IdleCollection._collect` (found on the stack), ``state()`` at that moment."""

    def __init__(self, state=lambda: None):
        self.count = 0
        self.state = state
        self.idle = []  # state() at each full collection the idle collection ran

    def __call__(self, phase, info):
        if phase == "start" and info["generation"] == 2:
            self.count += 1
            frame = sys._getframe(1)
            while frame is not None and frame.f_code is not IdleCollection._collect.__code__:
                frame = frame.f_back
            if frame is not None:
                self.idle.append(self.state())

    def __enter__(self):
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self)


def panels_laid_out(widget) -> bool:
    images = widget.layers.images
    keys = widget.session.keys()
    return len(keys) > 1 and all(k in images and images[k].visible for k in keys)


def click(qtbot, viewer, widget, row, col):
    pos = canvas_position(viewer, widget.layers.seed_layer, (row, col))
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        send_click(canvas_widget(widget), pos)


def test_one_full_collection_when_the_panels_are_drawn_none_in_the_first_click(
    qtbot, make_napari_viewer
):
    viewer, widget = None, None

    def state():  # at the idle collection: panels drawn, nothing clicked yet
        return panels_laid_out(widget), widget.last_outcome is None

    with FullCollections(state) as full:
        viewer, widget = start_widget(qtbot, make_napari_viewer, FakeSource())
        qtbot.waitUntil(lambda: widget.idle_gc.collections == 1, timeout=WAIT)
        wait_idle(qtbot, widget)
        qtbot.wait(300)  # the window idle, as a user clicks after seeing the panels
        image = widget.seed_image
        before = full.count
        click(qtbot, viewer, widget, image.height / 3, image.width / 3)
        during_first_click = full.count - before
        # later paints and clicks do not collect again
        wait_idle(qtbot, widget)
        click(qtbot, viewer, widget, image.height / 2, image.width / 2)
        wait_idle(qtbot, widget)
        qtbot.wait(300)
    # one full collection was the idle collection's, with every panel drawn, before
    # any click; none ran inside the first click; it stopped watching the canvas
    assert full.idle == [(True, True)]
    assert during_first_click == 0
    assert widget.idle_gc.collections == 1
    assert widget.idle_gc.canvas is None


def test_a_click_before_the_panels_cancels_the_collection(qtbot, make_napari_viewer):
    viewer, widget = start_widget(qtbot, make_napari_viewer, FakeSource(), targets=(),
                                  atlas=None)
    wait_idle(qtbot, widget)
    image = widget.seed_image
    click(qtbot, viewer, widget, image.height / 3, image.width / 3)
    widget.add_target(TARGETS[0])  # its panel is drawn with that click's point
    qtbot.waitUntil(lambda: panels_laid_out(widget), timeout=WAIT)
    wait_idle(qtbot, widget)
    qtbot.wait(300)
    assert widget.idle_gc.collections == 0
    assert widget.idle_gc.finished and widget.idle_gc.canvas is None  # stopped watching
