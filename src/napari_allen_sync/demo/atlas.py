"""The demo reference atlases, modelled on Allen's atlas 1 "Mouse, P56, Coronal" and
atlas 2 "Mouse, P56, Sagittal".

Allen's atlas 1 shows 132 annotated Nissl plates 100 µm apart (atlas data set
100048576); each AtlasImage is the Nissl section and its annotation drawing is laid
over it on request (``image_download?annotation=true&atlas=1``). The demo does the same:
132 :class:`~napari_allen_sync.records.AtlasImage` plates (``annotated: true``,
section numbers 1 … 132 = plate numbers, plate *n* at 100·n − 50 µm from the front of
space 9), rendered by :class:`~napari_allen_sync.demo.render.DemoTiles` with the
annotation (structure colours and outlines, as the atlas viewer shows them) by default,
or as the plain Nissl plate with ``DemoTiles(catalog, annotation=False)``.

Atlas 2 (:data:`SAGITTAL_ATLAS_ID`) is the sagittal counterpart, as Allen's (atlas data
set 100042147): 21 annotated plates 200 µm apart in reference space 10 (PIL), from the
lateral edge of one hemisphere (plate 1 at r10 = 1750 µm) to just past the midline
(plate 21 at r10 = 5750 µm; the midline is at r10 = 11350 − 5700 = 5650 µm). The
engine's 9 ↔ 10 mirror puts them onto the right hemisphere of space 9, as Allen's.

Plates are cut and mounted straight: the TVR is an axis permutation (P, I, R) = (vz, vy,
vx) with unit scales and no rotation, and plates have no in-plane rotation.
"""

from __future__ import annotations

from ..records import Atlas, AtlasImage
from .experiments import (
    CORONAL_FROM_ANTERIOR,
    SAGITTAL,
    VOLUME_CENTER,
    ExperimentSpec,
    experiment_records,
)

__all__ = [
    "ATLAS_SPEC",
    "DEMO_ATLAS_DATA_SET_ID",
    "DEMO_ATLAS_ID",
    "PLATE_COUNT",
    "SAGITTAL_ATLAS_DATA_SET_ID",
    "SAGITTAL_ATLAS_ID",
    "SAGITTAL_ATLAS_SPEC",
    "SAGITTAL_PLATE_COUNT",
    "atlas_records",
    "sagittal_atlas_records",
]

DEMO_ATLAS_ID = 1
DEMO_ATLAS_DATA_SET_ID = 900148576
PLATE_COUNT = 132
PLATE_SPACING_UM = 100.0
SAGITTAL_ATLAS_ID = 2
SAGITTAL_ATLAS_DATA_SET_ID = 900142147
SAGITTAL_PLATE_COUNT = 21
SAGITTAL_PLATE_SPACING_UM = 200.0
#: r10 of plate n is this + 200 n (µm).
SAGITTAL_FIRST_R10_UM = 1550.0

ATLAS_SPEC = ExperimentSpec(
    id=DEMO_ATLAS_DATA_SET_ID,
    name="Demo Mouse, P56, Coronal: Nissl plates",
    gene=None,
    stain="nissl",
    plane_of_section_id=1,
    reference_space_id=9,
    section_thickness=PLATE_SPACING_UM,
    section_step=1,
    first_section=1,
    resolution=1.10,
    axes=CORONAL_FROM_ANTERIOR,
    scales=(1.0, 1.0, 1.0),
    angles=(0.0, 0.0, 0.0),
    seed=76,
    product="Reference Atlas",
    equalization=(0, 4095, 0, 4095, 0, 4095),
    sections=tuple(range(1, PLATE_COUNT + 1)),
    # p = vz − 50 (plate n at 100 n − 50), i = vy − 1700, r = vx − 1600.
    translation=(-50.0, 3900.0 - VOLUME_CENTER[1], 5700.0 - VOLUME_CENTER[0]),
    jitter=False,
)


def atlas_records():
    """The Atlas, its data set, its 132 annotated plates and the data set's Equalization."""
    ds, plates, equalization = experiment_records(ATLAS_SPEC, kind=AtlasImage, annotated=True)
    atlas = Atlas(
        id=DEMO_ATLAS_ID,
        name="Demo Mouse, P56, Coronal",
        reference_space_id=9,
        structure_graph_id=1,
        data_set_ids=(DEMO_ATLAS_DATA_SET_ID,),
        extra={"description": "Synthetic coronal reference atlas of the embedded demo."},
    )
    return atlas, ds, plates, equalization


SAGITTAL_ATLAS_SPEC = ExperimentSpec(
    id=SAGITTAL_ATLAS_DATA_SET_ID,
    name="Demo Mouse, P56, Sagittal: Nissl plates",
    gene=None,
    stain="nissl",
    plane_of_section_id=2,
    reference_space_id=10,
    section_thickness=SAGITTAL_PLATE_SPACING_UM,
    section_step=1,
    first_section=1,
    resolution=1.10,
    axes=SAGITTAL,
    scales=(1.0, 1.0, 1.0),
    angles=(0.0, 0.0, 0.0),
    seed=77,
    product="Reference Atlas",
    equalization=(0, 4095, 0, 4095, 0, 4095),
    sections=tuple(range(1, SAGITTAL_PLATE_COUNT + 1)),
    # p = vx − 700, i = vy − 1700, r10 = vz + 1550 (plate n at 1550 + 200 n).
    translation=(6600.0 - VOLUME_CENTER[0], 3900.0 - VOLUME_CENTER[1], SAGITTAL_FIRST_R10_UM),
    jitter=False,
)


def sagittal_atlas_records():
    """Atlas 2, its data set, its 21 annotated sagittal plates and their Equalization."""
    ds, plates, equalization = experiment_records(SAGITTAL_ATLAS_SPEC, kind=AtlasImage,
                                                  annotated=True)
    atlas = Atlas(
        id=SAGITTAL_ATLAS_ID,
        name="Demo Mouse, P56, Sagittal",
        reference_space_id=10,
        structure_graph_id=1,
        data_set_ids=(SAGITTAL_ATLAS_DATA_SET_ID,),
        extra={"description": "Synthetic sagittal reference atlas of the embedded demo."},
    )
    return atlas, ds, plates, equalization
