"""The markers of a synchronization: thin rings that leave the clicked point visible,
and labels that stay inside their panel and contrast with the image under them.

A marker is a Points layer of one point: a ring (``disc`` with a transparent face) of
:data:`RING_PX` screen pixels whose hole (about 80 % of it) leaves the anatomy under
the point in view. Its label is centred below the ring, or above it for a point in the
lower half of the view, so that the whole panel's width is available; it is shifted
sideways (and, if need be, vertically) to stay inside the panel (:func:`place_label`).
Its first line is what matters most (the section number and the structure's acronym),
then the panel's name and longer facts, each cut or wrapped to the panel's width
(:func:`label_text`); small panels get a smaller font (:data:`LABEL_SIZES`). napari's
text has no outline or background (public API), so the text colour is chosen against
the image under the label by WCAG contrast ratio (:func:`ink_score`): dark over
bright-field in situ, the atlas's pale colours and an expression overlay's heat over a
pale section, white over fluorescence, a mid grey over a patch both dark and bright.
The image is judged as drawn: at its layer's opacity over the canvas's colour, and
beyond its edge the canvas itself. Where no ink reads well on the label's side
(:data:`READABLE_RATIO`), the label goes where the image reads clearly better: the
other side of its ring, or either side shifted sideways by up to
:data:`SHIFT_FRACTION` of its width (the ring stays under its span), if it fits there
whole (:func:`ink_score`, :func:`label_fits`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._layer_utils import camera as _camera

__all__ = [
    "FAR_COLOUR",
    "FAR_OPACITY",
    "INKS",
    "MARKER_COLOURS",
    "READABLE_RATIO",
    "RING_PX",
    "SHIFT_FRACTION",
    "LabelPlace",
    "add_marker",
    "contrast_ratio",
    "hold_marker",
    "ink_score",
    "label_extent",
    "label_fits",
    "label_geometry",
    "label_side",
    "label_size",
    "label_text",
    "place_label",
    "relative_luminance",
    "ring_size",
    "size_ring",
    "text_width_px",
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
#: Wide on purpose: whenever vispy clamps a marker to these limits it also widens its
#: line to at least half the lower limit (vispy's marker shader), so a ring clamped at
#: all is drawn as a thick disc. The ring's own size (:func:`ring_size`, within a fifth
#: of :data:`RING_PX`; the drawn size differs a little by placement) must stay well
#: inside; with (16, 30) a sagittal target's ring was clamped and drawn as a disc.
RING_LIMITS_PX = (8, 60)
#: Ring line width, relative to the diameter: about 2 px; the hole is about 18 px.
RING_WIDTH = 0.1
#: Label text size (points) by panel width: ``(narrowest panel in pixels, size)``, the
#: first that applies; napari's default window gives panels of about 150 px.
LABEL_SIZES = ((260.0, 8), (140.0, 7), (0.0, 6))
#: One em of label text on screen, pixels per point of text size. Measured on canvas
#: screenshots (napari 0.9 draws text with the Qt application font, DejaVu Sans here):
#: "M" (0.863 em) is 9, 10.5, 12 and 13.5 px wide at sizes 6, 7, 8 and 9.
EM_PX = 1.75
#: Line pitch of multi-line label text, pixels per point of text size (measured: three
#: lines are 39, 45, 51 and 58 px tall at sizes 6 to 9).
LINE_PX = 2.2
#: Character widths in em, rounded up from DejaVu Sans's advance widths: narrow
#: characters, wide ones, capitals (and ``#``), everything else (lower case, digits).
_NARROW, _WIDE = frozenset(" .,:;'!|()[]ijlfrt-/·"), frozenset("MWmw…@%")
_EM_NARROW, _EM_WIDE, _EM_CAPITAL, _EM_OTHER = 0.38, 1.0, 0.74, 0.64
#: Pixels kept free between a label and its panel's edges, and between ring and label.
MARGIN_PX = 4.0
#: sRGB → linear light, by 8-bit value, and the linear channels' weights (WCAG 2).
_SRGB = np.arange(256) / 255.0
_LINEAR = np.where(_SRGB <= 0.04045, _SRGB / 12.92, ((_SRGB + 0.055) / 1.055) ** 2.4)
_RGB_WEIGHTS = np.array([0.2126, 0.7152, 0.0722])
#: Label inks (napari's text has no outline) and their 8-bit sRGB: near black, white, and
#: the mid grey at 4.5 : 1 (WCAG) against both black and white, the best single ink over
#: a patch that is part dark, part bright (:func:`ink_score`).
INKS = (("#101010", (16, 16, 16)), ("white", (255, 255, 255)), ("#767676", (118, 118, 118)))
#: The share (percent) of a label's patch allowed to contrast less with its ink than
#: the ink's score (:func:`ink_score`).
INK_PERCENTILE = 10
#: WCAG 2's least contrast for large text and user-interface parts: a label whose ink
#: scores less on its side of the ring is drawn on the other side when the image there
#: reads better (:meth:`PanelLayout.style_label
#: <napari_allen_sync._napari.layout.PanelLayout.style_label>`). Over any one colour an
#: ink scores at least 4.3, so only a patch both dark and bright moves a label.
READABLE_RATIO = 3.0
#: How much better (ratio of scores) the other side must read for a label to move there.
OTHER_SIDE_GAIN = 1.25
#: Rows a wrapped fact (an atlas structure's name, a warning) may take, and in all; in
#: small panels (a smaller text size) one row, so that the label stays over the section.
WRAP_ROWS, MAX_ROWS = 2, 6


#: How far (a fraction of the label's width) a label over a patch no ink reads on may be
#: shifted sideways from its ring, either way: the ring stays under the label's span.
SHIFT_FRACTION = 1.0 / 3.0


class LabelPlace(NamedTuple):
    """Where the labels of one answer go (:func:`label_side`), and where one marker's
    label went (its side and sideways shift, :meth:`PanelLayout.style_label
    <napari_allen_sync._napari.layout.PanelLayout.style_label>`)."""

    #: Text size (points), by the panels' width (:data:`LABEL_SIZES`).
    size: int
    #: Above the ring (the point is in the lower half of the view), else below.
    above: bool
    #: Widest line that stays inside a panel (screen pixels).
    width_px: float
    #: The label's centre sideways from the ring (screen pixels, + to the right).
    shift_px: float = 0.0


def text_width_px(text: str, size: float) -> float:
    """Estimated width of one line of label text on screen (pixels) at text ``size``:
    its characters' widths in em (:data:`_EM_CAPITAL` and the others) × :data:`EM_PX`.
    Rounded up: the drawn text is at most this wide (checked on screenshots)."""
    em = 0.0
    for ch in text:
        if ch in _NARROW:
            em += _EM_NARROW
        elif ch in _WIDE:
            em += _EM_WIDE
        elif ch.isupper() or ch == "#":
            em += _EM_CAPITAL
        else:
            em += _EM_OTHER
    return em * EM_PX * float(size)


def label_extent(text: str, size: float) -> tuple[float, float]:
    """``(height, width)`` of a label's text block on screen (pixels)."""
    rows = text.split("\n")
    return (len(rows) * LINE_PX * float(size),
            max(text_width_px(row, size) for row in rows))


