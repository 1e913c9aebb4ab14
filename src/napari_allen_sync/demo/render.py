"""Pixels of the demo images, rendered on demand from the phantom brain.

:class:`DemoTiles` is a :class:`~napari_allen_sync.source.TileSource`: any region of any
demo image at any tier. Each pixel is traced through the image's *own* alignment —
sync pixel → TSV → volume → TVR → reference space (10 → 9 for the sagittal set) — to the
phantom (:mod:`.phantom`), so that the anatomy in every experiment and on every atlas
plate truly corresponds, and what the synchronization engine says about a pixel can be
checked against what the picture shows.

Looks
-----
- ``"ish"`` (in-situ hybridization, as Allen's Mouse Brain Atlas): pale unstained tissue,
  gene expression as dark blue-purple cells, graded by structure and cortical layer;
- ``"nissl"`` (atlas plates): violet cell bodies on lavender neuropil, cell density and
  size by structure: cortical layers, the hippocampal pyramidal band, the granular
  layer of the cerebellum; pale fibre tracts;
- ``"fluorescence"`` (connectivity): dark tissue, a bright injection site in the right
  motor cortex and green axons in its targets, weaker on the other side;
- annotated atlas plates (``DemoTiles(annotation=True)``, the default): structure
  colours with dark outlines, as Allen's atlas viewer draws the annotation.

Pixel centres follow :func:`napari_allen_sync.inferred.tier_pixel_center`: tier-d pixel
k covers full-resolution pixels ``k·2^d … k·2^d + 2^d − 1`` and is sampled at its centre
``k·2^d + (2^d − 1)/2``. Cell textures are mipmapped (:mod:`.texture`), so coarser tiers
show the average of the finer ones.
"""

from __future__ import annotations

import numpy as np

from .. import inferred
from ..arithmetic import MIRROR_9_10_UM, image_to_reference_matrix, section_depth
from ..catalog import Catalog
from ..errors import InvalidCoordinateError
from ..records import SectionImage
from . import phantom
from .experiments import INJECTION_RADIUS_UM, INJECTION_SITE_UM, spec_by_data_set_id
from .ontology import PAINTED, demo_structures
from .texture import cell_texture, fiber_texture

__all__ = ["DemoTiles", "pixel_reference_grid"]

_C = phantom  # codes: phantom.ISO, phantom.HPF, ...
N_CODES = 16


def _lut(values: dict, default=0.0) -> np.ndarray:
    out = np.full(N_CODES, default, np.float32)
    out[0] = 0.0
    for sid, v in values.items():
        out[PAINTED.index(sid) + 1] = v
    return out


#: Nissl stain: density of cell bodies per structure (0..1).
NISSL_DENSITY = _lut(
    {315: 0.55, 698: 0.62, 1089: 0.30, 703: 0.55, 477: 0.48, 803: 0.32, 549: 0.55,
     1097: 0.52, 313: 0.42, 771: 0.46, 354: 0.42, 512: 0.35, 1009: 0.08, 73: 0.0}
)
#: Share of large cell bodies (neurons) versus small ones (glia, granule cells).
LARGE_CELLS = _lut(
    {315: 0.6, 698: 0.5, 1089: 0.4, 703: 0.6, 477: 0.45, 803: 0.8, 549: 0.6, 1097: 0.5,
     313: 0.7, 771: 0.8, 354: 0.8, 512: 0.1, 1009: 0.0, 73: 0.0}
)
#: Cortical layers (relative depth of their lower edge) and their Nissl density.
LAYER_EDGES = np.array([0.0, 0.1, 0.35, 0.45, 0.7, 1.0], np.float32)
LAYER_NISSL = np.array([0.12, 0.85, 0.8, 0.5, 0.7], np.float32)

# Absorbances (255 − colour) of the stains.
NEUROPIL_ABS = np.array([14, 22, 10], np.float32)  # lavender
NISSL_CELL_ABS = np.array([175, 205, 115], np.float32)  # violet
ISH_TISSUE_ABS = np.array([16, 20, 34], np.float32)  # pale beige-grey
ISH_SIGNAL_ABS = np.array([205, 215, 120], np.float32)  # blue-purple precipitate
BACKGROUND = {"ish": 255, "nissl": 255, "fluorescence": 0}


def _layer_profile(depth: np.ndarray, values) -> np.ndarray:
    """Piecewise-smooth value by cortical layer at relative depths ``depth``."""
    centers = 0.5 * (LAYER_EDGES[1:] + LAYER_EDGES[:-1])
    return np.interp(depth, centers, np.asarray(values, np.float32)).astype(np.float32)


