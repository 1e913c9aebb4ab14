"""The offline synchronization engine: Allen's six services computed from a catalog.

:class:`Synchronizer` answers every request of AllenSDK's ``SynchronizationApi`` from
the alignment matrices of a :class:`~napari_allen_sync.catalog.Catalog`, with no
network. Each service has two forms:

- the *Allen form* (``image_to_reference(section_image_id, x, y)``, ...) takes AllenSDK's
  parameters and returns exactly the ``msg`` the Allen service sends (docs/wire-format.md);
- the *batch form* (``image_to_reference_batch``, ...) takes N points as arrays and
  returns :class:`~napari_allen_sync.results.ImageSyncBatch` /
  :class:`~napari_allen_sync.results.ReferencePoints` results that also carry the
  distance to the chosen section plane and whether the choice was clamped.

The Allen form is the batch form with N = 1: there is one code path. The Allen forms
take exactly one point (a scalar per coordinate; zero or several values raise
:class:`~napari_allen_sync.errors.InvalidCoordinateError`); the batch forms take any
number, zero included. Input rules (finite numbers, equal shapes, masked values
refused) are those of :mod:`napari_allen_sync.validation`.

Examples
--------
>>> from napari_allen_sync.demo import demo_catalog          # doctest: +SKIP
>>> sync = Synchronizer(demo_catalog())                      # doctest: +SKIP
>>> sync.image_to_reference(section_image_id, 5000, 3000)    # doctest: +SKIP
{'image_to_reference': {'x': ..., 'y': ..., 'z': ...}}
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from . import inferred
from .arithmetic import (
    apply_2x3,
    apply_3x4,
    builtin_reference_transform,
    compose_3x4,
    image_to_reference_matrix,
    section_depth,
)
from .catalog import Catalog
from .errors import (
    MissingAlignmentError,
    NoUsableImagesError,
)
from .records import SectionDataSet, SectionImage
from .results import ImageSyncBatch, ReferencePoints
from .section_lookup import SectionLookup
from .validation import as_id, as_id_array, as_id_list, as_one_coordinate, as_points

__all__ = ["BLOCK_POINTS", "SERVICES", "Synchronizer"]

#: The six synchronization services of the Allen Brain Atlas API, in Allen's names.
SERVICES = (
    "image_to_reference",
    "reference_to_image",
    "image_to_image",
    "image_to_image_2d",
    "image_to_atlas",
    "structure_to_image",
)

#: The batch forms answer points in blocks of this many: the dozen temporary arrays of a
#: block (32768 points, 256 KiB each) stay in the CPU cache instead of streaming a
#: million-point array through memory at every step. Each point's arithmetic is the
#: same, so the answers do not depend on it.
BLOCK_POINTS = 1 << 15


@dataclass(frozen=True, eq=False)
class _Stack:
    """A data set's candidate images as arrays, for vectorized section choice."""

    data_set: SectionDataSet
    tvr: np.ndarray  # 3 × 4
    trv: np.ndarray  # 3 × 4
    thickness: float
    image_ids: np.ndarray  # (n,) int64, sorted by section number, one per number
    section_numbers: np.ndarray  # (n,) int64, strictly increasing
    tvs: np.ndarray  # (6, n): rows a00 a01 a02 a10 a11 a12 of each image's TVS
    plane_norm: float  # |∇vz| in reference space: µm of vz per µm of reference
    lookup: SectionLookup  # nearest section of a fractional section number


def _one(**coordinates) -> list[list[float]]:
    """The one point of an Allen form, each coordinate as a one-element list."""
    return [[as_one_coordinate(name, v)] for name, v in coordinates.items()]


