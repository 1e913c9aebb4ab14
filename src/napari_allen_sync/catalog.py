"""The catalog: every record the synchronization needs, indexed by Allen id.

A :class:`Catalog` holds SectionDataSets, SectionImages and AtlasImages (with their
alignments), Atlases, the Structure ontology, StructureCenters,
ReferenceToReferenceTransforms and Equalizations. It loads from, and exports to, a
folder of Allen RMA answers: JSON envelopes ``{"success": true, "msg": [...]}`` such as
the answer to
``/api/v2/data/SectionDataSet/{id}.json?include=section_images(alignment2d),alignment3d``.

Loading is all or nothing: a malformed file or record raises
:class:`~napari_allen_sync.errors.CatalogFormatError` naming the file, the record id
and the field, and leaves the catalog as it was.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from .atomic import atomic_write
from .errors import CatalogFormatError, UnknownIdError
from .records import (
    Atlas,
    AtlasImage,
    Equalization,
    ReferenceToReferenceTransform,
    SectionDataSet,
    SectionImage,
    Structure,
    StructureCenter,
)

__all__ = ["Catalog", "envelope", "read_rma_file"]

#: Models a file name may announce as its prefix (``SectionDataSet-123-....json``).
MODELS = {
    "SectionDataSet": SectionDataSet,
    "AtlasDataSet": SectionDataSet,
    "SectionImage": SectionImage,
    "AtlasImage": AtlasImage,
    "Atlas": Atlas,
    "Structure": Structure,
    "StructureCenter": StructureCenter,
    "ReferenceToReferenceTransform": ReferenceToReferenceTransform,
    "Equalization": Equalization,
}


def envelope(msg) -> dict:
    """Wrap ``msg`` in an Allen RMA answer envelope."""
    n = len(msg) if isinstance(msg, list) else 1
    return {"success": True, "id": 0, "start_row": 0, "num_rows": n, "total_rows": n, "msg": msg}


#: File-name prefix of cached search answers (:mod:`napari_allen_sync.search`): Allen RMA
#: answers whose rows are search hits, not records of the catalog.
SEARCH_PREFIX = "Search"


def _model_from_name(path: Path):
    stem = path.name.split(".")[0]
    head = stem.split("-")[0]
    return MODELS.get(head)


def _is_search_answer(path: Path) -> bool:
    return path.name.split(".")[0].split("-")[0] == SEARCH_PREFIX


def _model_from_fields(data: dict):
    """Guess the Allen model of an un-named record from the fields it carries."""
    if "from_reference_space_id" in data:
        return ReferenceToReferenceTransform
    if "red_lower" in data:
        return Equalization
    if "acronym" in data or "structure_id_path" in data:
        return Structure
    if "plane_of_section_id" in data or "section_thickness" in data:
        return SectionDataSet
    if "section_number" in data and "data_set_id" in data:
        return SectionImage
    if "structure_id" in data and "reference_space_id" in data and "z" in data:
        return StructureCenter
    if "structure_graph_id" in data or "atlas_data_sets" in data:
        return Atlas
    return None


def read_rma_file(path) -> list:
    """Read the ``msg`` list of one Allen RMA answer file.

    Parameters
    ----------
    path : str or os.PathLike
        A JSON file holding ``{"success": true, "msg": [...]}``.

    Returns
    -------
    list of dict
        The records of ``msg`` (a single object is returned as a list of one).

    Raises
    ------
    CatalogFormatError
        If the file is not JSON, not an envelope, or reports ``success: false``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogFormatError(f"cannot be read ({exc})", path=path) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogFormatError(f"is not valid JSON ({exc})", path=path) from exc
    if not isinstance(data, dict) or "msg" not in data:
        raise CatalogFormatError(
            'is not an Allen RMA answer (expected {"success": true, "msg": [...]})', path=path
        )
    if data.get("success") is False:
        raise CatalogFormatError(f"records a failed request: {data.get('msg')!r}", path=path)
    msg = data["msg"]
    if isinstance(msg, dict):
        msg = [msg]
    if not isinstance(msg, list):
        raise CatalogFormatError(f"has a msg that is not a list of records: {msg!r:.80}", path=path)
    return msg