def pixel_reference_grid(catalog: Catalog, image: SectionImage, downsample: int, left, top,
                         width: int, height: int, pad: int = 0):
    """Space-9 coordinates (µm) of the pixel centres of a region of one image tier.

    Returns ``(p, i, r, xs, ys)``: three float32 arrays of shape
    ``(height + 2·pad, width + 2·pad)`` and the 1-D sync-pixel coordinates of the
    columns and rows (``pad`` extra pixels on each side).
    """
    ds = catalog.section_data_set(image.data_set_id)
    scale, translate = inferred.tier_pixel_center(downsample)
    xs = left + scale * np.arange(-pad, width + pad) + translate
    ys = top + scale * np.arange(-pad, height + pad) + translate
    m = image_to_reference_matrix(
        image.alignment2d.tsv_matrix,
        ds.alignment3d.tvr_matrix,
        float(section_depth(image.section_number, ds.section_thickness)),
    )
    if ds.reference_space_id == 10:  # PIL → PIR: r9 = 11350 − r10 (the engine's mirror)
        m[2] = -m[2]
        m[2, 2] += MIRROR_9_10_UM
    elif ds.reference_space_id != 9:
        raise InvalidCoordinateError(
            f"the demo renders reference spaces 9 and 10 only, not {ds.reference_space_id}"
        )
    grids = []
    for k in range(3):
        row = (m[k, 0] * xs + m[k, 2]).astype(np.float32)
        col = (m[k, 1] * ys).astype(np.float32)
        grids.append(col[:, None] + row[None, :])
    return grids[0], grids[1], grids[2], xs, ys


