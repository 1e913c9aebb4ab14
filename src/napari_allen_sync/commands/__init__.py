"""Sub-commands of the ``napari-allen-sync`` command line, one module each.

Each module provides ``add_parser(subparsers) -> argparse.ArgumentParser`` and
``run(args) -> int``; :mod:`napari_allen_sync.cli` discovers them.
"""
