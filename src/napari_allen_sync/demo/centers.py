"""StructureCenters of the demo ontology in reference spaces 9 and 10.

A centre is taken in the *right* hemisphere of space 9 (z > 5700), where the coronal
atlas is annotated. The sagittal demo set samples its specimen's left hemisphere; once
registered to space 10 (PIL) it lies at r10 < 5675, which the 9 ↔ 10 mirror brings
onto the right hemisphere of space 9 — so the same physical centre serves both spaces.
As Allen's recorded pairs do, the space-10 centre's z is ``11400 − z9`` (not the
service's 11350 mirror: the two differ by 50 µm).

The centre is the structure's centroid, moved to the nearest voxel lying at least
:data:`CLEARANCE_UM` inside the structure (the centroid of a curved sheet such as the
isocortex lies outside it), so ``structure_to_image`` lands inside the structure in
every demo experiment: the nearest section is at most half a section spacing (100 µm)
away.

Computing them needs the phantom's label volume (about a second), so the values are
stored in :data:`STRUCTURE_CENTERS_9`; ``tests/demo/test_demo_phantom.py`` checks that
:func:`compute_structure_centers` still gives them.
"""

from __future__ import annotations

import numpy as np

from ..records import StructureCenter
from .ontology import STRUCTURE_TABLE, descendants_painted, id_to_code
from .phantom import MIDLINE_UM, VOXEL_UM, label_volume

__all__ = [
    "CLEARANCE_UM",
    "STRUCTURE_CENTERS_9",
    "compute_structure_centers",
    "demo_structure_centers",
]

#: How far inside its structure a centre lies at least (µm), where the structure allows.
CLEARANCE_UM = 200.0
#: Sum of recorded space-9 and space-10 centre z's (docs/arithmetic.md).
CENTER_MIRROR_SUM_UM = 11400

#: (x, y, z) µm in space 9 of each structure, from :func:`compute_structure_centers`.
STRUCTURE_CENTERS_9: dict[int, tuple[int, int, int]] = {
    997: (6625, 3925, 7425),
    8: (6625, 3975, 7425),
    567: (5125, 3775, 7675),
    688: (5625, 4425, 8725),
    695: (6075, 2925, 7775),
    315: (5625, 2575, 9175),
    698: (3975, 5625, 6975),
    1089: (6725, 2675, 7125),
    703: (6125, 4675, 8525),
    623: (4725, 3675, 7125),
    477: (4625, 3475, 7125),
    803: (5625, 5275, 7275),
    343: (8025, 5075, 6475),
    1129: (6675, 5025, 6575),
    549: (6825, 4225, 6825),
    1097: (6475, 6275, 6225),
    313: (9625, 4075, 6525),
    1065: (10625, 6025, 6425),
    771: (9475, 6325, 6525),
    354: (11625, 5775, 6375),
    512: (10975, 3425, 7525),
    1009: (7475, 2975, 8175),
    73: (10775, 4825, 5925),
}


def binary_erosion(mask: np.ndarray) -> np.ndarray:
    """One binary erosion by the cross of the six face neighbours, with nothing outside
    the array (what ``scipy.ndimage.binary_erosion(mask)`` computes, in NumPy alone)."""
    padded = np.pad(np.asarray(mask, dtype=bool), 1, constant_values=False)
    inner = tuple(slice(1, -1) for _ in range(padded.ndim))
    out = padded[inner].copy()
    for axis in range(padded.ndim):
        for shift in (-1, 1):
            out &= np.roll(padded, shift, axis=axis)[inner]
    return out


def compute_structure_centers() -> dict[int, tuple[int, int, int]]:
    """Centres (integer µm, space 9) of every structure, from the phantom."""
    labels = label_volume()
    half = labels.shape[2] // 2
    right = labels[:, :, half:]
    out = {}
    for sid, *_ in STRUCTURE_TABLE:
        codes = [id_to_code(p) for p in descendants_painted(sid)]
        if sid == 997:
            mask = right != 0
        else:
            mask = np.isin(right, codes)
        idx = np.argwhere(mask)
        centroid = idx.mean(axis=0)
        inner = mask
        for _ in range(int(CLEARANCE_UM / VOXEL_UM)):
            eroded = binary_erosion(inner)
            if not eroded.any():
                break
            inner = eroded
        cand = np.argwhere(inner)
        best = cand[np.argmin(((cand - centroid) ** 2).sum(axis=1))]
        xyz = (best + 0.5) * VOXEL_UM
        xyz[2] += MIDLINE_UM
        out[sid] = tuple(round(float(v)) for v in xyz)
    return out


def demo_structure_centers() -> list[StructureCenter]:
    """StructureCenter records in reference spaces 9 and 10."""
    out = []
    for sid, (x, y, z) in STRUCTURE_CENTERS_9.items():
        out.append(StructureCenter(sid, 9, float(x), float(y), float(z)))
        out.append(StructureCenter(sid, 10, float(x), float(y), float(CENTER_MIRROR_SUM_UM - z)))
    return out
