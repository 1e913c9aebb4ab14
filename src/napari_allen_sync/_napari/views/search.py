"""Find experiments: a gene (or an injection structure) → data sets to make the seed
or add as targets."""

from __future__ import annotations

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from ._common import KEEP_WIDTH

#: Product choices: (label, :meth:`~napari_allen_sync.search.ExperimentSearch.find`
#: ``product``; "" for any).
PRODUCT_CHOICES = (
    ("any product", ""),
    ("in situ (adult)", "ish"),
    ("in situ (developing)", "developing"),
    ("connectivity", "connectivity"),
)
#: Plane choices: (label, plane; "" for any).
PLANE_CHOICES = (("any plane", ""), ("coronal", "coronal"), ("sagittal", "sagittal"))
#: Columns of the result list (n: the data set's usable sections).
SEARCH_COLUMNS = ("id", "gene", "plane", "product", "n")


def hit_row(hit) -> tuple[str, ...]:
    """The result list's cells of one :class:`~napari_allen_sync.search.DataSetHit`."""
    if hit.genes:
        gene = hit.gene_acronym  # the name is in the row's tooltip
    elif hit.injection_structures:
        gene = "inj. " + ",".join(hit.injection_structures)
    else:
        gene = "-"
    count = "?" if hit.section_count is None else str(hit.section_count)
    return (str(hit.id), gene, hit.plane or "?", hit.product, count)


class SearchView(QGroupBox):
    """A search field, product and plane choices, the data sets found, and buttons that
    make one the seed or add it as a target."""

    #: text, product ("" any), plane ("" any)
    search_requested = Signal(str, str, str)
    cancel_requested = Signal()
    seed_requested = Signal(int)
    target_requested = Signal(int)

    def __init__(self, parent=None):
        super().__init__("Find experiments", parent)
        self.text = QLineEdit()
        self.text.setPlaceholderText("gene (Calb1, calbindin coronal) or injection:MOp")
        self.text.setClearButtonEnabled(True)
        self.find_button = QPushButton("Find")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.product = QComboBox()
        for label, value in PRODUCT_CHOICES:
            self.product.addItem(label, value)
        self.plane = QComboBox()
        for label, value in PLANE_CHOICES:
            self.plane.addItem(label, value)
        self.status = QLabel("type a gene and press Find")
        self.status.setWordWrap(True)
        self.results = QTableWidget(0, len(SEARCH_COLUMNS))
        self.results.setHorizontalHeaderLabels(SEARCH_COLUMNS)
        self.results.verticalHeader().setVisible(False)
        self.results.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.results.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # narrow columns that fit the dock's column (gene acronyms, product abbreviations;
        # every row's tooltip has the whole line)
        header = self.results.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.results.horizontalHeaderItem(len(SEARCH_COLUMNS) - 1).setToolTip(
            "usable (not failed) sections"
        )
        self.results.setMaximumHeight(150)
        self.seed_button = QPushButton("Make seed")
        self.target_button = QPushButton("Add as target")
        for button in (self.seed_button, self.target_button):
            button.setEnabled(False)

        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.text, 1)
        row.addWidget(self.find_button)
        row.addWidget(self.cancel_button)
        lay.addLayout(row)
        crow = QHBoxLayout()
        # the plane's few short choices keep their width ("any plane"); the product
        # takes the rest of a narrow dock's row (DockPanel)
        self.plane.setProperty(KEEP_WIDTH, True)
        crow.addWidget(self.product, 1)
        crow.addWidget(self.plane)
        lay.addLayout(crow)
        lay.addWidget(self.status)
        lay.addWidget(self.results)
        brow = QHBoxLayout()
        brow.addWidget(self.seed_button)
        brow.addWidget(self.target_button)
        lay.addLayout(brow)

        self.find_button.clicked.connect(self._emit_search)
        self.text.returnPressed.connect(self._emit_search)
        self.cancel_button.clicked.connect(self.cancel_requested.emit)
        self.results.itemSelectionChanged.connect(self._selection_changed)
        self.seed_button.clicked.connect(lambda: self._emit_chosen(self.seed_requested))
        self.target_button.clicked.connect(lambda: self._emit_chosen(self.target_requested))

    # ------------------------------------------------------------------ signals
    def _emit_search(self, *_):
        self.search_requested.emit(
            self.text.text().strip(),
            str(self.product.currentData() or ""),
            str(self.plane.currentData() or ""),
        )

    def chosen_id(self) -> int | None:
        """The data set id of the selected result (None when none is)."""
        rows = {i.row() for i in self.results.selectedItems()}
        if len(rows) != 1:
            return None
        item = self.results.item(rows.pop(), 0)
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    def _emit_chosen(self, signal):
        ds_id = self.chosen_id()
        if ds_id is not None:
            signal.emit(ds_id)

    def _selection_changed(self):
        chosen = self.chosen_id() is not None
        self.seed_button.setEnabled(chosen)
        self.target_button.setEnabled(chosen)

    # ------------------------------------------------------------------ rendering
    def set_busy(self, text: str) -> None:
        """Say what is being searched ("" when idle): Find is off, Cancel on."""
        busy = bool(text)
        self.find_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        if busy:
            self.status.setText(text + "…")

    def show_message(self, text: str) -> None:
        """A message instead of results (an error, a cancelled search)."""
        self.status.setText(text)

    def show_result(self, result) -> None:
        """Fill the list from a :class:`~napari_allen_sync.search.SearchResult` (None:
        empty, as after a source switch)."""
        hits = tuple(result.hits) if result is not None else ()
        self.results.clearContents()
        self.results.setRowCount(len(hits))
        for r, hit in enumerate(hits):
            for c, text in enumerate(hit_row(hit)):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, int(hit.id))
                item.setToolTip(hit.describe().replace("\t", " · "))
                self.results.setItem(r, c, item)
        self._selection_changed()
        if result is None:
            self.status.setText("type a gene and press Find")
        elif not hits:
            self.status.setText(result.message or "no data set found")
        else:
            n = len(hits)
            self.status.setText(
                f"{n} data set{'s' if n != 1 else ''}: pick one, then Make seed or Add as target"
            )
