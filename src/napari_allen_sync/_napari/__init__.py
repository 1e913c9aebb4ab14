"""The thin napari layer: dock widget, layer glue and sample data.

Nothing outside this sub-package imports napari or Qt.
"""
