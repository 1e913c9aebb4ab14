r"""The session's workflow: a click → its outcome, navigation to a structure or a
reference point, where each target is placed, opening a source, a seed or a target.

The functions here are plain Python generators over an
:class:`~napari_allen_sync.source.AtlasSource`: they yield a short description of
each step (napari shows them as progress) and return a result object. They import
neither napari nor Qt, so they are tested and benchmarked without a viewer; the dock
runs them in napari ``thread_worker``\ s (:mod:`napari_allen_sync._napari.workers`).

A click is a batch of one: every synchronization goes through the engine's batch
forms (``image_to_reference_batch``, ``image_to_image_batch``,
``image_to_atlas_batch``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import AllenSyncError
from ..records import SectionDataSet, SectionImage, Structure
from .tiles import cached_tiles, image_levels, warm_view
from .tiles import warm_coarsest as _warm

log = logging.getLogger(__name__)

__all__ = [
    "ATLAS_TILE_VIEWS",
    "CCF_SPACE",
    "CCF_VOXEL_UM",
    "UNITS_UM",
    "UNITS_VOXEL",
    "LoadedSection",
    "NavigateRequest",
    "Navigation",
    "OverlayImage",
    "SourceInfo",
    "SyncOutcome",
    "SyncRequest",
    "TargetHit",
    "answer_targets",
    "describe_data_set",
    "find_experiments",
    "load_images",
    "load_overlay",
    "load_section",
    "navigate",
    "open_source",
    "placement",
    "prepare_atlas",
    "prepare_data_set",
    "reference_point_um",
    "section_spacing",
    "short_name",
    "steps",
    "synchronize_click",
    "tiles_for",
]

#: Edge of a CCF voxel of the 25 µm annotation volume.
CCF_VOXEL_UM = 25.0
#: Reference space of the CCF annotation volume (PIR, coronal).
CCF_SPACE = 9
#: The tile view (:data:`napari_allen_sync.images.VIEWS`) of each atlas view of the
#: session (:data:`napari_allen_sync.session.model.ATLAS_VIEWS`).
ATLAS_TILE_VIEWS = {"annotation": "default", "nissl": "image"}


def tiles_for(source, key: str, atlas_view: str = "annotation"):
    """The tiles a layer key is drawn from: the atlas (``"atlas:<id>"``) as annotated
    plates or as plain Nissl (``atlas_view``), every other image as stained. A tile
    source without views (:func:`napari_allen_sync.images.tile_view`) draws everything
    its one way."""
    from ..images import tile_view

    if not str(key).startswith("atlas:"):
        return source.tiles
    try:
        return tile_view(source.tiles, ATLAS_TILE_VIEWS.get(atlas_view, "default"))
    except ValueError:
        return source.tiles


def describe_data_set(ds: SectionDataSet) -> str:
    """One line a neuroscientist recognizes: id, gene / experiment, plane."""
    what = _what(ds)
    parts = [str(ds.id)]
    if what:
        parts.append(what if len(what) <= 24 else what[:23] + "…")
    parts.append(ds.plane)
    return " · ".join(parts)


def short_name(ds: SectionDataSet) -> str:
    """The gene (or experiment) of a data set in at most 12 characters, else its id."""
    what = _what(ds)
    if not what:
        return str(ds.id)
    return what if len(what) <= 12 else what[:11] + "…"


def _what(ds: SectionDataSet):
    extra = ds.extra or {}
    what = None
    genes = extra.get("genes")
    if isinstance(genes, list) and genes:
        g = genes[0]
        what = g.get("acronym") if isinstance(g, dict) else str(g)
    for key in ("gene", "gene_acronym", "name", "specimen", "experiment", "title"):
        if what:
            break
        value = extra.get(key)
        if isinstance(value, dict):
            value = value.get("acronym") or value.get("name")
        if value:
            what = str(value)
    return what


# ====================================================================== results
@dataclass
class SourceInfo:
    """What the widget shows about a freshly opened source."""

    source: object
    status: str
    data_sets: list  # (id, description)
    atlases: list  # (id, name)


@dataclass
class LoadedSection:
    """A section image ready to be shown: the record, its data set and its pyramid."""

    image: SectionImage
    data_set: SectionDataSet
    sections: list  # (section_image_id, section_number) of the data set, in order
    levels: list


@dataclass(frozen=True)
class SyncRequest:
    """One click: seed pixel (x, y) on a seed image, and what to synchronize it to."""

    generation: int
    section_image_id: int
    x: float
    y: float
    target_ids: tuple = ()
    atlas_id: int | None = None
    #: Section image ids the viewer shows now, by target key: no pyramid needed for them.
    shown: dict = field(default_factory=dict)
    #: The view the result will be drawn in, ``(centre, zoom, cell size)``, or None;
    #: the worker renders the chunks it will show (:func:`warm_view`).
    view: tuple | None = None
    #: Whether to prepare the images of targets whose section changes (their pyramid,
    #: its tiles). A live frame does not: the markers move at once and the new images
    #: are loaded apart (:func:`load_images`), so a slow tile never holds the cursor.
    images: bool = True
    #: How the atlas is drawn: ``"annotation"`` or ``"nissl"`` (:func:`tiles_for`).
    atlas_view: str = "annotation"


@dataclass
class TargetHit:
    """The synchronized point in one target (a data set, an atlas, or the seed itself)."""

    key: str  # "seed", "ds:<id>" or "atlas:<id>"
    kind: str  # "seed", "data set" or "atlas"
    section_data_set_id: int
    section_image_id: int
    section_number: int
    x: float
    y: float
    distance: float
    clamped: bool
    image: SectionImage
    data_set: SectionDataSet
    structure: Structure | None = None
    atlas_id: int | None = None
    levels: list | None = None  # a new pyramid when the shown section changes
    #: 3 × 3 napari affine (row, col, 1) of this target's layers: its data (sync pixels
    #: of its own image) → world (the seed's sync pixels). See :func:`placement`.
    world_from_data: np.ndarray = field(default_factory=lambda: np.eye(3))
    #: True when the target's section is registered to the seed's plane by an affine
    #: (same plane); False when only scaled and shifted onto the click (another plane).
    registered: bool = False
    #: The target's section spacing (µm): median step of its usable section numbers ×
    #: section thickness; None for the seed or when unknown.
    spacing: float | None = None

    @property
    def far(self) -> bool:
        """Whether the chosen section lies farther from the point than the spacing."""
        return self.spacing is not None and abs(self.distance) > self.spacing

    @property
    def label(self) -> str:
        """Text drawn by the marker, one fact a line, the most important first: the
        section number and structure acronym, the panel's name (seed, atlas, gene), the
        atlas structure's full name, a far or clamped section's warning. The napari
        marker cuts and wraps the lines to its panel's width."""
        s = self.structure
        where = s.acronym if s is not None else "outside"
        head = {"seed": "seed", "atlas": "atlas"}.get(self.kind, short_name(self.data_set))
        lines = [f"#{self.section_number} {where}", head]
        if self.kind == "atlas" and s is not None and s.name != s.acronym:
            lines.append(s.name)
        if self.far:
            lines += ["no section near this point",
                      f"(nearest {abs(self.distance) / 1000:.1f} mm)"]
        elif self.clamped:
            lines.append("(clamped)")
        return "\n".join(lines)

    def row(self) -> dict:
        """The hit as a flat row (CSV, napari features)."""
        s = self.structure
        return {
            "target": self.key,
            "section_data_set_id": self.section_data_set_id,
            "section_image_id": self.section_image_id,
            "section_number": self.section_number,
            "x": self.x,
            "y": self.y,
            "distance": self.distance,
            "clamped": self.clamped,
            "far": self.far,
            "structure_id": -1 if s is None else s.id,
            "structure": "" if s is None else s.acronym,
            "structure_name": "" if s is None else s.name,
        }


