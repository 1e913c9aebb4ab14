"""``napari-allen-sync find``: find experiments by gene, product, plane or injection site.

The search is given by options, or as words the way the dock's search field takes them
(``find calb1 coronal``, ``find injection:MOp``); a plane or product alone (``find
coronal``, ``find --plane coronal --product ish``) lists every data set of it.

Prints one data set per line: id, gene (acronym and name), plane, product and the
number of usable sections, tab-separated; ``--json`` prints a JSON list instead.
Answers are cached (a second search makes no request and works offline); ``--demo``
searches the embedded demo atlas with no network at all.

Examples::

    napari-allen-sync find --gene calb1 --plane coronal
    napari-allen-sync find --gene "calbindin*" --product ish
    napari-allen-sync find --injection MOp --source http://127.0.0.1:8765
    napari-allen-sync find --gene penk --demo --json
    napari-allen-sync find calb1 coronal --demo
    napari-allen-sync find coronal --product ish --demo
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``find`` sub-command."""
    from ..search import PRODUCTS

    p = subparsers.add_parser(
        "find",
        help="find experiments by gene, product, plane or injection structure",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("words", nargs="*", metavar="WORD",
                   help="the search in words: gene words, coronal/sagittal, "
                        "ish/developing/connectivity, injection:ACRONYM")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--gene", help="gene acronym or name, case-insensitive (* matches any text)")
    what.add_argument("--injection", metavar="ACRONYM",
                      help="connectivity experiments injected in this structure (or below it)")
    p.add_argument("--plane", choices=("coronal", "sagittal"), help="plane of section")
    p.add_argument("--product", choices=tuple(PRODUCTS),
                   help="ish (adult in situ, 'Mouse'), developing ('DevMouse') or "
                        "connectivity ('Mouse Connectivity')")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--source", metavar="URL", default=None,
                       help="an Allen-compatible service (default https://api.brain-map.org)")
    where.add_argument("--demo", action="store_true",
                       help="search the embedded demo atlas (no network)")
    p.add_argument("--cache-dir", default=None,
                   help="the cache folder (default $NAPARI_ALLEN_SYNC_CACHE or the user cache)")
    p.add_argument("--refresh", action="store_true",
                   help="ask the service again even when the answer is cached")
    p.add_argument("--page-size", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="print a JSON list")
    return p


def run(args) -> int:
    """Search and print; 0 when the search ran (found or not), 1 on any error."""
    from ..errors import AllenSyncError
    from ..rma import PAGE_SIZE

    page_size = PAGE_SIZE if args.page_size is None else args.page_size
    if page_size < 1:
        print("find: error: --page-size must be positive", file=sys.stderr)
        return 1
    try:
        criteria = _criteria(args)
        search = _search(args, page_size)
        try:
            result = search.find(**criteria, refresh=args.refresh)
        finally:
            close = getattr(search.api, "close", None)
            if close is not None:
                close()
    except (AllenSyncError, ValueError) as exc:
        print(f"find: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([h.to_dict() for h in result], indent=1))
    else:
        for hit in result:
            print(hit.describe())
    if result.message:
        print(f"find: {result.message}", file=sys.stderr)
    return 0


def _criteria(args) -> dict:
    """The :meth:`~napari_allen_sync.search.ExperimentSearch.find` arguments of the words
    and the options together (an option and a word may not say different things)."""
    from ..errors import InvalidIdListError
    from ..search import find_arguments

    out = find_arguments(" ".join(args.words))
    for key in ("gene", "injection", "plane", "product"):
        option = getattr(args, key)
        if option is None:
            continue
        if out.get(key, option) != option:
            raise InvalidIdListError(f"the words say {key} {out[key]!r}, --{key} says "
                                     f"{option!r}: give it once")
        out[key] = option
    if "gene" in out and "injection" in out:
        raise InvalidIdListError("search by gene or by injection structure, not both")
    return out


def _search(args, page_size):
    from ..search import ExperimentSearch, LocalApi

    if args.demo:
        from ..demo import demo_catalog

        return ExperimentSearch(LocalApi(demo_catalog()), page_size=page_size)
    from ..cache import AllenCache
    from ..client import AllenApi

    api = AllenApi(args.source, timeout=(5.0, 30.0), retries=2)
    return ExperimentSearch(api, AllenCache(args.cache_dir), page_size=page_size)
