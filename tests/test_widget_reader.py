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
