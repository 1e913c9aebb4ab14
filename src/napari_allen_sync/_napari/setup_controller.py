"""What is synchronized: the source, the seed section, the targets and the atlas.

:class:`SetupController` opens each of them in a worker and stores the answer in the
:class:`~napari_allen_sync.session.Session`; the dock's views and layers follow the
session's events. A source switch removes the old source's layers and saves its setup
(seed, targets, atlas, last point) in the session; coming back reopens it.
"""

from __future__ import annotations

from ..errors import AllenSyncError
from ..images import overlay_view
from ..session import workflow
from .runner import close_source, user_message
from .views import DEFAULT_ATLASES

__all__ = ["SetupController", "SourceUnavailableError"]


class SourceUnavailableError(AllenSyncError):
    """A kind of source cannot be created in this installation."""


def _demo_factory():
    try:
        from ..demo import DemoSource
    except ImportError as exc:
        raise SourceUnavailableError(f"the demo atlas is unavailable: {exc}") from exc
    return DemoSource()


def _remote_factory(base_uri=None, options=None):
    """A factory of RemoteSource: ``options`` are its keyword arguments (from the
    plugin's preferences, read on the GUI thread); ``base_uri`` overrides theirs."""

    def factory():
        try:
            from ..remote import RemoteSource
        except ImportError as exc:
            raise SourceUnavailableError(
                f"the Allen Brain Atlas API client is unavailable: {exc}") from exc
        kwargs = dict(options or {})
        if base_uri:
            kwargs["base_uri"] = base_uri
        return RemoteSource(**kwargs)

    return factory


