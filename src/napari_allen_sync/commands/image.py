"""``napari-allen-sync image``: write a whole section image or atlas plate at one tier.

The image is assembled tile by tile through the same lazy pyramid the napari layer
shows (:func:`napari_allen_sync.images.image_pyramid`), from the embedded demo atlas.

examples
  napari-allen-sync image --demo --section-image-id 900210269 -o section.png
  napari-allen-sync image --demo --atlas-plate 68 -o plate.png
  napari-allen-sync image --demo --atlas-plate 68 --no-annotated --downsample 2 -o nissl.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..atomic import atomic_write
from ..errors import (
    AllenSyncError,
    InvalidCoordinateError,
    UnknownIdError,
    UsageError,
    WriteError,
)
from ..images import image_pyramid, tier_shape

__all__ = ["add_parser", "run"]

#: Without --downsample, the coarsest tier at least this wide is written.
DEFAULT_MIN_WIDTH = 1000
#: Larger outputs are refused (a full-resolution image is ~100 megapixels).
MAX_PIXELS = 60_000_000


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``image``."""
    p = subparsers.add_parser(
        "image",
        help="write a section image or atlas plate at one tier as PNG (demo atlas)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--demo", action="store_true",
                   help="use the embedded demo atlas (the default; the only source so far)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--section-image-id", type=int, metavar="ID",
                       help="a SectionImage or AtlasImage id")
    which.add_argument("--atlas-plate", type=int, metavar="N",
                       help="plate N (its section number) of the atlas --atlas-id")
    p.add_argument("--atlas-id", type=int, default=1, help="atlas for --atlas-plate (default 1)")
    p.add_argument("--downsample", type=int, metavar="D",
                   help=f"tier (0 = full resolution; default: the coarsest tier at least "
                        f"{DEFAULT_MIN_WIDTH} pixels wide)")
    p.add_argument("--annotated", action=argparse.BooleanOptionalAction, default=True,
                   help="draw the atlas annotation on annotated atlas plates (default: yes; "
                        "--no-annotated writes the Nissl plate)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.png")
    return p


def _image(source, args):
    catalog = source.catalog
    if args.section_image_id is not None:
        return catalog.section_image(args.section_image_id)
    source.ensure_atlas(args.atlas_id)
    ds = catalog.atlas_data_set(args.atlas_id)
    plates = {im.section_number: im for im in catalog.images_of(ds.id)}
    if args.atlas_plate not in plates:
        raise UnknownIdError(
            "atlas plate", args.atlas_plate,
            f"atlas {args.atlas_id} has plates {min(plates)} … {max(plates)}",
        )
    return plates[args.atlas_plate]


def choose_downsample(image, min_width: int = DEFAULT_MIN_WIDTH) -> int:
    """The coarsest tier of an image that is at least ``min_width`` pixels wide."""
    best = 0
    for d in range(max(1, image.tier_count)):
        if tier_shape(image, d)[1] >= min_width:
            best = d
    return best


def run(args) -> int:
    """Execute ``image``."""
    from PIL import Image

    from ..demo import DemoSource

    source = DemoSource(annotation=args.annotated)
    image = _image(source, args)
    d = choose_downsample(image) if args.downsample is None else args.downsample
    if not 0 <= d < max(1, image.tier_count):
        raise InvalidCoordinateError(
            f"--downsample {d} is not a tier of image {image.id} (0 … {image.tier_count - 1})"
        )
    rows, cols = tier_shape(image, d)
    if rows * cols > MAX_PIXELS:
        raise AllenSyncError(
            f"tier {d} of image {image.id} is {cols} × {rows} pixels; pass a larger "
            "--downsample"
        )
    fmt = Image.registered_extensions().get(args.output.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise UsageError(f"cannot tell the image format of {args.output}: name it .png, "
                         ".jpg or .tif")
    pixels = image_pyramid(image, source.tiles)[d].compute(scheduler="threads")
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(args.output, f"cannot create its folder: {exc.strerror}") from exc
    with atomic_write(args.output, "wb") as handle:
        Image.fromarray(pixels).save(handle, format=fmt)
    print(f"{args.output}: SectionImage {image.id} (data set {image.data_set_id}, section "
          f"{image.section_number}), tier {d}, {cols} × {rows} pixels")
    return 0
