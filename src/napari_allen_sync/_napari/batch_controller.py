"""Batch sync of a whole Points layer, the dock's side: turn a layer's points into seed
pixels, run :func:`~napari_allen_sync.session.points.sync_points` in a worker, draw its
answers and export its table.

:class:`BatchController` keeps the batch layer and the last batch in the session.
"""

from __future__ import annotations

import numpy as np

from ..errors import AllenSyncError
from ..session import points as batch_points

__all__ = ["BatchController", "is_plugin_layer"]


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


def _apply(matrix, pts):
    pts = np.asarray(pts, dtype=float)
    return pts @ matrix[:-1, :-1].T + matrix[:-1, -1]


def is_plugin_layer(layer) -> bool:
    """Whether a layer is one of this plugin's own (a marker, a batch answer, ...)."""
    meta = getattr(layer, "metadata", None) or {}
    own = meta.get("allen_sync")
    return bool(own and (own.get("batch") or own.get("reference") or "key" in own))


class BatchController:
    """Batch sync of one dock (see the module's documentation)."""

    def __init__(self, dock):
        self.dock = dock
        self.session = dock.session
        self.runner = dock.runner
        self.pending = None  # a batch waiting for the click that draws its targets

    def points_layers(self) -> list:
        """The viewer's Points layers a batch can synchronize (the user's, not ours)."""
        import napari

        return [lay for lay in self.dock.viewer.layers
                if isinstance(lay, napari.layers.Points) and not is_plugin_layer(lay)]

    def sync(self, layer) -> None:
        """Synchronize every point of a Points layer on the seed section (a layer or its
        name) to reference space, every target and the atlas, in a worker."""
        s, dock = self.session, self.dock
        if self.runner.released or not dock.setup.need_source():
            return
        if isinstance(layer, str):
            found = [lay for lay in self.points_layers() if lay.name == layer]
            if not found:
                self.runner.notify(f"no Points layer named {layer!r}: add one (Layers ▸ New "
                                   "Points layer) and put points on the seed section")
                return
            layer = found[0]
        if s.seed_image is None or dock.layers.seed_layer is None:
            self.runner.notify("open a seed section first (Seed: pick a data set)")
            return
        if len(layer.data) == 0:
            self.runner.notify(f"points layer {layer.name!r} has no points: add points on "
                               "the seed section, then press Sync layer")
            return
        # the layer's data → world → the seed's data (its sync pixels), both affine
        world = _apply(_fitted_affine(layer.data_to_world, layer.ndim), layer.data)
        seed = dock.layers.seed_layer
        pix = _apply(_fitted_affine(seed.world_to_data, seed.ndim), world[:, -seed.ndim:])
        rows, cols = pix[:, -2], pix[:, -1]
        request = batch_points.PointsBatchRequest(
            s.generation, s.seed_image.id, np.ascontiguousarray(rows),
            np.ascontiguousarray(cols), s.target_ids, s.atlas_id, layer.name)
        s.batch_layer = layer
        dock.batch_view.set_summary(f"synchronizing {len(rows)} points…", False)
        dock.click.stop_reading()  # the batch has the machine to itself
        self.runner.start(batch_points.sync_points, s.source, request,
                          desc=f"batch sync of {len(rows)} points of {layer.name}",
                          returned=lambda b: self.on_batch(b, layer))

    def resync(self) -> None:
        """Synchronize the batch layer again (the targets changed)."""
        layer = self.session.batch_layer
        if (layer is not None and layer in self.dock.viewer.layers
                and self.session.seed_image is not None):
            self.sync(layer)

    def after_click(self) -> None:
        """A click's answer is drawn: draw a batch that waited for it."""
        pending, self.pending = self.pending, None
        s = self.session
        if (pending is not None and s.seed_image is not None
                and pending[0].request.section_image_id == s.seed_image.id):
            self.on_batch(*pending, current=True)

    def on_batch(self, batch, layer, current: bool = False) -> None:
        s, dock = self.session, self.dock
        if self.runner.released or layer not in dock.viewer.layers or (
                not current and not s.is_current(batch.request.generation)):
            return
        if not current and (s.last_point is None
                            or any(t.key not in dock.layers.images for t in batch.targets)):
            # no click yet (the panels show the seed's centre) or a target without its
            # cell yet: the click that draws the batch's sections comes first
            if s.last_point is None:
                # no click yet: synchronize the point nearest the batch's median
                rows, cols = np.asarray(batch.request.rows), np.asarray(batch.request.cols)
                k = int(np.argmin(np.hypot(rows - np.median(rows), cols - np.median(cols))))
                self.pending = (batch, layer)
                dock.click.synchronize(x=float(cols[k]), y=float(rows[k]))
                return
            if dock.click.running():  # a click (a target just added) is on its way
                self.pending = (batch, layer)
                return
        names = {key: lay.name for key, lay in dock.layers.images.items()}
        dock.layers.batch_layers.show(batch, layer, names)
        s.last_batch = batch
        for problem in batch.problems:
            self.runner.notify(problem)
        outside = int(np.count_nonzero(batch.structure_id < 0)) if len(batch) else 0
        dock.batch_view.set_summary(
            f"{len(batch)} points of {layer.name!r} → reference space and "
            f"{len(batch.targets)} targets in {batch.timings_ms['total']:.0f} ms"
            + (f"; {outside} outside the annotation" if outside else ""), True)
        dock.batch_synchronized.emit(batch)

    # ------------------------------------------------------------------ export
    def export(self, path):
        """Write the last batch's table (one row per point and target) as CSV."""
        if self.session.last_batch is None:
            raise AllenSyncError("no batch to export: synchronize a Points layer first")
        return self.session.last_batch.to_csv(path)

    def export_in_worker(self, path):
        """Write the last batch's table in a worker; its errors become notifications."""
        if self.session.last_batch is None:
            self.runner.notify("no batch to export: synchronize a Points layer first")
            return None

        def errored(exc):
            self.runner.notify(f"cannot write {path}: {exc}", error=True)

        return self.runner.start(
            batch_points.write_csv, self.session.last_batch, path, desc=f"writing {path}",
            errored=errored, returned=lambda p: self.dock.batch_exported.emit(str(p)))
