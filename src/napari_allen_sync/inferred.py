"""Every rule of the synchronization that docs/arithmetic.md marks *inferred*, in one place.

The Allen service's behaviour is known exactly only where recorded answers confirm it
(``docs/arithmetic.md``, ``tests/data/ground-truth.json``). Where it is not, the choice this package
makes lives here, documented, so that it can be changed in one place once the live
service tells otherwise. The engine (:mod:`napari_allen_sync.synchronizer`) and the
image pyramids call these functions and constants and decide nothing of this kind
themselves.

Checked facts that are *not* choices (matrix layout, ``vz = section_number ×
section_thickness``, the 9 ↔ 10 mirror at 11350 µm) live with the arithmetic in
:mod:`napari_allen_sync.arithmetic`.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CLAMP_TOLERANCE_SECTIONS",
    "IMAGE_SYNC_DATA_SET_ID_AS_STRING",
    "PIXEL_CENTER_OFFSET",
    "TIE_BREAK_TOWARDS_LOWER_SECTION",
    "is_atlas_candidate",
    "is_usable_image",
    "nearest_sections",
    "structure_center_space",
    "tier_pixel_center",
]

#: [inferred] When a point lies exactly half-way between two sections, the section with
#: the lower section number is chosen. No recorded answer falls on a tie.
TIE_BREAK_TOWARDS_LOWER_SECTION = True

#: Points within this many sections (1e-6 × thickness µm) of the first or last plane
#: count as on it, not beyond it, when :func:`nearest_sections` reports clamping.
CLAMP_TOLERANCE_SECTIONS = 1e-6

#: [documented: the recorded envelope sends "479"] ``image_sync.section_data_set_id`` is
#: written as a JSON string, as the live service does; ``image_to_atlas`` sends null.
IMAGE_SYNC_DATA_SET_ID_AS_STRING = True

#: [inferred, Allen leaves it open; docs/arithmetic.md] Sync coordinates put the *centre* of
#: full-resolution pixel (column j, row i) at (x, y) = (j, i) + PIXEL_CENTER_OFFSET.
#: With 0.0 the centre is on integer coordinates, which is also napari's convention, so
#: a napari image layer of tier 0 needs no translation. Pixel (j, i) then covers
#: [j − ½, j + ½) × [i − ½, i + ½).
PIXEL_CENTER_OFFSET = 0.0


def is_usable_image(image) -> bool:
    """[inferred] Whether an image can be a synchronization target.

    Failed images are skipped, and so are images without an ``alignment2d`` (failed
    images have none in Allen's data, so the two rules agree there).
    """
    return not image.failed and image.alignment2d is not None


def is_atlas_candidate(image) -> bool:
    """[inferred] ``image_to_atlas`` chooses only among *annotated* atlas plates."""
    return is_usable_image(image) and bool(image.annotated)


def nearest_sections(section_numbers: np.ndarray, q: np.ndarray):
    """[checked, tie rule inferred] Index of the section nearest to each ``q``.

    Parameters
    ----------
    section_numbers : numpy.ndarray
        Sorted, strictly increasing section numbers of the candidate images.
    q : numpy.ndarray
        ``vz / section_thickness`` of each point (fractional section numbers).

    Returns
    -------
    index : numpy.ndarray of intp
        Position in ``section_numbers`` of the chosen section. Points before the first
        or past the last section get the first or last one (clamping, [checked]).
    clamped : numpy.ndarray of bool
        True where ``q`` lies outside ``[section_numbers[0], section_numbers[-1]]``
        (by more than :data:`CLAMP_TOLERANCE_SECTIONS`, so that a point on the first
        or last plane up to rounding is not called clamped): the choice was clamped.
        The service does not report this.

    Notes
    -----
    Ties (``q`` exactly half-way) go to the lower section number
    (:data:`TIE_BREAK_TOWARDS_LOWER_SECTION`).
    """
    sn = np.asarray(section_numbers, dtype=float)
    mid = 0.5 * (sn[1:] + sn[:-1])
    side = "left" if TIE_BREAK_TOWARDS_LOWER_SECTION else "right"
    index = np.searchsorted(mid, q, side=side)
    clamped = (q < sn[0] - CLAMP_TOLERANCE_SECTIONS) | (q > sn[-1] + CLAMP_TOLERANCE_SECTIONS)
    return index, clamped


def structure_center_space(data_set_reference_space_id: int) -> int:
    """[inferred] ``structure_to_image`` takes the StructureCenter *recorded in the data
    set's own reference space* (not a mirrored copy from another space: docs/arithmetic.md notes
    that recorded centre pairs for spaces 9 and 10 sum to 11400, not 11350)."""
    return data_set_reference_space_id


def tier_pixel_center(downsample: int) -> tuple[float, float]:
    """[inferred] Scale and offset that put tier ``downsample`` pixels in sync pixels.

    Pixel k of tier d covers full-resolution pixels ``k·2^d .. k·2^d + 2^d − 1``; its
    centre therefore lies at ``k·2^d + (2^d − 1)/2`` (+ :data:`PIXEL_CENTER_OFFSET`).

    Returns
    -------
    scale, translate : float
        Sync coordinate of tier pixel k is ``scale · k + translate``.
    """
    f = float(2**downsample)
    return f, (f - 1.0) / 2.0 + PIXEL_CENTER_OFFSET
