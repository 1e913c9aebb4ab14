"""The dock's readout view (``views/readout.py``) as a real Qt widget: its results table
keeps every column as wide as its widest cell whatever a fill changes (the columns are
measured once per fill, not on each cell's new text)."""

from __future__ import annotations

import pytest
from qtpy.QtWidgets import QHeaderView

from napari_allen_sync._napari.views.readout import RESULT_COLUMNS, ReadoutView

pytestmark = pytest.mark.gui


def _row(key, name, section, x, y, acronym):
    return key, (name, 900100001, section, f"{x:.1f}", f"{y:.1f}", "12.5", "", acronym)


SHORT = [_row("seed", "seed", 7, 1.0, 2.0, "HPF")]
LONG = [
    _row("seed", "seed 900100001 · Penk · coronal #269", 269, 5118.5, 4422.0, "Isocortex"),
    _row("ds:2", "900100002 · Calb1 · coronal", 282, 10236.25, 8844.75, "fiber tracts"),
]


def _fits(view) -> bool:
    header = view.table.horizontalHeader()
    return all(
        header.sectionSize(c) >= max(view.table.sizeHintForColumn(c),
                                     header.sectionSizeHint(c))
        for c in range(len(RESULT_COLUMNS))
    )


def test_the_table_columns_fit_their_contents_after_every_fill(qtbot):
    view = ReadoutView()
    qtbot.addWidget(view)
    view.show()
    header = view.table.horizontalHeader()
    view.set_rows(SHORT)
    qtbot.waitUntil(lambda: _fits(view))
    narrow = header.sectionSize(0)
    view.set_rows(LONG, {"ds:2": "no section near this point"})  # longer texts, a warning
    qtbot.waitUntil(lambda: _fits(view))
    assert header.sectionSize(0) > narrow  # widened to the long name
    assert view.table.item(1, RESULT_COLUMNS.index("distance µm")).text().startswith("⚠")
    assert view.flagged_rows() == ["ds:2"]
    view.set_rows(SHORT)  # and narrowed again
    qtbot.waitUntil(lambda: header.sectionSize(0) == narrow)
    assert _fits(view) and view.table.rowCount() == 1 and view.flagged_rows() == []
    assert all(header.sectionResizeMode(c) == QHeaderView.ResizeMode.ResizeToContents
               for c in range(len(RESULT_COLUMNS)))
