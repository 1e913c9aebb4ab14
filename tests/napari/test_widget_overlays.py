"""Expression and projection overlays, with real Qt events: each drawn into its target's
own image layer (no extra layer, no placeholder, two layers a grid cell), named so,
following its target's section on a click, a section change, a live frame and a Go to,
and gone with its toggle, its target or the source."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt

from dock_scene import WAIT, cell, change_section, click_box, click_seed, demo_scene, lowest
from widget_fixtures import wait_idle
from workflow_run import run

pytestmark = pytest.mark.gui

demo = pytest.importorskip("napari_allen_sync.demo")

from napari_allen_sync._napari._layer_utils import grid  # noqa: E402
from napari_allen_sync.images import overlay_view, tier_shape, tile_view  # noqa: E402
from napari_allen_sync.overlay_images import (  # noqa: E402
    OVERLAY_STYLES,
    composite,
    overlay_lut,
)


def tier_pixels(tiles, image_id, source, tier) -> np.ndarray:
    """A tier of a section, read whole from a tile source."""
    image = source.catalog.section_image(image_id)
    h, w = tier_shape(image, tier)
    return np.asarray(tiles.read_region(image, tier, 0, 0, w, h))


def plain_and_mask(source, layer, image_id, kind):
    """The stained section and its mask, at the layer's coarsest level."""
    tier = len(layer.data) - 1
    return (
        tier_pixels(source.tiles, image_id, source, tier),
        tier_pixels(tile_view(source.tiles, kind), image_id, source, tier),
    )


def only_panels(viewer, widget):
    """The layer list holds the panels' layers only: image and marker a cell, none
    hidden, no placeholder."""
    layers = widget.layers
    assert grid(viewer).stride == 2
    assert len(viewer.layers) == 2 * len(layers.order) + 1  # and the hidden dims anchor
    assert all(lay.visible for lay in viewer.layers if lay is not layers.dims_anchor.layer)
    assert not [lay.name for lay in viewer.layers if "overlay" in lay.name]
    for key in layers.order:
        assert cell(viewer, layers.markers[key]) == cell(viewer, layers.images[key]) != (-1, -1)


def check_overlay(viewer, widget, source, key):
    """The image layer of ``key`` shows the section it says it shows with that
    section's mask drawn in, and is named so."""
    layers, kind = widget.layers, widget.session.overlays()[key]
    image = layers.images[key]
    assert widget.overlays.drawn().get(key) == kind
    assert image.name.endswith(f" + {kind}") and image.visible
    assert layers.markers[key].name == f"{image.name} marker"
    shown = layers.shown[key]
    assert image.metadata["allen"]["section_image_id"] == shown
    plain, mask = plain_and_mask(source, image, shown, kind)
    drawn = lowest(image)
    np.testing.assert_array_equal(drawn, composite(plain, mask, kind))
    if mask.max() > 0:  # the overlay shows (a section beyond the labelled anatomy
        assert not np.array_equal(drawn, plain)  # has an empty mask)
    only_panels(viewer, widget)
    return mask.max() > 0


def check_plain(source, widget, key):
    """The image layer of ``key`` shows its plain section, named without overlay."""
    image = widget.layers.images[key]
    assert key not in widget.overlays.drawn()
    assert " + " not in image.name
    plain = tier_pixels(source.tiles, widget.layers.shown[key], source, len(image.data) - 1)
    np.testing.assert_array_equal(lowest(image), plain)


def toggle_on(qtbot, widget, ds_id):
    with qtbot.waitSignal(widget.overlay_shown, timeout=WAIT):
        click_box(qtbot, widget.targets_view.overlay_box(ds_id))
    wait_idle(qtbot, widget)


def all_drawn(widget):
    return lambda: widget.overlays.drawn() == widget.session.overlays()


def test_the_composite_is_what_napari_draws_with_the_overlay_styles():
    """The lookup tables are napari's colormaps of :data:`OVERLAY_STYLES` (mask 0–255
    as contrast limits 0–255), so the composite is the former overlay layer's look."""
    from napari.utils.colormaps import Colormap

    for kind, (blending, stops) in OVERLAY_STYLES.items():
        cmap = Colormap([[*s, 1.0] for s in stops], name=f"test {kind}")
        napari_rgb = np.asarray(cmap.map(np.arange(256) / 255.0))[:, :3] * 255.0
        assert np.abs(overlay_lut(kind) - napari_rgb).max() <= 0.5 + 1e-4
        assert blending in ("additive", "minimum")


