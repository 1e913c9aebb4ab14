"""napari's own events are never blocked: the plugin changes its layers through the
public setters, and napari (its dims, its canvas, other plugins) hears every change.

A source scan fails if ``events.blocker_all()`` / ``events.blocker()`` comes back into
the napari glue; real clicks and real cursor moves on the demo then check that layers
still follow: every image whose section or placement changed announced it (its
``data`` / ``affine`` events fired), markers keep their placement (the world frame) and
are drawn on their hit's pixel of their image, where the seed's marker is, and napari's
dims range is the layers' extent.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import napari_allen_sync._napari as glue
from dock_scene import click_seed, live_across_a_section, open_demo_dock
from widget_fixtures import assert_marker_on

#: Attributes whose use holds napari's events (or its refreshes) back.
BLOCKING = frozenset({"blocker", "blocker_all", "_block_refresh"})


def blocking_uses(source: str, filename: str = "<source>") -> list[str]:
    """``file:line name`` of every use of a :data:`BLOCKING` attribute in ``source``."""
    tree = ast.parse(source, filename=filename)
    return [f"{filename}:{node.lineno} {node.attr}" for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in BLOCKING]


def test_the_scan_finds_blocking():
    """The detector itself: it must see what it is meant to forbid."""
    snippet = ("with layer.events.blocker_all():\n    layer.data = d\n"
               "with layer.events.data.blocker():\n    pass\n")
    assert len(blocking_uses(snippet)) == 2
    assert blocking_uses("layer.data = d\nlayer.refresh()\n") == []


def test_no_event_blocking_in_the_napari_glue():
    root = Path(glue.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) > 10  # the whole package was scanned
    found = [use for path in files
             for use in blocking_uses(path.read_text(encoding="utf-8"), str(path))]
    assert found == []


# ---------------------------------------------------------------------- real events
class Heard:
    """Counts the ``data`` and ``affine`` events of every target image layer, and the
    ``affine`` events of every marker layer (key ``("marker", key)``)."""

    def __init__(self, widget):
        self.counts: dict = {}
        for key, layer in widget.layers.images.items():
            for name in ("data", "affine"):
                self.counts[key, name] = 0
                getattr(layer.events, name).connect(
                    lambda _e=None, k=(key, name): self._count(k))
        for key, layer in widget.layers.markers.items():
            self.counts[("marker", key), "affine"] = 0
            layer.events.affine.connect(
                lambda _e=None, k=(("marker", key), "affine"): self._count(k))

    def _count(self, k):
        self.counts[k] += 1

    def __call__(self, key, name) -> int:
        return self.counts[key, name]


def check_layers_follow(viewer, widget, outcome):
    """Images show the hits' sections at the hits' placements; each marker is drawn on
    its hit's pixel of its image (the image's world transform of it), at the seed
    marker's world position; napari's dims range is the layers' extent (napari heard
    every change of extent)."""
    layers = widget.layers
    seed = layers.markers["seed"]
    seed_world = seed.data_to_world(seed.data[0])
    for hit in outcome.hits[1:]:
        image, marker = layers.images[hit.key], layers.markers[hit.key]
        assert layers.shown[hit.key] == hit.section_image_id
        assert image.metadata["allen"]["section_image_id"] == hit.section_image_id
        np.testing.assert_allclose(image.affine.affine_matrix[-3:, -3:], hit.world_from_data)
        assert_marker_on(layers, hit.key, hit.y, hit.x, atol=1e-6)
        np.testing.assert_allclose(marker.data_to_world(marker.data[0]), seed_world, atol=1e-6)
    extent = viewer.layers.extent
    ranges = np.asarray([tuple(r) for r in viewer.dims.range], dtype=float)
    np.testing.assert_allclose(ranges[:, 0], extent.world[0])
    np.testing.assert_allclose(ranges[:, 1], extent.world[1])
    np.testing.assert_allclose(ranges[:, 2], extent.step)


def candidates(widget, start):
    """Seed pixels around ``start`` (row, col), farther and farther away."""
    h, w = widget.layers.seed_layer.level_shapes[0][:2]
    for f in (0.12, 0.2, 0.28, -0.12, -0.2, -0.28):
        yield (float(np.clip(start[0] + 0.6 * f * h, 0.1 * h, 0.9 * h)),
               float(np.clip(start[1] + f * w, 0.1 * w, 0.9 * w)))


@pytest.mark.gui
def test_clicks_announce_new_sections_and_placements(qtbot, make_napari_viewer):
    viewer, widget, start = open_demo_dock(qtbot, make_napari_viewer)
    first = widget.last_outcome
    check_layers_follow(viewer, widget, first)
    layers_before = list(viewer.layers)
    changed = []
    for row, col in candidates(widget, start):
        before = {h.key: (h.section_image_id,
                          np.array(widget.layers.images[h.key].affine.affine_matrix))
                  for h in widget.last_outcome.hits[1:]}
        heard = Heard(widget)
        outcome = click_seed(qtbot, viewer, widget, (row, col))
        check_layers_follow(viewer, widget, outcome)
        for hit in outcome.hits[1:]:
            section, matrix = before[hit.key]
            if hit.section_image_id != section:
                changed.append(hit.key)
                assert heard(hit.key, "data") >= 1, hit.key  # a new pyramid, announced
            if not np.allclose(matrix[-3:, -3:], hit.world_from_data):
                assert heard(hit.key, "affine") >= 1, hit.key  # a new placement, announced
            # a marker keeps its placement: a new section re-places its image only
            assert heard(("marker", hit.key), "affine") == 0, hit.key
        if changed:
            break
    assert changed, "no click changed a target's section: the test proves nothing"
    assert list(viewer.layers) == layers_before  # layers reused
    widget.close()


@pytest.mark.gui
def test_live_swaps_announce_new_sections(qtbot, make_napari_viewer):
    viewer, widget, point = open_demo_dock(qtbot, make_napari_viewer)
    key = "ds:900100003"  # sagittal: its section changes as the cursor crosses the seed
    heard = Heard(widget)
    start = live_across_a_section(qtbot, viewer, widget, key, point)
    assert widget.layers.shown[key] != start
    assert heard(key, "data") >= 1 and heard(key, "affine") >= 1
    assert heard(("marker", key), "affine") == 0  # the marker kept its placement
    assert widget.layers.stale_images() == []
    check_layers_follow(viewer, widget, widget.last_outcome)
    widget.close()