class Synchronizer:
    """Allen's six image-synchronization services, computed locally from a catalog.

    Parameters
    ----------
    catalog : Catalog
        The records: data sets with ``alignment3d``, images with ``alignment2d``,
        atlases, StructureCenters, and optionally ReferenceToReferenceTransforms.

    Notes
    -----
    Derived tables (one per data set) are built on first use and rebuilt when the
    catalog changes. The object is safe to share between threads.
    """

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self._stacks: dict[tuple[int, str], _Stack] = {}
        self._revision = catalog.revision
        self._lock = threading.Lock()

    # ================================================================ tables
    def _check_revision(self):
        if self._revision != self.catalog.revision:
            with self._lock:
                self._stacks = {}
                self._revision = self.catalog.revision

    def _alignment3d(self, ds: SectionDataSet):
        if ds.alignment3d is None:
            raise MissingAlignmentError(
                f"SectionDataSet {ds.id} has no alignment3d: it cannot be synchronized "
                "(fetch it with include=alignment3d)"
            )
        return ds.alignment3d

    def stack(self, section_data_set_id, kind: str = "images") -> _Stack:
        """The candidate images of a data set as arrays (built once, then cached).

        Parameters
        ----------
        section_data_set_id : int
        kind : {"images", "atlas"}
            ``"atlas"`` keeps only annotated plates (:func:`inferred.is_atlas_candidate`).
        """
        self._check_revision()
        key = (section_data_set_id, kind)
        found = self._stacks.get(key)
        if found is not None:
            return found
        ds = self.catalog.section_data_set(section_data_set_id)
        a3 = self._alignment3d(ds)
        keep = inferred.is_atlas_candidate if kind == "atlas" else inferred.is_usable_image
        images = self.catalog.images_of(ds.id)
        chosen: list[SectionImage] = []
        for im in images:
            if keep(im) and (not chosen or chosen[-1].section_number != im.section_number):
                chosen.append(im)
        if not chosen:
            failed = sum(im.failed for im in images)
            unaligned = sum(im.alignment2d is None and not im.failed for im in images)
            what = "annotated atlas plate" if kind == "atlas" else "usable image"
            raise NoUsableImagesError(
                f"SectionDataSet {ds.id} has no {what}: {len(images)} images in the catalog, "
                f"{failed} failed, {unaligned} without alignment2d"
            )
        tvs = np.array([im.alignment2d.tvs_matrix.ravel() for im in chosen]).T.copy()
        numbers = np.array([im.section_number for im in chosen], dtype=np.int64)
        trv = a3.trv_matrix
        out = _Stack(
            data_set=ds,
            tvr=a3.tvr_matrix,
            trv=trv,
            thickness=ds.section_thickness,
            image_ids=np.array([im.id for im in chosen], dtype=np.int64),
            section_numbers=numbers,
            tvs=tvs,
            plane_norm=float(np.linalg.norm(trv[2, :3])),
            lookup=SectionLookup(numbers),
        )
        self._stacks[key] = out
        return out

    def reference_transform(self, from_space: int, to_space: int) -> np.ndarray:
        """The 3 × 4 map from one reference space to another.

        A ReferenceToReferenceTransform record in the catalog wins (its inverse is used
        when only the opposite direction is recorded); otherwise the built-in identity
        or 9 ↔ 10 mirror.

        Raises
        ------
        MissingAlignmentError
            When no transform between the two spaces is known.
        """
        rec = self.catalog.transforms.get((from_space, to_space))
        if rec is not None:
            return rec.matrix
        rec = self.catalog.transforms.get((to_space, from_space))
        if rec is not None:
            full = np.vstack([rec.matrix, [0.0, 0.0, 0.0, 1.0]])
            return np.linalg.inv(full)[:3]
        builtin = builtin_reference_transform(from_space, to_space)
        if builtin is None:
            raise MissingAlignmentError(
                f"no transform from reference space {from_space} to {to_space}: add a "
                "ReferenceToReferenceTransform record to the catalog"
            )
        return builtin

    def seed(self, section_image_id) -> tuple[SectionImage, SectionDataSet]:
        """The seed image and its data set, checked for the alignments a sync needs."""
        image = self.catalog.section_image(as_id("section_image_id", section_image_id))
        if image.alignment2d is None:
            raise MissingAlignmentError(
                f"SectionImage {image.id} has no alignment2d"
                + (" (the image failed QC)" if image.failed else "")
            )
        ds = self.catalog.section_data_set(image.data_set_id)
        self._alignment3d(ds)
        return image, ds

    # ================================================================ batch forms
    def image_to_reference_batch(self, section_image_id, x, y) -> ReferencePoints:
        """Section pixels → reference µm, for N points.

        Parameters
        ----------
        section_image_id : int or array of int
            The seed image, or one image per point.
        x, y : array-like
            Full-resolution pixels relative to the image's crop, of one shape (N-d
            arrays are flattened in C order; zero points give an empty answer).

        Returns
        -------
        ReferencePoints
            In the seed data set's reference space.

        Raises
        ------
        InvalidCoordinateError
            A coordinate is not a finite real number, is masked, or ``x`` and ``y``
            differ in shape (see :mod:`napari_allen_sync.validation`).
        InvalidIdListError
            A per-point id is not an integer (a None names its position).
        """
        space, n, points = self._seed_points(section_image_id, x, y)
        if isinstance(points, ReferencePoints):
            return points
        out = ReferencePoints(space, np.empty(n), np.empty(n), np.empty(n))
        for block in _blocks(n):
            points(block, (out.x[block], out.y[block], out.z[block]))
        return out

    def _seed_points(self, section_image_id, x, y):
        """Checked seed pixels as ``(space, n, points)``: ``points(block, out=None)``
        gives the reference points of a block of them (into ``out`` when given). With one
        image per point, ``points`` is the whole :class:`ReferencePoints` instead."""
        x, y = as_points(x=x, y=y)
        n = len(x)
        if np.ma.isMaskedArray(section_image_id) or not np.isscalar(section_image_id):
            ids = section_image_id
            if not np.ma.isMaskedArray(ids):
                ids = np.asarray(ids)
            single = np.ndim(ids) == 0
        else:
            single = True
        if single:
            image, ds = self.seed(section_image_id)
            m = self._image_matrix(image, ds)

            def points(block, out=None):
                return _reference_block(m, x[block], y[block], out)

            return ds.reference_space_id, n, points
        ids = as_id_array("section_image_id", ids, n)
        out = np.empty((3, n))
        space = None
        for sid in np.unique(ids):
            image, ds = self.seed(int(sid))
            if space is None:
                space = ds.reference_space_id
            m = self._image_matrix(image, ds)
            T = self.reference_transform(ds.reference_space_id, space)
            m = T[:, :3] @ m
            m[:, 2] += T[:, 3]
            sel = ids == sid
            xs, ys = x[sel], y[sel]
            for k in range(3):
                out[k, sel] = m[k, 0] * xs + m[k, 1] * ys + m[k, 2]
        return space, n, ReferencePoints(space, out[0], out[1], out[2])

    def _image_matrix(self, image: SectionImage, ds: SectionDataSet) -> np.ndarray:
        vz = float(section_depth(image.section_number, ds.section_thickness))
        return image_to_reference_matrix(
            image.alignment2d.tsv_matrix, ds.alignment3d.tvr_matrix, vz
        )

    def _to_stack(self, stack: _Stack, space: int, x, y, z, data_set_id) -> ImageSyncBatch:
        """Reference points (in ``space``) → nearest image of one stack."""
        return self._to_stacks([stack], space, len(x), _given(x, y, z), [data_set_id])[0]

    def _to_stacks(self, stacks, space: int, n: int, points, data_set_ids):
        """``n`` reference points (in ``space``) → nearest image of each stack.

        ``points(block)`` gives the ``(x, y, z)`` arrays of a block of points. Block by
        block (:data:`BLOCK_POINTS`), every stack in turn, so a block's points are made
        or read once. Per point: ``(vx, vy, vz) = TRV · T · (x, y, z, 1)``
        (:func:`~napari_allen_sync.arithmetic.apply_3x4`'s operations in its order), the
        nearest section of ``vz / thickness`` (:class:`SectionLookup`, exactly
        :func:`inferred.nearest_sections`), its image's ``TVS · (vx, vy, 1)``
        (:func:`~napari_allen_sync.arithmetic.apply_2x3`), and the distance to its plane.

        Returns
        -------
        list of ImageSyncBatch
            One per stack, in order.
        """
        jobs = []
        for stack, ds in zip(stacks, data_set_ids, strict=True):
            m = compose_3x4(
                stack.trv, self.reference_transform(space, stack.data_set.reference_space_id)
            )
            out = ImageSyncBatch(ds, np.empty(n, np.int64), np.empty(n, np.int64),
                                 np.empty(n), np.empty(n), np.empty(n), np.empty(n, bool))
            jobs.append((stack, m, out))
        for block in _blocks(n):
            x, y, z = points(block)
            for stack, m, out in jobs:
                _answer_block(stack, m, x, y, z, out, block)
        return [out for _, _, out in jobs]

    def reference_to_image_batch(
        self, reference_space_id, x, y, z, section_data_set_ids
    ) -> list[ImageSyncBatch]:
        """Reference µm → the nearest section of each data set, for N points.

        Returns
        -------
        list of ImageSyncBatch
            One per data set, in request order.
        """
        space = as_id("reference_space_id", reference_space_id)
        x, y, z = as_points(x=x, y=y, z=z)
        ids = as_id_list("section_data_set_ids", section_data_set_ids)
        stacks = [self.stack(d) for d in ids]
        return self._to_stacks(stacks, space, len(x), _given(x, y, z), ids)

    def image_to_image_batch(self, section_image_id, x, y, section_data_set_ids):
        """Seed pixels → the matching section and pixel of each data set, for N points.

        [inferred] image_to_reference on the seed, then reference_to_image into each
        target (converting reference spaces when they differ).
        """
        ids = as_id_list("section_data_set_ids", section_data_set_ids)
        space, n, points = self._seed_points(section_image_id, x, y)
        stacks = [self.stack(d) for d in ids]
        return self._to_stacks(stacks, space, n, _reference_of(points), ids)

    def image_to_atlas_batch(self, section_image_id, x, y, atlas_id) -> ImageSyncBatch:
        """Seed pixels → the nearest annotated plate of an atlas, for N points.

        [inferred] As ``image_to_image`` into the atlas's data set, choosing only among
        annotated plates; ``section_data_set_id`` is None, as the service sends null.
        """
        atlas_id = as_id("atlas_id", atlas_id)
        ds = self.catalog.atlas_data_set(atlas_id)
        stack = self.stack(ds.id, kind="atlas")
        space, n, points = self._seed_points(section_image_id, x, y)
        return self._to_stacks([stack], space, n, _reference_of(points), [None])[0]

    def image_to_image_2d_batch(self, section_image_id, x, y, section_image_ids):
        """Seed pixels → the closest (x, y) on each listed image, for N points.

        [inferred] For a target in the seed's own data set the in-plane map
        ``TVS_t · TSV_s`` is used; for other data sets the point goes through reference
        space and the target's depth is dropped. ``distance`` is the distance from the
        3-D point to the target image's plane; ``clamped`` is always False.

        Returns
        -------
        list of ImageSyncBatch
            One per target image, in request order.
        """
        targets = as_id_list("section_image_ids", section_image_ids)
        seed_image, seed_ds = self.seed(section_image_id)
        x, y = as_points(x=x, y=y)
        n = len(x)
        ref = None
        out = []
        for tid in targets:
            target = self.catalog.section_image(tid)
            if target.alignment2d is None:
                raise MissingAlignmentError(f"SectionImage {tid} has no alignment2d")
            tds = self.catalog.section_data_set(target.data_set_id)
            a3 = self._alignment3d(tds)
            trv = a3.trv_matrix
            norm = float(np.linalg.norm(trv[2, :3]))
            tvs = target.alignment2d.tvs_matrix
            depth = float(section_depth(target.section_number, tds.section_thickness))
            if tds.id == seed_ds.id:
                vx, vy = apply_2x3(seed_image.alignment2d.tsv_matrix, x, y)
                vz = np.full(
                    n, float(section_depth(seed_image.section_number, tds.section_thickness))
                )
            else:
                if ref is None:
                    ref = self.image_to_reference_batch(seed_image.id, x, y)
                m = compose_3x4(
                    trv, self.reference_transform(ref.reference_space_id, tds.reference_space_id)
                )
                vx, vy, vz = apply_3x4(m, ref.x, ref.y, ref.z)
            sx, sy = apply_2x3(tvs, vx, vy)
            out.append(
                ImageSyncBatch(
                    tds.id,
                    np.full(n, target.id, dtype=np.int64),
                    np.full(n, target.section_number, dtype=np.int64),
                    sx,
                    sy,
                    (vz - depth) / norm,
                    np.zeros(n, dtype=bool),
                )
            )
        return out

    def structure_to_image_batch(self, section_data_set_id, structure_ids) -> ImageSyncBatch:
        """Structure centroids → the nearest section of a data set, one answer per structure.

        [inferred] Each structure's StructureCenter in the data set's reference space
        (:func:`inferred.structure_center_space`) goes through reference_to_image.
        """
        ds_id = as_id("section_data_set_id", section_data_set_id)
        sids = as_id_list("structure_ids", structure_ids)
        ds = self.catalog.section_data_set(ds_id)
        space = inferred.structure_center_space(ds.reference_space_id)
        centers = [self.catalog.structure_center(s, space) for s in sids]
        x = np.array([c.x for c in centers], dtype=float)
        y = np.array([c.y for c in centers], dtype=float)
        z = np.array([c.z for c in centers], dtype=float)
        return self._to_stack(self.stack(ds_id), space, x, y, z, ds_id)

    # ================================================================ Allen forms
    def image_to_reference(self, section_image_id, x, y) -> dict:
        """As ``SynchronizationApi.get_image_to_reference``: the service's ``msg``."""
        x, y = _one(x=x, y=y)
        return self.image_to_reference_batch(section_image_id, x, y).to_msg(0)

    def reference_to_image(self, reference_space_id, x, y, z, section_data_set_ids) -> list:
        """As ``SynchronizationApi.get_reference_to_image``: the service's ``msg``."""
        x, y, z = _one(x=x, y=y, z=z)
        batches = self.reference_to_image_batch(reference_space_id, x, y, z, section_data_set_ids)
        return [b.to_msg(0) for b in batches]

    def image_to_image(self, section_image_id, x, y, section_data_set_ids) -> list:
        """As ``SynchronizationApi.get_image_to_image``: the service's ``msg``."""
        x, y = _one(x=x, y=y)
        batches = self.image_to_image_batch(section_image_id, x, y, section_data_set_ids)
        return [b.to_msg(0) for b in batches]

    def image_to_image_2d(self, section_image_id, x, y, section_image_ids) -> list:
        """As ``SynchronizationApi.get_image_to_image_2d``: the service's ``msg``."""
        x, y = _one(x=x, y=y)
        batches = self.image_to_image_2d_batch(section_image_id, x, y, section_image_ids)
        return [b.to_msg(0) for b in batches]

    def image_to_atlas(self, section_image_id, x, y, atlas_id) -> dict:
        """As ``SynchronizationApi.get_image_to_atlas``: the service's ``msg``."""
        x, y = _one(x=x, y=y)
        return self.image_to_atlas_batch(section_image_id, x, y, atlas_id).to_msg(0)

    def structure_to_image(self, section_data_set_id, structure_ids) -> list:
        """As ``SynchronizationApi.get_structure_to_image``: the service's ``msg``."""
        batch = self.structure_to_image_batch(section_data_set_id, structure_ids)
        return [batch.to_msg(i) for i in range(len(batch))]


