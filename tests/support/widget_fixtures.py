"""A small catalog and source for the widget tests: three experiments, a data set
whose images all failed, an atlas, and a trivial grey TileSource."""

from __future__ import annotations

import threading
import time

import numpy as np

from napari_allen_sync.catalog import Catalog
from napari_allen_sync.errors import ServiceUnavailableError, UnknownIdError
from napari_allen_sync.records import (
    Atlas,
    AtlasImage,
    SectionImage,
    Structure,
)
from napari_allen_sync.synchronizer import Synchronizer
from synthetic import Section, data_set

SEED_DS, TARGETS, FAILED_DS, ATLAS_ID, ATLAS_DS = 11, (12, 13), 14, 1, 100


def _data_set(ds_id, *, space, plane, thickness, tvr, numbers, res, size, angle=0.0,
              offset=(700.0, 500.0), image_cls=SectionImage, annotated=False, failed=False,
              extra=None):
    """Planned geometry (section k turned by ``angle + 0.3 k`` degrees), built by
    :func:`synthetic.data_set`."""
    sections = []
    for k, n in enumerate(numbers):
        a = np.deg2rad(angle + 0.3 * k)
        lin = res * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        tsv = np.column_stack([lin, offset])
        sections.append(Section(n, None if failed else tsv, {
            "width": size[0], "height": size[1], "image_width": size[0],
            "image_height": size[1], "resolution": res, "tier_count": 3,
            "annotated": annotated, "failed": failed,
        }))
    ds, images = data_set(ds_id, tvr, sections, space=space, plane=plane, thickness=thickness,
                          image_cls=image_cls, extra=extra)
    return [ds, *images]


# coronal, space 9 (PIR): p = vz + t, i = vy, r = vx
CORONAL = np.array([[0, 0, 1, 1000.0], [0, 1, 0, 0], [1, 0, 0, 0]])
# sagittal, space 10 (PIL): p = vx, i = vy, l = vz
SAGITTAL = np.array([[1, 0, 0, 0.0], [0, 1, 0, 0], [0, 0, 1, 0]])

STRUCTURES = [
    Structure(997, "root", "root", None, (997,), "FFFFFF"),
    Structure(315, "Isocortex", "Isocortex", 997, (997, 315), "70FF71"),
    Structure(549, "TH", "Thalamus", 997, (997, 549), "FF7080"),
]


def make_catalog() -> Catalog:
    records = []
    records += _data_set(SEED_DS, space=9, plane=1, thickness=25.0, tvr=CORONAL,
                         numbers=4 + 8 * np.arange(30), res=10.0, size=(1000, 700),
                         extra={"genes": [{"acronym": "Gad1"}]})
    records += _data_set(12, space=9, plane=1, thickness=25.0,
                         tvr=CORONAL + np.array([[0, 0, 0, 37.0], [0, 0, 0, 90], [0, 0, 0, -60]]),
                         numbers=2 + 8 * np.arange(30), res=8.0, size=(1300, 950), angle=2.0,
                         offset=(400.0, 300.0), extra={"genes": [{"acronym": "Calb1"}]})
    records += _data_set(13, space=10, plane=2, thickness=25.0, tvr=SAGITTAL,
                         numbers=2 + 8 * np.arange(31), res=10.0, size=(1400, 800),
                         offset=(0.0, 0.0), extra={"genes": [{"acronym": "Pvalb"}]})
    records += _data_set(FAILED_DS, space=9, plane=1, thickness=25.0, tvr=CORONAL,
                         numbers=[4, 12], res=10.0, size=(100, 100), failed=True)
    records += _data_set(ATLAS_DS, space=9, plane=1, thickness=100.0,
                         tvr=CORONAL - np.array([[0, 0, 0, 1000.0], [0, 0, 0, 0], [0, 0, 0, 0]]),
                         numbers=np.arange(1, 100), res=20.0, size=(600, 420),
                         offset=(0.0, 0.0), image_cls=AtlasImage, annotated=True)
    records.append(Atlas(ATLAS_ID, "Mouse, P56, Coronal", 9, 1, (ATLAS_DS,)))
    records += STRUCTURES
    return Catalog(records)