def label_side(viewer, point_rc) -> LabelPlace:
    """Where the labels of markers drawn at a world point go: their size and widest
    line by the panels' width, above the ring for a point below the view's centre.

    Every marker lies at the same place of its grid cell (one shared camera), so one
    answer serves every panel; each label is then kept inside its own panel by
    :func:`place_label`.
    """
    camera = _camera(viewer)
    centre = np.asarray(camera.center, dtype=float)[-2:]
    above = bool(float(point_rc[0]) > centre[0])
    canvas = getattr(viewer, "canvas", None)
    width = 400.0
    if canvas is not None and hasattr(canvas, "viewbox_size"):
        width = float(np.asarray(canvas.viewbox_size(viewer.layers), dtype=float)[1])
    return LabelPlace(label_size(width), above, max(width - 2.0 * MARGIN_PX, 1.0))


def label_size(width_px: float) -> int:
    """The text size for labels in a panel (or over a section) ``width_px`` wide
    (:data:`LABEL_SIZES`)."""
    return next(size for narrowest, size in LABEL_SIZES if width_px >= narrowest)


def _cut(line: str, size: float, width_px: float) -> str:
    """A line cut with an ellipsis to fit ``width_px``."""
    if text_width_px(line, size) <= width_px:
        return line
    while len(line) > 1 and text_width_px(line + "…", size) > width_px:
        line = line[:-1]
    return line.rstrip() + "…"


