"""Small Qt views of the sync dock widget, one module each.

The views know nothing of napari nor of the synchronization: they show what the
session model and its controllers give them and emit Qt signals for what the user asks.
"""

from ._common import DEFAULT_ATLASES, SOURCE_CHOICES, install_wheel_guard
from .batch import BatchView
from .coordinates import CCF_EXTENT_UM, POINT_UNITS, CoordinateView
from .panel import DockPanel
from .readout import RESULT_COLUMNS, WARNING_COLOUR, ReadoutView
from .search import PLANE_CHOICES, PRODUCT_CHOICES, SEARCH_COLUMNS, SearchView
from .seed import SeedView
from .source import SourceView
from .structures import StructureView
from .targets import TargetsView

__all__ = [
    "CCF_EXTENT_UM",
    "DEFAULT_ATLASES",
    "PLANE_CHOICES",
    "POINT_UNITS",
    "PRODUCT_CHOICES",
    "RESULT_COLUMNS",
    "SEARCH_COLUMNS",
    "SOURCE_CHOICES",
    "WARNING_COLOUR",
    "BatchView",
    "CoordinateView",
    "DockPanel",
    "ReadoutView",
    "SearchView",
    "SeedView",
    "SourceView",
    "StructureView",
    "TargetsView",
    "install_wheel_guard",
]
