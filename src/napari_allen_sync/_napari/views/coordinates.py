"""The reference-point form: go to a point of the CCF."""

from __future__ import annotations

from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QGroupBox,
    QVBoxLayout,
)

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
        self.space_box = ComboBox(label="space", choices=[("9 (CCF)", 9), ("10", 10)], value=9)
        self.go = PushButton(text="Go")
        self.form = Container(
            widgets=[*self.fields.values(), self.units_box, self.space_box, self.go], labels=True
        )
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
        self.point_requested.emit(
            [self.fields[n].value for n in self.FIELDS],
            self.units_box.value,
            int(self.space_box.value),
        )

    def set_point(self, values, units: str = "µm", space: int = 9) -> None:
        """Fill the form (tests and scripts); values outside the extent are clamped by
        the spin boxes, as typing them is refused."""
        self.units_box.value = units
        self.space_box.value = int(space)
        for name, v in zip(self.FIELDS, values, strict=True):
            field = self.fields[name]
            field.value = min(max(float(v), field.min), field.max)
