"""*File ▸ IO Utilities*: import an offline bundle into the cache, or export the cache as one.

The two menu items do in napari what ``napari-allen-sync bundle import`` and ``bundle
export`` do on the command line (:mod:`napari_allen_sync.bundle`): the file is chosen in
a dialog, the work runs in a worker thread (its progress in napari's activity dock) and
the outcome arrives as a napari notification. The cache is the one the Allen source uses:
the *Cache folder* preference, else ``$NAPARI_ALLEN_SYNC_CACHE``, else the user cache
folder.

Export takes everything the cache holds: every cached SectionDataSet and atlas, with
all their cached tiles (the command line chooses data sets, atlases and tiers).
"""

from __future__ import annotations

import re

from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info
from napari.viewer import Viewer
from qtpy.QtWidgets import QFileDialog

from ..bundle import export_bundle, import_bundle
from ..cache import AllenCache
from .workers import ActivityBar

__all__ = [
    "cached_contents",
    "export_bundle_dialog",
    "export_cache_bundle",
    "import_bundle_dialog",
    "import_bundle_file",
]

_FILTER = "Allen sync bundle (*.zip)"
_DATA_SET = re.compile(r"^SectionDataSet-(\d+)$")
_ATLAS = re.compile(r"^Atlas-(\d+)$")


def _cache() -> AllenCache:
    from .preferences import current_preferences

    return AllenCache(current_preferences().resolved_cache_dir())


def cached_contents(cache: AllenCache) -> tuple[list[int], list[int]]:
    """The ids of the SectionDataSets and atlases a cache holds."""
    names = cache.rma_names()
    ds = sorted(int(m.group(1)) for n in names if (m := _DATA_SET.match(n)))
    atlases = sorted(int(m.group(1)) for n in names if (m := _ATLAS.match(n)))
    return ds, atlases


def import_bundle_file(path, cache: AllenCache | None = None, *, start: bool = True):
    """Import a bundle in a worker; a notification tells what it added, or why not.

    Returns
    -------
    napari.qt.threading.FunctionWorker
        Started, unless ``start`` is false (connect to its signals first, then start it:
        a bundle refused at once can finish before a later connection is made).
    """
    cache = cache or _cache()
    # errors become a notification (errored), not an exception re-raised in the GUI thread
    worker = create_worker(import_bundle, path, cache=cache, _ignore_errors=True)
    # the activity dock's bar, made only if the import is still running after a moment
    worker.activity = ActivityBar(worker, "bundle import")

    def done(manifest):
        show_info(
            f"Imported {path} into the cache ({cache.root}): "
            f"{len(manifest['section_data_set_ids'])} data set(s), "
            f"{len(manifest['atlas_ids'])} atlas(es), {len(manifest['files'])} file(s)."
        )

    worker.returned.connect(done)
    worker.errored.connect(lambda exc: show_error(f"Bundle import failed: {exc}"))
    if start:
        worker.start()
    return worker


def export_cache_bundle(path, cache: AllenCache | None = None):
    """Export every cached data set and atlas (all cached tiles) to ``path`` in a worker.

    Returns
    -------
    napari.qt.threading.FunctionWorker or None
        Already started; None (with a notification) when the cache holds nothing.
    """
    cache = cache or _cache()
    ds, atlases = cached_contents(cache)
    if not ds and not atlases:
        show_info(f"The cache ({cache.root}) holds no data set or atlas to export.")
        return None
    worker = create_worker(
        export_bundle,
        path,
        section_data_set_ids=ds,
        atlas_ids=atlases,
        cache=cache,
        _ignore_errors=True,
    )
    worker.activity = ActivityBar(worker, "bundle export")
    worker.returned.connect(
        lambda manifest: show_info(
            f"Exported {len(ds)} data set(s) and {len(atlases)} atlas(es) to {path} "
            f"({len(manifest['files'])} file(s))."
        )
    )
    worker.errored.connect(lambda exc: show_error(f"Bundle export failed: {exc}"))
    worker.start()
    return worker


def import_bundle_dialog(viewer: Viewer):
    """Menu command: choose a bundle and import it into the cache."""
    path, _ = QFileDialog.getOpenFileName(
        None, "Import an Allen sync bundle into the cache", "", _FILTER
    )
    return import_bundle_file(path) if path else None


def export_bundle_dialog(viewer: Viewer):
    """Menu command: export the whole cache to a bundle chosen in a dialog."""
    path, _ = QFileDialog.getSaveFileName(
        None, "Export the Allen sync cache as a bundle", "allen-sync-bundle.zip", _FILTER
    )
    return export_cache_bundle(path) if path else None
