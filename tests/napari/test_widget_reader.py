"""The npe2 reader: which paths name a SectionImage, and what it opens (the demo)."""

from __future__ import annotations

import pytest

from napari_allen_sync._napari.reader import get_reader, read_section_image, section_image_id

demo = pytest.importorskip("napari_allen_sync.demo")


@pytest.mark.parametrize("path,want", [
    ("allen://section_image/123", 123),
    ("allen://123", 123),
    ("ALLEN://section_image/7/", 7),
    ("https://api.brain-map.org/api/v2/image_download/100960033?downsample=4", 100960033),
    ("http://127.0.0.1:8765/api/v2/section_image_download/5", 5),
    ("http://127.0.0.1:8765/api/v2/atlas_image_download/6", 6),
    ("allen://section_image/abc", None),
    ("/data/image_download/12.tif", None),  # a file, not a URL
    ("https://example.org/api/v2/image_download/", None),
    (123, None),
])
def test_which_paths_name_a_section_image(path, want):
    assert section_image_id(path) == want
    assert (get_reader(path) is not None) == (want is not None)


def test_reading_a_demo_section_image_gives_an_allen_layer():
    sid = demo.demo_click()[0]
    ((levels, kwargs, kind),) = read_section_image(f"allen://section_image/{sid}")
    image = demo.DemoSource().catalog.section_image(sid)
    assert kind == "image" and kwargs["multiscale"] and kwargs["rgb"]
    assert kwargs["metadata"]["allen"] == {"section_image_id": sid,
                                           "source": demo.DemoSource.name}
    assert levels[0].shape[:2] == (image.height, image.width)
    assert f"#{image.section_number}" in kwargs["name"]
    assert get_reader([f"allen://{sid}", "allen://x"]) is None


@pytest.mark.gui
def test_the_batch_widget_syncs_points_on_an_opened_section(qtbot, make_napari_viewer):
    import numpy as np

    from napari_allen_sync._napari.batch_widget import BatchSyncWidget
    from napari_allen_sync.synchronizer import Synchronizer

    viewer = make_napari_viewer()
    sid, x, y = demo.demo_click()
    ((data, kwargs, _kind),) = read_section_image(f"allen://section_image/{sid}")
    seed = viewer.add_image(data, **kwargs)
    cells = viewer.add_points(np.array([[y, x], [y + 40.0, x - 30.0]]), name="cells")
    widget = BatchSyncWidget(viewer)
    viewer.window.add_dock_widget(widget)
    assert widget.points.value is cells and widget.seed.value is seed
    target = demo.DEMO_TARGET_DATA_SET_IDS[0]
    widget.targets.value = str(target)
    widget.atlas.value = 0
    with qtbot.waitSignal(cells.events.features, timeout=20_000):
        widget.run.native.click()
    (b,) = Synchronizer(demo.demo_catalog()).image_to_image_batch(
        sid, cells.data[:, 1], cells.data[:, 0], [target])
    np.testing.assert_array_equal(cells.features[f"ds:{target}:section_image_id"],
                                  b.section_image_id)
    np.testing.assert_allclose(cells.features[f"ds:{target}:x"], b.x, atol=1e-6)
    assert "2 points" in widget.summary.value
    widget.runner.release()


def test_the_sample_section_opened_from_napari_becomes_the_seed(qtbot, make_napari_viewer):
    """File ▸ Open Sample ▸ Allen sync demo section, with the dock open: its image layer
    (``metadata["allen"]``) becomes the seed's layer, and no second seed image stays
    (a running batch or click is not superseded by reloading the same section)."""
    from widget_fixtures import demo_dock, wait_idle

    viewer, widget = demo_dock(qtbot, make_napari_viewer, show=False)
    wait_idle(qtbot, widget)
    generation = widget.session.generation
    (opened,) = viewer.open_sample("napari-allen-sync", "demo_section")
    # the section shown already: adopted at once, in the seed's grid cell, no reload
    assert opened.metadata["allen"]["section_image_id"] == demo.demo_click()[0]
    assert widget.layers.seed_layer is opened
    assert widget.session.generation == generation
    assert list(viewer.layers).index(opened) == 0
    assert widget.seed_image.id == opened.metadata["allen"]["section_image_id"]
    images = [lay for lay in viewer.layers if lay.__class__.__name__ == "Image"
              and (lay.metadata.get("allen_sync") or {}).get("key") == "seed"]
    assert images == [opened]
    wait_idle(qtbot, widget)
    widget.close()
