"""Batch sync benchmark: a whole Points layer on the seed → reference space and targets.

The demo atlas, its seed section, three target experiments and the atlas.

Engine path (no Qt): ``batch_points.sync_points`` driven to completion on N random
points inside the demo seed image (uniform over its sync pixels, fixed seed):

- ``engine_<N>_ms`` / ``engine_<N>_points_per_s`` for N = 1,000, 100,000, 1,000,000
  (reference space, structures under every point, every target and the atlas);
- ``engine_1000000_reference_only_ms``: ``synchronizer.image_to_reference_batch``
  alone on the same 1M points, and ``engine_1000000_ratio_full_to_reference``: how
  much the rest (structures, four targets) costs on top of the first step.

GUI path, in a shown napari window (needs a display; ``make bench`` provides Xvfb):
one real click first (the targets' layers exist), then a Points layer of 10,000 random
points on the seed (world coordinates = seed pixels (row, col)) is chosen in the dock's
layer box and its *Sync layer* button gets a real Qt click (``QTest.mouseClick``):

- ``batch_gui_10k_ms``: button click → ``widget.batch_synchronized`` (worker, hand-over,
  result layers created and drawn on the GUI thread);
- ``batch_gui_10k_worker_ms``: the worker's ``batch.timings_ms['total']``; the
  difference is the GUI side (``batch_gui_10k_gui_side_ms``);
- ``batch_gui_layers_created``: layers in the viewer after − before the click
  (one per target plus the hidden reference-space layer);
- ``batch_csv_ms`` / ``batch_csv_bytes`` / ``batch_csv_rows``: ``widget.export_batch``
  of the 10k batch (one row per point and target).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["run"]

SIZES = (1_000, 100_000, 1_000_000)
GUI_POINTS = 10_000


def _ms(t) -> float:
    return round(t * 1e3, 2)


def _log(msg: str) -> None:
    print(f"bench batch: {msg}", file=sys.stderr)


def _random_points(image, n: int, seed: int = 11):
    rng = np.random.default_rng(seed)
    rows = rng.uniform(0, image.height - 1, n)
    cols = rng.uniform(0, image.width - 1, n)
    return rows, cols


def _complete(gen):
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


def engine() -> dict:
    """Batch sync without Qt, at several sizes."""
    from napari_allen_sync._napari import batch_points
    from napari_allen_sync.demo import (
        DEMO_ATLAS_ID,
        DEMO_TARGET_DATA_SET_IDS,
        DemoSource,
        demo_click,
    )

    source = DemoSource()
    sid = demo_click()[0]
    image = source.catalog.section_image(sid)
    targets = tuple(sorted(DEMO_TARGET_DATA_SET_IDS))

    def request(rows, cols):
        return batch_points.PointsBatchRequest(0, sid, rows, cols, targets, DEMO_ATLAS_ID,
                                               "bench")

    # warm-up: every data set, the atlas and the phantom built
    _complete(batch_points.sync_points(source, request(*_random_points(image, 100, 1))))
    out = {"engine_targets": len(targets) + 1}
    for n in SIZES:
        rows, cols = _random_points(image, n)
        _log(f"engine {n} points")
        t = time.perf_counter()
        batch = _complete(batch_points.sync_points(source, request(rows, cols)))
        s = time.perf_counter() - t
        assert len(batch) == n and len(batch.targets) == len(targets) + 1, batch.problems
        out[f"engine_{n}_ms"] = _ms(s)
        out[f"engine_{n}_points_per_s"] = round(n / s)
        if n == SIZES[-1]:
            t = time.perf_counter()
            source.synchronizer.image_to_reference_batch(sid, cols, rows)
            r = time.perf_counter() - t
            out[f"engine_{n}_reference_only_ms"] = _ms(r)
            out[f"engine_{n}_ratio_full_to_reference"] = round(s / r, 1)
    close = getattr(source, "close", None)
    if callable(close):
        close()
    return out


def gui(n_points: int = GUI_POINTS, timeout_s: float = 60.0) -> dict:
    """A real click on the dock's *Sync layer* button for a 10k-point layer."""
    from qtpy.QtCore import Qt
    from qtpy.QtTest import QTest

    from napari_allen_sync._napari.canvas import process_events_until

    from ._scene import open_demo_scene

    viewer, widget, _opened = open_demo_scene()
    try:
        rows, cols = _random_points(widget.seed_image, n_points, seed=5)
        layer = viewer.add_points(np.column_stack([rows, cols]), name="bench points",
                                  size=5)
        process_events_until(lambda: False, 0.3)
        box = widget.batch_view.layer
        index = box.findText(layer.name)
        if index < 0:
            raise RuntimeError(f"{layer.name!r} is not offered in the batch box: "
                               f"{[box.itemText(i) for i in range(box.count())]}")
        box.setCurrentIndex(index)
        got = []
        widget.batch_synchronized.connect(lambda b: got.append((time.perf_counter(), b)))
        n_layers = len(viewer.layers)
        t0 = time.perf_counter()
        QTest.mouseClick(widget.batch_view.sync_button, Qt.MouseButton.LeftButton)
        if not process_events_until(lambda: bool(got), timeout_s):
            raise TimeoutError(f"no batch within {timeout_s} s: {widget.messages}")
        t1, batch = got[0]
        created = len(viewer.layers) - n_layers
        worker = batch.timings_ms["total"]
        process_events_until(lambda: not widget.running_workers(), 10.0)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "b.csv"
            t = time.perf_counter()
            widget.export_batch(path)
            csv_s = time.perf_counter() - t
            size = path.stat().st_size
            with path.open("rb") as f:
                n_rows = sum(1 for _ in f) - 1
        out = {
            "batch_gui_points": len(batch),
            "batch_gui_10k_ms": _ms(t1 - t0),
            "batch_gui_10k_worker_ms": round(worker, 2),
            "batch_gui_10k_gui_side_ms": round((t1 - t0) * 1e3 - worker, 2),
            "batch_gui_layers_created": created,
            "batch_gui_problems": list(batch.problems),
            "batch_csv_ms": _ms(csv_s),
            "batch_csv_bytes": size,
            "batch_csv_rows": n_rows,
        }
        widget.close()
        return out
    finally:
        viewer.close()


def run() -> dict:
    """The batch benchmark: engine sizes and the GUI path; JSON-able figures."""
    out = engine()
    _log("gui")
    out.update(gui())
    return out


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(), indent=1))
