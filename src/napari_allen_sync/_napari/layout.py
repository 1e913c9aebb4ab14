"""Where the panels of a synchronization and their labels are drawn on the canvas.

napari's grid shows one panel (a section image and its marker) per cell, all through one
shared camera. :class:`PanelLayout` chooses the grid's shape for the canvas and the
panels, fits the camera so that every panel's whole section lies inside its cell, and
places the markers' labels (their size, side, lines and ink) for that camera. The
module's functions turn a layer's data point into canvas pixels through the public
camera, canvas size and grid only, so a real mouse event can be sent there (tests, the
demo, the screenshots, the benchmark).

Coordinates: a layer's data coordinates are its SectionImage's full-resolution sync
pixels ``(row, col)``; world coordinates are the seed's sync pixels; canvas positions
are screen pixels, ``(row, col)`` unless said ``(x, y)``.
"""

from __future__ import annotations

import numpy as np
from superqt.utils import qdebounced

from ._layer_utils import camera as _camera
from ._layer_utils import grid as _grid
from ._layer_utils import same as _same
from .markers import (
    LABEL_SIZES,
    MARGIN_PX,
    OTHER_SIDE_GAIN,
    READABLE_RATIO,
    RING_PX,
    SHIFT_FRACTION,
    WRAP_ROWS,
    LabelPlace,
    ink_score,
    label_extent,
    label_fits,
    label_geometry,
    label_side,
    label_size,
    label_text,
    place_label,
    size_ring,
)

__all__ = [
    "FIT_FRACTION",
    "GRID_SPACING",
    "MIN_LINE_PX",
    "PanelLayout",
    "canvas_position",
    "canvas_rgb",
    "cell_of",
    "data_shape",
    "tier_shift",
    "world_box",
]

#: napari's gap between grid cells, a fraction of the mean cell size.
GRID_SPACING = 0.02
#: Narrowest label line (screen pixels) when the sections are drawn narrower than that.
MIN_LINE_PX = 90.0
#: Cell size / the panels' extent: the whole sections and a margin in view.
FIT_FRACTION = 1.06


def cell_of(viewer, layer) -> tuple[np.ndarray, np.ndarray]:
    """The grid cell a layer is drawn in: ``(origin, size)`` in canvas pixels ``(row, col)``
    (the whole canvas without a grid), from the public canvas size and grid layout."""
    canvas = getattr(viewer, "canvas", None)
    size = np.asarray(canvas.size, dtype=float)  # (height, width)
    grid = _grid(viewer)
    if not grid.enabled:
        return np.zeros(2), size
    layers = viewer.layers
    shape = np.asarray(grid.actual_shape(layers), dtype=float)
    box = np.asarray(canvas.viewbox_size(layers), dtype=float)
    gap = (size - box * shape) / np.maximum(shape - 1, 1)
    index = next(i for i, lay in enumerate(layers) if _same(lay, layer))
    cell = np.asarray(grid.position(index, layers), dtype=float)
    return cell * (box + gap), box


def canvas_position(viewer, layer, data_point) -> tuple[float, float]:
    """Where a layer's data point ``(row, col)`` is drawn, in canvas pixels ``(x, y)``.

    Uses only the public camera (centre, zoom), the canvas size and the grid layout, so
    a real mouse event can be sent there (tests, the demo's screenshot, the benchmark).
    """
    world = np.asarray(layer.data_to_world(np.asarray(data_point, dtype=float)))[-2:]
    camera = _camera(viewer)
    centre = np.asarray(camera.center, dtype=float)[-2:]
    origin, box = cell_of(viewer, layer)
    rc = origin + box / 2 + (world - centre) * camera.zoom
    return float(rc[1]), float(rc[0])


def data_shape(layer) -> np.ndarray:
    """An image layer's full-resolution ``(rows, cols)``."""
    return np.asarray(layer.level_shapes[0][:2] if layer.multiscale else layer.data.shape[:2],
                      dtype=float)


