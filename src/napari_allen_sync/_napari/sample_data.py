"""napari sample data: the demo seed section, as a lazy multiscale image.

``File ▸ Open Sample ▸ Allen sync demo section (offline)`` opens the demo's *Penk*
in-situ section through the demo click point, in full-resolution sync pixels (level 0
pixel (row, column) = Allen sync (y, x)), tiles rendered on demand.
"""

from __future__ import annotations

__all__ = ["demo_section"]


def demo_section():
    """Layer data of the demo seed section: ``[(levels, metadata, "image")]``."""
    from ..demo import DemoSource, demo_click
    from ..images import image_pyramid

    source = DemoSource()
    image_id, x, y = demo_click()
    image = source.catalog.section_image(image_id)
    ds = source.catalog.section_data_set(image.data_set_id)
    name = ds.extra.get("gene") or ds.extra.get("name") or f"data set {ds.id}"
    meta = {
        "name": f"{name} – SectionImage {image.id} (demo)",
        "multiscale": True,
        "rgb": True,
        "metadata": {
            "section_image_id": image.id,
            "section_data_set_id": ds.id,
            "section_number": image.section_number,
            "resolution_um": image.resolution,
            "source": source.name,
            "demo_click": {"x": x, "y": y},
        },
    }
    return [(image_pyramid(image, source.tiles), meta, "image")]
