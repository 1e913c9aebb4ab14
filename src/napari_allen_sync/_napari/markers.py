"""The markers of a synchronization: thin rings that leave the clicked point visible,
and labels that stay inside their panel and contrast with the image under them.

A marker is a Points layer of one point: a ring (``disc`` with a transparent face) of
:data:`RING_PX` screen pixels whose hole (about 80 % of it) leaves the anatomy under
the point in view. Its label is drawn beside it, on the side of the panel with room:
to the left of a point in the right half of the view, above a point in the lower half
(:func:`label_side`). napari's text has no outline or background (public API), so the
text colour is chosen against the image under the label (:func:`sample_ink`): dark over
bright-field in situ and the atlas's pale colours, white over fluorescence.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "FAR_COLOUR",
    "FAR_OPACITY",
    "MARKER_COLOURS",
    "RING_PX",
    "add_marker",
    "hold_marker",
    "label_anchor",
    "label_side",
    "label_text",
    "ring_size",
    "sample_ink",
    "size_ring",
]

#: Marker colour by kind of target.
MARKER_COLOURS = {"seed": "#ff00c8", "data set": "#0090ff", "atlas": "#ff5500"}
#: Colour of a target whose nearest section is farther than its spacing.
FAR_COLOUR = "#9e9e9e"
#: Opacity of such a target's image (greyed: it does not show the point).
FAR_OPACITY = 0.45
#: Ring diameter on screen (pixels) at the fitted zoom; napari keeps it within
#: :data:`RING_LIMITS_PX` when the user zooms.
RING_PX = 22
RING_LIMITS_PX = (16, 30)
#: Ring line width, relative to the diameter: about 2 px; the hole is about 18 px.
RING_WIDTH = 0.1
#: Label text size (points), and the width of one of its characters on screen (px): measured
#: on screenshots at napari's default window size (DejaVu Sans, about 8.4 px a character).
LABEL_SIZE = 8
CHAR_PX = 8.5
#: Width of one space of :data:`LABEL_GAP` on screen (px).
SPACE_PX = 4.0
#: Spaces between the ring and its label, on the label's side.
LABEL_GAP = "   "


def label_side(viewer, point_rc) -> tuple[bool, bool, int]:
    """``(left, above, max_chars)``: where the labels of markers drawn at a world point
    go, and how many characters a line may have to stay inside its panel.

    Every marker lies at the same place of its grid cell (one shared camera), so one
    side serves every panel: to the left of a point right of the view's centre and
    above a point below it, so that the text extends into the larger part of the panel;
    its lines are as long as the room from the ring to the panel's edge allows.
    """
    from ._layer_utils import camera as _camera

    camera = _camera(viewer)
    centre = np.asarray(camera.center, dtype=float)[-2:]
    row, col = (float(v) for v in point_rc)
    left, above = bool(col > centre[1]), bool(row > centre[0])
    canvas = getattr(viewer, "canvas", None)
    max_chars = 40
    if canvas is not None and hasattr(canvas, "viewbox_size"):
        width = float(np.asarray(canvas.viewbox_size(viewer.layers), dtype=float)[1])
        # screen pixels from the point to the panel's edge on the label's side
        room = width / 2.0 + (-1.0 if left else 1.0) * (centre[1] - col) * float(camera.zoom)
        max_chars = int((room - RING_PX / 2.0 - SPACE_PX * len(LABEL_GAP)) / CHAR_PX)
    return left, above, max(max_chars, 4)


def label_anchor(left: bool, above: bool) -> str:
    """napari's text anchor for a label on that side of its point. The horizontal part
    names the text's edge on the point (``right``: the text extends to the left); with
    napari's downward rows, ``upper`` draws the text above the point on screen."""
    return f"{'upper' if above else 'lower'}_{'right' if left else 'left'}"


def label_text(label: str, left: bool, max_chars: int = 40) -> str:
    """A marker's text, one line per fact, kept clear of the ring by spaces on the
    ring's side; a line longer than ``max_chars`` is cut with an ellipsis."""
    lines = [line if len(line) <= max_chars else line[:max_chars - 1] + "…"
             for line in label.split("\n")]
    return "\n".join(line + LABEL_GAP if left else LABEL_GAP + line for line in lines)


