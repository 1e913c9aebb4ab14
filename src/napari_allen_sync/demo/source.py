"""The embedded demo atlas as an :class:`~napari_allen_sync.source.AtlasSource`."""

from __future__ import annotations

import numpy as np

from ..annotation import AnnotationVolume
from ..catalog import Catalog
from ..errors import UnknownIdError
from ..records import SectionDataSet, Structure
from ..synchronizer import Synchronizer
from ..validation import as_id
from .annotation import demo_annotation
from .catalog import DEMO_DATA_SET_IDS, build_demo_catalog, demo_catalog, demo_click
from .render import DemoTiles

__all__ = ["DemoSource"]


class DemoSource:
    """Everything offline: the demo catalog, its engine, rendered images, the phantom.

    Parameters
    ----------
    catalog : Catalog, optional
        Default: the shared :func:`~napari_allen_sync.demo.demo_catalog`. Pass
        ``build_demo_catalog()`` for a private copy that can be changed.
    annotation : bool
        Whether atlas plates show the annotation (see :class:`DemoTiles`).

    Examples
    --------
    >>> source = DemoSource()
    >>> source.status()
    'offline (demo)'
    >>> [s.acronym for s in source.structure_at(9, [6825], [3825], [6475])]
    ['TH']
    """

    name = "Demo atlas (embedded, offline)"
    #: Target sections read ahead before a click
    #: (:mod:`napari_allen_sync.session.read_ahead`): every one a click on a demo seed
    #: can reach (about fifty), rendered here, no network.
    READ_AHEAD_IMAGES = 64

    def __init__(self, catalog: Catalog | None = None, *, annotation: bool = True):
        self.catalog = catalog if catalog is not None else demo_catalog()
        self.synchronizer = Synchronizer(self.catalog)
        self.tiles = DemoTiles(self.catalog, annotation=annotation)

    def __repr__(self) -> str:
        return f"<DemoSource {self.catalog!r}>"

    @classmethod
    def private(cls) -> DemoSource:
        """A source on a fresh copy of the demo catalog (safe to add records to)."""
        return cls(build_demo_catalog())

    @property
    def seed_image_id(self) -> int:
        """The image the demo opens first (the Penk section through the demo click)."""
        return demo_click()[0]

    def status(self) -> str:
        """Always ``"offline (demo)"``."""
        return "offline (demo)"

    def data_set_ids(self) -> list[int]:
        """The demo experiments (not the atlas's data set)."""
        return [d for d in DEMO_DATA_SET_IDS if d in self.catalog.section_data_sets]

    def atlas_ids(self) -> list[int]:
        """The demo atlases (1 coronal, 2 sagittal)."""
        return sorted(self.catalog.atlases)

    def ensure_data_set(self, section_data_set_id: int) -> SectionDataSet:
        """The data set, already in the catalog; raises :class:`UnknownIdError` for an
        id the demo does not have (it never goes to the network)."""
        ds_id = as_id("section_data_set_id", section_data_set_id)
        if ds_id not in self.catalog.section_data_sets:
            raise UnknownIdError(
                "SectionDataSet",
                ds_id,
                f"the offline demo has data sets {', '.join(map(str, self.data_set_ids()))}",
            )
        return self.catalog.section_data_set(ds_id)

    def ensure_atlas(self, atlas_id: int) -> None:
        """Check that the atlas is one of the demo's (1 coronal, 2 sagittal); raises
        :class:`UnknownIdError`."""
        a_id = as_id("atlas_id", atlas_id)
        if a_id not in self.catalog.atlases:
            raise UnknownIdError(
                "Atlas", a_id,
                f"the offline demo has atlases {', '.join(map(str, self.atlas_ids()))}")

    def structure_at(self, reference_space_id: int, x, y, z,
                     wait: bool = True) -> list[Structure | None]:
        """The structure at each point (µm in space 9 or 10), None outside: the
        demo's annotation volume (:meth:`structure_ids_at`), always in memory (``wait``
        changes nothing).

        Space-10 points are mirrored to space 9 first, as the engine does
        (r9 = 11350 − r10).
        """
        structures = self.catalog.structures
        return [structures.get(int(s)) if s else None
                for s in self.structure_ids_at(reference_space_id, x, y, z)]

    def structure_ids_at(self, reference_space_id: int, x, y, z) -> np.ndarray:
        """As :meth:`structure_at`, as an array of structure ids (0 outside): the form
        for millions of points. The same lookup as the remote source's
        (:meth:`AnnotationVolume.structure_ids_at
        <napari_allen_sync.annotation.AnnotationVolume.structure_ids_at>`), on the
        phantom sampled at 50 µm (:func:`~.annotation.demo_annotation`)."""
        return self.annotation().structure_ids_at(reference_space_id, x, y, z)

    def annotation(self, progress=None) -> AnnotationVolume:
        """The demo's annotation volume (built on first use, about two seconds;
        ``progress`` is accepted for the same signature as the remote source's and
        called once at the end)."""
        volume = demo_annotation()
        if progress is not None:
            progress(1, 1)
        return volume

    def annotation_nrrd(self, resolution: int) -> bytes:
        """The demo volume at ``resolution`` µm (25, 50 or 100) as a gzip NRRD file,
        what ``serve --demo`` sends as ``annotation_{resolution}.nrrd``."""
        from .annotation import demo_annotation_nrrd

        return demo_annotation_nrrd(int(resolution))

    def overlay_view(self, section_data_set_id: int) -> str | None:
        """The overlay of a data set's images: ``"expression"`` (in situ),
        ``"projection"`` (connectivity) or None (atlas plates)."""
        from ..images import overlay_view

        ds = self.catalog.section_data_sets.get(as_id("section_data_set_id",
                                                      section_data_set_id))
        return None if ds is None else overlay_view(ds)
