"""npe2 writers: a synchronized Points layer as CSV or JSON.

``File ▸ Save Selected Layers…`` on a Points layer made by the dock's batch sync (a
target's answers, or the batch in reference space) offers *Allen sync points (CSV)* and
*Allen sync points (JSON)*. One row per point, with the columns the dock's *Export
CSV…* uses (:data:`~napari_allen_sync._napari.batch_points.CSV_COLUMNS`, in that order),
those the layer's features carry:

- a target's layer: ``point``, the seed pixel (``seed_x``, ``seed_y``), the reference
  point (``reference_space_id``, ``reference_x/y/z``, ``ccf_p/i/r`` µm), the structure
  (``structure_id``, ``structure``), ``target`` (the dock's key, ``ds:<id>`` or
  ``atlas:<id>``), the target's ``section_data_set_id``, ``section_image_id``,
  ``section_number``, ``x``, ``y``, ``distance``, ``clamped`` and ``far``;
- the reference-space layer: the same up to ``structure``.

CSV has a header row; JSON is a list of one object per point (as ``napari-allen-sync
sync -o file.json`` writes), with ``null`` for a missing (NaN) number. Both files are
written atomically (:func:`napari_allen_sync.atomic.atomic_write`): a failure leaves no
partial file. A Points layer that carries none of these columns was not synchronized:
the writer refuses it with a :class:`~napari_allen_sync.errors.WriteError` saying so.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..errors import WriteError
from ..tables import write_columns
from .batch_points import CSV_COLUMNS

__all__ = ["points_table", "write_points_csv", "write_points_json"]

#: Columns that only a synchronized layer carries (``point`` alone is not enough).
_SYNC_COLUMNS = frozenset(CSV_COLUMNS) - {"point"}


def points_table(path, data, attributes: dict) -> dict[str, list]:
    """The table of a Points layer: the documented columns it carries, in order.

    Parameters
    ----------
    path : path-like
        The file to be written (named in the error).
    data : array-like, shape (N, D)
        The layer's points.
    attributes : dict
        The layer's attributes as napari passes them to a writer (``name``,
        ``features``, ``metadata``, ...).

    Returns
    -------
    dict of str to list
        Column name → one plain Python value per point.

    Raises
    ------
    WriteError
        When the layer carries none of the synchronized columns, or its features do not
        have one row per point.
    """
    n = len(np.asarray(data))
    features = attributes.get("features")
    names = [] if features is None else [str(c) for c in features.columns]
    name = attributes.get("name", "points")
    if not _SYNC_COLUMNS.intersection(names):
        raise WriteError(
            path,
            f"the Points layer {name!r} carries no synchronized columns: "
            "batch-sync it in the Allen Brain Atlas sync dock first, then "
            "save one of the layers the batch made",
        )
    if len(features) != n:
        raise WriteError(
            path, f"the Points layer {name!r} has {n} points but {len(features)} feature rows"
        )
    key = (attributes.get("metadata") or {}).get("allen_sync", {}).get("key")
    table = {}
    for column in CSV_COLUMNS:
        if column in names:
            table[column] = np.asarray(features[column]).tolist()
        elif column == "point":
            table[column] = list(range(n))
        elif column == "target" and key:
            table[column] = [str(key)] * n
    return table


def write_points_csv(path: str, data, attributes: dict) -> list[str]:
    """npe2 writer: a synchronized Points layer as CSV; returns ``[path]``."""
    write_columns(path, points_table(path, data, attributes))
    return [str(Path(path))]


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_points_json(path: str, data, attributes: dict) -> list[str]:
    """npe2 writer: a synchronized Points layer as JSON (one object per point); returns
    ``[path]``."""
    table = points_table(path, data, attributes)
    columns = list(table)
    rows = [
        dict(zip(columns, map(_plain, values), strict=True))
        for values in zip(*table.values(), strict=True)
    ]
    with atomic_write(path, "w", encoding="utf-8") as f:
        json.dump(rows, f, indent=1, allow_nan=False)
        f.write("\n")
    return [str(Path(path))]
