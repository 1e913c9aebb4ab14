"""Reading ahead in the dock (issue 11, the first sync): once the panels are laid out, the
target sections a click on the seed can reach are read in a quiet worker, so that the
first real click reads no tile; a click stops a read-ahead still running."""

from __future__ import annotations

import pytest

from napari_allen_sync._napari.canvas import canvas_widget, send_click
from napari_allen_sync._napari.layout import canvas_position
from napari_allen_sync.session import workflow
from napari_allen_sync.session.tiles import cached_tiles
from widget_fixtures import WAIT, wait_idle

pytestmark = pytest.mark.gui

demo = pytest.importorskip("napari_allen_sync.demo")


def tile_misses(widget) -> int:
    """Tiles rendered so far (not found in memory) for every panel of the dock."""
    source = widget.session.source
    return sum(cached_tiles(workflow.tiles_for(source, key, widget.session.atlas_view)).misses
               for key in widget.session.keys())


def click(qtbot, viewer, widget, x, y):
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT) as blocker:
        send_click(canvas_widget(widget),
                   canvas_position(viewer, widget.layers.seed_layer, (y, x)))
    return blocker.args[0]


def test_the_first_click_finds_its_sections_read_ahead(qtbot, make_napari_viewer):
    """The demo at napari's default window: the panels laid out, the read-ahead done
    (the dock idle), the first click at the demo point moves targets to other sections
    and renders no tile for them (before, their images were rendered while the user
    waited: about half the first click)."""
    from widget_fixtures import demo_dock

    viewer, widget = demo_dock(qtbot, make_napari_viewer)
    wait_idle(qtbot, widget)
    assert widget.click.reading is None  # finished
    shown = dict(widget.layers.shown)
    before = tile_misses(widget)
    _, x, y = demo.demo_click()
    outcome = click(qtbot, viewer, widget, x, y)
    moved = [h.key for h in outcome.hits[1:] if h.section_image_id != shown[h.key]]
    assert moved  # the click changes sections: there was something to read
    assert tile_misses(widget) == before, moved
    widget.close()


def test_a_click_stops_the_read_ahead(qtbot, make_napari_viewer):
    """A click while the sections are read ahead: the read-ahead stops at its next image
    and the click is answered."""
    from napari_allen_sync._napari.widget import AllenSyncWidget
    from widget_fixtures import demo_scene_ready

    viewer = make_napari_viewer(show=True)
    widget = AllenSyncWidget(viewer)
    viewer.window.add_dock_widget(widget, area="right")
    qtbot.waitUntil(lambda: widget.click.reading is not None, timeout=WAIT)
    reading = widget.click.reading
    assert reading in widget.runner.workers  # a worker of the dock: it is not idle
    assert widget.session.busy == ""  # a quiet one: nothing said, no bar
    assert reading.activity is None
    _, x, y = demo.demo_click()
    outcome = click(qtbot, viewer, widget, x, y)
    assert widget.click.reading is None
    qtbot.waitUntil(lambda: not reading.is_running, timeout=WAIT)
    assert outcome.hits and widget.last_outcome is outcome
    qtbot.waitUntil(lambda: demo_scene_ready(widget), timeout=WAIT)
    assert widget.click.reading is None  # not started again after a click
    widget.close()
