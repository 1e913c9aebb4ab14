"""The ``napari-allen-sync`` command line.

Each sub-command lives in its own module of :mod:`napari_allen_sync.commands` and
provides ``add_parser(subparsers)`` (returning the sub-parser) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import __version__, commands
from .errors import AllenSyncError

__all__ = ["build_parser", "main"]

DESCRIPTION = """\
Synchronize Allen Brain Atlas section images: where is this point in that other image?

Coordinate frames
-----------------
  section pixels   (x, y) full-resolution (tier 0) pixels of a SectionImage, relative
                   to the image's crop (its x, y, width, height): x to the right, y
                   down, the centre of the crop's first pixel at (0, 0). These are the
                   coordinates of Allen's image_sync answers and of napari's data
                   coordinates for the image layers this plugin opens (col = x, row = y).
  volume           microns of the data set's own stacked-section volume (internal).
  reference space  microns in an Allen reference space: 9 = CCF coronal, PIR
                   (x posterior, y inferior, z right); 10 = sagittal, PIL (z flipped,
                   r10 = 11350 - r9). A 25 um CCF voxel index is the micron value / 25.
"""


def _command_modules():
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{commands.__name__}.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="napari-allen-sync",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in _command_modules():
        p = module.add_parser(sub)
        p.set_defaults(_run=module.run)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except AllenSyncError as exc:
        print(f"napari-allen-sync {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        # an optional extra (server, all) is not installed: say which pip install brings it
        from ._extras import install_hint

        hint = install_hint(exc, args.command)
        if hint is None:
            raise
        print(f"napari-allen-sync {args.command}: error: {hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