class Catalog:
    """Allen records indexed by id.

    Parameters
    ----------
    records : iterable, optional
        Records to add (any of the classes of :mod:`napari_allen_sync.records`).

    Examples
    --------
    >>> from napari_allen_sync.records import SectionDataSet
    >>> catalog = Catalog([SectionDataSet(id=1, plane_of_section_id=1,
    ...                                   section_thickness=25.0, reference_space_id=9)])
    >>> catalog.section_data_set(1).plane
    'coronal'
    """

    def __init__(self, records: Iterable = ()):
        self._lock = threading.RLock()
        self.section_data_sets: dict[int, SectionDataSet] = {}
        self.section_images: dict[int, SectionImage] = {}
        self.atlases: dict[int, Atlas] = {}
        self.structures: dict[int, Structure] = {}
        self.structure_centers: dict[tuple[int, int], StructureCenter] = {}
        self.transforms: dict[tuple[int, int], ReferenceToReferenceTransform] = {}
        self.equalizations: dict[int, Equalization] = {}
        self._images_by_data_set: dict[int, list[int]] = {}
        self._sorted: dict[int, tuple[SectionImage, ...]] = {}
        #: Incremented on every change; engines use it to drop derived tables.
        self.revision = 0
        self.add_all(records)

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ adding
    def add(self, record) -> None:
        """Add (or replace) one record."""
        self.add_all([record])

    def add_all(self, records: Iterable) -> None:
        """Add (or replace) records; a record with an id already present replaces it."""
        with self._lock:
            for rec in records:
                self._add_one(rec)
            self.revision += 1
            self._sorted.clear()

    def _add_one(self, rec) -> None:
        if isinstance(rec, SectionImage):
            old = self.section_images.get(rec.id)
            if old is not None and old.data_set_id != rec.data_set_id:
                self._images_by_data_set[old.data_set_id].remove(rec.id)
                old = None
            self.section_images[rec.id] = rec
            if old is None:
                self._images_by_data_set.setdefault(rec.data_set_id, []).append(rec.id)
        elif isinstance(rec, SectionDataSet):
            self.section_data_sets[rec.id] = rec
        elif isinstance(rec, Atlas):
            self.atlases[rec.id] = rec
        elif isinstance(rec, Structure):
            self.structures[rec.id] = rec
        elif isinstance(rec, StructureCenter):
            self.structure_centers[(rec.structure_id, rec.reference_space_id)] = rec
        elif isinstance(rec, ReferenceToReferenceTransform):
            key = (rec.from_reference_space_id, rec.to_reference_space_id)
            self.transforms[key] = rec
        elif isinstance(rec, Equalization):
            self.equalizations[rec.section_data_set_id] = rec
        else:
            raise TypeError(f"not an Allen record: {rec!r}")

    def update(self, other: Catalog) -> None:
        """Add every record of another catalog."""
        self.add_all(other.records())

    def records(self) -> Iterator:
        """Every record of the catalog."""
        with self._lock:
            items = [
                *self.section_data_sets.values(),
                *self.section_images.values(),
                *self.atlases.values(),
                *self.structures.values(),
                *self.structure_centers.values(),
                *self.transforms.values(),
                *self.equalizations.values(),
            ]
        return iter(items)

    def __len__(self) -> int:
        return sum(1 for _ in self.records())

    def __repr__(self) -> str:
        return (
            f"<Catalog {len(self.section_data_sets)} data sets, "
            f"{len(self.section_images)} images, {len(self.atlases)} atlases, "
            f"{len(self.structures)} structures>"
        )

    # ------------------------------------------------------------------ lookup
    def section_data_set(self, section_data_set_id) -> SectionDataSet:
        """The SectionDataSet with this id (raises :class:`UnknownIdError`)."""
        try:
            return self.section_data_sets[section_data_set_id]
        except (KeyError, TypeError):
            raise UnknownIdError(
                "SectionDataSet", section_data_set_id, "not in the catalog"
            ) from None

    def section_image(self, section_image_id) -> SectionImage:
        """The SectionImage or AtlasImage with this id (raises :class:`UnknownIdError`)."""
        try:
            return self.section_images[section_image_id]
        except (KeyError, TypeError):
            raise UnknownIdError("SectionImage", section_image_id, "not in the catalog") from None

    def atlas(self, atlas_id) -> Atlas:
        """The Atlas with this id (raises :class:`UnknownIdError`)."""
        try:
            return self.atlases[atlas_id]
        except (KeyError, TypeError):
            raise UnknownIdError("Atlas", atlas_id, "not in the catalog") from None

    def structure(self, structure_id) -> Structure:
        """The Structure with this id (raises :class:`UnknownIdError`)."""
        try:
            return self.structures[structure_id]
        except (KeyError, TypeError):
            raise UnknownIdError("Structure", structure_id, "not in the ontology") from None

    def structure_by_acronym(self, acronym: str) -> Structure:
        """The Structure with this acronym (case-insensitive)."""
        wanted = acronym.casefold()
        for s in self.structures.values():
            if s.acronym.casefold() == wanted:
                return s
        raise UnknownIdError("Structure acronym", acronym, "not in the ontology")

    def ancestors(self, structure_id) -> list[Structure]:
        """The structure and its parents up to the root, nearest first."""
        chain = []
        seen = set()
        current = self.structure(structure_id)
        while current is not None and current.id not in seen:
            chain.append(current)
            seen.add(current.id)
            parent = current.parent_structure_id
            current = self.structures.get(parent) if parent is not None else None
        return chain

    def structure_center(self, structure_id, reference_space_id) -> StructureCenter:
        """The StructureCenter of a structure in one reference space."""
        try:
            return self.structure_centers[(structure_id, reference_space_id)]
        except (KeyError, TypeError):
            raise UnknownIdError(
                "StructureCenter",
                structure_id,
                f"no centre of this structure in reference space {reference_space_id}",
            ) from None

    def images_of(self, section_data_set_id) -> tuple[SectionImage, ...]:
        """The images of a data set, sorted by section number (then id)."""
        with self._lock:
            cached = self._sorted.get(section_data_set_id)
            if cached is None:
                ids = self._images_by_data_set.get(section_data_set_id, [])
                images = [self.section_images[i] for i in ids]
                cached = tuple(sorted(images, key=lambda im: (im.section_number, im.id)))
                self._sorted[section_data_set_id] = cached
            return cached

    def atlas_data_set(self, atlas_id) -> SectionDataSet:
        """The data set that holds an atlas's plates (the first with images)."""
        atlas = self.atlas(atlas_id)
        for ds_id in atlas.data_set_ids:
            if ds_id in self.section_data_sets and self.images_of(ds_id):
                return self.section_data_sets[ds_id]
        for ds_id in atlas.data_set_ids:
            if ds_id in self.section_data_sets:
                return self.section_data_sets[ds_id]
        raise UnknownIdError(
            "Atlas data set",
            atlas_id,
            f"atlas {atlas_id} ({atlas.name}) has no data set in the catalog "
            f"(listed: {list(atlas.data_set_ids)})",
        )

    def equalization(self, section_data_set_id) -> Equalization | None:
        """The data set's Equalization, or None when unknown."""
        return self.equalizations.get(section_data_set_id)

    # ------------------------------------------------------------------ files
    @classmethod
    def from_folder(cls, folder) -> Catalog:
        """Load every ``*.json`` Allen RMA answer of a folder (recursively).

        Raises
        ------
        CatalogFormatError
            On the first malformed file or record, naming file, record id and field.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise CatalogFormatError("is not a folder", path=folder)
        catalog = cls()
        catalog.load_folder(folder)
        return catalog

    def load_folder(self, folder) -> None:
        """Add the records of every ``*.json`` file below ``folder``; all or nothing."""
        staged: dict = {}
        for path in sorted(Path(folder).rglob("*.json")):
            for rec in self.parse_file(path):
                self._stage(staged, rec, path)
        self.add_all(staged.values())

    def load_file(self, path) -> None:
        """Add the records of one Allen RMA answer file; all or nothing."""
        self.add_all(self.parse_file(path))

    @staticmethod
    def _stage(staged, rec, path):
        key = _key(rec)
        old = staged.get(key)
        if old is not None and old != rec:
            raise CatalogFormatError(
                f"another file already holds a different {rec.MODEL} with this id",
                path=path,
                record_id=key[1],
            )
        staged[key] = rec

    @staticmethod
    def parse_file(path, *, name=None) -> list:
        """Parse one Allen RMA answer file into records (nested records included).

        ``name``, when given, is the file name that tells the model (for a temporary
        file that will get that name). A cached search answer (``Search-*.json``) holds
        no records: it is checked to be an answer whose rows are objects and gives an
        empty list.
        """
        path = Path(path)
        named = _model_from_name(Path(name) if name is not None else path)
        out: list = []
        rows = read_rma_file(path)
        if _is_search_answer(Path(name) if name is not None else path):
            for k, item in enumerate(rows):
                if not isinstance(item, dict):
                    raise CatalogFormatError(f"search answer row {k} is not an object",
                                             path=path)
            return []
        for item in rows:
            model = named or (_model_from_fields(item) if isinstance(item, dict) else None)
            if model is None:
                rid = item.get("id") if isinstance(item, dict) else None
                raise CatalogFormatError(
                    "holds a record of unknown model (name the file after its model, "
                    "e.g. 'SectionDataSet-123.json')",
                    path=path,
                    record_id=rid,
                )
            out.extend(_parse_tree(model, item, path))
        return out

    def to_folder(self, folder) -> list[Path]:
        """Write the catalog as Allen RMA answers, one file per data set or atlas.

        The files are those :meth:`from_folder` reads; each write is atomic.

        Returns
        -------
        list of pathlib.Path
            The files written.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        atlas_ds = {d for a in self.atlases.values() for d in a.data_set_ids}
        for ds in self.section_data_sets.values():
            if ds.id in atlas_ds:
                continue
            written.append(
                _write_json(
                    folder / f"SectionDataSet-{ds.id}.json", envelope([self.data_set_rma(ds.id)])
                )
            )
        for atlas in self.atlases.values():
            rma = atlas.to_rma()
            rma["atlas_data_sets"] = [
                self.data_set_rma(d, key="atlas_images")
                for d in atlas.data_set_ids
                if d in self.section_data_sets
            ]
            written.append(_write_json(folder / f"Atlas-{atlas.id}.json", envelope([rma])))
        # Images whose data set is unknown still round-trip.
        known = set(self.section_data_sets)
        loose = [im for im in self.section_images.values() if im.data_set_id not in known]
        groups = [
            ("SectionImage", [im.to_rma() for im in loose if type(im) is SectionImage]),
            ("AtlasImage", [im.to_rma() for im in loose if isinstance(im, AtlasImage)]),
            ("Structure", [s.to_rma() for s in self.structures.values()]),
            ("StructureCenter", [c.to_rma() for c in self.structure_centers.values()]),
            ("ReferenceToReferenceTransform", [t.to_rma() for t in self.transforms.values()]),
            ("Equalization", [e.to_rma() for e in self.equalizations.values()]),
        ]
        for name, rows in groups:
            if rows:
                written.append(_write_json(folder / f"{name}.json", envelope(rows)))
        return written

    def data_set_rma(self, section_data_set_id, key="section_images") -> dict:
        """A data set as the RMA answer to
        ``SectionDataSet/{id}.json?include=section_images(alignment2d),alignment3d``."""
        ds = self.section_data_set(section_data_set_id)
        rma = ds.to_rma()
        rma[key] = [im.to_rma() for im in self.images_of(ds.id)]
        return rma


