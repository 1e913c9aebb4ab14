"""The targets: data sets and the atlas synchronized to the seed."""

from __future__ import annotations

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import signals_blocked

from ._common import DEFAULT_ATLASES, _id_edit

#: The overlay checkbox's text by overlay kind.
OVERLAY_LABELS = {"expression": "expression", "projection": "projection"}


class _TargetRow(QWidget):
    """One target in the list: its name and its overlay toggle."""

    def __init__(self, ds_id, text, kind, on, toggled):
        super().__init__()
        self.kind = kind
        self.label = QLabel(text)
        self.label.setToolTip(text)
        self.overlay = QCheckBox(OVERLAY_LABELS.get(kind, "no overlay"))
        self.overlay.setEnabled(kind is not None)
        self.overlay.setChecked(bool(on) and kind is not None)
        self.overlay.setToolTip(
            f"draw this target's {kind} mask over its image (additive)" if kind
            else "this data set's images have no expression or projection overlay")
        # the label gives way (cut at the list's edge), the toggle stays in view
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.label.setMinimumWidth(0)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.addWidget(self.overlay)
        lay.addWidget(self.label, 1)
        self.overlay.toggled.connect(lambda checked: toggled(int(ds_id), bool(checked)))


class TargetsView(QGroupBox):
    """Target data sets (each with its overlay toggle) and the atlas (annotated plates
    or Nissl)."""

    add_requested = Signal(int)
    remove_requested = Signal(int)
    #: An atlas id, or 0 for none.
    atlas_requested = Signal(int)
    #: A target's overlay on (True) or off: (data set id, on).
    overlay_toggled = Signal(int, bool)
    #: ``"annotation"`` or ``"nissl"``.
    atlas_view_requested = Signal(str)

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
        self.targets.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.remove_button = QPushButton("Remove selected")
        self.atlas = QComboBox()
        self.atlas.addItem("none", 0)
        for atlas_id, label in DEFAULT_ATLASES:
            self.atlas.addItem(label, atlas_id)
        self.annotated = QCheckBox("annotated plates")
        self.annotated.setChecked(True)
        self.annotated.setToolTip("on: the atlas plates with their structures drawn in the "
                                  "atlas colours; off: the plain Nissl plates")
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
        lay.addWidget(self.annotated)
        self.annotated.toggled.connect(
            lambda on: self.atlas_view_requested.emit("annotation" if on else "nissl"))
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
        """The current targets: ``(id, description)`` pairs, or ``(id, description,
        overlay kind or None, overlay on)`` (each row then has its overlay toggle)."""
        entries = list(entries)
        if self._same_rows(entries):  # only overlay states changed: no rebuild (the
            for entry in entries:      # checkbox that asked may be the sender)
                box = self.overlay_box(entry[0])
                with signals_blocked(box):
                    box.setChecked(bool(entry[3]) and entry[2] is not None)
            return
        self.targets.clear()
        for entry in entries:
            ds_id, text = entry[0], entry[1]
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, int(ds_id))
            self.targets.addItem(item)
            if len(entry) >= 4:
                row = _TargetRow(ds_id, text, entry[2], entry[3], self.overlay_toggled.emit)
                item.setText("")
                item.setSizeHint(row.sizeHint())
                self.targets.setItemWidget(item, row)

    def _same_rows(self, entries) -> bool:
        if len(entries) != self.targets.count() or any(len(e) < 4 for e in entries):
            return False
        for i, entry in enumerate(entries):
            item = self.targets.item(i)
            row = self.targets.itemWidget(item)
            if (row is None or int(item.data(Qt.ItemDataRole.UserRole)) != int(entry[0])
                    or row.label.text() != entry[1] or row.kind != entry[2]):
                return False
        return True

    def overlay_box(self, section_data_set_id: int):
        """The overlay checkbox of a target (None when it has no row)."""
        for i in range(self.targets.count()):
            item = self.targets.item(i)
            if int(item.data(Qt.ItemDataRole.UserRole)) == int(section_data_set_id):
                row = self.targets.itemWidget(item)
                return None if row is None else row.overlay
        return None

    def show_atlas_view(self, view: str) -> None:
        """Show the session's atlas view (without asking for it)."""
        with signals_blocked(self.annotated):
            self.annotated.setChecked(view != "nissl")

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
