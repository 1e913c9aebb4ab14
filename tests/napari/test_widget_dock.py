"""What a first-time user meets in the dock (issue 11), each driven with real Qt events:
the wheel, the choosers, a source switch, a reopened dock, busy feedback, history."""

from __future__ import annotations

import re

import numpy as np
import pytest
from qtpy.QtCore import QPoint, Qt

from napari_allen_sync._napari.canvas import canvas_widget, send_click
from napari_allen_sync._napari.layout import canvas_position
from napari_allen_sync._napari.markers import ring_size
from napari_allen_sync._napari.widget import AllenSyncWidget
from widget_fixtures import (
    ATLAS_ID,
    SEED_DS,
    TARGETS,
    WAIT,
    FakeSource,
    make_widget,
    wait_idle,
    wheel,
)

pytestmark = pytest.mark.gui


def test_the_wheel_over_an_unfocused_control_scrolls_the_dock(qtbot, make_napari_viewer):
    _viewer, widget = make_widget(qtbot, make_napari_viewer, FakeSource())
    widget.resize(360, 300)  # the dock needs scrolling
    qtbot.wait(50)
    slider, atlas = widget.seed_view.slider, widget.targets_view.atlas
    bar = widget._scroll.verticalScrollBar()
    assert bar.maximum() > 0
    section, atlas_index, target_ids = slider.value(), atlas.currentIndex(), widget.target_ids
    for control in (slider, atlas, widget.targets_view.offered, widget.batch_view.layer):
        assert control.focusPolicy() == Qt.FocusPolicy.StrongFocus
        before = bar.value()
        wheel(control)
        assert bar.value() > before
        bar.setValue(0)
    qtbot.wait(100)
    assert slider.value() == section and atlas.currentIndex() == atlas_index
    assert widget.target_ids == target_ids and widget.seed_image.id == SEED_DS * 1000 + 10


def test_a_known_data_set_is_added_with_add_and_the_seeds_own_is_refused(
        qtbot, make_napari_viewer):
    _viewer, widget = make_widget(qtbot, make_napari_viewer, FakeSource(), targets=(),
                                 atlas=None)
    view = widget.targets_view
    index = view.offered.findData(TARGETS[0])
    view.offered.setCurrentIndex(index)  # choosing alone adds nothing
    qtbot.wait(200)
    assert widget.target_ids == [] and not widget.running_workers()
    with qtbot.waitSignal(widget.targets_changed, timeout=WAIT):
        qtbot.mouseClick(view.add_offered_button, Qt.MouseButton.LeftButton)
    assert widget.target_ids == [TARGETS[0]]
    # the seed's own data set
    view.offered.setCurrentIndex(view.offered.findData(SEED_DS))
    with qtbot.waitSignal(widget.failed, timeout=WAIT) as blocker:
        qtbot.mouseClick(view.add_offered_button, Qt.MouseButton.LeftButton)
    assert "seed's own data set" in blocker.args[0]
    assert widget.target_ids == [TARGETS[0]]


def test_adding_or_removing_a_target_redraws_without_a_history_entry(qtbot,
                                                                     make_napari_viewer):
    _viewer, widget = make_widget(qtbot, make_napari_viewer, FakeSource(), targets=TARGETS[:1],
                                 atlas=None, click=(300.0, 300.0))
    assert len(widget.history) == 1 and widget.readout_view.history.count() == 1
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        widget.add_target(TARGETS[1])
    wait_idle(qtbot, widget)
    assert f"ds:{TARGETS[1]}" in widget.layers.markers
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        widget.remove_target(TARGETS[1])
    wait_idle(qtbot, widget)
    assert len(widget.history) == 1 and widget.readout_view.history.count() == 1
    assert re.search(r"seed x \d+, y \d+ px", widget.readout_view.history.item(0).text())


