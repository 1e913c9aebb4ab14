"""Finding experiments from the dock: the search view's requests run in a worker and
their answer is stored in the session.

:class:`SearchController` runs :func:`~napari_allen_sync.session.workflow.find_experiments`
in a napari thread worker (progress in the activity dock, Cancel in the view), stores the
:class:`~napari_allen_sync.search.SearchResult` as ``session.search_result`` (the view
renders it) and makes a hit the seed or a target through the setup controller (which
refuses the seed's own data set as a target, as everywhere).
"""

from __future__ import annotations

from ..errors import AllenSyncError
from ..session import workflow
from .runner import user_message

__all__ = ["SearchController"]


class SearchController:
    """The dock's experiment search.

    Parameters
    ----------
    dock : AllenSyncWidget
        Gives the session, the runner, the search view and the setup controller.
    """

    def __init__(self, dock):
        self.dock = dock
        self.session = dock.session
        self.runner = dock.runner
        self.view = dock.search_view
        self.worker = None
        self.token = 0  # the current search; an answer of another is dropped
        view = self.view
        view.search_requested.connect(self.find)
        view.cancel_requested.connect(self.cancel)
        view.seed_requested.connect(dock.setup.open_seed_data_set)
        view.target_requested.connect(dock.setup.add_target)
        ev = self.session.events
        ev.search_result.connect(view.show_result)
        ev.source.connect(self._source_changed)

    @property
    def busy(self) -> bool:
        """Whether a search is running."""
        return self.worker is not None

    def find(self, text: str, product: str = "", plane: str = "") -> None:
        """Search the current source (in a worker); the answer replaces the list."""
        if self.runner.released:
            return
        if self.session.source is None:
            self.view.show_message("no source yet: choose one under Source first")
            return
        self.cancel(quiet=True)
        self.session.search = str(text)
        self.token += 1
        token = self.token
        desc = f"finding experiments: {text or 'nothing'}"
        self.view.set_busy(desc)

        def done():
            if token == self.token:
                self.worker = None
                self.view.set_busy("")

        self.worker = self.runner.start(
            workflow.find_experiments,
            self.session.source,
            text,
            product or None,
            plane or None,
            desc=desc,
            returned=lambda r: self._found(token, r),
            errored=lambda exc: self._failed(token, exc),
            finished=done,
        )

    def _found(self, token: int, result) -> None:
        if self.runner.released or token != self.token:
            return
        same = self.session.search_result == result  # an equal answer fires no event
        self.session.search_result = result
        if same:
            self.view.show_result(result)
        self.dock.experiments_found.emit(result)

    def _failed(self, token: int, exc: Exception) -> None:
        if self.runner.released or token != self.token:
            return
        text = user_message(exc)
        self.session.search_result = None
        self.view.show_result(None)
        self.view.show_message(text)
        if isinstance(exc, AllenSyncError):
            self.runner.notify(text)
        else:
            self.runner.error(exc)
        self.dock.experiments_found.emit(None)

    def cancel(self, quiet: bool = False) -> None:
        """Stop the running search; its answer, if it still comes, is dropped."""
        worker, self.worker = self.worker, None
        if worker is None:
            return
        self.token += 1
        worker.quit()
        self.view.set_busy("")
        if not quiet:
            self.view.show_message("search cancelled")

    def _source_changed(self, *_):
        # hits of another source: their ids may not exist here
        self.cancel(quiet=True)
        self.session.search_result = None
