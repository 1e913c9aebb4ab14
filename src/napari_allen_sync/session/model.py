"""The state of one synchronization session, in one observable object.

:class:`Session` holds what the dock shows and what a click is synchronized to: the
source, the seed section, the targets, the atlas, the last synchronized point, live
mode, the batch layer and the request generation. It is a psygnal evented dataclass:
every field has a signal (``session.events.<field>``) that fires when its value
changes, so that every way of changing it (the dock, a script, a test) redraws the same
way. It imports neither napari nor Qt.

The dock's views render from a session and change it only through its methods; its
controllers run the workflow (:mod:`.workflow`) and store the answers here.

Examples
--------
>>> s = Session()
>>> seen = []
>>> _ = s.events.targets.connect(lambda new, old: seen.append(len(new)))
>>> s.add_target(100, "Gad1 · coronal")
True
>>> s.add_target(100, "again")
False
>>> seen, s.target_ids
([1], (100,))
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from psygnal import evented

from .history import ClickHistory

__all__ = ["ATLAS_VIEWS", "OVERLAY_KINDS", "SavedSetup", "Session", "Target"]

#: What the atlas panel shows: ``"annotation"`` (annotated plates, the structures in
#: their atlas colours, as Allen's own viewer shows them) or ``"nissl"`` (the plain
#: Nissl-stained plates).
ATLAS_VIEWS = ("annotation", "nissl")
#: The overlays a target's images have (:func:`napari_allen_sync.images.overlay_view`).
OVERLAY_KINDS = ("expression", "projection")


@dataclass(frozen=True)
class Target:
    """A target data set of the session.

    Attributes
    ----------
    section_data_set_id : int
    name : str
        What the dock and the layer names call it (id · gene · plane).
    overlay : bool
        Whether its overlay (expression mask, projection mask) is drawn over its image,
        as a second layer in its grid cell.
    overlay_kind : str or None
        Which overlay its images have: one of :data:`OVERLAY_KINDS`, or None (no
        overlay known: the toggle is off and disabled).
    """

    section_data_set_id: int
    name: str = ""
    overlay: bool = False
    overlay_kind: str | None = None

    @property
    def key(self) -> str:
        """The key of its layers: ``"ds:<id>"``."""
        return f"ds:{self.section_data_set_id}"


@dataclass(frozen=True)
class SavedSetup:
    """What a session had open on one source, restored when the user comes back to it."""

    seed_image_id: int | None
    targets: tuple = ()
    atlas_id: int | None = None
    atlas_name: str = ""
    last_point: tuple | None = None


@evented
@dataclass(eq=False)
class Session:
    """One synchronization session (see the module's documentation).

    Attributes
    ----------
    source : AtlasSource or None
        Where records and images come from.
    source_key : str
        Which source it is (``"demo"``, ``"allen"``, ``"custom:<url>"``): the key of
        the saved setups.
    seed_image, seed_data_set : SectionImage, SectionDataSet or None
        The seed section and its data set.
    sections : tuple of (section_image_id, section_number)
        The seed data set's usable sections, in order.
    targets : tuple of Target
        Target data sets, in the order they were added.
    atlas_id : int or None
        The atlas target (1 = P56 coronal, 2 = P56 sagittal), or none.
    atlas_name : str
    atlas_view : str
        One of :data:`ATLAS_VIEWS`.
    last_point : (x, y) or None
        The seed pixel last synchronized (a click, a live frame, a navigation).
    last_outcome : SyncOutcome or None
        What that synchronization produced.
    live : bool
        Whether the markers follow the cursor.
    batch_layer : object or None
        The Points layer synchronized as a batch (the dock's, opaque here).
    last_batch : PointsBatch or None
    generation : int
        Incremented by every change that makes a running request stale: an answer
        whose generation is not the current one is dropped.
    busy : str
        What is being done now ("" when idle): the dock and the status bar show it.
    search : str
        The last experiment search text (the dock's Find experiments field).
    search_result : SearchResult or None
        What that search found (:class:`napari_allen_sync.search.SearchResult`).
    """

    source: object = None
    source_key: str = ""
    seed_image: object = None
    seed_data_set: object = None
    sections: tuple = ()
    targets: tuple = ()
    atlas_id: int | None = None
    atlas_name: str = ""
    atlas_view: str = "annotation"
    last_point: tuple | None = None
    last_outcome: object = None
    live: bool = False
    batch_layer: object = None
    last_batch: object = None
    generation: int = 0
    busy: str = ""
    search: str = ""
    search_result: object = None
    saved: dict = field(default_factory=dict)
    history: ClickHistory = field(default_factory=ClickHistory)

    # ------------------------------------------------------------------ requests
    def next_generation(self) -> int:
        """Make every running request stale; returns the new generation."""
        self.generation += 1
        return self.generation

    def is_current(self, generation: int) -> bool:
        """Whether an answer to a request of ``generation`` may still be drawn."""
        return int(generation) == self.generation

    # ------------------------------------------------------------------ targets
    @property
    def target_ids(self) -> tuple:
        """The target data sets' ids, in order."""
        return tuple(t.section_data_set_id for t in self.targets)

    @property
    def target_names(self) -> dict:
        """Name of each target data set, by id."""
        return {t.section_data_set_id: t.name for t in self.targets}

    def keys(self) -> list[str]:
        """Layer keys of everything synchronized: the seed, each target, the atlas."""
        out = ["seed", *(t.key for t in self.targets)]
        if self.atlas_id:
            out.append(f"atlas:{self.atlas_id}")
        return out

    def refuse_target(self, section_data_set_id: int) -> str | None:
        """Why a data set cannot be added as a target (None when it can)."""
        ds_id = int(section_data_set_id)
        if self.seed_data_set is not None and ds_id == int(self.seed_data_set.id):
            return (f"SectionDataSet {ds_id} is the seed's own data set: choose another "
                    "experiment as target (the seed's other sections are on its slider)")
        if ds_id in self.target_ids:
            return f"SectionDataSet {ds_id} is already a target"
        return None

    def add_target(self, section_data_set_id: int, name: str = "",
                   overlay_kind: str | None = None, asked=()) -> bool:
        """Add a target data set; False (and nothing changes) when it is refused.

        Parameters
        ----------
        section_data_set_id : int
        name : str
            Its description in the dock (default: the id).
        overlay_kind : str or None
            Its images' overlay (one of :data:`OVERLAY_KINDS`) or None.
        asked : sequence of int
            Data set ids in the order the user asked for them: targets checked in
            parallel arrive in any order, and the new one goes before the first target
            asked after it (default: at the end).
        """
        if self.refuse_target(section_data_set_id) is not None:
            return False
        ds_id = int(section_data_set_id)
        kind = overlay_kind if overlay_kind in OVERLAY_KINDS else None
        new = Target(ds_id, name or str(ds_id), overlay_kind=kind)
        rank = {int(a): i for i, a in enumerate(asked)}
        at = len(self.targets)
        if ds_id in rank:
            at = next((i for i, t in enumerate(self.targets)
                       if rank.get(t.section_data_set_id, -1) > rank[ds_id]), at)
        self.targets = (*self.targets[:at], new, *self.targets[at:])
        return True

    def remove_target(self, section_data_set_id: int) -> bool:
        """Remove a target data set; False when it was not one."""
        ds_id = int(section_data_set_id)
        if ds_id not in self.target_ids:
            return False
        self.targets = tuple(t for t in self.targets if t.section_data_set_id != ds_id)
        return True

    def set_overlay(self, section_data_set_id: int, overlay: bool) -> bool:
        """Draw a target's overlay over its image (True) or not; False (and nothing
        changes) when it is not a target, has no overlay or already is so."""
        ds_id = int(section_data_set_id)
        found = next((t for t in self.targets if t.section_data_set_id == ds_id), None)
        if found is None or found.overlay == bool(overlay) or (
                overlay and found.overlay_kind is None):
            return False
        self.targets = tuple(replace(t, overlay=bool(overlay)) if t.section_data_set_id == ds_id
                             else t for t in self.targets)
        return True

    def overlays(self) -> dict:
        """The targets whose overlay is on: layer key → overlay kind."""
        return {t.key: t.overlay_kind for t in self.targets if t.overlay and t.overlay_kind}

    def set_atlas_view(self, view: str) -> bool:
        """Show the atlas as ``"annotation"`` or ``"nissl"`` (:data:`ATLAS_VIEWS`);
        False when it already is.

        Raises
        ------
        InvalidParameterError
            For any other name.
        """
        if view not in ATLAS_VIEWS:
            from ..errors import InvalidParameterError

            raise InvalidParameterError(
                "atlas_view", f"{view!r} is not an atlas view; use one of {ATLAS_VIEWS}")
        if view == self.atlas_view:
            return False
        self.atlas_view = view
        return True

    def set_atlas(self, atlas_id: int | None, name: str = "") -> None:
        """Choose the atlas target (None: no atlas)."""
        self.atlas_name = name if atlas_id else ""
        self.atlas_id = int(atlas_id) if atlas_id else None

    # ------------------------------------------------------------------ seed
    def set_seed(self, image, data_set, sections=(), stale: bool = True) -> None:
        """Show a new seed section: the last point and outcome are forgotten, and
        running requests become stale (``stale=False``: a navigation that opened this
        seed draws its own answer next)."""
        if stale:
            self.next_generation()
        self.last_point = None
        self.last_outcome = None
        self.sections = tuple(sections)
        self.seed_data_set = data_set
        self.seed_image = image

    def seed_name(self) -> str:
        """The seed layer's name: ``seed <data set> #<section number>``."""
        if self.seed_image is None:
            return "seed"
        from .workflow import describe_data_set

        return f"seed {describe_data_set(self.seed_data_set)} #{self.seed_image.section_number}"

    def synchronized(self, outcome) -> None:
        """Record a synchronization's outcome (a click, a frame or a navigation)."""
        req = outcome.request
        self.last_point = (float(req.x), float(req.y))
        self.last_outcome = outcome

    # ------------------------------------------------------------------ sources
    def setup(self) -> SavedSetup | None:
        """What is open now (None without a seed)."""
        if self.seed_image is None:
            return None
        return SavedSetup(int(self.seed_image.id), tuple(self.targets), self.atlas_id,
                          self.atlas_name, self.last_point)

    def switch_source(self, key: str, source) -> SavedSetup | None:
        """Use another source: what was open on the current one is saved under its key,
        every source-specific field is emptied, and the setup saved earlier for the new
        key (if any) is returned for the caller to reopen."""
        setup = self.setup()
        if self.source_key and setup is not None:
            self.saved[self.source_key] = setup
        self.next_generation()
        self.last_outcome = None
        self.last_point = None
        self.last_batch = None
        self.batch_layer = None
        self.targets = ()
        self.set_atlas(None)
        self.sections = ()
        self.seed_data_set = None
        self.seed_image = None
        self.source_key = str(key)
        self.source = source
        return self.saved.get(str(key))
