"""The demo catalog: every record of the embedded demo atlas, built once.

Building it needs no pixels and no phantom volume (the StructureCenters are stored,
:mod:`.centers`), so the first call takes a few milliseconds and later calls return
the same :class:`~napari_allen_sync.catalog.Catalog`.
"""

from __future__ import annotations

import threading
from functools import cache

import numpy as np

from ..catalog import Catalog
from .atlas import DEMO_ATLAS_ID, atlas_records, sagittal_atlas_records
from .centers import STRUCTURE_CENTERS_9, demo_structure_centers
from .experiments import EXPERIMENTS, experiment_records
from .ontology import demo_structures

__all__ = [
    "DEMO_ATLAS_ID",
    "DEMO_DATA_SET_IDS",
    "DEMO_SEED_DATA_SET_ID",
    "DEMO_TARGET_DATA_SET_IDS",
    "build_demo_catalog",
    "demo_catalog",
    "demo_click",
]

#: The coronal *Penk* in-situ set: the data set the demo opens first.
DEMO_SEED_DATA_SET_ID = EXPERIMENTS[0].id
#: The other demo experiments: coronal *Calb1*, sagittal *Gad1*, connectivity.
DEMO_TARGET_DATA_SET_IDS: tuple[int, ...] = tuple(s.id for s in EXPERIMENTS[1:])
#: Every demo experiment (not the atlas's data set).
DEMO_DATA_SET_IDS: tuple[int, ...] = tuple(s.id for s in EXPERIMENTS)
#: The structure the demo click points at (Hippocampal formation).
DEMO_CLICK_STRUCTURE_ID = 1089

_lock = threading.Lock()


def build_demo_catalog() -> Catalog:
    """A new catalog with every demo record (see :func:`demo_catalog` for the shared one)."""
    records: list = []
    for spec in EXPERIMENTS:
        ds, images, equalization = experiment_records(spec)
        records += [ds, *images, equalization]
    atlas, atlas_ds, plates, atlas_eq = atlas_records()
    records += [atlas, atlas_ds, *plates, atlas_eq]
    atlas, atlas_ds, plates, atlas_eq = sagittal_atlas_records()
    records += [atlas, atlas_ds, *plates, atlas_eq]
    records += list(demo_structures())
    records += demo_structure_centers()
    return Catalog(records)


@cache
def _shared() -> Catalog:
    with _lock:
        return build_demo_catalog()


def demo_catalog() -> Catalog:
    """The demo catalog (built on the first call, then shared).

    It holds the four demo SectionDataSets with ``alignment3d`` and their images with
    ``alignment2d``, atlas 1 with its data set and 132 annotated AtlasImages, atlas 2 (sagittal)
    with 21, the
    ontology, StructureCenters in reference spaces 9 and 10, and Equalizations.

    Callers that add records should use :func:`build_demo_catalog` for a private copy.

    Examples
    --------
    >>> catalog = demo_catalog()
    >>> catalog.atlas(1).name
    'Demo Mouse, P56, Coronal'
    """
    return _shared()


@cache
def demo_click() -> tuple[int, int, int]:
    """A demo click: ``(section_image_id, x, y)`` on the seed data set, in the right
    hippocampus (the seed image nearest the structure's centre, the centre's pixel)."""
    from ..synchronizer import Synchronizer

    sync = Synchronizer(demo_catalog())
    x, y, z = STRUCTURE_CENTERS_9[DEMO_CLICK_STRUCTURE_ID]
    hit = sync.reference_to_image_batch(9, [x], [y], [z], [DEMO_SEED_DATA_SET_ID])[0]
    return int(hit.section_image_id[0]), int(np.rint(hit.x[0])), int(np.rint(hit.y[0]))


def demo_seed_image_id() -> int:
    """The seed image of the demo: the Penk section through the demo click."""
    return demo_click()[0]
