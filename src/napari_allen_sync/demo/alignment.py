"""Alignment matrices as Allen stores them: 6 significant digits, rounded inverses.

Allen's ``alignment3d`` and ``alignment2d`` records hold each matrix and its inverse,
both printed with 6 significant digits, so ``TVR · TRV`` is the identity only to about
1e-6 and a round trip (image → reference → image) drifts by a fraction of a pixel.
The demo builds its matrices the same way.
"""

from __future__ import annotations

import numpy as np

__all__ = ["inverse_2x3", "inverse_3x4", "rotation", "sig6", "tsv_matrix", "tvr_matrix"]


def sig6(a) -> np.ndarray:
    """Round every value to 6 significant digits, as Allen's records are."""
    a = np.asarray(a, dtype=float)
    return np.vectorize(lambda v: float(f"{v:.6g}") if v != 0 else 0.0)(a)


def inverse_3x4(m) -> np.ndarray:
    """The exact inverse of a 3 × 4 affine."""
    full = np.vstack([np.asarray(m, float), [0.0, 0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:3]


def inverse_2x3(m) -> np.ndarray:
    """The exact inverse of a 2 × 3 affine."""
    full = np.vstack([np.asarray(m, float), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def rotation(ax_deg: float, ay_deg: float, az_deg: float) -> np.ndarray:
    """A 3 × 3 rotation by small angles (degrees) about x, then y, then z."""
    ax, ay, az = np.deg2rad([ax_deg, ay_deg, az_deg])
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def tvr_matrix(axes, scales, angles_deg, translation) -> tuple[np.ndarray, np.ndarray]:
    """A data set's (TVR, TRV), both rounded to 6 significant digits.

    Parameters
    ----------
    axes : 3 × 3 array
        Signed permutation: row k says which volume axis feeds reference axis k
        (P, I, R), e.g. ``[[0, 0, -1], [0, 1, 0], [1, 0, 0]]`` for a coronal stack whose
        sections are numbered from posterior to anterior.
    scales : 3 floats
        Shrinkage of each volume axis (0.9 … 1.1 for fixed, sectioned tissue).
    angles_deg : 3 floats
        A small rotation (degrees) of the volume against the reference.
    translation : 3 floats
        µm.
    """
    a = rotation(*angles_deg) @ np.asarray(axes, float) @ np.diag(scales)
    tvr = sig6(np.hstack([a, np.asarray(translation, float)[:, None]]))
    trv = sig6(inverse_3x4(tvr))
    return tvr, trv


def tsv_matrix(resolution: float, angle_deg: float, translation) -> tuple[np.ndarray, np.ndarray]:
    """A section image's (TSV, TVS), both rounded to 6 significant digits; the rows of
    TSV have length ``resolution`` (µm per full-resolution pixel)."""
    t = np.deg2rad(angle_deg)
    a = resolution * np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    tsv = sig6(np.hstack([a, np.asarray(translation, float)[:, None]]))
    tvs = sig6(inverse_2x3(tsv))
    return tsv, tvs
