"""``napari-allen-sync serve``: an Allen-compatible HTTP server on this machine.

Serves the six synchronization services, the RMA queries of the client and (for the
demo atlas) ``image_download``, from a folder of Allen RMA answers or the embedded demo
atlas. AllenSDK's ``SynchronizationApi(base_uri="http://127.0.0.1:8765")`` and
:class:`napari_allen_sync.client.SynchronizationApi` can talk to it.

Refusals are Allen's envelope ``{"success": false, "msg": ...}`` with 400 (a parameter
malformed or beyond its limit, named), 404, 405, 408 (request head not sent within
10 s), 431 (head over 256 KiB) or 503 (busy, ``Retry-After``); ids at most 10,000 per
list, image_download regions at most 4096 x 4096 pixels. See docs/server.md.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys

__all__ = ["add_parser", "run"]

DEFAULT_PORT = 8765


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``serve`` sub-command."""
    p = subparsers.add_parser(
        "serve",
        help="serve the Allen synchronization API from a catalog or the demo atlas",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--catalog", metavar="DIR", help="a folder of Allen RMA answers (*.json)")
    what.add_argument("--demo", action="store_true", help="the embedded demo atlas (with pixels)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    p.add_argument("--tile-convention", choices=["tier", "full"], default="tier",
                   help="read image_download width/height in tier pixels (AllenSDK's "
                        "reading, default) or in full-resolution pixels")
    p.add_argument("--log-level", default="info",
                   choices=["critical", "error", "warning", "info", "debug"])
    return p


def _source(args):
    if args.demo:
        try:
            from ..demo import DemoSource
        except ImportError as exc:  # pragma: no cover - the demo ships with the package
            raise SystemExit(f"the demo atlas is not available: {exc}") from exc
        return DemoSource()
    from ..catalog import Catalog

    return Catalog.from_folder(args.catalog)


def run(args) -> int:
    """Serve until interrupted."""
    from ..server import create_app, run_server

    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback:
        print(f"warning: serving on {args.host}: other machines can reach this server",
              file=sys.stderr)
    app = create_app(_source(args), annotation=args.catalog,
                     tile_convention=args.tile_convention)
    service = app.state.service
    print(f"napari-allen-sync serve: {service.catalog!r} on http://{args.host}:{args.port}",
          file=sys.stderr)
    run_server(app, args.host, args.port, log_level=args.log_level)
    return 0
