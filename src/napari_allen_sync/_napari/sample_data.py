"""napari sample data: the demo seed section, alone or with demo cell detections.

``File ▸ Open Sample ▸ Allen sync demo section (offline)`` opens the demo's *Penk*
in-situ section through the demo click point, in full-resolution sync pixels (level 0
pixel (row, column) = Allen sync (y, x)), tiles rendered on demand.

``File ▸ Open Sample ▸ Allen sync demo cell detections (offline)`` opens the same
section with a Points layer of demo cell detections on it (three clusters around the
demo click point, only those inside the brain), in the same sync pixels: choose it in
the dock's *Batch sync a Points layer* and press *Sync layer* to try batch sync at once.

Both build everything on the calling thread from the embedded demo atlas: no network,
no file.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DETECTIONS_PER_CLUSTER",
    "DETECTIONS_SEED",
    "demo_cell_detections",
    "demo_detection_points",
    "demo_section",
]

#: Seed of the detections' random generator: the same points every time.
DETECTIONS_SEED = 2026
#: Points drawn around each of the three cluster centres (before keeping those inside).
DETECTIONS_PER_CLUSTER = 150


def _seed_layer(source):
    from ..demo import demo_click
    from ..images import image_pyramid

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
            # what makes it a seed for the dock (the reader's layers carry it too)
            "allen": {"section_image_id": int(image.id), "source": source.name},
        },
    }
    return (image_pyramid(image, source.tiles), meta, "image")


def demo_section():
    """Layer data of the demo seed section: ``[(levels, metadata, "image")]``."""
    from ..demo import DemoSource

    return [_seed_layer(DemoSource())]


def demo_detection_points(source) -> tuple[int, np.ndarray]:
    """Demo cell detections on the demo seed section.

    Three Gaussian clusters (σ = 2.5 % of the image width, :data:`DETECTIONS_PER_CLUSTER`
    points each): one on the demo click point, two beside it, drawn with a fixed seed
    (:data:`DETECTIONS_SEED`); only the points whose reference position lies inside the
    phantom brain are kept.

    Parameters
    ----------
    source : DemoSource
        The demo atlas (its synchronizer maps the points to reference space).

    Returns
    -------
    section_image_id : int
        The seed section the points lie on.
    points : numpy.ndarray, shape (N, 2)
        ``(row, column)`` = Allen sync ``(y, x)`` full-resolution pixels.
    """
    from ..demo import demo_click

    image_id, x0, y0 = demo_click()
    w = source.catalog.section_image(image_id).width
    rng = np.random.default_rng(DETECTIONS_SEED)
    centres = np.array([[y0, x0], [y0 - 0.08 * w, x0 + 0.10 * w], [y0 + 0.05 * w, x0 - 0.12 * w]])
    pts = np.concatenate(
        [c + rng.normal(0, 0.025 * w, (DETECTIONS_PER_CLUSTER, 2)) for c in centres]
    )
    ref = source.synchronizer.image_to_reference_batch(image_id, pts[:, 1], pts[:, 0])
    inside = np.asarray(source.structure_ids_at(ref.reference_space_id, ref.x, ref.y, ref.z)) != 0
    return int(image_id), pts[inside]


def demo_cell_detections():
    """Layer data of the demo seed section with demo cell detections on it:
    ``[(levels, metadata, "image"), (points, metadata, "points")]``."""
    from ..demo import DemoSource

    source = DemoSource()
    image = _seed_layer(source)
    image_id, points = demo_detection_points(source)
    meta = {
        "name": "cell detections (demo)",
        "size": 1,
        "canvas_size_limits": (6, 6),
        "face_color": "#00e5ff",
        "border_width": 0,
        "metadata": {"section_image_id": image_id, "source": source.name},
    }
    return [image, (points, meta, "points")]
