"""Allen Brain Atlas records, with Allen's own model and field names.

Each record is an immutable dataclass parsed from (and written back to) the JSON
that the Allen RMA API returns for its model. Only the fields this package uses are
typed; any other field is kept in ``extra`` so that a record survives a round trip
through :meth:`to_rma` unchanged.

Matrices follow docs/arithmetic.md [checked]: row-major with the translation last, i.e.::

    TSV = | tsv_00 tsv_01 tsv_04 |      TVR = | tvr_00 tvr_01 tvr_02 tvr_09 |
          | tsv_02 tsv_03 tsv_05 |            | tvr_03 tvr_04 tvr_05 tvr_10 |
                                              | tvr_06 tvr_07 tvr_08 tvr_11 |
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .errors import CatalogFormatError

__all__ = [
    "PLANES",
    "Alignment2d",
    "Alignment3d",
    "Atlas",
    "AtlasImage",
    "Equalization",
    "ReferenceToReferenceTransform",
    "SectionDataSet",
    "SectionImage",
    "Structure",
    "StructureCenter",
    "affine_2x3",
    "affine_3x4",
]

_MISSING = object()
#: Allen's PlaneOfSection ids and names.
PLANES = {1: "coronal", 2: "sagittal"}


class _Reader:
    """Reads typed fields of one RMA record, raising errors that name the culprit."""

    def __init__(self, model: str, data: Any, path=None):
        if not isinstance(data, dict):
            raise CatalogFormatError(
                f"a {model} record must be a JSON object, not {type(data).__name__}", path=path
            )
        self.model = model
        self.data = data
        self.path = path
        rid = data.get("id")
        self.record_id = rid if isinstance(rid, int) and not isinstance(rid, bool) else None
        self.used: set[str] = set()

    def _fail(self, name, message):
        raise CatalogFormatError(
            f"{self.model} {message}", path=self.path, record_id=self.record_id, field=name
        )

    def _get(self, name, default):
        self.used.add(name)
        value = self.data.get(name, _MISSING)
        if value is _MISSING or value is None:
            if default is _MISSING:
                self._fail(name, "lacks this required field" if value is _MISSING else "has null")
            return default, True
        return value, False

    def int(self, name, default=_MISSING):
        value, missing = self._get(name, default)
        if missing:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            self._fail(name, f"needs an integer, got {value!r}")
        return value

    def float(self, name, default=_MISSING):
        value, missing = self._get(name, default)
        if missing:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._fail(name, f"needs a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            self._fail(name, f"needs a finite number, got {value!r}")
        return value

    def str(self, name, default=_MISSING):
        value, missing = self._get(name, default)
        if missing:
            return value
        if not isinstance(value, str):
            self._fail(name, f"needs a string, got {value!r}")
        return value

    def bool(self, name, default=_MISSING):
        value, missing = self._get(name, default)
        if missing:
            return value
        if not isinstance(value, bool):
            self._fail(name, f"needs true or false, got {value!r}")
        return value

    def floats(self, prefix, count):
        return tuple(self.float(f"{prefix}_{k:02d}") for k in range(count))

    def extra(self, nested=()):
        skip = self.used | set(nested)
        return {k: v for k, v in self.data.items() if k not in skip}


def affine_2x3(c) -> np.ndarray:
    """Arrange six Allen coefficients ``(_00 .. _05)`` as a 2 × 3 affine matrix."""
    return np.array([[c[0], c[1], c[4]], [c[2], c[3], c[5]]], dtype=float)


def affine_3x4(c) -> np.ndarray:
    """Arrange twelve Allen coefficients ``(_00 .. _11)`` as a 3 × 4 affine matrix."""
    return np.array(
        [
            [c[0], c[1], c[2], c[9]],
            [c[3], c[4], c[5], c[10]],
            [c[6], c[7], c[8], c[11]],
        ],
        dtype=float,
    )


def _coefficients_2x3(m) -> tuple[float, ...]:
    m = np.asarray(m, dtype=float)
    return tuple(float(v) for v in (m[0, 0], m[0, 1], m[1, 0], m[1, 1], m[0, 2], m[1, 2]))


def _coefficients_3x4(m) -> tuple[float, ...]:
    m = np.asarray(m, dtype=float)
    return tuple(float(v) for v in m[:, :3].ravel()) + tuple(float(v) for v in m[:, 3])


def _named(prefix, values):
    return {f"{prefix}_{k:02d}": float(v) for k, v in enumerate(values)}


@dataclass(frozen=True, slots=True)
class Alignment2d:
    """In-plane alignment of one section image (Allen model ``Alignment2d``).

    ``tsv`` maps full-resolution section pixels (x, y, 1) to volume microns (vx, vy);
    ``tvs`` is Allen's stored (rounded) inverse.
    """

    MODEL: ClassVar[str] = "Alignment2d"
    id: int | None
    section_image_id: int | None
    tsv: tuple[float, ...]
    tvs: tuple[float, ...]
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def tsv_matrix(self) -> np.ndarray:
        """The 2 × 3 section → volume matrix."""
        return affine_2x3(self.tsv)

    @property
    def tvs_matrix(self) -> np.ndarray:
        """The 2 × 3 volume → section matrix."""
        return affine_2x3(self.tvs)

    @classmethod
    def from_matrices(cls, tsv, tvs, *, id=None, section_image_id=None):
        """Build an alignment from 2 × 3 matrices (row-major, translation last)."""
        return cls(id, section_image_id, _coefficients_2x3(tsv), _coefficients_2x3(tvs))

    @classmethod
    def from_rma(cls, data, path=None):
        """Parse an RMA ``alignment2d`` object."""
        r = _Reader(cls.MODEL, data, path)
        return cls(
            id=r.int("id", None),
            section_image_id=r.int("section_image_id", None),
            tsv=r.floats("tsv", 6),
            tvs=r.floats("tvs", 6),
            extra=r.extra(),
        )

    def to_rma(self) -> dict:
        """The record as Allen RMA JSON."""
        out = dict(self.extra)
        out.update(id=self.id, section_image_id=self.section_image_id)
        out.update(_named("tsv", self.tsv))
        out.update(_named("tvs", self.tvs))
        return out


@dataclass(frozen=True, slots=True)
class Alignment3d:
    """Volume → reference alignment of one data set (Allen model ``Alignment3d``).

    ``tvr`` maps volume microns (vx, vy, vz, 1) to reference microns; ``trv`` is
    Allen's stored (rounded) inverse.
    """

    MODEL: ClassVar[str] = "Alignment3d"
    id: int | None
    aligned_id: int | None
    aligned_type: str | None
    tvr: tuple[float, ...]
    trv: tuple[float, ...]
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def tvr_matrix(self) -> np.ndarray:
        """The 3 × 4 volume → reference matrix."""
        return affine_3x4(self.tvr)

    @property
    def trv_matrix(self) -> np.ndarray:
        """The 3 × 4 reference → volume matrix."""
        return affine_3x4(self.trv)

    @classmethod
    def from_matrices(cls, tvr, trv, *, id=None, aligned_id=None, aligned_type="DataSet"):
        """Build an alignment from 3 × 4 matrices (row-major, translation last)."""
        return cls(id, aligned_id, aligned_type, _coefficients_3x4(tvr), _coefficients_3x4(trv))

    @classmethod
    def from_rma(cls, data, path=None):
        """Parse an RMA ``alignment3d`` object."""
        r = _Reader(cls.MODEL, data, path)
        return cls(
            id=r.int("id", None),
            aligned_id=r.int("aligned_id", None),
            aligned_type=r.str("aligned_type", None),
            tvr=r.floats("tvr", 12),
            trv=r.floats("trv", 12),
            extra=r.extra(),
        )

    def to_rma(self) -> dict:
        """The record as Allen RMA JSON."""
        out = dict(self.extra)
        out.update(id=self.id, aligned_id=self.aligned_id, aligned_type=self.aligned_type)
        out.update(_named("trv", self.trv))
        out.update(_named("tvr", self.tvr))
        return out


@dataclass(frozen=True, slots=True)
class SectionDataSet:
    """An experiment: a series of section images of one brain (Allen ``SectionDataSet``).

    ``plane_of_section_id`` is 1 for coronal, 2 for sagittal, None when the record does
    not say (Allen's grid download ships ``plane_of_section: null`` and no id, as the real
    data set 69289763 does); ``section_thickness`` is in microns. The data set's images
    live in the catalog, not in the record.
    """

    MODEL: ClassVar[str] = "SectionDataSet"
    id: int
    plane_of_section_id: int | None
    section_thickness: float
    reference_space_id: int
    failed: bool = False
    alignment3d: Alignment3d | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    NESTED: ClassVar[tuple[str, ...]] = ("alignment3d", "section_images", "atlas_images")

    @property
    def plane(self) -> str:
        """``"coronal"``, ``"sagittal"``, ``"plane <id>"`` or ``"unknown plane"``."""
        if self.plane_of_section_id is None:
            return "unknown plane"
        return PLANES.get(self.plane_of_section_id, f"plane {self.plane_of_section_id}")

    @classmethod
    def from_rma(cls, data, path=None):
        """Parse an RMA ``SectionDataSet`` object (nested ``alignment3d`` included).

        ``plane_of_section_id`` may be absent or null: then the nested ``plane_of_section``
        (``{"id": 1, "name": "coronal"}``, as ``rma::include,plane_of_section`` gives it)
        names the plane, and without it the plane is unknown (None).
        """
        r = _Reader(cls.MODEL, data, path)
        plane = r.int("plane_of_section_id", None)
        if plane is None and isinstance(data, dict):
            plane = _plane_from_nested(data.get("plane_of_section"), r)
        out = cls(
            id=r.int("id"),
            plane_of_section_id=plane,
            section_thickness=r.float("section_thickness"),
            reference_space_id=r.int("reference_space_id"),
            failed=r.bool("failed", False),
            alignment3d=None,
            extra=r.extra(cls.NESTED),
        )
        if out.section_thickness <= 0:
            r._fail("section_thickness", f"must be positive, got {out.section_thickness!r}")
        a3 = data.get("alignment3d")
        if a3 is not None:
            object.__setattr__(out, "alignment3d", Alignment3d.from_rma(a3, path))
        return out

    def to_rma(self) -> dict:
        """The record as Allen RMA JSON (``alignment3d`` nested when present)."""
        out = dict(self.extra)
        out.update(
            id=self.id,
            plane_of_section_id=self.plane_of_section_id,
            section_thickness=self.section_thickness,
            reference_space_id=self.reference_space_id,
            failed=self.failed,
        )
        if self.alignment3d is not None:
            out["alignment3d"] = self.alignment3d.to_rma()
        return out


def _plane_from_nested(nested, r) -> int | None:
    """The plane id of a nested ``plane_of_section`` object (None when null)."""
    if nested is None:
        return None
    if not isinstance(nested, dict):
        r._fail("plane_of_section", f"needs an object or null, got {nested!r}")
    pid = nested.get("id")
    if isinstance(pid, int) and not isinstance(pid, bool):
        return pid
    name = nested.get("name")
    by_name = {v: k for k, v in PLANES.items()}
    if isinstance(name, str) and name.lower() in by_name:
        return by_name[name.lower()]
    r._fail("plane_of_section", f"names no known plane: {nested!r}")


@dataclass(frozen=True, slots=True)
class SectionImage:
    """One section of a data set (Allen ``SectionImage``).

    ``x, y, width, height`` is the crop that synchronization and download use (sync
    pixel (0, 0) is the crop's corner); ``image_width, image_height`` the whole scan;
    ``resolution`` is µm per full-resolution pixel; ``tier_count`` the pyramid depth.
    """

    MODEL: ClassVar[str] = "SectionImage"
    id: int
    data_set_id: int
    section_number: int
    x: int = 0
    y: int = 0
    width: int = 0
    height: int = 0
    image_width: int = 0
    image_height: int = 0
    resolution: float = 1.0
    tier_count: int = 1
    path: str | None = None
    annotated: bool = False
    failed: bool = False
    alignment2d: Alignment2d | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    NESTED: ClassVar[tuple[str, ...]] = ("alignment2d",)

    @classmethod
    def from_rma(cls, data, path=None):
        """Parse an RMA image object (nested ``alignment2d`` included)."""
        r = _Reader(cls.MODEL, data, path)
        out = cls(
            id=r.int("id"),
            data_set_id=r.int("data_set_id"),
            section_number=r.int("section_number"),
            x=r.int("x", 0),
            y=r.int("y", 0),
            width=r.int("width", 0),
            height=r.int("height", 0),
            image_width=r.int("image_width", 0),
            image_height=r.int("image_height", 0),
            resolution=r.float("resolution", 1.0),
            tier_count=r.int("tier_count", 1),
            path=r.str("path", None),
            annotated=r.bool("annotated", False),
            failed=r.bool("failed", False),
            alignment2d=None,
            extra=r.extra(cls.NESTED),
        )
        for name in ("width", "height", "image_width", "image_height", "tier_count", "x", "y"):
            if getattr(out, name) < 0:
                r._fail(name, f"must not be negative, got {getattr(out, name)!r}")
        a2 = data.get("alignment2d")
        if a2 is not None:
            object.__setattr__(out, "alignment2d", Alignment2d.from_rma(a2, path))
        return out

    def to_rma(self) -> dict:
        """The record as Allen RMA JSON (``alignment2d`` nested when present)."""
        out = dict(self.extra)
        out.update(
            id=self.id,
            data_set_id=self.data_set_id,
            section_number=self.section_number,
            x=self.x,
            y=self.y,
            width=self.width,
            height=self.height,
            image_width=self.image_width,
            image_height=self.image_height,
            resolution=self.resolution,
            tier_count=self.tier_count,
            path=self.path,
            annotated=self.annotated,
            failed=self.failed,
        )
        if self.alignment2d is not None:
            out["alignment2d"] = self.alignment2d.to_rma()
        return out


@dataclass(frozen=True, slots=True)
class AtlasImage(SectionImage):
    """A plate of a reference atlas (Allen ``AtlasImage``); ``annotated`` plates carry
    the structure drawings."""

    MODEL: ClassVar[str] = "AtlasImage"


@dataclass(frozen=True, slots=True)
class Atlas:
    """A reference atlas (Allen ``Atlas``) and the ids of its atlas data sets."""

    MODEL: ClassVar[str] = "Atlas"
    id: int
    name: str
    reference_space_id: int | None = None
    structure_graph_id: int | None = None
    data_set_ids: tuple[int, ...] = ()
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    NESTED: ClassVar[tuple[str, ...]] = ("atlas_data_sets", "data_set_ids")

    @classmethod
    def from_rma(cls, data, path=None):
        """Parse an RMA ``Atlas`` object; nested ``atlas_data_sets`` give the data set ids
        (the nested records themselves are read by the catalog)."""
        r = _Reader(cls.MODEL, data, path)
        ids = []
        nested = data.get("atlas_data_sets") or []
        if not isinstance(nested, list):
            r._fail("atlas_data_sets", "needs a list")
        for item in nested:
            if not isinstance(item, dict) or not isinstance(item.get("id"), int):
                r._fail("atlas_data_sets", f"holds an entry without an integer id: {item!r}")
            ids.append(item["id"])
        listed = data.get("data_set_ids")
        if listed is not None:
            if not isinstance(listed, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in listed
            ):
                r._fail("data_set_ids", f"needs a list of integers, got {listed!r}")
            ids.extend(v for v in listed if v not in ids)
        return cls(
            id=r.int("id"),
            name=r.str("name"),
            reference_space_id=r.int("reference_space_id", None),
            structure_graph_id=r.int("structure_graph_id", None),
            data_set_ids=tuple(ids),
            extra=r.extra(cls.NESTED),
        )

    def to_rma(self) -> dict:
        """The record as Allen RMA JSON (data sets as ``data_set_ids``)."""
        out = dict(self.extra)
        out.update(
            id=self.id,
            name=self.name,
            reference_space_id=self.reference_space_id,
            structure_graph_id=self.structure_graph_id,
            data_set_ids=list(self.data_set_ids),
        )
        return out


@dataclass(frozen=True, slots=True)
class Structure:
    """A brain structure of the ontology (Allen ``Structure``)."""

    MODEL: ClassVar[str] = "Structure"
    id: int
    acronym: str
    name: str
    parent_structure_id: int | None = None
    structure_id_path: tuple[int, ...] = ()
    color_hex_triplet: str = "AAAAAA"
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_rma(cls, data, path=None):
        """Parse an RMA ``Structure`` object (``structure_id_path`` like ``/997/8/567/``)."""
        r = _Reader(cls.MODEL, data, path)
        text = r.str("structure_id_path", "")
        try:
            chain = tuple(int(p) for p in text.strip("/").split("/") if p)
        except ValueError:
            r._fail("structure_id_path", f"needs '/'-separated integers, got {text!r}")
        colour = r.str("color_hex_triplet", "AAAAAA")
        if len(colour) != 6 or any(c not in "0123456789abcdefABCDEF" for c in colour):
            r._fail("color_hex_triplet", f"needs six hex digits, got {colour!r}")
        return cls(
            id=r.int("id"),
            acronym=r.str("acronym"),
            name=r.str("name"),
            parent_structure_id=r.int("parent_structure_id", None),
            structure_id_path=chain,
            color_hex_triplet=colour.upper(),
            extra=r.extra(),
        )

    @property
    def rgb(self) -> tuple[int, int, int]:
        """The structure's colour as an (r, g, b) tuple of 0..255 integers."""
        c = self.color_hex_triplet
        return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)

    def to_rma(self) -> dict:
        """The record as Allen RMA JSON."""
        out = dict(self.extra)
        path = (
            "/" + "".join(f"{i}/" for i in self.structure_id_path) if self.structure_id_path else ""
        )
        out.update(
            id=self.id,
            acronym=self.acronym,
            name=self.name,
            parent_structure_id=self.parent_structure_id,
            structure_id_path=path,
            color_hex_triplet=self.color_hex_triplet,
        )
        return out


