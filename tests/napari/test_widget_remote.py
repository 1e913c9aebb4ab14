"""The widget on a real RemoteSource: a server that is gone (a closed loopback port), and
``serve --demo`` over real HTTP showing what the demo source shows (issue 10)."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from napari_allen_sync._napari.widget import AllenSyncWidget

pytestmark = pytest.mark.gui
WAIT = 30_000  # ms: a bound on waiting, not a speed requirement

remote = pytest.importorskip("napari_allen_sync.remote")


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_remote_source(qtbot, make_napari_viewer, tmp_path):
    from napari.utils.notifications import notification_manager

    notes = []
    notification_manager.notification_ready.connect(notes.append)
    try:
        viewer = make_napari_viewer()
        url = f"http://127.0.0.1:{closed_port()}"
        source = remote.RemoteSource(url, cache_dir=tmp_path / "cache", retries=0)
        widget = AllenSyncWidget(viewer, source=source)
        viewer.window.add_dock_widget(widget)
        qtbot.waitUntil(lambda: widget.source is not None, timeout=WAIT)
        assert widget.source.status() == "unreachable"
        assert "unreachable" in widget.source_view.status.text()
        # an id the empty cache does not hold must be fetched: the fetch fails cleanly
        with qtbot.waitSignal(widget.failed, timeout=WAIT) as blocker:
            widget.add_target(100055064)
        assert widget.target_ids == []
        assert blocker.args[0] in widget.messages
        with qtbot.waitSignal(widget.failed, timeout=WAIT):
            widget.open_seed_data_set(100055064)
        assert widget.seed_image is None
        qtbot.waitUntil(lambda: not widget.running_workers(), timeout=WAIT)
        # the same through the source chooser ("custom server URL")
        with qtbot.waitSignal(widget.source_ready, timeout=WAIT) as blocker:
            widget.source_view.url.setText(url)
            widget.source_view.choice.setCurrentIndex(2)
            widget.source_view.connect_button.click()
        assert blocker.args[0] in ("unreachable", "offline from cache")
        assert any("unreachable" in str(n.message) for n in notes)
        widget.close()
        assert widget.running_workers() == []
    finally:
        notification_manager.notification_ready.disconnect(notes.append)


# ---------------------------------------------------------------------- issue 10: parity
demo = pytest.importorskip("napari_allen_sync.demo")


@pytest.fixture(scope="module")
def demo_server():
    from _http_fixtures import server_process

    with server_process() as base:
        yield base


def scene_facts(qtbot, viewer, source) -> dict:
    """What the dock shows of the demo scene on ``source``: structure names at the
    click, layer names, the annotated atlas plate and each target's overlay, and the
    experiments found by each demo gene."""
    from dock_scene import click_box, demo_scene, lowest
    from napari_allen_sync.search import data_set_facets
    from widget_fixtures import wait_idle

    widget = demo_scene(qtbot, viewer, source)  # with a real click
    # the exact demo point (a click lands on a canvas pixel, whose seed pixel depends
    # on the zoom): both docks answer the same request
    _image_id, x, y = demo.demo_click()
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT) as blocker:
        widget.synchronize(x, y)
    wait_idle(qtbot, widget)
    outcome = blocker.args[0]
    facts = {
        "structures": {h.key: None if h.structure is None else
                       (h.structure.id, h.structure.acronym, h.structure.name)
                       for h in outcome.hits},
        "table": [widget.readout_view.table.item(r, c).text()
                  for r in range(widget.readout_view.table.rowCount())
                  for c in range(widget.readout_view.table.columnCount())
                  if widget.readout_view.table.item(r, c) is not None],
        "structure label": widget.readout_view.structure.text(),
        "sections": dict(widget.layers.shown),
    }
    atlas = f"atlas:{demo.DEMO_ATLAS_ID}"
    facts["atlas"] = lowest(widget.layers.images[atlas]).astype(int)
    overlays = {}
    for ds_id in widget.target_ids:
        with qtbot.waitSignal(widget.overlay_shown, timeout=WAIT):
            click_box(qtbot, widget.targets_view.overlay_box(ds_id))
        wait_idle(qtbot, widget)
        key = f"ds:{ds_id}"  # what the overlay drew into the image: composite − plain
        overlays[ds_id] = (lowest(widget.layers.images[key]).astype(int)
                           - np.asarray(widget.overlays.plain[key][-1]).astype(int))
    facts["overlays"] = overlays
    facts["layers"] = [lay.name for lay in viewer.layers]
    found = {}
    for ds_id in source.data_set_ids():
        genes = data_set_facets(demo.demo_catalog().section_data_set(ds_id))["genes"]
        if genes:
            with qtbot.waitSignal(widget.experiments_found, timeout=WAIT) as blocker:
                widget.find_experiments(genes[0]["acronym"].lower())
            found[genes[0]["acronym"]] = [h.describe() for h in blocker.args[0].hits]
    facts["found"] = found
    wait_idle(qtbot, widget)
    widget.close()
    return facts


def test_served_demo_shows_what_the_demo_shows(qtbot, make_napari_viewer, demo_server,
                                               tmp_path):
    viewer = make_napari_viewer(show=True)
    local = scene_facts(qtbot, viewer, demo.DemoSource())
    viewer.close()  # one window at a time: a second one's canvas is not sized under Xvfb
    served = scene_facts(qtbot, make_napari_viewer(show=True),
                         remote.RemoteSource(demo_server, cache_dir=tmp_path / "cache",
                                             timeout=(2, 60)))
    # the same structures at the click and under every marker, named in the table
    assert served["structures"] == local["structures"]
    assert any(v is not None for v in local["structures"].values())
    assert served["structure label"] == local["structure label"]
    assert served["table"] == local["table"] and served["sections"] == local["sections"]
    assert served["layers"] == local["layers"]
    # the annotated plate and the overlays: the same pixels, to JPEG's error
    assert served["atlas"].shape == local["atlas"].shape
    assert np.abs(served["atlas"] - local["atlas"]).mean() < 6
    assert local["atlas"].std() > 10  # coloured structures, not a blank plate
    assert served["overlays"].keys() == local["overlays"].keys()
    for ds_id, mask in local["overlays"].items():
        got = served["overlays"][ds_id]
        assert got.shape == mask.shape
        assert np.abs(mask).max() > 50  # some signal on the section
        # a sparse, sharp-edged mask's coarsest tier carries JPEG's ringing: compared by
        # correlation and mean brightness, not pixel by pixel
        assert np.corrcoef(got.ravel(), mask.ravel())[0, 1] > 0.9
        assert abs(got.mean() - mask.mean()) < 3
    # find finds the demo's experiments by gene, the same lines
    assert local["found"] and served["found"] == local["found"]
    assert all(local["found"].values())
