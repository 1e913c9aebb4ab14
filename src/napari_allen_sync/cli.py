"""The ``napari-allen-sync`` command line.

Each sub-command lives in its own module of :mod:`napari_allen_sync.commands` and
provides ``add_parser(subparsers)`` (returning the sub-parser) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import sys

from . import __version__, commands
from .errors import AllenSyncError, CacheError, ServiceError, WriteError

__all__ = ["EXIT_FAILURE", "EXIT_USAGE", "build_parser", "exit_status", "main"]

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


#: Exit status for bad usage or bad input (as argparse's own usage errors).
EXIT_USAGE = 2
#: Exit status for a failure of the environment (disk, network, cache, memory).
EXIT_FAILURE = 1
#: Errors that are the environment's fault, not the input's: exit 1.
FAILURES = (WriteError, CacheError, ServiceError)
#: Longest error message printed (a 200 kB field must not flood the terminal).
MAX_MESSAGE = 600


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def exit_status(exc: BaseException) -> int:
    """The exit status for an error: 2 for what the user typed or gave (arguments, ids,
    input files; a service answering 400 or 404 to what was asked), 1 for a failure of the
    environment (writing, network, cache, memory)."""
    if isinstance(exc, ServiceError) and exc.status in (400, 404):
        return EXIT_USAGE
    if isinstance(exc, (*FAILURES, MemoryError)):
        return EXIT_FAILURE
    if isinstance(exc, AllenSyncError | UnicodeDecodeError):
        return EXIT_USAGE
    return EXIT_FAILURE


def _message(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "not enough memory (" + (str(exc) or "MemoryError") + ")"
    if isinstance(exc, UnicodeDecodeError):
        return f"input is not UTF-8 text: {exc}"
    if isinstance(exc, OSError) and not isinstance(exc, AllenSyncError):
        where = f"{exc.filename}: " if exc.filename else ""
        return where + (exc.strerror or str(exc) or type(exc).__name__)
    return str(exc) or type(exc).__name__


def main(argv=None) -> int:
    """Run the command line; returns the exit status.

    No error ends in a traceback: the package's errors, ``OSError``,
    ``UnicodeDecodeError`` and ``MemoryError`` are printed as one line
    ``napari-allen-sync COMMAND: error: ...`` and give status 2 (usage, input) or 1
    (failure), see :func:`exit_status`; anything else is reported as an internal error
    (status 1; ``NAPARI_ALLEN_SYNC_TRACEBACK=1`` shows the traceback).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"napari-allen-sync {args.command}"
    try:
        return int(args._run(args) or 0)
    except ModuleNotFoundError as exc:
        # an optional extra (server, all) is not installed: say which pip install brings it
        from ._extras import install_hint

        hint = install_hint(exc, args.command)
        if hint is None:
            return _internal_error(prog, exc)
        print(f"{prog}: error: {hint}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of our standard output went away (``| head``): stop quietly
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILURE
    except (AllenSyncError, OSError, UnicodeDecodeError, MemoryError) as exc:
        print(f"{prog}: error: {_one_line(_message(exc))}", file=sys.stderr)
        return exit_status(exc)
    except Exception as exc:
        return _internal_error(prog, exc)


def _internal_error(prog: str, exc: Exception) -> int:
    """Report an unexpected exception in one line (a bug), or re-raise it with
    ``NAPARI_ALLEN_SYNC_TRACEBACK=1``."""
    if os.environ.get("NAPARI_ALLEN_SYNC_TRACEBACK"):
        raise exc
    print(f"{prog}: internal error: {_one_line(f'{type(exc).__name__}: {exc}')} "
          "(a bug: please report it; NAPARI_ALLEN_SYNC_TRACEBACK=1 shows the traceback)",
          file=sys.stderr)
    return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
