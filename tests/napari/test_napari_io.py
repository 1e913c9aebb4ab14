"""The npe2 contributions of the packaging: the demo cell detections sample and the
writers of synchronized Points layers, through a real napari viewer."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from qtpy.QtCore import Qt

pytestmark = pytest.mark.gui
WAIT = 60_000  # ms: a bound on waiting, not a speed requirement

demo = pytest.importorskip("napari_allen_sync.demo")
PLUGIN = "napari-allen-sync"


def _open_detections(viewer):
    layers = viewer.open_sample(PLUGIN, "demo_cell_detections")
    assert [layer._type_string for layer in layers] == ["image", "points"]
    return layers


def test_sample_detections_lie_on_the_seed_section_inside_the_brain(make_napari_viewer):
    viewer = make_napari_viewer()
    image, points = _open_detections(viewer)
    image_id, x, y = demo.demo_click()
    assert image.metadata["section_image_id"] == image_id
    assert points.metadata["section_image_id"] == image_id
    assert len(points.data) > 300  # 450 drawn; most of three clusters in the brain
    # same data coordinates as the image: sync pixels (row = y, column = x)
    height, width = image.data[0].shape[:2]
    assert np.all((points.data >= 0) & (points.data < [height, width]))
    # one cluster sits on the demo point, in the hippocampus the demo announces
    assert np.min(np.hypot(points.data[:, 0] - y, points.data[:, 1] - x)) < 0.01 * width
    source = demo.DemoSource()
    ref = source.synchronizer.image_to_reference_batch(
        image_id, points.data[:, 1], points.data[:, 0]
    )
    assert all(
        s is not None for s in source.structure_at(ref.reference_space_id, ref.x, ref.y, ref.z)
    )


def _rows_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_writer_round_trip_after_batch_sync(qtbot, make_napari_viewer, tmp_path):
    import napari

    from napari_allen_sync._napari.batch_points import CSV_COLUMNS
    from widget_fixtures import demo_dock, wait_idle

    viewer, widget = demo_dock(qtbot, make_napari_viewer)
    _, detections = _open_detections(viewer)
    view = widget.batch_view
    index = view.layer.findText(detections.name)
    assert index >= 0, f"{detections.name!r} not offered by the dock"
    view.layer.setCurrentIndex(index)
    with qtbot.waitSignal(widget.batch_synchronized, timeout=WAIT) as blocker:
        qtbot.mouseClick(view.sync_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, widget)
    batch = blocker.args[0]
    assert len(batch) == len(detections.data)

    # the dock's own export: the reference table for every target
    dock_csv = batch.to_csv(tmp_path / "dock.csv")
    dock_rows = _rows_csv(dock_csv)
    assert len(batch.targets) >= 2
    for t in batch.targets:
        layer = widget.layers.batch[t.key]
        out_csv = tmp_path / f"{t.key.replace(':', '-')}.csv"
        out_json = tmp_path / f"{t.key.replace(':', '-')}.json"
        # napari's own save path, choosing the plugin's writer by the extension
        assert napari.save_layers(str(out_csv), [layer], plugin=PLUGIN) == [str(out_csv)]
        assert napari.save_layers(str(out_json), [layer], plugin=PLUGIN) == [str(out_json)]
        rows = _rows_csv(out_csv)
        columns = list(rows[0])
        assert columns == [c for c in CSV_COLUMNS if c != "seed_section_image_id"]
        want = [r for r in dock_rows if r["target"] == t.key]
        assert len(rows) == len(want) == len(detections.data)
        for got, ref in zip(rows, want, strict=True):
            assert got == {c: ref[c] for c in columns}
        records = json.loads(out_json.read_text(encoding="utf-8"))
        assert [list(r) for r in records[:1]] == [columns]
        for rec, row in zip(records, rows, strict=True):
            for c in columns:
                value = rec[c]
                if isinstance(value, float):
                    assert value == pytest.approx(float(row[c]), rel=1e-15)
                elif isinstance(value, bool):
                    assert str(value) == row[c]
                else:
                    assert str(value) == row[c]


def test_writer_refuses_a_layer_that_was_not_synchronized(make_napari_viewer, tmp_path):
    from napari_allen_sync._napari.writer import write_points_csv, write_points_json
    from napari_allen_sync.errors import WriteError

    viewer = make_napari_viewer()
    layer = viewer.add_points(np.array([[1.0, 2.0], [3.0, 4.0]]), name="plain")
    data, attributes, _ = layer.as_layer_data_tuple()
    for write, name in ((write_points_csv, "plain.csv"), (write_points_json, "plain.json")):
        with pytest.raises(WriteError, match="carries no synchronized columns"):
            write(str(tmp_path / name), data, attributes)
    assert list(tmp_path.iterdir()) == []


def test_writer_failure_leaves_no_partial_file(make_napari_viewer, tmp_path):
    from napari_allen_sync._napari.writer import write_points_json
    from napari_allen_sync.errors import WriteError

    viewer = make_napari_viewer()
    layer = viewer.add_points(
        np.array([[1.0, 2.0], [3.0, 4.0]]),
        name="synced",
        features={"x": [2.0, np.nan], "y": [1.0, 3.0]},
    )
    data, attributes, _ = layer.as_layer_data_tuple()
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "synced.json"
    write_points_json(str(target), data, attributes)
    # NaN becomes null (strict JSON), the other columns keep their order
    assert json.loads(target.read_text()) == [
        {"point": 0, "x": 2.0, "y": 1.0},
        {"point": 1, "x": None, "y": 3.0},
    ]
    with pytest.raises(WriteError, match="does not exist"):
        write_points_json(str(folder / "missing" / "other.json"), data, attributes)
    (folder / "a-folder.json").mkdir()
    with pytest.raises(WriteError, match="it is a folder"):
        write_points_json(str(folder / "a-folder.json"), data, attributes)
    assert sorted(p.name for p in folder.iterdir()) == ["a-folder.json", "synced.json"]


# ------------------------------------------------------------ File ▸ IO Utilities: bundles


def _answer_file_dialog(path):
    """Answer the next file dialog with ``path``, as a user would: put it in the dialog's
    file name field, then press Return (a real key event)."""
    from qtpy.QtCore import QTimer
    from qtpy.QtTest import QTest
    from qtpy.QtWidgets import QApplication, QFileDialog, QLineEdit

    def poll():
        tops = QApplication.topLevelWidgets()
        dialogs = [w for w in tops if isinstance(w, QFileDialog) and w.isVisible()]
        if dialogs:
            edit = dialogs[0].findChild(QLineEdit, "fileNameEdit")
            edit.setText(str(path))  # typing would open the completer's popup
            QTest.keyClick(edit, Qt.Key.Key_Return)
        else:
            QTimer.singleShot(50, poll)

    QTimer.singleShot(50, poll)


def _fill_cache(root):
    """A cache holding the demo's seed data set and atlas 1 (one tier of seed tiles),
    fetched over loopback HTTP from the project's own server, as a user's cache is."""
    from napari_allen_sync.remote import RemoteSource
    from napari_allen_sync.server import create_app, serve_in_thread

    source = demo.DemoSource()
    image_id, _, _ = demo.demo_click()
    seed_ds = source.catalog.section_image(image_id).data_set_id
    with serve_in_thread(create_app(source)) as base:
        online = RemoteSource(base, root, timeout=(2, 30))
        online.ensure_data_set(seed_ds)
        online.ensure_atlas(demo.DEMO_ATLAS_ID)
        image = online.catalog.section_image(image_id)
        online.tiles.read_region(image, image.tier_count - 1, 0, 0, 64, 64)
    return seed_ds


def test_bundle_menu_items_export_and_import_the_cache(
    qtbot, make_napari_viewer, tmp_path, monkeypatch
):
    from npe2 import PluginManager

    from napari_allen_sync._napari import bundle_menu
    from napari_allen_sync.bundle import read_manifest
    from napari_allen_sync.cache import AllenCache

    viewer = make_napari_viewer(show=True)
    items = [
        getattr(item, "command", None)
        for item in PluginManager.instance().iter_menu("napari/file/io_utilities")
    ]
    assert {"napari-allen-sync.import_bundle", "napari-allen-sync.export_bundle"} <= set(items)

    cache_a, cache_b = tmp_path / "cache-a", tmp_path / "cache-b"
    seed_ds = _fill_cache(cache_a)
    bundle = tmp_path / "lab.zip"

    monkeypatch.setenv("NAPARI_ALLEN_SYNC_CACHE", str(cache_a))
    _answer_file_dialog(bundle)
    worker = bundle_menu.export_bundle_dialog(viewer)
    with qtbot.waitSignal(worker.finished, timeout=WAIT):
        pass
    manifest = read_manifest(bundle)
    assert manifest["section_data_set_ids"] == [seed_ds]
    assert manifest["atlas_ids"] == [demo.DEMO_ATLAS_ID]
    assert any(n.startswith("tiles/") for n in manifest["files"])

    monkeypatch.setenv("NAPARI_ALLEN_SYNC_CACHE", str(cache_b))
    assert bundle_menu.cached_contents(AllenCache(cache_b)) == ([], [])
    _answer_file_dialog(bundle)
    worker = bundle_menu.import_bundle_dialog(viewer)
    with qtbot.waitSignal(worker.finished, timeout=WAIT):
        pass
    a, b = AllenCache(cache_a), AllenCache(cache_b)
    assert bundle_menu.cached_contents(b) == ([seed_ds], [demo.DEMO_ATLAS_ID])
    assert sorted(b.rma_names()) == sorted(a.rma_names())
    for name in a.rma_names():
        assert b.rma_path(name).read_bytes() == a.rma_path(name).read_bytes()


def test_bundle_import_of_a_damaged_file_is_a_notification_not_a_crash(
    qtbot, make_napari_viewer, tmp_path
):
    from napari_allen_sync._napari import bundle_menu
    from napari_allen_sync.cache import AllenCache

    make_napari_viewer()
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip file")
    cache = AllenCache(tmp_path / "cache")
    errors = []
    worker = bundle_menu.import_bundle_file(bad, cache=cache, start=False)
    worker.errored.connect(errors.append)
    with qtbot.waitSignal(worker.finished, timeout=WAIT):
        worker.start()  # connected first: a refused bundle can finish at once
    assert errors and str(bad) in str(errors[0])
    assert cache.rma_names() == []
    # an empty cache exports nothing and says so
    assert bundle_menu.export_cache_bundle(tmp_path / "empty.zip", cache=cache) is None
    assert not (tmp_path / "empty.zip").exists()
