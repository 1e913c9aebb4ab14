"""Finding structures and experiments.

- *structure search*: :class:`~napari_allen_sync.search.StructureIndex` over Allen's real
  ontology (``tests/data/real/structure_graph_download-1.json``, 1327 structures, parsed
  by :meth:`Catalog.parse_file <napari_allen_sync.catalog.Catalog.parse_file>`): every
  prefix (1–6 characters) of 300 acronyms and names, as a user types them. The dock's
  budget is 50 ms a search.
- *experiment search round trip*: ``find(gene="calb1")`` against the demo served on
  loopback (``create_app(DemoSource())``): cold (an empty cache: the data set query and
  the section count query, each one page) and warm (the same search again: from the
  cache, no request); and in-process on the demo catalog (``LocalApi``, no HTTP).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from ..cache import AllenCache
from ..catalog import Catalog
from ..client import AllenApi
from ..demo import DemoSource, demo_catalog
from ..search import ExperimentSearch, LocalApi, StructureIndex
from ..server import create_app, serve_in_thread

ONTOLOGY = (Path(__file__).resolve().parents[3] / "tests" / "data" / "real"
            / "structure_graph_download-1.json")
BUDGET_MS = 50.0
N_WORDS = 300
N_ROUND_TRIPS = 20


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 4)


def _structure_search() -> dict:
    if not ONTOLOGY.is_file():
        raise FileNotFoundError(f"the real ontology is not at {ONTOLOGY} (run from the repo)")
    t0 = time.perf_counter()
    records = Catalog.parse_file(ONTOLOGY)
    t1 = time.perf_counter()
    index = StructureIndex.from_catalog(Catalog(records))
    t2 = time.perf_counter()
    rng = np.random.default_rng(0)
    words = [w for s in index.structures for w in (s.acronym, s.name)]
    chosen = [words[k] for k in rng.choice(len(words), N_WORDS, replace=False)]
    queries = [w[:n] for w in chosen for n in range(1, min(6, len(w)) + 1)]
    times = []
    found = 0
    for q in queries:
        start = time.perf_counter()
        found += len(index.search(q))
        times.append(time.perf_counter() - start)
    worst = max(times)
    return {
        "structures": len(index),
        "parse_ontology_ms": _ms(t1 - t0),
        "build_index_ms": _ms(t2 - t1),
        "searches": len(queries),
        "median_ms": _ms(statistics.median(times)),
        "p99_ms": _ms(float(np.percentile(times, 99))),
        "max_ms": _ms(worst),
        "max_vs_budget_50ms": round(_ms(worst) / BUDGET_MS, 4),
        "mean_hits": round(found / len(queries), 1),
    }


def _round_trip() -> dict:
    with serve_in_thread(create_app(DemoSource())) as base, \
            tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        cold, warm = [], []
        requests_cold = requests_warm = 0
        for k in range(N_ROUND_TRIPS):
            api = AllenApi(base, timeout=(5, 30))
            search = ExperimentSearch(api, AllenCache(Path(tmp) / f"c{k}"))
            start = time.perf_counter()
            hits = search.find(gene="calb1").hits
            cold.append(time.perf_counter() - start)
            requests_cold = search.fetched
            start = time.perf_counter()
            again = search.find(gene="calb1").hits
            warm.append(time.perf_counter() - start)
            requests_warm = search.fetched - requests_cold
            assert again == hits and len(hits) == 1
            api.close()
    local = ExperimentSearch(LocalApi(demo_catalog()))
    local.find(gene="calb1")
    times = []
    for _ in range(N_ROUND_TRIPS):
        start = time.perf_counter()
        local.find(gene="calb1")
        times.append(time.perf_counter() - start)
    return {
        "query": "find(gene='calb1') against serve --demo on loopback",
        "cold_cache_median_ms": _ms(statistics.median(cold)),
        "cold_cache_requests": requests_cold,
        "warm_cache_median_ms": _ms(statistics.median(warm)),
        "warm_cache_requests": requests_warm,
        "cold_over_warm": round(statistics.median(cold) / statistics.median(warm), 1),
        "in_process_demo_median_ms": _ms(statistics.median(times)),
    }


def run() -> dict:
    """The figures, as a dict."""
    return {"structure_search": _structure_search(), "experiment_search": _round_trip()}
