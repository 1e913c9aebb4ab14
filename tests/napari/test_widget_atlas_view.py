"""The atlas panel's annotation toggle, with real Qt events: annotated plates (the
structures in colour) or plain Nissl, reloaded in a worker, kept in the session and for
the sections that follow."""

from __future__ import annotations

import numpy as np
import pytest

from dock_scene import WAIT, change_section, click_box, click_seed, demo_scene, lowest
from widget_fixtures import wait_idle

pytestmark = pytest.mark.gui

demo = pytest.importorskip("napari_allen_sync.demo")

from napari_allen_sync.images import tier_shape, tile_view  # noqa: E402


def drawn_from(source, layer, image_id, view) -> np.ndarray:
    """What the source's tiles of ``view`` give for the layer's coarsest level."""
    image = source.catalog.section_image(image_id)
    tier = len(layer.data) - 1
    h, w = tier_shape(image, tier)
    return np.asarray(tile_view(source.tiles, view).read_region(image, tier, 0, 0, w, h))


def test_annotation_toggle_reloads_the_atlas(qtbot, make_napari_viewer):
    source = demo.DemoSource()
    viewer = make_napari_viewer(show=True)
    widget = demo_scene(qtbot, viewer, source)
    key = f"atlas:{demo.DEMO_ATLAS_ID}"
    box = widget.targets_view.annotated
    assert box.isChecked() and widget.session.atlas_view == "annotation"
    layer = widget.layers.images[key]
    plate = widget.layers.shown[key]
    annotated = lowest(layer)
    np.testing.assert_array_equal(annotated, drawn_from(source, layer, plate, "annotation"))

    click_box(qtbot, box)  # off: Nissl
    assert widget.session.atlas_view == "nissl"
    qtbot.waitUntil(
        lambda: not np.array_equal(lowest(widget.layers.images[key]), annotated), timeout=WAIT
    )
    wait_idle(qtbot, widget)
    layer = widget.layers.images[key]
    assert widget.layers.shown[key] == plate  # the same plate, another view
    nissl = lowest(layer)
    np.testing.assert_array_equal(nissl, drawn_from(source, layer, plate, "image"))
    assert np.abs(nissl.astype(int) - annotated.astype(int)).mean() > 1
    assert len(widget.history) == 1  # the reload is not a click

    # another seed section (the slider, by keyboard): the atlas follows to another plate,
    # still as Nissl
    change_section(qtbot, widget)
    assert widget.layers.shown[key] != plate
    layer = widget.layers.images[key]
    np.testing.assert_array_equal(
        lowest(layer), drawn_from(source, layer, widget.layers.shown[key], "image")
    )

    click_box(qtbot, box)  # on again: annotated
    qtbot.waitUntil(lambda: widget.session.atlas_view == "annotation", timeout=WAIT)
    wait_idle(qtbot, widget)
    layer = widget.layers.images[key]
    np.testing.assert_array_equal(
        lowest(layer), drawn_from(source, layer, widget.layers.shown[key], "annotation")
    )


def test_the_session_drives_the_toggle(qtbot, make_napari_viewer):
    source = demo.DemoSource()
    viewer = make_napari_viewer(show=True)
    widget = demo_scene(qtbot, viewer, source, click=False)
    widget.set_atlas_view("nissl")  # a script: the checkbox follows
    assert not widget.targets_view.annotated.isChecked()
    # before any click there is no atlas image: the first click draws it as Nissl
    key = f"atlas:{demo.DEMO_ATLAS_ID}"
    _image_id, x, y = demo.demo_click()
    click_seed(qtbot, viewer, widget, (y, x))
    layer = widget.layers.images[key]
    np.testing.assert_array_equal(
        lowest(layer), drawn_from(source, layer, widget.layers.shown[key], "image")
    )
