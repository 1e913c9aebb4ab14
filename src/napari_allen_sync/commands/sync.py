"""``napari-allen-sync sync``: batch synchronization of points from files.

Reads points from CSV (columns ``x,y`` or ``x,y,z``; a header row is optional) or
NumPy ``.npy`` (an ``(N, 2)`` or ``(N, 3)`` array, memory-mapped), computes one of the
six services with the offline engine in chunks, and writes CSV or JSON (by the output
file's extension; ``-`` writes CSV to standard output).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from pathlib import Path

import numpy as np

from ..catalog import Catalog
from ..errors import AllenSyncError, InvalidCoordinateError
from ..synchronizer import SERVICES, Synchronizer

#: The operations: the engine's six services.
OPERATIONS = SERVICES
CHUNK = 1_000_000

EPILOG = """\
operations and what they need
  image_to_reference  --section-image-id; points x,y (section pixels)
                      -> reference-space µm x,y,z in the data set's own space
  reference_to_image  --reference-space-id, --section-data-set-ids; points x,y,z (µm)
  image_to_image      --section-image-id, --section-data-set-ids; points x,y
  image_to_image_2d   --section-image-id, --section-image-ids; points x,y
  image_to_atlas      --section-image-id, --atlas-id; points x,y
  structure_to_image  --section-data-set-id, --structure-ids (no points file)

Output columns (image_sync results): point, target, section_data_set_id,
section_image_id, section_number, x, y, distance (µm from the point to the chosen
section's plane, not sent by Allen), clamped (the point lay beyond the first/last
section). Coordinates are unrounded, like the service's.

examples
  napari-allen-sync sync --demo image_to_image --section-image-id 900210269 \\
      --section-data-set-ids 900100002,900100003 --points cells.csv -o synced.csv
  napari-allen-sync sync --catalog ./rma image_to_reference --section-image-id 101945191 \\
      --points cells.npy -o reference.json