def world_box(layer) -> np.ndarray:
    """An image layer's whole section in world coordinates, ``[[row0, col0], [row1, col1]]``:
    the bounding box of its pixels' outer corners through its affine (rotation, scale)."""
    high = data_shape(layer) - 0.5
    corners = [(-0.5, -0.5), (-0.5, high[1]), (high[0], -0.5), tuple(high)]
    world = np.array([np.asarray(layer.data_to_world(np.asarray(c, dtype=float)),
                                 dtype=float)[-2:] for c in corners])
    return np.array([world.min(axis=0), world.max(axis=0)])


def _viewbox(viewer):
    """One grid cell's size now (canvas pixels, row and col), or None without a canvas
    that tells it (napari's public ``canvas.viewbox_size``)."""
    canvas = getattr(viewer, "canvas", None)
    if canvas is None or not hasattr(canvas, "viewbox_size"):
        return None
    return np.asarray(canvas.viewbox_size(viewer.layers), dtype=float)


def tier_shift(linear, zoom: float, tier: float, shift_px: float) -> tuple[int, int]:
    """``(rows, cols)`` in an image's pixels of a tier (``tier`` full pixels each) that a
    shift of ``shift_px`` screen pixels to the right spans, through the camera's
    ``zoom`` and the image's placement ``linear`` (world from data, ``(row, col)``: its
    scale, rotation and any mirroring). ``(0, 0)`` for a degenerate placement."""
    step = np.array([0.0, float(shift_px) / max(float(zoom), 1e-12)])
    try:
        data = np.linalg.solve(np.asarray(linear, dtype=float), step)
    except np.linalg.LinAlgError:
        return 0, 0
    if not np.all(np.isfinite(data)):
        return 0, 0
    return round(float(data[0]) / tier), round(float(data[1]) / tier)


def canvas_rgb(viewer) -> tuple[int, int, int]:
    """The canvas's colour (8-bit RGB) in the viewer's theme (napari's public
    ``napari.utils.theme.get_theme``): what a label is read against beyond an image.
    Black (napari's dark theme) when the theme cannot be read."""
    try:
        from napari.utils.theme import get_theme

        rgb = get_theme(viewer.theme).canvas.as_rgb_tuple()
        return tuple(int(v) for v in rgb[:3])
    except Exception:  # an unknown theme, an older napari
        return (0, 0, 0)


