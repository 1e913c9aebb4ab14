"""The workers' bars in napari's activity dock (``_napari.workers.ActivityBar``).

Real napari thread workers and napari's own activity dock (a shown viewer): a quick
worker makes no bar, a slow one a moving bar with napari's Cancel, and a worker that
ends while napari is still making its bar leaves the activity dock working for the
bars after it (napari drops its activity dock's connection for good when a bar's widget
is deleted while it is being made).
"""

from __future__ import annotations

import threading

from napari.utils import progress

from napari_allen_sync._napari import workers

WAIT = 20_000


def _held(gate: threading.Event, ended: threading.Event):
    try:
        gate.wait(WAIT / 1000)
        yield "held"
    finally:
        ended.set()


def _quick():
    yield "quick"


def _finish(qtbot, worker) -> None:
    qtbot.waitUntil(lambda: not worker.is_running, timeout=WAIT)
    qtbot.waitUntil(lambda: worker.activity.ended, timeout=WAIT)


def test_a_quick_worker_makes_no_bar(qtbot, make_napari_viewer):
    make_napari_viewer(show=True)
    before = set(progress._all_instances)
    worker = workers.start(_quick, desc="quick")
    _finish(qtbot, worker)
    qtbot.wait(int(workers.ACTIVITY_DELAY_S * 1000) + 50)  # past the bar's moment
    assert worker.activity.bar is None
    assert set(progress._all_instances) == before


def test_a_slow_worker_shows_a_moving_bar_whose_cancel_quits_it(qtbot, make_napari_viewer):
    make_napari_viewer(show=True)
    gate, ended = threading.Event(), threading.Event()
    worker = workers.start(_held, gate, ended, desc="held work")
    activity = worker.activity
    qtbot.waitUntil(lambda: activity.bar is not None and activity.bar.gui, timeout=WAIT)
    bar = activity.bar
    assert bar.total == 0 and bar.desc == "held work"  # napari draws it moving
    aborted = []
    worker.aborted.connect(lambda: aborted.append(True))
    bar.cancel()  # what napari's Cancel button calls
    qtbot.waitUntil(lambda: worker.abort_requested, timeout=WAIT)
    gate.set()
    _finish(qtbot, worker)
    assert aborted  # stopped at its next step, its answer never given
    assert bar not in progress._all_instances and activity.bar is None


def test_a_worker_ending_while_its_bar_is_made_keeps_the_activity_dock(
    qtbot, make_napari_viewer
):
    """The worker ends inside napari's making of its bar (its ``finished`` is handled
    in the activity dock's own ``processEvents``): the bar is closed after, and the next
    worker's bar still reaches the activity dock."""
    make_napari_viewer(show=True)
    gate, ended = threading.Event(), threading.Event()
    released = []

    def release(event):  # called as the bar is added, before the activity dock's handler
        if event.added and not released:
            released.append(True)
            gate.set()
            ended.wait(WAIT / 1000)  # the worker's finished signal is now queued

    progress._all_instances.events.changed.connect(release)
    try:
        worker = workers.start(_held, gate, ended, desc="ends while shown")
        _finish(qtbot, worker)
    finally:
        progress._all_instances.events.changed.disconnect(release)
    assert released  # the bar was being made when the worker ended
    assert worker.activity.bar is None
    assert not [p for p in progress._all_instances if p.desc == "ends while shown"]
    gate2, ended2 = threading.Event(), threading.Event()
    later = workers.start(_held, gate2, ended2, desc="a later worker")
    qtbot.waitUntil(
        lambda: later.activity.bar is not None and later.activity.bar.gui, timeout=WAIT
    )
    gate2.set()
    _finish(qtbot, later)