class GreyTiles:
    """Grey sections with a darker frame (a TileSource)."""

    def read_region(self, image, downsample, left, top, width, height):
        f = 2**downsample
        rows = (top + f * np.arange(height))[:, None]
        cols = (left + f * np.arange(width))[None, :]
        inside = (rows >= 0) & (rows < image.height) & (cols >= 0) & (cols < image.width)
        frame = inside & ((rows < 20) | (cols < 20) | (rows > image.height - 20)
                          | (cols > image.width - 20))
        out = np.full((height, width, 3), 255, np.uint8)
        out[inside] = 170
        out[frame] = 60
        return out


def structure_for(space, x, y, z):
    """The fake annotation: outside the CCF box → None; dorsal → Isocortex; else TH."""
    r = z if space == 9 else 11350.0 - z
    if not (0 <= x < 13200 and 0 <= y < 8000 and 0 <= r < 11400):
        return None
    return STRUCTURES[1] if y < 3000 else STRUCTURES[2]


class FakeSource:
    """An AtlasSource over :func:`make_catalog`.

    Parameters
    ----------
    delay : float
        Seconds each ``ensure_data_set`` takes (a slow network).
    broken : bool
        Every network-like call raises ServiceUnavailableError; status is unreachable.
    """

    name = "test atlas"

    def __init__(self, delay=0.0, broken=False):
        self.catalog = make_catalog()
        self.synchronizer = Synchronizer(self.catalog)
        self.tiles = GreyTiles()
        self.delay = delay
        self.broken = broken
        self.calls = 0
        self._lock = threading.Lock()

    def _network(self, what):
        with self._lock:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if self.broken:
            raise ServiceUnavailableError("connection refused", url=f"http://127.0.0.1:9/{what}")

    def status(self):
        return "unreachable" if self.broken else "offline (demo)"

    def data_set_ids(self):
        return [SEED_DS, *TARGETS]

    def atlas_ids(self):
        return [ATLAS_ID]

    def ensure_data_set(self, section_data_set_id):
        self._network(f"SectionDataSet/{section_data_set_id}")
        return self.catalog.section_data_set(section_data_set_id)

    def ensure_atlas(self, atlas_id):
        self._network(f"Atlas/{atlas_id}")
        if atlas_id not in self.catalog.atlases:
            raise UnknownIdError("Atlas", atlas_id)

    def structure_at(self, reference_space_id, x, y, z, wait=True):
        return [structure_for(reference_space_id, a, b, c)
                for a, b, c in zip(np.atleast_1d(x), np.atleast_1d(y), np.atleast_1d(z),
                                   strict=True)]


