"""Benchmarks, run by ``make bench`` (``python -m napari_allen_sync.bench``).

Each module of this package provides ``run() -> dict`` returning JSON-able figures.
Speed is compared side by side within one run (ratios), since the machines that run
it are shared and noisy; nothing here is a pass/fail test.
"""
