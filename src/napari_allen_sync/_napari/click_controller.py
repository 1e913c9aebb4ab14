"""A click, a Go to structure or a Go to reference point: run it, draw its answer.

:class:`ClickController` owns the one synchronization worker of a dock (a newer request
quits the older one and the session's generation drops its answer), draws the outcome
in the layers and stores it in the session.
"""

from __future__ import annotations

import logging
import math
import time

from ..session import read_ahead, workflow
from .overlays import overlay_name

__all__ = ["CCF_EXTENT_UM", "ClickController", "far_message", "hit_names"]

log = logging.getLogger(__name__)

#: Largest typed coordinate accepted (µm): the CCF's extent, 13200 × 8000 × 11400 µm,
#: rounded up to whole millimetres (space 10 has the same extent).
CCF_EXTENT_UM = (13200.0, 8000.0, 11400.0)


def hit_names(session, seed_layer, hits) -> dict:
    """Layer name of each hit's image (saying which overlay is on, if one is)."""
    names = {"seed": seed_layer.name if seed_layer is not None else "seed"}
    targets, overlays = session.target_names, session.overlays()
    for h in hits[1:]:
        head = (f"atlas {session.atlas_name or h.atlas_id}" if h.kind == "atlas"
                else targets.get(h.section_data_set_id, str(h.section_data_set_id)))
        names[h.key] = overlay_name(f"{head} #{h.section_number}", overlays.get(h.key))
    return names


def far_message(hit, name: str) -> str:
    """What a target whose nearest section is farther than its spacing tells the user;
    the fact first (a notification is cut to its first words at napari's default window
    size), the target's name and the figures after it."""
    d = abs(hit.distance)
    return (f"no section near this point ({d / 1000:.1f} mm away) in {name} "
            f"(SectionDataSet {hit.section_data_set_id}): the nearest is {d:.0f} µm away, "
            f"more than its section spacing of {hit.spacing:.0f} µm; its marker is greyed "
            "on that nearest section")


