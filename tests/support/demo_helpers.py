"""Helpers shared by the demo tests: the phantom's truth at synchronized pixels."""

from __future__ import annotations

import numpy as np

from napari_allen_sync.arithmetic import MIRROR_9_10_UM, image_to_reference_matrix, section_depth
from napari_allen_sync.demo import phantom


def pixel_to_space9(catalog, image_ids, x, y):
    """Space-9 µm of pixels, each through its own image's *forward* alignment
    (TSV, TVR), independent of the engine's inverse matrices."""
    image_ids = np.asarray(image_ids)
    out = np.empty((3, len(x)))
    for iid in np.unique(image_ids):
        im = catalog.section_image(int(iid))
        ds = catalog.section_data_set(im.data_set_id)
        m = image_to_reference_matrix(
            im.alignment2d.tsv_matrix, ds.alignment3d.tvr_matrix,
            float(section_depth(im.section_number, ds.section_thickness)),
        )
        sel = image_ids == iid
        pts = m @ np.vstack([x[sel], y[sel], np.ones(sel.sum())])
        if ds.reference_space_id == 10:
            pts[2] = MIRROR_9_10_UM - pts[2]
        out[:, sel] = pts
    return out


def structure_at_pixels(catalog, image_ids, x, y):
    """The phantom's structure id at pixels of demo images."""
    p, i, r = pixel_to_space9(catalog, image_ids, np.asarray(x, float), np.asarray(y, float))
    return phantom.structure_id_at(p, i, r)


def far_from_boundaries(p, i, r, radius):
    """True where every point within ``radius`` µm (26 directions) has the same
    structure as the centre."""
    centre = phantom.structure_id_at(p, i, r)
    ok = centre != 0
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dz in (-1, 0, 1):
                if dx == dy == dz == 0:
                    continue
                n = radius / np.sqrt(dx * dx + dy * dy + dz * dz)
                ok &= phantom.structure_id_at(p + dx * n, i + dy * n, r + dz * n) == centre
    return ok
