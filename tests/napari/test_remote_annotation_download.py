"""The annotation volume fetched in napari's activity dock: against ``serve --demo`` in a
child process (real HTTP on loopback) with a real napari viewer, the bar moves up to the
file's size, the file lands in the cache, and a cancel keeps nothing."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import requests

from _http_fixtures import server_process
from napari_allen_sync import annotation
from napari_allen_sync.demo import DemoSource
from napari_allen_sync.demo.annotation import demo_annotation
from napari_allen_sync.errors import ServiceError
from napari_allen_sync.remote import RemoteSource

pytestmark = pytest.mark.gui

RESOLUTION = 100
#: Small pieces, so that the 127 KiB volume arrives in several progress steps.
PIECE = 16 * 1024


@pytest.fixture(scope="module")
def demo_server_process():
    with server_process() as base:  # napari-allen-sync serve --demo
        yield base


@pytest.fixture
def small_pieces(monkeypatch):
    monkeypatch.setattr(annotation, "CHUNK_BYTES", PIECE)


def _served(source) -> bytes:
    """The volume file exactly as the server sends it."""
    return requests.get(source.annotation_url, timeout=30).content


def _leftovers(source):
    folder = source.annotation_path().parent
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_download_shows_progress_and_lands_in_the_cache(
    demo_server_process, tmp_path, qtbot, make_napari_viewer, small_pieces
):
    from napari_allen_sync._napari.annotation_download import start_annotation_download

    make_napari_viewer(show=True)  # the activity dock listens for progress bars
    source = RemoteSource(demo_server_process, tmp_path, annotation_resolution=RESOLUTION)
    assert not source.annotation_cached()
    got, values = [], []
    download = start_annotation_download(
        source, returned=got.append, errored=lambda exc: got.append(exc)
    )
    download.progress.events.value.connect(lambda e: values.append(e.value))
    assert "downloading the annotation volume (100 µm)" in download.progress.desc
    qtbot.waitUntil(lambda: bool(got), timeout=60_000)
    (volume,) = got
    assert volume is download.volume and np.array_equal(volume.ids, demo_annotation(100).ids)
    size_kib = -(-len(_served(source)) // 1024)
    # the bar went up piece by piece to the file's size, in KiB
    assert download.progress.total == size_kib
    # (napari's bar redraws with processEvents, so the value events may nest: their
    # order is not asserted, the steps and the end are)
    assert download.progress.n == size_kib and max(values) == size_kib
    assert len(set(values)) >= 4 and min(values) < size_kib / 2
    assert download.progress.gui  # napari's activity dock made a bar of it
    qtbot.waitUntil(
        lambda: download.progress.disable or download.worker.is_running is False, timeout=10_000
    )
    # in the cache, verified: a new source reads it with no request
    assert source.annotation_cached()
    assert source.annotation_path().read_bytes() == _served(source)
    again = RemoteSource("http://127.0.0.1:9", tmp_path, annotation_resolution=RESOLUTION)
    assert again.annotation_url != source.annotation_url
    cached = RemoteSource(demo_server_process, tmp_path, annotation_resolution=RESOLUTION)
    done = []
    second = start_annotation_download(cached, returned=done.append)
    assert "reading the annotation volume" in second.progress.desc
    qtbot.waitUntil(lambda: bool(done), timeout=30_000)
    assert np.array_equal(done[0].ids, volume.ids)


class _Gated(RemoteSource):
    """A RemoteSource whose download waits after its first piece until ``gate`` opens
    (the HTTP transfer is real; only the pace is held)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.first_piece = threading.Event()

    def annotation(self, progress=None):
        def held(done, total):
            progress(done, total)
            if done and not self.first_piece.is_set():
                self.first_piece.set()
                self.gate.wait(120)

        return super().annotation(progress=held if progress else None)


def _open_activity_dock(qtbot):
    """Click the activity toggle in napari's status bar, as a user opens the dock."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QAbstractButton, QApplication

    (toggle,) = [
        w
        for w in QApplication.allWidgets()
        if type(w).__name__ == "ActivityToggleItem" and w.isVisible()
    ]
    (button,) = toggle.findChildren(QAbstractButton)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _cancel_button(download):
    """The Cancel button napari's activity dock shows beside our bar."""
    from qtpy.QtWidgets import QApplication, QPushButton

    for widget in QApplication.allWidgets():
        if (
            isinstance(widget, QPushButton)
            and widget.text() == "Cancel"
            and getattr(widget.parent(), "progress", None) is download.progress
        ):
            return widget
    return None


def test_cancel_in_the_activity_dock_keeps_nothing(
    demo_server_process, tmp_path, qtbot, make_napari_viewer, small_pieces
):
    from qtpy.QtCore import Qt

    from napari_allen_sync._napari.annotation_download import start_annotation_download

    make_napari_viewer(show=True)
    source = _Gated(demo_server_process, tmp_path, annotation_resolution=RESOLUTION)
    outcome = []
    download = start_annotation_download(
        source,
        returned=outcome.append,
        errored=outcome.append,
        cancelled=lambda: outcome.append("cancelled"),
    )
    try:
        assert source.first_piece.wait(30)  # a piece arrived and is on disk (partial)
        assert any(name.endswith(".partial") for name in _leftovers(source))
        _open_activity_dock(qtbot)
        qtbot.waitUntil(
            lambda: _cancel_button(download) is not None and _cancel_button(download).isVisible(),
            timeout=10_000,
        )
        qtbot.mouseClick(_cancel_button(download), Qt.MouseButton.LeftButton)
        assert download.cancelled
    finally:
        source.gate.set()
    qtbot.waitUntil(lambda: bool(outcome), timeout=30_000)
    assert outcome == ["cancelled"]
    assert isinstance(download.error, annotation.DownloadCancelled)
    assert download.volume is None
    # nothing half-written: no volume, no partial, no decoded copy
    assert not source.annotation_cached()
    assert _leftovers(source) == []
    # the next try starts over and completes
    plain = RemoteSource(demo_server_process, tmp_path, annotation_resolution=RESOLUTION)
    done = []
    start_annotation_download(plain, returned=done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=60_000)
    assert plain.annotation_path().read_bytes() == _served(plain)