@dataclass
class SyncOutcome:
    """Everything one click produced."""

    request: SyncRequest
    reference_space_id: int
    reference: tuple  # (x, y, z) µm in reference_space_id
    pir: tuple  # (p, i, r) µm in the CCF space 9
    ccf_voxel: tuple  # 25 µm voxel index (p, i, r)
    structure: Structure | None
    hits: list  # TargetHit, the seed first
    problems: list  # messages for targets that could not be synchronized
    timings_ms: dict
    #: Why the structures are unknown (e.g. the annotation volume is still downloading),
    #: None when they were looked up (None structures are then outside the brain).
    structures_missing: str | None = None

    def hit(self, key: str) -> TargetHit | None:
        """The hit of one target key, or None."""
        for h in self.hits:
            if h.key == key:
                return h
        return None


# ====================================================================== work
def open_source(factory):
    """Create a source (``factory()`` may touch the network) and read what to offer."""
    yield "opening source"
    source = factory() if callable(factory) else factory
    yield "reading status"
    status = source.status()
    data_sets = []
    for ds_id in source.data_set_ids():
        ds = source.catalog.section_data_sets.get(ds_id)
        data_sets.append((ds_id, describe_data_set(ds) if ds is not None else str(ds_id)))
    atlases = []
    for atlas_id in source.atlas_ids():
        atlas = source.catalog.atlases.get(atlas_id)
        atlases.append((atlas_id, f"{atlas.name} ({atlas_id})" if atlas else str(atlas_id)))
    return SourceInfo(source, status, data_sets, atlases)