def _wrap(line: str, size: float, width_px: float, rows: int) -> list[str]:
    """A line wrapped at spaces into at most ``rows`` rows that fit ``width_px``; the last
    row ends with an ellipsis when words are left over (cut if it does not fit)."""
    out: list[str] = []
    words = line.split()
    while words and len(out) < rows:
        row = words.pop(0)
        while words and text_width_px(f"{row} {words[0]}", size) <= width_px:
            row = f"{row} {words.pop(0)}"
        out.append(row)
    if words and out:  # words left over: the last row ends with an ellipsis
        out[-1] = out[-1] + "…"
    return [_cut(row, size, width_px) for row in out]


def label_text(label: str, size: float = 8, width_px: float = 400.0,
               wrap: int | None = None) -> str:
    """A marker's text for a panel: the label's first line (section number and structure
    acronym) and second (the panel's name) cut to ``width_px`` at text ``size``, each
    further line (a structure's full name, a warning) wrapped into at most ``wrap`` rows
    (default :data:`WRAP_ROWS`, one below the largest text size: a small panel; a far
    section's warning asks for :data:`WRAP_ROWS` in every panel, it is the panel's
    message); :data:`MAX_ROWS` rows in all. The layer's name and the dock's table keep
    the full text."""
    lines = label.split("\n")
    rows = [_cut(line, size, width_px) for line in lines[:2]]
    if wrap is None:
        wrap = WRAP_ROWS if size >= LABEL_SIZES[0][1] else 1
    for line in lines[2:]:
        rows += _wrap(line, size, width_px, wrap)
    return "\n".join(rows[:MAX_ROWS])


def label_geometry(marker, viewer, place: LabelPlace):
    """``(at, block, box, zoom, point, world)`` of a marker's label: on screen (pixels,
    in its grid cell) the ring's centre, the text block's size and the cell's size; the
    camera's zoom; the marker's point in data and in world coordinates. None when the
    marker has no label to place.

    It depends on ``place``'s text size only (not on its side or shift): the places
    tried for one label (:meth:`PanelLayout._better_place
    <napari_allen_sync._napari.layout.PanelLayout._better_place>`) measure it once."""
    canvas = getattr(viewer, "canvas", None)
    table = marker.features
    if (canvas is None or not hasattr(canvas, "viewbox_size") or len(marker.data) != 1
            or len(table) != 1 or "label" not in table):
        return None
    camera = _camera(viewer)
    zoom = float(camera.zoom)
    box = np.asarray(canvas.viewbox_size(viewer.layers), dtype=float)  # (rows, cols)
    point = np.asarray(marker.data[0], dtype=float)
    world = np.asarray(marker.data_to_world(point), dtype=float)[-2:]
    at = box / 2 + (world - np.asarray(camera.center, dtype=float)[-2:]) * zoom
    block = np.asarray(label_extent(str(table.at[0, "label"]), place.size))
    return at, block, box, zoom, point, world