def simple_pyramid(image, tiles, tile_size=512):
    """Stand-in for images.image_pyramid while it does not exist."""
    import dask.array as da

    levels = []
    for d in range(max(1, image.tier_count)):
        f = 2**d
        h, w = -(-image.height // f), -(-image.width // f)
        levels.append(da.from_array(tiles.read_region(image, d, 0, 0, w, h), chunks=(512, 512, 3)))
    return levels


def demo_scene_ready(widget) -> bool:
    """The widget's default demo scene is loaded (seed, three targets, atlas) and idle."""
    from napari_allen_sync import demo

    return (
        widget.seed_image is not None
        and sorted(widget.target_ids) == sorted(demo.DEMO_TARGET_DATA_SET_IDS)
        and widget.atlas_id == demo.DEMO_ATLAS_ID
        and not widget.running_workers()
        and not widget._res.workers
    )


# ---------------------------------------------------------------------- the widget
#: ms: a bound on waiting in the widget tests, not a speed requirement
WAIT = 60_000


def demo_dock(qtbot, make_napari_viewer, show=True, timeout=WAIT):
    """A viewer with the dock docked on its default scene, the embedded demo atlas
    (seed, three targets, atlas), loaded and idle (:func:`demo_scene_ready`: the
    sections a click can reach read ahead too, some fifty demo images rendered), its
    panels drawn; returns ``(viewer, widget)``. (``dock_scene.open_demo_dock`` adds a
    real click.)"""
    from napari_allen_sync._napari.widget import AllenSyncWidget

    viewer = make_napari_viewer(show=show)
    widget = AllenSyncWidget(viewer)  # no source: the demo atlas and its scene
    viewer.window.add_dock_widget(widget, area="right")
    qtbot.waitUntil(lambda: demo_scene_ready(widget), timeout=timeout)
    qtbot.wait(50)  # the panels drawn
    return viewer, widget


def wheel(target, steps=-3, pos=None):
    """A real wheel event over a widget, at ``pos`` (default: its middle); negative
    ``steps``: scroll down (over napari's canvas: zoom out)."""
    from qtpy.QtCore import QPoint, QPointF, Qt
    from qtpy.QtGui import QWheelEvent
    from qtpy.QtWidgets import QApplication

    pos = QPointF(target.width() / 2, target.height() / 2) if pos is None else QPointF(*pos)
    event = QWheelEvent(pos, target.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(target, event)


def wait_idle(qtbot, widget):
    """Wait until no worker of the widget runs or is still being handed over, and no
    live point waits for the throttle."""
    live = widget.live
    qtbot.waitUntil(lambda: not widget.running_workers() and not widget._res.workers
                    and live.pending is None and not live.in_flight, timeout=WAIT)


def start_widget(qtbot, make_napari_viewer, source, targets=TARGETS, atlas=ATLAS_ID,
                 show=True):
    """A viewer with the dock on ``source``, its seed shown and ``targets`` and ``atlas``
    asked for, without waiting for them (:func:`make_widget` waits)."""
    from napari_allen_sync._napari.widget import AllenSyncWidget

    viewer = make_napari_viewer(show=show)
    widget = AllenSyncWidget(viewer, source=source)
    viewer.window.add_dock_widget(widget, name="Allen sync", area="right")
    qtbot.waitUntil(lambda: widget.source is not None, timeout=WAIT)
    with qtbot.waitSignal(widget.seed_loaded, timeout=WAIT):
        widget.open_seed_section(SEED_DS * 1000 + 10)
    for ds in targets:
        widget.add_target(ds)
    if atlas:
        widget.set_atlas(atlas)
    return viewer, widget


def make_widget(qtbot, make_napari_viewer, source, targets=TARGETS, atlas=ATLAS_ID,
                show=True, click=None):
    """A viewer with the dock on ``source``: the seed, ``targets`` and ``atlas`` loaded;
    with ``click`` (seed pixel ``(row, col)``), a first real click through the canvas so
    that every target has its image and marker."""
    from napari_allen_sync._napari.canvas import canvas_widget, send_click
    from napari_allen_sync._napari.layout import canvas_position

    viewer, widget = start_widget(qtbot, make_napari_viewer, source, targets, atlas, show)
    qtbot.waitUntil(
        lambda: len(widget.target_ids) == len(targets) and widget.atlas_id == atlas,
        timeout=WAIT)
    wait_idle(qtbot, widget)
    if click is not None:
        pos = canvas_position(viewer, widget.layers.seed_layer, click)
        with qtbot.waitSignal(widget.synchronized, timeout=WAIT):
            send_click(canvas_widget(widget), pos)
        wait_idle(qtbot, widget)
    if show:
        qtbot.wait(50)
    return viewer, widget


def assert_marker_on(layers, key, y, x, atol=1e-6):
    """A panel's marker is drawn on pixel ``(y, x)`` of the panel's image: the marker's
    world position (markers keep the world frame) is that pixel through the image's
    placement (its ``affine``), to ``atol`` world pixels."""
    marker = layers.markers[key]
    image = layers.images[key]
    assert len(marker.data) == 1, (key, marker.data)
    got = np.asarray(marker.data_to_world(marker.data[0]), dtype=float)[-2:]
    want = np.asarray(image.data_to_world(np.array([y, x], dtype=float)), dtype=float)[-2:]
    np.testing.assert_allclose(got, want, atol=atol, err_msg=key)
