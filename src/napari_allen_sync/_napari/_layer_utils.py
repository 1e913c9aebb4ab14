"""Small helpers on napari layers and the viewer, shared by the layer modules."""

from __future__ import annotations

import numpy as np

__all__ = ["camera", "grid", "same", "same_affine"]


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