def label_fits(marker, viewer, place: LabelPlace, geometry=None) -> bool:
    """Whether a marker's label fits whole in its grid cell on ``place``'s side of the
    ring (above or below), at the current camera, without being pushed over the ring;
    a label shifted sideways (``place.shift_px``) must also fit at that shift, not be
    pushed back towards the ring by the cell's edge. ``geometry``: the label's
    :func:`label_geometry` at ``place``'s text size, when already measured."""
    if geometry is None:
        geometry = label_geometry(marker, viewer, place)
    if geometry is None:
        return False
    at, block, box = geometry[:3]
    reach = RING_PX / 2.0 + 2.0 * MARGIN_PX + block[0]
    fits = at[0] - reach >= 0.0 if place.above else at[0] + reach <= box[0]
    if place.shift_px:
        centre = at[1] + place.shift_px
        fits = fits and (centre - block[1] / 2.0 >= MARGIN_PX
                         and centre + block[1] / 2.0 <= box[1] - MARGIN_PX)
    return bool(fits)


def place_label(marker, viewer, place: LabelPlace) -> None:
    """Centre a marker's label below its ring (above, ``place.above``; sideways by
    ``place.shift_px``), moved only as far as needed to keep the whole text block inside
    the marker's grid cell, at the current camera; the text's ``translation`` is in the
    layer's data units, so its placement (rotation, scale) is undone."""
    geometry = label_geometry(marker, viewer, place)
    if geometry is None:
        return
    at, block, box, zoom, point, world = geometry
    down = RING_PX / 2.0 + MARGIN_PX + block[0] / 2.0
    want = at + np.array([-down if place.above else down, float(place.shift_px)])
    low = block / 2.0 + MARGIN_PX
    high = np.maximum(box - block / 2.0 - MARGIN_PX, low)
    offset = (np.clip(want, low, high) - at) / max(zoom, 1e-12)  # world units
    jacobian = np.column_stack([
        np.asarray(marker.data_to_world(point + step), dtype=float)[-2:] - world
        for step in np.eye(2)])
    translation = np.linalg.solve(jacobian, offset)
    text = marker.text
    if str(text.anchor) != "center":
        text.anchor = "center"
    if float(text.size) != float(place.size):
        text.size = place.size
    if not np.allclose(np.broadcast_to(text.translation, (2,)), translation, atol=1e-6):
        text.translation = translation


def relative_luminance(rgb) -> np.ndarray:
    """WCAG 2 relative luminance (0 black … 1 white) of 8-bit sRGB colours ``(..., 3)``."""
    values = np.clip(np.asarray(rgb)[..., :3], 0, 255).astype(np.uint8)
    return _LINEAR[values] @ _RGB_WEIGHTS


def contrast_ratio(luminance_a, luminance_b) -> np.ndarray:
    """WCAG 2 contrast ratio (1 … 21) between relative luminances."""
    a, b = np.asarray(luminance_a, dtype=float), np.asarray(luminance_b, dtype=float)
    return (np.maximum(a, b) + 0.05) / (np.minimum(a, b) + 0.05)


