"""Expression and projection overlays: a second image layer over a target's image.

A target whose overlay is on (``Target.overlay`` in the session) gets an Image layer of
its section's expression mask (in-situ data sets, Allen's ``view=expression``) or
projection mask (connectivity, ``view=projection``), drawn with a colormap over its
image (additive blending over fluorescence; bright-field: see below), in the same grid
cell and with exactly the same placement (``affine``, ``scale``, ``translate``). It
follows the target's section (a click, a section change, a live frame) and goes when the
overlay is toggled off or the target is removed.

napari's grid puts ``stride`` consecutive layers in each cell. With an overlay on, each
cell holds one more layer: the overlay right above its image, and an empty hidden
placeholder in the cells that have none (hidden layers keep their place without making
a cell of their own). :class:`OverlaySyncLayers` adds that to
:class:`~napari_allen_sync._napari.layers.SyncLayers` by extending its grid order
(:meth:`layers`, :attr:`stride`); :class:`OverlayController` loads the masks in workers.

How each kind is drawn (:data:`OVERLAY_STYLES`): a projection mask (connectivity
images are fluorescence, dark-field) with **additive** blending and napari's ``"green"``
colormap (the tracer's colour in Allen's connectivity viewer): a black mask pixel leaves
the image as it is, signal adds green light. An expression mask goes over bright-field
in-situ images, nearly white where there is no tissue: light added to white stays white,
so additive blending would show nothing there. It is drawn with **minimum** blending,
additive's bright-field counterpart, and a colormap from white (no expression: the image
unchanged) through yellow to red (strong expression, as the heat colours of Allen's
expression view), so stained tissue takes the colour of its expression.
"""

from __future__ import annotations

import numpy as np

from ..session import workflow
from ._layer_utils import same as _same
from .layers import SyncLayers

__all__ = [
    "OVERLAY_COLORMAPS",
    "OVERLAY_STYLES",
    "OverlayController",
    "OverlaySyncLayers",
    "mask_levels",
]

#: (blending, colormap) of each overlay kind (see the module's documentation).
OVERLAY_STYLES = {
    "expression": ("minimum", "expression heat (white → red)"),
    "projection": ("additive", "green"),
}
#: The colormap of each overlay kind, by name (napari's, or :func:`_colormap`'s).
OVERLAY_COLORMAPS = {kind: style[1] for kind, style in OVERLAY_STYLES.items()}


def _colormap(name: str):
    """A colormap of :data:`OVERLAY_STYLES`: napari's own by name, or the expression
    heat map (white → yellow → red), built here."""
    if name != OVERLAY_STYLES["expression"][1]:
        return name
    from napari.utils.colormaps import Colormap

    colours = [[1.0, 1.0, 1.0, 1.0], [1.0, 0.85, 0.2, 1.0], [0.9, 0.1, 0.0, 1.0]]
    return Colormap(colours, name=name)


def mask_levels(levels) -> list:
    """A mask's RGB pyramid as one intensity per pixel (the brightest channel), lazily:
    a colormap then draws it."""
    return [level.max(axis=-1) if level.ndim == 3 else level for level in levels]