@dataclass(frozen=True, slots=True)
class StructureCenter:
    """A structure's 3-D centre in one reference space, integer µm (Allen ``StructureCenter``)."""

    MODEL: ClassVar[str] = "StructureCenter"
    structure_id: int
    reference_space_id: int
    x: float
    y: float
    z: float
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_rma(cls, data, path=None):
        """Parse an RMA ``StructureCenter`` object."""
        r = _Reader(cls.MODEL, data, path)
        return cls(
            structure_id=r.int("structure_id"),
            reference_space_id=r.int("reference_space_id"),
            x=r.float("x"),
            y=r.float("y"),
            z=r.float("z"),
            extra=r.extra(),
        )

    def to_rma(self) -> dict:
        """The record as Allen RMA JSON."""
        out = dict(self.extra)
        out.update(
            structure_id=self.structure_id,
            reference_space_id=self.reference_space_id,
            x=self.x,
            y=self.y,
            z=self.z,
        )
        return out


@dataclass(frozen=True, slots=True)
class ReferenceToReferenceTransform:
    """An affine map between two reference spaces (Allen ``ReferenceToReferenceTransform``),
    ``t_00..t_11`` laid out like ``tvr`` (docs/arithmetic.md)."""

    MODEL: ClassVar[str] = "ReferenceToReferenceTransform"
    from_reference_space_id: int
    to_reference_space_id: int
    t: tuple[float, ...]
    id: int | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def matrix(self) -> np.ndarray:
        """The 3 × 4 matrix."""
        return affine_3x4(self.t)

    @classmethod
    def from_rma(cls, data, path=None):
        """Parse an RMA ``ReferenceToReferenceTransform`` object."""
        r = _Reader(cls.MODEL, data, path)
        return cls(
            from_reference_space_id=r.int("from_reference_space_id"),
            to_reference_space_id=r.int("to_reference_space_id"),
            t=r.floats("t", 12),
            id=r.int("id", None),
            extra=r.extra(),
        )

    def to_rma(self) -> dict:
        """The record as Allen RMA JSON."""
        out = dict(self.extra)
        out.update(
            id=self.id,
            from_reference_space_id=self.from_reference_space_id,
            to_reference_space_id=self.to_reference_space_id,
        )
        out.update(_named("t", self.t))
        return out


