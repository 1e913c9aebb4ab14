"""The server under load: 50 clients with and without a 10,000-id request in flight, and
the memory of the largest image_download it allows.

The server is ``napari-allen-sync serve --demo`` in a child process (its own interpreter
and GIL; its memory measured alone); the clients are threads of this process, each with
its own kept-alive connection, on loopback. Each phase is bounded by a request count and
a time limit. Figures:

- ``alone`` / ``with_heavy``: 50 clients each sending ``image_to_image`` requests naming
  3 targets: requests/s and latency percentiles, alone and while another client keeps a
  10,000-target ``image_to_image`` request in flight without pause; the ratios
  ``with_heavy / alone`` of p99 latency and throughput.
- ``largest_download``: one ``image_download`` of the largest region the server allows
  (:data:`~napari_allen_sync.server.MAX_DOWNLOAD_PIXELS`, 4096 x 4096 at downsample 0):
  seconds and the server's peak RSS above its RSS before the request, once warm
  (``first_*``: the first such request, which also fills the demo renderer's caches).
  Linux: the kernel's own peak, ``VmHWM``, reset through ``/proc/PID/clear_refs``;
  elsewhere psutil sampled every 5 ms. Then three such requests at once
  (``three_at_once_*``: at most two are rendered at a time, a third waits up to 10 s
  for a slot, else 503). ``traced_peak_mib``: the same render's allocation peak
  (tracemalloc) in this process; the RSS figures add what the C allocator keeps.
"""

from __future__ import annotations

import threading
import time

import numpy as np

CLIENTS = 50
REQUESTS_EACH = 40
PHASE_LIMIT_S = 60.0
HEAVY_IDS = 10_000
START_TIMEOUT_S = 60.0


def _percentiles(latencies) -> dict:
    a = np.asarray(latencies) * 1e3
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "max_ms": float(a.max())}


def _light_phase(base, requests, paths) -> dict:
    """50 clients x REQUESTS_EACH requests (or PHASE_LIMIT_S): latencies and failures."""
    latencies = []
    failures = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS)
    deadline = [0.0]

    def client(k):
        with requests.Session() as s:
            s.get(base + paths[k % len(paths)], timeout=30)  # open the connection
            barrier.wait(timeout=60)
            mine = []
            for j in range(REQUESTS_EACH):
                if time.monotonic() > deadline[0]:
                    break
                t0 = time.perf_counter()
                try:
                    r = s.get(base + paths[(k * REQUESTS_EACH + j) % len(paths)], timeout=30)
                    ok = r.status_code == 200
                except requests.RequestException as exc:
                    ok, r = False, exc
                mine.append(time.perf_counter() - t0)
                if not ok:
                    with lock:
                        failures.append(repr(r)[:200])
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    deadline[0] = time.monotonic() + PHASE_LIMIT_S + 60  # start-up (connections) excluded
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    deadline[0] = time.monotonic() + PHASE_LIMIT_S
    for t in threads:
        t.join(PHASE_LIMIT_S + 120)
    elapsed = time.perf_counter() - t0
    return {"requests": len(latencies), "failures": len(failures),
            "first_failure": failures[0] if failures else None,
            "seconds": elapsed, "requests_per_s": len(latencies) / elapsed,
            **_percentiles(latencies)}


def _rss_meter(pid):
    """``start()`` then ``peak_delta()``: the process's peak RSS above its RSS at start."""
    status = f"/proc/{pid}/status"

    def field(name):
        with open(status) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) * 1024
        raise KeyError(name)

    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
        base = field("VmRSS")
        return "VmHWM", base, lambda: field("VmHWM") - base, lambda: None
    except OSError:
        import psutil

        p = psutil.Process(pid)
        base = p.memory_info().rss
        peak = [base]
        stop = threading.Event()

        def sample():
            while not stop.wait(0.005):
                peak[0] = max(peak[0], p.memory_info().rss)

        t = threading.Thread(target=sample, daemon=True)
        t.start()
        return "psutil_5ms", base, lambda: peak[0] - base, stop.set


