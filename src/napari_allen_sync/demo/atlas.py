"""The demo reference atlas, modelled on Allen's atlas 1 "Mouse, P56, Coronal".

Allen's atlas 1 shows 132 annotated Nissl plates 100 µm apart (atlas data set
100048576); each AtlasImage is the Nissl section and its annotation drawing is laid
over it on request (``image_download?annotation=true&atlas=1``). The demo does the same:
132 :class:`~napari_allen_sync.records.AtlasImage` plates (``annotated: true``,
section numbers 1 … 132 = plate numbers, plate *n* at 100·n − 50 µm from the front of
space 9), rendered by :class:`~napari_allen_sync.demo.render.DemoTiles` with the
annotation (structure colours and outlines, as the atlas viewer shows them) by default,
or as the plain Nissl plate with ``DemoTiles(catalog, annotation=False)``.

Plates are cut and mounted straight: the TVR is an axis permutation (P, I, R) = (vz, vy,
vx) with unit scales and no rotation, and plates have no in-plane rotation.
"""

from __future__ import annotations

from ..records import Atlas, AtlasImage
from .experiments import CORONAL_FROM_ANTERIOR, VOLUME_CENTER, ExperimentSpec, experiment_records

__all__ = ["ATLAS_SPEC", "DEMO_ATLAS_DATA_SET_ID", "DEMO_ATLAS_ID", "PLATE_COUNT", "atlas_records"]

DEMO_ATLAS_ID = 1
DEMO_ATLAS_DATA_SET_ID = 900148576
PLATE_COUNT = 132
PLATE_SPACING_UM = 100.0

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