def test_a_source_switch_clears_and_coming_back_restores(qtbot, make_napari_viewer):
    first = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, first, click=(300.0, 300.0))
    clicked = widget.last_outcome.request
    ours = {id(lay) for lay in widget.layers.layers()}
    assert widget.readout_view.table.rowCount() == 1 + len(TARGETS) + 1
    widget.resize(360, 300)  # the dock needs scrolling; scrolled to its end
    qtbot.wait(50)
    widget._scroll.verticalScrollBar().setValue(widget._scroll.verticalScrollBar().maximum())
    with qtbot.waitSignal(widget.source_ready, timeout=WAIT):
        widget.set_source(FakeSource())
    wait_idle(qtbot, widget)
    assert not any(id(lay) in ours for lay in viewer.layers)
    assert widget.seed_image is None and widget.target_ids == [] and widget.atlas_id is None
    assert widget.readout_view.table.rowCount() == 0
    seed_view = widget.seed_view  # no section left from the demo's seed
    assert not seed_view.slider.isEnabled() and seed_view.section_label.text() == "no section"
    assert seed_view.section_image_id() is None
    assert "open a seed section" in viewer.status  # where to start, and the dock shows it
    bar, inner = widget._scroll.verticalScrollBar(), widget._scroll.widget()
    top = widget.seed_view.mapTo(inner, QPoint(0, 0)).y()
    assert bar.value() <= top < bar.value() + widget._scroll.viewport().height()
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        widget.set_source(first)
    wait_idle(qtbot, widget)
    assert widget.seed_image.id == SEED_DS * 1000 + 10
    assert widget.target_ids == list(TARGETS) and widget.atlas_id == ATLAS_ID
    again = widget.last_outcome.request
    assert (again.x, again.y) == (clicked.x, clicked.y)
    assert widget.targets_view.atlas.currentData() == ATLAS_ID
    assert len(viewer.layers) == 2 * (2 + len(TARGETS)) + 1  # and the hidden dims anchor
    # the restored labels were chosen for the panels now on screen (the restore drew
    # its answer with new panels: lines as wide as the narrowest of them)
    layout = widget.layers.layout
    shown = layout.side
    layout.choose_labels(widget.last_outcome)
    assert layout.side == shown
    for hit in widget.last_outcome.hits:
        drawn = widget.layers.markers[hit.key].features.at[0, "label"]
        assert drawn == layout.label(hit), hit.key


def test_a_reopened_dock_removes_the_old_layers(qtbot, make_napari_viewer):
    viewer, widget = make_widget(qtbot, make_napari_viewer, FakeSource(), targets=TARGETS[:1],
                                 atlas=None, click=(300.0, 300.0))
    user = viewer.add_points(np.array([[10.0, 10.0]]), name="cells")
    viewer.window.remove_dock_widget(widget)
    widget2 = AllenSyncWidget(viewer, source=FakeSource())
    viewer.window.add_dock_widget(widget2)
    qtbot.waitUntil(lambda: widget2.source is not None, timeout=WAIT)
    assert list(viewer.layers) == [user]
    with qtbot.waitSignal(widget2.seed_loaded, timeout=WAIT):
        widget2.open_seed_section(SEED_DS * 1000 + 10)
    with qtbot.waitSignal(widget2.synchronized, timeout=WAIT):
        widget2.synchronize(300.0, 300.0)
    names = [lay.name for lay in viewer.layers]
    assert sum(n.startswith("seed ") and "marker" not in n for n in names) == 1
    assert not any("[1]" in n for n in names)
    widget2.close()


def test_a_click_says_at_once_what_is_being_done(qtbot, make_napari_viewer):
    source = FakeSource()
    viewer, widget = make_widget(qtbot, make_napari_viewer, source, click=(300.0, 300.0))
    source.delay = 0.5  # a slow network: the answer comes later
    pos = canvas_position(viewer, widget.layers.seed_layer, (320.0, 310.0))
    send_click(canvas_widget(widget), pos, hold_s=0.0)
    # before any answer: the dock, the status bar and the markers say it
    busy = widget.readout_view.busy
    assert busy.isVisibleTo(widget) and "synchronizing" in busy.text()
    assert "synchronizing" in viewer.status
    assert all(m.opacity < 1 for m in widget.layers.markers.values())
    (worker,) = widget.runner.workers - widget.runner.quiet  # started, maybe not yet running
    # napari's activity dock: a moving (busy) bar, made by the activity dock itself
    qtbot.waitUntil(lambda: worker.activity.bar is not None and worker.activity.bar.gui,
                    timeout=WAIT)
    assert worker.activity.bar.total == 0
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        pass
    wait_idle(qtbot, widget)
    assert not busy.isVisibleTo(widget)
    assert all(m.opacity == 1 for m in widget.layers.markers.values())


def test_the_batch_chooser_offers_only_the_users_points_layers(qtbot, make_napari_viewer):
    viewer, widget = make_widget(qtbot, make_napari_viewer, FakeSource(), click=(300.0, 300.0))
    chooser = widget.batch_view.chooser
    assert chooser.choices == ()  # the markers are the plugin's own
    cells = viewer.add_points(np.array([[300.0, 300.0]]), name="cells")
    assert chooser.choices == (cells,) and chooser.value is cells
    viewer.layers.remove(cells)
    assert chooser.choices == ()