def sample_ink(low, r: int, c: int, left: bool, above: bool) -> str:
    """Text colour for a label at tier pixel ``(r, c)`` of an image's coarsest tier
    ``low``: ``"#101010"`` over a light patch, ``"white"`` over a dark one."""
    c0, c1 = (c - 24, c) if left else (c, c + 24)
    r0, r1 = (r - 12, r) if above else (r, r + 12)
    try:
        patch = np.asarray(low[max(r0, 0):max(r1, 1), max(c0, 0):max(c1, 1)])
    except Exception:  # a tile that fails: the default ink
        return "white"
    if patch.size == 0:
        return "white"
    luminance = np.asarray(patch[..., :3], dtype=float) @ np.array([0.299, 0.587, 0.114])
    return "#101010" if float(luminance.mean()) > 140.0 else "white"


def ring_size(marker, zoom: float) -> float:
    """The marker's point size (its data units) that makes a :data:`RING_PX` ring on
    screen at ``zoom``. The size must be near that: napari scales a relative border
    with the size before clamping it to the canvas limits, so a tiny size clamped up
    draws a thick disc with a pin-hole instead of a ring."""
    linear = np.asarray(marker.affine.affine_matrix, dtype=float)[-3:-1, -3:-1]
    scale = float(np.sqrt(abs(np.linalg.det(linear)))) or 1.0
    return RING_PX / max(float(zoom), 1e-12) / scale


def size_ring(marker, zoom: float) -> None:
    """Give a marker (and its next points) the ring size for ``zoom`` when it is off by
    more than a fifth (napari's canvas limits absorb the rest)."""
    want = ring_size(marker, zoom)
    sizes = np.asarray(marker.size, dtype=float)
    if sizes.size and np.all(np.abs(sizes / want - 1.0) < 0.2):
        return
    marker.current_size = want
    if sizes.size:
        marker.size = want


def add_marker(viewer, key: str, kind: str, name: str, affine=None, zoom: float = 1.0):
    """A new, empty marker layer: a thin ring of :data:`RING_PX` pixels with its label."""
    extra = {} if affine is None else {"affine": affine}
    layer = viewer.add_points(
        np.empty((0, 2)),
        **extra,
        name=name,
        symbol="disc",  # a thin ring: transparent face, coloured border
        size=1,
        face_color="transparent",
        border_color=MARKER_COLOURS.get(kind, "white"),
        border_width=RING_WIDTH,
        border_width_is_relative=True,
        canvas_size_limits=RING_LIMITS_PX,
        text={"string": "{label}", "size": LABEL_SIZE, "color": "white",
              "anchor": "upper_left"},
        features={"label": np.array([], dtype=object)},
        metadata={"allen_sync": {"key": key}},
    )
    layer.current_size = ring_size(layer, zoom)
    return layer


def hold_marker(marker, point, row: dict, affine=None) -> None:
    """Move a marker to ``point`` with the features ``row`` (its text among them) and,
    when given, the placement ``affine``, through napari's public API, the layer
    sliced and redrawn once.

    The first point goes through napari's setters (``data``, ``features``: the
    features setter rebuilds the whole table, about 10 ms a layer, so only then).
    Afterwards the one point and the changed features are written in place, the
    text is rebuilt only when the label changed, and one ``refresh`` (or the
    ``affine`` setter, which refreshes) draws the result: the marker's layer only,
    no thumbnail, no dims range (a marker lies on its image, inside the layers'
    extent).
    """
    table = marker.features
    point = np.asarray(point, dtype=float)
    if len(marker.data) != 1 or len(table) != 1 or not set(row) <= set(table.columns):
        if affine is not None:
            marker.affine = affine
        marker.data = point[np.newaxis]
        marker.features = {k: [v] for k, v in row.items()}
        return
    text = False
    for k, v in row.items():
        if table.at[0, k] != v:
            table.at[0, k] = v
            text = True
    if text:
        marker.text.refresh(table)  # the strings drawn, from the features
    marker.data[0] = point
    if affine is not None:
        marker.affine = affine  # the setter re-slices and redraws the layer
    else:
        marker.refresh(thumbnail=False, highlight=False)
