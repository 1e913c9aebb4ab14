"""``napari-allen-sync sync``: batch synchronization of points from files.

Reads points from CSV (columns ``x,y`` or ``x,y,z``; a header row is optional) or
NumPy ``.npy`` (an ``(N, 2)`` or ``(N, 3)`` array, memory-mapped), computes one of the
six services with the offline engine in chunks, and writes CSV or JSON (by the output
file's extension; ``-`` writes CSV to standard output). The records come from the
embedded demo atlas (default), a folder of Allen RMA answers (``--catalog``) or any
Allen-compatible server (``--source URL``: fetched once into the cache, then computed
locally). ``--structures`` adds the structure at each point and at each answer.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from .. import inferred
from ..catalog import Catalog
from ..errors import AllenSyncError, InvalidCoordinateError, UsageError, WriteError
from ..results import ImageSyncBatch, ReferencePoints
from ..synchronizer import SERVICES, Synchronizer
from ..tables import (
    PointsInput,
    read_points,
    same_file,
    write_columns,
    write_json_records,
)
from ..validation import as_points

__all__ = ["CHUNK", "OPERATIONS", "add_parser", "compute", "fieldnames", "run"]

#: The operations: the engine's six services.
OPERATIONS = SERVICES
#: Points computed at once (bounds the memory of a run, whatever the input's size).
CHUNK = 1_000_000

#: What each operation needs besides the points.
REQUIRED = {
    "image_to_reference": ("section_image_id",),
    "reference_to_image": ("section_data_set_ids",),
    "image_to_image": ("section_image_id", "section_data_set_ids"),
    "image_to_image_2d": ("section_image_id", "section_image_ids"),
    "image_to_atlas": ("section_image_id", "atlas_id"),
    "structure_to_image": ("section_data_set_id", "structure_ids"),
}

REFERENCE_COLUMNS = ("point", "reference_space_id", "x", "y", "z")
IMAGE_SYNC_COLUMNS = ("point", "target", "section_data_set_id", "section_image_id",
                      "section_number", "x", "y", "distance", "clamped")
POINT_STRUCTURE_COLUMNS = ("point_structure_id", "point_structure", "point_structure_name")
TARGET_STRUCTURE_COLUMNS = ("structure_id", "structure", "structure_name")

EPILOG = """\
operations and what they need
  image_to_reference  --section-image-id; points x,y (section pixels)
                      -> reference-space µm x,y,z in the data set's own space
  reference_to_image  --reference-space-id, --section-data-set-ids; points x,y,z (µm)
  image_to_image      --section-image-id, --section-data-set-ids; points x,y
  image_to_image_2d   --section-image-id, --section-image-ids; points x,y
  image_to_atlas      --section-image-id, --atlas-id; points x,y
  structure_to_image  --section-data-set-id, --structure-ids (no points file)

Output columns (image_sync results): point (0-based row of the input), target,
section_data_set_id, section_image_id, section_number, x, y, distance (µm from the
point to the chosen section's plane, not sent by Allen), clamped (the point lay beyond
the first/last section). Coordinates are unrounded, like the service's. --structures
adds point_structure_id, point_structure (acronym), point_structure_name for the input
point and structure_id, structure, structure_name for each answer (0 and empty
outside the brain).

exit status: 0 done; 1 failure (cannot write the output, service or cache trouble, out
of memory); 2 bad usage or bad input (arguments, ids, a points file that is not
points). Errors are one line on standard error; nothing is written on error.

examples
  napari-allen-sync sync --demo image_to_image --section-image-id 900210269 \\
      --section-data-set-ids 900100002,900100003 --points cells.csv -o synced.csv
  napari-allen-sync sync --catalog ./rma image_to_reference --section-image-id 101945191 \\
      --points cells.npy -o reference.json
  napari-allen-sync sync --source http://127.0.0.1:8765 --structures image_to_atlas \\
      --section-image-id 900210269 --atlas-id 1 --points cells.csv -o atlas.csv
