"""Shared helpers of the HTTP tests: a synthetic Allen catalog, a pixel source, servers.

Import explicitly (``from _http_fixtures import ...``); nothing here is a pytest fixture
(the loopback server fixtures are in ``loopback.py``, registered by the conftest.py of
tests/http, tests/cli and tests/napari).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from napari_allen_sync.catalog import Catalog
from napari_allen_sync.records import (
    Alignment2d,
    Alignment3d,
    Atlas,
    AtlasImage,
    Equalization,
    ReferenceToReferenceTransform,
    SectionDataSet,
    SectionImage,
    Structure,
    StructureCenter,
)
from synthetic import Section, catalog, data_set, inverse, rotation

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

#: Ids of the synthetic catalog.
CORONAL = (1001, 1002, 1003)
SAGITTAL = 1004
ALL_FAILED = 1005
NO_ALIGNMENT = 1006
DATA_SETS = (*CORONAL, SAGITTAL)
ATLAS_ID = 1
ATLAS_DATA_SET = 9001
STRUCTURES = (997, 315, 698, 1089)


def _data_set(rng, ds_id, *, space=9, plane=1, thickness=25.0, numbers, image_cls=SectionImage,
              annotated=lambda k: False, failed=lambda k: False, aligned=True):
    """Random affines and crops drawn from ``rng``, built by :func:`synthetic.data_set`
    (``aligned=False``: the data set without its alignment, the draws unchanged)."""
    lin = rotation(rng, 5) @ np.diag(rng.uniform(0.92, 1.08, 3))
    tvr = np.column_stack([lin, rng.uniform(-1500, 1500, 3)])
    sections = []
    for k, n in enumerate(numbers):
        res = rng.uniform(1.0, 1.6)
        a = np.deg2rad(rng.uniform(-3, 3))
        tsv = np.column_stack([res * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]),
                               rng.uniform(-300, 2000, 2)])
        bad = failed(k)
        sections.append(Section(n, None if bad else tsv, {
            "x": int(rng.integers(0, 400)), "y": int(rng.integers(0, 400)),
            "width": int(rng.integers(3000, 6000)), "height": int(rng.integers(2500, 4500)),
            "image_width": 7000, "image_height": 5500, "resolution": float(res),
            "tier_count": 5, "annotated": annotated(k), "failed": bad,
        }, alignment_id=ds_id * 1000 + k + 700000))
    return data_set(ds_id, tvr if aligned else None, sections, space=space, plane=plane,
                    thickness=thickness, image_cls=image_cls, alignment_id=ds_id + 500000)


def synthetic_catalog(seed: int = 7) -> Catalog:
    """Three coronal data sets (space 9), one sagittal (space 10), one whose images all
    failed, an atlas (annotated and plain plates), a small ontology with centres in
    both spaces, a transform and equalizations."""
    rng = np.random.default_rng(seed)
    data_sets = [_data_set(rng, ds_id, numbers=3 + 8 * np.arange(40)) for ds_id in CORONAL]
    data_sets += [
        _data_set(rng, SAGITTAL, space=10, plane=2, numbers=5 + 8 * np.arange(18)),
        _data_set(rng, ALL_FAILED, numbers=[10, 20], failed=lambda k: True),
        _data_set(rng, NO_ALIGNMENT, numbers=[10, 18, 26], aligned=False),
        _data_set(rng, ATLAS_DATA_SET, thickness=100.0, numbers=np.arange(1, 133),
                  image_cls=AtlasImage, annotated=lambda k: k % 4 != 1),
    ]
    atlas = Atlas(id=ATLAS_ID, name="Mouse, P56, Coronal (synthetic)", reference_space_id=9,
                  structure_graph_id=1, data_set_ids=(ATLAS_DATA_SET,))
    records = []
    records += [
        Structure(id=997, acronym="root", name="root", structure_id_path=(997,),
                  color_hex_triplet="FFFFFF"),
        Structure(id=315, acronym="Isocortex", name="Isocortex", parent_structure_id=997,
                  structure_id_path=(997, 315), color_hex_triplet="70FF71"),
        Structure(id=698, acronym="OLF", name="Olfactory areas", parent_structure_id=997,
                  structure_id_path=(997, 698), color_hex_triplet="9AD2BD"),
        Structure(id=1089, acronym="HPF", name="Hippocampal formation", parent_structure_id=997,
                  structure_id_path=(997, 1089), color_hex_triplet="7ED04B"),
    ]
    for sid, (p, i, r) in {997: (6600, 4000, 5700), 315: (5200, 2100, 8100),
                           698: (2200, 4300, 6000), 1089: (7300, 2600, 8200)}.items():
        records.append(StructureCenter(structure_id=sid, reference_space_id=9, x=p, y=i, z=r))
        records.append(StructureCenter(structure_id=sid, reference_space_id=10, x=p, y=i,
                                       z=11400 - r))
    records.append(ReferenceToReferenceTransform(
        from_reference_space_id=9, to_reference_space_id=10,
        t=(1, 0, 0, 0, 1, 0, 0, 0, -1, 0, 0, 11350), id=77))
    for ds_id in DATA_SETS:
        records.append(Equalization(section_data_set_id=ds_id, red_lower=10, red_upper=3000,
                                    green_lower=12, green_upper=3100, blue_lower=9,
                                    blue_upper=2900, id=ds_id + 90000))
    return catalog(data_sets, atlas=atlas, records=records)


def catalog_folder(folder, seed: int = 7) -> Path:
    """The synthetic catalog written as Allen RMA answers into ``folder``."""
    folder = Path(folder)
    synthetic_catalog(seed).to_folder(folder)
    return folder


class PatternTiles:
    """A TileSource drawing a smooth, position-coded pattern (JPEG-friendly).

    Sync pixel (X, Y) inside the crop is (X/32 mod 256, Y/32 mod 256, 128); outside white.
    A tier-``d`` pixel samples its top-left full-resolution pixel.
    """

    def __init__(self):
        self.calls = 0

    def read_region(self, image, downsample, left, top, width, height):
        self.calls += 1
        f = 2**downsample
        xs = left + f * np.arange(width)
        ys = top + f * np.arange(height)
        X, Y = np.meshgrid(xs, ys)
        out = np.empty((height, width, 3), dtype=np.uint8)
        out[..., 0] = (X // 32) % 256
        out[..., 1] = (Y // 32) % 256
        out[..., 2] = 128
        outside = (X < 0) | (Y < 0) | (X >= image.width) | (Y >= image.height)
        out[outside] = 255
        return out


def random_points(rng, catalog, n, data_set_ids=CORONAL):
    """``n`` (image id, x, y) seeds on usable images of the given data sets."""
    images = [im for d in data_set_ids for im in catalog.images_of(d) if not im.failed]
    out = []
    for _ in range(n):
        im = images[int(rng.integers(len(images)))]
        out.append((im.id, float(rng.uniform(0, im.width)), float(rng.uniform(0, im.height))))
    return out


@contextlib.contextmanager
def server_process(catalog_dir=None, *, extra_args=(), timeout=30.0):
    """``napari-allen-sync serve --catalog DIR`` (``--demo`` without a folder) in a child
    process; yields its base URL."""
    from napari_allen_sync.server import serve_in_process

    what = ["--demo"] if catalog_dir is None else ["--catalog", str(catalog_dir)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with serve_in_process([*what, *extra_args], timeout=timeout, stderr=subprocess.PIPE,
                          env=env) as (_proc, base):
        yield base


def msg_equal(a, b, rel=1e-12):
    """Whether two service ``msg`` values agree (floats to ``rel``)."""
    return _eq(json.loads(json.dumps(a)), json.loads(json.dumps(b)), rel)


def _eq(a, b, rel):
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_eq(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_eq(x, y, rel) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= rel * max(1.0, abs(a), abs(b))
    return a == b


def ground_truth_image_to_reference():
    """The recorded image_to_reference answers and a catalog holding their matrices
    (TVR's and TSV's stored inverses are computed; they play no part in these answers)."""
    data = json.loads((ROOT / "tests" / "data" / "ground-truth.json").read_text())
    cases = [c for c in data["cases"] if c["service"] == "image_to_reference"]
    records = {}
    for c in cases:
        sds, si = c["section_data_set"], c["section_image"]
        tvr = np.array(sds["tvr_3x4"], dtype=float)
        records[("ds", sds["id"])] = SectionDataSet(
            id=sds["id"], plane_of_section_id=1 if sds["plane"] == "coronal" else 2,
            section_thickness=sds["section_thickness"],
            reference_space_id=sds["reference_space_id"],
            alignment3d=Alignment3d.from_matrices(tvr, inverse(tvr), aligned_id=sds["id"]),
        )
        tsv = np.array(si["tsv_2x3"], dtype=float)
        records[("im", si["id"])] = SectionImage(
            id=si["id"], data_set_id=sds["id"], section_number=si["section_number"],
            width=20000, height=12000,
            alignment2d=Alignment2d.from_matrices(tsv, inverse(tsv), section_image_id=si["id"]),
        )
    return cases, Catalog(records.values())


def fill_cache_worker(args):
    """Run in a child process: fill a cache from a server; return the names fetched."""
    base, cache_dir, data_set_ids, atlas_id = args
    from napari_allen_sync.remote import RemoteSource

    source = RemoteSource(base, cache_dir, timeout=(5, 30), retries=2)
    for d in data_set_ids:
        source.ensure_data_set(d)
    if atlas_id is not None:
        source.ensure_atlas(atlas_id)
    image = source.catalog.images_of(data_set_ids[0])[1]
    for row in range(2):
        source.tiles.tile(image, 2, row, 0)
    source.close()
    return source.fetched
