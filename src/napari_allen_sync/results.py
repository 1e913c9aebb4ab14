"""Batch results of the synchronization, with what the Allen service hides.

A batch result holds N answers as arrays. ``to_msg(i)`` gives answer ``i`` in the exact
shape the Allen service sends in ``msg`` (docs/wire-format.md); the arrays also carry what the
service does not say: the distance from the 3-D point to the chosen section's plane
and whether the section choice was clamped at the first or last image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .inferred import IMAGE_SYNC_DATA_SET_ID_AS_STRING

__all__ = ["ImageSyncBatch", "ReferencePoints"]


@dataclass(frozen=True, eq=False)
class ReferencePoints:
    """N points in one reference space, microns (``x, y, z`` = P, I, R for space 9)."""

    reference_space_id: int
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def to_msg(self, i: int = 0) -> dict:
        """Point ``i`` as the ``msg`` of ``image_to_reference``."""
        return {
            "image_to_reference": {
                "x": float(self.x[i]),
                "y": float(self.y[i]),
                "z": float(self.z[i]),
            }
        }

    def as_array(self) -> np.ndarray:
        """The points as an ``(N, 3)`` array."""
        return np.column_stack([self.x, self.y, self.z])

    def columns(self) -> dict:
        """Named columns for tables (CSV, DataFrames, napari features)."""
        n = len(self)
        return {
            "reference_space_id": np.full(n, self.reference_space_id, dtype=np.int64),
            "x": self.x,
            "y": self.y,
            "z": self.z,
        }


@dataclass(frozen=True, eq=False)
class ImageSyncBatch:
    """N synchronized points in one target data set (or atlas).

    Attributes
    ----------
    section_data_set_id : int or None
        The target data set (None for an atlas target, as the service sends null).
    section_image_id, section_number : numpy.ndarray of int64
        The chosen image of each point.
    x, y : numpy.ndarray of float64
        Full-resolution pixels relative to the image's crop; unrounded, may fall
        outside the image.
    distance : numpy.ndarray of float64
        Signed distance (µm, reference space) from the 3-D point to the plane of the
        chosen section. Not sent by the service.
    clamped : numpy.ndarray of bool
        True where the point lay before the first or past the last section, so the
        first or last image was taken. Not sent by the service.
    """

    section_data_set_id: int | None
    section_image_id: np.ndarray
    section_number: np.ndarray
    x: np.ndarray
    y: np.ndarray
    distance: np.ndarray
    clamped: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def to_msg(self, i: int = 0, *, extras: bool = False) -> dict:
        """Answer ``i`` as one ``{"image_sync": {...}}`` element of the service's ``msg``.

        Parameters
        ----------
        i : int
            Which point.
        extras : bool
            Also include ``distance`` and ``clamped`` (not part of Allen's answer).
        """
        ds = self.section_data_set_id
        if ds is not None and IMAGE_SYNC_DATA_SET_ID_AS_STRING:
            ds = str(ds)
        sync = {
            "section_data_set_id": ds,
            "section_image_id": int(self.section_image_id[i]),
            "section_number": int(self.section_number[i]),
            "x": float(self.x[i]),
            "y": float(self.y[i]),
        }
        if extras:
            sync["distance"] = float(self.distance[i])
            sync["clamped"] = bool(self.clamped[i])
        return {"image_sync": sync}

    def columns(self) -> dict:
        """Named columns for tables (CSV, DataFrames, napari features)."""
        n = len(self)
        ds = -1 if self.section_data_set_id is None else self.section_data_set_id
        return {
            "section_data_set_id": np.full(n, ds, dtype=np.int64),
            "section_image_id": self.section_image_id,
            "section_number": self.section_number,
            "x": self.x,
            "y": self.y,
            "distance": self.distance,
            "clamped": self.clamped,
        }

    def take(self, index) -> ImageSyncBatch:
        """The answers at ``index`` (an integer array, slice or boolean mask)."""
        return ImageSyncBatch(
            self.section_data_set_id,
            self.section_image_id[index],
            self.section_number[index],
            self.x[index],
            self.y[index],
            self.distance[index],
            self.clamped[index],
        )

    @staticmethod
    def concatenate(parts) -> ImageSyncBatch:
        """Join batches of the same target in order."""
        parts = list(parts)
        return ImageSyncBatch(
            parts[0].section_data_set_id,
            *(np.concatenate([getattr(p, name) for p in parts]) for name in _ARRAYS),
        )


_ARRAYS = ("section_image_id", "section_number", "x", "y", "distance", "clamped")
