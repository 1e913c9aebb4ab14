"""Pixels of the demo images, rendered on demand from the phantom brain.

:class:`DemoTiles` is a :class:`~napari_allen_sync.source.TileSource`: any region of any
demo image at any tier. Each pixel is traced through the image's *own* alignment —
sync pixel → TSV → volume → TVR → reference space (10 → 9 for the sagittal set) — to the
phantom (:mod:`.phantom`), so that the anatomy in every experiment and on every atlas
plate truly corresponds, and what the synchronization engine says about a pixel can be
checked against what the picture shows.

Looks
-----
- ``"ish"`` (in-situ hybridization, as Allen's Mouse Brain Atlas): cream unstained
  tissue faintly shaded by cell density (fibre tracts paler, ventricles empty, pale
  fibre bundles across the striatum), gene expression as dark blue-purple cells, graded
  by structure, cortical layer and the hippocampal cell bands;
- ``"nissl"`` (atlas plates): violet cell bodies on lavender neuropil, cell density and
  size by structure: cortical layers, the hippocampal pyramidal band, the granular
  layer of the cerebellum; pale fibre tracts;
- ``"fluorescence"`` (connectivity): dark tissue, a bright injection site in the right
  motor cortex and green axons in its targets, weaker on the other side;
- annotated atlas plates (``DemoTiles(annotation=True)``, the default): structure
  colours with dark outlines, as Allen's atlas viewer draws the annotation;
- overlays (``DemoTiles(overlay="expression")`` or ``"projection"``, Allen's
  ``view=expression|projection``): the signal alone on black, as Allen's expression and
  projection masks — the in-situ precipitate of the same expression texture the stain
  shows, or the labelled axons and injection site of a connectivity image — coloured
  by intensity (blue, green, yellow, red). A Nissl plate has no such mask.

Pixel centres follow :func:`napari_allen_sync.inferred.tier_pixel_center`: tier-d pixel
k covers full-resolution pixels ``k·2^d … k·2^d + 2^d − 1`` and is sampled at its centre
``k·2^d + (2^d − 1)/2``.

Anti-aliasing
-------------
- Stains are linear in mipmapped cell textures (:mod:`.texture`), sampled bilinearly:
  a coarse tier shows the area average of the finer ones (cells resolve at tiers 0–2,
  a smooth low-pass from about 6 µm pixels on), never point-sampled noise.
- Structures come as smooth memberships (:func:`.phantom.structure_scores`): per-
  structure properties (cell density, expression) are membership-weighted, the tissue
  edge and the ventricles are covered fractionally over one pixel, and annotation
  outlines are drawn where two memberships are equal, ~1 px wide and anti-aliased.
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
from .texture import cell_texture, fiber_texture, lod_um

__all__ = ["OVERLAYS", "DemoTiles", "pixel_reference_grid"]

#: The overlay views (Allen's ``view=`` values) the demo renders.
OVERLAYS = ("expression", "projection")

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
ISH_SLIDE = np.array([253, 253, 251], np.float32)  # the bare slide
ISH_TISSUE_ABS = np.array([12, 17, 29], np.float32)  # cream / pale beige
ISH_CELL_ABS = np.array([22, 26, 20], np.float32)  # unstained cells: faint grey-brown
ISH_SIGNAL_ABS = np.array([208, 218, 138], np.float32)  # blue-purple precipitate
BACKGROUND = {"ish": 255, "nissl": 255, "fluorescence": 0}
OUTLINE_GREY = 64
ISH_SIGNAL_GAIN = 1.0
#: Codes that take no stain: the slide outside the brain, and the ventricles.
EMPTY = np.zeros(N_CODES, np.float32)
EMPTY[0] = 1.0
EMPTY[PAINTED.index(73) + 1] = 1.0
VOXEL_UM = phantom.VOXEL_UM


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

    def __init__(self, catalog: Catalog | None = None, *, annotation: bool = True,
                 overlay: str | None = None):
        if catalog is None:
            from .catalog import demo_catalog

            catalog = demo_catalog()
        if overlay is not None and overlay not in OVERLAYS:
            raise ValueError(f"overlay must be one of {OVERLAYS} or None, got {overlay!r}")
        self.catalog = catalog
        self.annotation = annotation
        self.overlay = overlay
        self._views: dict = {}
        self._specs = spec_by_data_set_id()
        colours = np.full((N_CODES, 3), 255, np.uint8)
        by_id = {s.id: s for s in demo_structures()}
        for code, sid in enumerate(PAINTED, start=1):
            colours[code] = by_id[sid].rgb
        self._colours = colours

    def __repr__(self) -> str:
        extra = f", overlay={self.overlay!r}" if self.overlay else ""
        return f"DemoTiles(annotation={self.annotation}{extra})"

    def view(self, name: str) -> DemoTiles:
        """The same images seen another way (:data:`napari_allen_sync.images.VIEWS`):
        ``"default"`` (this object), ``"image"`` (atlas plates as plain Nissl),
        ``"annotation"`` (atlas plates annotated), ``"expression"`` or ``"projection"``
        (the signal mask). One object per view, so dask caches stay apart."""
        from ..images import VIEWS

        if name == "default":
            return self
        if name not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {name!r}")
        found = self._views.get(name)
        if found is None:
            overlay = name if name in OVERLAYS else None
            found = DemoTiles(self.catalog, annotation=name == "annotation", overlay=overlay)
            self._views[name] = found
        return found

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
        out = np.full((height, width, 3), 0 if self.overlay else 255, np.uint8)
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
        """``"annotation"``, ``"nissl"``, ``"ish"``, ``"fluorescence"`` or, for an
        overlay, ``"mask"``."""
        spec = self._specs.get(image.data_set_id)
        stain = spec.stain if spec is not None else "nissl"
        if self.overlay is not None:
            if stain == "nissl":
                raise InvalidCoordinateError(
                    f"SectionImage {image.id} is a Nissl plate: it has no {self.overlay} mask")
            return "mask"
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
        field = _Field(*phantom.structure_scores(p, i, r))
        if style == "annotation":
            return self._annotation(field, image.resolution * 2**downsample)
        pixel_um = image.resolution * 2**downsample
        u = (xs * image.resolution).astype(np.float32)
        v = (ys * image.resolution).astype(np.float32)
        spec = self._specs.get(image.data_set_id)
        alpha = field.coverage(pixel_um)
        density, large = self._nissl_density(field, p, i, r)
        lod = lod_um(pixel_um)
        if style == "mask":
            return self._mask(field, alpha, p, i, r, u, v, lod, spec)
        if style == "fluorescence":
            return self._fluorescence(field, alpha, p, i, r, u, v, lod, density, spec)
        if style == "ish":
            return self._ish(field, alpha, p, i, r, u, v, lod, pixel_um, density, spec)
        return self._nissl(alpha, u, v, lod, density, large)

    # ------------------------------------------------------------------ anatomy
    @staticmethod
    def _hippocampal_band(p, i, r):
        """1 on the cell bands of the hippocampus, 0 away from them, as a coronal section
        shows them: the pyramidal layer (Ammon's horn) a C open towards the midline
        and below, and the granule cell layer of the dentate gyrus a smaller U tucked
        into its opening, open laterally."""
        shape = phantom.TERRITORIES[7]
        m = np.abs(r - phantom.MIDLINE_UM)
        rho = phantom.shape_rho(shape, p, i, m)
        _, cy, cm = shape.center
        # The curve of the sheet's mid-surface, then a C of fixed size around it (µm).
        yc = cy + shape.bend * (m - cm) ** 2 + 120.0
        dm = (m - (cm - 150.0)) / 820.0
        dy = (i - yc) / 420.0
        rad = np.sqrt(dm * dm + dy * dy)
        theta = np.arctan2(dy, dm)  # 0 lateral, ±π medial, +π/2 ventral
        fade = np.clip((0.97 - rho) / 0.12, 0, 1)
        # Ammon's horn: from dorsomedial (CA1) round the lateral side to ventromedial.
        ca_arc = np.clip((2.2 - np.abs(theta + 0.54)) / 0.3, 0, 1)
        ca = np.exp(-(((rad - 1.0) / 0.085) ** 2)) * ca_arc
        # Dentate gyrus: a U around the medial side, its blades reaching laterally.
        dx2 = (m - (cm - 350.0)) / 820.0
        rad2 = np.sqrt(dx2 * dx2 + dy * dy)
        th2 = np.arctan2(dy, dx2)
        dg_arc = np.clip((np.abs(th2) - 0.8) / 0.3, 0, 1)
        dg = np.exp(-(((rad2 - 0.5) / 0.09) ** 2)) * dg_arc
        ca, dg = ca * fade, dg * fade
        return np.clip(ca + 1.2 * dg, 0, 1).astype(np.float32)

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

    def _nissl_density(self, field, p, i, r):
        density = field.blend(NISSL_DENSITY)
        large = field.blend(LARGE_CELLS)

        def cortex(pp, ii, rr):
            depth = phantom.cortical_depth(pp, ii, np.abs(rr - phantom.MIDLINE_UM))
            depth = np.clip(depth, 0, 1)
            big = np.where((depth > 0.45) & (depth < 0.7), 0.9, 0.45).astype(np.float32)
            return _layer_profile(depth, LAYER_NISSL), big

        def hippocampus(pp, ii, rr):
            band = self._hippocampal_band(pp, ii, rr)
            return 0.22 + 0.78 * band, 0.5 - 0.3 * band

        def cerebellum(pp, ii, rr):
            granular, purkinje = self._cerebellar_layers(pp, ii, rr)
            return 0.12 + 0.85 * granular + 0.5 * purkinje, 0.05 + 0.9 * purkinje

        for code, fn in ((_C.ISO, cortex), (_C.HPF, hippocampus), (_C.CB, cerebellum)):
            sel, weight = field.where(code)
            if sel.size:
                d, lg = fn(p.ravel()[sel], i.ravel()[sel], r.ravel()[sel])
                pos = code
                density.ravel()[sel] += weight * (d - NISSL_DENSITY[pos])
                large.ravel()[sel] += weight * (lg - LARGE_CELLS[pos])
        return density, large

    def _expression(self, field, p, i, r, spec):
        lut = _lut(spec.expression if spec else {})
        level = field.blend(lut)

        def cortex(pp, ii, rr):
            depth = phantom.cortical_depth(pp, ii, np.abs(rr - phantom.MIDLINE_UM))
            return _layer_profile(np.clip(depth, 0, 1), spec.layers)

        def hippocampus(pp, ii, rr):
            return 0.25 + 0.75 * self._hippocampal_band(pp, ii, rr)

        def cerebellum(pp, ii, rr):
            granular, purkinje = self._cerebellar_layers(pp, ii, rr)
            return np.clip(1.4 * purkinje + 0.15 * (1 - granular), 0, 1)

        for code, fn in ((_C.ISO, cortex), (_C.HPF, hippocampus), (_C.CB, cerebellum)):
            base = lut[code]
            if base == 0:
                continue
            sel, weight = field.where(code)
            if sel.size:
                factor = fn(p.ravel()[sel], i.ravel()[sel], r.ravel()[sel])
                level.ravel()[sel] += weight * base * (factor - 1)
        return level

    # ------------------------------------------------------------------ looks
    def _annotation(self, field, pixel_um):
        """Flat structure colours; thin anti-aliased dark-grey outlines where two
        structures' memberships are equal, so outlines are smooth curves at every tier.

        ``field`` has one extra pixel on each side: the distance (in pixels) to the
        nearest boundary is the membership margin over its screen-space gradient, the
        usual anti-aliasing of an implicit curve; one-sided differences keep the
        gradient right on the boundary, where the margin has a kink.
        """
        m = field.margin()
        c = m[1:-1, 1:-1]
        gx = np.maximum(np.abs(m[1:-1, 2:] - c), np.abs(c - m[1:-1, :-2]))
        gy = np.maximum(np.abs(m[2:, 1:-1] - c), np.abs(c - m[:-2, 1:-1]))
        grad = np.sqrt(gx * gx + gy * gy)
        d_grad = c / np.maximum(grad, np.float32(1e-6))
        # The margin also grows by about 1.5 per voxel across a boundary: a steadier
        # estimate along the curve, too large only inside structures thinner than a
        # voxel or two, where the gradient's estimate takes over.
        d_margin = c * np.float32(VOXEL_UM / 1.5 / min(pixel_um, 20.0))
        d_px = np.maximum(d_grad, d_margin)
        line = np.clip(np.float32(1.2) - d_px, 0, 1)[..., None]
        rgb = self._colours.take(field.codes[1:-1, 1:-1], axis=0).astype(np.float32)
        rgb = rgb * (1 - line) + np.float32(OUTLINE_GREY) * line
        return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)

    @staticmethod
    def _compose(background, absorbance_terms):
        """``background − Σ weight · colour`` per channel, rounded to uint8."""
        background = np.broadcast_to(np.asarray(background, np.float32), (3,))
        shape = absorbance_terms[0][0].shape
        out = np.empty((*shape, 3), np.uint8)
        for c in range(3):
            acc = np.full(shape, background[c] + np.float32(0.5), np.float32)
            for weight, colour in absorbance_terms:
                acc -= weight * np.float32(colour[c])
            np.clip(acc, 0, 255, out=acc)
            out[..., c] = acc
        return out

    @staticmethod
    def _grain(u, v, lod):
        """Fine, low-contrast granularity of the neuropil, zero-mean."""
        g = cell_texture("grain")
        return g.sample(u * 0.83 + 71.0, v * 0.83 + 13.0, lod * 0.83) - np.float32(g.mean)

    @staticmethod
    def _cells(u, v, lod, large):
        """Nissl-stained cell bodies, ``large`` the share of large ones (linear)."""
        big = cell_texture("large").sample(u, v, lod)
        # An incommensurate scale hides the textures' 1 mm period.
        small = cell_texture("small").sample(u * 1.37 + 311.0, v * 1.37 + 97.0, lod * 1.37)
        return large * big + (1 - large) * small

    def _nissl(self, alpha, u, v, lod, density, large):
        cells = self._cells(u, v, lod, large)
        neuropil = alpha * (0.8 + 1.6 * density + 1.5 * self._grain(u, v, lod))
        amount = alpha * np.clip(1.25 * density, 0, 1) * cells
        return self._compose(255, [(neuropil, NEUROPIL_ABS), (amount, NISSL_CELL_ABS)])

    def _bundles(self, field, u, v, pixel_um):
        """Striatal striation: pale fibre bundles cut across, weighted by striatum."""
        sel, weight = field.where(_C.STR)
        out = np.zeros(field.codes.shape, np.float32)
        if sel.size:
            # Bundles are wider than the pixels of any tier but the coarsest: no low-pass.
            b = cell_texture("bundles").sample(u * 0.91 + 517.0, v * 0.91 + 203.0, pixel_um * 0.91)
            out.ravel()[sel] = weight * b.ravel()[sel]
        return out

    def _ish(self, field, alpha, p, i, r, u, v, lod, pixel_um, density, spec):
        level = self._expression(field, p, i, r, spec)
        pale = 1 - 0.45 * self._bundles(field, u, v, pixel_um)
        signal = alpha * pale * level * np.float32(ISH_SIGNAL_GAIN) * cell_texture("ish").sample(
            u * 0.83 + 71.0, v * 0.83 + 13.0, lod * 0.83
        )
        # Unstained tissue: cream, faintly shaded by its cell density (fibre tracts
        # pale), with the cells themselves barely visible.
        cells = self._cells(u, v, lod, np.float32(0.5))
        tissue = alpha * pale * (0.4 + 1.1 * density + 2.0 * self._grain(u, v, lod))
        faint = alpha * pale * density * density * cells * np.float32(1.6)
        return self._compose(
            ISH_SLIDE,
            [(tissue, ISH_TISSUE_ABS), (faint, ISH_CELL_ABS), (signal, ISH_SIGNAL_ABS)],
        )

    def _projection_signal(self, field, alpha, p, i, r, u, v, lod, spec):
        """Labelled axons (0..1) and the injection site (0..1) of a connectivity image."""
        level = field.blend(_lut(spec.expression if spec else {}))
        iso = field.blend(_lut({315: 1.0}))
        right = r > phantom.MIDLINE_UM
        level = np.where(right, level, 0.25 * level * iso)
        fibers = fiber_texture().sample(u, v, lod)
        d2 = (
            (p - INJECTION_SITE_UM[0]) ** 2
            + (i - INJECTION_SITE_UM[1]) ** 2
            + (r - INJECTION_SITE_UM[2]) ** 2
        )
        injection = np.exp(-d2 / np.float32(INJECTION_RADIUS_UM**2)).astype(np.float32)
        injection *= alpha
        gain = np.float32(0.45 / fiber_texture().mean)  # mean glow 0.45 × level
        green = np.clip(alpha * level * fibers * gain + 1.2 * injection, 0, 1)
        return green, injection

    def _mask(self, field, alpha, p, i, r, u, v, lod, spec):
        """The signal alone on black, coloured by intensity (Allen's masks)."""
        if spec is not None and spec.stain == "fluorescence":
            signal, _ = self._projection_signal(field, alpha, p, i, r, u, v, lod, spec)
        else:
            level = self._expression(field, p, i, r, spec)
            signal = alpha * level * cell_texture("ish").sample(
                u * 0.83 + 71.0, v * 0.83 + 13.0, lod * 0.83)
        # A mask: weak signal (below 0.15) is no signal; the rest is graded.
        t = np.clip((signal - np.float32(0.15)) / np.float32(0.6), 0, 1)
        on = (signal > 0.15).astype(np.float32)
        rgb = np.empty((*t.shape, 3), np.float32)
        rgb[..., 0] = np.clip(3 * t - 1.2, 0, 1)
        rgb[..., 1] = np.clip(1.6 - np.abs(3 * t - 1.6), 0, 1) * 0.95
        rgb[..., 2] = np.clip(1.3 - 2.4 * t, 0, 1)
        rgb *= (np.float32(255) * on)[..., None]
        return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)

    def _fluorescence(self, field, alpha, p, i, r, u, v, lod, density, spec):
        green, injection = self._projection_signal(field, alpha, p, i, r, u, v, lod, spec)
        auto = alpha * (0.55 + 0.6 * density + 1.5 * self._grain(u, v, lod))
        rgb = np.empty((*field.codes.shape, 3), np.float32)
        rgb[..., 0] = 22 * auto + 120 * injection ** 2
        rgb[..., 1] = 26 * auto + 235 * green
        rgb[..., 2] = 30 * auto + 60 * green * 0.5
        return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


class _Field:
    """Structure memberships of a grid of pixels (:func:`phantom.structure_scores`)."""

    def __init__(self, codes, sel, scores):
        self.codes = codes
        self.sel = sel
        self.scores = scores

    def blend(self, lut: np.ndarray) -> np.ndarray:
        """A per-structure value, membership-weighted (smooth across boundaries)."""
        out = lut.take(self.codes)
        if self.sel.size:
            out.ravel()[self.sel] = self.scores @ lut
        return out

    def where(self, code: int):
        """Flat indices of the pixels with some membership of ``code``, and it."""
        hard = np.flatnonzero(self.codes.ravel() == code)
        if not self.sel.size:
            return hard, np.ones(hard.size, np.float32)
        weight = np.zeros(self.codes.size, np.float32)
        weight[hard] = 1.0
        weight[self.sel] = self.scores[:, code]
        idx = np.flatnonzero(weight > 0)
        return idx, weight[idx]

    def coverage(self, pixel_um: float) -> np.ndarray:
        """Share of each pixel covered by stainable tissue (not slide, not ventricle):
        the edge, where the empty membership is ½, is anti-aliased over one pixel."""
        empty = self.blend(EMPTY)
        # The B-spline membership changes by about 0.75 per voxel across an edge.
        d_um = (0.5 - empty) * np.float32(VOXEL_UM / 0.75)
        return np.clip(0.5 + d_um / np.float32(pixel_um), 0, 1)

    def margin(self) -> np.ndarray:
        """Best minus second-best membership: 1 away from boundaries, 0 on them."""
        out = np.ones(self.codes.shape, np.float32)
        if self.sel.size:
            s = self.scores.copy()
            rows = np.arange(len(s))
            best = s.max(axis=1)
            s[rows, s.argmax(axis=1)] = -1
            out.ravel()[self.sel] = best - s.max(axis=1)
        return out
