"""Run every benchmark module (or those named) and print one JSON document."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import pkgutil
import platform
import sys
import time


def _modules():
    from napari_allen_sync import bench

    return sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_")
    )


def main(argv=None) -> int:
    """Run the benchmarks; returns the exit status (1 if any module failed)."""
    names = _modules()
    parser = argparse.ArgumentParser(prog="python -m napari_allen_sync.bench")
    parser.add_argument(
        "modules",
        nargs="*",
        choices=[[], *names],
        metavar="MODULE",
        help=f"which benchmarks (default: all of {', '.join(names)})",
    )
    args = parser.parse_args(argv)
    out = {
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        }
    }
    failed = False
    for name in args.modules or names:
        start = time.perf_counter()
        try:
            # stdout carries the JSON only: anything a module prints (napari prints its
            # notifications there) goes to stderr
            with contextlib.redirect_stdout(sys.stderr):
                result = importlib.import_module(f"napari_allen_sync.bench.{name}").run()
        except Exception as exc:  # a benchmark that breaks is reported, the others still run
            result = {"error": f"{type(exc).__name__}: {exc}"}
            failed = True
        result["bench_seconds"] = round(time.perf_counter() - start, 2)
        out[name] = result
        print(f"bench {name}: done in {result['bench_seconds']} s", file=sys.stderr)
    json.dump(out, sys.stdout, indent=2)
    print()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
