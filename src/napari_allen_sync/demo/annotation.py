"""The demo's annotation volume: the phantom brain sampled on a CCF voxel grid.

The demo answers "which structure is here" with the same code as the real service's
volume (:class:`~napari_allen_sync.annotation.AnnotationVolume`): a volume of structure
ids laid out as Allen's CCFv3 annotation (AP × DV × LR of reference space 9), whose
voxel ``(i, j, k)`` holds :func:`.phantom.structure_id_at` at its centre.

- 50 µm, the phantom's own voxel size (:data:`DEMO_RESOLUTION_UM`), is what
  :class:`~napari_allen_sync.demo.DemoSource` uses: 264 × 160 × 228 voxels, built on first
  use in about two seconds, kept for the process and written to the cache folder
  (``<cache>/demo/annotation_50-<phantom fingerprint>.npy``), from which later
  processes map it in milliseconds.
- 25 µm (the size the plugin downloads by default) is the 50 µm volume with each voxel
  split in 2 × 2 × 2, so a client reading it over HTTP answers exactly as the demo does.
- 100 µm samples the phantom at the 100 µm voxel centres.

``napari-allen-sync serve --demo`` serves these as ``annotation_{25,50,100}.nrrd``
under Allen's download path (:func:`demo_annotation_nrrd`); 10 µm (1.2 billion voxels)
is not offered.
"""

from __future__ import annotations

import threading
from functools import cache

import numpy as np

from ..annotation import CCF_EXTENT_UM, AnnotationVolume
from ..errors import AnnotationError
from . import phantom

__all__ = ["DEMO_RESOLUTIONS_UM", "DEMO_RESOLUTION_UM", "demo_annotation", "demo_annotation_nrrd"]

#: The demo volume's own voxel size (the phantom's).
DEMO_RESOLUTION_UM = 50
#: Voxel sizes the demo offers.
DEMO_RESOLUTIONS_UM = (25, 50, 100)

_lock = threading.Lock()


def _sample_phantom(resolution: int) -> np.ndarray:
    shape = tuple(int(e // resolution) for e in CCF_EXTENT_UM)
    ax = [(np.arange(n) + 0.5) * resolution for n in shape]
    y, z = np.meshgrid(ax[1], ax[2], indexing="ij")
    out = np.empty(shape, np.uint32)
    for i, x in enumerate(ax[0]):
        out[i] = phantom.structure_id_at(np.full(y.shape, x), y, z)
    return out


def _fingerprint() -> str:
    """Changes whenever the phantom's code (hence its anatomy) changes."""
    import hashlib
    from pathlib import Path

    return hashlib.sha256(Path(phantom.__file__).read_bytes()).hexdigest()[:16]


def _cached_50() -> AnnotationVolume:
    """The 50 µm volume from the cache folder, or built and stored there."""
    import logging

    from ..cache import default_cache_dir

    log = logging.getLogger(__name__)
    shape = tuple(int(e // 50) for e in CCF_EXTENT_UM)
    path = default_cache_dir() / "demo" / f"annotation_50-{_fingerprint()}.npy"
    if path.is_file():
        try:
            return AnnotationVolume.read_decoded(path, 50, shape)
        except AnnotationError as exc:
            log.warning("demo annotation volume in the cache is unusable, rebuilding: %s", exc)
    volume = AnnotationVolume(_sample_phantom(50), 50)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        volume.write_decoded(path)
    except OSError as exc:  # a read-only cache: built again next time
        log.warning("cannot keep the demo annotation volume: %s", exc)
    return volume


@cache
def _volume(resolution: int) -> AnnotationVolume:
    if resolution == 50:
        with _lock:
            return _cached_50()
    if resolution == 25:
        ids = demo_annotation(50).ids
        for axis in range(3):
            ids = np.repeat(ids, 2, axis=axis)
        return AnnotationVolume(ids, 25)
    with _lock:
        return AnnotationVolume(_sample_phantom(resolution), resolution)


def demo_annotation(resolution: int = DEMO_RESOLUTION_UM) -> AnnotationVolume:
    """The demo's annotation volume at ``resolution`` µm (built once per process).

    Raises
    ------
    AnnotationError
        For a voxel size the demo does not offer.

    Examples
    --------
    >>> vol = demo_annotation()
    >>> vol.shape
    (264, 160, 228)
    >>> vol.structure_ids_at(9, [6500], [4000], [6400]).tolist()   # the thalamus
    [549]
    """
    res = int(resolution)
    if res not in DEMO_RESOLUTIONS_UM:
        raise AnnotationError(
            f"the demo has annotation volumes of {', '.join(map(str, DEMO_RESOLUTIONS_UM))} "
            f"µm, not {resolution}")
    return _volume(res)


@cache
def demo_annotation_nrrd(resolution: int) -> bytes:
    """The demo volume as a gzip-encoded NRRD file, as Allen's ``annotation_{res}.nrrd``
    (built once per process)."""
    return demo_annotation(resolution).to_nrrd_bytes()
