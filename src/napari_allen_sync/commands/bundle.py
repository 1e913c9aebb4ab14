"""``napari-allen-sync bundle``: carry cached data to a machine with no network.

``bundle export`` writes the cached records (and tiles) of chosen data sets and atlases
into one file; ``bundle import`` adds such a file to this machine's cache, after which
the Allen Brain Atlas source works offline ("offline from cache"). The format is
documented in :mod:`napari_allen_sync.bundle`.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``bundle``."""
    p = subparsers.add_parser(
        "bundle",
        help="export cached data sets/atlases to one file, or import such a file (offline use)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    ex = sub.add_parser("export", help="write a bundle from the cache")
    ex.add_argument("output", help="bundle file to write (.zip)")
    ex.add_argument("--data-set", type=int, nargs="+", default=[], metavar="ID")
    ex.add_argument("--atlas", type=int, nargs="+", default=[], metavar="ID")
    ex.add_argument(
        "--tiers",
        type=int,
        nargs="*",
        default=None,
        metavar="D",
        help="only tiles of these tiers (default: every cached tier; none: no tiles)",
    )
    im = sub.add_parser("import", help="add a bundle to the cache")
    im.add_argument("bundle")
    info = sub.add_parser("info", help="print a bundle's manifest")
    info.add_argument("bundle")
    for q in (ex, im):
        q.add_argument(
            "--cache-dir",
            default=None,
            help="cache folder (default: $NAPARI_ALLEN_SYNC_CACHE or the user cache)",
        )
    return p


def run(args) -> int:
    """Execute ``bundle``."""
    from ..bundle import export_bundle, import_bundle, read_manifest
    from ..cache import AllenCache

    if args.action == "info":
        manifest = read_manifest(args.bundle)
    elif args.action == "export":
        manifest = export_bundle(
            args.output,
            section_data_set_ids=args.data_set,
            atlas_ids=args.atlas,
            tiers=args.tiers,
            cache=AllenCache(args.cache_dir),
        )
    else:
        manifest = import_bundle(args.bundle, cache=AllenCache(args.cache_dir))
    summary = {k: v for k, v in manifest.items() if k != "files"}
    summary["rma_answers"] = sum(n.startswith("rma/") for n in manifest["files"])
    summary["tiles"] = sum(n.startswith("tiles/") for n in manifest["files"])
    json.dump(summary, sys.stdout, indent=1)
    print()
    return 0
