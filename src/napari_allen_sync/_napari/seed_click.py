"""The click on the seed section: a plain left click synchronizes, a drag still pans.

:class:`ClickToSync` is a viewer mouse-drag callback: it tells a click (press and release
within :data:`CLICK_TOLERANCE_PX`) from a drag, and reports the clicked point in the seed
image's data coordinates (its SectionImage's sync pixels), or the synchronization panel
clicked instead (:func:`other_panel_message` says what to do then).
"""

from __future__ import annotations

import numpy as np

from ._layer_utils import grid as _grid
from ._layer_utils import same as _same

__all__ = ["CLICK_TOLERANCE_PX", "ClickToSync", "other_panel_message"]

#: A press and release further apart than this (canvas pixels) is a drag, not a click.
CLICK_TOLERANCE_PX = 4.0


def other_panel_message(key: str, target_names: dict, atlas_name: str = "") -> str:
    """What a click on a target's panel (not the seed's) tells the user: where to click,
    what that panel is, and how the dock makes it the seed (its Seed section opens a
    data set by id or from its list; an atlas cannot be the seed)."""
    where = "Click on the seed section (top left) to synchronize"
    kind, _, ident = key.partition(":")
    if kind == "atlas":
        name = atlas_name or f"atlas {ident}"
        return (f"{where} — this is the atlas plate of {name}; an atlas cannot be the seed: "
                "pick a data set in the dock's Seed section")
    name = target_names.get(int(ident), ident) if ident.isdigit() else ident
    return (f"{where} — this is the target {name}; to use it as the seed, open "
            f"SectionDataSet {ident} in the dock's Seed section (pick it in the list, or "
            "type its id and press Open)")


class ClickToSync:
    """A viewer mouse-drag callback that reports plain left clicks on one layer.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
    layer : callable
        Returns the layer that accepts clicks (or None).
    on_click : callable
        Called with the clicked point in that layer's data coordinates ``(row, col)``.
    tolerance_px : float
        Largest mouse travel between press and release that is still a click.
    on_other : callable, optional
        Called with the key (``"ds:<id>"``, ``"atlas:<id>"``) of the synchronization
        panel clicked instead of the seed's (:meth:`panel_at`).
    """

    def __init__(self, viewer, layer, on_click, tolerance_px: float = CLICK_TOLERANCE_PX,
                 on_other=None):
        self.viewer = viewer
        self.layer = layer
        self.on_click = on_click
        self.on_other = on_other
        self.tolerance_px = tolerance_px
        self.installed = False

    def install(self) -> None:
        """Add the callback to ``viewer.mouse_drag_callbacks``."""
        if not self.installed:
            self.viewer.mouse_drag_callbacks.append(self.mouse_drag)
            self.installed = True

    def remove(self) -> None:
        """Take the callback out of ``viewer.mouse_drag_callbacks``."""
        if self.installed:
            callbacks = self.viewer.mouse_drag_callbacks
            while self.mouse_drag in callbacks:
                callbacks.remove(self.mouse_drag)
            self.installed = False

    def mouse_drag(self, viewer, event):
        """The generator napari drives on press, moves and release."""
        if event.button != 1 or event.modifiers:
            return
        press_pos = np.asarray(event.pos, dtype=float)
        position = tuple(event.position)
        viewbox = getattr(event, "viewbox", None)
        travel = 0.0
        yield
        while event.type == "mouse_move":
            travel = max(travel, float(np.hypot(*(np.asarray(event.pos) - press_pos))))
            yield
        travel = max(travel, float(np.hypot(*(np.asarray(event.pos) - press_pos))))
        if travel > self.tolerance_px:
            return
        point = self.hit(position, viewbox)
        if point is not None:
            self.on_click(point)
            return
        other = self.panel_at(viewbox)
        if other is not None and other != "seed" and self.on_other is not None:
            self.on_other(other)

    def panel_at(self, viewbox):
        """The key of the synchronization panel (its image layer's
        ``metadata["allen_sync"]["key"]``) in a grid cell ``viewbox``, or None."""
        grid = _grid(self.viewer)
        if viewbox is None or not grid.enabled:
            return None
        layers = self.viewer.layers
        for index, layer in enumerate(layers):
            key = ((getattr(layer, "metadata", None) or {}).get("allen_sync") or {}).get("key")
            if (key is not None and layer.__class__.__name__ == "Image"
                    and tuple(grid.position(index, layers)) == tuple(viewbox)):
                return str(key)
        return None

    def hit(self, position, viewbox=None):
        """The clicked point in the layer's data coordinates, or None when the click
        fell outside the layer, on another grid cell or on a hidden layer."""
        layer = self.layer()
        if layer is None or not layer.visible:
            return None
        layers = self.viewer.layers
        grid = _grid(self.viewer)
        if grid.enabled and viewbox is not None:
            index = next((i for i, lay in enumerate(layers) if _same(lay, layer)), None)
            if index is None or tuple(grid.position(index, layers)) != tuple(viewbox):
                return None
        data = np.asarray(layer.world_to_data(position), dtype=float)[-2:]
        shape = np.asarray(layer.level_shapes[0][:2] if layer.multiscale else layer.data.shape[:2])
        if np.any(data < -0.5) or np.any(data >= shape - 0.5):
            return None
        return float(data[0]), float(data[1])
