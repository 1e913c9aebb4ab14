"""Expression and projection overlays, with real Qt events: a second image layer over a
target's image, in its grid cell, with its exact placement, following its section and
gone when toggled off or the target is removed."""

from __future__ import annotations

import numpy as np
import pytest

from dock_scene import WAIT, cell, change_section, click_box, demo_scene, lowest
from widget_fixtures import wait_idle

pytestmark = pytest.mark.gui

demo = pytest.importorskip("napari_allen_sync.demo")

from napari_allen_sync._napari._layer_utils import grid  # noqa: E402
from napari_allen_sync._napari.overlays import OVERLAY_STYLES  # noqa: E402
from napari_allen_sync.images import overlay_view, tier_shape, tile_view  # noqa: E402


def mask_of(source, layer, image_id, kind) -> np.ndarray:
    """The source's mask tiles for the layer's coarsest level, one value a pixel."""
    image = source.catalog.section_image(image_id)
    tier = len(layer.data) - 1
    h, w = tier_shape(image, tier)
    return np.asarray(tile_view(source.tiles, kind).read_region(image, tier, 0, 0, w, h)).max(-1)


def check_overlay(viewer, widget, source, key):
    """The overlay of ``key``: the source's mask of the section shown, drawn additively
    with its colormap, exactly where its image is, in its grid cell."""
    layers = widget.layers
    image, overlay = layers.images[key], layers.overlays[key]
    kind = overlay.metadata["allen_sync"]["overlay"]
    blending, colormap = OVERLAY_STYLES[kind]
    assert overlay.visible and overlay.blending == blending
    assert overlay.colormap.name == colormap
    # a mask's zero leaves the image unchanged: black added over a dark-field image,
    # white (minimum) over a bright-field one
    zero = np.asarray(overlay.colormap.map([0.0]))[0][:3]
    assert np.allclose(zero, 0.0 if blending == "additive" else 1.0)
    assert overlay.metadata["allen_sync"]["section_image_id"] == layers.shown[key]
    np.testing.assert_array_equal(overlay.affine.affine_matrix, image.affine.affine_matrix)
    np.testing.assert_array_equal(overlay.scale, image.scale)
    np.testing.assert_array_equal(overlay.translate, image.translate)
    assert cell(viewer, overlay) == cell(viewer, image) != (-1, -1)
    assert cell(viewer, layers.markers[key]) == cell(viewer, image)
    index = list(viewer.layers).index
    assert index(overlay) == index(image) + 1  # right over its image, under the marker
    np.testing.assert_array_equal(
        lowest(overlay), mask_of(source, overlay, layers.shown[key], kind)
    )
    return kind


def test_overlays_follow_their_targets(qtbot, make_napari_viewer):
    source = demo.DemoSource()
    viewer = make_napari_viewer(show=True)
    widget = demo_scene(qtbot, viewer, source)
    view, layers = widget.targets_view, widget.layers
    cells_before = {k: cell(viewer, layers.images[k]) for k in layers.order}
    kinds = set()
    for ds_id in widget.target_ids:
        kind = overlay_view(source.catalog.section_data_set(ds_id))
        box = view.overlay_box(ds_id)
        assert box.isEnabled() and box.text() == kind
        with qtbot.waitSignal(widget.overlay_shown, timeout=WAIT):
            click_box(qtbot, box)
        wait_idle(qtbot, widget)
        assert widget.session.overlays()[f"ds:{ds_id}"] == kind
        kinds.add(check_overlay(viewer, widget, source, f"ds:{ds_id}"))
    assert kinds == {"expression", "projection"}  # the demo has both
    # one more layer per cell (a hidden placeholder where there is no overlay): every
    # image stays in its cell
    assert grid(viewer).stride == 3
    assert {k: cell(viewer, layers.images[k]) for k in layers.order} == cells_before
    for key in ("seed", f"atlas:{demo.DEMO_ATLAS_ID}"):
        filler = layers.fillers[key]
        assert not filler.visible and len(filler.data) == 0
        assert cell(viewer, layers.markers[key]) == cell(viewer, layers.images[key])

    # another seed section: each overlay follows its target's new section
    shown = dict(layers.shown)
    change_section(qtbot, widget)
    qtbot.waitUntil(
        lambda: all(
            layers.overlays[f"ds:{d}"].metadata["allen_sync"]["section_image_id"]
            == layers.shown[f"ds:{d}"]
            and layers.overlays[f"ds:{d}"].visible
            for d in widget.target_ids
        ),
        timeout=WAIT,
    )
    wait_idle(qtbot, widget)
    assert any(layers.shown[f"ds:{d}"] != shown[f"ds:{d}"] for d in widget.target_ids)
    for ds_id in widget.target_ids:
        check_overlay(viewer, widget, source, f"ds:{ds_id}")

    # toggled off: its layer goes
    first, second, third = widget.target_ids
    gone = layers.overlays[f"ds:{first}"]
    click_box(qtbot, view.overlay_box(first))
    assert gone not in viewer.layers and f"ds:{first}" not in layers.overlays
    assert first not in [int(k[3:]) for k in widget.session.overlays()]
    # the target removed: its overlay goes with it
    gone = layers.overlays[f"ds:{second}"]
    widget.remove_target(second)
    wait_idle(qtbot, widget)
    assert gone not in viewer.layers and f"ds:{second}" not in layers.overlays
    check_overlay(viewer, widget, source, f"ds:{third}")
    # the last one off: two layers per cell again, no placeholder left
    click_box(qtbot, view.overlay_box(third))
    wait_idle(qtbot, widget)
    assert layers.overlays == {} and layers.fillers == {}
    assert grid(viewer).stride == 2
    assert not [lay for lay in viewer.layers if "overlay" in lay.name]
    assert all(
        cell(viewer, layers.markers[k]) == cell(viewer, layers.images[k]) for k in layers.order
    )