"""


def _ids(text: str) -> list[int]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values or not all(v.isascii() and v.isdigit() for v in values):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integer ids, got {text[:80]!r}"
        )
    return [int(v) for v in values]


def _id(text: str) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"expected an integer id, got {text[:80]!r}")
    return int(text)


def _url(text: str) -> str:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a URL: {text[:200]!r} ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"expected an http:// or https:// URL with a host, got {text[:200]!r}")
    return text


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``sync``."""
    p = subparsers.add_parser(
        "sync",
        help="synchronize many points at once from a CSV/.npy file (offline engine)",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--catalog",
        type=Path,
        metavar="DIR",
        help="folder of Allen RMA answers (JSON envelopes) to synchronize with",
    )
    src.add_argument(
        "--demo",
        action="store_true",
        help="use the embedded demo atlas (the default when no catalog or source is given)",
    )
    src.add_argument(
        "--source",
        type=_url,
        metavar="URL",
        help="an Allen-compatible server (https://api.brain-map.org, or `serve`): the "
             "records are fetched once into the cache, then computed locally",
    )
    p.add_argument("--cache-dir", type=Path, metavar="DIR",
                   help="the cache folder for --source (default $NAPARI_ALLEN_SYNC_CACHE or "
                        "the user cache)")
    p.add_argument("operation", choices=OPERATIONS, metavar="OPERATION",
                   help="one of: " + ", ".join(OPERATIONS))
    p.add_argument("--points", metavar="FILE",
                   help="CSV or .npy points ('-' reads either from stdin)")
    p.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="FILE",
        help="output .csv or .json ('-' = CSV on stdout, the default)",
    )
    p.add_argument("--structures", action="store_true",
                   help="add the structure (id, acronym, name) at each input point and at "
                        "each answer")
    p.add_argument("--section-image-id", type=_id, metavar="ID")
    p.add_argument("--section-data-set-id", type=_id, metavar="ID")
    p.add_argument("--section-data-set-ids", type=_ids, metavar="ID,ID")
    p.add_argument("--section-image-ids", type=_ids, metavar="ID,ID")
    p.add_argument("--structure-ids", type=_ids, metavar="ID,ID")
    p.add_argument("--atlas-id", type=_id, metavar="ID")
    p.add_argument(
        "--reference-space-id",
        type=_id,
        default=9,
        metavar="ID",
        help="reference space of input points for reference_to_image (default 9)",
    )
    return p


# ====================================================================== sources
class _CatalogSource:
    """A catalog folder as a source: records and engine, no structure lookup."""

    def __init__(self, catalog: Catalog, name: str):
        self.catalog = catalog
        self.synchronizer = Synchronizer(catalog)
        self.name = name


def _source(args):
    if args.catalog is not None:
        return _CatalogSource(Catalog.from_folder(args.catalog), f"catalog {args.catalog}")
    if args.source is not None:
        from ..remote import RemoteSource

        return RemoteSource(args.source, args.cache_dir)
    try:
        from ..demo import DemoSource
    except ImportError as exc:  # pragma: no cover - the demo ships with the package
        raise AllenSyncError(
            "the embedded demo atlas is not available; pass --catalog DIR"
        ) from exc
    return DemoSource()


def _prepare(source, args) -> None:
    """Bring the records the operation needs into the source's catalog (a no-op for the
    demo and catalog folders; one fetch into the cache for a server, then none)."""
    op = args.operation

    def ensure(method, *values):
        fn = getattr(source, method, None)
        return None if fn is None else fn(*values)

    if op == "structure_to_image":
        ds = ensure("ensure_data_set", args.section_data_set_id)
        if ds is not None:
            ensure("ensure_structure_centers",
                   inferred.structure_center_space(ds.reference_space_id))
    elif op != "reference_to_image":
        ensure("ensure_section_image", args.section_image_id)
    for method, value in _targets_to_prepare(args):
        ensure(method, value)
    if args.structures and not source.catalog.structures:
        ensure("ensure_structure_centers", 9)  # brings the ontology (names and acronyms)


def _targets_to_prepare(args) -> list[tuple[str, int]]:
    """``(source method, id)`` of the operation's targets: data sets, images or atlas."""
    op = args.operation
    if op in ("reference_to_image", "image_to_image"):
        return [("ensure_data_set", d) for d in args.section_data_set_ids]
    if op == "image_to_image_2d":
        return [("ensure_section_image", t) for t in args.section_image_ids]
    if op == "image_to_atlas":
        return [("ensure_atlas", args.atlas_id)]
    return []


class _Structures:
    """The structure at reference points, through ``source.structure_ids_at``."""

    def __init__(self, source):
        self.ids_at = getattr(source, "structure_ids_at", None)
        self.catalog = source.catalog
        self._ids = None  # the ontology's IdLookup, built on first use

    @property
    def available(self) -> bool:
        return callable(self.ids_at)

    def columns(self, names, ref: ReferencePoints | None, n: int) -> dict:
        if not self.available or ref is None or n == 0:
            empty = np.full(n, None, dtype=object)
            return dict.fromkeys(names, empty)
        ids = np.asarray(self.ids_at(ref.reference_space_id, ref.x, ref.y, ref.z),
                         dtype=np.int64).reshape(-1)
        number = self._lookup().numbers(ids)  # 0 outside or unknown, else 1 + index
        return {names[0]: ids, names[1]: self._acronyms.take(number),
                names[2]: self._names.take(number)}

    def _lookup(self):
        """The ontology's perfect hash (:class:`~napari_allen_sync.id_lookup.IdLookup`,
        as :func:`~napari_allen_sync.annotation.label_points` uses), built once: a
        chunk's labels cost constant time per point, no sort."""
        if self._ids is None:
            from ..id_lookup import IdLookup

            structures = self.catalog.structures
            keys = np.fromiter((k for k in structures if k > 0), dtype=np.int64)
            self._acronyms = np.array(["", *(structures[int(k)].acronym for k in keys)],
                                      dtype=object)
            self._names = np.array(["", *(structures[int(k)].name for k in keys)],
                                   dtype=object)
            self._ids = IdLookup(keys)
        return self._ids


