"""The one builder of synthetic catalogs (tests only).

Allen records are built here and nowhere else: :func:`data_set` makes a SectionDataSet
aligned by a given 3-D affine and its section (or atlas) images aligned by given 2-D
affines, with their stored inverses exact, so that round trips must close to 1e-6 px;
:func:`catalog` puts data sets, an atlas and other records into a
:class:`~napari_allen_sync.catalog.Catalog`. What a catalog holds is chosen where it is
used, from this builder:

- ``engine_fixtures.synthetic_catalog(seed)``: four data sets with random affines (two
  coronal in space 9, one sagittal in space 10, one of 100 µm sections) and an atlas;
- ``_http_fixtures.synthetic_catalog(seed)``: what the loopback server serves (coronal,
  sagittal, all-failed and unaligned data sets, an atlas, an ontology with centres, a
  transform, equalizations);
- ``widget_fixtures.make_catalog()``: planned (not random) geometry for the dock's clicks.

Image pyramids are tested on :func:`tiered_image` (a bare SectionImage of a given size
and tier count) read through :class:`CountingTiles` (a TileSource that paints each pixel
with its position and records every read).

Import it by name (``from synthetic import data_set, catalog, inverse``): tests/support
is on pytest's ``pythonpath``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from napari_allen_sync.catalog import Catalog
from napari_allen_sync.records import Alignment2d, Alignment3d, Atlas, SectionDataSet, SectionImage

__all__ = ["CountingTiles", "Section", "catalog", "data_set", "inverse", "random_tsv",
           "random_tvr", "rotation", "tiered_image"]


# ---------------------------------------------------------------------- affine arithmetic
def inverse(m):
    """The inverse of an affine given as its top rows (2 × 3 or 3 × 4)."""
    rows = m.shape[0]
    full = np.vstack([m, np.eye(rows + 1)[-1]])
    return np.linalg.inv(full)[:rows]


def rotation(rng, max_deg):
    """A random 3-D rotation, each Euler angle within ±``max_deg`` degrees."""
    a, b, c = np.deg2rad(rng.uniform(-max_deg, max_deg, 3))
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rx @ ry @ rz


def random_tvr(rng, permute=False):
    """A random, well-conditioned volume-to-reference affine and its inverse."""
    lin = rotation(rng, 6) @ np.diag(rng.uniform(0.9, 1.1, 3))
    if permute:
        lin = lin[[2, 1, 0]]
    t = rng.uniform(-2000, 2000, 3)
    tvr = np.column_stack([lin, t])
    return tvr, inverse(tvr)


def random_tsv(rng, resolution):
    """A random section-to-volume affine of ``resolution`` µm/px and its inverse."""
    a = np.deg2rad(rng.uniform(-3, 3))
    lin = resolution * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    tsv = np.column_stack([lin, rng.uniform(-500, 3000, 2)])
    return tsv, inverse(tsv)


# ---------------------------------------------------------------------- the builder
@dataclass
class Section:
    """One image of a data set to build: its section number, its section-to-volume
    affine (None: no alignment, as Allen's failed images), the image record's other
    fields (``width``, ``height``, ``resolution``, ``failed``, ...) and its
    alignment's id."""

    number: int
    tsv: np.ndarray | None
    fields: dict = field(default_factory=dict)
    alignment_id: int | None = None


def data_set(ds_id: int, tvr, sections: Iterable[Section], *, space: int = 9,
             plane: int = 1, thickness: float = 25.0, image_cls=SectionImage,
             first_image_id: int | None = None, alignment_id: int | None = None,
             extra: dict | None = None) -> tuple[SectionDataSet, list]:
    """A data set aligned by ``tvr`` (None: no alignment) and its images (ids
    ``first_image_id + k``, default ``ds_id * 1000 + k``), every stored inverse exact.

    Returns ``(SectionDataSet, [image, ...])``; ``image_cls`` is SectionImage or
    AtlasImage.
    """
    ids = {} if alignment_id is None else {"id": alignment_id}
    ds = SectionDataSet(
        id=ds_id, plane_of_section_id=plane, section_thickness=thickness,
        reference_space_id=space,
        alignment3d=None if tvr is None else Alignment3d.from_matrices(
            tvr, inverse(tvr), aligned_id=ds_id, **ids),
        extra=dict(extra or {}),
    )
    base = ds_id * 1000 if first_image_id is None else first_image_id
    images = []
    for k, s in enumerate(sections):
        image_id = base + k
        alignment = None
        if s.tsv is not None:
            ids = {} if s.alignment_id is None else {"id": s.alignment_id}
            alignment = Alignment2d.from_matrices(s.tsv, inverse(s.tsv),
                                                  section_image_id=image_id, **ids)
        images.append(image_cls(id=image_id, data_set_id=ds_id, section_number=int(s.number),
                                alignment2d=alignment, **s.fields))
    return ds, images


def catalog(data_sets: Iterable[tuple[SectionDataSet, list]], *, atlas: Atlas | None = None,
            records: Iterable = ()) -> Catalog:
    """A catalog of data sets (with their images), an atlas and any other records."""
    out = []
    for ds, images in data_sets:
        out += [ds, *images]
    if atlas is not None:
        out.append(atlas)
    out += list(records)
    return Catalog(out)


# ---------------------------------------------------------------------- image tiles
def tiered_image(width, height, tiers, image_id=7) -> SectionImage:
    """A SectionImage of ``width`` × ``height`` pixels (its crop) and ``tiers`` tiers, in
    no data set's catalog: for image pyramids."""
    return SectionImage(id=image_id, data_set_id=1, section_number=1, width=width,
                        height=height, image_width=width + 10, image_height=height + 10,
                        tier_count=tiers)


class CountingTiles:
    """A TileSource that records its calls (``calls``: ``(downsample, left, top, width,
    height)``) and paints each pixel with its position: red its tier row, green its tier
    column (both modulo 256), blue the tier. With ``fail``, every read raises it."""

    def __init__(self, fail: Exception | None = None):
        self.calls = []
        self.fail = fail
        self._lock = threading.Lock()

    def read_region(self, image, downsample, left, top, width, height):
        with self._lock:
            self.calls.append((downsample, left, top, width, height))
        if self.fail is not None:
            raise self.fail
        f = 2**downsample
        rows = (top // f + np.arange(height))[:, None]
        cols = (left // f + np.arange(width))[None, :]
        out = np.zeros((height, width, 3), np.uint8)
        out[..., 0] = rows % 256
        out[..., 1] = cols % 256
        out[..., 2] = downsample
        return out
