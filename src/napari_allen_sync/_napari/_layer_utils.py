"""Small helpers on napari layers and the viewer, shared by the layer modules."""

from __future__ import annotations

import numpy as np

__all__ = ["camera", "grid", "same", "same_affine", "swap_image"]


def grid(viewer):
    """The viewer's grid (``viewer.canvas.grid`` in recent napari, else ``viewer.grid``)."""
    canvas = getattr(viewer, "canvas", None)
    return canvas.grid if canvas is not None and hasattr(canvas, "grid") else viewer.grid


def camera(viewer):
    """The viewer's camera (``viewer.scene.camera`` in recent napari, else
    ``viewer.camera``)."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None and hasattr(scene, "camera") else viewer.camera


def same_affine(layer, matrix) -> bool:
    """Whether a 2-D layer's affine equals a 3 × 3 matrix (to rounding)."""
    return bool(np.allclose(layer.affine.affine_matrix[-3:, -3:], matrix))


def same(a, b) -> bool:
    """Whether two layers are the same layer (None is never the same)."""
    return a is not None and b is not None and a == b


def swap_image(layer, levels=None, affine=None) -> None:
    """Give an image layer a new pyramid and/or placement through napari's public
    setters (``None`` leaves that part as it is).

    The pyramid first, then the placement: each setter re-slices the layer from the
    tiles in the view napari computed at its last draw (hiding the layer meanwhile
    would spare one slice, but napari rebuilds the whole grid's scene graph on every
    visibility change, which costs far more).
    """
    if levels is not None:
        layer.data = levels
    if affine is not None:
        layer.affine = affine
