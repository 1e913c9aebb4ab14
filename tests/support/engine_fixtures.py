"""The engine tests' synthetic catalog: random, well-conditioned affines whose stored
inverses (tvs, trv) are exact, so round trips must close to 1e-6 px (built by
:mod:`synthetic`, the one catalog builder)."""

from __future__ import annotations

import numpy as np

from napari_allen_sync.records import Atlas, AtlasImage, SectionImage, Structure, StructureCenter
from synthetic import Section, catalog, data_set, random_tsv, random_tvr


def make_data_set(
    rng,
    ds_id,
    *,
    space=9,
    plane=1,
    thickness=25.0,
    numbers=None,
    image_cls=SectionImage,
    annotated=False,
    permute=False,
    first_image_id=None,
):
    """A data set with random affines and images at ``numbers`` (default: 70 sections,
    8 apart), through :func:`synthetic.data_set`."""
    if numbers is None:
        numbers = 4 + 8 * np.arange(70)
    tvr, _ = random_tvr(rng, permute)
    sections = []
    for n in numbers:
        tsv, _ = random_tsv(rng, rng.uniform(1.0, 1.6))
        sections.append(Section(n, tsv, {
            "width": 9000, "height": 6000, "image_width": 9400, "image_height": 6400,
            "x": 200, "y": 200, "resolution": float(np.hypot(*tsv[0, :2])), "tier_count": 6,
            "annotated": annotated,
        }))
    return data_set(ds_id, tvr, sections, space=space, plane=plane, thickness=thickness,
                    image_cls=image_cls, first_image_id=first_image_id)


def synthetic_catalog(seed=0):
    """Four data sets (two coronal space 9, one sagittal space 10, one 100 µm) and an atlas."""
    rng = np.random.default_rng(seed)
    data_sets = [
        make_data_set(rng, ds_id, **kw)
        for ds_id, kw in [
            (101, {}),
            (102, {"permute": True}),
            (103, {"space": 10, "plane": 2, "numbers": 2 + 8 * np.arange(20)}),
            (104, {"thickness": 100.0, "numbers": np.arange(1, 140)}),
        ]
    ]
    data_sets.append(make_data_set(
        rng, 9001, thickness=100.0, numbers=np.arange(1, 133), image_cls=AtlasImage, annotated=True
    ))
    atlas = Atlas(id=1, name="Test P56 coronal", reference_space_id=9, structure_graph_id=1,
                  data_set_ids=(9001,))
    return catalog(data_sets, atlas=atlas, records=[
        Structure(id=997, acronym="root", name="root", structure_id_path=(997,)),
        Structure(
            id=315,
            acronym="Isocortex",
            name="Isocortex",
            parent_structure_id=997,
            structure_id_path=(997, 315),
            color_hex_triplet="70FF71",
        ),
        StructureCenter(structure_id=315, reference_space_id=9, x=5000, y=2000, z=8000),
        StructureCenter(structure_id=315, reference_space_id=10, x=5000, y=2000, z=3400),
        StructureCenter(structure_id=997, reference_space_id=9, x=6600, y=4000, z=5700),
        StructureCenter(structure_id=997, reference_space_id=10, x=6600, y=4000, z=5700),
    ])
