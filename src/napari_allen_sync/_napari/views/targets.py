"""The targets: data sets and the atlas synchronized to the seed."""

from __future__ import annotations

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
)
from superqt.utils import signals_blocked

from ._common import DEFAULT_ATLASES, _id_edit


class TargetsView(QGroupBox):
    """Target data sets and the atlas."""

    add_requested = Signal(int)
    remove_requested = Signal(int)
    #: An atlas id, or 0 for none.
    atlas_requested = Signal(int)

    def __init__(self, parent=None):
        super().__init__("Targets", parent)
        self.id_edit = _id_edit("SectionDataSet id")
        self.add_button = QPushButton("Add")
        self.offered = QComboBox()
        self.offered.setPlaceholderText("known data sets…")
        self.add_offered_button = QPushButton("Add")
        self.add_offered_button.setToolTip("add the chosen data set as a target")
        self.targets = QListWidget()
        self.targets.setMaximumHeight(90)
        self.remove_button = QPushButton("Remove selected")
        self.atlas = QComboBox()
        self.atlas.addItem("none", 0)
        for atlas_id, label in DEFAULT_ATLASES:
            self.atlas.addItem(label, atlas_id)
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.id_edit, 1)
        row.addWidget(self.add_button)
        lay.addLayout(row)
        orow = QHBoxLayout()
        orow.addWidget(self.offered, 1)
        orow.addWidget(self.add_offered_button)
        lay.addLayout(orow)
        lay.addWidget(self.targets)
        lay.addWidget(self.remove_button)
        arow = QHBoxLayout()
        arow.addWidget(QLabel("atlas"))
        arow.addWidget(self.atlas, 1)
        lay.addLayout(arow)
        self.add_button.clicked.connect(self._emit_add)
        self.id_edit.returnPressed.connect(self._emit_add)
        self.add_offered_button.clicked.connect(
            lambda: self._emit_offered(self.offered.currentIndex())
        )
        self.remove_button.clicked.connect(self._emit_remove)
        self.atlas.currentIndexChanged.connect(
            lambda _i: self.atlas_requested.emit(int(self.atlas.currentData() or 0))
        )

    def _emit_add(self, *_):
        text = self.id_edit.text().strip()
        if text:
            self.add_requested.emit(int(text))

    def _emit_offered(self, index: int):
        data = self.offered.itemData(index) if index >= 0 else None
        if data:
            self.add_requested.emit(int(data))

    def _emit_remove(self, *_):
        for item in self.targets.selectedItems():
            self.remove_requested.emit(int(item.data(Qt.ItemDataRole.UserRole)))

    def set_offered(self, entries) -> None:
        """Data sets offered in the drop-down: ``(id, description)`` pairs."""
        self.offered.clear()
        for ds_id, text in entries:
            self.offered.addItem(text, int(ds_id))
        self.offered.setCurrentIndex(-1)

    def set_targets(self, entries) -> None:
        """The current targets: ``(id, description)`` pairs."""
        self.targets.clear()
        for ds_id, text in entries:
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, int(ds_id))
            self.targets.addItem(item)

    def show_atlas(self, atlas_id: int | None, name: str = "") -> None:
        """Show the session's atlas as the current choice (without asking for it)."""
        index = self.atlas.findData(int(atlas_id or 0))
        with signals_blocked(self.atlas):
            if index < 0 and atlas_id:
                self.atlas.addItem(name or str(atlas_id), int(atlas_id))
                index = self.atlas.findData(int(atlas_id))
            self.atlas.setCurrentIndex(max(0, index))

    def set_atlases(self, entries, current: int | None) -> None:
        """Atlases offered: ``(id, label)`` pairs (``none`` is always offered)."""
        self.atlas.blockSignals(True)
        self.atlas.clear()
        self.atlas.addItem("none", 0)
        for atlas_id, label in entries:
            self.atlas.addItem(label, int(atlas_id))
        index = self.atlas.findData(int(current or 0))
        self.atlas.setCurrentIndex(max(0, index))
        self.atlas.blockSignals(False)


#: Text colour of a results row whose section is farther than its spacing.