def prepare_data_set(source, section_data_set_id: int):
    """Make a data set available and check that it has usable images."""
    yield f"fetching SectionDataSet {section_data_set_id}"
    ds = source.ensure_data_set(int(section_data_set_id))
    source.synchronizer.stack(ds.id)  # raises NoUsableImagesError, MissingAlignmentError
    return ds, describe_data_set(ds)


def prepare_atlas(source, atlas_id: int):
    """Make an atlas, its annotated plates and the ontology available."""
    yield f"fetching atlas {atlas_id}"
    source.ensure_atlas(int(atlas_id))
    ds = source.catalog.atlas_data_set(int(atlas_id))
    source.synchronizer.stack(ds.id, kind="atlas")
    atlas = source.catalog.atlas(int(atlas_id))
    return atlas_id, f"{atlas.name} ({atlas_id})"


def _sections(catalog, ds_id) -> list:
    return [(im.id, im.section_number) for im in catalog.images_of(ds_id) if not im.failed]


def load_section(source, section_data_set_id=None, section_image_id=None):
    """The seed: a data set's section (by image id, or the middle section) and its pyramid."""
    if section_data_set_id is not None:
        yield f"fetching SectionDataSet {section_data_set_id}"
        source.ensure_data_set(int(section_data_set_id))
    catalog = source.catalog
    if section_image_id is None:
        stack = source.synchronizer.stack(int(section_data_set_id))
        section_image_id = int(stack.image_ids[len(stack.image_ids) // 2])
    if int(section_image_id) not in catalog.section_images and hasattr(
        source, "ensure_section_image"
    ):
        yield f"fetching SectionImage {section_image_id}"
        source.ensure_section_image(int(section_image_id))
    image = catalog.section_image(int(section_image_id))
    if section_data_set_id is None:
        yield f"fetching SectionDataSet {image.data_set_id}"
        source.ensure_data_set(image.data_set_id)
    ds = catalog.section_data_set(image.data_set_id)
    source.synchronizer.seed(image.id)  # alignment checks before anything is shown
    yield f"preparing image {image.id}"
    levels = image_levels(image, source.tiles)
    _warm(image, source.tiles, levels)
    return LoadedSection(image, ds, _sections(catalog, ds.id), levels)


def _ccf(sync, space, x, y, z):
    """Reference point(s) → PIR µm in space 9 and the 25 µm voxel index."""
    pts = np.array([x, y, z], dtype=float).reshape(3, -1)
    if space != CCF_SPACE:
        m = sync.reference_transform(space, CCF_SPACE)
        pts = m[:, :3] @ pts + m[:, 3:4]
    pir = tuple(float(v) for v in pts[:, 0])
    voxel = tuple(int(v) for v in np.floor(pts[:, 0] / CCF_VOXEL_UM))
    return pir, voxel


def synchronize_click(source, request: SyncRequest):
    """Synchronize one click on the seed to every target and the atlas.

    Yields one description per step; returns a :class:`SyncOutcome`. A target that
    cannot be synchronized (unknown id, no usable images, ...) is reported in
    ``problems`` and the others are still answered; an error about the seed itself
    (or the network) is raised as the package's own :class:`AllenSyncError`.
    """
    t0 = time.perf_counter()
    timings = {}
    sync = source.synchronizer
    catalog = source.catalog
    sid, x, y = int(request.section_image_id), float(request.x), float(request.y)
    seed_image, seed_ds = sync.seed(sid)
    ref = sync.image_to_reference_batch(sid, [x], [y])
    space = ref.reference_space_id
    pir, voxel = _ccf(sync, space, ref.x[0], ref.y[0], ref.z[0])
    timings["reference"] = (time.perf_counter() - t0) * 1e3
    yield "reference point"

    hits = [
        TargetHit("seed", "seed", seed_ds.id, seed_image.id, seed_image.section_number, x, y,
                  0.0, False, seed_image, seed_ds)
    ]
    problems = []
    hits += yield from answer_targets(
        source, request.target_ids, request.atlas_id,
        lambda ds_ids: sync.image_to_image_batch(sid, [x], [y], ds_ids),
        lambda atlas_id: sync.image_to_atlas_batch(sid, [x], [y], atlas_id),
        lambda key, kind, ds_id, batch: _hit(key, kind, catalog, batch, ds_id,
                                             request.atlas_id if kind == "atlas" else None),
        problems,
    )
    timings["synchronize"] = (time.perf_counter() - t0) * 1e3
    missing = yield from _finish(source, request, seed_image, hits, timings, t0,
                                 (float(ref.x[0]), float(ref.y[0]), float(ref.z[0])), space)
    return SyncOutcome(
        request, space, (float(ref.x[0]), float(ref.y[0]), float(ref.z[0])), pir, voxel,
        hits[0].structure, hits, problems, timings, missing,
    )


def answer_targets(source, target_ids, atlas_id, to_data_sets, to_atlas, wrap, problems):
    """Answer every target data set, then the atlas (a worker generator step).

    Each target is made available (``source.ensure_data_set``, one step each: it may
    download), then every available one is answered by one call
    ``to_data_sets(section_data_set_ids)`` (one
    :class:`~napari_allen_sync.results.ImageSyncBatch` per id, in order: the engine's
    batch form over data sets, which computes the seed's points once for all targets);
    should that call raise, the targets are answered one at a time, so that the one at
    fault is named. The atlas is made available (``ensure_atlas``) and answered by
    ``to_atlas(atlas_id)``. Each answer is wrapped by
    ``wrap(key, kind, section_data_set_id, batch)``. A target that fails is reported in
    ``problems`` (in the order of ``target_ids``) and the others are still answered.

    Yields a step description per target and one for the atlas; returns the wrapped
    answers.
    """
    failed: dict[int, str] = {}
    ready: list[tuple[int, int]] = []  # (position in target_ids, data set id)
    for pos, ds_id in enumerate(target_ids):
        try:
            source.ensure_data_set(int(ds_id))
            ready.append((pos, int(ds_id)))
        except AllenSyncError as exc:
            failed[pos] = f"target SectionDataSet {ds_id}: {exc}"
        yield f"target {ds_id}"
    answered: dict[int, object] = {}
    batches = _each_answer([d for _, d in ready], to_data_sets)
    for (pos, ds_id), batch in zip(ready, batches, strict=True):
        try:
            if isinstance(batch, AllenSyncError):
                raise batch
            answered[pos] = wrap(f"ds:{ds_id}", "data set", ds_id, batch)
        except AllenSyncError as exc:
            failed[pos] = f"target SectionDataSet {ds_id}: {exc}"
    problems.extend(failed[pos] for pos in sorted(failed))
    out = [answered[pos] for pos in sorted(answered)]
    if atlas_id:
        try:
            source.ensure_atlas(int(atlas_id))
            batch = to_atlas(int(atlas_id))
            ds_id = source.catalog.atlas_data_set(int(atlas_id)).id
            out.append(wrap(f"atlas:{atlas_id}", "atlas", ds_id, batch))
        except AllenSyncError as exc:
            problems.append(f"atlas {atlas_id}: {exc}")
        yield "atlas"
    return out


def _each_answer(ids: list[int], to_data_sets) -> list:
    """``to_data_sets(ids)`` (one batch per id); when that raises one of the package's
    errors, each id alone: its batch, or the error it raised."""
    if not ids:
        return []
    try:
        return list(to_data_sets(ids))
    except AllenSyncError:
        pass
    out = []
    for ds_id in ids:
        try:
            out.append(to_data_sets([ds_id])[0])
        except AllenSyncError as exc:
            out.append(exc)
    return out


def _finish(source, request, seed_image, hits, timings, t0, origin, space):
    """Common tail of a synchronization: structures, placement, pyramids, tiles.
    Returns why the structures are unknown (:func:`_structures`), or None."""
    sync = source.synchronizer
    y, x = float(request.y), float(request.x)

    t1 = time.perf_counter()
    missing = _structures(source, hits, origin, space)
    timings["structures"] = (time.perf_counter() - t1) * 1e3
    yield "structures"

    for h in hits[1:]:
        h.world_from_data, h.registered = placement(sync, seed_image, h, (y, x))
        h.spacing = section_spacing(sync, h.section_data_set_id,
                                    "atlas" if h.kind == "atlas" else "images")

    t2 = time.perf_counter()
    atlas_view = getattr(request, "atlas_view", "annotation")
    for h in hits[1:] if request.images else ():
        if request.shown.get(h.key) != h.section_image_id:
            tiles = tiles_for(source, h.key, atlas_view)
            h.levels = image_levels(h.image, tiles)
            _warm(h.image, tiles, h.levels)
    timings["pyramids"] = (time.perf_counter() - t2) * 1e3
    yield "images"
    t3 = time.perf_counter()
    if request.view is not None and request.images:
        _warm_views(source, hits, request.view, atlas_view)
    timings["tiles"] = (time.perf_counter() - t3) * 1e3
    timings["total"] = (time.perf_counter() - t0) * 1e3
    return missing


def _structures(source, hits, origin, space) -> str | None:
    """The structure under every marker: the click itself (``hits[0]``, at ``origin``
    in ``space``) and each marker's own point (a target's marker lies on its nearest
    section, up to half a spacing away), looked up once per reference space.

    The lookup does not wait for an annotation volume still downloading
    (``structure_at(..., wait=False)``). Returns why the structures are unknown (the
    source's ``annotation_problem`` when every structure came back None), or None."""
    sync = source.synchronizer
    by_space: dict[int, list] = {}
    for k, h in enumerate(hits):
        p, s = origin, space
        if k:
            try:
                r = sync.image_to_reference_batch(h.section_image_id, [h.x], [h.y])
                p, s = (r.x[0], r.y[0], r.z[0]), r.reference_space_id
            except AllenSyncError:  # no alignment to go back: the click's own point
                pass
        by_space.setdefault(s, []).append((k, p))
    for s, items in by_space.items():
        pts = np.array([p for _, p in items], dtype=float)
        found = source.structure_at(s, pts[:, 0], pts[:, 1], pts[:, 2], wait=False)
        for (k, _), st in zip(items, found, strict=True):
            hits[k].structure = st
    problem = getattr(source, "annotation_problem", None)
    if problem is not None and all(h.structure is None for h in hits):
        return str(problem)
    return None


def _warm_views(source, hits, view, atlas_view) -> None:
    """Read the tiles each hit's image shows in ``view`` (the panels' camera), so that
    napari draws them from memory; a tile that fails shows up where napari draws it."""
    for h in hits:
        tiles = tiles_for(source, h.key, atlas_view)
        levels = h.levels or image_levels(h.image, tiles)
        try:
            warm_view(h.image, cached_tiles(tiles), levels, h.world_from_data, view)
        except AllenSyncError:
            raise
        except Exception:
            log.debug("warming %s failed", h.key, exc_info=True)


def load_images(source, items, view=None, atlas_view="annotation"):
    """Prepare the images a live frame asked for: each one's pyramid, its coarsest tier
    and, with a ``view``, the chunks drawn in it.

    Parameters
    ----------
    source : AtlasSource
    items : sequence of (key, SectionImage, affine)
        ``affine``: the 3 × 3 placement the image will be drawn with.
    view : tuple, optional
        As :attr:`SyncRequest.view`.
    atlas_view : str
        How the atlas is drawn (:func:`tiles_for`).

    Returns
    -------
    list of (key, SectionImage, levels)
    """
    out = []
    for key, image, affine in items:
        tiles = tiles_for(source, key, atlas_view)
        levels = image_levels(image, tiles)
        _warm(image, tiles, levels)
        if view is not None:
            try:
                warm_view(image, cached_tiles(tiles), levels, affine, view)
            except AllenSyncError:
                raise
            except Exception:  # a tile that fails shows up where napari draws it
                log.debug("warming %s failed", key, exc_info=True)
        out.append((key, image, levels))
        yield f"image {image.id}"
    return out


def section_spacing(sync, section_data_set_id, kind: str = "images") -> float | None:
    """Median difference of consecutive section numbers of a data set's usable images ×
    its section thickness (µm); None with fewer than two sections."""
    try:
        stack = sync.stack(int(section_data_set_id), kind=kind)
    except AllenSyncError:
        return None
    numbers = np.asarray(stack.section_numbers)
    if len(numbers) < 2:
        return None
    return float(np.median(np.diff(numbers))) * float(stack.thickness)


# ====================================================================== navigation
#: Units of a typed reference point.
UNITS_UM = "µm"
UNITS_VOXEL = "25 µm voxels"


@dataclass(frozen=True)
class NavigateRequest:
    """Go to a structure's centroid or to a reference point, in the seed data set
    (opening the section that holds it) and in every target."""

    generation: int
    seed_data_set_id: int
    seed_image_id: int  # the seed section shown now
    target_ids: tuple = ()
    atlas_id: int | None = None
    shown: dict = field(default_factory=dict)
    structure_id: int | None = None
    #: (reference_space_id, x, y, z) in µm, when no structure is given.
    point: tuple | None = None
    #: How the atlas is drawn (:attr:`SyncRequest.atlas_view`).
    atlas_view: str = "annotation"


@dataclass
class Navigation:
    """What a navigation produced: the new seed section (None when unchanged) and the
    outcome drawn as a click on it."""

    request: NavigateRequest
    loaded: LoadedSection | None
    outcome: SyncOutcome
    what: str  # "structure CA1" / "point (x, y, z) µm in space 9"


def _hit(key, kind, catalog, batch, ds_id, atlas_id=None) -> TargetHit:
    image = catalog.section_image(int(batch.section_image_id[0]))
    return TargetHit(key, kind, int(ds_id), image.id, int(batch.section_number[0]),
                     float(batch.x[0]), float(batch.y[0]), float(batch.distance[0]),
                     bool(batch.clamped[0]), image, catalog.section_data_set(int(ds_id)),
                     atlas_id=atlas_id)


def navigate(source, request: NavigateRequest):
    """Structure centroid (``structure_to_image``) or reference point
    (``reference_to_image``) → the seed data set and every target; the atlas from the
    seed's answer (``image_to_atlas``). Returns a :class:`Navigation`."""
    from ..errors import UnknownIdError

    t0 = time.perf_counter()
    timings: dict = {}
    sync = source.synchronizer
    catalog = source.catalog
    seed_ds_id = int(request.seed_data_set_id)
    seed_ds = catalog.section_data_set(seed_ds_id)
    structure = None
    if request.structure_id is not None:
        structure = catalog.structure(int(request.structure_id))
        what = f"structure {structure.acronym} ({structure.name})"

        def answer(ds_id):
            try:
                return sync.structure_to_image_batch(int(ds_id), [structure.id])
            except UnknownIdError as exc:
                if "StructureCenter" not in str(exc):
                    raise
                space = catalog.section_data_set(int(ds_id)).reference_space_id
                raise UnknownIdError(
                    "StructureCenter", structure.id,
                    f"{structure.acronym} ({structure.name}) has no StructureCenter in "
                    f"reference space {space}",
                ) from None

        def answer_all(ds_ids):  # structure_to_image answers one data set a call
            return [answer(d) for d in ds_ids]

        space = seed_ds.reference_space_id
        c = catalog.structure_center(structure.id, space) if (
            (structure.id, space) in catalog.structure_centers) else None
        seed_batch = answer(seed_ds_id)
        point = (c.x, c.y, c.z) if c is not None else (np.nan, np.nan, np.nan)
    else:
        space, px, py, pz = request.point
        space = int(space)
        point = (float(px), float(py), float(pz))
        what = f"point ({px:.0f}, {py:.0f}, {pz:.0f}) µm in space {space}"

        def answer_all(ds_ids):
            return sync.reference_to_image_batch(space, [point[0]], [point[1]], [point[2]],
                                                 ds_ids)

        (seed_batch,) = answer_all([seed_ds_id])
    yield "seed"
    seed_hit = _hit("seed", "seed", catalog, seed_batch, seed_ds_id)
    seed_image = seed_hit.image
    sync.seed(seed_image.id)
    loaded = None
    shown = dict(request.shown)
    if seed_image.id != int(request.seed_image_id):
        levels = image_levels(seed_image, source.tiles)
        _warm(seed_image, source.tiles, levels)
        loaded = LoadedSection(seed_image, seed_ds, _sections(catalog, seed_ds_id), levels)
        shown = {}  # the seed changes: every target layer is drawn anew
    # the seed's own answer keeps its distance and clamping
    hits = [seed_hit]
    problems = []
    hits += yield from answer_targets(
        source, request.target_ids, request.atlas_id, answer_all,
        lambda atlas_id: sync.image_to_atlas_batch(seed_image.id, [seed_hit.x], [seed_hit.y],
                                                   atlas_id),
        lambda key, kind, ds_id, batch: _hit(key, kind, catalog, batch, ds_id,
                                             request.atlas_id if kind == "atlas" else None),
        problems,
    )
    timings["synchronize"] = (time.perf_counter() - t0) * 1e3
    # the reference point of the seed marker (on the seed's plane)
    ref = sync.image_to_reference_batch(seed_image.id, [seed_hit.x], [seed_hit.y])
    rspace = ref.reference_space_id
    origin = (float(ref.x[0]), float(ref.y[0]), float(ref.z[0]))
    if np.all(np.isfinite(point)) and request.structure_id is None:
        m = sync.reference_transform(space, rspace)
        origin = tuple(float(v) for v in m[:, :3] @ np.asarray(point) + m[:, 3])
    elif structure is not None and np.all(np.isfinite(point)) and space == rspace:
        origin = tuple(float(v) for v in point)
    pir, voxel = _ccf(sync, rspace, *origin)
    sreq = SyncRequest(request.generation, seed_image.id, seed_hit.x, seed_hit.y,
                       tuple(request.target_ids), request.atlas_id, shown,
                       atlas_view=request.atlas_view)
    missing = yield from _finish(source, sreq, seed_image, hits, timings, t0, origin, rspace)
    outcome = SyncOutcome(sreq, rspace, origin, pir, voxel, hits[0].structure, hits,
                          problems, timings, missing)
    return Navigation(request, loaded, outcome, what)


def reference_point_um(units: str, space: int, values) -> tuple:
    """A typed point → µm in its reference space (voxels are 25 µm CCF voxels, the
    point at the voxel's corner, as :func:`_ccf` floors)."""
    v = [float(a) for a in values]
    if units == UNITS_VOXEL:
        v = [a * CCF_VOXEL_UM for a in v]
    return (int(space), *v)


#: Parallel planes map seed pixels to target pixels with a near-similarity of scale
#: (seed µm per pixel) / (target µm per pixel). When a singular value of the map departs
#: from that by more than this factor, the planes cross (coronal seed, sagittal target)
#: and the map is not used to register the section.
MIN_SCALE_RATIO = 0.5


def placement(sync, seed_image: SectionImage, hit: TargetHit, seed_point):
    """Where a target's layers go in the seed's world, as a napari 3 × 3 affine.

    For one fixed target section, the synchronization seed pixel → target pixel is
    exactly affine (reference space → target volume → the section's TVS, the depth
    dropped: ``image_to_image_2d``). When the two planes are parallel (coronal seed,
    coronal target or atlas) its inverse registers the whole target section onto the
    seed: every marker then lies exactly under the click, and the transform changes
    only when the target's section does. When the planes cross, the map is degenerate:
    the target is scaled to the seed's µm per pixel and shifted so that its marker lies
    under the click.

    Parameters
    ----------
    sync : Synchronizer
    seed_image : SectionImage
    hit : TargetHit
    seed_point : (row, col)
        The click on the seed (sync pixels).

    Returns
    -------
    affine : numpy.ndarray
        3 × 3, (row, col, 1) target data → (row, col, 1) world.
    registered : bool
        Whether the affine registration was used.
    """
    probe = np.array([[0.0, 0.0], [1000.0, 0.0], [0.0, 1000.0]])
    try:
        (b,) = sync.image_to_image_2d_batch(seed_image.id, probe[:, 0], probe[:, 1],
                                            [hit.section_image_id])
        t0 = np.array([b.x[0], b.y[0]])
        lin = np.column_stack([np.array([b.x[1], b.y[1]]) - t0,
                               np.array([b.x[2], b.y[2]]) - t0])
        lin /= 1000.0  # target (x, y) = lin · seed (x, y) + t0
        singular = np.linalg.svd(lin, compute_uv=False)
    except AllenSyncError:
        singular = np.zeros(2)
    expected = float(seed_image.resolution or 1.0) / float(hit.image.resolution or 1.0)
    if singular.min() > MIN_SCALE_RATIO * expected and singular.max() < expected / MIN_SCALE_RATIO:
        inv = np.linalg.inv(lin)  # seed (x, y) = inv · (target (x, y) − t0)
        off = -inv @ t0
        # swap to napari's (row, col) = (y, x)
        return np.array([
            [inv[1, 1], inv[1, 0], off[1]],
            [inv[0, 1], inv[0, 0], off[0]],
            [0.0, 0.0, 1.0],
        ]), True
    s = float(hit.image.resolution or 1.0) / float(seed_image.resolution or 1.0)
    y0, x0 = seed_point
    return np.array([
        [s, 0.0, y0 - s * hit.y],
        [0.0, s, x0 - s * hit.x],
        [0.0, 0.0, 1.0],
    ]), False


def steps(request: SyncRequest) -> int:
    """How many steps :func:`synchronize_click` yields for a request."""
    return 3 + len(request.target_ids) + (1 if request.atlas_id else 0)


# ====================================================================== overlays
@dataclass
class OverlayImage:
    """A target's section with its overlay drawn in, ready to replace its image."""

    key: str  # the target's layer key, "ds:<id>"
    image: SectionImage
    kind: str  # "expression" or "projection"
    levels: list  # the composite pyramid (napari_allen_sync.overlay_images)


def load_overlay(source, key: str, image: SectionImage, kind: str, view=None,
                 world_from_data=None):
    """A section composited with its expression mask (in-situ) or projection mask
    (connectivity): its pyramid (:func:`napari_allen_sync.overlay_images.overlay_tiles`,
    one per section, cached), the coarsest tier and, with a ``view``, the chunks drawn
    in it, composited now (a worker generator). Returns an :class:`OverlayImage`.

    Parameters
    ----------
    source : AtlasSource
    key : str
        The target's layer key.
    image : SectionImage
    kind : str
        ``"expression"`` or ``"projection"``.
    view : tuple, optional
        As :attr:`SyncRequest.view`: the panels' camera.
    world_from_data : numpy.ndarray, optional
        The 3 × 3 placement of the target's image (needed with ``view``).

    Raises
    ------
    InvalidParameterError
        When ``kind`` is not an overlay or the source offers no such view.
    """
    from ..overlay_images import overlay_tiles

    tiles = overlay_tiles(source.tiles, kind)
    yield f"{kind} overlay of SectionImage {image.id}"
    levels = tiles.pyramid(image)
    _warm(image, tiles, levels)
    if view is not None and world_from_data is not None:
        yield f"{kind} overlay of SectionImage {image.id}: the tiles in view"
        try:
            warm_view(image, tiles, levels, world_from_data, view)
        except AllenSyncError:
            raise
        except Exception:  # a tile error surfaces later, where napari draws
            log.debug("warming the %s overlay of %s failed", kind, image.id, exc_info=True)
    return OverlayImage(str(key), image, kind, levels)


# ====================================================================== search
def find_experiments(source, text: str, product: str | None = None,
                     plane: str | None = None):
    """Find experiments as the dock's search field is typed (a worker generator).

    ``text`` is read by :func:`napari_allen_sync.search.find_arguments` (a gene acronym
    or name, case-insensitive, with plane and product words: ``"calb1 coronal"``;
    ``"injection:MOp"`` for connectivity experiments injected there); ``product`` and
    ``plane`` (the dock's choices, None for any) override its words.

    Returns
    -------
    SearchResult
        Empty, with a message, when nothing matches (an unknown gene included).

    Raises
    ------
    InvalidIdListError
        When the text and choices name nothing to search for (no gene, injection
        structure, plane nor product). A plane or product alone lists its data sets.
    AllenSyncError
        As :meth:`napari_allen_sync.search.ExperimentSearch.find` (a service error).
    """
    from ..search import ExperimentSearch, find_arguments

    args = find_arguments(text)
    if product:
        args["product"] = product
    if plane:
        args["plane"] = plane
    what = ", ".join(f"{k} {v}" for k, v in args.items()) or "nothing"
    yield "finding " + what
    return ExperimentSearch.for_source(source).find(**args)