def _key(rec):
    if isinstance(rec, SectionImage):
        return ("SectionImage", rec.id)
    if isinstance(rec, StructureCenter):
        return ("StructureCenter", (rec.structure_id, rec.reference_space_id))
    if isinstance(rec, ReferenceToReferenceTransform):
        return ("Transform", (rec.from_reference_space_id, rec.to_reference_space_id))
    if isinstance(rec, Equalization):
        return ("Equalization", rec.section_data_set_id)
    return (rec.MODEL, rec.id)


def _parse_tree(model, item, path) -> list:
    """Parse one record with its nested records (images, atlas data sets)."""
    if model is SectionDataSet:
        return _data_set_tree(item, path)
    if model is Atlas:
        return _atlas_tree(item, path)
    if model is Structure:
        return _structure_tree(item, path)
    return [model.from_rma(item, path)]


def _data_set_tree(item, path) -> list:
    """A SectionDataSet and its nested section or atlas images."""
    ds = SectionDataSet.from_rma(item, path)
    out = [ds]
    for key, image_model in (("section_images", SectionImage), ("atlas_images", AtlasImage)):
        nested = item.get(key)
        if nested is None:
            continue
        if not isinstance(nested, list):
            raise CatalogFormatError("needs a list", path=path, record_id=ds.id, field=key)
        out.extend(_nested_image(image_model, im, ds.id, path) for im in nested)
    return out