# ====================================================================== computing
def fieldnames(operation: str, structures: bool = False) -> list[str]:
    """The output columns of an operation."""
    if operation == "image_to_reference":
        return [*REFERENCE_COLUMNS, *(POINT_STRUCTURE_COLUMNS if structures else ())]
    return [*IMAGE_SYNC_COLUMNS,
            *((*POINT_STRUCTURE_COLUMNS, *TARGET_STRUCTURE_COLUMNS) if structures else ())]


def _absolute(exc: InvalidCoordinateError, start: int, points: PointsInput):
    """An engine error about a chunk's position k, restated for the whole input."""
    index = getattr(exc, "index", None)
    if index is None:
        return exc
    message = str(exc).replace(f" at position {index}", "")
    return InvalidCoordinateError(f"{points.where(start + index)}: {message}")


def _chunks(points: PointsInput) -> Iterator[tuple[int, np.ndarray]]:
    arr = points.points
    for start in range(0, len(arr), CHUNK):
        yield start, np.asarray(arr[start : start + CHUNK], dtype=np.float64)


def check_points(points: PointsInput) -> None:
    """Apply the engine's coordinate rules to every point before anything is computed
    or written, naming the first bad point by its absolute number."""
    names = ("x", "y", "z")
    for start, chunk in _chunks(points):
        try:
            as_points(**{names[k]: chunk[:, k] for k in range(chunk.shape[1])})
        except InvalidCoordinateError as exc:
            raise _absolute(exc, start, points) from None


def _image_sync_columns(start: int, batches: list[ImageSyncBatch]) -> dict:
    """Rows point-major (point 0 target 0, point 0 target 1, ...)."""
    n, t = len(batches[0]), len(batches)

    def stacked(name):
        return np.stack([getattr(b, name) for b in batches], axis=1).reshape(-1)

    ds_ids = [b.section_data_set_id for b in batches]
    dtype = object if any(d is None for d in ds_ids) else np.int64
    return {
        "point": np.repeat(np.arange(start, start + n, dtype=np.int64), t),
        "target": np.tile(np.arange(t, dtype=np.int64), n),
        "section_data_set_id": np.tile(np.array(ds_ids, dtype=dtype), n),
        "section_image_id": stacked("section_image_id"),
        "section_number": stacked("section_number"),
        "x": stacked("x"),
        "y": stacked("y"),
        "distance": stacked("distance"),
        "clamped": stacked("clamped"),
    }


def _answer_reference(sync: Synchronizer, batch: ImageSyncBatch) -> ReferencePoints | None:
    """Where each answer (image, pixel) lies in its data set's reference space."""
    if len(batch) == 0:
        return None
    return sync.image_to_reference_batch(batch.section_image_id, batch.x, batch.y)


def _with_structures(cols, lookup, point_ref, batches, sync) -> dict:
    t = len(batches)
    n = len(batches[0])
    point = lookup.columns(POINT_STRUCTURE_COLUMNS, point_ref, n)
    cols.update({k: np.repeat(v, t) for k, v in point.items()})
    per_target = [lookup.columns(TARGET_STRUCTURE_COLUMNS, _answer_reference(sync, b), n)
                  for b in batches]
    for name in TARGET_STRUCTURE_COLUMNS:
        parts = [np.asarray(p[name]) for p in per_target]
        dtype = object if any(p.dtype == object for p in parts) else np.int64
        cols[name] = np.stack([p.astype(dtype) for p in parts], axis=1).reshape(-1)
    return cols


