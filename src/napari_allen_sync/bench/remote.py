"""Cached path vs one HTTP request per click, against a loopback server with latency.

1,000 clicks, each synchronized to 3 data sets:

- *cached*: :class:`~napari_allen_sync.remote.RemoteSource` fetches the three data sets
  once into a fresh cache, then every click is answered by the local engine through
  :class:`~napari_allen_sync.remote.CachedSynchronizationApi` (AllenSDK's method, one
  call per click; also the batch form, all clicks at once);
- *HTTP per click* (the AllenSDK way): :class:`~napari_allen_sync.client.SynchronizationApi`
  sends one ``image_to_image`` request per click to the server, which adds 50 ms of
  latency to every request (as a distant service would). Only a sample of the clicks is
  sent and the total is extrapolated (the output says so).

Also: the time to open one cached 512 × 512 tile (disk read + JPEG decode).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time

import numpy as np

from ..catalog import Catalog
from ..client import SynchronizationApi
from ..records import Alignment2d, Alignment3d, SectionDataSet, SectionImage
from ..remote import CachedSynchronizationApi, RemoteSource
from ..server import create_app, serve_in_thread

N_CLICKS = 1000
N_HTTP_SAMPLE = 40
LATENCY_S = 0.050
N_TILE_OPENS = 30
DATA_SETS = (11, 12, 13)


class _Latency:
    """The app with ``latency`` seconds added to every request, counted in ``requests``
    (the server's fault injection lives in the tests, not in the package)."""

    def __init__(self, app, latency):
        self.app = app
        self.latency = float(latency)
        self.requests = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self.requests += 1
            if self.latency > 0:
                await asyncio.sleep(self.latency)
        await self.app(scope, receive, send)


def _inverse(m):
    rows = m.shape[0]
    return np.linalg.inv(np.vstack([m, np.eye(rows + 1)[-1]]))[:rows]


def _catalog(rng) -> Catalog:
    """Three coronal data sets of 60 sections, 200 µm apart."""
    records = []
    for ds_id in DATA_SETS:
        a = np.deg2rad(rng.uniform(-4, 4))
        lin = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        tvr = np.column_stack([lin * rng.uniform(0.95, 1.05), rng.uniform(-800, 800, 3)])
        records.append(SectionDataSet(ds_id, 1, 25.0, 9, alignment3d=Alignment3d.from_matrices(
            tvr, _inverse(tvr), aligned_id=ds_id)))
        for k in range(60):
            r = rng.uniform(1.0, 1.6)
            tsv = np.array([[r, 0, rng.uniform(0, 2000)], [0, r, rng.uniform(0, 2000)]])
            image_id = ds_id * 1000 + k
            records.append(SectionImage(
                id=image_id, data_set_id=ds_id, section_number=4 + 8 * k, width=8000,
                height=6000, image_width=8400, image_height=6400, resolution=r, tier_count=6,
                alignment2d=Alignment2d.from_matrices(tsv, _inverse(tsv),
                                                      section_image_id=image_id),
            ))
    return Catalog(records)


class _Gradient:
    """A TileSource drawing gradients plus pixel noise (the server's pixels; the noise
    keeps the JPEGs about as hard to decode as tissue images)."""

    def read_region(self, image, downsample, left, top, width, height):
        f = 2**downsample
        X, Y = np.meshgrid(left + f * np.arange(width), top + f * np.arange(height))
        out = np.empty((height, width, 3), dtype=np.uint8)
        out[..., 0] = (X // 16) % 256
        out[..., 1] = (Y // 16) % 256
        out[..., 2] = (X * 7919 + Y * 104729) % 251
        return out


def run() -> dict:
    """Run the benchmark; JSON-able figures."""
    rng = np.random.default_rng(5)
    catalog = _catalog(rng)
    images = [im for d in DATA_SETS for im in catalog.images_of(d)]
    clicks = [(images[int(rng.integers(len(images)))].id, *rng.uniform(0, 6000, 2))
              for _ in range(N_CLICKS)]
    targets = list(DATA_SETS)
    faults = _Latency(create_app(catalog, tiles=_Gradient()), LATENCY_S)
    out = {"clicks": N_CLICKS, "targets_per_click": len(targets), "latency_ms": LATENCY_S * 1e3}
    with serve_in_thread(faults) as base, \
            tempfile.TemporaryDirectory() as tmp:
        # ---- cached path
        t0 = time.perf_counter()
        source = RemoteSource(base, tmp)
        for d in DATA_SETS:
            source.ensure_data_set(d)
        out["cached_fetch_metadata_s"] = time.perf_counter() - t0
        requests_before = faults.requests
        sync = source.synchronizer
        cached_api = CachedSynchronizationApi(source)
        t0 = time.perf_counter()
        for sid, x, y in clicks:
            cached_api.get_image_to_image(sid, x, y, targets)
        cached = time.perf_counter() - t0
        assert faults.requests == requests_before  # no request on the cached path
        out["cached_1000_clicks_s"] = cached
        ids = np.array([c[0] for c in clicks])
        xs = np.array([c[1] for c in clicks])
        ys = np.array([c[2] for c in clicks])
        t0 = time.perf_counter()
        for sid in np.unique(ids):
            sel = ids == sid
            sync.image_to_image_batch(int(sid), xs[sel], ys[sel], targets)
        out["cached_1000_clicks_batch_s"] = time.perf_counter() - t0

        # ---- one HTTP request per click (sampled, extrapolated)
        api = SynchronizationApi(base, timeout=(5, 30))
        api.get_image_to_image(*clicks[0], targets)  # open the connection
        t0 = time.perf_counter()
        for sid, x, y in clicks[:N_HTTP_SAMPLE]:
            api.get_image_to_image(sid, x, y, targets)
        per_click = (time.perf_counter() - t0) / N_HTTP_SAMPLE
        out["http_clicks_sent"] = N_HTTP_SAMPLE
        out["http_1000_clicks_s_extrapolated"] = per_click * N_CLICKS
        out["http_per_click_ms"] = per_click * 1e3
        out["http_over_cached_ratio"] = per_click * N_CLICKS / cached
        out["note"] = (f"HTTP time extrapolated from {N_HTTP_SAMPLE} clicks sent one request "
                       f"each to a loopback server adding {LATENCY_S * 1e3:.0f} ms per request")

        # ---- opening a cached 512 x 512 tile
        faults.latency = 0.0
        image = catalog.images_of(DATA_SETS[0])[0]
        source.tiles.tile(image, 1, 0, 0)  # download and cache it
        opens = []
        for _ in range(N_TILE_OPENS):
            source.tiles.forget_memory()
            t0 = time.perf_counter()
            tile = source.tiles.tile(image, 1, 0, 0)
            opens.append(time.perf_counter() - t0)
        assert tile.shape == (512, 512, 3) and source.tiles.downloads == 1
        out["cached_tile_512_open_ms_median"] = statistics.median(opens) * 1e3
        t0 = time.perf_counter()
        source.tiles.tile(image, 1, 0, 0)
        out["memory_tile_512_open_ms"] = (time.perf_counter() - t0) * 1e3
        api.close()
        source.close()
    return out


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(), indent=1))
