"""Batch sync of a whole Points layer, the dock's side: offer the Points layers, turn a
layer's points into seed pixels, run :func:`.batch_points.sync_points` in a worker, draw
its answers and export its table.

A mixin of :class:`~napari_allen_sync._napari.widget.AllenSyncWidget` (which holds the
state and the Qt signals).
"""

from __future__ import annotations

import numpy as np
from qtpy.QtWidgets import QFileDialog

from ..errors import AllenSyncError
from . import batch_points

__all__ = ["BatchSyncMixin"]


def _fitted_affine(transform, ndim: int):
    """The homogeneous matrix of an affine map given as a function of one position
    (napari's ``data_to_world`` / ``world_to_data``), from ndim + 1 probes."""
    origin = np.asarray(transform(np.zeros(ndim)), dtype=float)
    m = np.eye(len(origin) + 1, ndim + 1)
    m[:-1, -1] = origin
    for k in range(ndim):
        e = np.zeros(ndim)
        e[k] = 1.0
        m[:-1, k] = np.asarray(transform(e), dtype=float) - origin
    return m


def _apply(matrix, points):
    pts = np.asarray(points, dtype=float)
    return pts @ matrix[:-1, :-1].T + matrix[:-1, -1]


class BatchSyncMixin:
    """The batch-sync methods of the dock widget."""

    def points_layers(self) -> list:
        """The viewer's Points layers a batch can synchronize (not this widget's own)."""
        import napari

        own = {id(lay) for lay in self.layers.layers()} - {id(self.layers.batch.get("seed"))}
        out = []
        for layer in self.viewer.layers:
            meta = layer.metadata.get("allen_sync") if hasattr(layer, "metadata") else None
            if (isinstance(layer, napari.layers.Points) and id(layer) not in own
                    and not (meta and (meta.get("batch") or meta.get("reference")
                                       or "key" in meta))):
                out.append(layer)
        return out

    def _offer_points_layers(self, *_):
        if not self._closed:
            self.batch_view.set_layers([lay.name for lay in self.points_layers()])

    def sync_points_layer(self, layer) -> None:
        """Synchronize every point of a Points layer on the seed section (a layer or its
        name) to reference space, every target and the atlas, in a worker; the answers
        become Points layers with features (:attr:`batch_synchronized`)."""
        if self._closed or not self._need_source():
            return
        if isinstance(layer, str):
            found = [lay for lay in self.points_layers() if lay.name == layer]
            if not found:
                self._notify(f"no Points layer named {layer!r}")
                return
            layer = found[0]
        if self.seed_image is None or self.layers.seed_layer is None:
            self._notify("open a seed section first")
            return
        if len(layer.data) == 0:
            self._notify(f"points layer {layer.name!r} has no points")
            return
        # the layer's data → world → the seed's data (its sync pixels), both affine
        world = _apply(_fitted_affine(layer.data_to_world, layer.ndim), layer.data)
        seed = self.layers.seed_layer
        pix = _apply(_fitted_affine(seed.world_to_data, seed.ndim), world[:, -seed.ndim:])
        rows, cols = pix[:, -2], pix[:, -1]
        request = batch_points.PointsBatchRequest(
            self._generation, self.seed_image.id, np.ascontiguousarray(rows),
            np.ascontiguousarray(cols), tuple(self.target_ids), self.atlas_id, layer.name,
        )
        self._batch_layer = layer
        total = 2 + len(request.target_ids) + (1 if request.atlas_id else 0)
        self.batch_view.set_summary(f"synchronizing {len(rows)} points…", False)
        self._start(batch_points.sync_points, self.source, request,
                    desc=f"batch sync of {layer.name}", total=total,
                    returned=lambda b: self._on_batch(b, layer))

    def _on_batch(self, batch, layer, current: bool = False) -> None:
        if self._closed or layer not in self.viewer.layers or (
                not current and batch.request.generation != self._generation):
            return
        if not current and any(t.key not in self.layers.images for t in batch.targets):
            # a target without its cell yet: the click that draws it comes first
            clicking = self._sync_worker is not None and self._sync_worker in self._res.workers
            if self._last_click is None:
                # no click yet: synchronize the point nearest the batch's median
                rows, cols = np.asarray(batch.request.rows), np.asarray(batch.request.cols)
                k = int(np.argmin(np.hypot(rows - np.median(rows), cols - np.median(cols))))
                self._pending_batch = (batch, layer)
                self.synchronize(x=float(cols[k]), y=float(rows[k]))
                return
            if clicking:  # a click (a target just added) is on its way: drawn after it
                self._pending_batch = (batch, layer)
                return
        names = {key: lay.name for key, lay in self.layers.images.items()}
        self.layers.show_batch(batch, layer, names)
        self.last_batch = batch
        for problem in batch.problems:
            self._notify(problem)
        outside = int(np.count_nonzero(batch.structure_id < 0)) if len(batch) else 0
        self.batch_view.set_summary(
            f"{len(batch)} points of {layer.name!r} → reference space and "
            f"{len(batch.targets)} targets in {batch.timings_ms['total']:.0f} ms"
            + (f"; {outside} outside the annotation" if outside else ""), True)
        self.batch_synchronized.emit(batch)

    def export_batch(self, path):
        """Write the last batch's table (one row per point and target) as CSV."""
        if self.last_batch is None:
            raise AllenSyncError("no batch to export: synchronize a Points layer first")
        return self.last_batch.to_csv(path)

    def _export_batch_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export batch table", "allen-sync-batch.csv", "CSV (*.csv)")
        if path:
            self.export_batch_in_worker(path)

    def export_batch_in_worker(self, path):
        """Write the last batch's table in a worker (what the dock's button does); the
        worker is returned, its errors become notifications."""
        if self.last_batch is None:
            self._notify("no batch to export: synchronize a Points layer first")
            return None

        def errored(exc):
            self._notify(f"cannot write {path}: {exc}", error=True)

        return self._start(batch_points.write_csv, self.last_batch, path,
                           desc=f"writing {path}", total=1, errored=errored,
                           returned=lambda p: self.batch_exported.emit(str(p)))
