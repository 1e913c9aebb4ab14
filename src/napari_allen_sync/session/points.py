"""Batch sync of a whole Points layer: every point of the seed section to reference
space and to every target, in one pass of the engine's batch forms.

Imports neither napari nor Qt: :func:`sync_points` is a worker generator (napari runs it
in a ``thread_worker``), :class:`PointsBatch` its result, with the table the dock exports
as CSV (:meth:`PointsBatch.to_csv`) and the per-target columns the new Points layers
carry as features.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..annotation import label_points
from ..errors import InvalidCoordinateError
from ..results import ImageSyncBatch
from ..tables import write_columns
from .workflow import CCF_SPACE, answer_targets, section_spacing

__all__ = [
    "CSV_COLUMNS",
    "PointsBatch",
    "PointsBatchRequest",
    "TargetPoints",
    "sync_points",
    "write_csv",
]

#: Columns of the exported table: one row per (point, target).
CSV_COLUMNS = (
    "point", "seed_section_image_id", "seed_x", "seed_y",
    "reference_space_id", "reference_x", "reference_y", "reference_z",
    "ccf_p", "ccf_i", "ccf_r", "structure_id", "structure",
    "target", "section_data_set_id", "section_image_id", "section_number",
    "x", "y", "distance", "clamped", "far",
)


@dataclass(frozen=True)
class PointsBatchRequest:
    """Points on the seed section and where to synchronize them.

    ``rows`` and ``cols`` are the seed's full-resolution sync pixels (napari's row =
    Allen's y, column = x).
    """

    generation: int
    section_image_id: int
    rows: np.ndarray
    cols: np.ndarray
    target_ids: tuple = ()
    atlas_id: int | None = None
    name: str = "points"


@dataclass(frozen=True, eq=False)
class TargetPoints(ImageSyncBatch):
    """The batch's answers in one target (a data set or the atlas): the engine's
    :class:`~napari_allen_sync.results.ImageSyncBatch` with the target's key and section
    spacing (``section_data_set_id`` is the atlas's data set for the atlas)."""

    key: str = ""  # "ds:<id>" or "atlas:<id>"
    spacing: float | None = None

    @classmethod
    def of(cls, key: str, section_data_set_id: int, answers: ImageSyncBatch,
           spacing: float | None) -> TargetPoints:
        """The answers of one target, under its key."""
        return cls(int(section_data_set_id), answers.section_image_id, answers.section_number,
                   answers.x, answers.y, answers.distance, answers.clamped, key=key,
                   spacing=spacing)

    @property
    def far(self) -> np.ndarray:
        """Whether each point's section lies farther from it than the section spacing."""
        if self.spacing is None:
            return np.zeros(len(self.x), dtype=bool)
        return np.abs(self.distance) > self.spacing

    def features(self, common: dict) -> dict:
        """Columns for the napari features of this target's Points layer."""
        return {**common, **self.columns(), "far": self.far}


@dataclass
class PointsBatch:
    """Everything :func:`sync_points` computed."""

    request: PointsBatchRequest
    reference_space_id: int
    reference: np.ndarray  # (N, 3) µm in reference_space_id
    ccf: np.ndarray  # (N, 3) PIR µm in space 9
    structure_id: np.ndarray  # -1 outside
    structure: np.ndarray  # acronyms ("" outside), object
    targets: list  # TargetPoints
    problems: list
    timings_ms: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.request.rows)

    def common(self) -> dict:
        """Per-point columns shared by every target (the seed point, reference, CCF)."""
        n = len(self)
        return {
            "point": np.arange(n),
            "seed_x": np.asarray(self.request.cols, dtype=float),
            "seed_y": np.asarray(self.request.rows, dtype=float),
            "reference_space_id": np.full(n, self.reference_space_id),
            "reference_x": self.reference[:, 0],
            "reference_y": self.reference[:, 1],
            "reference_z": self.reference[:, 2],
            "ccf_p": self.ccf[:, 0],
            "ccf_i": self.ccf[:, 1],
            "ccf_r": self.ccf[:, 2],
            "structure_id": self.structure_id,
            "structure": self.structure,
        }

    def columns(self) -> dict:
        """The table as columns (:data:`CSV_COLUMNS`), one row per (point, target)."""
        common = self.common()
        n = len(self)
        parts = []
        for t in self.targets:
            cols = t.features(common)
            cols["seed_section_image_id"] = np.full(n, self.request.section_image_id)
            cols["target"] = np.full(n, t.key, dtype=object)
            parts.append(cols)
        if not parts:
            return {name: np.empty(0) for name in CSV_COLUMNS}
        return {name: np.concatenate([np.asarray(p[name]) for p in parts])
                for name in CSV_COLUMNS}

    def to_csv(self, path) -> Path:
        """Write the table to ``path``, all or nothing
        (:func:`napari_allen_sync.atomic.atomic_write`; a failure raises
        :class:`~napari_allen_sync.errors.WriteError`)."""
        path = Path(path)
        write_columns(path, self.columns(), CSV_COLUMNS)
        return path


