"""Demo renderer: milliseconds to render a 512 × 512 tile of a demo image.

``cold``: a fresh Python process renders its first tile (imports, the phantom's label
volume and the cell textures are built then); ``warm``: tiles at deterministic random
places of the seed image, at tiers 0, 2, 4 and the coarsest, once everything is built.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np

TILE = 512
N_TILES = 15

_COLD = """
import json, time
t0 = time.perf_counter()
from napari_allen_sync.demo import DemoSource, demo_click
source = DemoSource()
image = source.catalog.section_image(demo_click()[0])
t1 = time.perf_counter()
from napari_allen_sync.demo import phantom
phantom.label_volume()
t2 = time.perf_counter()
source.tiles.read_region(image, 2, 2048, 2048, 512, 512)
t3 = time.perf_counter()
source.tiles.read_region(image, 2, 0, 0, 512, 512)
t4 = time.perf_counter()
print(json.dumps({"import_and_catalog_ms": (t1 - t0) * 1e3, "phantom_build_ms": (t2 - t1) * 1e3,
                  "first_tile_ms": (t3 - t2) * 1e3, "second_tile_ms": (t4 - t3) * 1e3}))
"""


def _stats(samples) -> dict:
    a = np.asarray(samples) * 1e3
    return {
        "median_ms": round(float(np.median(a)), 2),
        "p90_ms": round(float(np.percentile(a, 90)), 2),
        "n": len(a),
    }


def cold() -> dict:
    """First tile in a fresh process (median of 3 processes)."""
    runs = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", _COLD], capture_output=True, text=True,
                             check=True, timeout=300)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {k: round(float(np.median([r[k] for r in runs])), 1) for k in runs[0]}


def warm() -> dict:
    """Tiles of the seed image at several tiers, everything built."""
    from ..demo import DemoSource, demo_click
    from ..images import tier_shape

    source = DemoSource()
    image = source.catalog.section_image(demo_click()[0])
    source.tiles.read_region(image, 0, 0, 0, 8, 8)  # build the phantom and textures
    rng = np.random.default_rng(7)
    out = {}
    last = image.tier_count - 1
    for d in sorted({0, 2, 4, last}):
        rows, cols = tier_shape(image, d)
        f = 2**d
        times = []
        for _ in range(N_TILES):
            left = int(rng.integers(0, max(1, cols - TILE // 2))) * f
            top = int(rng.integers(0, max(1, rows - TILE // 2))) * f
            t = time.perf_counter()
            source.tiles.read_region(image, d, left, top, TILE, TILE)
            times.append(time.perf_counter() - t)
        out[f"tier_{d}" if d != last else f"tier_{d}_coarsest"] = _stats(times)
    return out


def run() -> dict:
    """Cold and warm tile rendering figures (JSON-able)."""
    return {"tile": f"{TILE}x{TILE}", "cold_process": cold(), "warm": warm(),
            "target_median_ms": 50}
