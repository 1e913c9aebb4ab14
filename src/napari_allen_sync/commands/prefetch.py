"""``napari-allen-sync prefetch``: fill the cache for offline work.

Fetches SectionDataSets (images with alignment2d, alignment3d, Equalization) and atlases
(plates, ontology, StructureCenters) into the persistent cache, and optionally the image
tiles of some tiers. Resumable: whatever is already cached is skipped, so an
interrupted run continues where it stopped.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``prefetch`` sub-command."""
    p = subparsers.add_parser(
        "prefetch",
        help="download data sets, atlases and image tiles into the cache",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data-set", dest="data_sets", metavar="ID", type=int, nargs="+",
                   action="extend", default=[], help="SectionDataSet ids")
    p.add_argument("--atlas", dest="atlases", metavar="ID", type=int, nargs="+",
                   action="extend", default=[], help="Atlas ids (e.g. 1 coronal, 2 sagittal)")
    p.add_argument("--tiers", metavar="D", type=int, nargs="+", action="extend", default=[],
                   help="also download every tile of these tiers (downsample levels) of "
                        "every image of the data sets (and annotated plates of the atlases)")
    p.add_argument("--base-uri", default=None,
                   help="the service (default https://api.brain-map.org)")
    p.add_argument("--cache-dir", default=None,
                   help="the cache folder (default $NAPARI_ALLEN_SYNC_CACHE or the user cache)")
    p.add_argument("--tile-size", type=int, default=512, help="tile side in tier pixels")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def run(args) -> int:
    """Fill the cache; returns 0 when everything asked for is cached, 1 otherwise."""
    from ..remote import RemoteSource

    problem = _argument_problem(args)
    if problem:
        print(f"prefetch: {problem}", file=sys.stderr)
        return 2
    source = RemoteSource(args.base_uri, args.cache_dir, tile_size=args.tile_size)
    failures = []
    items = [("data set", i) for i in args.data_sets] + [("atlas", i) for i in args.atlases]
    images = _fetch_records(source, items, failures, args.quiet)
    jobs = _tile_jobs(source.tiles, images, args.tiers)
    skipped = _fetch_tiles(source.tiles, jobs, failures, args.quiet)
    source.close()
    print(f"prefetch: {len(items)} records ({len(source.fetched)} answers fetched), "
          f"{len(jobs)} tiles ({len(jobs) - skipped - sum('tile' in f for f in failures)} "
          f"downloaded, {skipped} already cached) in {source.cache.root}", file=sys.stderr)
    for f in failures:
        print(f"prefetch: failed: {f}", file=sys.stderr)
    return 1 if failures else 0


def _argument_problem(args) -> str | None:
    """What is wrong with the arguments (None: nothing)."""
    if not args.data_sets and not args.atlases:
        return "nothing to do (give --data-set and/or --atlas)"
    for d in args.tiers:
        if d < 0:
            return f"tiers must be >= 0, got {d}"
    return None


def _fetch_records(source, items, failures: list, quiet: bool) -> list:
    """Cache the records of the data sets and atlases; return the images to tile (the
    usable sections of a data set, the annotated plates of an atlas). Failures are
    appended to ``failures``."""
    from tqdm import tqdm

    from ..errors import AllenSyncError

    images = []
    with tqdm(items, desc="metadata", unit="record", disable=quiet, file=sys.stderr) as bar:
        for kind, ident in bar:
            bar.set_postfix_str(f"{kind} {ident}")
            try:
                images += _images_of(source, kind, ident)
            except AllenSyncError as exc:
                failures.append(f"{kind} {ident}: {exc}")
    return images


def _images_of(source, kind: str, ident: int) -> list:
    if kind == "data set":
        source.ensure_data_set(ident)
        return [im for im in source.catalog.images_of(ident) if not im.failed]
    source.ensure_atlas(ident)
    ds = source.catalog.atlas_data_set(ident)
    return [im for im in source.catalog.images_of(ds.id) if im.annotated]


def _tile_jobs(tiles, images, tiers) -> list:
    """Every ``(image, tier, row, column)`` tile of the images at the tiers they have."""
    jobs = []
    for d in tiers:
        for im in images:
            if d >= max(im.tier_count, 1):
                continue
            rows, cols = tiles.tile_grid(im, d)
            jobs += [(im, d, r, c) for r in range(rows) for c in range(cols)]
    return jobs


def _fetch_tiles(tiles, jobs, failures: list, quiet: bool) -> int:
    """Download the tiles not cached yet; return how many were cached already."""
    from tqdm import tqdm

    from ..errors import AllenSyncError

    skipped = 0
    with tqdm(jobs, desc="tiles", unit="tile", disable=quiet or not jobs,
              file=sys.stderr) as bar:
        for im, d, r, c in bar:
            if tiles.is_cached(im, d, r, c):
                skipped += 1
                continue
            try:
                tiles.tile(im, d, r, c)
                tiles.forget_memory()
            except AllenSyncError as exc:
                failures.append(f"tile {(im.id, d, r, c)}: {exc}")
    return skipped
