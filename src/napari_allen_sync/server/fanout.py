"""One point into many data sets at once: the list services' vectorized path.

The engine's batch forms (``image_to_image_batch``, ``reference_to_image_batch``) are
vectorized over *points* and loop over target data sets in Python (about 65 µs per
target, most of it NumPy's per-call overhead on one-element arrays). A list service asks
the opposite: one point, up to 10,000 targets. :func:`to_data_sets` computes that with
arrays over the targets: the engine's own tables (:meth:`Synchronizer.stack`, its
``reference_transform``) and the same arithmetic, operation for operation, as the
engine's ``_to_stack`` for one point (so every float is the same:
``tests/http/test_server_fanout.py`` checks the answers against the engine's Allen form, one
target at a time):

- ``(vx, vy, vz) = M · (x, y, z, 1)`` with ``M = compose_3x4(TRV, T)`` per target;
- the nearest section of ``q = vz / thickness``: the engine's own
  :class:`~napari_allen_sync.section_lookup.SectionLookup` of each stack, asked for all
  targets at once (:func:`~napari_allen_sync.section_lookup.index_of_each`);
- ``(x, y) = TVS · (vx, vy, 1)`` of the chosen image.
"""

from __future__ import annotations

import numpy as np

from .. import inferred
from ..arithmetic import compose_3x4
from ..section_lookup import index_of_each

__all__ = ["to_data_sets"]


def to_data_sets(sync, space: int, x: float, y: float, z: float, ids) -> list[dict]:
    """The ``msg`` element of each data set of ``ids`` for one reference point.

    Parameters
    ----------
    sync : Synchronizer
    space : int
        The point's reference space.
    x, y, z : float
        The point, reference µm.
    ids : sequence of int
        Data sets the engine can answer from ``space`` (their ``stack`` builds and a
        transform between the spaces is known); any other raises as the engine does.

    Returns
    -------
    list of dict
        ``{"image_sync": {...}}`` per id, in order: what
        ``reference_to_image_batch(space, [x], [y], [z], ids)`` gives through ``to_msg``.
    """
    k = len(ids)
    if k == 0:
        return []
    stacks = [sync.stack(d) for d in ids]
    m = np.empty((k, 3, 4))
    thickness = np.empty(k)
    for i, s in enumerate(stacks):
        m[i] = compose_3x4(s.trv, sync.reference_transform(space,
                                                           s.data_set.reference_space_id))
        thickness[i] = s.thickness
    # apply_3x4, for one point and k matrices: the same operations in the same order
    vx = m[:, 0, 0] * x + m[:, 0, 1] * y + m[:, 0, 2] * z + m[:, 0, 3]
    vy = m[:, 1, 0] * x + m[:, 1, 1] * y + m[:, 1, 2] * z + m[:, 1, 3]
    vz = m[:, 2, 0] * x + m[:, 2, 1] * y + m[:, 2, 2] * z + m[:, 2, 3]
    q = vz / thickness
    index = index_of_each([s.lookup for s in stacks], q)
    # the chosen image of each target, gathered target by target (memory O(targets),
    # not O(their images))
    tvs = np.empty((6, k))
    image_ids = [0] * k
    numbers = [0] * k
    for i, (s, j) in enumerate(zip(stacks, index.tolist(), strict=True)):
        tvs[:, i] = s.tvs[:, j]
        image_ids[i] = s.image_ids.item(j)
        numbers[i] = s.section_numbers.item(j)
    sx = tvs[0] * vx + tvs[1] * vy + tvs[2]
    sy = tvs[3] * vx + tvs[4] * vy + tvs[5]
    as_text = inferred.IMAGE_SYNC_DATA_SET_ID_AS_STRING
    return [
        {"image_sync": {"section_data_set_id": str(d) if as_text else d,
                        "section_image_id": i, "section_number": n, "x": a, "y": b}}
        for d, i, n, a, b in zip(ids, image_ids, numbers, sx.tolist(), sy.tolist(),
                                 strict=True)
    ]

