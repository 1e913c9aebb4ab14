"""The dock widget: click on a section, see the same point in every other experiment
and in the atlas.

:class:`AllenSyncWidget` renders one :class:`~napari_allen_sync.session.Session` and
wires its small views (:mod:`.views`) to its controllers: setup (source, seed, targets,
atlas), click and navigation, live sync and batch sync, each owning its workers and
timers. The state lives in the session; the widget holds none of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtCore import QEvent, Signal
from qtpy.QtWidgets import QVBoxLayout, QWidget
from superqt.utils import signals_blocked

from ..session import Session
from . import dialogs
from .batch_controller import BatchController
from .click_controller import ClickController
from .first_hint import FirstClickHint
from .idle_gc import IdleCollection
from .layers import SyncLayers
from .live_controller import LiveController
from .overlays import OverlayController
from .readouts import show_readouts
from .runner import Runner
from .search_panel import SearchController
from .seed_click import ClickToSync, other_panel_message
from .setup_controller import SetupController, SourceUnavailableError
from .views import DockPanel

if TYPE_CHECKING:  # pragma: no cover
    import napari

__all__ = ["AllenSyncWidget", "SourceUnavailableError"]


class AllenSyncWidget(QWidget):
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
    over the seed. The state is :attr:`session`; every click's result is announced by
    :attr:`synchronized`, every live frame by :attr:`live_updated`; errors become
    napari notifications and :attr:`failed`.
    """

    source_ready = Signal(str)  #: The source is open (its status text).
    seed_loaded = Signal(int)  #: A seed section is shown (its section image id).
    targets_changed = Signal()  #: The set of targets or the atlas changed.
    synchronized = Signal(object)  #: A click's markers are drawn (the SyncOutcome).
    failed = Signal(str)  #: Something could not be done (the message shown).
    navigated = Signal(object)  #: A Go to is drawn (the Navigation).
    live_updated = Signal(object)  #: A live frame is drawn (the SyncOutcome).
    live_images_swapped = Signal(list)  #: Live sync showed new sections (target keys).
    batch_synchronized = Signal(object)  #: A Points layer's batch is drawn (PointsBatch).
    batch_exported = Signal(str)  #: The batch table was written (its path).
    experiments_found = Signal(object)  #: A search's SearchResult (None: it failed).
    overlay_shown = Signal(str)  #: A target's overlay is drawn (its layer key).

    def __init__(self, napari_viewer: napari.viewer.Viewer, source=None, parent=None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.session = Session()
        self.runner = self._res = Runner(self.session, on_message=self.failed.emit)
        self._scroll = panel = DockPanel()
        self.source_view, self.seed_view = panel.source_view, panel.seed_view
        self.targets_view, self.readout_view = panel.targets_view, panel.readout_view
        self.structure_view, self.coordinate_view = panel.structure_view, panel.coordinate_view
        self.batch_view, self.search_view = panel.batch_view, panel.search_view
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(panel)
        self.setMinimumWidth(240)

        self.layers = SyncLayers(napari_viewer)
        self.click_callback = ClickToSync(
            napari_viewer, lambda: self.layers.seed_layer,
            lambda p: self.click.synchronize(x=p[1], y=p[0]), on_other=self.tell_other_panel)
        self.click_callback.install()
        self.runner.disconnect += [self.click_callback.remove, self.layers.close]
        self.setup = SetupController(self)
        self.click = ClickController(self)
        self.live_sync = LiveController(self)
        self.batch_sync = BatchController(self)
        self.search = SearchController(self)
        self.overlays = OverlayController(self)
        self.runner.disconnect.append(self.setup.cancel_annotation)
        self._public_api()
        self._connect_views()
        self._connect_session()
        res = self.runner
        self.destroyed.connect(lambda *_: res.release(wait_s=0.5))
        if source is None:
            self.setup.pending_demo = True
            self.setup.open_source("demo")
        else:
            self.setup.set_source(source)

    # ================================================================ wiring
    def _connect_views(self) -> None:
        setup, click = self.setup, self.click
        self.source_view.source_requested.connect(setup.open_source)
        self.seed_view.data_set_requested.connect(setup.open_seed_data_set)
        self.seed_view.section_requested.connect(setup.follow_section)
        self.targets_view.add_requested.connect(setup.add_target)
        self.targets_view.remove_requested.connect(setup.remove_target)
        self.targets_view.atlas_requested.connect(lambda a: setup.set_atlas(a or None))
        self.targets_view.atlas_view_requested.connect(setup.set_atlas_view)
        self.targets_view.overlay_toggled.connect(self.set_overlay)
        self.readout_view.row_selected.connect(self.layers.centre)
        self.readout_view.cancel_requested.connect(self.cancel)
        self.readout_view.export_requested.connect(
            lambda kind: dialogs.export_history(self, kind))
        self.readout_view.live_toggled.connect(self.set_live)
        self.batch_view.sync_requested.connect(self.batch_sync.sync)
        self.batch_view.export_requested.connect(lambda: dialogs.export_batch(self))
        self.batch_view.set_layer_source(self.batch_sync.points_layers)
        self.structure_view.structure_requested.connect(click.go_to_structure)
        self.coordinate_view.point_requested.connect(click.go_to_point)
        from .preferences import on_change

        self.runner.disconnect.append(on_change(setup.on_preferences))
        for emitter in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed):
            emitter.connect(self.reset_choices)
            self.runner.disconnect.append(lambda e=emitter: e.disconnect(self.reset_choices))
        inserted = self.viewer.layers.events.inserted
        inserted.connect(setup.adopt_layer)
        self.runner.disconnect.append(lambda: inserted.disconnect(setup.adopt_layer))

    def _connect_session(self) -> None:
        ev = self.session.events
        ev.targets.connect(self.render_targets)
        ev.atlas_id.connect(self.render_targets)
        ev.atlas_view.connect(self.targets_view.show_atlas_view)
        ev.busy.connect(self._render_busy)
        self.synchronized.connect(lambda *_: self.readout_view.set_hint(""))
        hint = FirstClickHint(self.viewer, self.layers.layout)
        self.seed_loaded.connect(hint.show)
        self.synchronized.connect(hint.synchronized)
        self.runner.disconnect.append(hint.hide)
        self.idle_gc = IdleCollection(self)  # the full GC before the first click, not in it
        self.seed_loaded.connect(self.idle_gc.arm)
        self.runner.disconnect.append(self.idle_gc.disarm)
        self.overlay_shown.connect(lambda *_: self.layers.relabel())  # ink over the overlay
        ev.live.connect(self._render_live)

    def render_targets(self, *_) -> None:
        """Show the session's targets and atlas; drop the layers of those gone."""
        s = self.session
        self.targets_view.set_targets([(t.section_data_set_id, t.name, t.overlay_kind,
                                        t.overlay) for t in s.targets])
        self.targets_view.show_atlas(s.atlas_id, s.atlas_name)
        self.layers.keep_only(s.keys())
        self.targets_changed.emit()

    def _render_busy(self, text: str) -> None:
        if self.runner.released:
            return
        self.readout_view.set_busy(text)
        if text:
            self.viewer.status = f"Allen sync: {text}…"
        else:
            self.layers.dim(False)
            self.viewer.status = ("Allen sync: done. Click on the seed section, or hold "
                                  "Shift to follow the cursor"
                                  if self.session.seed_image is not None else
                                  "Allen sync: open a seed section in the dock (Seed, or "
                                  "Find experiments)")

    def tell_other_panel(self, key: str) -> None:
        """A click on a target's panel: say where to click, in the status bar and the dock
        (until the next synchronization)."""
        text = other_panel_message(key, self.session.target_names, self.session.atlas_name)
        self.viewer.status = text
        self.readout_view.set_hint(text)
        self.reveal(self.readout_view.hint)

    def _render_live(self, enabled: bool) -> None:
        with signals_blocked(self.readout_view.live):
            self.readout_view.live.setChecked(bool(enabled))

    def reset_choices(self, *_) -> None:
        """Refresh the layer choosers (napari calls this when layers change)."""
        if not self.runner.released:
            self.batch_view.reset_choices()

    def show_readouts(self, outcome, names, history: bool = True) -> None:
        """Fill the reference point, the table and (for a click) the history."""
        show_readouts(self.readout_view, outcome, names,
                      len(self.session.history) if history else None)

    # ================================================================ public API
    source = property(lambda self: self.session.source)
    seed_image = property(lambda self: self.session.seed_image)
    seed_data_set = property(lambda self: self.session.seed_data_set)
    target_ids = property(lambda self: list(self.session.target_ids))
    target_names = property(lambda self: self.session.target_names)
    atlas_id = property(lambda self: self.session.atlas_id)
    last_outcome = property(lambda self: self.session.last_outcome)
    last_batch = property(lambda self: self.session.last_batch)
    history = property(lambda self: self.session.history)
    messages = property(lambda self: self.runner.messages)
    live = property(lambda self: self.live_sync.cursor)
    live_modifier = property(lambda self: self.live_sync.modifier)

    def _public_api(self) -> None:
        """The dock's scripting API: the controllers' own methods (see their docs)."""
        setup, click, batch = self.setup, self.click, self.batch_sync
        self.open_source, self.set_source = setup.open_source, setup.set_source
        self.load_demo_scene = setup.load_demo_scene
        self.open_seed_data_set = setup.open_seed_data_set
        self.open_seed_section = setup.open_seed_section
        self.add_target, self.remove_target = setup.add_target, setup.remove_target
        self.set_atlas, self.set_atlas_view = setup.set_atlas, setup.set_atlas_view
        self.find_experiments = self.search.find
        self.synchronize, self.go_to_structure = click.synchronize, click.go_to_structure
        self.points_layers, self.sync_points_layer = batch.points_layers, batch.sync
        self.export_batch, self.export_batch_in_worker = batch.export, batch.export_in_worker

    def go_to_point(self, x, y, z, units: str = "µm", space: int = 9) -> None:
        """Go to a reference point (``"µm"`` or ``"25 µm voxels"``, space 9 or 10)."""
        self.click.go_to_point([x, y, z], units, space)

    def set_overlay(self, section_data_set_id: int, on: bool) -> None:
        """Draw a target's expression / projection overlay over its image, or not."""
        self.session.set_overlay(section_data_set_id, on)

    def set_live(self, enabled: bool) -> None:
        """Turn live sync on or off (holding Shift does the same while it is off)."""
        self.session.live = bool(enabled)

    def export_history(self, path):
        """Write the click history: JSON for ``*.json``, CSV otherwise; returns the path."""
        return self.session.history.export(path)

    def running_workers(self) -> list:
        """Workers still running (started and not finished)."""
        return self.runner.running()

    def cancel(self) -> None:
        """Stop every running worker; a pending click result is dropped."""
        self.session.next_generation()
        self.runner.quit_all()

    def reveal(self, view, margin: int = 0) -> None:
        """Scroll the dock so that one of its views (or any child widget) is visible,
        with ``margin`` pixels around it."""
        self._scroll.ensureWidgetVisible(view, margin, margin)

    # ================================================================ closing
    def close_session(self) -> None:
        """Remove the callbacks and quit every worker (idempotent)."""
        self.runner.release()

    def closeEvent(self, event):
        self.close_session()
        super().closeEvent(event)

    def event(self, event):
        # napari's remove_dock_widget takes the widget out of its dock (parent None)
        # without closing it: treat that as closing.
        if event.type() == QEvent.Type.ParentChange:
            if self.parent() is None and self._docked:
                self.close_session()
            elif self.parent() is not None:
                self._docked = True
        return super().event(event)

    _docked = False