class OverlaySyncLayers(SyncLayers):
    """:class:`~napari_allen_sync._napari.layers.SyncLayers` with an overlay layer over
    the images of the targets whose overlay is on.

    Attributes
    ----------
    overlays : dict
        Target key → its overlay Image layer.
    wanted_overlays : dict
        Target key → overlay kind, for every target whose overlay is on.
    on_overlay_needed : callable or None
        Called with ``(key, section_image_id, kind)`` whenever a target's image shows a
        section its overlay does not: the controller loads it (:meth:`show_overlay`).
    """

    def __init__(self, viewer):
        self.overlays: dict = {}
        self.fillers: dict = {}
        self.wanted_overlays: dict = {}
        self.on_overlay_needed = None
        self._following: dict = {}  # key → the image layer whose placement is followed
        super().__init__(viewer)
        viewer.layers.events.removed.connect(self._on_overlay_removed)

    # ------------------------------------------------------------------ the grid
    @property
    def stride(self) -> int:
        """Layers per grid cell: one more when any overlay is on."""
        return super().stride + (1 if self.wanted_overlays else 0)

    def layers(self) -> list:
        """Every layer this session owns, in grid order: each overlay (or placeholder)
        right above its image."""
        base = super().layers()
        if not self.wanted_overlays:
            return base
        by_image = {id(layer): key for key, layer in self.images.items()}
        out = []
        for layer in base:
            out.append(layer)
            key = by_image.get(id(layer))
            if key is not None:
                out.append(self.overlays.get(key) or self._filler(key))
        return out

    def arrange(self) -> None:
        if not self.wanted_overlays:
            self._drop_fillers()
        super().arrange()

    def _filler(self, key):
        layer = self.fillers.get(key)
        if layer is None or layer not in self.viewer.layers:
            layer = self.fillers[key] = self.viewer.add_points(
                np.empty((0, 2)),
                name=f"{key} (no overlay)",
                visible=False,
                metadata={"allen_sync": {"key": key, "placeholder": True}},
            )
        return layer

    def _drop_fillers(self, keys=None) -> None:
        for key in list(self.fillers if keys is None else keys):
            layer = self.fillers.pop(key, None)
            if layer is not None and layer in self.viewer.layers:
                self.viewer.layers.remove(layer)

    # ------------------------------------------------------------------ following
    def _record_image(self, key, layer, levels, image) -> None:
        # every new section of an image, however it came (a new layer, a click's
        # one-pass update, a live swap), passes here
        super()._record_image(key, layer, levels, image)
        self._follow(key)

    def _follow(self, key) -> None:
        """Keep a target's overlay on its image: the same placement now and on every
        change of it; a new section hides the old mask and asks for the new one."""
        image = self.images.get(key)
        kind = self.wanted_overlays.get(key)
        if image is None or kind is None:
            return
        if self._following.get(key) is not image:
            self._following[key] = image
            for name in ("affine", "scale", "translate"):
                getattr(image.events, name).connect(lambda _e=None, k=key: self.place(k))
        overlay = self.overlays.get(key)
        shown = self.shown.get(key)
        if overlay is not None:
            if overlay.metadata["allen_sync"].get("section_image_id") != shown:
                overlay.visible = False  # another section's mask: not over this one
            self.place(key)
        ok = overlay is not None and overlay.metadata["allen_sync"].get("section_image_id") == shown
        if shown is not None and not ok and self.on_overlay_needed is not None:
            self.on_overlay_needed(key, int(shown), kind)

    def place(self, key) -> None:
        """Give a target's overlay exactly its image's placement."""
        image, overlay = self.images.get(key), self.overlays.get(key)
        if image is None or overlay is None:
            return
        if not np.array_equal(overlay.scale, image.scale):
            overlay.scale = image.scale
        if not np.array_equal(overlay.translate, image.translate):
            overlay.translate = image.translate
        if not np.allclose(overlay.affine.affine_matrix, image.affine.affine_matrix):
            overlay.affine = image.affine.affine_matrix

    # ------------------------------------------------------------------ overlays
    def set_overlays(self, wanted: dict) -> None:
        """The targets whose overlay is on (key → kind): new ones are asked for, those
        turned off removed, and the grid laid out again."""
        wanted = {k: v for k, v in wanted.items() if v}
        before = dict(self.wanted_overlays)
        self.wanted_overlays = wanted
        for key in [k for k in self.overlays if wanted.get(k) != before.get(k)]:
            self._remove_overlay(key)
        if set(wanted) != set(before) and self.seed_layer is not None:
            with self.quietly():
                self.arrange()
        for key in wanted:
            if key not in self.overlays:
                self._follow(key)

    def show_overlay(self, loaded) -> bool:
        """Draw a loaded mask (:class:`~napari_allen_sync.session.workflow.OverlayImage`)
        over its target's image, if that target still wants it on that section."""
        key = loaded.key
        image = self.images.get(key)
        if (
            self.wanted_overlays.get(key) != loaded.kind
            or image is None
            or self.shown.get(key) != loaded.image.id
        ):
            return False
        levels = mask_levels(loaded.levels)
        name = f"{image.name} {loaded.kind}"
        meta = {"key": key, "overlay": loaded.kind, "section_image_id": int(loaded.image.id)}
        layer = self.overlays.get(key)
        with self.quietly():
            if layer is None:
                layer = self.viewer.add_image(
                    levels,
                    multiscale=True,
                    rgb=False,
                    name=name,
                    colormap=_colormap(OVERLAY_STYLES[loaded.kind][1]),
                    blending=OVERLAY_STYLES[loaded.kind][0],
                    contrast_limits=(0, 255),
                    affine=image.affine.affine_matrix,
                    scale=image.scale,
                    translate=image.translate,
                    metadata={"allen_sync": meta},
                )
                self.overlays[key] = layer
                self._drop_fillers([key])
                self.arrange()
            else:
                layer.data = levels
                layer.name = name
                layer.metadata["allen_sync"] = meta
                self.place(key)
            layer.visible = True
        return True

    def _remove_overlay(self, key) -> None:
        layer = self.overlays.pop(key, None)
        if layer is not None and layer in self.viewer.layers:
            self.viewer.layers.remove(layer)

    def remove(self, key) -> None:
        """Remove a target's layers, its overlay and placeholder too."""
        self._remove_overlay(key)
        self._drop_fillers([key])
        super().remove(key)

    def clear(self) -> None:
        """Remove every layer of the session (another source)."""
        for key in list(self.overlays):
            self._remove_overlay(key)
        self._drop_fillers()
        super().clear()

    def _on_overlay_removed(self, event):
        gone = event.value
        for table in (self.overlays, self.fillers):
            for key, layer in list(table.items()):
                if _same(layer, gone):
                    del table[key]

    def close(self) -> None:
        """Disconnect from the viewer (the layers stay for the user)."""
        try:
            self.viewer.layers.events.removed.disconnect(self._on_overlay_removed)
        except (RuntimeError, TypeError, ValueError):
            pass
        super().close()