def test_overlays_follow_their_targets(qtbot, make_napari_viewer):
    source = demo.DemoSource()
    viewer = make_napari_viewer(show=True)
    widget = demo_scene(qtbot, viewer, source)
    view, layers = widget.targets_view, widget.layers
    cells_before = {k: cell(viewer, layers.images[k]) for k in layers.order}
    n_layers = len(viewer.layers)
    kinds = set()
    for ds_id in widget.target_ids:
        kind = overlay_view(source.catalog.section_data_set(ds_id))
        box = view.overlay_box(ds_id)
        assert box.isEnabled() and box.text() == kind
        toggle_on(qtbot, widget, ds_id)
        assert widget.session.overlays()[f"ds:{ds_id}"] == kind
        assert check_overlay(viewer, widget, source, f"ds:{ds_id}")  # signal in view
        kinds.add(kind)
    assert kinds == {"expression", "projection"}  # the demo has both
    # no layer added: every image stays in its cell
    assert len(viewer.layers) == n_layers
    assert {k: cell(viewer, layers.images[k]) for k in layers.order} == cells_before
    for key in ("seed", f"atlas:{demo.DEMO_ATLAS_ID}"):
        assert " + " not in layers.images[key].name

    # another seed section: each overlay follows its target's new section
    shown = dict(layers.shown)
    change_section(qtbot, widget)
    qtbot.waitUntil(all_drawn(widget), timeout=WAIT)
    wait_idle(qtbot, widget)
    assert any(layers.shown[f"ds:{d}"] != shown[f"ds:{d}"] for d in widget.target_ids)
    for ds_id in widget.target_ids:
        check_overlay(viewer, widget, source, f"ds:{ds_id}")

    # toggled off: the plain image at once; on again: the composite at once, from
    # the cache (no worker)
    first, second, third = widget.target_ids
    click_box(qtbot, view.overlay_box(first))
    assert first not in [int(k[3:]) for k in widget.session.overlays()]
    check_plain(source, widget, f"ds:{first}")
    with qtbot.waitSignal(widget.overlay_shown, timeout=WAIT):
        click_box(qtbot, view.overlay_box(first))
    assert not widget.running_workers() and not widget.overlays.loading
    check_overlay(viewer, widget, source, f"ds:{first}")
    # the target removed: its layers go, the others keep their overlays
    widget.remove_target(second)
    wait_idle(qtbot, widget)
    assert f"ds:{second}" not in layers.images
    assert not [lay for lay in viewer.layers if str(second) in lay.name]
    check_overlay(viewer, widget, source, f"ds:{third}")
    # every overlay off: plain images, plain names
    for ds_id in (first, third):
        click_box(qtbot, view.overlay_box(ds_id))
    wait_idle(qtbot, widget)
    assert widget.overlays.drawn() == {}
    for ds_id in (first, third):
        check_plain(source, widget, f"ds:{ds_id}")
    only_panels(viewer, widget)


def test_overlay_on_before_the_first_click(qtbot, make_napari_viewer):
    source = demo.DemoSource()
    viewer = make_napari_viewer(show=True)
    widget = demo_scene(qtbot, viewer, source, click=False)
    ds_id = widget.target_ids[0]
    click_box(qtbot, widget.targets_view.overlay_box(ds_id))
    assert widget.session.overlays()
    qtbot.waitUntil(all_drawn(widget), timeout=WAIT)  # its layer is laid out already
    wait_idle(qtbot, widget)
    _image_id, x, y = demo.demo_click()
    click_seed(qtbot, viewer, widget, (y, x))
    qtbot.waitUntil(all_drawn(widget), timeout=WAIT)
    wait_idle(qtbot, widget)
    check_overlay(viewer, widget, source, f"ds:{ds_id}")


def test_a_late_composite_never_lands_on_another_section(qtbot, make_napari_viewer):
    """A composite that arrives after its target moved to another section (or after
    the source changed) is kept for later but not drawn; a source switch takes the
    overlays with the old layers."""
    from napari_allen_sync.session import workflow

    source = demo.DemoSource()
    viewer = make_napari_viewer(show=True)
    widget = demo_scene(qtbot, viewer, source)
    ds_id = widget.target_ids[-1]
    key = f"ds:{ds_id}"
    toggle_on(qtbot, widget, ds_id)
    layer = widget.layers.images[key]
    before = lowest(layer)
    shown = widget.layers.shown[key]
    other = next(i for i in source.catalog.images_of(ds_id) if i.id != shown)
    kind = widget.session.overlays()[key]
    _, late = run(workflow.load_overlay(source, key, other, kind))
    widget.overlays._loaded(late, source)  # as the worker's ``returned`` would
    assert widget.layers.shown[key] == shown
    np.testing.assert_array_equal(lowest(layer), before)
    assert (key, other.id, kind) in widget.overlays.ready
    widget.overlays._loaded(late, demo.DemoSource())  # another source's: dropped
    check_overlay(viewer, widget, source, key)

    # a source switch: the old layers go, overlays and their cache with them
    widget.set_source(demo.DemoSource())
    qtbot.waitUntil(lambda: layer not in viewer.layers, timeout=WAIT)
    wait_idle(qtbot, widget)
    assert not [lay.name for lay in viewer.layers if " + " in lay.name]
    assert all((k[0], k[1]) != (key, other.id) for k in widget.overlays.ready)