class SetupController:
    """Source, seed, targets and atlas of one dock.

    Parameters
    ----------
    dock : AllenSyncWidget
        Gives the session, the runner, the layers and the signals to emit.
    """

    def __init__(self, dock):
        self.dock = dock
        self.session = dock.session
        self.runner = dock.runner
        self.pending_demo = False  # load the demo scene once the demo source is open
        self.restore = None  # a SavedSetup waiting for its seed
        self.asked_targets: list[int] = []  # target ids in the order they were asked for
        #: the latest seed opening asked for: an older one's answer is not shown (the
        #: slider stepped on before it arrived)
        self.seed_request = 0
        #: the point the targets follow across section changes, until its outcome is
        #: the session's last point (a section step before that follows it too)
        self.following = None
        self.adopt = None  # an image layer the user opened, to become the seed's layer
        self.annotation_download = None  # the remote source's annotation volume, fetching

    # ------------------------------------------------------------------ source
    def open_source(self, kind: str = "demo", url: str = "") -> None:
        """Open ``"demo"``, ``"allen"`` (the Allen API) or ``"custom"`` (``url``)."""
        if kind == "demo":
            factory, key = _demo_factory, "demo"
        elif kind == "allen":
            factory, key = _remote_factory(None, self._remote_options()), "allen"
        elif kind == "custom":
            if not url:
                self.runner.notify("enter the server URL, e.g. http://127.0.0.1:8765 "
                                   "(napari-allen-sync serve --demo), then press Connect")
                return
            factory, key = _remote_factory(url, self._remote_options()), f"custom:{url}"
        else:
            raise ValueError(f"unknown source kind {kind!r}")
        self.dock.source_view.set_status("connecting…")
        self.runner.start(workflow.open_source, factory, desc=f"opening the {kind} source",
                          returned=lambda info: self._on_source(info, key, owned=True))

    @staticmethod
    def _remote_options() -> dict:
        from .preferences import current_preferences

        return current_preferences().remote_source_kwargs()

    def set_source(self, source, key: str | None = None) -> None:
        """Use an :class:`~napari_allen_sync.source.AtlasSource` object."""
        self.dock.source_view.set_status("connecting…")
        key = key or f"object:{id(source)}"
        self.runner.start(workflow.open_source, source, desc="opening the source",
                          returned=lambda info: self._on_source(info, key))

    def _on_source(self, info, key: str, owned: bool = False) -> None:
        runner = self.runner
        if runner.released:
            if owned:
                close_source(info.source)
            return
        if runner.owned_source is not None and runner.owned_source is not info.source:
            close_source(runner.owned_source)
        runner.owned_source = info.source if owned else None
        self.dock.layers.clear()  # the old source's layers (and the table: seed is None)
        self.dock.layers.source_name = getattr(info.source, "name", "") or key
        saved = self.session.switch_source(key, info.source)
        name = getattr(info.source, "name", "")
        self.dock.source_view.set_status(info.status, name)
        if info.status == "unreachable":
            runner.notify(f"{name or 'the source'} is unreachable: check the network or the "
                          "URL, then press Connect again; Source → Demo atlas works offline")
        self.offer(info)
        self.fetch_annotation(info)
        self.dock.source_ready.emit(info.status)
        if saved is not None and saved.seed_image_id is not None:
            self.reopen(saved)
        elif self.pending_demo:
            self.pending_demo = False
            self.load_demo_scene()
        else:  # nothing open on this source yet: show where to start
            self.dock.reveal(self.dock.seed_view)

    def fetch_annotation(self, info) -> None:
        """Start fetching a remote source's annotation volume (the structure at a
        point) at once, with its progress and a Cancel button in napari's activity dock,
        rather than inside the first click. A cached volume is only read; an unreachable
        source starts nothing (a click then says what is cached and what is missing)."""
        self.cancel_annotation()
        if info.status == "unreachable":
            return
        from .annotation_download import start_annotation_download

        self.annotation_download = start_annotation_download(
            info.source, returned=self._annotation_arrived, errored=self._annotation_failed)

    def _annotation_arrived(self, _volume) -> None:
        """The volume is here: a point synchronized while it was downloading (its
        structures unknown) is synchronized again, so that its structures are named."""
        s = self.session
        last = s.last_outcome
        if (self.runner.released or last is None or s.last_point is None
                or not getattr(last, "structures_missing", None)):
            return
        self.dock.click.synchronize(*s.last_point, record=False)

    def _annotation_failed(self, exc: Exception) -> None:
        """No annotation volume: a warning (synchronizing still works, without structure
        names); nothing once the dock is gone."""
        if not self.runner.released:
            self.runner.notify(user_message(exc))

    def cancel_annotation(self) -> None:
        """Stop a running annotation download (a source switch, the dock closing):
        nothing half-written stays in the cache."""
        download, self.annotation_download = self.annotation_download, None
        if download is not None and download.worker.is_running:
            download.cancel()

    def offer(self, info) -> None:
        """Show what a freshly opened source offers."""
        dock = self.dock
        dock.seed_view.set_data_sets(info.data_sets)
        dock.seed_view.set_sections([])  # the old source's sections go with its seed
        dock.structure_view.set_structures(list(info.source.catalog.structures.values()))
        dock.targets_view.set_offered(info.data_sets)
        dock.targets_view.set_atlases(info.atlases or list(DEFAULT_ATLASES), None)
        dock.readout_view.clear()
        dock.render_targets()

    def on_preferences(self, _preferences) -> None:
        if self.runner.released or self.dock.source_view.kind() == "demo":
            return
        from napari.utils.notifications import show_info

        show_info("Allen Brain Atlas sync: the new API preferences apply when you "
                  "reconnect (Source → Connect)")

    def reopen(self, saved) -> None:
        """Reopen a saved setup: its seed, then its targets, atlas and last point."""
        self.restore = saved
        self.open_seed_section(saved.seed_image_id)

    def load_demo_scene(self) -> None:
        """The demo's seed section, its target experiments and its atlas."""
        try:
            from .. import demo
        except ImportError as exc:
            self.runner.notify(f"the demo atlas is unavailable: {exc}")
            return
        self.open_seed_section(demo.demo_click()[0])
        for ds_id in demo.DEMO_TARGET_DATA_SET_IDS:
            self.add_target(ds_id, resync=False)
        self.set_atlas(demo.DEMO_ATLAS_ID)

    def need_source(self) -> bool:
        if self.session.source is None:
            self.runner.notify("no source is open yet: choose one under Source")
            return False
        return True

    # ------------------------------------------------------------------ seed
    def open_seed_data_set(self, section_data_set_id: int) -> None:
        """Show the middle section of a data set as seed."""
        self._open_seed(int(section_data_set_id), None, None,
                        f"opening SectionDataSet {section_data_set_id}")

    def open_seed_section(self, section_image_id: int, point=None) -> None:
        """Show one section image as seed; with ``point`` (seed pixel x, y, e.g. the last
        one synchronized on the previous section) every target follows at once."""
        self._open_seed(None, int(section_image_id), point,
                        f"opening SectionImage {section_image_id}",
                        busy=f"opening section image {section_image_id}")

    def _open_seed(self, data_set_id, section_image_id, point, desc: str,
                   busy: str | None = None) -> None:
        """Load a seed section in a worker (saying ``busy`` meanwhile); only the latest
        request's answer is shown, with the point it was asked to follow."""
        if not self.need_source():
            return
        if busy is not None:
            self.session.busy = busy
        self.seed_request += 1
        request = self.seed_request
        self.runner.start(workflow.load_section, self.session.source, data_set_id,
                          section_image_id, desc=desc,
                          returned=lambda loaded: self._on_seed(loaded, request, point))

    def follow_section(self, section_image_id: int) -> None:
        """Another section of the seed data set (the slider): the targets follow at the
        last point (or at the point a section step before is still synchronizing)."""
        self.dock.layers.dim(True)
        point = self.session.last_point
        self.open_seed_section(section_image_id,
                               point=self.following if point is None else point)

    def adopt_layer(self, event) -> None:
        """An image layer of an Allen section the user opened becomes the seed."""
        layer = event.value
        meta = (getattr(layer, "metadata", None) or {}).get("allen")
        if (isinstance(meta, dict) and "section_image_id" in meta and layer.ndim == 2
                and not layer.metadata.get("allen_sync") and not self.runner.released):
            seed = self.session.seed_image
            if seed is not None and int(meta["section_image_id"]) == seed.id:
                self.dock.layers.adopt_seed(layer)  # the section shown: no reload
                return
            self.adopt = layer
            self.open_seed_section(int(meta["section_image_id"]))

    def show_seed(self, loaded, keep_generation: bool = False, keep_targets: bool = False):
        """Show a loaded section as the seed (its layer, slider and empty readouts);
        ``keep_targets``: the targets' layers stay for the answer that follows."""
        dock, s = self.dock, self.session
        s.set_seed(loaded.image, loaded.data_set, loaded.sections, stale=not keep_generation)
        adopt, self.adopt = self.adopt, None
        if adopt is not None and adopt in dock.viewer.layers and (
                adopt.metadata["allen"]["section_image_id"] == loaded.image.id):
            dock.layers.adopt_seed(adopt)
        dock.layers.show_seed(loaded, s.seed_name(), keep_targets=keep_targets)
        dock.seed_view.set_sections(loaded.sections, loaded.image.id)
        dock.readout_view.clear("click on the seed section to synchronize every target")
        dock.seed_loaded.emit(loaded.image.id)

    def resync(self) -> None:
        """Draw the last point and the batch again (the targets changed)."""
        if self.session.last_point is not None:
            self.dock.click.synchronize(*self.session.last_point, record=False)
        self.dock.batch_sync.resync()

    def _on_seed(self, loaded, request: int, follow=None) -> None:
        if self.runner.released or request != self.seed_request:
            return  # a later section was asked for: its answer is shown instead
        restore, self.restore = self.restore, None
        same = (self.session.seed_data_set is not None
                and loaded.data_set.id == self.session.seed_data_set.id)
        self.show_seed(loaded, keep_targets=follow is not None and same and restore is None)
        image = loaded.image
        if follow is not None and restore is None:
            x = min(max(float(follow[0]), 0.0), float(image.width or 1) - 1.0)
            y = min(max(float(follow[1]), 0.0), float(image.height or 1) - 1.0)
            self.following = (x, y)
            self.dock.click.synchronize(x, y, record=False)
        else:
            self.following = None
        if restore is not None:  # checked when they were added, in this order
            self.session.targets = tuple(restore.targets)
            self.session.set_atlas(restore.atlas_id, restore.atlas_name)
            if restore.last_point is not None:
                self.dock.click.synchronize(*restore.last_point, record=False)

    # ------------------------------------------------------------------ targets
    def add_target(self, section_data_set_id: int, resync: bool = True) -> None:
        """Add a target data set (fetched and checked in a worker)."""
        ds_id = int(section_data_set_id)
        why = self.session.refuse_target(ds_id)
        if why is not None:
            if self.session.seed_data_set is not None and ds_id == self.session.seed_data_set.id:
                self.runner.notify(why)
            return
        if not self.need_source():
            return
        self.asked_targets = [*(a for a in self.asked_targets if a != ds_id), ds_id]

        def added(result):
            if self.runner.released:
                return
            ds, text = result
            # checked in parallel: kept in the order asked, not the order they came
            if self.session.add_target(ds_id, text, overlay_view(ds),
                                       asked=self.asked_targets) and resync:
                self.resync()

        self.runner.start(workflow.prepare_data_set, self.session.source, ds_id,
                          desc=f"adding SectionDataSet {ds_id}", returned=added)

    def remove_target(self, section_data_set_id: int) -> None:
        """Remove a target data set and its layers."""
        if self.session.remove_target(section_data_set_id):
            self.resync()

    def set_atlas(self, atlas_id: int | None, resync: bool = True) -> None:
        """Choose the atlas (1 = P56 coronal, 2 = P56 sagittal) or None."""
        if not atlas_id:
            if self.session.atlas_id:
                self.session.set_atlas(None)
                self.resync()
            return
        if not self.need_source():
            return

        def ready(result):
            if self.runner.released:
                return
            self.session.set_atlas(*result)
            if resync:
                self.resync()

        self.runner.start(workflow.prepare_atlas, self.session.source, int(atlas_id),
                          desc=f"opening atlas {atlas_id}", returned=ready)

    def set_atlas_view(self, view: str) -> None:
        """Show the atlas as annotated plates (``"annotation"``) or plain Nissl
        (``"nissl"``): stored in the session; the atlas image shown now is loaded again
        in that view (a worker: the last point drawn again with the atlas reloaded)."""
        if not self.session.set_atlas_view(view):
            return
        atlas = f"atlas:{self.session.atlas_id}" if self.session.atlas_id else None
        if atlas is not None and atlas in self.dock.layers.shown:
            self.dock.layers.shown.pop(atlas, None)  # not the section it needs: reload
            self.resync()