class OverlayController:
    """Loads the overlays the session asks for, one worker per mask.

    Parameters
    ----------
    dock : AllenSyncWidget
        Gives the session, the runner and the layers (an :class:`OverlaySyncLayers`).
    """

    def __init__(self, dock):
        self.dock = dock
        self.session = dock.session
        self.runner = dock.runner
        self.layers = dock.layers
        self.loading: dict = {}  # key → (section_image_id, kind) being loaded
        self.layers.on_overlay_needed = self.load
        self.session.events.targets.connect(self.render)

    def render(self, *_) -> None:
        """Draw the session's overlay choices."""
        if not self.runner.released:
            self.layers.set_overlays(self.session.overlays())

    def toggle(self, section_data_set_id: int, on: bool) -> None:
        """Turn a target's overlay on or off (the dock's checkbox)."""
        self.session.set_overlay(section_data_set_id, on)

    def load(self, key: str, section_image_id: int, kind: str) -> None:
        """Load one target's mask of one section in a worker (once at a time)."""
        s = self.session
        if self.runner.released or s.source is None:
            return
        if self.loading.get(key) == (section_image_id, kind):
            return
        image = s.source.catalog.section_images.get(int(section_image_id))
        if image is None:
            return
        self.loading[key] = (section_image_id, kind)

        def finished():
            if self.loading.get(key) == (section_image_id, kind):
                del self.loading[key]

        def loaded(result):
            if not self.runner.released and self.layers.show_overlay(result):
                self.dock.overlay_shown.emit(key)

        self.runner.start(
            workflow.load_overlay,
            s.source,
            key,
            image,
            kind,
            desc=f"{kind} overlay of SectionImage {section_image_id}",
            returned=loaded,
            finished=finished,
        )