def _nested_image(image_model, im, data_set_id: int, path):
    """One image nested in a data set's record (its ``data_set_id`` implied)."""
    if isinstance(im, dict) and "data_set_id" not in im:
        im = {**im, "data_set_id": data_set_id}
    rec = image_model.from_rma(im, path)
    if rec.data_set_id != data_set_id:
        raise CatalogFormatError(
            f"nested image belongs to data set {rec.data_set_id}, not {data_set_id}",
            path=path,
            record_id=rec.id,
            field="data_set_id",
        )
    return rec


def _atlas_tree(item, path) -> list:
    """An Atlas and the data sets (with their plates) nested in it."""
    out = [Atlas.from_rma(item, path)]
    for ds_item in item.get("atlas_data_sets") or []:
        if isinstance(ds_item, dict) and "plane_of_section_id" in ds_item:
            if "section_images" in ds_item and "atlas_images" not in ds_item:
                ds_item = dict(ds_item)
                ds_item["atlas_images"] = ds_item.pop("section_images")
            out.extend(_data_set_tree(ds_item, path))
    return out


def _structure_tree(item, path) -> list:
    """Structures of an ontology nested through ``children`` (Allen's
    ``structure_graph_download``), depth first; a structure without a
    ``structure_id_path`` gets the path of its nesting."""
    out = []
    stack = [(item, ())]
    while stack:
        node, chain = stack.pop()
        if not isinstance(node, dict) or "children" not in node:
            rec = Structure.from_rma(node, path)
            out.append(rec if rec.structure_id_path else _with_path(rec, chain))
            continue
        children = node["children"]
        flat = {k: v for k, v in node.items() if k != "children"}
        rec = Structure.from_rma(flat, path)
        if not rec.structure_id_path:
            rec = _with_path(rec, chain)
        if chain and rec.parent_structure_id != chain[-1]:
            raise CatalogFormatError(
                f"nested under structure {chain[-1]} but its parent_structure_id is "
                f"{rec.parent_structure_id}", path=path, record_id=rec.id,
                field="parent_structure_id")
        if not isinstance(children, list):
            raise CatalogFormatError("needs a list", path=path, record_id=rec.id,
                                     field="children")
        out.append(rec)
        stack.extend((child, rec.structure_id_path) for child in reversed(children))
    return out


def _with_path(rec, chain):
    return dataclasses.replace(rec, structure_id_path=(*chain, rec.id))


def _write_json(path: Path, data) -> Path:
    """Write JSON atomically (:func:`napari_allen_sync.atomic.atomic_write`)."""
    with atomic_write(path, "w") as f:
        json.dump(data, f, separators=(",", ":"))
    return path
