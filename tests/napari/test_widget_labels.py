"""Readable labels (issue 11): in small and large panels every marker's label lies inside
its own panel, centred above or below its ring, and keeps the section number and the
structure's acronym; the width estimate the placement relies on covers the text napari
really draws (measured on a canvas screenshot)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_allen_sync._napari import markers
from napari_allen_sync._napari._layer_utils import camera
from napari_allen_sync._napari.canvas import canvas_widget, send_click
from napari_allen_sync._napari.layout import canvas_position, cell_of
from widget_fixtures import WAIT, FakeSource, make_widget, wait_idle

pytestmark = pytest.mark.gui


def label_box(viewer, marker) -> tuple[np.ndarray, np.ndarray]:
    """A label's estimated text block on the canvas, ``(low, high)`` pixels ``(x, y)``:
    its marker's canvas position, the text's public ``translation`` (data units, through
    the layer's placement and the camera's zoom) and :func:`markers.label_extent`."""
    point = np.asarray(marker.data[0], dtype=float)
    at = np.asarray(canvas_position(viewer, marker, point))
    shift = np.broadcast_to(np.asarray(marker.text.translation, dtype=float), (2,))
    end = np.asarray(canvas_position(viewer, marker, point + shift))
    centre = end  # the "center" anchor: the block is centred there
    assert str(marker.text.anchor) == "center"  # napari's Anchor enum value
    height, width = markers.label_extent(str(marker.features["label"].iloc[0]),
                                         float(marker.text.size))
    half = np.array([width, height]) / 2.0
    return centre - half, centre + half, at


def resize(qtbot, viewer, widget, size) -> None:
    """Resize the window and wait until the canvas has its new size and the view is
    fitted to it again (the refit follows the resize once it settles)."""
    window = widget.window()
    if (window.width(), window.height()) != tuple(size):
        before = tuple(viewer.canvas.size)
        window.resize(*size)
        qtbot.waitUntil(lambda: tuple(viewer.canvas.size) != before, timeout=WAIT)

    def fitted():
        centre, zoom = widget.layers.layout.fitted_view()
        cam = camera(viewer)
        return (abs(float(cam.zoom) / zoom - 1.0) < 1e-6
                and np.allclose(np.asarray(cam.center)[-2:], centre))

    qtbot.waitUntil(fitted, timeout=WAIT)
    wait_idle(qtbot, widget)
    # a window larger than pytest-xvfb's 800 × 600 screen gets no paint event: one
    # drawing lays napari's grid out for the clicks to come, as a shown window's paint does
    viewer.screenshot(canvas_only=True, flash=False)


def click_at(qtbot, viewer, widget, row, col):
    with qtbot.waitSignal(widget.synchronized, timeout=WAIT) as blocker:
        send_click(canvas_widget(widget), canvas_position(viewer, widget.layers.seed_layer,
                                                          (row, col)))
    wait_idle(qtbot, widget)
    return blocker.args[0]


@pytest.mark.parametrize("window", [(1089, 630), (1600, 1000)], ids=["small", "large"])
@pytest.mark.parametrize("where", [(0.5, 0.5), (0.08, 0.02), (0.93, 0.98), (0.2, 0.9)],
                         ids=["centre", "upper-left-edge", "lower-right-edge", "upper-right"])
def test_every_label_lies_inside_its_panel(qtbot, make_napari_viewer, window, where):
    """Clicked with real events at napari's default window (panels about 150 px wide)
    and a large one: every label's block lies inside its grid cell, clear of its ring's
    centre (the clicked point), on the side of the view with room (or, where no ink
    reads there, on the side chosen); its first line is the section number and the
    structure's acronym."""
    viewer, widget = make_widget(qtbot, make_napari_viewer, FakeSource())
    resize(qtbot, viewer, widget, window)
    image = widget.seed_image
    row, col = where[0] * image.height, where[1] * image.width
    outcome = click_at(qtbot, viewer, widget, row, col)
    box = np.asarray(viewer.canvas.viewbox_size(viewer.layers), dtype=float)
    above = row > float(np.asarray(camera(viewer).center)[-2])
    assert widget.layers.layout.side.above == above  # the answer's side: the one with room
    for hit in outcome.hits:
        marker = widget.layers.markers[hit.key]
        text = str(marker.features["label"].iloc[0])
        f = marker.features.iloc[0]
        assert text.split("\n")[0] == f"#{int(f['section_number'])} {f['structure']}"
        low, high, at = label_box(viewer, marker)
        origin, cell = cell_of(viewer, marker)
        assert np.all(low >= origin[::-1] - 0.5), (hit.key, low, origin, text)
        assert np.all(high <= origin[::-1] + cell[::-1] + 0.5), (hit.key, high, cell, text)
        inside_ring = np.all(np.abs(np.clip(at, low, high) - at) < 1e-6)
        assert not inside_ring, (hit.key, "the label covers the clicked point")
        centre_y = (low[1] + high[1]) / 2.0
        # on the side with room, where an ink reads there (else it may read on the other
        # side: see test_widget_labels_contrast); a label near a section's edge is read
        # against the canvas too
        _ink, score = widget.layers.layout.ink(hit, widget.layers.layout.side)
        if score >= markers.READABLE_RATIO:
            assert (centre_y < at[1]) if above else (centre_y > at[1]), (hit.key, above)
        drawn_above = marker.metadata["allen_sync"]["above"]
        assert (centre_y < at[1]) if drawn_above else (centre_y > at[1]), hit.key
        # a label moved sideways (no ink read at its ring) is drawn at the shift chosen
        # (it was chosen only where it fits) and still spans its ring's column
        shift = marker.metadata["allen_sync"]["shift_px"]
        if shift:
            assert (low[0] + high[0]) / 2.0 - at[0] == pytest.approx(shift, abs=1.0), hit.key
            assert low[0] < at[0] < high[0], (hit.key, "the label left its ring's column")
        # the places tried for a label are judged on one measure of it (its size on
        # screen does not depend on the side or the shift): the same answer as measuring
        # it at each place
        side = widget.layers.layout.side
        measured = markers.label_geometry(marker, viewer, side)
        width = float(measured[1][1])
        for above_ in (False, True):
            for d in (0.0, -width / 3.0, width / 3.0):
                place = side._replace(above=above_, shift_px=d)
                again = markers.label_geometry(marker, viewer, place)
                assert all(np.array_equal(a, b) for a, b in zip(again, measured, strict=True))
                assert (markers.label_fits(marker, viewer, place, measured)
                        == markers.label_fits(marker, viewer, place)), (hit.key, place)
    if box[1] < markers.LABEL_SIZES[0][0]:
        assert all(float(m.text.size) < markers.LABEL_SIZES[0][1]
                   for m in widget.layers.markers.values())
    widget.close()


