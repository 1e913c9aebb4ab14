"""The ontology as a searchable tree; choosing a structure asks to go to it."""

from __future__ import annotations

from qtpy.QtCore import Qt, Signal
from qtpy.QtGui import QColor, QIcon, QPixmap
from qtpy.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)


def _swatch(hex_triplet: str) -> QIcon:
    pix = QPixmap(12, 12)
    colour = QColor(f"#{(hex_triplet or 'AAAAAA').lstrip('#')}")
    pix.fill(colour if colour.isValid() else QColor("#AAAAAA"))
    return QIcon(pix)


class StructureView(QGroupBox):
    """The ontology as a searchable tree; choosing a structure asks to go to it."""

    #: A structure id to go to.
    structure_requested = Signal(int)

    def __init__(self, parent=None):
        super().__init__("Go to structure", parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText("search acronym or name, Enter to go")
        self.search.setClearButtonEnabled(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setMinimumHeight(140)
        self.go_button = QPushButton("Go")
        #: Says when no structure matches the search (else hidden).
        self.no_match = QLabel("")
        self.no_match.setWordWrap(True)
        self.no_match.hide()
        lay = QVBoxLayout(self)
        lay.addWidget(self.search)
        lay.addWidget(self.no_match)
        lay.addWidget(self.tree, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.go_button)
        lay.addLayout(row)
        self.items: dict[int, QTreeWidgetItem] = {}
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(lambda: self._emit(self.tree.currentItem()))
        self.tree.itemDoubleClicked.connect(lambda item, _col: self._emit(item))
        self.go_button.clicked.connect(lambda: self._emit(self.tree.currentItem()))

    def _emit(self, item) -> None:
        # a structure the search hides is not chosen (Enter after a search matching
        # nothing must not go to the structure current before it)
        if item is not None and not item.isHidden():
            self.structure_requested.emit(int(item.data(0, Qt.ItemDataRole.UserRole)))

    def set_structures(self, structures) -> None:
        """Fill the tree from Structure records (parents from ``parent_structure_id``)."""
        self.tree.clear()
        self.items = {}
        structures = sorted(structures, key=lambda s: (len(s.structure_id_path or ()), s.id))
        for s in structures:
            item = QTreeWidgetItem([f"{s.acronym} — {s.name}"])
            item.setData(0, Qt.ItemDataRole.UserRole, int(s.id))
            item.setIcon(0, _swatch(s.color_hex_triplet))
            item.setToolTip(0, f"{s.name} ({s.acronym}, id {s.id})")
            self.items[int(s.id)] = item
        for s in structures:
            item = self.items[int(s.id)]
            parent = self.items.get(s.parent_structure_id)
            if parent is not None and parent is not item:
                parent.addChild(item)
            else:
                self.tree.addTopLevelItem(item)
        self.tree.expandToDepth(1)
        self.filter(self.search.text())

    def filter(self, text: str = "") -> None:
        """Show the structures whose acronym or name contains ``text`` (case-insensitive),
        with their ancestors; an empty text shows everything."""
        wanted = (text or "").strip().casefold()
        first = None

        def visit(item) -> bool:
            own = not wanted or wanted in item.text(0).casefold()
            shown_child = False
            for i in range(item.childCount()):
                shown_child |= visit(item.child(i))
            show = own or shown_child
            item.setHidden(not show)
            if wanted and shown_child:
                item.setExpanded(True)
            return show

        for i in range(self.tree.topLevelItemCount()):
            visit(self.tree.topLevelItem(i))
        if wanted:  # the first structure that matches itself (not only by a child)
            first = next(
                (
                    item
                    for item in self._preorder()
                    if not item.isHidden() and wanted in item.text(0).casefold()
                ),
                None,
            )
            if first is not None:
                self.tree.setCurrentItem(first)
                self.tree.scrollToItem(first)
            else:
                self.tree.setCurrentItem(None)
        missing = bool(wanted) and first is None
        self.no_match.setText(
            f"no structure of this source's ontology ({len(self.items)} structures) "
            f"matches “{text.strip()}”: try an acronym or part of a name" if missing else "")
        self.no_match.setVisible(missing)
        self.go_button.setEnabled(not missing)

    def _preorder(self):
        stack = [self.tree.topLevelItem(i) for i in reversed(range(self.tree.topLevelItemCount()))]
        while stack:
            item = stack.pop()
            yield item
            stack.extend(item.child(i) for i in reversed(range(item.childCount())))

    def visible_ids(self) -> list[int]:
        """Ids of the structures the tree shows (its filter applied)."""
        return [sid for sid, item in self.items.items() if not item.isHidden()]


#: Extent of the CCF (and of space 10) along x, y, z in µm: 13200 × 8000 × 11400.
