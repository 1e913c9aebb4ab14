"""Batch sync as its own widget (Layers ▸ Measure ▸ Allen batch sync of a Points layer).

Choose a Points layer and the Allen section image it was drawn on (any image layer
with ``metadata["allen"]``: opened by the reader, the sample, or the sync dock's seed),
the targets and the atlas; the answers (reference space, structure, every target's
section and pixel) become the Points layer's features and can be written as CSV. The
work runs in a napari thread worker, with a moving progress bar in the activity dock.
"""

from __future__ import annotations

import numpy as np
from magicgui.widgets import ComboBox, Container, Label, LineEdit, PushButton

from ..session import points as batch_points
from .batch_controller import _apply, _fitted_affine, is_plugin_layer
from .reader import ALLEN_METADATA
from .runner import Runner, user_message

__all__ = ["BatchSyncWidget"]


def _allen_images(viewer) -> list:
    import napari

    return [lay for lay in viewer.layers if isinstance(lay, napari.layers.Image)
            and isinstance((lay.metadata or {}).get(ALLEN_METADATA), dict)]


def _source_for(meta: dict):
    """The source a layer's Allen metadata names: the demo atlas, or the Allen API
    (the plugin's preferences; a server URL when the metadata gives one)."""
    from ..demo import DemoSource

    name = str(meta.get("source", ""))
    demo = DemoSource()
    if name == demo.name or int(meta["section_image_id"]) in demo.catalog.section_images:
        return demo
    from ..remote import RemoteSource
    from .preferences import current_preferences

    kwargs = current_preferences().remote_source_kwargs()
    if name.startswith(("http://", "https://")):
        kwargs["base_uri"] = name
    return RemoteSource(**kwargs)


class BatchSyncWidget(Container):
    """Batch sync of a Points layer on an Allen section image (see the module)."""

    def __init__(self, napari_viewer):
        from ..session import Session

        self.viewer = napari_viewer
        self.session = Session()
        self.runner = Runner(self.session)
        self.points = ComboBox(label="points", choices=self._points, nullable=False)
        self.seed = ComboBox(label="on image", choices=self._images, nullable=False)
        self.targets = LineEdit(label="targets", value="")
        self.targets.native.setPlaceholderText("SectionDataSet ids, comma-separated")
        self.atlas = ComboBox(label="atlas", choices=[("none", 0), ("P56 coronal", 1),
                                                      ("P56 sagittal", 2)], value=1)
        self.run = PushButton(text="Sync points")
        self.summary = Label(value="choose a Points layer drawn on an Allen section image")
        super().__init__(widgets=[self.points, self.seed, self.targets, self.atlas, self.run,
                                  self.summary])
        self.last_batch = None
        self.run.changed.connect(self.sync)
        for emitter in (napari_viewer.layers.events.inserted,
                        napari_viewer.layers.events.removed):
            emitter.connect(self.reset_choices)
            self.runner.disconnect.append(lambda e=emitter: e.disconnect(self.reset_choices))
        self.native.destroyed.connect(lambda *_: self.runner.release(wait_s=0.5))

    def _points(self, _widget=None):
        import napari

        return [(lay.name, lay) for lay in self.viewer.layers
                if isinstance(lay, napari.layers.Points) and not is_plugin_layer(lay)]

    def _images(self, _widget=None):
        return [(lay.name, lay) for lay in _allen_images(self.viewer)]

    def sync(self, *_):
        """Synchronize the chosen layer's points (in a worker)."""
        layer, seed = self.points.value, self.seed.value
        if layer is None or seed is None:
            self.summary.value = ("open an Allen section image (File ▸ Open "
                                  "allen://section_image/ID) and add a Points layer on it")
            return
        try:
            target_ids = tuple(int(t) for t in self.targets.value.replace(" ", "").split(",")
                               if t)
        except ValueError:
            self.summary.value = f"targets: {self.targets.value!r} is not a list of ids"
            return
        meta = seed.metadata[ALLEN_METADATA]
        world = _apply(_fitted_affine(layer.data_to_world, layer.ndim), layer.data)
        pix = _apply(_fitted_affine(seed.world_to_data, seed.ndim), world[:, -seed.ndim:])
        request = batch_points.PointsBatchRequest(
            0, int(meta["section_image_id"]), np.ascontiguousarray(pix[:, -2]),
            np.ascontiguousarray(pix[:, -1]), target_ids, int(self.atlas.value) or None,
            layer.name)
        self.summary.value = f"synchronizing {len(pix)} points…"

        def work():
            source = _source_for(meta)
            yield "opening the source"
            sid = request.section_image_id
            if sid not in source.catalog.section_images and hasattr(
                    source, "ensure_section_image"):
                source.ensure_section_image(sid)
            source.ensure_data_set(source.catalog.section_image(sid).data_set_id)
            source.synchronizer.seed(sid)
            yield f"SectionImage {sid}"
            return (yield from batch_points.sync_points(source, request))

        self.runner.start(work, desc=f"batch sync of {layer.name}",
                          returned=lambda b: self._done(b, layer),
                          errored=lambda exc: setattr(self.summary, "value", user_message(exc)))

    def _done(self, batch, layer) -> None:
        if self.runner.released or layer not in self.viewer.layers:
            return
        self.last_batch = batch
        features = dict(batch.common())
        for t in batch.targets:
            for name, column in t.columns().items():
                if name in ("section_data_set_id",):
                    continue
                features[f"{t.key}:{name}"] = column
        layer.features = features
        self.summary.value = (f"{len(batch)} points → reference space and "
                              f"{len(batch.targets)} targets: see the layer's features")
        for problem in batch.problems:
            self.runner.notify(problem)
