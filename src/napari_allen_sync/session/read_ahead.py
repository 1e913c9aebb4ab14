"""Read ahead: the target sections a click on the seed can reach, prepared before it.

Once the panels are laid out, a click on the seed usually moves some targets to other
sections (a sagittal target to another of its twenty-odd sections, a coronal one a
section up or down), and their images must then be read (downloaded, or rendered by
the demo atlas) while the user waits. :func:`reachable` finds those sections by
synchronizing a grid of seed points (:data:`GRID`, one batch call per target: a few
milliseconds) and ranks them by how many of the grid's points reach each one;
:func:`read_ahead` prepares them in that order, as a live frame's images are
prepared (:func:`~napari_allen_sync.session.workflow.load_images`: pyramid, coarsest
tier, the tiles the panels' view draws), into the shared tile cache. A click then
finds them there.

It is a worker generator that yields once per image, so a click, a new seed or new
targets stop it at once (the dock quits it). How many images it reads is the
source's ``READ_AHEAD_IMAGES`` (the demo atlas renders its own tiles: every reachable
section), else :data:`DEFAULT_IMAGES` (a remote source: the most likely sections only,
a few requests each, through the persistent cache).

Imports neither napari nor Qt.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..errors import AllenSyncError
from .workflow import _each_answer, _hit, load_images, placement

__all__ = ["DEFAULT_IMAGES", "GRID", "WHOLE_SECTION_PX", "ReadAheadRequest", "budget",
           "grid_points", "reachable", "read_ahead"]

#: Seed points probed: columns × rows, at the centres of a regular grid over the image.
GRID = (24, 16)
#: Images read ahead for a source that does not say (``READ_AHEAD_IMAGES``).
DEFAULT_IMAGES = 12
#: Screen pixels of the region read around the view's centre: more than any section
#: spans at the view's tier, so the whole section is read (:func:`~.tiles.warm_view`
#: clips the region to the image).
WHOLE_SECTION_PX = 1e7


@dataclass
class ReadAheadRequest:
    """What to read ahead: the seed image, the targets and what the panels show."""

    generation: int
    section_image_id: int
    target_ids: tuple = ()
    atlas_id: int | None = None
    #: Section image ids the panels show now, by target key (nothing to read for them).
    shown: dict = field(default_factory=dict)
    #: The panels' view, as :attr:`SyncRequest.view
    #: <napari_allen_sync.session.workflow.SyncRequest.view>`; None: no view tiles.
    view: tuple | None = None
    atlas_view: str = "annotation"
    #: Most images to read; None: :func:`budget` of the source.
    limit: int | None = None


def budget(source) -> int:
    """How many images to read ahead for ``source`` (``READ_AHEAD_IMAGES`` or
    :data:`DEFAULT_IMAGES`)."""
    return max(0, int(getattr(source, "READ_AHEAD_IMAGES", DEFAULT_IMAGES)))


def grid_points(image, grid=GRID) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: the centres of a ``columns × rows`` grid over a section image (sync
    pixels)."""
    cols, rows = int(grid[0]), int(grid[1])
    xs = (np.arange(cols) + 0.5) / cols * float(image.width or 1)
    ys = (np.arange(rows) + 0.5) / rows * float(image.height or 1)
    x, y = np.meshgrid(xs, ys)
    return x.ravel(), y.ravel()


def reachable(source, request: ReadAheadRequest, grid=GRID) -> list:
    """The target sections a click on the seed can reach, most likely first.

    Every point of the grid is synchronized to every target (one batch per target
    data set, and the atlas); each target's sections are ranked by how many points
    reach them, the sections shown now left out; the targets take turns, rank by rank
    (each target's most likely section, then each one's second, ...). A target that
    cannot be answered is left out (the click will say why).

    Returns
    -------
    list of (key, SectionImage, affine)
        ``affine``: the 3 × 3 placement the section is drawn with for the first grid
        point that reaches it (:func:`~napari_allen_sync.session.workflow.placement`).
    """
    sync, catalog = source.synchronizer, source.catalog
    seed_image = sync.seed(int(request.section_image_id))[0]
    xs, ys = grid_points(seed_image, grid)
    answers = []  # (key, kind, data set id, batch)
    ds_ids = [int(d) for d in request.target_ids]
    batches = _each_answer(ds_ids, lambda ids: sync.image_to_image_batch(
        seed_image.id, xs, ys, ids))
    answers += [(f"ds:{d}", "data set", d, b) for d, b in zip(ds_ids, batches, strict=True)]
    if request.atlas_id is not None:
        try:
            batch = sync.image_to_atlas_batch(seed_image.id, xs, ys, int(request.atlas_id))
            ds = catalog.atlas_data_set(int(request.atlas_id)).id
            answers.append((f"atlas:{int(request.atlas_id)}", "atlas", ds, batch))
        except AllenSyncError:
            pass
    ranked = []
    for key, kind, ds_id, batch in answers:
        if isinstance(batch, Exception):
            continue
        ids = np.asarray(batch.section_image_id)
        counts = Counter(int(i) for i in ids)
        order = sorted(counts, key=lambda i: (-counts[i], i))
        items = []
        for image_id in order:
            if request.shown.get(key) == image_id:
                continue
            k = int(np.flatnonzero(ids == image_id)[0])
            try:
                hit = _hit(key, kind, catalog, batch.take([k]), ds_id,
                           request.atlas_id if kind == "atlas" else None)
                affine, _ = placement(sync, seed_image, hit, (float(ys[k]), float(xs[k])))
            except AllenSyncError:
                continue
            items.append((key, hit.image, affine))
        ranked.append(items)
    out = []
    for rank in range(max((len(items) for items in ranked), default=0)):
        out += [items[rank] for items in ranked if rank < len(items)]
    return out


def read_ahead(source, request: ReadAheadRequest):
    """Prepare the sections :func:`reachable` finds, most likely first, at most
    ``request.limit`` (default :func:`budget`) of them (a worker generator: one step per
    image; a tile that fails is left for the click to report).

    Returns
    -------
    list of (key, SectionImage, levels)
        The images prepared.
    """
    limit = budget(source) if request.limit is None else max(0, int(request.limit))
    items = reachable(source, request)[:limit]
    yield f"reading ahead {len(items)} sections"
    view = request.view
    if view is not None:
        # the whole section at the tier the view draws it at: a click places a target
        # cut in another plane where its marker meets the click, not where the grid
        # point that found its section did, so any of its chunks may come into view
        view = (*view[:3], (WHOLE_SECTION_PX, WHOLE_SECTION_PX))
    out = []
    for item in items:
        try:
            loaded = yield from load_images(source, (item,), view, request.atlas_view)
        except AllenSyncError:
            continue  # not readable now: the click that needs it says why
        out += loaded
    return out
