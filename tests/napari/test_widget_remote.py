"""The widget on a real RemoteSource whose server is gone (a closed loopback port)."""

from __future__ import annotations

import socket

import pytest

from napari_allen_sync._napari.widget import AllenSyncWidget

pytestmark = pytest.mark.gui
WAIT = 30_000  # ms: a bound on waiting, not a speed requirement

remote = pytest.importorskip("napari_allen_sync.remote")


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_remote_source(qtbot, make_napari_viewer, tmp_path):
    from napari.utils.notifications import notification_manager

    notes = []
    notification_manager.notification_ready.connect(notes.append)
    try:
        viewer = make_napari_viewer()
        url = f"http://127.0.0.1:{closed_port()}"
        source = remote.RemoteSource(url, cache_dir=tmp_path / "cache", retries=0)
        widget = AllenSyncWidget(viewer, source=source)
        viewer.window.add_dock_widget(widget)
        qtbot.waitUntil(lambda: widget.source is not None, timeout=WAIT)
        assert widget.source.status() == "unreachable"
        assert "unreachable" in widget.source_view.status.text()
        # an id the empty cache does not hold must be fetched: the fetch fails cleanly
        with qtbot.waitSignal(widget.failed, timeout=WAIT) as blocker:
            widget.add_target(100055064)
        assert widget.target_ids == []
        assert blocker.args[0] in widget.messages
        with qtbot.waitSignal(widget.failed, timeout=WAIT):
            widget.open_seed_data_set(100055064)
        assert widget.seed_image is None
        qtbot.waitUntil(lambda: not widget.running_workers(), timeout=WAIT)
        # the same through the source chooser ("custom server URL")
        with qtbot.waitSignal(widget.source_ready, timeout=WAIT) as blocker:
            widget.source_view.url.setText(url)
            widget.source_view.choice.setCurrentIndex(2)
            widget.source_view.connect_button.click()
        assert blocker.args[0] in ("unreachable", "offline from cache")
        assert any("unreachable" in str(n.message) for n in notes)
        widget.close()
        assert widget.running_workers() == []
    finally:
        notification_manager.notification_ready.disconnect(notes.append)
