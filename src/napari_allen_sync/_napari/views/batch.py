"""Batch sync of a Points layer, as the dock shows it."""

from __future__ import annotations

from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
)


class BatchView(QGroupBox):
    """Batch sync of a whole Points layer: choose it, sync it, export the table.

    The chooser is a magicgui ComboBox whose choices are the user's Points layers
    (``set_layer_source``), refilled by :meth:`reset_choices`, which napari calls on a
    docked widget whenever layers are added, removed or reordered; its value is the
    layer itself. :attr:`layer` is its Qt combo box.
    """

    #: The Points layer to synchronize.
    sync_requested = Signal(object)
    #: The user wants the batch table as CSV.
    export_requested = Signal()

    def __init__(self, parent=None):
        super().__init__("Batch sync a Points layer", parent)
        from magicgui.widgets import ComboBox

        self._layer_source = list
        self.chooser = ComboBox(choices=self._choices, nullable=False)
        self.layer = self.chooser.native
        self.layer.setPlaceholderText("Points layer…")
        self.layer.setToolTip("A Points layer drawn on the seed section")
        self.sync_button = QPushButton("Sync layer")
        self.summary = QLabel("points on the seed section → reference space and every target")
        self.summary.setWordWrap(True)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setEnabled(False)
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.layer, 1)
        row.addWidget(self.sync_button)
        lay.addLayout(row)
        lay.addWidget(self.summary)
        row2 = QHBoxLayout()
        row2.addStretch(1)
        row2.addWidget(self.export_button)
        lay.addLayout(row2)
        self.sync_button.clicked.connect(self._emit)
        self.export_button.clicked.connect(self.export_requested.emit)

    def _choices(self, _widget=None):
        return [(layer.name, layer) for layer in self._layer_source()]

    def set_layer_source(self, layers) -> None:
        """``layers()`` returns the Points layers to offer."""
        self._layer_source = layers
        self.reset_choices()

    def reset_choices(self, *_) -> None:
        """Offer the current Points layers (the current choice stays when still offered)."""
        self.chooser.reset_choices()

    def _emit(self, *_):
        layer = self.chooser.value
        if layer is not None:
            self.sync_requested.emit(layer)

    def set_summary(self, text: str, exportable: bool) -> None:
        """Show what the last batch did; enable its export."""
        self.summary.setText(text)
        self.export_button.setEnabled(exportable)
