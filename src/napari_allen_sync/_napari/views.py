"""Small Qt views of the sync dock widget.

The views know nothing of napari nor of the synchronization: they show what the
coordinator (:class:`~napari_allen_sync._napari.widget.AllenSyncWidget`) gives them and
emit Qt signals for what the user asks.
"""

from __future__ import annotations

from qtpy.QtCore import QEvent, QObject, Qt, Signal
from qtpy.QtGui import QColor, QIcon, QIntValidator, QPixmap
from qtpy.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import signals_blocked

__all__ = [
    "BatchView",
    "CoordinateView",
    "ReadoutView",
    "SeedView",
    "SourceView",
    "StructureView",
    "TargetsView",
    "install_wheel_guard",
]

#: (label, kind) of the source choices.
SOURCE_CHOICES = (
    ("Demo atlas (offline)", "demo"),
    ("Allen Brain Atlas API", "allen"),
    ("Custom server URL", "custom"),
)

#: Atlases offered even before a source lists them (Allen ids).
DEFAULT_ATLASES = ((1, "P56 coronal (atlas 1)"), (2, "P56 sagittal (atlas 2)"))

_STATUS_COLOURS = {
    "online": "#4caf50",
    "offline (demo)": "#8ab4f8",
    "offline from cache": "#ffb74d",
    "unreachable": "#ef5350",
}


class _WheelGuard(QObject):
    """Sends the wheel over a control that does not have the keyboard focus to the
    scroll area, so that scrolling the dock never changes a setting."""

    def __init__(self, scroll, parent=None):
        super().__init__(parent)
        self.scroll = scroll

    def eventFilter(self, obj, event):  # Qt's name
        if event.type() == QEvent.Type.Wheel and not obj.hasFocus():
            bar = self.scroll.verticalScrollBar()
            step = event.angleDelta().y()
            bar.setValue(bar.value() - int(step * bar.singleStep() / 40))
            return True
        return False


#: Controls whose value a wheel would change.
_WHEEL_CONTROLS = (QComboBox, QSlider, QAbstractSpinBox)


def install_wheel_guard(root, scroll) -> None:
    """Make every combo box, slider and spin box under ``root`` take the wheel only
    when it has the focus (``Qt.StrongFocus``: a click or Tab gives it), and scroll
    ``scroll`` otherwise."""
    guard = _WheelGuard(scroll, root)
    root._wheel_guard = guard  # kept alive with the widget
    for kind in _WHEEL_CONTROLS:
        for control in root.findChildren(kind):
            control.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            control.installEventFilter(guard)


def _id_edit(placeholder: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setPlaceholderText(placeholder)
    edit.setValidator(QIntValidator(1, 2_000_000_000))
    return edit


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
        self.data_set_requested.emit(int(item.data(Qt.ItemDataRole.UserRole)))

    def _show_number(self, index: int):
        if 0 <= index < len(self._numbers):
            self.section_label.setText(f"#{self._numbers[index]}")

    def _emit_section(self, index: int):
        if 0 <= index < len(self._image_ids):
            self._show_number(index)
            self.section_requested.emit(self._image_ids[index])

    def set_data_sets(self, entries) -> None:
        """Offer data sets: ``entries`` is a list of ``(id, description)``."""
        self.data_sets.clear()
        for ds_id, text in entries:
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, int(ds_id))
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
        self._show_number(index)


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
            lambda: self._emit_offered(self.offered.currentIndex()))
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
WARNING_COLOUR = "#ffb74d"