def test_labels_follow_a_resize(qtbot, make_napari_viewer):
    """Large window, then napari's default size, then a narrow one: each time every
    label is inside its panel, in the text size for the panels' width."""
    viewer, widget = make_widget(qtbot, make_napari_viewer, FakeSource())
    resize(qtbot, viewer, widget, (1600, 1000))
    image = widget.seed_image
    click_at(qtbot, viewer, widget, 0.4 * image.height, 0.6 * image.width)
    seen = set()
    for window in [(1600, 1000), (1089, 630), (760, 630)]:
        resize(qtbot, viewer, widget, window)
        width = float(np.asarray(viewer.canvas.viewbox_size(viewer.layers))[1])
        sizes = {float(m.text.size) for m in widget.layers.markers.values()}
        assert len(sizes) == 1  # one text size for every panel
        if width < markers.LABEL_SIZES[0][0]:  # a small panel: a smaller text
            assert sizes.pop() < markers.LABEL_SIZES[0][1], (window, width)
        for key, marker in widget.layers.markers.items():
            low, high, _at = label_box(viewer, marker)
            origin, cell = cell_of(viewer, marker)
            assert np.all(low >= origin[::-1] - 0.5), (window, key)
            assert np.all(high <= origin[::-1] + cell[::-1] + 0.5), (window, key)
            seen.add(float(marker.text.size))
    assert len(seen) > 1  # the panels' width changed the text size
    widget.close()


@pytest.mark.parametrize("size", [6, 7, 8])
def test_the_width_estimate_covers_the_text_napari_draws(make_napari_viewer, size):
    """Each line drawn alone, white on napari's black canvas: its ink's bounding box on
    a real screenshot is at most :func:`markers.text_width_px` wide and the block at
    most :func:`markers.label_extent` tall, and not much smaller (an honest estimate)."""
    viewer = make_napari_viewer(show=True)
    lines = ["#269 HPF", "#179 CA1", "Anterograde…", "Hippocampal formation", "Calb1",
             "no section near this point", "(nearest 2.8 mm)", "#68 MOp", "seed"]
    ratios = []
    for text in [*lines, "\n".join(lines[:3])]:
        for layer in list(viewer.layers):
            viewer.layers.remove(layer)
        viewer.add_points(np.zeros((1, 2)), size=0.001, border_width=0,
                          face_color="transparent",
                          text={"string": [text], "size": size, "color": "white",
                                "anchor": "center"})
        cam = camera(viewer)
        cam.center, cam.zoom = (0.0, 0.0), 1.0
        shot = viewer.screenshot(canvas_only=True, flash=False)
        scale = shot.shape[1] / float(viewer.canvas.size[1])  # screenshot px per canvas px
        ys, xs = np.nonzero(shot[..., :3].max(axis=-1) > 60)
        drawn = np.array([np.ptp(ys) + 1, np.ptp(xs) + 1]) / scale
        height, width = markers.label_extent(text, size)
        assert drawn[1] <= width and drawn[0] <= height, (text, drawn, width, height)
        ratios.append(drawn[1] / width)
    assert np.median(ratios) > 0.8, ratios


@settings(max_examples=200, deadline=None)
@given(number=st.integers(1, 999), acronym=st.from_regex(r"[A-Z][A-Za-z0-9/-]{0,7}",
                                                          fullmatch=True),
       name=st.text(alphabet="abcdefghijklmnopqrstuvwxyz ABCDEF", min_size=0, max_size=60),
       extra=st.lists(st.text(alphabet="abcdefgh (.)0123456789", max_size=50), max_size=3),
       size=st.sampled_from([6, 7, 8]), width=st.floats(90.0, 600.0))
def test_label_text_fits_its_width_and_keeps_number_and_acronym(number, acronym, name, extra,
                                                                 size, width):
    """Every row of a label fits the panel's width; the first row (section number and
    acronym) is whole whenever it fits, else cut after the section number at least; at
    most :data:`markers.MAX_ROWS` rows."""
    first = f"#{number} {acronym}"
    label = "\n".join([first, name or "seed", *extra])
    text = markers.label_text(label, size, width)
    rows = text.split("\n")
    if markers.text_width_px(first, size) <= width:
        assert rows[0] == first
    else:
        assert rows[0].startswith(f"#{number}") and rows[0].endswith("…")
    assert len(rows) <= markers.MAX_ROWS
    assert all(markers.text_width_px(row, size) <= width for row in rows), rows
