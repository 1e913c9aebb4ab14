"""The readouts: one row per target answer, and the reference point."""

from __future__ import annotations

from contextlib import contextmanager

from qtpy.QtCore import Qt, Signal
from qtpy.QtGui import QBrush, QColor
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

WARNING_COLOUR = "#ffb74d"
#: Signs in front of the busy line and the hint: characters of DejaVu Sans (napari's
#: Linux font), not emoji, which a machine without an emoji font draws as empty boxes.
BUSY_SIGN = "\u27f3"  # ⟳
HINT_SIGN = "\u2192"  # →

RESULT_COLUMNS = ("target", "data set", "section", "x", "y", "distance µm", "clamped", "structure")


@contextmanager
def columns_measured_once(table):
    """Write the cells of ``table`` (a QTableWidget whose columns fit their contents)
    with its columns measured once, when the block ends.

    With the header's ``ResizeToContents`` mode on, Qt measures a column again over
    every row each time one of its cells gets a new text: ``n`` changed cells cost
    ``n`` measurements (in the results table about 0.3 ms a cell, 8 ms of a click that
    changes most of them; new items, as in the search's list, cost no such thing). The
    columns are ``Interactive`` while the block runs and get their mode back after
    it: one measurement.
    """
    header = table.horizontalHeader()
    mode = header.sectionResizeMode(0) if header.count() else None
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    try:
        yield table
    finally:
        if mode is not None:
            header.setSectionResizeMode(mode)


class ReadoutView(QGroupBox):
    """The click's reference point, the results table, the history and its export."""

    #: Row of the results table the user selected (its target key as text).
    row_selected = Signal(str)
    cancel_requested = Signal()
    #: "csv" or "json".
    export_requested = Signal(str)
    #: The live toggle: markers follow the cursor.
    live_toggled = Signal(bool)

    def __init__(self, parent=None):
        super().__init__("Synchronized point", parent)
        self.live = QCheckBox("Live: markers follow the cursor")
        self.live.setToolTip(
            "Synchronize continuously while the cursor moves over the seed image.\n"
            "Holding Shift does the same while this is off."
        )
        self.busy = QLabel("")
        self.busy.setObjectName("allen_sync_busy")
        self.busy.setWordWrap(True)
        self.busy.setVisible(False)
        #: what a click that did nothing should have been (a target's panel clicked)
        self.hint = QLabel("")
        self.hint.setObjectName("allen_sync_hint")
        self.hint.setWordWrap(True)
        self.hint.setVisible(False)
        self.reference = QLabel("click on the seed section")
        self.reference.setWordWrap(True)
        self.reference.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.structure = QLabel("")
        self.structure.setWordWrap(True)
        self.table = QTableWidget(0, len(RESULT_COLUMNS))
        self.table.setHorizontalHeaderLabels(RESULT_COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(120)
        self.history = QListWidget()
        self.history.setMaximumHeight(80)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        # the export buttons beside the history they write ("history  CSV…  JSON…"):
        # short, so that no row is wider than the dock's column (DockPanel)
        self.csv_button = QPushButton("CSV…")
        self.csv_button.setToolTip(
            "export the history as CSV: one row per marker (the seed's too) per click")
        self.json_button = QPushButton("JSON…")
        self.json_button.setToolTip("export the history as JSON: one record per click")
        lay = QVBoxLayout(self)
        lay.addWidget(self.live)
        lay.addWidget(self.busy)
        lay.addWidget(self.hint)
        lay.addWidget(self.reference)
        lay.addWidget(self.structure)
        lay.addWidget(self.table, 1)
        hrow = QHBoxLayout()
        hrow.addWidget(QLabel("history"))
        hrow.addStretch(1)
        hrow.addWidget(self.csv_button)
        hrow.addWidget(self.json_button)
        lay.addLayout(hrow)
        lay.addWidget(self.history)
        row = QHBoxLayout()
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        lay.addLayout(row)
        self._keys: list[str] = []
        self.table.itemSelectionChanged.connect(self._emit_row)
        self.cancel_button.clicked.connect(self.cancel_requested.emit)
        self.live.toggled.connect(self.live_toggled.emit)
        self.csv_button.clicked.connect(lambda: self.export_requested.emit("csv"))
        self.json_button.clicked.connect(lambda: self.export_requested.emit("json"))

    def _emit_row(self):
        rows = {i.row() for i in self.table.selectedItems()}
        if len(rows) == 1:
            row = rows.pop()
            if 0 <= row < len(self._keys):
                self.row_selected.emit(self._keys[row])

    def set_busy(self, text: str) -> None:
        """Say what is being done (empty: idle); the cancel button works meanwhile."""
        self.cancel_button.setEnabled(bool(text))
        self.busy.setText(f"{BUSY_SIGN} {text}…" if text else "")
        self.busy.setVisible(bool(text))

    def set_hint(self, text: str) -> None:
        """Say what to do instead of what the user just tried (empty: nothing)."""
        self.hint.setText(f"{HINT_SIGN} {text}" if text else "")
        self.hint.setVisible(bool(text))

    def clear(self, hint: str = "open a seed section, then click on it") -> None:
        """Forget the last synchronization (a new seed or source)."""
        self.set_rows([])
        self.set_hint("")
        self.reference.setText(hint)
        self.structure.setText("")

    def set_rows(self, rows, flagged=()) -> None:
        """Fill the results table: ``rows`` is a list of ``(key, values)`` with values in
        the order of :data:`RESULT_COLUMNS`; the rows whose key is in ``flagged`` (their
        section is farther than its spacing) are drawn in the warning colour with a
        warning sign and tooltip. The columns are measured once, at the end
        (:func:`columns_measured_once`)."""
        with columns_measured_once(self.table):
            self._fill(rows, flagged)

    def _fill(self, rows, flagged) -> None:
        """The cells of :meth:`set_rows`, each item reused and written only if changed."""
        self.table.blockSignals(True)
        self.table.setRowCount(len(rows))
        self._keys = []
        flagged = dict(flagged) if not isinstance(flagged, dict) else flagged
        for r, (key, values) in enumerate(rows):
            self._keys.append(key)
            warn = flagged.get(key)
            for c, value in enumerate(values):
                text = str(value)
                if warn and c == RESULT_COLUMNS.index("distance µm"):
                    text = f"⚠ {text}"
                item = self.table.item(r, c)  # reused: a new item costs Qt far more
                if item is None:
                    item = QTableWidgetItem(text)
                    if c >= 2:
                        item.setTextAlignment(
                            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                        )
                    self.table.setItem(r, c, item)
                elif item.text() != text:
                    item.setText(text)
                if item.toolTip() != (warn or ""):
                    item.setForeground(QColor(WARNING_COLOUR) if warn else QBrush())
                    item.setToolTip(warn or "")
        self.table.blockSignals(False)

    def flagged_rows(self) -> list[str]:
        """Keys of the rows shown as too far from their section."""
        col = RESULT_COLUMNS.index("distance µm")
        return [
            k
            for r, k in enumerate(self._keys)
            if self.table.item(r, col) is not None
            and self.table.item(r, col).text().startswith("⚠")
        ]

    def add_history(self, text: str) -> None:
        """Append a line to the click history (newest first)."""
        self.history.insertItem(0, text)
