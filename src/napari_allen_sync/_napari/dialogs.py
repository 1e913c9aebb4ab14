"""The dock's file dialogs: where to write the click history and the batch table."""

from __future__ import annotations

from qtpy.QtWidgets import QFileDialog

__all__ = ["export_batch", "export_history"]


def export_history(dock, kind: str) -> None:
    """Ask where to write the click history (``"csv"`` or ``"json"``) and write it."""
    path, _ = QFileDialog.getSaveFileName(
        dock, "Export click history", f"allen-sync-history.{kind}",
        "CSV (*.csv)" if kind == "csv" else "JSON (*.json)")
    if path:
        try:
            dock.export_history(path)
        except OSError as exc:
            dock.runner.notify(f"cannot write {path}: {exc}; choose another folder",
                               error=True)


def export_batch(dock) -> None:
    """Ask where to write the last batch's table and write it in a worker."""
    path, _ = QFileDialog.getSaveFileName(
        dock, "Export batch table", "allen-sync-batch.csv", "CSV (*.csv)")
    if path:
        dock.export_batch_in_worker(path)
