"""Batch sync of a Points layer: moved to :mod:`napari_allen_sync.session.points`
(Qt-free); this name stays for scripts and benchmarks that import it from here."""

from ..session.points import *  # noqa: F403
from ..session.points import __all__  # noqa: F401
