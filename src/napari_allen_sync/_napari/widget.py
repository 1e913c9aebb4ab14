"""The dock widget: click on a section, see the same point in every other experiment
and in the atlas.

:class:`AllenSyncWidget` is a thin coordinator. Its views (:mod:`.views`) only emit
Qt signals; the work runs in napari thread workers (:mod:`.workers`); the layers and
the click callback live in :mod:`.layers`. The GUI thread only adds and updates layers.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from qtpy.QtCore import QEvent, QTimer, Signal
from qtpy.QtWidgets import QFileDialog, QScrollArea, QVBoxLayout, QWidget

from ..errors import AllenSyncError, ServiceError
from . import workers
from .history import ClickHistory
from .layers import ClickToSync, SyncLayers
from .live import LiveCursor
from .views import (
    DEFAULT_ATLASES,
    BatchView,
    CoordinateView,
    ReadoutView,
    SeedView,
    SourceView,
    StructureView,
    TargetsView,
)
from .widget_batch import BatchSyncMixin
from .widget_live import LiveSyncMixin

if TYPE_CHECKING:  # pragma: no cover
    import napari

__all__ = ["AllenSyncWidget"]

log = logging.getLogger(__name__)


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
                f"the Allen Brain Atlas API client is unavailable: {exc}"
            ) from exc
        kwargs = dict(options or {})
        if base_uri:
            kwargs["base_uri"] = base_uri
        return RemoteSource(**kwargs)

    return factory


def _close_source(source) -> None:
    close = getattr(source, "close", None)
    if callable(close):
        try:
            close()
        except Exception:  # closing must never raise into Qt
            log.debug("closing %r failed", source, exc_info=True)


class _Resources:
    """What the widget holds in napari: released by :meth:`release`, also when the Qt
    object is destroyed without a close event (the viewer closing)."""

    def __init__(self, viewer, click: ClickToSync, layers: SyncLayers, live: LiveCursor):
        self.viewer = viewer
        self.click = click
        self.live = live
        self.layers = layers
        self.workers: set = set()
        self.quiet: set = set()  # workers without progress (live frames)
        self.disconnect: list = []  # callables run on release
        self.source = None
        self.released = False

    def quit_workers(self) -> None:
        for w in list(self.workers):
            w.quit()

    def running(self) -> list:
        return [w for w in self.workers if w.is_running]

    def release(self, wait_s: float = 3.0) -> None:
        if self.released:
            return
        self.released = True
        self.click.remove()
        self.live.remove()
        for disconnect in self.disconnect:
            try:
                disconnect()
            except (RuntimeError, TypeError, ValueError):
                pass
        self.layers.close()
        self.quit_workers()
        deadline = time.monotonic() + wait_s
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.source is not None:
            _close_source(self.source)


class AllenSyncWidget(LiveSyncMixin, BatchSyncMixin, QWidget):
    """Synchronize Allen Brain Atlas section images in napari.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer (npe2 passes it).
    source : AtlasSource, optional
        Where records and images come from. Default: the embedded demo atlas, with
        its demo seed, targets and atlas loaded.

    Notes
    -----
    A plain left click on the seed image synchronizes; a drag pans. With live sync on
    (:meth:`set_live`, the dock's toggle, or Shift held) the markers follow the cursor
    over the seed. Every click's result is announced by :attr:`synchronized`, every
    live frame by :attr:`live_updated`; errors become napari notifications and
    :attr:`failed`.
    """

    #: The source is open (its status text).
    source_ready = Signal(str)
    #: A seed section is shown (its section image id).
    seed_loaded = Signal(int)
    #: The set of targets or the atlas changed.
    targets_changed = Signal()
    #: A click's markers are drawn (the SyncOutcome).
    synchronized = Signal(object)
    #: Something could not be done (the message shown to the user).
    failed = Signal(str)
    #: A structure or reference-point navigation is drawn (the Navigation).
    navigated = Signal(object)
    #: A live frame is drawn (the SyncOutcome).
    live_updated = Signal(object)
    #: Live sync showed new sections' images (the list of target keys).
    live_images_swapped = Signal(list)
    #: A Points layer's batch is drawn (the PointsBatch).
    batch_synchronized = Signal(object)
    #: The batch table was written (its path).
    batch_exported = Signal(str)

    def __init__(self, napari_viewer: napari.viewer.Viewer, source=None, parent=None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.source = None
        self.seed_image = None
        self.seed_data_set = None
        self.target_ids: list[int] = []
        self.target_names: dict[int, str] = {}
        self.atlas_id: int | None = None
        self.atlas_name = ""
        self.last_outcome = None
        self.messages: list[str] = []
        self.history = ClickHistory()
        self._generation = 0
        self._sync_worker = None
        self._last_click = None
        self._pending_demo = False
        self._closed = False
        self._live_errors: set = set()  # kinds of problem live sync has reported
        self._images_worker = None
        self._failed_images: set = set()  # live image loads that failed (not retried)
        self._readouts_at = 0.0
        self._readouts_pending = None
        self._readouts_timer = QTimer(self)
        self._readouts_timer.setSingleShot(True)
        self._readouts_timer.timeout.connect(self._flush_readouts)

        self.source_view = SourceView()
        self.seed_view = SeedView()
        self.targets_view = TargetsView()
        self.readout_view = ReadoutView()
        self.structure_view = StructureView()
        self.coordinate_view = CoordinateView()
        self.batch_view = BatchView()
        self.last_batch = None
        self._batch_layer = None
        self._pending_batch = None  # a batch waiting for the click that draws its targets
        inner = QWidget()
        lay = QVBoxLayout(inner)
        lay.setContentsMargins(4, 4, 4, 4)
        for view in (self.source_view, self.seed_view, self.targets_view, self.readout_view,
                     self.batch_view, self.structure_view, self.coordinate_view):
            lay.addWidget(view)
        self._scroll = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.setMinimumWidth(340)

        self.layers = SyncLayers(napari_viewer)
        self.click = ClickToSync(napari_viewer, lambda: self.layers.seed_layer, self._on_click)
        self.live = LiveCursor(napari_viewer, self.click.hit, self._live_request)
        self._res = _Resources(napari_viewer, self.click, self.layers, self.live)
        self.click.install()
        self.live.install()
        res = self._res
        self.destroyed.connect(lambda *_: res.release(wait_s=0.5))

        self.source_view.source_requested.connect(self.open_source)
        self.seed_view.data_set_requested.connect(self.open_seed_data_set)
        self.seed_view.section_requested.connect(self.open_seed_section)
        self.targets_view.add_requested.connect(self.add_target)
        self.targets_view.remove_requested.connect(self.remove_target)
        self.targets_view.atlas_requested.connect(lambda a: self.set_atlas(a or None))
        self.readout_view.row_selected.connect(self.layers.centre)
        self.readout_view.cancel_requested.connect(self.cancel)
        self.readout_view.export_requested.connect(self._export_dialog)
        self.readout_view.live_toggled.connect(self.set_live)
        self.batch_view.layers_wanted.connect(self._offer_points_layers)
        self.batch_view.sync_requested.connect(self.sync_points_layer)
        self.batch_view.export_requested.connect(self._export_batch_dialog)
        from .preferences import on_change

        self._res.disconnect.append(on_change(self._on_preferences))
        for emitter in (napari_viewer.layers.events.inserted,
                        napari_viewer.layers.events.removed):
            emitter.connect(self._offer_points_layers)
            self._res.disconnect.append(
                lambda e=emitter: e.disconnect(self._offer_points_layers))
        self.structure_view.structure_requested.connect(self.go_to_structure)
        self.coordinate_view.point_requested.connect(self._on_point_typed)

        if source is None:
            self._pending_demo = True
            self.open_source("demo")
        else:
            self.set_source(source)

    def reveal(self, view) -> None:
        """Scroll the dock so that one of its views (or any child widget) is visible."""
        self._scroll.ensureWidgetVisible(view, 0, 0)

    # ================================================================ plumbing
    def _start(self, func, *args, desc, total=0, returned=None, errored=None, finished=None,
               progress=True):
        """Run a worker generator; track it until it finishes.

        ``progress=False`` (live frames): no progress bar and no busy state.
        """
        if self._closed:
            return None
        res = self._res

        def done(worker_ref=[]):  # noqa: B006 - filled right below
            if worker_ref:
                res.workers.discard(worker_ref[0])
                res.quiet.discard(worker_ref[0])
            if not self._closed and progress:
                self.readout_view.set_busy(bool(res.workers - res.quiet))
            if finished is not None:
                finished()

        holder: list = []
        worker = workers.start(
            func, *args, desc=desc, total=total, returned=returned,
            errored=errored or self._on_error, finished=lambda: done(holder),
            progress=progress,
        )
        holder.append(worker)
        res.workers.add(worker)
        if progress:
            self.readout_view.set_busy(True)
        else:
            res.quiet.add(worker)
        return worker

    def _notify(self, message: str, error: bool = False) -> None:
        from napari.utils.notifications import show_error, show_warning

        self.messages.append(message)
        (show_error if error else show_warning)(message)
        self.failed.emit(message)

    def _on_error(self, exc: Exception) -> None:
        if self._closed:
            return
        if isinstance(exc, AllenSyncError):
            self._notify(str(exc), error=isinstance(exc, ServiceError))
        else:
            log.error("napari-allen-sync: unexpected error", exc_info=exc)
            self._notify(f"napari-allen-sync: unexpected {type(exc).__name__}: {exc}", error=True)

    def running_workers(self) -> list:
        """Workers still running (started and not finished)."""
        return self._res.running()

    def cancel(self) -> None:
        """Stop every running worker; a pending click result is dropped."""
        self._generation += 1
        self._res.quit_workers()

    # ================================================================ source
    def open_source(self, kind: str = "demo", url: str = "") -> None:
        """Open a source: ``"demo"``, ``"allen"`` (the Allen API) or ``"custom"`` (``url``)."""
        if kind == "demo":
            factory = _demo_factory
        elif kind == "allen":
            factory = _remote_factory(None, self._remote_options())
        elif kind == "custom":
            if not url:
                self._notify("enter the server URL, e.g. http://127.0.0.1:8000")
                return
            factory = _remote_factory(url, self._remote_options())
        else:
            raise ValueError(f"unknown source kind {kind!r}")
        self.source_view.set_status("connecting…")
        self._start(workers.open_source, factory, desc="opening source", total=2,
                    returned=lambda info: self._on_source(info, owned=True))

    def _remote_options(self) -> dict:
        """RemoteSource keyword arguments from the plugin's preferences (napari's
        Preferences dialog; defaults on a napari without plugin settings)."""
        from .preferences import current_preferences

        return current_preferences().remote_source_kwargs()

    def _on_preferences(self, _preferences) -> None:
        if self._closed or self.source_view.kind() == "demo":
            return
        from napari.utils.notifications import show_info

        show_info("Allen Brain Atlas sync: the new API preferences apply when you "
                  "reconnect (Source → Connect)")

    def set_source(self, source) -> None:
        """Use an :class:`~napari_allen_sync.source.AtlasSource` object."""
        self.source_view.set_status("connecting…")
        self._start(workers.open_source, source, desc="opening source", total=2,
                    returned=self._on_source)

    def _on_source(self, info, owned: bool = False) -> None:
        if self._closed:
            if owned:
                _close_source(info.source)
            return
        if self._res.source is not None and self._res.source is not info.source:
            _close_source(self._res.source)  # a source this widget created
        self.source = info.source
        self._res.source = info.source if owned else None
        self._generation += 1
        for ds_id in list(self.target_ids):
            self.layers.remove(f"ds:{ds_id}")
        if self.atlas_id:
            self.layers.remove(f"atlas:{self.atlas_id}")
        self.target_ids, self.target_names, self.atlas_id = [], {}, None
        self._last_click = None
        name = getattr(info.source, "name", "")
        self.source_view.set_status(info.status, name)
        if info.status == "unreachable":
            self._notify(f"{name or 'source'} is unreachable: check the network or the URL")
        self.seed_view.set_data_sets(info.data_sets)
        self.structure_view.set_structures(list(info.source.catalog.structures.values()))
        self.targets_view.set_offered(info.data_sets)
        atlases = info.atlases or [a for a in DEFAULT_ATLASES]
        self.targets_view.set_atlases(atlases, None)
        self._refresh_targets()
        self.source_ready.emit(info.status)
        if self._pending_demo:
            self._pending_demo = False
            self.load_demo_scene()

    def load_demo_scene(self) -> None:
        """The demo's seed section, its target experiments and its atlas."""
        try:
            from .. import demo
        except ImportError as exc:
            self._notify(f"the demo atlas is unavailable: {exc}")
            return
        seed_image_id = demo.demo_click()[0]
        self.open_seed_section(seed_image_id)
        for ds_id in demo.DEMO_TARGET_DATA_SET_IDS:
            self.add_target(ds_id, resync=False)
        self.set_atlas(demo.DEMO_ATLAS_ID)

    # ================================================================ seed
    def open_seed_data_set(self, section_data_set_id: int) -> None:
        """Show the middle section of a data set as seed."""
        if self._need_source():
            self._start(workers.load_section, self.source, int(section_data_set_id), None,
                        desc=f"opening SectionDataSet {section_data_set_id}", total=2,
                        returned=self._on_seed)

    def open_seed_section(self, section_image_id: int) -> None:
        """Show one section image as seed."""
        if self._need_source():
            self._start(workers.load_section, self.source, None, int(section_image_id),
                        desc=f"opening SectionImage {section_image_id}", total=2,
                        returned=self._on_seed)

    def _need_source(self) -> bool:
        if self.source is None:
            self._notify("no source is open yet")
            return False
        return True

    def _on_seed(self, loaded) -> None:
        if self._closed:
            return
        self._generation += 1
        self.seed_image, self.seed_data_set = loaded.image, loaded.data_set
        self._last_click = None
        self.last_outcome = None
        self.live.reset()
        name = f"seed {workers.describe_data_set(loaded.data_set)} #{loaded.image.section_number}"
        self.layers.show_seed(loaded, name)
        self.seed_view.set_sections(loaded.sections, loaded.image.id)
        self.readout_view.set_rows([])
        self.readout_view.reference.setText("click on the seed section")
        self.readout_view.structure.setText("")
        self.seed_loaded.emit(loaded.image.id)

    # ================================================================ targets
    def add_target(self, section_data_set_id: int, resync: bool = True) -> None:
        """Add a target data set (fetched and checked in a worker)."""
        ds_id = int(section_data_set_id)
        if ds_id in self.target_ids or not self._need_source():
            return

        def added(result):
            if self._closed or ds_id in self.target_ids:
                return
            _ds, text = result
            self.target_ids.append(ds_id)
            self.target_names[ds_id] = text
            self._refresh_targets()
            if resync:
                self._resync()

        self._start(workers.prepare_data_set, self.source, ds_id,
                    desc=f"adding SectionDataSet {ds_id}", total=1, returned=added)

    def remove_target(self, section_data_set_id: int) -> None:
        """Remove a target data set and its layers."""
        ds_id = int(section_data_set_id)
        if ds_id in self.target_ids:
            self.target_ids.remove(ds_id)
            self.layers.remove(f"ds:{ds_id}")
            self._refresh_targets()
            self._resync()

    def set_atlas(self, atlas_id: int | None) -> None:
        """Choose the atlas (1 = P56 coronal, 2 = P56 sagittal) or None."""
        if not atlas_id:
            if self.atlas_id:
                self.layers.remove(f"atlas:{self.atlas_id}")
            self.atlas_id = None
            self._refresh_targets()
            self._resync()
            return
        if not self._need_source():
            return

        def ready(result):
            if self._closed:
                return
            if self.atlas_id and self.atlas_id != atlas_id:
                self.layers.remove(f"atlas:{self.atlas_id}")
            self.atlas_id, self.atlas_name = result
            self._refresh_targets()
            self._resync()

        self._start(workers.prepare_atlas, self.source, int(atlas_id),
                    desc=f"opening atlas {atlas_id}", total=1, returned=ready)

    def _refresh_targets(self) -> None:
        self.targets_view.set_targets(
            [(d, self.target_names.get(d, str(d))) for d in self.target_ids]
        )
        current = self.targets_view.atlas.findData(int(self.atlas_id or 0))
        if current < 0 and self.atlas_id:
            self.targets_view.atlas.blockSignals(True)
            self.targets_view.atlas.addItem(self.atlas_name or str(self.atlas_id), self.atlas_id)
            self.targets_view.atlas.blockSignals(False)
            current = self.targets_view.atlas.findData(int(self.atlas_id))
        self.targets_view.atlas.blockSignals(True)
        self.targets_view.atlas.setCurrentIndex(max(0, current))
        self.targets_view.atlas.blockSignals(False)
        self.targets_changed.emit()

    def _resync(self) -> None:
        if self._last_click is not None:
            self.synchronize(*self._last_click)
        layer = self._batch_layer
        if layer is not None and layer in self.viewer.layers and self.seed_image is not None:
            self.sync_points_layer(layer)

    # ================================================================ sync
    def _on_click(self, point) -> None:
        row, col = point
        self.synchronize(x=col, y=row)

    def synchronize(self, x: float, y: float) -> None:
        """Synchronize seed pixel (x, y) (what a click on the seed does).

        Only the latest request is drawn: an earlier one still running is quit and
        its result dropped.
        """
        if self._closed or self.source is None or self.seed_image is None:
            return
        self._generation += 1
        if self._sync_worker is not None:
            self._sync_worker.quit()
        self._last_click = (float(x), float(y))
        n_keys = 1 + len(self.target_ids) + (1 if self.atlas_id else 0)
        request = workers.SyncRequest(
            self._generation, self.seed_image.id, float(x), float(y),
            tuple(self.target_ids), self.atlas_id, dict(self.layers.shown),
            view=self.layers.view_for(n_keys, (float(y), float(x))),
        )
        self._sync_worker = self._start(
            workers.synchronize_click, self.source, request,
            desc="synchronizing", total=workers.steps(request), returned=self._on_synced,
        )

    # ================================================================ navigation
    def go_to_structure(self, structure_id: int) -> None:
        """Open, in the seed data set and every target, the section nearest a structure's
        centroid (``structure_to_image``), with the markers on the centroid."""
        if self._closed or not self._need_source():
            return
        catalog = self.source.catalog
        structure = catalog.structures.get(int(structure_id))
        if structure is None:
            self._notify(f"structure {structure_id} is not in the ontology")
            return
        if self.seed_data_set is not None:
            space = self.seed_data_set.reference_space_id
            if (structure.id, space) not in catalog.structure_centers:
                self._notify(
                    f"{structure.acronym} ({structure.name}) has no StructureCenter in "
                    f"reference space {space}: cannot go to it"
                )
                return
        self._navigate(structure_id=int(structure_id))

    def go_to_point(self, x, y, z, units: str = workers.UNITS_UM, space: int = 9) -> None:
        """Open the sections nearest a reference point (``reference_to_image``) in the
        seed data set and every target; ``units`` is ``"µm"`` or ``"25 µm voxels"``."""
        self._on_point_typed([x, y, z], units, space)

    def _on_point_typed(self, values, units: str, space: int) -> None:
        import math

        numbers = []
        for name, text in zip(CoordinateView.FIELDS, values, strict=True):
            try:
                v = float(str(text).strip().replace(",", "."))
            except ValueError:
                v = math.nan
            if not math.isfinite(v):
                self._notify(f"coordinate {name}: {text!r} is not a finite number")
                return
            numbers.append(v)
        if units not in (workers.UNITS_UM, workers.UNITS_VOXEL):
            self._notify(f"coordinate units: unknown {units!r}")
            return
        if self._closed or not self._need_source():
            return
        self._navigate(point=workers.reference_point_um(units, int(space), numbers))

    def _navigate(self, structure_id=None, point=None) -> None:
        if self.seed_image is None or self.seed_data_set is None:
            self._notify("open a seed section first")
            return
        self._generation += 1
        if self._sync_worker is not None:
            self._sync_worker.quit()
        request = workers.NavigateRequest(
            self._generation, self.seed_data_set.id, self.seed_image.id,
            tuple(self.target_ids), self.atlas_id, dict(self.layers.shown),
            structure_id=structure_id, point=point,
        )
        self._sync_worker = self._start(
            workers.navigate, self.source, request, desc="navigating",
            total=2 + len(request.target_ids) + (1 if request.atlas_id else 0) + 2,
            returned=self._on_navigated,
        )

    def _on_navigated(self, nav) -> None:
        if self._closed or nav.request.generation != self._generation:
            return
        if nav.loaded is not None:
            loaded = nav.loaded
            self.seed_image, self.seed_data_set = loaded.image, loaded.data_set
            name = (f"seed {workers.describe_data_set(loaded.data_set)} "
                    f"#{loaded.image.section_number}")
            self.layers.show_seed(loaded, name)
            self.seed_view.set_sections(loaded.sections, loaded.image.id)
            self.seed_loaded.emit(loaded.image.id)
        req = nav.outcome.request
        self._last_click = (float(req.x), float(req.y))
        self._on_synced(nav.outcome)
        self.navigated.emit(nav)

    def _names(self, hits) -> dict:
        """Layer name of each hit's image."""
        names = {"seed": self.layers.seed_layer.name if self.layers.seed_layer else "seed"}
        for h in hits[1:]:
            head = (
                f"atlas {self.atlas_name or h.atlas_id}" if h.kind == "atlas"
                else self.target_names.get(h.section_data_set_id, str(h.section_data_set_id))
            )
            names[h.key] = f"{head} #{h.section_number}"
        return names

    def _on_synced(self, outcome) -> None:
        if self._closed or outcome.request.generation != self._generation:
            return  # a newer click (or seed) superseded this one
        self._readouts_pending = None  # a live frame's readouts must not overwrite these
        self._failed_images.clear()  # a click retries every image
        self._live_errors.clear()  # and reports anew
        t0 = time.perf_counter()
        names = self._names(outcome.hits)
        self.layers.show_outcome(outcome, names)
        outcome.timings_ms["draw"] = (time.perf_counter() - t0) * 1e3
        t1 = time.perf_counter()
        self.last_outcome = outcome
        self.history.add(outcome)
        self._show_readouts(outcome, names)
        outcome.timings_ms["readouts"] = (time.perf_counter() - t1) * 1e3
        for problem in outcome.problems:
            self._notify(problem)
        for h in outcome.hits[1:]:
            if h.far:
                self._notify(
                    f"{names.get(h.key, h.key)} (SectionDataSet {h.section_data_set_id}): "
                    f"the nearest section is {abs(h.distance):.0f} µm from the point, "
                    f"farther than its section spacing ({h.spacing:.0f} µm)"
                )
        self.synchronized.emit(outcome)
        pending, self._pending_batch = self._pending_batch, None
        if pending is not None and pending[0].request.section_image_id == self.seed_image.id:
            self._on_batch(*pending, current=True)

    def _show_readouts(self, outcome, names, history: bool = True) -> None:
        p, i, r = outcome.pir
        v = outcome.ccf_voxel
        x, y, z = outcome.reference
        space = outcome.reference_space_id
        text = (
            f"PIR {p:.0f}, {i:.0f}, {r:.0f} µm (CCF, space 9) · "
            f"25 µm voxel [{v[0]}, {v[1]}, {v[2]}]"
        )
        if space != 9:
            text += f"<br>space {space}: {x:.0f}, {y:.0f}, {z:.0f} µm"
        self.readout_view.reference.setText(text)
        s = outcome.structure
        self.readout_view.structure.setText(
            f"<b>{s.name}</b> ({s.acronym}, id {s.id})" if s is not None
            else "outside the brain / no annotation here"
        )
        rows = []
        for h in outcome.hits:
            rows.append((h.key, (
                names.get(h.key, h.key), h.section_data_set_id, h.section_number,
                f"{h.x:.1f}", f"{h.y:.1f}", f"{h.distance:.1f}", "yes" if h.clamped else "",
                h.structure.acronym if h.structure is not None else "–",
            )))
        flagged = {
            h.key: f"{abs(h.distance):.0f} µm from the point: farther than the section "
                   f"spacing ({h.spacing:.0f} µm)"
            for h in outcome.hits if h.far
        }
        self.readout_view.set_rows(rows, flagged)
        if not history:
            return
        where = s.acronym if s is not None else "outside"
        self.readout_view.add_history(
            f"{len(self.history)}: ({outcome.request.x:.0f}, {outcome.request.y:.0f}) → {where}"
        )

    # ================================================================ export
    def export_history(self, path):
        """Write the click history: JSON for ``*.json``, CSV otherwise; returns the path."""
        return self.history.export(path)

    def _export_dialog(self, kind: str) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export click history", f"allen-sync-history.{kind}",
            "CSV (*.csv)" if kind == "csv" else "JSON (*.json)",
        )
        if path:
            try:
                self.export_history(path)
            except OSError as exc:
                self._notify(f"cannot write {path}: {exc}", error=True)

    # ================================================================ closing
    def close_session(self) -> None:
        """Remove the click callback and quit every worker (idempotent)."""
        self._closed = True
        self._res.release()

    def closeEvent(self, event):
        self.close_session()
        super().closeEvent(event)

    def event(self, event):
        # napari's remove_dock_widget takes the widget out of its dock (parent None)
        # without closing it: treat that as closing.
        if event.type() == QEvent.Type.ParentChange and self.parent() is None and self._docked:
            self.close_session()
        elif event.type() == QEvent.Type.ParentChange and self.parent() is not None:
            self._docked = True
        return super().event(event)

    _docked = False