class ClickController:
    """Clicks and navigation of one dock (see the module's documentation)."""

    def __init__(self, dock):
        self.dock = dock
        self.session = dock.session
        self.runner = dock.runner
        self.worker = None
        self.record = True  # whether the answer on its way goes into the history
        self.far_told: set = set()  # far (target, section) pairs already notified
        self.preparing = False  # whether self.worker is a prepare (not a click)
        self.reading = None  # the read-ahead worker (read_ahead), while it runs
        #: the targets' layers are laid out as soon as the targets are chosen
        #: (:meth:`prepare`); each change supersedes the prepare on its way
        self.session.events.targets.connect(self.prepare)
        self.session.events.atlas_id.connect(self.prepare)
        dock.seed_loaded.connect(self.prepare)
        # whatever makes a request stale (a click, a seed, targets, a source) stops the
        # read-ahead: it reads for the panels it was started on, and a click's worker
        # should not share the machine with it
        self.session.events.generation.connect(self.stop_reading)

    def _supersede(self) -> int:
        self.preparing = False
        generation = self.session.next_generation()
        if self.worker is not None:
            self.worker.quit()
        return generation

    def running(self) -> bool:
        """Whether a click or a navigation is on its way."""
        return self.worker is not None and self.worker in self.runner.workers

    # ------------------------------------------------------------------ click
    def synchronize(self, x: float, y: float, record: bool = True) -> None:
        """Synchronize seed pixel (x, y); only the latest request is drawn.

        ``record=False``: the same point drawn again (a target was added or removed),
        not a click of the user's, so the history does not record it.
        """
        s = self.session
        if self.runner.released or s.source is None or s.seed_image is None:
            return
        n_keys = len(s.keys())
        desc = f"synchronizing ({x:.0f}, {y:.0f}) to {n_keys - 1} targets"
        generation = self._supersede()
        self.record = bool(record)
        s.last_point = (float(x), float(y))
        request = workflow.SyncRequest(
            generation, s.seed_image.id, float(x), float(y), s.target_ids, s.atlas_id,
            dict(self.dock.layers.shown),
            view=self.dock.layers.view_for(n_keys, (float(y), float(x))),
            atlas_view=s.atlas_view,
        )
        # the worker first: it runs while this handler says what it does, so a quick
        # answer is queued before the event loop turns and drawn before Qt paints the
        # busy state (else one whole window paint comes first)
        self.worker = self.runner.start(workflow.synchronize_click, s.source, request,
                                        desc=desc, returned=self.on_synced)
        s.busy = desc  # said within the event: the dock and the status bar
        self.dock.layers.dim(True)

    # ------------------------------------------------------------------ preparing
    def prepare(self, *_) -> None:
        """Lay out the target panels before the first click: the seed's centre is
        synchronized in a worker and its answer drawn without markers, so that every
        target's image and (empty) marker layer exist, in the grid, when the user
        clicks; the first click then only moves markers. Nothing happens once a point
        was synchronized (a target change then redraws that point), while a click is
        on its way, or without a seed and a target."""
        s = self.session
        if (self.runner.released or s.source is None or s.seed_image is None
                or s.last_point is not None or not s.keys()[1:]
                or (self.running() and not self.preparing)):
            return
        image = s.seed_image
        x, y = float(image.width or 1) / 2.0, float(image.height or 1) / 2.0
        n_keys = len(s.keys())
        generation = self._supersede()
        request = workflow.SyncRequest(
            generation, image.id, x, y, s.target_ids, s.atlas_id, dict(self.dock.layers.shown),
            view=self.dock.layers.view_for(n_keys, (y, x)), atlas_view=s.atlas_view,
        )
        self.worker = self.runner.start(
            workflow.synchronize_click, s.source, request,
            desc=f"opening the {n_keys - 1} target panels", returned=self.on_prepared)
        self.preparing = True

    def on_prepared(self, outcome) -> None:
        """Draw a :meth:`prepare` answer: images and empty markers."""
        s = self.session
        if (self.runner.released or not s.is_current(outcome.request.generation)
                or s.last_point is not None or s.seed_image is None
                or s.seed_image.id != outcome.request.section_image_id):
            return
        self.dock.layers.show_outcome(
            outcome, hit_names(s, self.dock.layers.seed_layer, outcome.hits), markers=False)
        self.read_ahead()

    # ------------------------------------------------------------------ reading ahead
    def read_ahead(self) -> None:
        """Read ahead, once the panels are laid out, the target sections a click on the
        seed can reach (:mod:`napari_allen_sync.session.read_ahead`) into the tile cache,
        so that the first click finds their images there.

        A quiet worker (no bar, no busy line: nothing the user asked for waits on it),
        though the dock is not idle until it ends; a click, a navigation, a live frame,
        a batch, an overlay, a new seed, targets or source stop it at its next image.
        An error is left for the click that meets it."""
        s = self.session
        self.stop_reading()
        if (self.runner.released or s.source is None or s.seed_image is None
                or not s.keys()[1:]):
            return
        image = s.seed_image
        centre = (float(image.height or 1) / 2.0, float(image.width or 1) / 2.0)
        request = read_ahead.ReadAheadRequest(
            s.generation, image.id, s.target_ids, s.atlas_id, dict(self.dock.layers.shown),
            view=self.dock.layers.view_for(len(s.keys()), centre), atlas_view=s.atlas_view)

        def errored(exc):
            log.debug("reading ahead stopped: %s", exc)

        def finished():
            if self.reading is worker:
                self.reading = None

        worker = self.reading = self.runner.start(
            read_ahead.read_ahead, s.source, request, desc="reading ahead",
            errored=errored, finished=finished, progress=False)

    def stop_reading(self, *_) -> None:
        """Stop the read-ahead (at its next image), if it runs."""
        worker, self.reading = self.reading, None
        if worker is not None:
            worker.quit()

    # ------------------------------------------------------------------ navigation
    def go_to_structure(self, structure_id: int) -> None:
        """Open, in the seed data set and every target, the section nearest a structure's
        centroid (``structure_to_image``), with the markers on the centroid."""
        s = self.session
        if self.runner.released or not self.dock.setup.need_source():
            return
        catalog = s.source.catalog
        structure = catalog.structures.get(int(structure_id))
        if structure is None:
            self.runner.notify(f"structure {structure_id} is not in the ontology")
            return
        if s.seed_data_set is not None:
            space = s.seed_data_set.reference_space_id
            if (structure.id, space) not in catalog.structure_centers:
                self.runner.notify(
                    f"{structure.acronym} ({structure.name}) has no StructureCenter in "
                    f"reference space {space}: cannot go to it; choose one of its parent "
                    "or child structures")
                return
        self.navigate(structure_id=int(structure_id), what=structure.acronym)

    def go_to_point(self, values, units: str = workflow.UNITS_UM, space: int = 9) -> None:
        """Open the sections nearest a reference point (``reference_to_image``); ``units``
        is ``"µm"`` or ``"25 µm voxels"``. Each coordinate must lie in the CCF extent."""
        numbers = []
        for name, text, top in zip("xyz", values, CCF_EXTENT_UM, strict=True):
            try:
                v = float(str(text).strip().replace(",", "."))
            except ValueError:
                v = math.nan
            if not math.isfinite(v):
                self.runner.notify(f"coordinate {name}: {text!r} is not a finite number")
                return
            um = v * workflow.CCF_VOXEL_UM if units == workflow.UNITS_VOXEL else v
            if not 0.0 <= um <= top:
                self.runner.notify(
                    f"coordinate {name}: {v:g} {units} is outside the reference space "
                    f"(0 to {top:.0f} µm); enter a point inside the brain")
                return
            numbers.append(v)
        if units not in (workflow.UNITS_UM, workflow.UNITS_VOXEL):
            self.runner.notify(f"coordinate units: unknown {units!r}")
            return
        if self.runner.released or not self.dock.setup.need_source():
            return
        point = workflow.reference_point_um(units, int(space), numbers)
        self.navigate(point=point, what=f"({numbers[0]:g}, {numbers[1]:g}, {numbers[2]:g})")

    def navigate(self, structure_id=None, point=None, what="") -> None:
        s = self.session
        if s.seed_image is None or s.seed_data_set is None:
            self.runner.notify("open a seed section first (Seed: pick a data set)")
            return
        generation = self._supersede()
        self.record = True
        request = workflow.NavigateRequest(
            generation, s.seed_data_set.id, s.seed_image.id, s.target_ids, s.atlas_id,
            dict(self.dock.layers.shown), structure_id=structure_id, point=point,
            atlas_view=s.atlas_view)
        # the worker first, as for a click: it runs while the busy state is said
        self.worker = self.runner.start(
            workflow.navigate, s.source, request, desc=f"going to {what}",
            returned=self.on_navigated)
        s.busy = f"going to {what}"
        self.dock.layers.dim(True)

    def on_navigated(self, nav) -> None:
        if self.runner.released or not self.session.is_current(nav.request.generation):
            return
        if nav.loaded is not None:
            self.dock.setup.show_seed(nav.loaded, keep_generation=True)
        self.on_synced(nav.outcome)
        self.dock.navigated.emit(nav)

    # ------------------------------------------------------------------ drawing
    def on_synced(self, outcome) -> None:
        dock, s = self.dock, self.session
        if self.runner.released or not s.is_current(outcome.request.generation):
            return  # a newer click (or seed) superseded this one
        dock.live_sync.click_arrived()
        t0 = time.perf_counter()
        names = hit_names(s, dock.layers.seed_layer, outcome.hits)
        dock.layers.show_outcome(outcome, names)
        outcome.timings_ms["draw"] = (time.perf_counter() - t0) * 1e3
        t1 = time.perf_counter()
        s.synchronized(outcome)
        if self.record:
            s.history.add(outcome)
        dock.show_readouts(outcome, names, history=self.record)
        outcome.timings_ms["readouts"] = (time.perf_counter() - t1) * 1e3
        for problem in outcome.problems:
            self.runner.notify(problem)
        far = {(h.key, h.section_image_id) for h in outcome.hits[1:] if h.far}
        for h in outcome.hits[1:]:  # said once per target and section, not every click
            if (h.key, h.section_image_id) in far - self.far_told:
                self.runner.notify(far_message(h, names.get(h.key, h.key)))
        self.far_told = far
        dock.synchronized.emit(outcome)
        dock.batch_sync.after_click()
