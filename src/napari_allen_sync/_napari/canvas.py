"""Real mouse events on napari's canvas, through the Qt widget tree only.

Used by the demo command's screenshot mode, the GUI benchmark and the tests: a click
goes exactly the way a user's click goes (Qt event → vispy → napari mouse callbacks).
"""

from __future__ import annotations

import time

from qtpy.QtCore import QEvent, QPointF, Qt
from qtpy.QtGui import QMouseEvent
from qtpy.QtWidgets import QApplication

__all__ = ["canvas_widget", "process_events_until", "send_click", "send_move"]


def canvas_widget(widget):
    """The vispy canvas (a ``QOpenGLWidget``) in the window that holds ``widget``."""
    from qtpy.QtOpenGLWidgets import QOpenGLWidget

    found = [w for w in widget.window().findChildren(QOpenGLWidget) if w.isVisible()]
    if not found:
        raise RuntimeError("no visible OpenGL canvas in the window: is the viewer shown?")
    return max(found, key=lambda w: w.width() * w.height())


def _send(target, kind, pos, button, buttons, modifiers=Qt.KeyboardModifier.NoModifier):
    p = QPointF(float(pos[0]), float(pos[1]))
    event = QMouseEvent(kind, p, target.mapToGlobal(p), button, buttons, modifiers)
    QApplication.sendEvent(target, event)


def send_click(canvas, pos, hold_s: float = 0.02) -> None:
    """A left press and release at canvas pixel ``pos = (x, y)``."""
    left = Qt.MouseButton.LeftButton
    _send(canvas, QEvent.Type.MouseButtonPress, pos, left, left)
    process_events_until(lambda: False, hold_s)
    _send(canvas, QEvent.Type.MouseButtonRelease, pos, left, Qt.MouseButton.NoButton)


def process_events_until(condition, timeout_s: float) -> bool:
    """Run the Qt event loop until ``condition()`` is true or the time is up."""
    app = QApplication.instance()
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        app.processEvents()
        time.sleep(0.002)


def send_move(canvas, pos, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """A cursor move (no button pressed) to canvas pixel ``pos = (x, y)``, with the
    modifier keys held (``Qt.KeyboardModifier`` flags)."""
    _send(canvas, QEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton,
          Qt.MouseButton.NoButton, modifiers)