def _coordinates(request) -> tuple[np.ndarray, np.ndarray]:
    rows = np.asarray(request.rows, dtype=float).ravel()
    cols = np.asarray(request.cols, dtype=float).ravel()
    if rows.shape != cols.shape:
        raise InvalidCoordinateError(
            f"points layer {request.name!r}: {len(rows)} rows but {len(cols)} columns")
    if len(rows) == 0:
        raise InvalidCoordinateError(f"points layer {request.name!r} has no points")
    bad = ~(np.isfinite(rows) & np.isfinite(cols))
    if bad.any():
        raise InvalidCoordinateError(
            f"points layer {request.name!r}: point {int(np.argmax(bad))} is not finite "
            f"({int(bad.sum())} such points)")
    return rows, cols


def _structures(source, space, ref):
    """Structure id (-1 outside) and acronym ("" outside) of every reference point; with
    the array form of the source (``structure_ids_at``) and
    :func:`~napari_allen_sync.annotation.label_points` when it has one."""
    ids_at = getattr(source, "structure_ids_at", None)
    if callable(ids_at):
        return label_points(ids_at(space, ref.x, ref.y, ref.z), source.catalog.structures)
    found = source.structure_at(space, ref.x, ref.y, ref.z)
    return (np.array([-1 if s is None else s.id for s in found], dtype=np.int64),
            np.array(["" if s is None else s.acronym for s in found], dtype=object))


def sync_points(source, request: PointsBatchRequest):
    """Synchronize every point of a layer on the seed section (a worker generator).

    Yields step descriptions; returns a :class:`PointsBatch`. A target that cannot be
    synchronized is reported in ``problems``; the others are still answered.
    """
    t0 = time.perf_counter()
    rows, cols = _coordinates(request)
    sync = source.synchronizer
    sid = int(request.section_image_id)
    ref = sync.image_to_reference_batch(sid, cols, rows)
    space = ref.reference_space_id
    reference = ref.as_array()
    pts = reference.T
    if space != CCF_SPACE:
        m = sync.reference_transform(space, CCF_SPACE)
        pts = m[:, :3] @ pts + m[:, 3:4]
    ccf = np.ascontiguousarray(pts.T)
    yield "reference space"
    structure_id, structure = _structures(source, space, ref)
    yield "structures"
    problems = []
    targets = yield from answer_targets(
        source, request.target_ids, request.atlas_id,
        lambda ds_ids: sync.image_to_image_batch(sid, cols, rows, ds_ids),
        lambda atlas_id: sync.image_to_atlas_batch(sid, cols, rows, atlas_id),
        lambda key, kind, ds_id, batch: TargetPoints.of(
            key, ds_id, batch,
            section_spacing(sync, ds_id, "atlas" if kind == "atlas" else "images")),
        problems,
    )
    timings = {"total": (time.perf_counter() - t0) * 1e3}
    return PointsBatch(request, space, reference, ccf, structure_id, structure, targets,
                       problems, timings)


def write_csv(batch: PointsBatch, path):
    """Write a batch's table as CSV (a worker generator); returns the path."""
    yield f"writing {path}"
    return batch.to_csv(path)
