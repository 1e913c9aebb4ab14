"""The layers of a batch-synchronized Points layer: a Points layer per target, in that
target's grid cell, showing the points on the section shown there, and the batch in
reference space (a hidden 3-D Points layer).

A mixin of :class:`~napari_allen_sync._napari.layers.SyncLayers`, which owns the grid.
"""

from __future__ import annotations

import numpy as np

from ._layer_utils import same as _same
from ._layer_utils import same_affine as _same_affine

__all__ = ["BatchLayersMixin"]


class BatchLayersMixin:
    """Batch layers of :class:`~napari_allen_sync._napari.layers.SyncLayers`."""

    #: Colour of a batch's synchronized points.
    BATCH_COLOUR = "#ffd54f"

    def _batch_layer(self, key, data, features, name=None):
        image = self.images.get(key)
        extra = {} if image is None else {"affine": image.affine.affine_matrix[-3:, -3:]}
        layer = self.viewer.add_points(
            data, **extra, features=features,
            name=name or f"{self.images[key].name} batch (none)",
            size=1, canvas_size_limits=(9, 9), face_color=self.BATCH_COLOUR,
            border_width=0, opacity=0.85,
            metadata={"allen_sync": {"key": key, "batch": True}},
        )
        return layer

    def show_batch(self, batch, source_layer, names: dict) -> None:
        """Show a batch: the synchronized layer joins the seed's grid cell, each target's
        answers become a Points layer in its cell (showing the points whose section is
        the one shown there), each carrying the reference-space answers as features (no
        3-D layer: it would add a dims slider that moves nothing visible).

        Parameters
        ----------
        batch : PointsBatch
        source_layer : napari.layers.Points
            The layer that was synchronized (on the seed section).
        names : dict
            Layer name of each target key's image.
        """
        common = batch.common()  # the reference-space answers are in every layer's features
        label = source_layer.name
        with self._quietly():
            old_seed = self.batch.get("seed")
            if old_seed is not None and not _same(old_seed, source_layer):
                self.clear_batch(arrange=False)
            self.batch["seed"] = source_layer
            for t in batch.targets:
                if t.key not in self.images:
                    continue
                data = np.column_stack([t.y, t.x])
                features = t.features(common)
                name = f"{label} → {names.get(t.key, t.key)}"
                layer = self.batch.get(t.key)
                if layer is None:
                    self.batch[t.key] = self._batch_layer(t.key, data, features, name)
                else:
                    with layer.events.blocker_all():
                        layer.data = data
                        layer.features = features
                    layer.name = name
                    layer.refresh()
                self._batch_points[t.key] = t
            self._arrange()
            self.refresh_batch()

    def refresh_batch(self) -> None:
        """Keep each target's batch points on its image: same placement, and only the
        points whose section is the one shown."""
        for key, t in self._batch_points.items():
            layer, image = self.batch.get(key), self.images.get(key)
            if layer is None or image is None:
                continue
            matrix = image.affine.affine_matrix[-3:, -3:]
            if not _same_affine(layer, matrix):
                layer.affine = matrix
            shown = np.asarray(t.section_image_id) == self.shown.get(key)
            if not np.array_equal(np.asarray(layer.shown, dtype=bool), shown):
                layer.shown = shown

    def _batch_source_gone(self) -> None:
        if self.batch and "seed" not in self.batch:
            self.clear_batch()

    def clear_batch(self, arrange: bool = True) -> None:
        """Forget the batch: its target layers are removed, the synchronized layer and
        the reference-space layer stay (they are the user's now); the grid goes back to
        two layers per cell."""
        batch, self.batch = self.batch, {}
        self._batch_points = {}
        for key, layer in batch.items():
            if key != "seed" and layer in self.viewer.layers:
                self.viewer.layers.remove(layer)
        if arrange and batch and self.seed_layer is not None:
            self._arrange()
