"""Where records and images come from: the common interface of every data source.

The napari layer, the server and the command line talk to an :class:`AtlasSource`
and never care whether it is the embedded demo atlas
(:class:`napari_allen_sync.demo.DemoSource`) or the real Allen service through the
persistent cache (:class:`napari_allen_sync.remote.RemoteSource`).

Methods that may touch the network or render pixels (``ensure_*``, ``image_levels``'s
chunks) can be slow: GUI code calls them from a worker thread.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from .catalog import Catalog
from .records import SectionDataSet, SectionImage, Structure
from .synchronizer import Synchronizer

__all__ = ["AtlasSource", "TileSource"]


@runtime_checkable
class TileSource(Protocol):
    """Anything that can produce a rectangular region of a section image at one tier.

    This is the shape of Allen's ``image_download`` request: ``left``/``top`` in
    full-resolution sync pixels (relative to the image's crop), ``width``/``height`` in
    pixels of the requested tier ``downsample`` (the tier is ``2**downsample`` times
    smaller than full resolution).
    """

    def read_region(
        self,
        image: SectionImage,
        downsample: int,
        left: int,
        top: int,
        width: int,
        height: int,
    ) -> np.ndarray:
        """An RGB ``uint8`` array of shape ``(height, width, 3)``.

        Pixels outside the image's crop are background (white, as Allen's slides).
        """
        ...


@runtime_checkable
class AtlasSource(Protocol):
    """A catalog, its synchronization engine, and the images of its records."""

    #: Short human-readable name ("Demo atlas", "Allen Brain Atlas API", a URL).
    name: str
    catalog: Catalog
    synchronizer: Synchronizer
    tiles: TileSource

    def status(self) -> str:
        """One of ``"offline (demo)"``, ``"online"``, ``"offline from cache"``,
        ``"unreachable"``."""
        ...

    def data_set_ids(self) -> list[int]:
        """SectionDataSets that can be offered without a network request."""
        ...

    def atlas_ids(self) -> list[int]:
        """Atlases that can be offered without a network request."""
        ...

    def ensure_data_set(self, section_data_set_id: int) -> SectionDataSet:
        """Make a data set (alignment3d, images with alignment2d) available in the
        catalog, fetching it if needed; raises an :class:`AllenSyncError` otherwise."""
        ...

    def ensure_atlas(self, atlas_id: int) -> None:
        """Make an atlas, its annotated plates and the ontology available."""
        ...

    def structure_at(self, reference_space_id: int, x, y, z,
                     wait: bool = True) -> list[Structure | None]:
        """The structure at each reference point (µm), or None where unknown or outside
        the brain. With ``wait=False`` a source whose annotation volume is still being
        downloaded answers None at once (and says why in ``annotation_problem``)."""
        ...

    def structure_ids_at(self, reference_space_id: int, x, y, z) -> np.ndarray:
        """The structure id at each reference point (µm, space 9 or 10; space 10 is
        mirrored to 9), 0 outside the brain: an ``int64`` array as long as ``x``.

        Every source answers through one lookup,
        :meth:`AnnotationVolume.structure_ids_at
        <napari_allen_sync.annotation.AnnotationVolume.structure_ids_at>`, on its
        annotation volume (the demo's phantom, or Allen's CCFv3 file downloaded once).
        """
        ...
