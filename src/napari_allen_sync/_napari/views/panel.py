"""The dock panel: the views in one scrolling column."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QComboBox,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ._common import install_wheel_guard
from .batch import BatchView
from .coordinates import CoordinateView
from .readout import ReadoutView
from .search import SearchView
from .seed import SeedView
from .source import SourceView
from .structures import StructureView
from .targets import TargetsView


class DockPanel(QScrollArea):
    """Every view of the dock, in one scrolling column of collapsible sections
    (superqt ``QCollapsible``); the wheel over an unfocused control scrolls it."""

    def __init__(self, parent=None):
        super().__init__(parent)
        from superqt import QCollapsible

        self.source_view, self.seed_view = SourceView(), SeedView()
        self.targets_view, self.readout_view = TargetsView(), ReadoutView()
        self.structure_view, self.coordinate_view = StructureView(), CoordinateView()
        self.batch_view = BatchView()
        self.search_view = SearchView()
        inner = QWidget()
        lay = QVBoxLayout(inner)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.source_view)
        for view in (
            self.seed_view,
            self.search_view,
            self.targets_view,
            self.readout_view,
            self.batch_view,
            self.structure_view,
            self.coordinate_view,
        ):
            section = QCollapsible(view.title())
            view.setTitle("")
            section.addWidget(view)
            section.expand(animate=False)
            lay.addWidget(section)
        lay.addStretch(1)
        # combo boxes size to their longest item by default ("900100004 · Anterograde
        # tracer, ...", a long layer name), which made the column wider than the dock:
        # let them shrink and elide, so the dock never scrolls sideways
        for combo in inner.findChildren(QComboBox):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(8)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidgetResizable(True)
        self.setWidget(inner)
        install_wheel_guard(inner, self)
