"""``napari-allen-sync bundle``: carry cached data to a machine with no network.

``bundle export`` writes the cached records and tiles (plain, annotated plates,
expression/projection overlays) of chosen data sets and atlases into one file, with the
cached annotation volume, search answers and tile-server facts; ``bundle import`` adds
such a file to this machine's cache, after which the Allen Brain Atlas source works
offline ("offline from cache") with the same structures, plates, overlays and search
results. The format is documented in :mod:`napari_allen_sync.bundle`.
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
    vol = ex.add_mutually_exclusive_group()
    vol.add_argument(
        "--annotation",
        dest="annotation",
        action="store_const",
        const=True,
        default=None,
        help="require the annotation volume (default: include it when cached)",
    )
    vol.add_argument(
        "--no-annotation",
        dest="annotation",
        action="store_const",
        const=False,
        help="leave the annotation volume out",
    )
    ex.add_argument(
        "--annotation-resolution",
        type=int,
        nargs="+",
        default=None,
        metavar="UM",
        help="only volumes of these voxel sizes in µm (default: every cached one)",
    )
    ex.add_argument(
        "--no-search",
        dest="searches",
        action="store_false",
        help="leave the cached search answers out",
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
            annotation=args.annotation,
            annotation_resolutions=args.annotation_resolution,
            searches=args.searches,
        )
    else:
        manifest = import_bundle(args.bundle, cache=AllenCache(args.cache_dir))
    summary = {k: v for k, v in manifest.items() if k != "files"}
    summary["rma_answers"] = sum(n.startswith("rma/") for n in manifest["files"])
    summary["tiles"] = sum(n.startswith("tiles/") for n in manifest["files"])
    summary["search_answers"] = sum(n.startswith("rma/Search-") for n in manifest["files"])
    summary["annotation_volumes"] = sum(n.startswith("annotation/") for n in manifest["files"])
    summary["server_facts"] = sum(n.startswith("servers/") for n in manifest["files"])
    json.dump(summary, sys.stdout, indent=1)
    print()
    return 0