def test_an_unreachable_server_is_an_error_not_a_cancel(tmp_path, qtbot, make_napari_viewer):
    from napari_allen_sync._napari.annotation_download import start_annotation_download

    make_napari_viewer()
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = RemoteSource(
        f"http://127.0.0.1:{port}",
        tmp_path,
        timeout=(0.5, 0.5),
        retries=0,
        annotation_resolution=RESOLUTION,
    )
    errors, cancels = [], []
    download = start_annotation_download(
        source, errored=errors.append, cancelled=lambda: cancels.append(1)
    )
    qtbot.waitUntil(lambda: bool(errors), timeout=30_000)
    assert isinstance(errors[0], ServiceError) and cancels == []
    assert download.error is errors[0]
    assert _leftovers(source) == []


def test_the_demo_source_needs_no_download():
    from napari_allen_sync._napari.annotation_download import start_annotation_download

    assert start_annotation_download(DemoSource()) is None


def test_the_dock_fetches_the_volume_when_a_remote_source_opens(
    demo_server_process, tmp_path, qtbot, make_napari_viewer, small_pieces
):
    """Connecting the dock to a server starts the download at once (not inside the
    first click); the volume lands in the cache and the click names structures."""
    from dock_scene import open_dock

    source = RemoteSource(demo_server_process, tmp_path, annotation_resolution=RESOLUTION)
    assert not source.annotation_cached()
    widget = open_dock(qtbot, make_napari_viewer(show=True), source)
    download = widget.setup.annotation_download
    assert download is not None and "downloading the annotation volume" in download.progress.desc
    qtbot.waitUntil(lambda: download.volume is not None or download.error is not None,
                    timeout=60_000)
    assert download.error is None and source.annotation_cached()
    assert np.array_equal(download.volume.ids, demo_annotation(RESOLUTION).ids)


def test_closing_the_dock_cancels_the_download_and_keeps_nothing(
    demo_server_process, tmp_path, qtbot, make_napari_viewer, small_pieces
):
    from dock_scene import open_dock

    source = _Gated(demo_server_process, tmp_path, annotation_resolution=RESOLUTION)
    viewer = make_napari_viewer(show=True)
    widget = open_dock(qtbot, viewer, source)
    download = widget.setup.annotation_download
    # some bytes arrived, the rest is held (the worker starts from Qt's event loop)
    qtbot.waitUntil(source.first_piece.is_set, timeout=30_000)
    failed = []
    widget.failed.connect(failed.append)
    viewer.window.remove_dock_widget(widget)  # as the dock's close button does
    assert download.cancelled
    source.gate.set()
    qtbot.waitUntil(lambda: download.error is not None, timeout=30_000)
    assert isinstance(download.error, annotation.DownloadCancelled)
    assert not source.annotation_cached() and _leftovers(source) == []
    assert failed == []  # a cancel is not an error


def test_a_click_during_the_download_answers_at_once_then_names_its_structure(
    demo_server_process, tmp_path, qtbot, make_napari_viewer, small_pieces
):
    """While the volume is downloading, a click does not wait for it: the markers and
    coordinates come at once and the dock says the structure is not known yet; when the
    volume has arrived the same point is synchronized again and its structure named."""
    from dock_scene import click_seed, demo_scene

    source = _Gated(demo_server_process, tmp_path, annotation_resolution=RESOLUTION)
    viewer = make_napari_viewer(show=True)
    try:
        widget = demo_scene(qtbot, viewer, source, click=False)
        download = widget.setup.annotation_download
        qtbot.waitUntil(source.first_piece.is_set, timeout=30_000)
        assert source.annotation_pending()
        from napari_allen_sync import demo

        _, x, y = demo.demo_click()
        outcome = click_seed(qtbot, viewer, widget, (y, x))
        assert download.volume is None  # answered while the download was held
        assert outcome.structure is None
        assert "still downloading" in outcome.structures_missing
        text = widget.readout_view.structure.text()
        assert "structure not known" in text and "still downloading" in text
        assert "outside the brain" not in text
        history = widget.session.history
        n_history = len(history)
        with qtbot.waitSignal(widget.synchronized, timeout=60_000) as again:
            source.gate.set()
        named = again.args[0]
    finally:
        source.gate.set()
    assert download.volume is not None and named.structures_missing is None
    # the same point, now named by the downloaded volume (the server's own answer)
    assert (named.request.x, named.request.y) == (outcome.request.x, outcome.request.y)
    assert named.structure is not None
    expected = source.structure_at(named.reference_space_id, *[[v] for v in named.reference])
    assert named.structure.id == expected[0].id
    assert named.structure.acronym in widget.readout_view.structure.text()
    assert len(history) == n_history  # the redraw is not a click of the user's