class PanelLayout:
    """The grid, the camera and the labels of one
    :class:`~napari_allen_sync._napari.layers.SyncLayers`.

    Parameters
    ----------
    owner : SyncLayers
        Gives the viewer, the panels (``order``), their layers (``images``,
        ``markers``, ``layers()``, ``stride``) and the batch's layers (``batch``,
        ``batch_layers``).

    Attributes
    ----------
    fitted : bool
        The camera was fitted to the panels of an answer (:meth:`fit`); until then the
        view a click is drawn in is predicted (:meth:`view_for`).
    side : LabelPlace
        The labels' size, side and widest line (:meth:`choose_labels`).
    drawn : SyncOutcome or None
        The answer whose markers are drawn (:meth:`relabel`).
    top_band_px : float
        Canvas pixels kept free at the top of every cell by the fits made while it is
        set (:meth:`fitted_view`): the first-click hint's lines
        (:class:`~napari_allen_sync._napari.first_hint.FirstClickHint`) are written
        there, above the sections instead of over the seed's. 0 keeps no band. The
        first answer with markers is drawn without it (:meth:`release_band`).
    """

    def __init__(self, owner):
        self.owner = owner
        self.viewer = owner.viewer
        self.fitted = False
        self.side = LabelPlace(LABEL_SIZES[0][1], False, 400.0)
        self.drawn = None
        self.top_band_px = 0.0
        self._fit_keys: tuple = ()  # the panels (keys) the camera was last fitted to
        #: ((keys, seed section), world box) the fits since covered: a click's fit keeps
        #: every section shown since in view, so the camera settles (fit_extent)
        self._covered: tuple | None = None
        #: ((keys, seed section), centre, zoom) of the last fit: a camera moved since
        #: (the user's zoom or pan) is the user's view (user_view)
        self._fitted_camera: tuple | None = None
        self._fit_canvas: tuple = ()  # the canvas size the camera was last fitted to
        self._shaped_for: tuple = ()  # (keys, canvas size) the grid's shape was chosen for
        self._inks: dict = {}  # label colour by place (see ink)
        self._low: dict = {}  # id(coarsest tier) → (that tier, it as an array)
        #: the canvas was resized (the window maximised, a dock opened): whole sections
        #: in view again once the resize settles (napari's public ``canvas.events.size``)
        self._refit_soon = qdebounced(self.refit, timeout=80)
        self._place_labels_soon = qdebounced(self.place_labels, timeout=100)
        self._zoom_event = None  # the camera's zoom event, once connected (fit)
        self._size_event = getattr(getattr(getattr(self.viewer, "canvas", None), "events",
                                           None), "size", None)
        if self._size_event is not None:
            self._size_event.connect(self._refit_soon)

    # ------------------------------------------------------------------ grid
    def arrange(self) -> None:
        """Own layers first, image then marker per key, in a grid of the owner's
        ``stride``; after the first layout, whole sections in view again (:meth:`fit`)
        when the layout or the panels changed, or when a panel's section no longer fits
        its cell."""
        owner = self.owner
        if owner.batch:
            for key in owner.order:
                if key not in owner.batch and key in owner.images:
                    owner.batch[key] = owner.batch_layers.new_layer(key, np.empty((0, 2)), {})
        layers = self.viewer.layers
        for dest, layer in enumerate(owner.layers()):
            src = next(i for i, lay in enumerate(layers) if _same(lay, layer))
            if src != dest:
                layers.move(src, dest)
        grid = _grid(self.viewer)
        grid.stride = owner.stride
        grid.spacing = GRID_SPACING
        # the shape is chosen again only for other panels or another canvas size, not
        # when a click moved a panel: the panels keep their cells between clicks
        shaped_for = (tuple(owner.order), tuple(self.viewer.canvas.size))
        shape = self.grid_shape(len(owner.order)) if shaped_for != self._shaped_for else None
        self._shaped_for = shaped_for
        before = (tuple(grid.shape), bool(grid.enabled))
        if shape is not None and tuple(grid.shape) != shape:
            grid.shape = shape
        grid.enabled = len(owner.order) > 1
        if self.fitted and ((tuple(grid.shape), bool(grid.enabled)) != before
                            or tuple(owner.order) != self._fit_keys
                            or not (self.whole_sections_in_view() or self.user_view())):
            # another layout, other panels, or a section pushed out of its cell (unless
            # the user zoomed or panned on these panels: a click keeps their view)
            self.fit()

    def extent(self) -> np.ndarray:
        """``[[row0, col0], [row1, col1]]``: the world box that holds every panel's whole
        section (:func:`world_box`); the camera is shared, so each cell must show it."""
        owner = self.owner
        boxes = [world_box(owner.images[k]) for k in owner.order if k in owner.images]
        if not boxes:
            boxes = [world_box(owner.seed_layer)]
        boxes = np.asarray(boxes, dtype=float)
        return np.array([boxes[:, 0].min(axis=0), boxes[:, 1].max(axis=0)])

    def fit_extent(self) -> np.ndarray:
        """The world box a fit shows: the panels' sections now (:meth:`extent`) and every
        section the fits since showed, on the same seed section with the same panels
        (:meth:`forget_fits`).

        Fitting only the sections now would zoom in on a click that brings smaller
        sections and out again on the next that brings larger ones: the panels would
        jump on every other click. With what was shown kept in, the camera settles
        after the first few clicks and stays (each fit only widens).
        """
        now = self.extent()
        covered = self._covered
        if covered is not None and covered[0] == self._panels():
            now = np.array([np.minimum(now[0], covered[1][0]),
                            np.maximum(now[1], covered[1][1])])
        return now

    def user_view(self) -> bool:
        """Whether the camera is the user's: moved (napari's wheel zoom, a pan) since
        the last fit, with the same panels on the same seed section. A click then keeps
        it, though sections may be cut: the user chose to look closer. Another seed
        section, other panels, a resize and napari's Home fit again."""
        fitted = self._fitted_camera
        if fitted is None or fitted[0] != self._panels():
            return False
        camera = _camera(self.viewer)
        return not (np.isclose(float(camera.zoom), fitted[2], rtol=1e-9)
                    and np.allclose(np.asarray(camera.center, dtype=float)[-2:], fitted[1],
                                    atol=1e-6))

    def forget_fits(self) -> None:
        """The next fit shows the sections now only: napari's Home, a resize, the
        first answer (another seed section or other panels forget by themselves)."""
        self._covered = None

    def _panels(self) -> tuple:
        """What the kept extent belongs to: the panels and the seed's section."""
        return (tuple(self.owner.order), self.owner.shown.get("seed"))

    def cell_size(self, shape) -> np.ndarray:
        """One grid cell's size (canvas pixels, row and col) for a grid ``shape``: napari's
        gaps (:data:`GRID_SPACING` of the mean cell) taken off the canvas."""
        size = np.asarray(self.viewer.canvas.size, dtype=float)
        shape = np.asarray(shape, dtype=float)
        if np.prod(shape) <= 1:
            return size
        gap = GRID_SPACING * float(np.mean(size / shape))
        return (size - gap * (shape - 1)) / shape

    def grid_shape(self, n: int):
        """Rows and columns that show ``n`` panels largest: the panels' extent
        (:meth:`extent`) fitted into one cell of each layout of the canvas (a narrow,
        tall canvas gets more rows than columns); None without a seed or a canvas."""
        canvas = getattr(self.viewer, "canvas", None)
        if self.owner.seed_layer is None or canvas is None or n < 2:
            return None
        low, high = self.extent()
        extent = np.maximum(high - low, 1.0)
        best, shape = -1.0, None
        for cols in range(1, n + 1):
            rows = -(-n // cols)
            zoom = float(np.min(self.cell_size((rows, cols)) / extent))
            if zoom > best * 1.0001:
                best, shape = zoom, (rows, cols)
        return shape

    # ------------------------------------------------------------------ camera
    def view_for(self, n_keys: int, click_rc, fraction: float = FIT_FRACTION):
        """The view a click's result will be drawn in: ``(centre, zoom, cell size)``.

        Before the first result the grid is not laid out yet: the view is predicted
        from the panels there are (:meth:`fitted_view`); afterwards it is the current
        camera. ``click_rc`` (the clicked point) is kept for callers.
        """
        box = _viewbox(self.viewer)
        if self.owner.seed_layer is None or box is None:
            return None
        if self.fitted:
            camera = _camera(self.viewer)
            return (np.asarray(camera.center, dtype=float)[-2:], float(camera.zoom), box)
        box = self.cell_size(self.grid_shape(n_keys) or (1, 1))
        centre, zoom = self.fitted_view(box, fraction)
        # new images are shown once the grid is laid out (show_outcome): one cell each
        return (centre, zoom, box)

    def fitted_view(self, box=None, fraction: float = FIT_FRACTION):
        """``(centre, zoom)`` that shows every panel's whole section in its cell: the
        centre of their common extent (:meth:`extent`), the zoom that fits it, with a
        margin, into a cell of ``box`` pixels (default: the grid's cell now), below a
        band of :attr:`top_band_px` (at most half the cell) kept free at its top."""
        if box is None:
            box = _viewbox(self.viewer)
        box = np.asarray(box, dtype=float)
        band = min(max(float(self.top_band_px), 0.0), 0.5 * float(box[0]))
        low, high = self.fit_extent()
        room = box - np.array([band, 0.0])
        zoom = float(np.min(room / (fraction * np.maximum(high - low, 1.0))))
        # the sections centred in the room below the band: band / 2 px lower on screen
        return (low + high) / 2.0 - np.array([band / (2.0 * zoom), 0.0]), zoom

    def release_band(self) -> bool:
        """Give up the hint's band (:attr:`top_band_px`) for the fits to come; whether
        there was one (the caller then fits the panels to the room it leaves)."""
        had = self.top_band_px > 0
        self.top_band_px = 0.0
        return had

    def whole_sections_in_view(self, tolerance_px: float = 1.0) -> bool:
        """Whether every panel's whole section (:func:`world_box`) lies inside its grid
        cell with the shared camera now."""
        box = _viewbox(self.viewer)
        if box is None:
            return True
        camera = _camera(self.viewer)
        centre = np.asarray(camera.center, dtype=float)[-2:]
        zoom = float(camera.zoom)
        for key in self.owner.order:
            layer = self.owner.images.get(key)
            if layer is None:
                continue
            low, high = box / 2 + (world_box(layer) - centre) * zoom
            if np.any(low < -tolerance_px) or np.any(high > box + tolerance_px):
                return False
        return True

    def fit(self, fraction: float = FIT_FRACTION) -> None:
        """Show whole sections: the camera on the centre of every panel's section, zoomed
        so that the largest extent (each panel with its placement: rotation, scale,
        shift) and a margin fills a grid cell (:meth:`fitted_view`); the markers stay
        at the same place of every cell."""
        camera = _camera(self.viewer)
        box = _viewbox(self.viewer)
        if self.owner.seed_layer is None or box is None:
            self.viewer.reset_view()
            return
        if np.all(box > 0):
            centre, zoom = self.fitted_view(box, fraction)
            camera.zoom = zoom
            camera.center = tuple(float(v) for v in centre)
            self._fit_canvas = tuple(self.viewer.canvas.size)
        self._fit_keys = tuple(self.owner.order)
        self._covered = (self._panels(), self.fit_extent())
        self._fitted_camera = (self._panels(),
                               np.asarray(camera.center, dtype=float)[-2:].copy(),
                               float(camera.zoom))
        for marker in self.owner.markers.values():  # thin rings at the new zoom
            size_ring(marker, float(camera.zoom))
        # the labels for this layout: lines as wide as the sections now on screen (an
        # answer drawn with new panels chose them before those panels existed)
        if self.drawn is not None:
            self.relabel()
        else:
            self.place_labels()
        if self._zoom_event is None:  # the labels follow the user's zoom too
            self._zoom_event = camera.events.zoom
            self._zoom_event.connect(self._place_labels_soon)

    def refit(self, *_) -> None:
        """After a canvas resize: the grid's shape for the new canvas, and whole
        sections in view (:meth:`fit`); nothing before the first layout, nor when the
        canvas has the size of the last fit again (a dock's layout passing through
        other sizes, a fit since): the camera then stays."""
        if self.owner.seed_layer is None or not self.fitted:
            return
        if tuple(self.viewer.canvas.size) == self._fit_canvas:
            return
        self.arrange()
        self.forget_fits()
        self.fit()

    def centre(self, key) -> bool:
        """Centre the camera on a key's marker (world position); False when it has none."""
        marker = self.owner.markers.get(key)
        if marker is None or len(marker.data) == 0:
            return False
        world = marker.data_to_world(marker.data[0])
        _camera(self.viewer).center = tuple(float(v) for v in np.asarray(world)[-2:])
        return True

    # ------------------------------------------------------------------ labels
    def choose_labels(self, outcome) -> None:
        """Choose the labels' size, side and widest line for an answer
        (:func:`~.markers.label_side`)."""
        req = outcome.request
        place = label_side(self.viewer, (float(req.y), float(req.x)))
        # lines as wide as the narrowest section on screen: the text stays over the
        # images, whose colour its ink was chosen against, not over the black canvas
        zoom = float(_camera(self.viewer).zoom)
        owner = self.owner
        widths = [float(np.ptp(world_box(owner.images[k])[:, 1])) * zoom - 2 * MARGIN_PX
                  for k in owner.order if k in owner.images]
        width = max(min([place.width_px, *widths]), min(place.width_px, MIN_LINE_PX))
        self.side = place._replace(size=min(place.size, label_size(width + 2 * MARGIN_PX)),
                                   width_px=width)

    def label(self, hit) -> str:
        """A hit's marker text for the labels' size and widest line now
        (:func:`~.markers.label_text`)."""
        # a far section's warning is read whole, in small panels too (wrapped)
        wrap = WRAP_ROWS if getattr(hit, "far", False) else None
        return label_text(hit.label, self.side.size, self.side.width_px, wrap)

    def style_label(self, marker, hit) -> None:
        """A hit's label on the side that keeps it in its panel (:attr:`side`,
        :func:`~.markers.place_label`), in an ink that contrasts with the image under it
        (:meth:`ink`). Where no ink reads well there (:data:`~.markers.READABLE_RATIO`),
        the label goes to the other side of its ring or sideways where the image reads
        (clearly) better and the label fits whole (:meth:`_better_place`); the side and
        shift chosen are kept in the marker's metadata (``allen_sync["above"]``,
        ``allen_sync["shift_px"]``) for the labels placed again at a new zoom."""
        side = self.side
        ink, score = self.ink(hit, side)
        if score < READABLE_RATIO:
            side, ink = self._better_place(marker, hit, side, ink, score)
        place_label(marker, self.viewer, side)
        meta = marker.metadata.setdefault("allen_sync", {})
        meta["above"], meta["shift_px"] = side.above, float(side.shift_px)
        if meta.get("ink") != ink:
            meta["ink"] = ink
            marker.text.color = ink

    def _better_place(self, marker, hit, side, ink, score):
        """``(place, ink)`` for a label whose ink reads poorly on its own side (``side``,
        ``ink``, ``score``): the first of these that reads (:data:`~.markers.READABLE_RATIO`)
        and fits whole (:func:`~.markers.label_fits`): the other side of the ring, then
        either side shifted sideways by :data:`~.markers.SHIFT_FRACTION` of the label's
        width, left and right; else the one of them that reads best if it reads clearly
        better (:data:`~.markers.OTHER_SIDE_GAIN`); else the label's own place."""
        # the label measured once: its size on screen is the same at every place tried
        geometry = label_geometry(marker, self.viewer, side)
        if geometry is None:
            return side, ink
        shift = SHIFT_FRACTION * float(geometry[1][1])
        other = side._replace(above=not side.above)
        candidates = [other]
        if shift >= 1.0:
            candidates += [place._replace(shift_px=d) for place in (side, other)
                           for d in (-shift, shift)]
        best = (OTHER_SIDE_GAIN * score, side, ink)
        for place in candidates:
            place_ink, place_score = self.ink(hit, place)
            if place_score < best[0] or not label_fits(marker, self.viewer, place,
                                                        geometry):
                continue
            if place_score >= READABLE_RATIO:
                return place, place_ink
            if place_score > best[0] or best[1] is side:
                best = (place_score, place, place_ink)
        return best[1], best[2]

    def marker_side(self, marker):
        """The :class:`~.markers.LabelPlace` a marker's label was last placed with: the
        answer's (:attr:`side`), on the side and at the sideways shift
        :meth:`style_label` chose for it."""
        meta = marker.metadata.get("allen_sync", {})
        above = meta.get("above")
        if above is None:
            return self.side
        return self.side._replace(above=bool(above), shift_px=float(meta.get("shift_px", 0.0)))

    def place_labels(self, *_) -> None:
        """Place every label again for the camera now (:func:`~.markers.place_label`):
        their offset from the ring is in data units, so it changes with the zoom."""
        for marker in self.owner.markers.values():
            if marker in self.viewer.layers:
                place_label(marker, self.viewer, self.marker_side(marker))

    def relabel(self) -> None:
        """Place the labels of the answer drawn last again for the current layout (a
        resize changes the panels' size): their size, side, lines and ink."""
        outcome = self.drawn
        if outcome is None:
            return
        self.choose_labels(outcome)
        for hit in outcome.hits:
            marker = self.owner.markers.get(hit.key)
            if marker is None or len(marker.features) != 1 or "label" not in marker.features:
                continue
            label = self.label(hit)
            if marker.features.at[0, "label"] != label:
                marker.features.at[0, "label"] = label
                marker.text.refresh(marker.features)
                marker.refresh(thumbnail=False, highlight=False, extent=False)
            self.style_label(marker, hit)

    def ink(self, hit, side=None) -> tuple[str, float]:
        """``(ink, score)``: the text colour with the most contrast and that contrast
        (:func:`~.markers.ink_score`), judged from the image's coarsest tier (in the tile
        cache) where the label is drawn on ``side`` (default :attr:`side`; shifted
        sideways by its ``shift_px``, :func:`tier_shift`): the pyramid the layer shows
        (an overlay's composite drawn into it too) at the layer's opacity, and beyond
        the image the canvas's colour (:func:`canvas_rgb`)."""
        side = self.side if side is None else side
        layer = self.owner.images.get(hit.key)
        levels = layer.data if layer is not None and layer.multiscale else None
        if levels is None or not len(levels):
            return "white", 0.0
        low, full = levels[-1], levels[0]
        f = float(full.shape[0]) / float(max(low.shape[0], 1))
        patch = self._label_patch(layer, f, self.label(hit), side)
        r, c = int(hit.y / f), int(hit.x / f)
        shift = self._tier_shift(layer, f, side.shift_px)
        # what the ink is sampled from: the tier (the same object for a section shown
        # again: pyramids are built once per image), the place (a click nearby: the
        # same ink), the side and the patch's size (not the camera's exact zoom), the
        # canvas's colour and the layer's opacity (a far target is greyed)
        outside, opacity = canvas_rgb(self.viewer), round(float(layer.opacity), 3)
        cache = (id(low), r // 6, c // 6, side.above, shift, patch, outside, opacity)
        hit_ink = self._inks.get(cache)
        if hit_ink is not None and hit_ink[0] is low:
            return hit_ink[1]
        scored = ink_score(self._low_tier(low), r + shift[0], c + shift[1], side.above,
                           *patch, outside=outside, opacity=opacity)
        self._inks[cache] = (low, scored)
        if len(self._inks) > 256:
            self._inks.pop(next(iter(self._inks)))
        return scored

    def _low_tier(self, low) -> np.ndarray:
        """An image's coarsest tier ``low`` (lazy) as an array, computed once per tier
        (a few hundred pixels a side): sampling it for every live frame's ink would
        compute the lazy tier each time. Keyed by the tier itself, not napari's
        ``layer.data`` (a new wrapper each time a section is shown again)."""
        entry = self._low.get(id(low))
        if entry is None or entry[0] is not low:
            entry = self._low[id(low)] = (low, np.asarray(low))
            while len(self._low) > 48:  # sections revisited (a few MB in all)
                self._low.pop(next(iter(self._low)))
        return entry[1]

    def _tier_shift(self, layer, tier: float, shift_px: float) -> tuple[int, int]:
        """A label's sideways shift on screen in the layer's coarsest tier
        (:func:`tier_shift`), at the camera's zoom."""
        if not shift_px:
            return 0, 0
        linear = np.asarray(layer.affine.affine_matrix, dtype=float)[-3:-1, -3:-1]
        return tier_shift(linear, float(_camera(self.viewer).zoom), tier, shift_px)

    def _label_patch(self, layer, tier: float, text: str, place: LabelPlace
                     ) -> tuple[int, int]:
        """``(half columns, rows)`` of the coarsest tier (``tier`` full pixels each)
        under the label ``text`` drawn at ``place``'s size, from the camera's zoom and
        the layer's scale (:meth:`ink`): as wide as its widest line (so that a label
        whose ends pass a section's edge is judged there too: its first characters,
        the section number, are drawn there), as tall as its lines and the ring's gap."""
        if layer is None:
            return 12, 8
        linear = np.asarray(layer.affine.affine_matrix, dtype=float)[-3:-1, -3:-1]
        scale = float(np.sqrt(abs(np.linalg.det(linear)))) or 1.0
        screen = max(float(_camera(self.viewer).zoom) * scale * tier, 1e-9)  # px / tier px
        text_height, text_width = label_extent(text, place.size)
        width = min(text_width, place.width_px)
        height = RING_PX / 2.0 + text_height
        return int(np.ceil(width / 2.0 / screen)), int(np.ceil(height / screen))

    def close(self) -> None:
        """Disconnect from the canvas and the camera."""
        self._refit_soon.cancel()
        self._place_labels_soon.cancel()
        disconnect = []
        if self._zoom_event is not None:
            disconnect.append((self._zoom_event, self._place_labels_soon))
        if self._size_event is not None:
            disconnect.append((self._size_event, self._refit_soon))
        for emitter, callback in disconnect:
            try:
                emitter.disconnect(callback)
            except (RuntimeError, TypeError, ValueError):
                pass