def ink_score(low, r: int, c: int, above: bool, half_cols: int = 12, rows: int = 8,
              outside=(0, 0, 0), opacity: float = 1.0) -> tuple[str, float]:
    """``(ink, score)`` for a label centred above (or below) tier pixel ``(r, c)`` of an
    image's coarsest tier ``low``, judged over ``2 half_cols × rows`` tier pixels where
    the label is drawn, the part of them beyond the image in the canvas's colour
    ``outside`` (8-bit RGB), the image as drawn at the layer's ``opacity`` over that
    colour (a far target's greyed section is darker on a dark canvas): of
    :data:`INKS`, the one whose WCAG contrast ratio with the
    patch is highest at its :data:`INK_PERCENTILE` th percentile (that ratio is its
    score), so that a patch partly dark and partly bright (an overlay's heat over a pale
    section, a projection's green over a dark field, a pale section's edge over a black
    canvas) is judged by both parts, not by their mean. White, scored 0, where nothing
    can be read (a tile that fails, no image)."""
    half_cols, rows = max(int(half_cols), 1), max(int(rows), 1)
    r0 = r - rows if above else r
    c0 = c - half_cols
    try:
        height, width = int(low.shape[0]), int(low.shape[1])
        inside = np.asarray(low[min(max(r0, 0), height):min(max(r0 + rows, 0), height),
                                min(max(c0, 0), width):min(max(c0 + 2 * half_cols, 0), width)])
    except Exception:  # a tile that fails: the default ink
        return "white", 0.0
    if inside.ndim != 3 or height == 0 or width == 0:
        return "white", 0.0
    canvas = np.asarray(outside, dtype=float)[:3]
    alpha = min(max(float(opacity), 0.0), 1.0) if np.isfinite(opacity) else 1.0
    patch = np.empty((rows, 2 * half_cols, 3), dtype=np.uint8)
    patch[...] = canvas
    top, left = max(0, -r0), max(0, -c0)
    drawn = inside[..., :3]
    if alpha < 1.0:  # napari's translucent blending over the canvas
        drawn = np.round(alpha * drawn + (1.0 - alpha) * canvas)
    patch[top:top + inside.shape[0], left:left + inside.shape[1]] = drawn
    background = relative_luminance(patch).ravel()
    inks = relative_luminance(np.array([rgb for _, rgb in INKS]))
    scores = [np.percentile(contrast_ratio(ink, background), INK_PERCENTILE) for ink in inks]
    best = int(np.argmax(scores))
    return INKS[best][0], float(scores[best])


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


def add_marker(viewer, key: str, kind: str, name: str, zoom: float = 1.0):
    """A new, empty marker layer: a thin ring of :data:`RING_PX` pixels with its label.

    The layer has no placement (the world frame), for good:
    :class:`~napari_allen_sync._napari.layers.SyncLayers` writes its point in world
    coordinates (napari's ``affine`` setter would re-slice the layer).
    """
    layer = viewer.add_points(
        np.empty((0, 2)),
        name=name,
        symbol="disc",  # a thin ring: transparent face, coloured border
        size=1,
        face_color="transparent",
        border_color=MARKER_COLOURS.get(kind, "white"),
        border_width=RING_WIDTH,
        border_width_is_relative=True,
        canvas_size_limits=RING_LIMITS_PX,
        text={"string": "{label}", "size": LABEL_SIZES[0][1], "color": "white",
              "anchor": "center"},
        features={"label": np.array([], dtype=object)},
        metadata={"allen_sync": {"key": key}},
    )
    layer.current_size = ring_size(layer, zoom)
    return layer


def hold_marker(marker, point, row: dict) -> None:
    """Move a marker to ``point`` (its data coordinates) with the features ``row`` (its
    text among them), through napari's public API, the layer sliced and redrawn once.

    The first point goes through napari's setters (``data``, ``features``: the
    features setter rebuilds the whole table, about 10 ms a layer, so only then).
    Afterwards the one point and the changed features are written in place, the
    text is rebuilt only when the label changed, and one ``refresh`` draws the
    result: the marker's layer only, no thumbnail, no dims range (a marker lies on
    its image, inside the layers' extent).
    """
    table = marker.features
    point = np.asarray(point, dtype=float)
    if len(marker.data) != 1 or len(table) != 1 or not set(row) <= set(table.columns):
        marker.data = point[np.newaxis]
        marker.features = {k: [v] for k, v in row.items()}
        return
    text = False
    for k, v in row.items():
        if table.at[0, k] != v:
            table.at[0, k] = v
            text |= k == "label"  # the text drawn is the label (add_marker)
    if text:
        marker.text.refresh(table)  # the strings drawn, from the features
    marker.data[0] = point
    marker.refresh(thumbnail=False, highlight=False)
