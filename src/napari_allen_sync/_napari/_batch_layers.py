"""The layers of a batch-synchronized Points layer: a Points layer per target, in that
target's grid cell, showing the points on the section shown there.

:class:`BatchLayers` is a part of :class:`~napari_allen_sync._napari.layers.SyncLayers`
(which owns the grid, the images and the layout): it keeps its own state (the batch's
layers and answers) and reads the images it draws over from its owner.
"""

from __future__ import annotations

import numpy as np

from ._layer_utils import same as _same
from ._layer_utils import same_affine as _same_affine

__all__ = ["BatchLayers"]


class BatchLayers:
    """The batch layers of one :class:`~napari_allen_sync._napari.layers.SyncLayers`.

    Parameters
    ----------
    owner : SyncLayers
        Gives the viewer, the target images (``images``, ``shown``), the layout
        (``arrange``) and the selection keeper (``quietly``).
    """

    #: Colour of a batch's synchronized points.
    COLOUR = "#ffd54f"

    def __init__(self, owner):
        self.owner = owner
        #: key → Points layer of the batch's points in that cell (the seed's is the
        #: user's own layer); with a batch each grid cell holds three layers
        self.layers: dict = {}
        self.points: dict = {}  # key → TargetPoints shown in self.layers[key]

    def __bool__(self) -> bool:
        return bool(self.layers)

    def new_layer(self, key, data, features, name=None):
        """A Points layer of batch answers in a key's cell (its image's placement)."""
        owner = self.owner
        image = owner.images.get(key)
        extra = {} if image is None else {"affine": image.affine.affine_matrix[-3:, -3:]}
        return owner.viewer.add_points(
            data, **extra, features=features,
            name=name or f"{owner.images[key].name} batch (none)",
            size=1, canvas_size_limits=(9, 9), face_color=self.COLOUR,
            border_width=0, opacity=0.85,
            metadata={"allen_sync": {"key": key, "batch": True}},
        )

    def show(self, batch, source_layer, names: dict) -> None:
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
        owner = self.owner
        common = batch.common()  # the reference-space answers are in every layer's features
        label = source_layer.name
        with owner.quietly():
            old_seed = self.layers.get("seed")
            if old_seed is not None and not _same(old_seed, source_layer):
                self.clear(arrange=False)
            self.layers["seed"] = source_layer
            for t in batch.targets:
                if t.key not in owner.images:
                    continue
                data = np.column_stack([t.y, t.x])
                features = t.features(common)
                name = f"{label} → {names.get(t.key, t.key)}"
                layer = self.layers.get(t.key)
                if layer is None:
                    self.layers[t.key] = self.new_layer(t.key, data, features, name)
                else:  # napari's setters: the data (the table resized), then the table
                    layer.data = data
                    layer.features = features
                    layer.name = name
                self.points[t.key] = t
            owner.arrange()
            self.refresh()

    def refresh(self) -> None:
        """Keep each target's batch points on its image: same placement, and only the
        points whose section is the one shown."""
        owner = self.owner
        for key, t in self.points.items():
            layer, image = self.layers.get(key), owner.images.get(key)
            if layer is None or image is None:
                continue
            matrix = image.affine.affine_matrix[-3:, -3:]
            if not _same_affine(layer, matrix):
                layer.affine = matrix
            shown = np.asarray(t.section_image_id) == owner.shown.get(key)
            if not np.array_equal(np.asarray(layer.shown, dtype=bool), shown):
                layer.shown = shown

    def forget(self, key) -> None:
        """A key's batch layer went away (removed by the user or with its target)."""
        self.layers.pop(key, None)
        self.points.pop(key, None)

    def remove(self, key) -> None:
        """Remove a target's batch layer (the target is gone)."""
        layer = self.layers.pop(key, None) if key != "seed" else None
        self.points.pop(key, None)
        if layer is not None and layer in self.owner.viewer.layers:
            self.owner.viewer.layers.remove(layer)

    def source_gone(self) -> None:
        """The synchronized layer was removed: the batch is over."""
        if self.layers and "seed" not in self.layers:
            self.clear()

    def clear(self, arrange: bool = True) -> None:
        """Forget the batch: its target layers are removed, the synchronized layer
        stays (it is the user's); the grid goes back to two layers per cell."""
        owner = self.owner
        layers, self.layers = self.layers, {}
        self.points = {}
        for key, layer in layers.items():
            if key != "seed" and layer in owner.viewer.layers:
                owner.viewer.layers.remove(layer)
        if arrange and layers and owner.seed_layer is not None:
            owner.arrange()
