"""The seed: the section image clicked in, its data set and section."""

from __future__ import annotations

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
)

from ._common import _id_edit

#: The data set list's only line while the source has listed none (a remote source
#: lists the data sets found or opened; the Allen API has thousands).
NONE_KNOWN = ("no data set listed yet: find one under Find experiments (Make seed), "
              "or type its SectionDataSet id above")


class SeedView(QGroupBox):
    """The seed: a data set and one of its sections."""

    #: A data set id the user wants as seed.
    data_set_requested = Signal(int)
    #: A section image id the user wants as seed.
    section_requested = Signal(int)

    def __init__(self, parent=None):
        super().__init__("Seed", parent)
        self.id_edit = _id_edit("SectionDataSet id")
        self.open_button = QPushButton("Open")
        self.data_sets = QListWidget()
        self.data_sets.setMaximumHeight(90)
        self.data_sets.setWordWrap(True)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.setTracking(False)
        self.section_label = QLabel("no section")
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.id_edit, 1)
        row.addWidget(self.open_button)
        lay.addLayout(row)
        lay.addWidget(self.data_sets)
        srow = QHBoxLayout()
        srow.addWidget(QLabel("section"))
        srow.addWidget(self.slider, 1)
        srow.addWidget(self.section_label)
        lay.addLayout(srow)
        self._image_ids: list[int] = []
        self._numbers: list[int] = []
        self.open_button.clicked.connect(self._emit_id)
        self.id_edit.returnPressed.connect(self._emit_id)
        self.data_sets.itemActivated.connect(self._emit_item)
        self.data_sets.itemClicked.connect(self._emit_item)
        self.slider.valueChanged.connect(self._emit_section)
        self.slider.sliderMoved.connect(self._show_number)

    def _emit_id(self, *_):
        text = self.id_edit.text().strip()
        if text:
            self.data_set_requested.emit(int(text))

    def _emit_item(self, item: QListWidgetItem):
        ds_id = item.data(Qt.ItemDataRole.UserRole)
        if ds_id is not None:  # not the "none known yet" line
            self.data_set_requested.emit(int(ds_id))

    def _show_number(self, index: int):
        if 0 <= index < len(self._numbers):
            self.section_label.setText(f"#{self._numbers[index]}")

    def _emit_section(self, index: int):
        if 0 <= index < len(self._image_ids):
            self._show_number(index)
            self.section_requested.emit(self._image_ids[index])

    def section_image_id(self) -> int | None:
        """The SectionImage id the slider is on (None without sections)."""
        index = self.slider.value()
        return self._image_ids[index] if 0 <= index < len(self._image_ids) else None

    def set_data_sets(self, entries) -> None:
        """Offer data sets: ``entries`` is a list of ``(id, description)``."""
        self.data_sets.clear()
        for ds_id, text in entries:
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, int(ds_id))
            self.data_sets.addItem(item)
        if not entries:  # a remote source lists none until searched: say where to look
            item = QListWidgetItem(NONE_KNOWN)
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.data_sets.addItem(item)

    def set_sections(self, sections, current: int | None = None) -> None:
        """Offer sections: ``(section_image_id, section_number)`` pairs in order."""
        self._image_ids = [int(s[0]) for s in sections]
        self._numbers = [int(s[1]) for s in sections]
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, len(self._image_ids) - 1))
        index = self._image_ids.index(current) if current in self._image_ids else 0
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        self.slider.setEnabled(bool(self._image_ids))
        if self._image_ids:
            self._show_number(index)
        else:  # no seed (another source): no number left from the last one
            self.section_label.setText("no section")
