"""The data source chooser (demo, the Allen API, a custom server) and its status."""

from __future__ import annotations

from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
)

from ._common import _STATUS_COLOURS, SOURCE_CHOICES


class SourceView(QGroupBox):
    """Where the records come from, and whether it answers."""

    #: (kind, url): kind is "demo", "allen" or "custom"; url only for "custom".
    source_requested = Signal(str, str)

    def __init__(self, parent=None):
        super().__init__("Source", parent)
        self.choice = QComboBox()
        for label, kind in SOURCE_CHOICES:
            self.choice.addItem(label, kind)
        self.url = QLineEdit()
        self.url.setPlaceholderText("http://127.0.0.1:8000")
        self.url.setEnabled(False)
        self.connect_button = QPushButton("Connect")
        self.status = QLabel("no source")
        self.status.setObjectName("allen_sync_status")
        self.status.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("source", self.choice)
        row = QHBoxLayout()
        row.addWidget(self.url, 1)
        row.addWidget(self.connect_button)
        form.addRow("URL", row)
        form.addRow("status", self.status)
        self.choice.currentIndexChanged.connect(self._on_choice)
        self.connect_button.clicked.connect(self._emit)

    def _on_choice(self, _index=None):
        self.url.setEnabled(self.kind() == "custom")
        if self.kind() != "custom":
            self._emit()

    def _emit(self, *_):
        self.source_requested.emit(self.kind(), self.url.text().strip())

    def kind(self) -> str:
        """The chosen kind of source."""
        return self.choice.currentData()

    def set_status(self, text: str, name: str = "") -> None:
        """Show the source's status (``online``, ``offline (demo)``, ...)."""
        colour = _STATUS_COLOURS.get(text, "#bbbbbb")
        shown = f"{name}: {text}" if name else text
        self.status.setText(f"<span style='color:{colour}'>●</span> {shown}")
        self.status.setToolTip(shown)
