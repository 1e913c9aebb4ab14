"""The napari layers of one synchronization session.

:class:`SyncLayers` owns the layers of one synchronization session (the seed image and
marker, an image and a marker per target data set and for the atlas) and moves the
markers in place on every click; their grid, camera and labels are its
:class:`~napari_allen_sync._napari.layout.PanelLayout`, the click on the seed is
:class:`~napari_allen_sync._napari.seed_click.ClickToSync` (import each from its own
module).

Coordinates: every image layer's *data* coordinates are full-resolution sync pixels of
its own SectionImage (row = y, column = x) at every zoom level; napari's world
coordinates are the seed's sync pixels. A target's image has an ``affine``
(:func:`~napari_allen_sync.session.workflow.placement`) that puts the hit's pixel
exactly at the seed marker's world position: sections cut in the seed's plane are
registered onto the seed (same orientation and µm per pixel; the affine changes only
with the section), sections of another plane are scaled to the seed's µm per pixel and
shifted. Every marker layer keeps one fixed placement, the world frame (no affine): its
point is the hit's pixel through its image's affine (:func:`world_point`), so a new
section or placement changes the image layer only, never the marker's (napari's
``affine`` setter re-slices a layer and recomputes the dims range). With napari's grid
(one shared camera) every marker then sits at the same spot of its grid cell, where the
user clicked: the views are aligned without moving the camera. The first click also
fits and centres the view on the marker.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
from qtpy.QtCore import QTimer

from ._batch_layers import BatchLayers
from ._layer_utils import camera as _camera
from ._layer_utils import grid as _grid
from ._layer_utils import same as _same
from ._layer_utils import same_affine as _same_affine
from ._layer_utils import swap_image
from .dims_anchor import DimsAnchor
from .layout import PanelLayout
from .markers import (
    FAR_COLOUR,
    FAR_OPACITY,
    MARKER_COLOURS,
    add_marker,
    hold_marker,
)

__all__ = ["SyncLayers", "world_point"]


def world_point(hit) -> tuple[float, float]:
    """A hit's pixel ``(y, x)`` in world coordinates (the seed's sync pixels), through its
    placement ``world_from_data``: where its marker is drawn."""
    if hit.key == "seed":
        return float(hit.y), float(hit.x)
    row, col, _ = np.asarray(hit.world_from_data, dtype=float) @ [hit.y, hit.x, 1.0]
    return float(row), float(col)


class SyncLayers:
    """The layers of one synchronization session, in napari's grid.

    Keys: ``"seed"``, ``"ds:<id>"`` for a target data set, ``"atlas:<id>"``.
    Each key owns one multiscale RGB Image layer and one Points marker layer.
    """

    def __init__(self, viewer):
        self.viewer = viewer
        self.images: dict = {}
        self.markers: dict = {}
        self.shown: dict = {}  # key → section_image_id in the image layer
        self.resolution: dict = {}  # key → µm per pixel
        self.order: list = ["seed"]
        self._levels: dict = {}  # key → the pyramid (list) in the image layer
        self._hidden: set = set()  # keys whose image was created hidden, not shown yet
        #: key → (SectionImage, affine, name) of the section a live frame moved to while its image
        #: still shows another section (:meth:`stale_images`, :meth:`swap_images`)
        self.wanted: dict = {}
        #: the layers of a batch-synchronized Points layer, one per grid cell
        self.batch_layers = BatchLayers(self)
        #: The source's name, in each image layer's ``metadata["allen"]``.
        self.source_name = ""
        self.remove_orphans()
        viewer.layers.events.removed.connect(self._on_removed)
        #: the grid, the camera and the labels (their size, side, lines and ink)
        self.layout = PanelLayout(self)
        #: Called with ``(key, layer, levels, image)`` each time a panel's image layer is
        #: given its section (a new one or the same; the plain pyramid ``levels``), by
        #: a click, a section change, a live frame or a Go to: the overlays follow
        #: (:class:`~napari_allen_sync._napari.overlays.OverlayController`).
        self.image_shown: list = []
        #: keeps napari's dims point still while panels move (:mod:`.dims_anchor`)
        self.dims_anchor = DimsAnchor(self)

    def remove_orphans(self) -> int:
        """Remove the layers an earlier dock of this plugin left in the viewer (its
        seed, targets, markers and batch answers); the user's own layers stay, Allen
        images opened with the reader too. Returns how many were removed."""
        layers = self.viewer.layers
        old = [lay for lay in layers if (getattr(lay, "metadata", None) or {}).get("allen_sync")]
        for layer in old:
            layers.remove(layer)
        return len(old)

    # ------------------------------------------------------------------ state
    @property
    def seed_layer(self):
        """The seed's image layer, or None."""
        return self.images.get("seed")

    @property
    def batch(self) -> dict:
        """key → Points layer of a batch-synchronized layer's points (the seed's is the
        user's own layer); with a batch each grid cell holds three layers."""
        return self.batch_layers.layers

    @property
    def stride(self) -> int:
        """Layers per grid cell: image and marker, and the batch's points if any."""
        return 3 if self.batch else 2

    def layers(self) -> list:
        """Every layer this session owns, in grid order."""
        out = []
        for key in self.order:
            group = [self.images.get(key), self.markers.get(key)]
            if self.batch:  # under the marker
                group.insert(1, self.batch.get(key))
            out += [lay for lay in group if lay is not None]
        return out

    def _on_removed(self, event):
        gone = event.value
        for key, layer in list(self.batch.items()):
            if _same(layer, gone):
                self.batch_layers.forget(key)
                if key == "seed":  # the synchronized layer itself: the batch is over,
                    # not inside napari's own removal: after it
                    QTimer.singleShot(0, self.batch_layers.source_gone)
        for table in (self.images, self.markers):
            for key, layer in list(table.items()):
                if _same(layer, gone):
                    del table[key]
                    if table is self.images:
                        self.shown.pop(key, None)
                        self._levels.pop(key, None)
                        self._hidden.discard(key)

    # ------------------------------------------------------------------ layers
    def _add_image(self, key, levels, name, image, affine=None, visible=True):
        old = self.images.get(key)
        if old is not None:
            new_levels = levels if self._levels.get(key) is not levels else None
            swap_image(old, new_levels, affine)
            if old.name != name:
                old.name = name
            layer = old
        else:
            # the affine at creation: setting it afterwards re-slices the layer
            extra = {} if affine is None else {"affine": affine}
            layer = self.viewer.add_image(levels, multiscale=True, rgb=True, name=name,
                                          visible=visible, **extra,
                                          metadata={"allen_sync": {"key": key}})
            self.images[key] = layer
            if not visible:
                self._hidden.add(key)
        self._record_image(key, layer, levels, image)
        return layer

    def _record_image(self, key, layer, levels, image) -> None:
        """What an image layer shows: its pyramid, section and resolution."""
        self._levels[key] = levels
        self.shown[key] = image.id
        self.resolution[key] = float(image.resolution or 1.0)
        layer.metadata["allen_sync"] = {"key": key, "section_image_id": image.id}
        layer.metadata["allen"] = {"section_image_id": int(image.id), "source": self.source_name}
        for callback in self.image_shown:
            callback(key, layer, levels, image)

    def _marker(self, key, kind, name):
        """A key's marker layer (created in the world frame, its placement fixed)."""
        layer = self.markers.get(key)
        if layer is None:
            zoom = float(_camera(self.viewer).zoom)
            layer = self.markers[key] = add_marker(self.viewer, key, kind, name, zoom=zoom)
        return layer

    def show_seed(self, loaded, name: str, keep_targets: bool = False) -> None:
        """Show a new seed section: drop the target layers, empty the seed marker.

        ``keep_targets`` (another section of the same data set, the targets following
        at once): the target layers, the grid and the camera stay, and the answer
        that follows swaps their images in place, so the panels do not jump.
        """
        keep = keep_targets and self.layout.fitted and self.seed_layer is not None
        if not keep:
            for key in [k for k in self._keys() if k != "seed"]:
                self.remove(key)
            self.order = ["seed"]
        self.batch_layers.clear(arrange=not keep)
        self._add_image("seed", loaded.levels, name, loaded.image)
        marker = self._marker("seed", "seed", "seed marker")
        marker.data = np.empty((0, 2))
        if keep:
            return
        self.layout.fitted = False
        self.layout.forget_fits()
        self.arrange()
        self.dims_anchor.update()
        self.viewer.layers.selection.active = self.seed_layer
        self.viewer.reset_view()

    def adopt_seed(self, layer) -> None:
        """Make an image layer the user opened (the reader, the sample) the seed's layer:
        the seed layer shown before, if another, is removed."""
        old = self.images.get("seed")
        if old is not None and old is not layer and old in self.viewer.layers:
            self.viewer.layers.remove(old)
        self.images["seed"] = layer
        self._levels["seed"] = None
        layer.metadata["allen_sync"] = {"key": "seed"}
        if self.layout.fitted:  # the section shown already: the new layer takes the seed's cell
            with self.quietly():
                self.arrange()

    def keep_only(self, keys) -> None:
        """Remove the layers of every target not in ``keys`` (the session's)."""
        for key in [k for k in self._keys() if k != "seed" and k not in keys]:
            self.remove(key)
        if self.seed_layer is not None and "seed" in self.order:
            self.order = [k for k in self.order if k in keys or k == "seed"]
            self.arrange()

    def clear(self) -> None:
        """Remove every layer of the session, the seed's too (another source)."""
        for key in [k for k in self._keys() if k != "seed"]:
            self.remove(key)
        self.batch_layers.clear(arrange=False)
        for table in (self.images, self.markers):
            layer = table.pop("seed", None)
            if layer is not None and layer in self.viewer.layers:
                self.viewer.layers.remove(layer)
        self.shown.clear()
        self._levels.clear()
        self._hidden.clear()
        self.wanted.clear()
        self.order = ["seed"]
        self.layout.fitted = False
        self.layout.forget_fits()
        self.dims_anchor.remove()
        _grid(self.viewer).enabled = False

    def dim(self, on: bool) -> None:
        """Dim the markers while a new answer is on its way (and restore them)."""
        opacity = 0.35 if on else 1.0
        for marker in self.markers.values():
            if marker.opacity != opacity:
                marker.opacity = opacity

    def remove(self, key) -> None:
        """Remove a target's layers."""
        self.batch_layers.remove(key)
        for table in (self.images, self.markers):
            layer = table.pop(key, None)
            if layer is not None and layer in self.viewer.layers:
                self.viewer.layers.remove(layer)
        self.shown.pop(key, None)
        self._levels.pop(key, None)
        self._hidden.discard(key)
        self.wanted.pop(key, None)
        if key in self.order and key != "seed":
            self.order.remove(key)

    def show_outcome(self, outcome, names: dict, markers: bool = True) -> None:
        """Draw one click's markers; swap a target's image only when its section changed.

        Parameters
        ----------
        outcome : SyncOutcome
        names : dict
            Layer name of each target key's image.
        markers : bool
            False: lay out the images and create the (empty) marker layers only, as
            the targets are chosen (:meth:`ClickController.prepare
            <napari_allen_sync._napari.click_controller.ClickController.prepare>`), so
            that the first click only moves markers.
        """
        self.wanted.clear()  # a click's images are prepared with it
        # the atlas beside the seed, then the targets in the order they were added
        keys = [h.key for h in outcome.hits if h.key != "seed"]
        wanted = ["seed", *sorted(keys, key=lambda k: not k.startswith("atlas:"))]
        for key in [k for k in self._keys() if k not in wanted]:
            self.remove(key)
        view = outcome.request.view
        if not self.layout.fitted and view is not None:
            # the camera the result is drawn with, before new layers are first sliced
            camera = _camera(self.viewer)
            camera.zoom = float(view[1])
            camera.center = tuple(float(v) for v in view[0])
        # held viewer reactions (see quietly): the layer controls swap back to the
        # active layer at the end, when the scene is final (Qt then paints it once)
        self.layout.choose_labels(outcome)
        if markers:
            self.layout.drawn = outcome
        # the first answer with markers is drawn without the first-click hint's band
        unbanded = markers and self.layout.release_band()
        with self.quietly():
            self._update_hits(outcome, names, markers)
            self.order = wanted
            self.arrange()
            if not self.layout.fitted or unbanded:
                self.layout.forget_fits()  # the first answer: its own sections, tight
                self.layout.fit()
                self.layout.fitted = True
            # new images are shown once the grid and the camera are final: each is
            # sliced once, in its cell, from the tiles the worker has read
            for key in [k for k in wanted if k in self._hidden and k in self.images]:
                self._hidden.discard(key)
                self.images[key].visible = True
            self.batch_layers.refresh()
            self.dims_anchor.update()

    def move_live(self, outcome, names: dict) -> bool:
        """Draw a live frame: move the markers, reusing every layer.

        A target's image changes only when the frame crossed into another of its
        sections. A target cut in another plane (placed by scale and shift, not
        registered) keeps its placement while its section stays, so its image does not
        move under the cursor: its marker does. A marker's point is the frame's world
        position (:func:`world_point`), also while its image still shows the section
        before (its load pending). Features are updated in place; the marker's text
        only when its label changed.

        Returns
        -------
        bool
            False when the frame needs a layer that does not exist (a target added
            since the last click): draw it with :meth:`show_outcome` instead.
        """
        keys = [h.key for h in outcome.hits]
        if (set(keys) != set(self.order)
                or any(k not in self.markers or k not in self.images for k in keys)):
            return False
        images_changed = False  # a section or a placement: the batch layers follow
        self.layout.choose_labels(outcome)
        self.layout.drawn = outcome
        with self.quietly():
            for hit in outcome.hits:
                marker = self.markers[hit.key]
                if hit.key != "seed":
                    name = names.get(hit.key, hit.key)
                    images_changed |= self._live_image(hit, name)
                    if marker.name != f"{name} marker":
                        marker.name = f"{name} marker"
                self._move_live_marker(marker, world_point(hit), hit)
                self._style(hit)
            if self.batch and images_changed:
                self.batch_layers.refresh()
        return True

    def _live_image(self, hit, name) -> bool:
        """A live frame's target image: a new section shown if loaded, else wanted (the
        marker moves at once, the image follows in :meth:`swap_images`); a registered
        placement follows the frame, a crossed-plane one stays. True if the image or its
        placement changed."""
        image = self.images[hit.key]
        if self.shown.get(hit.key) != hit.section_image_id:
            if hit.levels is not None:
                self._add_image(hit.key, hit.levels, name, hit.image,
                                affine=self._new_affine(image, hit.world_from_data))
                return True
            self.wanted[hit.key] = (hit.image, hit.world_from_data, name)
            return False
        self.wanted.pop(hit.key, None)
        if hit.registered or hit.levels is not None:
            if not _same_affine(image, hit.world_from_data):
                image.affine = hit.world_from_data
                return True
        else:  # keep the placement: record where the frame is drawn
            hit.world_from_data = np.array(image.affine.affine_matrix[-3:, -3:])
        return False

    def panels_shown(self, keys) -> bool:
        """Whether every panel of ``keys`` (the seed and at least one target or the
        atlas) has its image layer, visible: the panels are laid out."""
        return len(keys) > 1 and all(k in self.images and self.images[k].visible
                                     for k in keys)

    def stale_images(self) -> list:
        """``(key, SectionImage, affine)`` of the targets whose marker is on another
        section than their image shows (live frames moved on before it was loaded)."""
        return [(key, image, affine) for key, (image, affine, *_) in self.wanted.items()
                if key in self.images and self.shown.get(key) != image.id]

    def swap_images(self, loaded) -> list:
        """Show loaded images, each only if its target still wants that section.

        Parameters
        ----------
        loaded : list of (key, SectionImage, levels)

        Returns
        -------
        list of str
            The keys whose image changed.
        """
        swapped = []
        with self.quietly():
            for key, image, levels in loaded:
                want = self.wanted.get(key)
                if want is None or want[0].id != image.id or key not in self.images:
                    continue
                self._swap(key, image, levels, *self.wanted.pop(key)[1:])
                swapped.append(key)
            if swapped and self.batch:
                self.batch_layers.refresh()
        return swapped

    def _swap(self, key, image, levels, affine, name) -> None:
        """A live target's loaded section: the image's pyramid and placement. Its marker
        stays: it is at the frame's world position already (:meth:`move_live`), whatever
        the image showed."""
        layer = self.images[key]
        self._add_image(key, levels, name, image, affine=self._new_affine(layer, affine))

    def _move_live_marker(self, marker, point, hit) -> None:
        """Move a marker for a live frame to the world ``point``, and its text when its
        label changed (a new section or structure), in place; the other features follow
        at the readouts' pace (:meth:`update_features`)."""
        table = marker.features
        first = len(marker.data) != 1 or len(table) != 1 or "label" not in table
        row = hit.row() if first else {}
        row["label"] = self.layout.label(hit)
        hold_marker(marker, point, row)

    @staticmethod
    def _new_affine(layer, affine):
        """``affine`` when it differs from the layer's placement, else None."""
        if affine is None or _same_affine(layer, affine):
            return None
        return affine

    def update_features(self, outcome) -> None:
        """Bring the markers' features up to a frame (in place; the text is unchanged
        because live frames rebuild it whenever the label changes)."""
        for hit in outcome.hits:
            marker = self.markers.get(hit.key)
            if marker is None or len(marker.features) != 1:
                continue
            table = marker.features
            for k, v in hit.row().items():
                if k in table:
                    table.at[0, k] = v

    def _keys(self) -> list:
        """Every key with a layer (those in the grid and any other this session owns)."""
        keys = list(self.order)
        for key in [*self.images, *self.markers]:
            if key not in keys:
                keys.append(key)
        return keys

    @contextmanager
    def quietly(self):
        """Keep the layer the user had selected while layers are added and moved.

        A new layer becomes the active one as it is inserted; at the end the layer
        active before is made active again (the seed's image when none was), through
        napari's public selection, whose events are never held.
        """
        selection = self.viewer.layers.selection
        active = selection.active
        try:
            yield
        finally:
            if active is None or active not in self.viewer.layers:
                active = self.seed_layer
            if active is not None and selection.active is not active:
                selection.active = active

    def _update_hits(self, outcome, names, markers: bool = True) -> None:
        """Draw a click's hits: new images, placements and markers, in one pass.

        Every change goes through napari's public setters (:func:`swap_image`,
        :func:`~.markers.hold_marker`); only the layers whose section, placement or
        point changed are touched. A new placement changes the layers' combined
        extent, and with it napari's dims range; the hidden dims anchor
        (:mod:`.dims_anchor`) keeps napari's point from snapping to the new range,
        which would re-slice every layer. Only the image changes placement: the markers
        keep theirs (the world frame), so napari's step and range change once, with the
        image (:meth:`_draw_hit`).
        """
        for hit in outcome.hits:
            name = names.get(hit.key, hit.key)
            new = hit.key != "seed" and hit.key not in self.images
            if new:
                if hit.levels is None:  # shown section vanished; nothing to draw on
                    continue
                self._add_image(hit.key, hit.levels, name, hit.image,
                                affine=hit.world_from_data, visible=False)
            marker = self._marker(hit.key, hit.kind, f"{name} marker")
            if marker.name != f"{name} marker":
                marker.name = f"{name} marker"
            self._draw_hit(hit, name, marker, image=hit.key != "seed" and not new,
                           markers=markers)

    def _draw_hit(self, hit, name, marker, image: bool, markers: bool) -> None:
        """One hit's image (``image``: an existing layer to place) and marker
        (``markers``): the image's section and placement, then the marker's point."""
        if image:
            self._place_image(hit, name)
        if markers:
            self._hold_hit(marker, hit)
            self._style(hit)

    def _hold_hit(self, marker, hit) -> None:
        """A click's marker: its world point (:func:`world_point`), features and label."""
        row = hit.row()
        row["label"] = self.layout.label(hit)
        hold_marker(marker, world_point(hit), row)

    def _place_image(self, hit, name) -> None:
        """A target's existing image layer: its new section and placement."""
        layer = self.images[hit.key]
        levels = hit.levels if hit.levels is not None else self._levels.get(hit.key)
        new_levels = levels if levels is not self._levels.get(hit.key) else None
        swap_image(layer, new_levels, self._new_affine(layer, hit.world_from_data))
        if hit.levels is not None:
            self._record_image(hit.key, layer, hit.levels, hit.image)
        if layer.name != name:
            layer.name = name

    def _style(self, hit) -> None:
        """The label on the side that keeps it in the panel, in an ink that contrasts
        with the image under it (:meth:`PanelLayout.style_label
        <napari_allen_sync._napari.layout.PanelLayout.style_label>`); a target with no
        section near the point greyed (its marker and image), before its label's ink is
        judged against the image as drawn."""
        marker, image = self.markers.get(hit.key), self.images.get(hit.key)
        if marker is None:
            return
        meta = marker.metadata.setdefault("allen_sync", {})
        if meta.get("far", False) != hit.far:
            meta["far"] = hit.far
            colour = FAR_COLOUR if hit.far else MARKER_COLOURS.get(hit.kind, "white")
            marker.border_color = colour
            if image is not None and hit.key != "seed":
                image.opacity = FAR_OPACITY if hit.far else 1.0
        self.layout.style_label(marker, hit)

    # ------------------------------------------------------------------ layout
    def arrange(self) -> None:
        """Lay the panels out in napari's grid (:meth:`PanelLayout.arrange
        <napari_allen_sync._napari.layout.PanelLayout.arrange>`)."""
        self.layout.arrange()

    def view_for(self, n_keys: int, click_rc):
        """The view a click's result will be drawn in (:meth:`PanelLayout.view_for
        <napari_allen_sync._napari.layout.PanelLayout.view_for>`)."""
        return self.layout.view_for(n_keys, click_rc)

    def fitted_view(self, box=None):
        """``(centre, zoom)`` that shows every panel's whole section in its cell
        (:meth:`PanelLayout.fitted_view
        <napari_allen_sync._napari.layout.PanelLayout.fitted_view>`)."""
        return self.layout.fitted_view(box)

    def relabel(self) -> None:
        """Place the labels of the answer drawn last again (:meth:`PanelLayout.relabel
        <napari_allen_sync._napari.layout.PanelLayout.relabel>`)."""
        self.layout.relabel()

    def centre(self, key) -> bool:
        """Centre the camera on a key's marker (:meth:`PanelLayout.centre
        <napari_allen_sync._napari.layout.PanelLayout.centre>`)."""
        return self.layout.centre(key)

    def close(self) -> None:
        """Disconnect from the viewer (the layers stay for the user)."""
        self.dims_anchor.close()
        self.layout.close()
        try:
            self.viewer.layers.events.removed.disconnect(self._on_removed)
        except (RuntimeError, TypeError, ValueError):
            pass