@dataclass(frozen=True, slots=True)
class Equalization:
    """Default display range of a data set's images, 0..4095 per channel (Allen
    ``Equalization``)."""

    MODEL: ClassVar[str] = "Equalization"
    section_data_set_id: int
    red_lower: float
    red_upper: float
    green_lower: float
    green_upper: float
    blue_lower: float
    blue_upper: float
    id: int | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_rma(cls, data, path=None):
        """Parse an RMA ``Equalization`` object."""
        r = _Reader(cls.MODEL, data, path)
        return cls(
            section_data_set_id=r.int("section_data_set_id"),
            red_lower=r.float("red_lower"),
            red_upper=r.float("red_upper"),
            green_lower=r.float("green_lower"),
            green_upper=r.float("green_upper"),
            blue_lower=r.float("blue_lower"),
            blue_upper=r.float("blue_upper"),
            id=r.int("id", None),
            extra=r.extra(),
        )

    @property
    def range(self) -> tuple[float, float, float, float, float, float]:
        """``(r_lo, r_hi, g_lo, g_hi, b_lo, b_hi)`` as ``image_download``'s ``range``."""
        return (
            self.red_lower,
            self.red_upper,
            self.green_lower,
            self.green_upper,
            self.blue_lower,
            self.blue_upper,
        )

    def to_rma(self) -> dict:
        """The record as Allen RMA JSON."""
        out = dict(self.extra)
        out.update(
            id=self.id,
            section_data_set_id=self.section_data_set_id,
            red_lower=self.red_lower,
            red_upper=self.red_upper,
            green_lower=self.green_lower,
            green_upper=self.green_upper,
            blue_lower=self.blue_lower,
            blue_upper=self.blue_upper,
        )
        return out