def compute(source, args, points: PointsInput | None) -> Iterator[dict]:
    """Yield the result as chunks of named columns (see :func:`fieldnames`)."""
    sync = source.synchronizer
    op = args.operation
    lookup = _Structures(source) if args.structures else None
    if op == "structure_to_image":
        batch = sync.structure_to_image_batch(args.section_data_set_id, args.structure_ids)
        cols = _image_sync_columns(0, [batch])
        cols["point"] = np.array(args.structure_ids, dtype=np.int64)
        cols["target"] = np.arange(len(batch), dtype=np.int64)
        if lookup is not None:
            ds = sync.catalog.section_data_set(args.section_data_set_id)
            space = inferred.structure_center_space(ds.reference_space_id)
            centers = [sync.catalog.structure_center(s, space) for s in args.structure_ids]
            ref = ReferencePoints(space, *(np.array([getattr(c, a) for c in centers], float)
                                           for a in "xyz"))
            _with_structures(cols, lookup, ref, [batch], sync)
        yield cols
        return
    for start, chunk in _chunks(points):
        try:
            yield from _compute_chunk(sync, args, lookup, start, chunk)
        except InvalidCoordinateError as exc:
            raise _absolute(exc, start, points) from None


def _compute_chunk(sync, args, lookup, start, chunk) -> Iterator[dict]:
    op = args.operation
    x, y = chunk[:, 0], chunk[:, 1]
    n = len(x)
    if op == "image_to_reference":
        ref = sync.image_to_reference_batch(args.section_image_id, x, y)
        cols = {
            "point": np.arange(start, start + n, dtype=np.int64),
            "reference_space_id": np.full(n, ref.reference_space_id, dtype=np.int64),
            "x": ref.x,
            "y": ref.y,
            "z": ref.z,
        }
        if lookup is not None:
            cols.update(lookup.columns(POINT_STRUCTURE_COLUMNS, ref, n))
        yield cols
        return
    point_ref = None
    if op == "reference_to_image":
        batches = sync.reference_to_image_batch(
            args.reference_space_id, x, y, chunk[:, 2], args.section_data_set_ids)
        point_ref = ReferencePoints(args.reference_space_id, x, y, chunk[:, 2])
    elif op == "image_to_image":
        batches = sync.image_to_image_batch(args.section_image_id, x, y,
                                            args.section_data_set_ids)
    elif op == "image_to_image_2d":
        batches = sync.image_to_image_2d_batch(args.section_image_id, x, y,
                                               args.section_image_ids)
    else:
        batches = [sync.image_to_atlas_batch(args.section_image_id, x, y, args.atlas_id)]
    cols = _image_sync_columns(start, batches)
    if lookup is not None:
        if point_ref is None and n:
            point_ref = sync.image_to_reference_batch(args.section_image_id, x, y)
        _with_structures(cols, lookup, point_ref, batches, sync)
    yield cols


# ====================================================================== running
def _check_arguments(args) -> None:
    missing = [n for n in REQUIRED[args.operation] if getattr(args, n) is None]
    if missing:
        flags = ", ".join("--" + n.replace("_", "-") for n in missing)
        raise UsageError(f"{args.operation} needs {flags}")
    if args.operation == "structure_to_image":
        if args.points is not None:
            raise UsageError("structure_to_image takes no --points (it starts from the "
                             "structures' centres)")
    elif args.points is None:
        raise UsageError(f"{args.operation} needs --points FILE")
    if args.cache_dir is not None and args.source is None:
        raise UsageError("--cache-dir goes with --source URL")
    if args.output != "-":
        _check_output_file(args.output, args.points)


def _check_output_file(out: str, points: str | None) -> None:
    """The output file can be written, and is not the input points file."""
    if points not in (None, "-") and same_file(points, out):
        raise UsageError(f"the output {out} is the input points file; choose another "
                         "output file (nothing was written)")
    path = Path(out)
    if path.is_dir():
        raise WriteError(out, "it is a folder")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise WriteError(out, f"{parent} is a file, not a folder")
    if not parent.is_dir():
        raise WriteError(out, f"the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise WriteError(out, f"permission denied in the folder {parent}")


def run(args) -> int:
    """Execute ``sync``."""
    _check_arguments(args)
    columns = 3 if args.operation == "reference_to_image" else 2
    points = None
    if args.operation != "structure_to_image":
        points = read_points(args.points, columns)
        check_points(points)
    source = _source(args)
    try:
        _prepare(source, args)
        if args.structures and not callable(getattr(source, "structure_ids_at", None)):
            print(f"napari-allen-sync sync: note: {source.name} cannot tell the structure at "
                  "a point (it has no structure_ids_at lookup): the structure columns are "
                  "empty", file=sys.stderr)
        chunks = compute(source, args, points)
        names = fieldnames(args.operation, args.structures)
        out = args.output
        if out == "-":
            write_columns(sys.stdout, chunks, names)
            sys.stdout.flush()
            return 0
        if Path(out).suffix.lower() == ".json":
            n = write_json_records(out, chunks, names)
        else:
            n = write_columns(out, chunks, names)
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
    print(f"wrote {n} rows to {out}", file=sys.stderr)
    return 0