RESULT_COLUMNS = ("target", "data set", "section", "x", "y", "distance µm", "clamped", "structure")


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
        self.csv_button = QPushButton("Export CSV…")
        self.json_button = QPushButton("Export JSON…")
        lay = QVBoxLayout(self)
        lay.addWidget(self.live)
        lay.addWidget(self.busy)
        lay.addWidget(self.reference)
        lay.addWidget(self.structure)
        lay.addWidget(self.table, 1)
        lay.addWidget(QLabel("history"))
        lay.addWidget(self.history)
        row = QHBoxLayout()
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        row.addWidget(self.csv_button)
        row.addWidget(self.json_button)
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
        self.busy.setText(f"⏳ {text}…" if text else "")
        self.busy.setVisible(bool(text))

    def clear(self, hint: str = "open a seed section, then click on it") -> None:
        """Forget the last synchronization (a new seed or source)."""
        self.set_rows([])
        self.reference.setText(hint)
        self.structure.setText("")

    def set_rows(self, rows, flagged=()) -> None:
        """Fill the results table: ``rows`` is a list of ``(key, values)`` with values in
        the order of :data:`RESULT_COLUMNS`; the rows whose key is in ``flagged`` (their
        section is farther than its spacing) are drawn in the warning colour with a
        warning sign and tooltip."""
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
                item = QTableWidgetItem(text)
                if c >= 2:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if warn:
                    item.setForeground(QColor(WARNING_COLOUR))
                    item.setToolTip(warn)
                self.table.setItem(r, c, item)
        self.table.blockSignals(False)

    def flagged_rows(self) -> list[str]:
        """Keys of the rows shown as too far from their section."""
        col = RESULT_COLUMNS.index("distance µm")
        return [k for r, k in enumerate(self._keys)
                if self.table.item(r, col) is not None
                and self.table.item(r, col).text().startswith("⚠")]

    def add_history(self, text: str) -> None:
        """Append a line to the click history (newest first)."""
        self.history.insertItem(0, text)


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
        lay = QVBoxLayout(self)
        lay.addWidget(self.search)
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
        if item is not None:
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
            first = next((item for item in self._preorder()
                          if not item.isHidden() and wanted in item.text(0).casefold()), None)
            if first is not None:
                self.tree.setCurrentItem(first)
                self.tree.scrollToItem(first)

    def _preorder(self):
        stack = [self.tree.topLevelItem(i)
                 for i in reversed(range(self.tree.topLevelItemCount()))]
        while stack:
            item = stack.pop()
            yield item
            stack.extend(item.child(i) for i in reversed(range(item.childCount())))

    def visible_ids(self) -> list[int]:
        """Ids of the structures the tree shows (its filter applied)."""
        return [sid for sid, item in self.items.items() if not item.isHidden()]


#: Extent of the CCF (and of space 10) along x, y, z in µm: 13200 × 8000 × 11400.
CCF_EXTENT_UM = (13200.0, 8000.0, 11400.0)
#: Units of a typed reference point, with µm per unit.
POINT_UNITS = {"µm": 1.0, "25 µm voxels": 25.0}


class CoordinateView(QGroupBox):
    """A point in reference space: a magicgui form of three bounded spin boxes (the CCF
    extent in the chosen units), the units and the reference space as choices."""

    #: (values [x, y, z], units text, reference space id)
    point_requested = Signal(object, str, int)

    FIELDS = ("x", "y", "z")

    def __init__(self, parent=None):
        super().__init__("Go to reference point", parent)
        from magicgui.widgets import ComboBox, Container, FloatSpinBox, PushButton

        self.fields = {
            name: FloatSpinBox(label=name, min=0.0, max=top, step=25.0, value=top / 2)
            for name, top in zip(self.FIELDS, CCF_EXTENT_UM, strict=True)
        }
        self.units_box = ComboBox(label="units", choices=list(POINT_UNITS), value="µm")
        self.space_box = ComboBox(label="space", choices=[("9 (CCF)", 9), ("10", 10)],
                                  value=9)
        self.go = PushButton(text="Go")
        self.form = Container(widgets=[*self.fields.values(), self.units_box, self.space_box,
                                       self.go], labels=True)
        self.go_button = self.go.native
        self.units = self.units_box.native
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.form.native)
        for name, field in self.fields.items():
            field.native.setToolTip(f"{name} in the CCF: 0 to the brain's extent")
        self.units_box.changed.connect(self._rescale)
        self.go.changed.connect(self._emit)

    def _rescale(self, units: str) -> None:
        """Bounds in the new units (the values are converted: the point stays)."""
        per, was = POINT_UNITS[units], POINT_UNITS[self._units]
        values_um = [field.value * was for field in self.fields.values()]
        for field, um, top in zip(self.fields.values(), values_um, CCF_EXTENT_UM, strict=True):
            field.max = top / per
            field.step = 25.0 / per
            field.value = min(um / per, top / per)
        self._units = units

    _units = "µm"

    def _emit(self, *_):
        self.point_requested.emit([self.fields[n].value for n in self.FIELDS],
                                  self.units_box.value, int(self.space_box.value))

    def set_point(self, values, units: str = "µm", space: int = 9) -> None:
        """Fill the form (tests and scripts); values outside the extent are clamped by
        the spin boxes, as typing them is refused."""
        self.units_box.value = units
        self.space_box.value = int(space)
        for name, v in zip(self.FIELDS, values, strict=True):
            field = self.fields[name]
            field.value = min(max(float(v), field.min), field.max)


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
        inner = QWidget()
        lay = QVBoxLayout(inner)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.source_view)
        for view in (self.seed_view, self.targets_view, self.readout_view, self.batch_view,
                     self.structure_view, self.coordinate_view):
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
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidgetResizable(True)
        self.setWidget(inner)
        install_wheel_guard(inner, self)
