"""Engine throughput: vectorized batch forms vs one point at a time in a Python loop."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..catalog import Catalog
from ..records import Alignment2d, Alignment3d, SectionDataSet, SectionImage
from ..synchronizer import Synchronizer

N_POINTS = 1_000_000
N_LOOP = 20_000
N_SECTIONS = 70


def _catalog(rng) -> Catalog:
    """One coronal data set of 70 sections, 200 µm apart, with realistic matrices."""
    a = np.deg2rad(3.0)
    lin = np.array([[0.0, 0.04, -1.05], [-0.04, 0.97, 0.04], [1.07, 0.0, 0.01]])
    lin = lin @ np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    tvr = np.column_stack([lin, [13091.5, -1990.7, 500.0]])
    trv = np.linalg.inv(np.vstack([tvr, [0, 0, 0, 1]]))[:3]
    records = [
        SectionDataSet(1, 1, 25.0, 9, alignment3d=Alignment3d.from_matrices(tvr, trv, aligned_id=1))
    ]
    for k in range(N_SECTIONS):
        r = rng.uniform(1.0, 1.6)
        t = np.deg2rad(rng.uniform(-2, 2))
        tsv = np.array(
            [
                [r * np.cos(t), -r * np.sin(t), rng.uniform(0, 3000)],
                [r * np.sin(t), r * np.cos(t), rng.uniform(0, 3000)],
            ]
        )
        tvs = np.linalg.inv(np.vstack([tsv, [0, 0, 1]]))[:2]
        records.append(
            SectionImage(
                100 + k,
                1,
                4 + 8 * k,
                width=10000,
                height=8000,
                alignment2d=Alignment2d.from_matrices(tsv, tvs),
            )
        )
    return Catalog(records)


def _best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), float(np.median(times))


def _rate(n, seconds):
    return n / seconds


def _drift() -> dict:
    """Round trip image → reference → image on a real Allen record (data set 123,
    image 101945191, from shared/allen-sync/rma-examples): Allen's stored inverses
    are rounded, so the trip does not close exactly."""
    here = Path(__file__).resolve()
    for base in (
        here.parents[3] / "tests" / "data" / "rma-examples",
        here.parents[4] / "shared" / "allen-sync" / "rma-examples",
    ):
        if base.is_dir():
            break
    else:
        return {"skipped": "rma-examples not found"}
    sync = Synchronizer(Catalog.from_folder(base))
    im = sync.catalog.section_image(101945191)
    gx, gy = np.meshgrid(np.linspace(0, im.width - 1, 50), np.linspace(0, im.height - 1, 50))
    (back,) = sync.image_to_image_batch(im.id, gx.ravel(), gy.ravel(), [im.data_set_id])
    d = np.hypot(back.x - gx.ravel(), back.y - gy.ravel())
    return {
        "record": "SectionImage 101945191 / SectionDataSet 123",
        "points": int(d.size),
        "round_trip_drift_px_median": float(np.median(d)),
        "round_trip_drift_px_max": float(d.max()),
    }


def run() -> dict:
    """Points per second of image_to_reference and reference_to_image (70 sections)."""
    rng = np.random.default_rng(0)
    sync = Synchronizer(_catalog(rng))
    seed = 100 + 35
    x = rng.uniform(0, 10000, N_POINTS)
    y = rng.uniform(0, 8000, N_POINTS)
    ref = sync.image_to_reference_batch(seed, x, y)
    # points spread over the whole stack (and a little beyond, so some are clamped)
    p = ref.x + rng.normal(0, 1, N_POINTS)
    i = ref.y
    r = rng.uniform(-500, 14000, N_POINTS)
    sync.stack(1)  # build the derived table outside the timing, as after the first click

    i2r_best, i2r_median = _best_of(lambda: sync.image_to_reference_batch(seed, x, y))
    r2i_best, r2i_median = _best_of(lambda: sync.reference_to_image_batch(9, p, i, r, [1]))

    xs, ys = x[:N_LOOP].tolist(), y[:N_LOOP].tolist()
    ps, is_, rs = p[:N_LOOP].tolist(), i[:N_LOOP].tolist(), r[:N_LOOP].tolist()
    t0 = time.perf_counter()
    for a, b in zip(xs, ys, strict=True):
        sync.image_to_reference(seed, a, b)
    i2r_loop = time.perf_counter() - t0
    t0 = time.perf_counter()
    for a, b, c in zip(ps, is_, rs, strict=True):
        sync.reference_to_image(9, a, b, c, [1])
    r2i_loop = time.perf_counter() - t0

    i2r_rate, r2i_rate = _rate(N_POINTS, i2r_best), _rate(N_POINTS, r2i_best)
    i2r_loop_rate, r2i_loop_rate = _rate(N_LOOP, i2r_loop), _rate(N_LOOP, r2i_loop)
    return {
        "points": N_POINTS,
        "sections": N_SECTIONS,
        "image_to_reference": {
            "batch_points_per_s": round(i2r_rate),
            "batch_seconds_best": i2r_best,
            "batch_seconds_median": i2r_median,
            "loop_points_per_s": round(i2r_loop_rate),
            "loop_points_timed": N_LOOP,
            "batch_over_loop": round(i2r_rate / i2r_loop_rate, 1),
            "target_points_per_s": 20_000_000,
        },
        "reference_to_image": {
            "batch_points_per_s": round(r2i_rate),
            "batch_seconds_best": r2i_best,
            "batch_seconds_median": r2i_median,
            "loop_points_per_s": round(r2i_loop_rate),
            "loop_points_timed": N_LOOP,
            "batch_over_loop": round(r2i_rate / r2i_loop_rate, 1),
            "target_points_per_s": 5_000_000,
        },
        "round_trip_drift": _drift(),
    }
