"""napari-allen-sync: synchronize Allen Brain Atlas section images, online or offline.

The core (this package outside ``_napari``) imports neither napari nor Qt:

- :class:`Catalog` and the records of :mod:`napari_allen_sync.records`;
- :class:`Synchronizer`, Allen's six synchronization services computed offline;
- :class:`SynchronizationApi`, a drop-in for AllenSDK's client of the live service;
- :mod:`napari_allen_sync.demo`, the embedded demo atlas;
- :mod:`napari_allen_sync.batch`, chunked synchronization with dask.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .catalog import Catalog
from .errors import (
    AllenSyncError,
    CacheError,
    CatalogFormatError,
    InvalidCoordinateError,
    InvalidIdListError,
    MissingAlignmentError,
    NoUsableImagesError,
    ServiceError,
    ServiceTimeoutError,
    ServiceUnavailableError,
    UnknownIdError,
)
from .records import (
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
from .results import ImageSyncBatch, ReferencePoints
from .synchronizer import Synchronizer

__all__ = [
    "Alignment2d",
    "Alignment3d",
    "AllenSyncError",
    "Atlas",
    "AtlasImage",
    "CacheError",
    "Catalog",
    "CatalogFormatError",
    "Equalization",
    "ImageSyncBatch",
    "InvalidCoordinateError",
    "InvalidIdListError",
    "MissingAlignmentError",
    "NoUsableImagesError",
    "ReferencePoints",
    "ReferenceToReferenceTransform",
    "SectionDataSet",
    "SectionImage",
    "ServiceError",
    "ServiceTimeoutError",
    "ServiceUnavailableError",
    "Structure",
    "StructureCenter",
    "SynchronizationApi",
    "Synchronizer",
    "UnknownIdError",
]


def __getattr__(name):
    # The HTTP client pulls in requests/urllib3: imported on first use only.
    if name == "SynchronizationApi":
        from .client import SynchronizationApi

        return SynchronizationApi
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
