"""Expression and projection overlays, drawn into each target's own image layer.

A target whose overlay is on (``Target.overlay`` in the session) shows its section
composited with the section's expression mask (in-situ data sets, Allen's
``view=expression``) or projection mask (connectivity, ``view=projection``) in its one
image layer, named ``"… + expression"`` or ``"… + projection"``. There is no second
layer: napari's grid keeps its two layers a cell (image and marker), and the layer
list holds nothing but the panels. How each kind is drawn (additive green over
fluorescence; the minimum with a white → yellow → red heat map over bright-field, so
a mask of 0 leaves the image as it is) is the Qt-free
:mod:`napari_allen_sync.overlay_images`.

:class:`OverlayController` composes the dock's
:class:`~napari_allen_sync._napari.layers.SyncLayers` (it does not extend it): it
listens to the session's overlay choices and to ``SyncLayers.image_shown``, called
each time a panel's image layer is given its section (a click, a section change, a
live frame, a Go to). For every such section of a target whose overlay is on, the
composite is swapped into the layer: at once when it was composited before (cached
per target and section, so toggling off and on and returning to a section are quick),
else after a worker (:func:`~napari_allen_sync.session.workflow.load_overlay`, with
progress in napari's activity dock, stopped by the dock's Cancel) has composited the
tiles in view. A composite arriving late is drawn only if its target still wants that
overlay and its layer still shows that section of that source: a mask is never drawn
over another section's image. Toggling off, like a new section whose composite is not
ready yet, shows the plain image (the pyramid ``SyncLayers`` gave the layer); a target
removed or a source switched takes its layers, and so its overlay, with it.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..overlay_images import OVERLAY_STYLES
from ..session import workflow

__all__ = ["OVERLAY_STYLES", "OverlayController", "overlay_name", "plain_name"]

#: How many composite pyramids (target, section, kind) are kept ready to be shown:
#: lazy arrays, their tiles in the bounded cache of
#: :func:`~napari_allen_sync.overlay_images.overlay_tiles`.
MAX_READY = 256


def overlay_name(name: str, kind: str | None) -> str:
    """A target image layer's name with its overlay on (``"… + expression"``) or off.

    Examples
    --------
    >>> overlay_name("Gad1 #12", "expression")
    'Gad1 #12 + expression'
    >>> overlay_name("Gad1 #12 + expression", None)
    'Gad1 #12'
    """
    base = plain_name(name)
    return f"{base} + {kind}" if kind else base


def plain_name(name: str) -> str:
    """A layer's name without the overlay it says is on."""
    for kind in OVERLAY_STYLES:
        suffix = f" + {kind}"
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