def _traced_render_peak(image, side) -> float:
    """The Python-level allocation peak (tracemalloc) of rendering the region in this
    process, warm: what the renderer allocates, without the allocator's retention."""
    import tracemalloc

    from ..demo import DemoSource
    from ..server.params import Params
    from ..server.service import Service

    service = Service(DemoSource())
    q = Params(f"downsample=0&left={image.x}&top={image.y}&width={side}&height={side}")
    service.render(image.id, q)
    tracemalloc.start()
    try:
        service.render(image.id, q)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def run() -> dict:
    """Run the benchmark; JSON-able figures."""
    import requests

    from ..demo import DemoSource
    from ..server import MAX_DOWNLOAD_PIXELS, MAX_IDS

    catalog = DemoSource().catalog
    data_sets = sorted(catalog.section_data_sets)
    images = [im for d in data_sets for im in catalog.images_of(d) if not im.failed]
    rng = np.random.default_rng(3)
    paths = []
    for _ in range(200):
        im = images[int(rng.integers(len(images)))]
        x, y = rng.uniform(0, im.width), rng.uniform(0, im.height)
        paths.append(f"/api/v2/image_to_image/{im.id}.json?x={x:f}&y={y:f}"
                     f"&section_data_set_ids={','.join(map(str, data_sets[:3]))}")
    seed = images[len(images) // 2]
    heavy_ids = ",".join(str(data_sets[k % len(data_sets)]) for k in range(HEAVY_IDS))
    heavy_path = (f"/api/v2/image_to_image/{seed.id}.json?x=100.000000&y=200.000000"
                  f"&section_data_set_ids={heavy_ids}")
    assert HEAVY_IDS <= MAX_IDS

    from ..server import serve_in_process

    out = {"clients": CLIENTS, "requests_each": REQUESTS_EACH,
           "phase_limit_s": PHASE_LIMIT_S, "heavy_ids": HEAVY_IDS,
           "server": "napari-allen-sync serve --demo (child process, loopback)"}
    with serve_in_process(("--demo",), timeout=START_TIMEOUT_S) as (proc, base):
        t0 = time.perf_counter()
        r = requests.get(base + heavy_path, timeout=120)
        out["heavy_alone_s"] = time.perf_counter() - t0
        if r.status_code != 200 or len(r.json()["msg"]) != HEAVY_IDS:
            raise RuntimeError(f"the heavy request failed: {r.status_code} {r.text[:200]}")

        out["alone"] = _light_phase(base, requests, paths)

        stop = threading.Event()
        heavy_times = []

        def heavy():
            with requests.Session() as s:
                while not stop.is_set():
                    t = time.perf_counter()
                    s.get(base + heavy_path, timeout=120).raise_for_status()
                    heavy_times.append(time.perf_counter() - t)

        h = threading.Thread(target=heavy)
        h.start()
        time.sleep(0.2)  # the first heavy request is in flight
        try:
            out["with_heavy"] = _light_phase(base, requests, paths)
        finally:
            stop.set()
            h.join(180)
        out["with_heavy"]["heavy_requests_completed"] = len(heavy_times)
        out["with_heavy"]["heavy_mean_s"] = float(np.mean(heavy_times)) if heavy_times else None
        a, w = out["alone"], out["with_heavy"]
        out["p99_ratio_with_heavy_over_alone"] = w["p99_ms"] / a["p99_ms"]
        out["throughput_ratio_with_heavy_over_alone"] = w["requests_per_s"] / a["requests_per_s"]

        # ---- the largest image_download allowed
        big = max(images, key=lambda im: im.width * im.height)
        side = int(MAX_DOWNLOAD_PIXELS ** 0.5)
        url = (f"{base}/api/v2/image_download/{big.id}?downsample=0&left={big.x}"
               f"&top={big.y}&width={side}&height={side}&quality=90")
        # the first one also fills the demo renderer's caches (kept for later requests)
        _, _, cold_delta, stop_meter = _rss_meter(proc.pid)
        t0 = time.perf_counter()
        requests.get(url, timeout=600).raise_for_status()
        cold_seconds = time.perf_counter() - t0
        stop_meter()
        cold_delta = cold_delta()
        method, before, peak_delta, stop_meter = _rss_meter(proc.pid)
        t0 = time.perf_counter()
        r = requests.get(url, timeout=600)
        seconds = time.perf_counter() - t0
        stop_meter()
        warm_delta = peak_delta()
        r.raise_for_status()
        refused = requests.get(url.replace(f"width={side}", f"width={side + 1}"), timeout=30)
        # three at once (at most two are rendered at a time; the third waits its turn)
        _, _, peak_delta3, stop_meter = _rss_meter(proc.pid)
        statuses = []
        t0 = time.perf_counter()
        threads = [threading.Thread(target=lambda: statuses.append(
            requests.get(url, timeout=600).status_code)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        seconds3 = time.perf_counter() - t0
        stop_meter()
        three_delta = peak_delta3()
        out["largest_download"] = {
            "width": side, "height": side, "downsample": 0, "seconds": seconds,
            "jpeg_bytes": len(r.content), "rss_before_mib": before / 2**20,
            "peak_rss_delta_mib": warm_delta / 2**20, "memory_method": method,
            "first_seconds": cold_seconds, "first_peak_rss_delta_mib": cold_delta / 2**20,
            "one_pixel_more_status": refused.status_code,
            "three_at_once_seconds": seconds3,
            "three_at_once_statuses": sorted(statuses),
            "three_at_once_peak_rss_delta_mib": three_delta / 2**20,
            "traced_peak_mib": _traced_render_peak(big, side),
        }
    out["note"] = (f"{CLIENTS} clients x {REQUESTS_EACH} image_to_image requests (3 targets) "
                   f"each, bounded by {PHASE_LIMIT_S:g} s, alone and with a {HEAVY_IDS}-target "
                   "request always in flight")
    return out