def test_an_allen_image_opened_with_the_reader_becomes_the_seed(qtbot, make_napari_viewer):
    from napari_allen_sync._napari.reader import get_reader
    from widget_fixtures import demo_dock

    viewer, widget = demo_dock(qtbot, make_napari_viewer, show=False)
    other = next(sid for sid, _n in widget.session.sections if sid != widget.seed_image.id)
    path = f"allen://section_image/{other}"
    ((data, kwargs, kind),) = get_reader(path)(path)
    assert kind == "image" and kwargs["metadata"]["allen"]["section_image_id"] == other
    with qtbot.waitSignal(widget.seed_loaded, timeout=WAIT):
        opened = viewer.add_image(data, **kwargs)  # what File ▸ Open does with it
    assert widget.seed_image.id == other and widget.layers.seed_layer is opened
    seeds = [lay for lay in viewer.layers
             if (lay.metadata.get("allen_sync") or {}).get("key") == "seed"
             and lay.__class__.__name__ == "Image"]
    assert seeds == [opened]
    wait_idle(qtbot, widget)
    widget.close()


def test_a_section_change_keeps_the_panels_and_the_point(qtbot, make_napari_viewer):
    viewer, widget = make_widget(qtbot, make_napari_viewer, FakeSource(), click=(300.0, 300.0))
    before = dict(widget.layers.images)
    point = widget.session.last_point
    camera = (tuple(viewer.scene.camera.center), viewer.scene.camera.zoom)
    slider = widget.seed_view.slider
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT) as blocker:
        qtbot.keyClick(slider, Qt.Key.Key_Right)  # the next section
        assert "opening" in widget.readout_view.busy.text()  # said at once
    outcome = blocker.args[0]
    wait_idle(qtbot, widget)
    assert outcome.request.section_image_id == widget.seed_image.id != SEED_DS * 1000 + 10
    assert (outcome.request.x, outcome.request.y) == point  # the targets follow the point
    assert widget.layers.images == before  # the same layers, their images swapped in place
    assert (tuple(viewer.scene.camera.center), viewer.scene.camera.zoom) == camera
    assert len(widget.history) == 1  # not a click


@pytest.mark.parametrize("pace", ["at once", "seed shown between"])
def test_quick_section_steps_keep_the_panels_and_follow_the_point(
        qtbot, make_napari_viewer, pace):
    """Four section steps with the keyboard, faster than the sections load: the last
    section is the seed, every target panel stays and follows the first click's point.
    (Before, a later step's seed arrived without its point and dropped every target.)"""
    viewer, widget = make_widget(qtbot, make_napari_viewer, FakeSource(), click=(300.0, 300.0))
    keys, point = sorted(widget.layers.images), widget.session.last_point
    slider = widget.seed_view.slider
    asked = []
    for _ in range(4):
        qtbot.keyClick(slider, Qt.Key.Key_Right)
        asked.append(widget.seed_view.section_image_id())
        if pace == "seed shown between":  # the seed drawn, its targets still on the way
            qtbot.waitUntil(lambda: widget.seed_image.id == asked[-1], timeout=WAIT)
    wait_idle(qtbot, widget)
    outcome = widget.last_outcome
    assert widget.seed_image.id == asked[-1] == outcome.request.section_image_id
    assert widget.seed_view.section_image_id() == asked[-1]  # the slider stays there
    assert (outcome.request.x, outcome.request.y) == point
    assert sorted(widget.layers.images) == keys and viewer.canvas.grid.enabled
    for hit in outcome.hits:  # each panel shows the section its marker is on
        assert widget.layers.shown[hit.key] == hit.section_image_id
    number = f"#{widget.seed_image.section_number}"
    assert widget.layers.seed_layer.name.endswith(number)
    assert widget.layers.markers["seed"].name.endswith(f"{number} marker")
    assert len(widget.history) == 1  # the click only
    zoom = float(viewer.scene.camera.zoom)
    for key, marker in widget.layers.markers.items():  # thin rings, not discs
        assert float(marker.size[0]) == pytest.approx(ring_size(marker, zoom), rel=0.2), key


