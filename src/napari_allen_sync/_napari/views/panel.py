"""The dock panel: the views in one scrolling column."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QComboBox,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ._common import KEEP_WIDTH, install_wheel_guard
from .batch import BatchView
from .coordinates import CoordinateView
from .readout import ReadoutView
from .search import SearchView
from .seed import SeedView
from .source import SourceView
from .structures import StructureView
from .targets import TargetsView

#: The dock's natural width (px, its ``sizeHint``): the width napari gives it when it is
#: added. At napari's default window (1089 × 630, its layer docks on the left) this
#: leaves the canvas about 420 px, wide enough for napari's notifications (400 px, at
#: the canvas's lower right corner, cut at its left edge otherwise) and for bigger panels.
#: The user can widen the dock; its rows are laid out to fit this width
#: (:attr:`DockPanel.column_width`, checked by the tests).
DOCK_WIDTH_PX = 280
#: Margins (left, top, right, bottom, px) of each view inside its section.
VIEW_MARGINS = (6, 4, 6, 6)
#: Characters a combo box keeps room for when the dock is narrow (a longer choice is cut;
#: its list shows it whole).
COMBO_MIN_CHARS = 5


class DockPanel(QScrollArea):
    """Every view of the dock, in one scrolling column of collapsible sections
    (superqt ``QCollapsible``); the wheel over an unfocused control scrolls it.

    Its natural width is :data:`DOCK_WIDTH_PX` (or its column's minimum, if wider)."""

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
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.source_view)
        self.source_view.layout().setContentsMargins(*VIEW_MARGINS)
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
            view.layout().setContentsMargins(*VIEW_MARGINS)
            # the section's frame and its content: no margins of their own (the view
            # has them), so that the column is as narrow as its widest row
            section.layout().setContentsMargins(0, 2, 0, 2)
            section.content().layout().setContentsMargins(0, 0, 0, 0)
            section.addWidget(view)
            section.expand(animate=False)
            lay.addWidget(section)
        lay.addStretch(1)
        # combo boxes size to their longest item by default ("900100004 · Anterograde
        # tracer, ...", a long layer name), which made the column wider than the dock:
        # let them shrink (their lists show every choice whole), so the dock never
        # scrolls sideways; a combo of a few short choices keeps their width
        for combo in inner.findChildren(QComboBox):
            if combo.property(KEEP_WIDTH):
                combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
                continue
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(COMBO_MIN_CHARS)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidgetResizable(True)
        self.setWidget(inner)
        install_wheel_guard(inner, self)

    def column_width(self) -> int:
        """The narrowest the column of views can be (px): its widest row's minimum."""
        return self.widget().minimumSizeHint().width()

    def sizeHint(self):  # Qt's name
        """:data:`DOCK_WIDTH_PX` wide (the column's minimum if wider), a vertical
        scroll bar included; Qt's height."""
        hint = super().sizeHint()
        bar = self.verticalScrollBar().sizeHint().width()
        hint.setWidth(max(DOCK_WIDTH_PX, self.column_width() + bar + 2 * self.frameWidth()))
        return hint
