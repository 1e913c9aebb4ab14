"""The checked arithmetic of Allen's synchronization, on arrays of points.

All functions take and return NumPy arrays and import nothing but NumPy, so they run
unchanged on dask chunks. Facts used here are [checked] against the recorded answers
(docs/arithmetic.md):

- matrices are row-major with the translation last (:mod:`napari_allen_sync.records`);
- a section's volume depth is exactly ``vz = section_number × section_thickness``;
- reference spaces 9 (PIR) and 10 (PIL) differ by ``r → 11350 − r``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MIRROR_9_10_UM",
    "apply_2x3",
    "apply_3x4",
    "builtin_reference_transform",
    "compose_3x4",
    "image_to_reference_matrix",
    "section_depth",
]

#: [checked, 10 answers] The service maps space 9 ↔ 10 by ``(p, i, r) → (p, i, 11350 − r)``.
MIRROR_9_10_UM = 11350.0

IDENTITY_3X4 = np.hstack([np.eye(3), np.zeros((3, 1))])


def section_depth(section_number, section_thickness):
    """[checked] The volume depth ``vz`` (µm) of a section: number × thickness, exactly."""
    return np.asarray(section_number, dtype=float) * float(section_thickness)


def builtin_reference_transform(from_space: int, to_space: int) -> np.ndarray | None:
    """The built-in 3 × 4 map between two reference spaces, or None when there is none.

    Identity for the same space; the [checked] mirror ``r → 11350 − r`` between the
    coronal space 9 (PIR) and the sagittal space 10 (PIL). The mirror is its own inverse.
    """
    if from_space == to_space:
        return IDENTITY_3X4.copy()
    if {from_space, to_space} == {9, 10}:
        m = IDENTITY_3X4.copy()
        m[2, 2] = -1.0
        m[2, 3] = MIRROR_9_10_UM
        return m
    return None


def compose_3x4(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 3 × 4 affine ``outer ∘ inner`` (apply ``inner`` first)."""
    out = np.empty((3, 4))
    out[:, :3] = outer[:, :3] @ inner[:, :3]
    out[:, 3] = outer[:, :3] @ inner[:, 3] + outer[:, 3]
    return out


def image_to_reference_matrix(tsv: np.ndarray, tvr: np.ndarray, vz: float) -> np.ndarray:
    """The 3 × 3 matrix taking section pixels ``(x, y, 1)`` straight to reference µm.

    ``(vx, vy) = TSV · (x, y, 1)``, then ``(p, i, r) = TVR · (vx, vy, vz, 1)``.
    """
    m = tvr[:, :2] @ tsv
    m[:, 2] += tvr[:, 2] * vz + tvr[:, 3]
    return m


def apply_2x3(m: np.ndarray, x: np.ndarray, y: np.ndarray):
    """Apply a 2 × 3 affine to arrays ``x, y``; returns ``(x', y')``."""
    return (
        m[0, 0] * x + m[0, 1] * y + m[0, 2],
        m[1, 0] * x + m[1, 1] * y + m[1, 2],
    )


def apply_3x4(m: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray):
    """Apply a 3 × 4 affine to arrays ``x, y, z``; returns ``(x', y', z')``."""
    return (
        m[0, 0] * x + m[0, 1] * y + m[0, 2] * z + m[0, 3],
        m[1, 0] * x + m[1, 1] * y + m[1, 2] * z + m[1, 3],
        m[2, 0] * x + m[2, 1] * y + m[2, 2] * z + m[2, 3],
    )
