"""npe2 reader: open an Allen SectionImage by id, as a lazy multiscale RGB image that
the sync dock takes as its seed.

Accepted paths (File ▸ Open, drag and drop, ``viewer.open(path,
plugin="napari-allen-sync")``):

- ``allen://section_image/<id>`` (also ``allen://<id>``);
- an Allen image download URL, ``https://api.brain-map.org/api/v2/image_download/<id>``
  or ``…/section_image_download/<id>`` (query parameters are ignored: the whole image is
  opened, tiles on demand), from the Allen API or a compatible server.

The layer carries ``metadata["allen"] = {"section_image_id": id, "source": name}``
(:data:`ALLEN_METADATA`): any image layer with that metadata can be the dock's seed.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["ALLEN_METADATA", "get_reader", "read_section_image", "section_image_id"]

#: The metadata key of an image layer that shows an Allen SectionImage.
ALLEN_METADATA = "allen"

_ALLEN_URI = re.compile(r"^allen://(?:section_image/)?(\d+)/?$", re.IGNORECASE)
_DOWNLOAD = re.compile(r"/api/v2/(?:section_|atlas_)?image_download/(\d+)(?:[/?#]|$)")


def section_image_id(path) -> int | None:
    """The SectionImage id a path names, or None when it names none."""
    if not isinstance(path, str):
        return None
    text = path.strip()
    m = _ALLEN_URI.match(text) or (
        _DOWNLOAD.search(text) if text.lower().startswith(("http://", "https://")) else None)
    return int(m.group(1)) if m else None


def get_reader(path):
    """npe2 reader contribution: :func:`read_section_image` for a path that names a
    SectionImage, else None (another reader may take it)."""
    if isinstance(path, list):
        if not path or any(section_image_id(p) is None for p in path):
            return None
    elif section_image_id(path) is None:
        return None
    return read_section_image


def _source_for(path, image_id: int):
    """The demo atlas for its own ids; otherwise the Allen API (the plugin's
    preferences) or the server a download URL names."""
    try:
        from ..demo import DemoSource

        demo = DemoSource()
        if image_id in demo.catalog.section_images:
            return demo
    except ImportError:  # pragma: no cover - the demo ships with the package
        pass
    from ..remote import RemoteSource
    from .preferences import current_preferences

    kwargs = current_preferences().remote_source_kwargs()
    if str(path).lower().startswith(("http://", "https://")):
        parts = urlsplit(str(path))
        kwargs["base_uri"] = f"{parts.scheme}://{parts.netloc}"
    return RemoteSource(**kwargs)


def read_section_image(path):
    """Layer data of the SectionImage(s) a path names: ``[(levels, kwargs, "image")]``.

    Raises the package's own errors (an unknown id, an unreachable server) with the id
    or URL at fault; napari shows them as notifications.
    """
    from ..session.tiles import image_levels

    out = []
    for p in path if isinstance(path, list) else [path]:
        image_id = section_image_id(p)
        source = _source_for(p, image_id)
        catalog = source.catalog
        if image_id not in catalog.section_images and hasattr(source, "ensure_section_image"):
            source.ensure_section_image(image_id)
        image = catalog.section_image(image_id)
        ds = source.ensure_data_set(image.data_set_id)
        from ..session.workflow import describe_data_set

        out.append((image_levels(image, source.tiles), {
            "name": f"{describe_data_set(ds)} #{image.section_number}",
            "multiscale": True,
            "rgb": True,
            "metadata": {ALLEN_METADATA: {"section_image_id": int(image.id),
                                          "source": getattr(source, "name", "")}},
        }, "image"))
    return out