class DemoTiles:
    """Renders regions of the demo images (a :class:`~napari_allen_sync.source.TileSource`).

    Parameters
    ----------
    catalog : Catalog, optional
        Where images' data sets and alignments are looked up (default: the demo
        catalog).
    annotation : bool
        Draw the atlas annotation (structure colours and outlines) on annotated atlas
        plates, as Allen's ``image_download?annotation=true`` does; False shows the
        Nissl plate underneath.

    Examples
    --------
    >>> from napari_allen_sync.demo import demo_catalog, demo_click
    >>> tiles = DemoTiles(demo_catalog())
    >>> image = demo_catalog().section_image(demo_click()[0])
    >>> tiles.read_region(image, 4, 0, 0, 64, 32).shape
    (32, 64, 3)
    """

    def __init__(self, catalog: Catalog | None = None, *, annotation: bool = True):
        if catalog is None:
            from .catalog import demo_catalog

            catalog = demo_catalog()
        self.catalog = catalog
        self.annotation = annotation
        self._specs = spec_by_data_set_id()
        colours = np.full((N_CODES, 3), 255, np.uint8)
        by_id = {s.id: s for s in demo_structures()}
        for code, sid in enumerate(PAINTED, start=1):
            colours[code] = by_id[sid].rgb
        self._colours = colours

    def __repr__(self) -> str:
        return f"DemoTiles(annotation={self.annotation})"

    # ------------------------------------------------------------------ protocol
    def read_region(self, image: SectionImage, downsample: int, left: int, top: int,
                    width: int, height: int) -> np.ndarray:
        """An RGB ``uint8`` array ``(height, width, 3)`` of one region of one tier.

        ``left``/``top`` are full-resolution sync pixels, ``width``/``height`` pixels
        of tier ``downsample`` (Allen's ``image_download`` convention). Pixels outside
        the image's crop are white.
        """
        downsample = int(downsample)
        width, height = int(width), int(height)
        if width < 0 or height < 0:
            raise InvalidCoordinateError(f"width and height must be ≥ 0, got {width} × {height}")
        if not 0 <= downsample < max(1, image.tier_count):
            raise InvalidCoordinateError(
                f"downsample {downsample} is not a tier of SectionImage {image.id} "
                f"(tiers 0 … {image.tier_count - 1})"
            )
        out = np.full((height, width, 3), 255, np.uint8)
        if width == 0 or height == 0:
            return out
        f = 2**downsample
        col0 = left + f * np.arange(width)
        row0 = top + f * np.arange(height)
        cols = np.flatnonzero((col0 >= 0) & (col0 < image.width))
        rows = np.flatnonzero((row0 >= 0) & (row0 < image.height))
        if cols.size == 0 or rows.size == 0:
            return out
        c0, c1, r0, r1 = cols[0], cols[-1] + 1, rows[0], rows[-1] + 1
        out[r0:r1, c0:c1] = self.render(
            image, downsample, left + f * c0, top + f * r0, c1 - c0, r1 - r0
        )
        return out

    # ------------------------------------------------------------------ rendering
    def style_of(self, image: SectionImage) -> str:
        """``"annotation"``, ``"nissl"``, ``"ish"`` or ``"fluorescence"``."""
        spec = self._specs.get(image.data_set_id)
        stain = spec.stain if spec is not None else "nissl"
        if stain == "nissl" and self.annotation and image.annotated:
            return "annotation"
        return stain

    def render(self, image: SectionImage, downsample: int, left: int, top: int,
               width: int, height: int) -> np.ndarray:
        """The region as :meth:`read_region`, ignoring the crop (every pixel rendered)."""
        style = self.style_of(image)
        pad = 1 if style == "annotation" else 0
        p, i, r, xs, ys = pixel_reference_grid(
            self.catalog, image, downsample, left, top, width, height, pad
        )
        codes = phantom.structure_code_at(p, i, r)
        if style == "annotation":
            return self._annotation(codes)
        pixel_um = image.resolution * 2**downsample
        u = (xs * image.resolution).astype(np.float32)
        v = (ys * image.resolution).astype(np.float32)
        spec = self._specs.get(image.data_set_id)
        density, large = self._nissl_density(codes, p, i, r)
        if style == "fluorescence":
            return self._fluorescence(codes, p, i, r, u, v, pixel_um, density, spec)
        cells_large = cell_texture("large").sample(u, v, pixel_um)
        # A second texture at an incommensurate scale hides the first one's period.
        cells_small = cell_texture("small").sample(
            u * 1.37 + 311.0, v * 1.37 + 97.0, pixel_um * 1.37
        )
        if style == "ish":
            return self._ish(
                codes, p, i, r, u, v, pixel_um, density, cells_large, cells_small, spec
            )
        return self._nissl(codes, density, large, cells_large, cells_small)

    # ------------------------------------------------------------------ anatomy
    @staticmethod
    def _cortex_depth(codes, p, i, r):
        sel = codes == _C.ISO
        depth = phantom.cortical_depth(p[sel], i[sel], np.abs(r[sel] - phantom.MIDLINE_UM))
        return sel, np.clip(depth, 0, 1)

    @staticmethod
    def _hippocampal_band(p, i, r):
        """1 on the cell bands of the hippocampus, 0 away from them: the pyramidal layer
        (Ammon's horn) as a C open towards the midline, and the granule cell layer of
        the dentate gyrus as a smaller arc tucked into it."""
        shape = phantom.TERRITORIES[7]
        m = np.abs(r - phantom.MIDLINE_UM)
        rho = phantom.shape_rho(shape, p, i, m)
        _, cy, cm = shape.center
        dm = (m - cm) / shape.radii[2]
        dy = (i - cy - shape.bend * (m - cm) ** 2) / shape.radii[1]
        opening = np.clip((dm + 0.25) / 0.15, 0, 1) + np.clip(-dy / 0.2, 0, 1)
        ca = np.exp(-(((rho - 0.66) / 0.045) ** 2)) * np.clip(opening, 0, 1)
        dg = np.exp(-(((rho - 0.36) / 0.04) ** 2)) * np.clip((0.15 - dm) / 0.15, 0, 1)
        return np.clip(ca + dg, 0, 1).astype(np.float32)

    @staticmethod
    def _cerebellar_layers(p, i, r):
        """(granular, purkinje) weights in the cerebellum: the granular layer lies deep to
        a molecular layer that follows the folia."""
        m = np.abs(r - phantom.MIDLINE_UM)
        rho = phantom.shape_rho(phantom.CEREBELLUM, p, i, m)
        rho = rho + phantom._fissure_depth(phantom.cerebellar_folia(p, i))
        edge = 0.86
        granular = np.clip((edge - rho) / 0.02 + 0.5, 0, 1).astype(np.float32)
        purkinje = np.exp(-(((rho - edge) / 0.012) ** 2)).astype(np.float32)
        return granular, purkinje

    def _nissl_density(self, codes, p, i, r):
        density = NISSL_DENSITY.take(codes)
        large = LARGE_CELLS.take(codes)
        sel, depth = self._cortex_depth(codes, p, i, r)
        if depth.size:
            density[sel] = _layer_profile(depth, LAYER_NISSL)
            large[sel] = np.where((depth > 0.45) & (depth < 0.7), 0.9, 0.45)
        sel = codes == _C.HPF
        if sel.any():
            band = self._hippocampal_band(p[sel], i[sel], r[sel])
            density[sel] = 0.22 + 0.78 * band
            large[sel] = 0.5 - 0.3 * band
        sel = codes == _C.CB
        if sel.any():
            granular, purkinje = self._cerebellar_layers(p[sel], i[sel], r[sel])
            density[sel] = 0.12 + 0.85 * granular + 0.5 * purkinje
            large[sel] = 0.05 + 0.9 * purkinje
        return density, large

    # ------------------------------------------------------------------ looks
    def _annotation(self, codes):
        inner = codes[1:-1, 1:-1]
        edge = (
            (inner != codes[:-2, 1:-1])
            | (inner != codes[2:, 1:-1])
            | (inner != codes[1:-1, :-2])
            | (inner != codes[1:-1, 2:])
        )
        rgb = self._colours.take(inner, axis=0)
        rgb[edge] = (64, 64, 64)
        return rgb

    @staticmethod
    def _compose(background, absorbance_terms):
        acc = None
        for weight, colour in absorbance_terms:
            term = weight[..., None] * colour
            acc = term if acc is None else acc + term
        out = np.float32(background) - acc
        return np.clip(out, 0, 255).astype(np.uint8)

    def _nissl(self, codes, density, large, cells_large, cells_small):
        tissue = (codes > 0).astype(np.float32)
        cells = large * cells_large + (1 - large) * cells_small
        amount = 1 - np.exp(-3.2 * density * cells)
        neuropil = tissue * (0.8 + 1.6 * density)
        return self._compose(255, [(neuropil, NEUROPIL_ABS), (amount, NISSL_CELL_ABS)])

    def _expression(self, codes, p, i, r, spec):
        level = _lut(spec.expression if spec else {}).take(codes)
        sel, depth = self._cortex_depth(codes, p, i, r)
        if depth.size:
            level[sel] *= _layer_profile(depth, spec.layers)
        sel = codes == _C.HPF
        if sel.any():
            band = self._hippocampal_band(p[sel], i[sel], r[sel])
            level[sel] *= 0.25 + 0.75 * band
        sel = codes == _C.CB
        if sel.any():
            granular, purkinje = self._cerebellar_layers(p[sel], i[sel], r[sel])
            level[sel] *= np.clip(1.4 * purkinje + 0.15 * (1 - granular), 0, 1)
        return level

    def _ish(self, codes, p, i, r, u, v, pixel_um, density, cells_large, cells_small, spec):
        tissue = (codes > 0).astype(np.float32)
        level = self._expression(codes, p, i, r, spec)
        grain = cell_texture("grain").sample(u * 0.83 + 71.0, v * 0.83 + 13.0, pixel_um * 0.83)
        cells = 0.8 * cells_large + 0.5 * cells_small
        signal = 1 - np.exp(-6.0 * level * cells * (0.5 + 0.9 * grain))
        texture = tissue * (0.8 + 0.6 * density + 0.4 * (grain - 0.3))
        return self._compose(250, [(texture, ISH_TISSUE_ABS), (signal, ISH_SIGNAL_ABS)])

    def _fluorescence(self, codes, p, i, r, u, v, pixel_um, density, spec):
        tissue = (codes > 0).astype(np.float32)
        level = _lut(spec.expression if spec else {}).take(codes)
        right = r > phantom.MIDLINE_UM
        level = np.where(right, level, 0.25 * level * (codes == _C.ISO))
        fibers = fiber_texture().sample(u, v, pixel_um)
        d2 = (
            (p - INJECTION_SITE_UM[0]) ** 2
            + (i - INJECTION_SITE_UM[1]) ** 2
            + (r - INJECTION_SITE_UM[2]) ** 2
        )
        injection = np.exp(-d2 / np.float32(INJECTION_RADIUS_UM**2)).astype(np.float32)
        injection *= tissue
        green = np.clip(level * fibers * 2.2 + 1.2 * injection, 0, 1)
        auto = tissue * (0.55 + 0.6 * density)
        rgb = np.empty((*codes.shape, 3), np.float32)
        rgb[..., 0] = 22 * auto + 120 * injection ** 2
        rgb[..., 1] = 26 * auto + 235 * green
        rgb[..., 2] = 30 * auto + 60 * green * 0.5
        return np.clip(rgb, 0, 255).astype(np.uint8)
