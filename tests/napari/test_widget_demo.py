"""The widget on the embedded demo atlas: the default scene and a real click."""

from __future__ import annotations

import numpy as np
import pytest

from napari_allen_sync._napari.canvas import canvas_widget, send_click
from napari_allen_sync._napari.layout import canvas_position
from napari_allen_sync._napari.widget import AllenSyncWidget
from widget_fixtures import assert_marker_on, demo_dock, demo_scene_ready

pytestmark = pytest.mark.gui
WAIT = 60_000  # ms: a bound on waiting, not a speed requirement

demo = pytest.importorskip("napari_allen_sync.demo")


def test_demo_scene_and_real_click(qtbot, make_napari_viewer):
    viewer, widget = demo_dock(qtbot, make_napari_viewer)
    assert widget.source_view.status.text().endswith("offline (demo)")
    image_id, x, y = demo.demo_click()
    assert widget.seed_image.id == image_id
    qtbot.wait(50)

    pos = canvas_position(viewer, widget.layers.seed_layer, (y, x))
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT) as blocker:
        send_click(canvas_widget(widget), pos)
    outcome = blocker.args[0]
    tol = 1.5 / viewer.scene.camera.zoom
    assert abs(outcome.request.x - x) < tol and abs(outcome.request.y - y) < tol

    # every marker is the engine's answer on a fresh demo catalog
    from napari_allen_sync.synchronizer import Synchronizer

    sync = Synchronizer(demo.demo_catalog())
    rx, ry = outcome.request.x, outcome.request.y
    targets = list(widget.target_ids)
    want = {
        f"ds:{d}": b
        for d, b in zip(targets, sync.image_to_image_batch(image_id, [rx], [ry], targets),
                        strict=True)
    }
    want[f"atlas:{demo.DEMO_ATLAS_ID}"] = sync.image_to_atlas_batch(image_id, [rx], [ry],
                                                                   demo.DEMO_ATLAS_ID)
    seed_marker = widget.layers.markers["seed"]
    seed_world = seed_marker.data_to_world(seed_marker.data[0])
    for key, b in want.items():
        marker = widget.layers.markers[key]
        assert_marker_on(widget.layers, key, b.y[0], b.x[0])
        assert int(marker.features["section_image_id"].iloc[0]) == int(b.section_image_id[0])
        assert widget.layers.shown[key] == int(b.section_image_id[0])
        # each view shows its marker where the click is (to a fraction of a screen pixel)
        world = marker.data_to_world(marker.data[0])
        assert np.max(np.abs(np.asarray(world) - seed_world)) * viewer.scene.camera.zoom < 0.5
    # the demo point lies in the structure the demo announces
    assert outcome.structure is not None and outcome.structure.id == demo.DEMO_CLICK_STRUCTURE_ID
    assert widget.layers.markers["seed"].features["structure"].iloc[0] == outcome.structure.acronym
    assert len(viewer.layers) == 2 * (2 + len(targets)) + 1  # and the hidden dims anchor
    widget.close()
    assert widget.running_workers() == []


def test_plugin_manifest_widget(qtbot, make_napari_viewer):
    """The npe2 contribution builds the widget (the viewer arrives as napari's proxy)."""
    npe2 = pytest.importorskip("npe2")
    try:
        npe2.PluginManager.instance().get_manifest("napari-allen-sync")
    except KeyError:
        # an editable install lacks the package's napari.yaml (the wheel carries it)
        pytest.skip("the napari-allen-sync manifest is not discoverable in this install")
    viewer = make_napari_viewer()
    dock, widget = viewer.window.add_plugin_dock_widget(
        "napari-allen-sync", "Allen Brain Atlas sync"
    )
    _check_proxied_widget(qtbot, viewer, widget)
    viewer.window.remove_dock_widget(dock)
    assert widget._res.released


def test_widget_through_public_only_proxy(qtbot, make_napari_viewer):
    """What npe2 hands a plugin widget: a viewer proxy that refuses private attributes."""
    from napari.utils._proxies import PublicOnlyProxy  # test only: what npe2 passes

    viewer = make_napari_viewer()
    widget = AllenSyncWidget(PublicOnlyProxy(viewer))
    viewer.window.add_dock_widget(widget)
    _check_proxied_widget(qtbot, viewer, widget)
    widget.close()
    assert not [cb for cb in viewer.mouse_drag_callbacks
                if getattr(cb, "__self__", None) is widget.click_callback]


def _check_proxied_widget(qtbot, viewer, widget):
    assert isinstance(widget, AllenSyncWidget)
    qtbot.waitUntil(lambda: demo_scene_ready(widget), timeout=WAIT)
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
        _, x, y = demo.demo_click()
        widget.synchronize(x, y)
    assert len(viewer.layers) == 2 * (2 + len(widget.target_ids)) + 1  # and the dims anchor
