"""The dock's workers and its messages to the user, in one place.

:class:`Runner` starts the session's workflow generators in napari thread workers
(:func:`.workers.start`), keeps track of them, says in the session what is being done
(:attr:`~napari_allen_sync.session.Session.busy`) and turns errors into napari
notifications that say what to do next. :meth:`Runner.schedule` defers the start of a
worker (paced live image loads); a scheduled start counts as a running worker until it
fires or is quit. :meth:`Runner.release` quits every worker and runs every disconnection
registered with it, once.
"""

from __future__ import annotations

import logging
import re
import time

from ..errors import AllenSyncError, ServiceError
from . import workers

__all__ = ["Runner", "Scheduled", "user_message"]

log = logging.getLogger(__name__)


def close_source(source) -> None:
    """Close a source this dock created (never raises into Qt)."""
    close = getattr(source, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            log.debug("closing %r failed", source, exc_info=True)


#: Causes of a network failure, as the user is told them (lower-case text → phrase).
_NETWORK_CAUSES = (
    ("connection refused", "connection refused"),
    ("name or service not known", "the server name is not known (DNS)"),
    ("temporary failure in name resolution", "the server name is not known (DNS)"),
    ("timed out", "the server did not answer in time"),
    ("network is unreachable", "the network is unreachable"),
    ("certificate", "the server's certificate was refused"),
)
_RAW = re.compile(r"\(?(HTTPS?ConnectionPool|HTTPS?Connection|NewConnectionError|"
                  r"MaxRetryError)\b.*", re.DOTALL)


def user_message(exc: Exception) -> str:
    """What to tell the user about an error: the package's own message, and for a
    network failure its cause in words and a remedy instead of the HTTP library's raw
    text (``HTTPSConnection(...)``)."""
    text = str(exc)
    if getattr(exc, "offline_report", None):
        return text  # the source's own account: what is cached, what is missing, remedies
    low = text.lower()
    causes = [phrase for key, phrase in _NETWORK_CAUSES if key in low]
    if causes or _RAW.search(text):
        head = _RAW.sub("", text).rstrip(" :;,(") or "cannot reach the server"
        cause = causes[0] if causes else "the server could not be reached"
        return (f"{head}: {cause}. Check the network connection and the server URL "
                "(Preferences ▸ Allen Brain Atlas API), or work offline with Source ▸ Demo "
                "atlas or a local napari-allen-sync serve --demo as Custom server URL.")
    if isinstance(exc, AllenSyncError):
        return text
    return f"napari-allen-sync: unexpected {type(exc).__name__}: {text}"


class Scheduled:
    """A deferred start, counted among the runner's workers until it fires or is quit.

    It answers like a worker where the dock and the tests look (``is_running``,
    ``quit``), so that waiting for "no worker running" also waits for it.

    Parameters
    ----------
    delay_s : float
        Seconds until ``callback`` runs (on the GUI thread, from a single-shot QTimer).
    callback : callable
        Called without arguments when the delay has passed (usually starts a worker).
    done : callable
        Called with this object when it fired or was quit (the runner forgets it).
    desc : str
        What it will do (for debugging).
    """

    def __init__(self, delay_s: float, callback, done, desc: str = ""):
        from qtpy.QtCore import QTimer

        self.desc = desc
        self.is_running = True
        self._callback = callback
        self._done = done
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._fire)
        self._timer.start(max(0, int(delay_s * 1000 + 0.5)))

    def __repr__(self) -> str:
        return f"Scheduled({self.desc!r}, running={self.is_running})"

    def _fire(self) -> None:
        if not self.is_running:
            return
        # the callback first: a worker it starts is counted before this one is forgotten
        try:
            self._callback()
        finally:
            self.is_running = False
            self._done(self)

    def quit(self) -> None:
        """Cancel the start (nothing runs)."""
        if not self.is_running:
            return
        self.is_running = False
        try:
            self._timer.stop()
        except RuntimeError:  # the Qt object is gone (application shutting down)
            pass
        self._done(self)


class Runner:
    """Workers, busy state and notifications of one dock.

    Parameters
    ----------
    session : Session
        Its :attr:`busy` says what the running workers do.
    on_message : callable, optional
        Called with every message shown to the user (the dock's ``failed`` signal).
    """

    def __init__(self, session, on_message=None):
        self.session = session
        self.on_message = on_message
        self.workers: set = set()
        self.quiet: set = set()  # workers without progress (live frames)
        self._desc: dict = {}  # worker → what it does
        self.disconnect: list = []  # callables run on release
        self.owned_source = None  # a source this dock created (closed on release)
        self.messages: list[str] = []
        self.released = False

    # ------------------------------------------------------------------ workers
    def start(self, func, *args, desc, total=0, returned=None, errored=None, finished=None,
              progress=True):
        """Run a workflow generator in a worker; None once released.

        ``progress=False`` (live frames): no progress bar and no busy state.
        """
        if self.released:
            return None
        holder: list = []

        def done():
            if holder:
                self.workers.discard(holder[0])
                self.quiet.discard(holder[0])
                self._desc.pop(holder[0], None)
            if not self.released:
                self._show_busy()
            if finished is not None:
                finished()

        worker = workers.start(
            func, *args, desc=desc, total=total, returned=returned,
            errored=errored or self.error, finished=done, progress=progress,
        )
        holder.append(worker)
        self.workers.add(worker)
        if progress:
            self._desc[worker] = desc
            self._show_busy()
        else:
            self.quiet.add(worker)
        return worker

    def schedule(self, delay_s: float, callback, desc: str = "") -> Scheduled | None:
        """Run ``callback`` on the GUI thread in ``delay_s`` seconds, without progress;
        until then it counts as a running worker (:meth:`running`) and
        :meth:`quit_all` cancels it. None once released."""
        if self.released:
            return None

        def done(item):
            self.workers.discard(item)
            self.quiet.discard(item)

        item = Scheduled(delay_s, callback, done, desc)
        if item.is_running:
            self.workers.add(item)
            self.quiet.add(item)
        return item

    def _show_busy(self) -> None:
        loud = [self._desc[w] for w in self.workers - self.quiet if w in self._desc]
        self.session.busy = loud[-1] if loud else ""

    def running(self) -> list:
        """Workers still running (started and not finished), and scheduled starts
        (:meth:`schedule`) not yet due."""
        return [w for w in self.workers if w.is_running]

    def quit_all(self) -> None:
        """Ask every worker to stop at its next step."""
        for w in list(self.workers):
            w.quit()

    # ------------------------------------------------------------------ messages
    def notify(self, message: str, error: bool = False) -> None:
        """Show a message in napari (a warning, or an error)."""
        from napari.utils.notifications import show_error, show_warning

        self.messages.append(message)
        (show_error if error else show_warning)(message)
        if self.on_message is not None:
            self.on_message(message)

    def error(self, exc: Exception) -> None:
        """A worker's error, as a notification that says what to do."""
        if self.released:
            return
        if not isinstance(exc, AllenSyncError):
            log.error("napari-allen-sync: unexpected error", exc_info=exc)
        self.notify(user_message(exc),
                    error=isinstance(exc, ServiceError) or not isinstance(exc, AllenSyncError))

    # ------------------------------------------------------------------ closing
    def release(self, wait_s: float = 3.0) -> None:
        """Run the disconnections, quit the workers, close an owned source (once)."""
        if self.released:
            return
        self.released = True
        for disconnect in self.disconnect:
            try:
                disconnect()
            except (RuntimeError, TypeError, ValueError):
                pass
        self.quit_all()
        deadline = time.monotonic() + wait_s
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.owned_source is not None:
            close_source(self.owned_source)