def test_overlay_and_batch_share_the_cells(qtbot, make_napari_viewer):
    """With a batch (its points in every cell) and an overlay, each cell holds image,
    batch points and marker: three layers, all in one cell."""
    source = demo.DemoSource()
    viewer = make_napari_viewer(show=True)
    widget = demo_scene(qtbot, viewer, source)
    ds_id = widget.target_ids[-1]
    toggle_on(qtbot, widget, ds_id)
    _image_id, x, y = demo.demo_click()
    cells = viewer.add_points(np.array([[y, x], [y + 200.0, x - 300.0]]), name="cells")
    view = widget.batch_view
    view.layer.setCurrentIndex(view.layer.findText("cells"))
    with qtbot.waitSignal(widget.batch_synchronized, timeout=WAIT):
        qtbot.mouseClick(view.sync_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, widget)
    layers = widget.layers
    assert grid(viewer).stride == 3
    for key in layers.order:
        where = cell(viewer, layers.images[key])
        assert cell(viewer, layers.markers[key]) == where
        assert cell(viewer, layers.batch[key]) == where
    assert widget.overlays.drawn() == widget.session.overlays()
    # the batch gone: two layers a cell, the overlay still drawn
    viewer.layers.remove(cells)
    qtbot.waitUntil(lambda: grid(viewer).stride == 2, timeout=WAIT)
    check_overlay(viewer, widget, source, f"ds:{ds_id}")


def test_overlay_follows_live_frames_and_go_to(qtbot, make_napari_viewer):
    """Live sync moves the markers to other sections, and so does a Go to reference
    point; each overlay ends on its target's new section."""
    from napari_allen_sync._napari.canvas import canvas_widget, send_move
    from napari_allen_sync._napari.layout import canvas_position

    source = demo.DemoSource()
    viewer = make_napari_viewer(show=True)
    widget = demo_scene(qtbot, viewer, source)
    for ds_id in widget.target_ids:
        toggle_on(qtbot, widget, ds_id)
    layers = widget.layers
    keys = [f"ds:{d}" for d in widget.target_ids]
    shown = dict(layers.shown)
    qtbot.mouseClick(widget.readout_view.live, Qt.MouseButton.LeftButton)
    assert widget.session.live
    seed = layers.seed_layer
    h, w = seed.level_shapes[0][:2]
    canvas = canvas_widget(widget)
    for k in range(1, 9):  # across the seed: sagittal and atlas targets change section
        with qtbot.waitSignal(widget.live_updated, timeout=WAIT):
            send_move(canvas, canvas_position(viewer, seed, (0.5 * h, (0.1 + 0.1 * k) * w)))
    wait_idle(qtbot, widget)
    qtbot.waitUntil(all_drawn(widget), timeout=WAIT)
    wait_idle(qtbot, widget)
    assert any(layers.shown[k] != shown[k] for k in keys)
    for key in keys:
        check_overlay(viewer, widget, source, key)
    qtbot.mouseClick(widget.readout_view.live, Qt.MouseButton.LeftButton)
    assert not widget.session.live

    # Go to reference point (the dock's form and its Go button)
    shown = dict(layers.shown)
    catalog = source.catalog
    c = catalog.structure_center(catalog.structure_by_acronym("HPF").id, 9)
    view = widget.coordinate_view
    view.set_point([c.x + 1500.0, c.y, c.z], "µm", 9)
    with qtbot.waitSignal(widget.navigated, timeout=WAIT):
        qtbot.mouseClick(view.go_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, widget)
    qtbot.waitUntil(all_drawn(widget), timeout=WAIT)
    wait_idle(qtbot, widget)
    assert any(layers.shown[k] != shown[k] for k in keys)
    for key in keys:
        check_overlay(viewer, widget, source, key)
