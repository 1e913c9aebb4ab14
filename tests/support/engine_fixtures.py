"""Small synthetic catalogs for engine tests: well-conditioned affines whose stored
inverses (tvs, trv) are exact, so round trips must close to 1e-6 px."""

from __future__ import annotations

import numpy as np

from napari_allen_sync.catalog import Catalog
from napari_allen_sync.records import (
    Alignment2d,
    Alignment3d,
    Atlas,
    AtlasImage,
    SectionDataSet,
    SectionImage,
    Structure,
    StructureCenter,
)


def inverse(m):
    """The inverse of an affine given as its top rows (2 × 3 or 3 × 4)."""
    rows = m.shape[0]
    full = np.vstack([m, np.eye(rows + 1)[-1]])
    return np.linalg.inv(full)[:rows]


def rotation(rng, max_deg):
    a, b, c = np.deg2rad(rng.uniform(-max_deg, max_deg, 3))
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rx @ ry @ rz


def random_tvr(rng, permute=False):
    lin = rotation(rng, 6) @ np.diag(rng.uniform(0.9, 1.1, 3))
    if permute:
        lin = lin[[2, 1, 0]]
    t = rng.uniform(-2000, 2000, 3)
    tvr = np.column_stack([lin, t])
    full = np.vstack([tvr, [0, 0, 0, 1]])
    return tvr, np.linalg.inv(full)[:3]


def random_tsv(rng, resolution):
    a = np.deg2rad(rng.uniform(-3, 3))
    lin = resolution * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    tsv = np.column_stack([lin, rng.uniform(-500, 3000, 2)])
    full = np.vstack([tsv, [0, 0, 1]])
    return tsv, np.linalg.inv(full)[:2]


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
    """A data set with images at ``numbers`` (default: 70 sections, 8 apart)."""
    if numbers is None:
        numbers = 4 + 8 * np.arange(70)
    tvr, trv = random_tvr(rng, permute)
    ds = SectionDataSet(
        id=ds_id,
        plane_of_section_id=plane,
        section_thickness=thickness,
        reference_space_id=space,
        alignment3d=Alignment3d.from_matrices(tvr, trv, aligned_id=ds_id),
    )
    images = []
    base = first_image_id if first_image_id is not None else ds_id * 1000
    for k, n in enumerate(numbers):
        tsv, tvs = random_tsv(rng, rng.uniform(1.0, 1.6))
        images.append(
            image_cls(
                id=base + k,
                data_set_id=ds_id,
                section_number=int(n),
                width=9000,
                height=6000,
                image_width=9400,
                image_height=6400,
                x=200,
                y=200,
                resolution=float(np.hypot(*tsv[0, :2])),
                tier_count=6,
                annotated=annotated,
                alignment2d=Alignment2d.from_matrices(tsv, tvs, section_image_id=base + k),
            )
        )
    return ds, images


def synthetic_catalog(seed=0):
    """Four data sets (two coronal space 9, one sagittal space 10, one 100 µm) and an atlas."""
    rng = np.random.default_rng(seed)
    records = []
    for ds_id, kw in [
        (101, {}),
        (102, {"permute": True}),
        (103, {"space": 10, "plane": 2, "numbers": 2 + 8 * np.arange(20)}),
        (104, {"thickness": 100.0, "numbers": np.arange(1, 140)}),
    ]:
        ds, ims = make_data_set(rng, ds_id, **kw)
        records += [ds, *ims]
    atlas_ds, plates = make_data_set(
        rng, 9001, thickness=100.0, numbers=np.arange(1, 133), image_cls=AtlasImage, annotated=True
    )
    records += [
        atlas_ds,
        *plates,
        Atlas(
            id=1,
            name="Test P56 coronal",
            reference_space_id=9,
            structure_graph_id=1,
            data_set_ids=(9001,),
        ),
    ]
    records += [
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
    ]
    return Catalog(records)