class OverlayController:
    """Draws the overlays the session asks for into the targets' image layers.

    Parameters
    ----------
    dock : AllenSyncWidget
        Gives the session, the runner, the layers (a
        :class:`~napari_allen_sync._napari.layers.SyncLayers`) and its
        ``overlay_shown`` signal, emitted with a target's key when its composite is
        drawn.

    Attributes
    ----------
    on : dict
        Target key → overlay kind, as last rendered from the session.
    plain : dict
        Target key → the plain pyramid its image layer was given.
    ready : OrderedDict
        ``(key, section_image_id, kind)`` → composite pyramid, composited already.
    loading : dict
        Target key → ``((section_image_id, kind), worker)`` on its way.
    """

    def __init__(self, dock):
        self.dock = dock
        self.session = dock.session
        self.runner = dock.runner
        self.layers = dock.layers
        self.on: dict = {}
        self.plain: dict = {}
        self.ready: OrderedDict = OrderedDict()
        self.loading: dict = {}
        self.layers.image_shown.append(self.follow)
        self.session.events.targets.connect(self.render)
        self.session.events.source.connect(self.forget)
        self.runner.disconnect.append(self.close)

    # ------------------------------------------------------------------ session
    def render(self, *_) -> None:
        """Draw the session's overlay choices: those turned off restored, those turned
        on renamed and drawn (or loaded)."""
        if self.runner.released:
            return
        wanted = self.session.overlays()
        keys = set(self.session.keys())
        for key in [k for k in self.on if wanted.get(k) != self.on[k]]:
            del self.on[key]
            self._stop(key)
            if key in keys:
                self._restore(key)
        for key in [k for k in self.plain if k not in keys]:
            del self.plain[key]
        for key, kind in wanted.items():
            if self.on.get(key) != kind:
                self.on[key] = kind
                self._rename(key, kind)
                self._show(key)

    def toggle(self, section_data_set_id: int, on: bool) -> None:
        """Turn a target's overlay on or off (the dock's checkbox)."""
        self.session.set_overlay(section_data_set_id, on)

    def forget(self, *_) -> None:
        """Another source: nothing composited from the old one is shown again."""
        for key in list(self.loading):
            self._stop(key)
        self.ready.clear()
        self.plain.clear()

    def drawn(self) -> dict:
        """Target key → overlay kind, for the targets whose image layer shows its
        section's composite now."""
        out = {}
        for key, kind in self.on.items():
            layer, section = self.layers.images.get(key), self.layers.shown.get(key)
            levels = None if section is None else self.ready.get((key, int(section), kind))
            if layer is not None and levels is not None and layer.data[0] is levels[0]:
                out[key] = kind
        return out

    # ------------------------------------------------------------------ layers
    def follow(self, key, layer, levels, image) -> None:
        """``SyncLayers.image_shown``: a panel's image layer was given ``image``
        (plain ``levels``); a target whose overlay is on gets its composite."""
        if not str(key).startswith("ds:"):
            return
        self.plain[key] = levels
        if key in self.on:
            self._show(key)

    def _show(self, key) -> None:
        """A target's composite of the section its layer shows: drawn if ready, else
        loaded (the plain image stays until it is)."""
        layer, section = self.layers.images.get(key), self.layers.shown.get(key)
        kind = self.on.get(key)
        if layer is None or section is None or kind is None:
            return
        levels = self.ready.get((key, int(section), kind))
        if levels is None:
            self.load(key, int(section), kind)
        else:
            self.ready.move_to_end((key, int(section), kind))
            self._stop(key)
            self._swap(key, layer, levels)

    def _swap(self, key, layer, levels) -> None:
        """Give an image layer another pyramid of the same section (the composite or
        the plain one), through napari's data setter (it redraws the layer once);
        ``overlay_shown`` for a composite."""
        if layer.data[0] is levels[0]:
            return
        layer.data = levels  # napari's setter: the same shape, so the same extent and range
        if self.plain.get(key) is not levels:
            self.dock.overlay_shown.emit(key)

    def _restore(self, key) -> None:
        """The overlay turned off: the plain image and name again."""
        layer, plain = self.layers.images.get(key), self.plain.get(key)
        if layer is not None and plain is not None:
            self._swap(key, layer, plain)
        self._rename(key, None)

    def _rename(self, key, kind) -> None:
        """The layer names say whether the overlay is on (as the next click names them,
        :func:`~napari_allen_sync._napari.click_controller.hit_names`)."""
        layer = self.layers.images.get(key)
        if layer is None:
            return
        name = overlay_name(layer.name, kind)
        if layer.name != name:
            layer.name = name
        marker = self.layers.markers.get(key)
        if marker is not None and marker.name != f"{name} marker":
            marker.name = f"{name} marker"

    # ------------------------------------------------------------------ workers
    def load(self, key: str, section_image_id: int, kind: str) -> None:
        """Composite one target's section in a worker (the newest section only)."""
        s = self.session
        if self.runner.released or s.source is None:
            return
        job = (int(section_image_id), kind)
        if key in self.loading:
            if self.loading[key][0] == job:
                return
            self._stop(key)  # an older section's: not wanted any more
        image = s.source.catalog.section_images.get(int(section_image_id))
        layer = self.layers.images.get(key)
        if image is None or layer is None:
            return
        source = s.source

        def finished():
            if self.loading.get(key, (None,))[0] == job:
                del self.loading[key]

        self.dock.click.stop_reading()  # the overlay is wanted now
        worker = self.runner.start(
            workflow.load_overlay,
            source,
            key,
            image,
            kind,
            self.layers.view_for(len(self.layers.order), None),
            np.asarray(layer.affine.affine_matrix)[-3:, -3:],
            desc=f"{kind} overlay of SectionImage {section_image_id}",
            returned=lambda result: self._loaded(result, source),
            finished=finished,
        )
        if worker is not None:
            self.loading[key] = (job, worker)

    def _loaded(self, result, source) -> None:
        """A composite is ready: kept, and drawn if its target still wants it and its
        layer still shows that section of that source."""
        if self.runner.released or self.session.source is not source:
            return
        key, section = result.key, int(result.image.id)
        self.ready[(key, section, result.kind)] = result.levels
        self.ready.move_to_end((key, section, result.kind))
        while len(self.ready) > MAX_READY:
            self.ready.popitem(last=False)
        layer = self.layers.images.get(key)
        if (
            layer is not None
            and self.on.get(key) == result.kind
            and self.layers.shown.get(key) == section
        ):
            self._swap(key, layer, result.levels)

    def _stop(self, key) -> None:
        """Stop loading a target's composite (at the worker's next step)."""
        entry = self.loading.pop(key, None)
        if entry is not None:
            entry[1].quit()

    def close(self) -> None:
        """Stop following the layers and the session (the dock closes)."""
        if self.follow in self.layers.image_shown:
            self.layers.image_shown.remove(self.follow)
        for emitter, callback in (
            (self.session.events.targets, self.render),
            (self.session.events.source, self.forget),
        ):
            try:
                emitter.disconnect(callback)
            except (RuntimeError, TypeError, ValueError):
                pass