def _blocks(n: int):
    """Slices of :data:`BLOCK_POINTS` points covering ``range(n)``."""
    for start in range(0, n, BLOCK_POINTS):
        yield slice(start, min(n, start + BLOCK_POINTS))


def _given(x, y, z):
    """``points(block)`` of points already computed."""
    return lambda block: (x[block], y[block], z[block])


def _reference_of(points):
    """``points(block)`` of :meth:`Synchronizer._seed_points`' answer, either form."""
    if isinstance(points, ReferencePoints):
        return _given(points.x, points.y, points.z)
    return points


def _reference_block(m: np.ndarray, x, y, out=None):
    """Seed pixels → reference µm with the 3 × 3 image matrix: ``m[k, 0]·x + m[k, 1]·y +
    m[k, 2]`` for each row ``k``, added in that order; into ``out`` (3 arrays) if given."""
    if out is None:
        out = (np.empty(len(x)), np.empty(len(x)), np.empty(len(x)))
    scratch = np.empty(len(x))
    for k, row in enumerate(out):
        np.multiply(x, m[k, 0], out=row)
        row += np.multiply(y, m[k, 1], out=scratch)
        row += m[k, 2]
    return out


def _affine_row(row, x, y, z) -> np.ndarray:
    """``row[0]·x + row[1]·y + row[2]·z + row[3]``, added in that order (as apply_3x4)."""
    out = row[0] * x
    out += row[1] * y
    out += row[2] * z
    out += row[3]
    return out


