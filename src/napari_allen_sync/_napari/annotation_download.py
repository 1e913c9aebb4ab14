"""The annotation volume of a remote source, fetched in the background with progress
in napari's activity dock and a Cancel button.

:func:`start_annotation_download` runs ``source.annotation(progress=...)`` (the core
download, :func:`napari_allen_sync.annotation.fetch_annotation`: streamed, resumable,
verified, written atomically) in a napari ``thread_worker``. Its progress is a
:class:`napari.utils.cancelable_progress` created on the GUI thread: napari's activity
dock shows it as a bar in KiB with a Cancel button. The worker reports bytes through a
Qt signal, so the bar is only ever touched on the GUI thread; the worker reads the
bar's ``is_canceled`` flag at every piece and stops with
:class:`~napari_allen_sync.annotation.DownloadCancelled`, after which nothing of the
download stays in the cache.

Typical use, when a remote source is connected::

    download = start_annotation_download(
        source,
        returned=lambda volume: ...,      # the AnnotationVolume, on the GUI thread
        errored=lambda exc: notify(exc),  # e.g. no network: the message says what to do
    )
    download.cancel()                     # or the Cancel button in the activity dock
"""

from __future__ import annotations

import math
from collections.abc import Callable

from qtpy.QtCore import QObject, Signal

from ..annotation import DownloadCancelled

__all__ = ["AnnotationDownload", "start_annotation_download"]


class _Relay(QObject):
    """Carries ``(done_bytes, total_bytes)`` from the worker to the GUI thread."""

    moved = Signal(object, object)


class AnnotationDownload:
    """One running (or finished) fetch of a source's annotation volume.

    Attributes
    ----------
    worker : napari.qt.threading.FunctionWorker
        The thread worker (started).
    progress : napari.utils.cancelable_progress
        The activity dock's bar: KiB received of the file's size (indeterminate until
        the server announces it). Closed when the worker finishes.
    volume : AnnotationVolume or None
        The volume, once the worker returned it.
    error : Exception or None
        Why it failed (a :class:`DownloadCancelled` when cancelled).
    """

    def __init__(self, source, desc: str):
        from napari.utils import cancelable_progress

        self.source = source
        self.volume = None
        self.error: Exception | None = None
        self.progress = cancelable_progress(total=0, desc=desc)
        self._relay = _Relay()
        self._relay.moved.connect(self._moved)  # queued: runs on the GUI thread
        self.worker = None

    @property
    def cancelled(self) -> bool:
        """Whether a cancel was asked (here or with the activity dock's button)."""
        return bool(self.progress.is_canceled)

    def cancel(self) -> None:
        """Stop the download at its next piece; what arrived is deleted."""
        self.progress.cancel()

    def _moved(self, done: int, total: int | None) -> None:
        bar = self.progress
        if total:
            kib = math.ceil(total / 1024)
            if bar.total != kib:
                bar.total = kib
        bar.update(math.ceil(done / 1024) - bar.n)

    def _report(self, done: int, total: int | None) -> None:
        """The core's ``progress`` callback, in the worker thread."""
        if self.progress.is_canceled:
            raise DownloadCancelled(f"download of {self.source.annotation_url} cancelled")
        try:
            self._relay.moved.emit(done, total)
        except RuntimeError:  # the GUI is gone (napari closed): download on, unseen
            pass

    def _run(self):
        return self.source.annotation(progress=self._report)


def start_annotation_download(
    source,
    *,
    returned: Callable[[object], object] | None = None,
    errored: Callable[[Exception], object] | None = None,
    cancelled: Callable[[], object] | None = None,
) -> AnnotationDownload | None:
    """Make sure the annotation volume of ``source`` is in the cache, in the background.

    Parameters
    ----------
    source : RemoteSource
        Any source with ``annotation(progress=...)`` and ``annotation_url``
        (:class:`~napari_allen_sync.remote.RemoteSource`). When it is already cached the
        worker only reads it (no request).
    returned : callable, optional
        ``returned(volume)`` with the :class:`~napari_allen_sync.annotation.AnnotationVolume`,
        on the GUI thread.
    errored : callable, optional
        ``errored(exc)`` when the volume cannot be had (the package's own errors:
        :class:`~napari_allen_sync.errors.ServiceError` offline,
        :class:`~napari_allen_sync.errors.AnnotationError` damaged), on the GUI thread.
        Not called for a cancel.
    cancelled : callable, optional
        ``cancelled()`` when the user cancelled (nothing was kept).

    Returns
    -------
    AnnotationDownload or None
        The started download; None when ``source`` has no annotation volume to fetch
        (the demo source builds its own).

    Notes
    -----
    Call on the GUI thread (the progress bar and the signal relay live there).
    """
    from napari.qt.threading import create_worker

    if not hasattr(source, "annotation_url") or not callable(getattr(source, "annotation", None)):
        return None
    res = getattr(source, "annotation_resolution", None)
    cached = callable(getattr(source, "annotation_cached", None)) and source.annotation_cached()
    verb = "reading" if cached else "downloading"
    desc = f"{verb} the annotation volume" + (f" ({res} µm)" if res else "")
    download = AnnotationDownload(source, desc)

    def on_returned(volume) -> None:
        download.volume = volume
        if returned is not None:
            returned(volume)

    def on_errored(exc: Exception) -> None:
        download.error = exc
        if isinstance(exc, DownloadCancelled):
            if cancelled is not None:
                cancelled()
        elif errored is not None:
            errored(exc)

    worker = create_worker(
        download._run,
        _progress=False,
        _connect={
            "returned": on_returned,
            "errored": on_errored,
            "finished": download.progress.close,
        },
        _start_thread=False,
    )
    download.worker = worker
    worker.start()
    return download
