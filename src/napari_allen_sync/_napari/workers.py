"""Run the session's workflow generators (:mod:`napari_allen_sync.session.workflow`,
:mod:`napari_allen_sync.session.points`) in napari thread workers, each with its bar in
napari's activity dock (:class:`ActivityBar`)."""

from __future__ import annotations

__all__ = ["ACTIVITY_DELAY_S", "CANCEL_POLL_S", "ActivityBar", "start"]

#: A worker's bar appears in napari's activity dock once the worker has run this long
#: (seconds). An answer that comes sooner (a click on the demo atlas takes a few
#: milliseconds) makes no bar: a bar made and closed within one event-loop turn is
#: only churn, and it is what breaks napari's activity dock (see :class:`ActivityBar`).
#: 50 ms keeps a slow answer's bar within the 100 ms a user notices.
ACTIVITY_DELAY_S = 0.05
#: How often (seconds) a shown bar's Cancel button is checked (napari's Cancel only
#: sets the bar's ``is_canceled``).
CANCEL_POLL_S = 0.1


class ActivityBar:
    """The moving bar of one worker in napari's activity dock, with napari's Cancel.

    The bar (a ``napari.utils.cancelable_progress`` with no total: napari draws it as a
    moving bar, and its Cancel button, checked every :data:`CANCEL_POLL_S`, quits the
    worker, which stops at its next step) is made on the GUI thread
    :data:`ACTIVITY_DELAY_S` after the worker starts, if the worker is still running,
    and closed when the worker has finished.

    Why not napari's own ``create_worker(..., _progress=...)``: napari shows that bar
    when the worker's ``started`` signal arrives and closes it on ``finished``. Making a
    bar, napari's activity dock runs ``QApplication.processEvents()``; a short worker's
    ``finished`` is then handled inside it, the bar's widget is deleted under the dock,
    and napari, on that "has been deleted" error, disconnects its activity dock from
    every later bar: from then on no bar of any plugin appeared (measured on the demo:
    disconnected while the first target panels opened). Here a bar is never closed while
    napari is still making it: a finish that comes meanwhile closes it right after.

    Parameters
    ----------
    worker : superqt.utils.WorkerBase
        A worker about to start; ``worker.quit`` is the bar's Cancel.
    desc : str
        What the worker does, the bar's text.
    delay_s : float
        Seconds after which the bar is made if the worker still runs.
    """

    def __init__(self, worker, desc: str, delay_s: float = ACTIVITY_DELAY_S):
        from qtpy.QtCore import QTimer

        self.desc = desc
        #: the ``napari.utils.progress`` in the activity dock; None before it is made
        #: and when the worker ended first
        self.bar = None
        self.ended = False
        self._quit = worker.quit
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._make)
        self._poll = QTimer()
        self._poll.timeout.connect(self._check_cancel)
        worker.finished.connect(self._end)
        self._timer.start(max(0, int(delay_s * 1000 + 0.5)))

    def _check_cancel(self) -> None:
        if self.bar is not None and self.bar.is_canceled:
            self._poll.stop()
            self._quit()

    def _make(self) -> None:
        if self.ended or self.bar is not None:
            return
        from napari.utils import cancelable_progress

        # napari's activity dock adds its bar in here, running Qt's events: a finish
        # handled meanwhile finds no bar yet (self.bar is set on return) and the bar
        # is closed right after
        self.bar = cancelable_progress(total=0, desc=self.desc, cancel_callback=self._quit)
        if self.ended:
            self._close()
        else:
            self._poll.start(max(1, int(CANCEL_POLL_S * 1000 + 0.5)))

    def _end(self) -> None:
        self.ended = True
        try:
            self._timer.stop()
            self._poll.stop()
        except RuntimeError:  # the Qt timers are gone (application shutting down)
            pass
        self._close()

    def _close(self) -> None:
        bar, self.bar = self.bar, None
        if bar is not None:
            bar.close()


def start(func, *args, desc: str, total: int = 0, returned=None, errored=None, finished=None,
          progress: bool = True):
    """Run a workflow generator function in a napari ``thread_worker``.

    Progress shows in napari's activity dock as a moving (indeterminate) bar with
    ``desc`` and napari's Cancel button, once the worker has run
    :data:`ACTIVITY_DELAY_S` (:class:`ActivityBar`, ``worker.activity``), unless
    ``progress`` is False (the live cursor's frames, a few milliseconds each, would
    flood it); ``total`` is kept for callers that count steps but not used for the
    bar: a bar that waits for the first step to move looks frozen. Errors go to
    ``errored`` only (not to napari's traceback notification): the caller turns them
    into notifications.

    Returns
    -------
    superqt.utils.GeneratorWorker
        The started worker; ``worker.quit()`` stops it at its next step;
        ``worker.activity`` is its :class:`ActivityBar` (None without progress).
    """
    from napari.qt.threading import create_worker
    from superqt.utils import GeneratorWorker

    connect = {"errored": errored or (lambda exc: None)}
    if returned is not None:
        connect["returned"] = returned
    if finished is not None:
        connect["finished"] = finished
    worker = create_worker(
        func,
        *args,
        _worker_class=GeneratorWorker,
        _progress=False,
        _connect=connect,
        _start_thread=False,
    )
    worker.activity = ActivityBar(worker, desc) if progress else None
    worker.start()
    return worker