def _answer_block(stack: _Stack, m: np.ndarray, x, y, z, out: ImageSyncBatch, block: slice):
    """One block of :meth:`Synchronizer._to_stacks` for one stack, written into ``out``.

    The gathers use ``mode="clip"``: the indices come from :class:`SectionLookup` and are
    always in range, and ``"raise"`` would copy through a buffer to check them.
    """
    vx = _affine_row(m[0], x, y, z)
    vy = _affine_row(m[1], x, y, z)
    vz = _affine_row(m[2], x, y, z)
    q = np.divide(vz, stack.thickness)
    index = stack.lookup.index(q)
    stack.lookup.clamped(q, out=out.clamped[block])
    t = stack.tvs
    scratch = q  # q is not needed any more
    for k, target in ((0, out.x[block]), (3, out.y[block])):  # apply_2x3, row by row
        np.multiply(t[k].take(index, mode="clip", out=target), vx, out=target)
        target += np.multiply(t[k + 1].take(index, mode="clip", out=scratch), vy, out=scratch)
        target += t[k + 2].take(index, mode="clip", out=scratch)
    stack.image_ids.take(index, mode="clip", out=out.section_image_id[block])
    number = stack.section_numbers.take(index, mode="clip", out=out.section_number[block])
    distance = out.distance[block]
    np.multiply(number, stack.thickness, out=distance)
    np.subtract(vz, distance, out=distance)
    distance /= stack.plane_norm