"""


def _ids(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integer ids, got {text!r}"
        ) from None


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
        help="use the embedded demo atlas (the default when no catalog is given)",
    )
    p.add_argument("operation", choices=OPERATIONS)
    p.add_argument("--points", metavar="FILE", help="CSV or .npy points ('-' reads CSV from stdin)")
    p.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="FILE",
        help="output .csv or .json ('-' = CSV on stdout, the default)",
    )
    p.add_argument("--section-image-id", type=int)
    p.add_argument("--section-data-set-id", type=int)
    p.add_argument("--section-data-set-ids", type=_ids, metavar="ID,ID")
    p.add_argument("--section-image-ids", type=_ids, metavar="ID,ID")
    p.add_argument("--structure-ids", type=_ids, metavar="ID,ID")
    p.add_argument("--atlas-id", type=int)
    p.add_argument(
        "--reference-space-id",
        type=int,
        default=9,
        help="reference space of input points for reference_to_image (default 9)",
    )
    return p


def load_points(source, columns: int) -> np.ndarray:
    """Points as an ``(N, columns)`` float array from CSV, stdin or ``.npy``.

    Raises
    ------
    InvalidCoordinateError
        If the file cannot be read as numbers or has the wrong number of columns.
    """
    if source is None:
        raise InvalidCoordinateError("this operation needs --points FILE")
    if source != "-" and str(source).endswith(".npy"):
        try:
            arr = np.load(source, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InvalidCoordinateError(f"cannot read points from {source}: {exc}") from exc
    else:
        text = sys.stdin.read() if source == "-" else _read_text(source)
        rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
        if rows and not _is_number(rows[0][0]):
            header = [c.strip().lower() for c in rows[0]]
            rows = rows[1:]
            wanted = ["x", "y", "z"][:columns]
            if all(w in header for w in wanted):
                idx = [header.index(w) for w in wanted]
                rows = [[r[k] for k in idx] for r in rows]
        try:
            arr = np.array([[float(c) for c in r[:columns]] for r in rows], dtype=float)
        except ValueError as exc:
            raise InvalidCoordinateError(f"points file {source} holds a non-number: {exc}") from exc
        if arr.size == 0:
            arr = arr.reshape(0, columns)
    if arr.ndim != 2 or arr.shape[1] < columns:
        raise InvalidCoordinateError(
            f"points from {source} must have {columns} columns ({'x,y,z'[: 2 * columns - 1]}), "
            f"got shape {arr.shape}"
        )
    return arr[:, :columns]


def _read_text(path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidCoordinateError(f"cannot read points from {path}: {exc}") from exc


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _require(args, *names):
    missing = [n for n in names if getattr(args, n) is None]
    if missing:
        flags = ", ".join("--" + n.replace("_", "-") for n in missing)
        raise InvalidCoordinateError(f"{args.operation} needs {flags}")


def compute(sync: Synchronizer, args, points: np.ndarray | None):
    """Yield result rows (dicts) for the chosen operation, a chunk at a time."""
    op = args.operation
    if op == "structure_to_image":
        _require(args, "section_data_set_id", "structure_ids")
        batch = sync.structure_to_image_batch(args.section_data_set_id, args.structure_ids)
        yield from _rows(batch, 0, None, target_name=None, point_ids=args.structure_ids)
        return
    for start in range(0, len(points), CHUNK):
        chunk = np.asarray(points[start : start + CHUNK], dtype=float)
        x, y = chunk[:, 0], chunk[:, 1]
        if op == "image_to_reference":
            _require(args, "section_image_id")
            ref = sync.image_to_reference_batch(args.section_image_id, x, y)
            for k in range(len(ref)):
                yield {
                    "point": start + k,
                    "reference_space_id": ref.reference_space_id,
                    "x": float(ref.x[k]),
                    "y": float(ref.y[k]),
                    "z": float(ref.z[k]),
                }
            continue
        if op == "reference_to_image":
            _require(args, "section_data_set_ids")
            batches = sync.reference_to_image_batch(
                args.reference_space_id, x, y, chunk[:, 2], args.section_data_set_ids
            )
        elif op == "image_to_image":
            _require(args, "section_image_id", "section_data_set_ids")
            batches = sync.image_to_image_batch(
                args.section_image_id, x, y, args.section_data_set_ids
            )
        elif op == "image_to_image_2d":
            _require(args, "section_image_id", "section_image_ids")
            batches = sync.image_to_image_2d_batch(
                args.section_image_id, x, y, args.section_image_ids
            )
        else:
            _require(args, "section_image_id", "atlas_id")
            batches = [sync.image_to_atlas_batch(args.section_image_id, x, y, args.atlas_id)]
        for k in range(len(x)):
            for t, batch in enumerate(batches):
                yield from _rows(batch, start, k, target_name=t)


def _rows(batch, start, k, *, target_name, point_ids=None):
    indices = range(len(batch)) if k is None else [k]
    for i in indices:
        yield {
            "point": start + i if point_ids is None else point_ids[i],
            "target": target_name if target_name is not None else i,
            "section_data_set_id": batch.section_data_set_id,
            "section_image_id": int(batch.section_image_id[i]),
            "section_number": int(batch.section_number[i]),
            "x": float(batch.x[i]),
            "y": float(batch.y[i]),
            "distance": float(batch.distance[i]),
            "clamped": bool(batch.clamped[i]),
        }


def _catalog(args) -> Catalog:
    if args.catalog is not None:
        return Catalog.from_folder(args.catalog)
    try:
        from ..demo import demo_catalog
    except ImportError as exc:  # pragma: no cover - the demo ships with the package
        raise AllenSyncError(
            "the embedded demo atlas is not available; pass --catalog DIR"
        ) from exc
    return demo_catalog()


def run(args) -> int:
    """Execute ``sync``."""
    sync = Synchronizer(_catalog(args))
    columns = 3 if args.operation == "reference_to_image" else 2
    points = None if args.operation == "structure_to_image" else load_points(args.points, columns)
    rows = compute(sync, args, points)
    out = args.output
    if out == "-":
        _write_csv(sys.stdout, rows)
        return 0
    # Write beside the target, then rename: a failure half-way leaves no partial file.
    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            if out.suffix.lower() == ".json":
                data = list(rows)
                json.dump(data, handle, indent=1)
                handle.write("\n")
                n = len(data)
            else:
                n = _write_csv(handle, rows)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"wrote {n} rows to {out}", file=sys.stderr)
    return 0


def _write_csv(handle, rows) -> int:
    writer = None
    n = 0
    for row in rows:
        if writer is None:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            writer.writeheader()
        writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})
        n += 1
    return n
