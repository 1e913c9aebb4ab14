"""Shared pieces of the dock's views: the wheel guard, the id edit, the source and atlas choices."""

from __future__ import annotations

from qtpy.QtCore import QEvent, QObject, Qt
from qtpy.QtGui import QIntValidator
from qtpy.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QSlider,
)

SOURCE_CHOICES = (
    ("Demo atlas (offline)", "demo"),
    ("Allen Brain Atlas API", "allen"),
    ("Custom server URL", "custom"),
)

#: Atlases offered even before a source lists them (Allen ids).
DEFAULT_ATLASES = ((1, "P56 coronal (atlas 1)"), (2, "P56 sagittal (atlas 2)"))

#: Dynamic Qt property of a combo box that keeps the width of its longest choice (a
#: few short choices); the dock lets every other one shrink (DockPanel).
KEEP_WIDTH = "allen_sync_keep_width"

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
