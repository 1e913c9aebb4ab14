"""``napari-allen-sync status``: what the cache holds for a source, what is missing, and
how to get it.

Says whether the source answers (a tiny query, a few seconds at most), then lists what
is cached (data sets and atlases with their image tiles, the ontology, the annotation
volume), what is missing, and the commands that bring it (``prefetch`` on a machine
with network, ``bundle export`` there and ``bundle import`` here). Reads only the cache
otherwise: nothing is downloaded.

Examples::

    napari-allen-sync status
    napari-allen-sync status --source http://127.0.0.1:8765 --annotation-resolution 50
    napari-allen-sync status --offline --json
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``status`` sub-command."""
    from ..annotation import DEFAULT_RESOLUTION_UM, RESOLUTIONS_UM

    p = subparsers.add_parser(
        "status",
        help="what the cache holds for a source, what is missing, and how to get it",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--source",
        metavar="URL",
        default=None,
        help="an Allen-compatible service (default https://api.brain-map.org)",
    )
    p.add_argument(
        "--cache-dir",
        default=None,
        help="the cache folder (default $NAPARI_ALLEN_SYNC_CACHE or the user cache)",
    )
    p.add_argument(
        "--annotation-resolution",
        type=int,
        choices=RESOLUTIONS_UM,
        default=DEFAULT_RESOLUTION_UM,
        metavar="UM",
        help=f"the annotation volume to look for, µm (default "
        f"{DEFAULT_RESOLUTION_UM}; one of {', '.join(map(str, RESOLUTIONS_UM))})",
    )
    p.add_argument(
        "--annotation-base-url",
        metavar="URL",
        default=None,
        help="where the annotation volume is downloaded from (default: Allen's "
        "download server for the Allen API, else the source itself)",
    )
    p.add_argument(
        "--offline", action="store_true", help="do not ask the source whether it answers"
    )
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    return p


def run(args) -> int:
    """Print the status; 0 (a missing item is information, not an error)."""
    from ..preferences import Preferences
    from ..remote import RemoteSource

    prefs = Preferences(
        api_base_url=args.source or Preferences().api_base_url,
        cache_dir=str(Path(args.cache_dir).expanduser().absolute()) if args.cache_dir else "",
        annotation_resolution=args.annotation_resolution,
        annotation_base_url=args.annotation_base_url or "",
    )
    kwargs = prefs.remote_source_kwargs()
    if args.offline:
        kwargs["retries"] = 0
    source = RemoteSource(**kwargs)
    try:
        state = None if args.offline else source.status()
        status = source.cache_status()
        if args.json:
            out = asdict(status)
            out["cache_dir"] = str(status.cache_dir)
            out["state"] = state
            out["cached"] = status.cached()
            out["missing"] = status.missing()
            print(json.dumps(out, indent=1, ensure_ascii=False))
            return 0
        if state is not None:
            print(f"{status.source}: {state}")
        print(status.report())
        return 0
    finally:
        source.close()