def _fitted(viewer, widget) -> bool:
    """Whether whole sections fill the grid cells: the camera on the centre of the
    panels' common extent at the zoom that fits it (and its margin) in one cell of the
    canvas now (:meth:`~napari_allen_sync._napari.layers.SyncLayers.fitted_view`)."""
    centre, fit = widget.layers.fitted_view()
    camera = viewer.scene.camera
    return (abs(float(camera.zoom) / fit - 1.0) < 1e-3
            and np.allclose(np.asarray(camera.center)[-2:], centre, atol=1.0))


@pytest.mark.parametrize("grow", [400, -300], ids=["maximised", "shrunk"])
def test_whole_sections_stay_in_view_after_a_window_resize(qtbot, make_napari_viewer, grow):
    viewer, widget = make_widget(qtbot, make_napari_viewer, FakeSource(), click=(350.0, 500.0))
    window = widget.window()
    before = tuple(viewer.canvas.size)
    window.resize(max(window.width() + grow, 500), max(window.height() + grow // 2, 400))
    qtbot.waitUntil(lambda: tuple(viewer.canvas.size) != before, timeout=WAIT)
    qtbot.waitUntil(lambda: _fitted(viewer, widget), timeout=WAIT)
    # the markers are still where the click was, in every panel
    outcome = widget.last_outcome
    assert np.allclose(widget.layers.markers["seed"].data, [[outcome.request.y,
                                                             outcome.request.x]])


@pytest.mark.parametrize("key", [f"ds:{TARGETS[0]}", f"atlas:{ATLAS_ID}"])
def test_a_click_on_a_target_panel_says_where_to_click(qtbot, make_napari_viewer, key):
    """A real click on a target's (or the atlas's) panel synchronizes nothing and says,
    in the status bar and the dock, to click on the seed and how to make that data set
    the seed; the next synchronization clears the dock's hint."""
    viewer, widget = make_widget(qtbot, make_napari_viewer, FakeSource(), click=(350.0, 500.0))
    seen = []
    widget.synchronized.connect(seen.append)
    image = widget.layers.images[key]
    rows, cols = image.level_shapes[0][:2]
    pos = canvas_position(viewer, image, (rows / 2, cols / 2))
    send_click(canvas_widget(widget), pos)
    hint = widget.readout_view.hint
    qtbot.waitUntil(hint.isVisible, timeout=WAIT)
    text = hint.text()
    assert "Click on the seed section (top left)" in text and text.endswith(viewer.status)
    if key.startswith("ds:"):
        assert widget.target_names[TARGETS[0]] in text
        assert f"open SectionDataSet {TARGETS[0]} in the dock's Seed section" in text
        assert "press Open" in text  # what the Seed section offers
    else:
        assert "an atlas cannot be the seed" in text
    qtbot.wait(200)
    assert seen == [] and len(widget.history) == 1  # nothing synchronized
    # a click on the seed synchronizes and clears the hint
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        send_click(canvas_widget(widget),
                   canvas_position(viewer, widget.layers.seed_layer, (300.0, 400.0)))
    assert not hint.isVisible()
    widget.close()


def test_the_seed_list_says_where_to_find_data_sets_while_it_lists_none(qtbot):
    from napari_allen_sync._napari.views.seed import NONE_KNOWN, SeedView

    view = SeedView()
    qtbot.addWidget(view)
    view.show()
    asked = []
    view.data_set_requested.connect(asked.append)

    def click_row(row):
        rect = view.data_sets.visualItemRect(view.data_sets.item(row))
        qtbot.mouseClick(view.data_sets.viewport(), Qt.MouseButton.LeftButton,
                         pos=rect.center())

    view.set_data_sets([])  # a remote source before any search
    assert [view.data_sets.item(i).text() for i in range(view.data_sets.count())] == [NONE_KNOWN]
    click_row(0)
    assert asked == []  # the line is not a data set
    view.set_data_sets([(SEED_DS, f"{SEED_DS} · Penk · coronal")])
    assert view.data_sets.count() == 1
    click_row(0)
    assert asked == [SEED_DS]


def test_the_canvas_says_to_click_on_the_seed_until_the_first_synchronization(
        qtbot, make_napari_viewer):
    from napari_allen_sync._napari.first_hint import FIRST_CLICK_TEXT

    viewer, widget = make_widget(qtbot, make_napari_viewer, FakeSource())
    text = viewer.canvas.overlays.text
    assert text.visible and text.text == FIRST_CLICK_TEXT  # a seed, nothing synchronized
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        send_click(canvas_widget(widget),
                   canvas_position(viewer, widget.layers.seed_layer, (300.0, 300.0)))
    assert not text.visible and text.text == ""
    wait_idle(qtbot, widget)
    with qtbot.waitSignal(widget.seed_loaded, timeout=WAIT):  # another seed: not again
        widget.open_seed_section(SEED_DS * 1000 + 11)
    wait_idle(qtbot, widget)
    assert not text.visible
    widget.close()


def test_the_first_click_hint_leaves_a_text_overlay_the_user_wrote(qtbot, make_napari_viewer):
    viewer = make_napari_viewer()
    text = viewer.canvas.overlays.text
    text.text, text.visible = "my experiment", True
    widget = AllenSyncWidget(viewer, source=FakeSource())
    viewer.window.add_dock_widget(widget)
    qtbot.waitUntil(lambda: widget.source is not None, timeout=WAIT)
    with qtbot.waitSignal(widget.seed_loaded, timeout=WAIT):
        widget.open_seed_section(SEED_DS * 1000 + 10)
    assert text.text == "my experiment" and text.visible
    widget.close()
    assert text.text == "my experiment" and text.visible


def test_markers_stay_thin_rings_after_quick_section_steps_on_the_demo(qtbot, make_napari_viewer):
    """The demo's sagittal target changes placement with the section: its ring must not
    be drawn as a disc (pixels a few px inside the ring show the section, not the ring)."""
    from dock_scene import open_demo_dock

    viewer, widget, _ = open_demo_dock(qtbot, make_napari_viewer)
    for _ in range(4):
        qtbot.keyClick(widget.seed_view.slider, Qt.Key.Key_Right)
    wait_idle(qtbot, widget)
    qtbot.wait(300)
    shot = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(int)
    ratio = shot.shape[1] / canvas_widget(widget).width()  # screenshot px per canvas px
    for key, marker in widget.layers.markers.items():
        colour = np.round(255 * np.asarray(marker.border_color[0][:3], dtype=float))
        cx, cy = canvas_position(viewer, marker, tuple(marker.data[0]))
        inside = [shot[round((cy + dy) * ratio), round((cx + dx) * ratio)]
                  for dx, dy in ((5, 0), (-5, 0), (0, 5), (0, -5))]
        near = [np.abs(p - colour).max() < 40 for p in inside]
        assert not any(near), f"{key}: ring colour 5 px inside the ring (a disc): {inside}"
    widget.close()



@pytest.mark.parametrize("size", [None, (1600, 1000)], ids=["default", "maximised"])
def test_the_first_click_hint_sits_above_the_sections(qtbot, make_napari_viewer, size):
    """The hint's two lines are written in a band kept free above every section (they
    covered the top of the seed's section on a large window); the first click takes the
    hint away and every section stays whole in its cell."""
    from dock_scene import click_seed
    from napari_allen_sync import demo
    from napari_allen_sync._napari.first_hint import FIRST_CLICK_TEXT, HINT_BAND_PX
    from napari_allen_sync._napari.layout import world_box
    from widget_fixtures import demo_dock

    viewer, widget = demo_dock(qtbot, make_napari_viewer)
    if size is not None:
        before = tuple(viewer.canvas.size)
        widget.window().resize(*size)
        qtbot.waitUntil(lambda: tuple(viewer.canvas.size) != before, timeout=WAIT)
        qtbot.waitUntil(lambda: _fitted(viewer, widget), timeout=WAIT)
    text = viewer.canvas.overlays.text
    assert text.visible and text.text == FIRST_CLICK_TEXT
    camera = viewer.scene.camera
    centre, zoom = np.asarray(camera.center, dtype=float)[-2:], float(camera.zoom)
    box = np.asarray(viewer.canvas.viewbox_size(viewer.layers), dtype=float)
    for key in widget.layers.order:  # every section below the band, whole, in its cell
        low, high = box / 2 + (world_box(widget.layers.images[key]) - centre) * zoom
        assert low[0] >= HINT_BAND_PX - 1.0, (key, low)
        assert np.all(low >= -1.0) and np.all(high <= box + 1.0), (key, low, high)
    _, x0, y0 = demo.demo_click()
    click_seed(qtbot, viewer, widget, (y0, x0))
    assert not text.visible  # and the answer is drawn in the whole cells, band given up
    assert _fitted(viewer, widget) and widget.layers.layout.whole_sections_in_view()
    widget.close()