def test_overlay_on_before_the_first_click(qtbot, make_napari_viewer):
    source = demo.DemoSource()
    viewer = make_napari_viewer(show=True)
    widget = demo_scene(qtbot, viewer, source, click=False)
    ds_id = widget.target_ids[0]
    click_box(qtbot, widget.targets_view.overlay_box(ds_id))
    assert widget.session.overlays() and not widget.layers.overlays  # no image yet
    _image_id, x, y = demo.demo_click()
    from dock_scene import click_seed

    with qtbot.waitSignal(widget.overlay_shown, timeout=WAIT):
        click_seed(qtbot, viewer, widget, (y, x))
    wait_idle(qtbot, widget)
    check_overlay(viewer, widget, source, f"ds:{ds_id}")


def test_overlay_and_batch_share_the_cells(qtbot, make_napari_viewer):
    """With a batch (its points in every cell) and an overlay, each cell holds image,
    overlay (or placeholder), batch points and marker: four layers, all in one cell."""
    from qtpy.QtCore import Qt

    source = demo.DemoSource()
    viewer = make_napari_viewer(show=True)
    widget = demo_scene(qtbot, viewer, source)
    ds_id = widget.target_ids[-1]
    with qtbot.waitSignal(widget.overlay_shown, timeout=WAIT):
        click_box(qtbot, widget.targets_view.overlay_box(ds_id))
    wait_idle(qtbot, widget)
    _image_id, x, y = demo.demo_click()
    cells = viewer.add_points(np.array([[y, x], [y + 200.0, x - 300.0]]), name="cells")
    view = widget.batch_view
    view.layer.setCurrentIndex(view.layer.findText("cells"))
    with qtbot.waitSignal(widget.batch_synchronized, timeout=WAIT):
        qtbot.mouseClick(view.sync_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, widget)
    layers = widget.layers
    assert grid(viewer).stride == 4
    for key in layers.order:
        where = cell(viewer, layers.images[key])
        assert cell(viewer, layers.markers[key]) == where
        assert cell(viewer, layers.batch[key]) == where
    check_overlay(viewer, widget, source, f"ds:{ds_id}")
    # the batch gone: three layers a cell, the overlay still over its image
    viewer.layers.remove(cells)
    qtbot.waitUntil(lambda: grid(viewer).stride == 3, timeout=WAIT)
    check_overlay(viewer, widget, source, f"ds:{ds_id}")


def test_overlay_follows_live_frames(qtbot, make_napari_viewer):
    """Live sync moves the markers to other sections; each overlay ends on its
    target's new section."""
    from qtpy.QtCore import Qt

    from napari_allen_sync._napari.canvas import canvas_widget, send_move
    from napari_allen_sync._napari.layers import canvas_position

    source = demo.DemoSource()
    viewer = make_napari_viewer(show=True)
    widget = demo_scene(qtbot, viewer, source)
    for ds_id in widget.target_ids:
        with qtbot.waitSignal(widget.overlay_shown, timeout=WAIT):
            click_box(qtbot, widget.targets_view.overlay_box(ds_id))
        wait_idle(qtbot, widget)
    layers = widget.layers
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
    keys = [f"ds:{d}" for d in widget.target_ids]
    qtbot.waitUntil(
        lambda: all(
            layers.overlays[k].metadata["allen_sync"]["section_image_id"] == layers.shown[k]
            and layers.overlays[k].visible
            for k in keys
        ),
        timeout=WAIT,
    )
    assert any(layers.shown[k] != shown[k] for k in keys)
    for key in keys:
        check_overlay(viewer, widget, source, key)
