"""The ``sync`` command's data path: reading points, computing, writing the table.

Figures are points (or rows) per second in this run, and the ratio of the one CSV writer
(:func:`napari_allen_sync.tables.write_columns`) to the per-row ``csv.DictWriter`` the
command used before, measured on the same rows in the same run.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np

N = 200_000


def _seconds(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def run() -> dict:
    """Run the benchmark; returns its figures."""
    from ..commands import sync as sync_command
    from ..demo import DemoSource, demo_click
    from ..tables import read_points, write_columns

    seed = demo_click()[0]
    source = DemoSource()
    pts = np.random.default_rng(0).uniform(0, 6000, (N, 2))
    out: dict = {"points": N}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        np.save(tmp / "p.npy", pts)
        with open(tmp / "p.csv", "w") as f:
            f.write("x,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in pts.tolist()))
        out["read_csv_points_per_s"] = round(N / _seconds(lambda: read_points(tmp / "p.csv", 2)))
        out["read_npy_points_per_s"] = round(N / _seconds(lambda: read_points(tmp / "p.npy", 2)))

        args = argparse.Namespace(operation="image_to_image", section_image_id=seed,
                                  section_data_set_ids=[900100002, 900100003],
                                  structures=False)
        points = read_points(tmp / "p.npy", 2)
        chunks = list(sync_command.compute(source, args, points))
        names = sync_command.fieldnames("image_to_image")
        rows = 2 * N
        t_new = _seconds(lambda: write_columns(tmp / "new.csv", iter(chunks), names))

        def old():  # the command's writer before the one CSV writer
            with open(tmp / "old.csv", "w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=names)
                writer.writeheader()
                for chunk in chunks:
                    lists = [np.asarray(chunk[k]).tolist() for k in names]
                    for values in zip(*lists, strict=True):
                        row = dict(zip(names, values, strict=True))
                        writer.writerow({k: repr(v) if isinstance(v, float) else v
                                         for k, v in row.items()})

        t_old = _seconds(old)
        out["write_csv_rows_per_s"] = round(rows / t_new)
        out["write_csv_speedup_vs_dictwriter"] = round(t_old / t_new, 2)
        out["write_csv_same_bytes_as_dictwriter"] = (
            (tmp / "new.csv").read_bytes() == (tmp / "old.csv").read_bytes())
        out["compute_image_to_image_points_per_s"] = round(
            N / _seconds(lambda: list(sync_command.compute(source, args, points))))
        args.structures = True
        source.structure_ids_at(9, [6000.0], [3000.0], [5000.0])  # builds the phantom once
        out["compute_with_structures_points_per_s"] = round(
            N / _seconds(lambda: list(sync_command.compute(source, args, points))))
    return out
