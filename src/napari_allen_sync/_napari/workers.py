"""Run the session's workflow generators (:mod:`napari_allen_sync.session.workflow`,
:mod:`napari_allen_sync.session.points`) in napari thread workers."""

from __future__ import annotations

__all__ = ["start"]


def start(func, *args, desc: str, total: int = 0, returned=None, errored=None, finished=None,
          progress: bool = True):
    """Run a workflow generator function in a napari ``thread_worker``.

    Progress shows in napari's activity dock as a moving (indeterminate) bar with
    ``desc`` from the first moment (unless ``progress`` is False: the live cursor's
    frames, a few milliseconds each, would flood it); ``total`` is kept for callers
    that count steps but not used for the bar: a bar that waits for the first step
    to move looks frozen. Errors go to ``errored``
    only (not to napari's traceback notification): the caller turns them into
    notifications.

    Returns
    -------
    superqt.utils.GeneratorWorker
        The started worker; ``worker.quit()`` stops it at its next step.
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
        _progress={"total": 0, "desc": desc} if progress else False,
        _connect=connect,
        _start_thread=False,
    )
    worker.start()
    return worker
