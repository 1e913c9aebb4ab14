"""The demo experiments: SectionDataSets whose images cut through the phantom brain.

Four data sets, each with the alignments a real Allen data set has:

========== ============================== ====== ===== ======== ========= ========
id         what                            plane  space spacing  µm/pixel  images
========== ============================== ====== ===== ======== ========= ========
900100001  in situ, *Penk* (striatum,      cor.   9     200 µm   1.05      ~60
           cortical layers 2/3 and 5)
900100002  in situ, *Calb1* (hippocampus,  cor.   9     200 µm   1.25      ~60
           cerebellar Purkinje cells)
900100003  in situ, *Gad1*, left           sag.   10    200 µm   1.40      ~25
           hemisphere
900100004  connectivity (anterograde       cor.   9     100 µm   1.00      ~130
           tracer, right motor cortex)
========== ============================== ====== ===== ======== ========= ========

In-situ sets are cut at 25 µm into 8 interleaved series, one stained per gene, hence
section numbers step 8 and ``vz = section_number × 25`` 200 µm apart (docs/arithmetic.md).
The connectivity set is cut at 100 µm. Real connectivity images have about 0.35 µm per
pixel (30,000+ pixels wide, 9–10 tiers); the demo uses 1.0 µm per pixel so that a
whole image written by ``napari-allen-sync image`` or a test stays small. The
synchronization arithmetic does not depend on the resolution.

Alignments are built like Allen's (:mod:`.alignment`): TVR a few degrees off-axis
with scales 0.95–1.06 and volume axes in the order the stack was cut (coronal stacks
are (R, I, −P) like data sets 1357 and 479; the sagittal stack (P, I, L) like 123);
TRV and TVS are the inverses rounded to 6 significant digits. Each section has its
own in-plane rotation (±2.5°) and placement on the slide.

The sagittal set samples its specimen's *left* hemisphere. Registered to reference
space 10 (PIL) it lies at r10 ≈ 900 … 5600 µm, which the engine's 9 ↔ 10 mirror
(r9 = 11350 − r10) brings onto the right hemisphere of space 9, where the coronal
atlas is annotated (docs/arithmetic.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..arithmetic import MIRROR_9_10_UM
from ..records import Alignment2d, Alignment3d, Equalization, SectionDataSet, SectionImage
from .alignment import rotation, sig6, tsv_matrix, tvr_matrix
from .phantom import BRAIN_BOUNDS_UM

__all__ = [
    "EXPERIMENTS",
    "ExperimentSpec",
    "experiment_records",
    "tier_count_for",
]

CORONAL_FROM_POSTERIOR = ((0, 0, -1), (0, 1, 0), (1, 0, 0))  # p = −vz, i = vy, r = vx
CORONAL_FROM_ANTERIOR = ((0, 0, 1), (0, 1, 0), (1, 0, 0))  # p = vz, i = vy, r = vx
SAGITTAL = ((1, 0, 0), (0, 1, 0), (0, 0, 1))  # p = vx, i = vy, r10 = vz
#: Where the reference point (6600, 3900, 5700) of space 9 sits in each volume (µm):
#: volume coordinates are positive and offset, as in real alignments.
VOLUME_CENTER = (7300.0, 5600.0)
#: Blank slide around the brain's bounding box (µm).
MARGIN_UM = 450.0


@dataclass(frozen=True)
class ExperimentSpec:
    """How one demo data set is cut, aligned, imaged and stained."""

    id: int
    name: str
    gene: str | None
    stain: str  # "ish", "fluorescence" or "nissl"
    plane_of_section_id: int
    reference_space_id: int
    section_thickness: float
    section_step: int
    first_section: int
    resolution: float
    axes: tuple
    scales: tuple[float, float, float]
    angles: tuple[float, float, float]
    seed: int
    #: Expression (or projection density) 0..1 per painted structure id.
    expression: dict = field(default_factory=dict)
    #: Relative expression in cortical layers L1, L2/3, L4, L5, L6.
    layers: tuple[float, float, float, float, float] = (1, 1, 1, 1, 1)
    product: str = "Mouse Brain"
    equalization: tuple[float, ...] = (0, 3600, 0, 3600, 0, 3600)
    #: Fixed section numbers and TVR translation (the atlas); None: derived.
    sections: tuple[int, ...] | None = None
    translation: tuple[float, float, float] | None = None
    #: Whether sections are rotated and shifted on their slides (not atlas plates).
    jitter: bool = True

    @property
    def index(self) -> int:
        """Small number of the data set, used to derive the ids of its records."""
        return self.id % 100

    @property
    def image_id_base(self) -> int:
        """Image ids are this plus the section number."""
        return 900200000 + self.index * 10000


EXPERIMENTS: tuple[ExperimentSpec, ...] = (
    ExperimentSpec(
        id=900100001,
        name="Penk – proenkephalin, coronal in situ hybridization (demo)",
        gene="Penk",
        stain="ish",
        plane_of_section_id=1,
        reference_space_id=9,
        section_thickness=25.0,
        section_step=8,
        first_section=5,
        resolution=1.05,
        axes=CORONAL_FROM_POSTERIOR,
        scales=(1.06, 0.97, 1.02),
        angles=(1.5, -2.0, 2.5),
        seed=1,
        expression={477: 1.0, 315: 0.55, 1097: 0.55, 803: 0.35, 698: 0.45, 703: 0.35,
                    313: 0.2, 1089: 0.15, 771: 0.2, 354: 0.25, 549: 0.05},
        layers=(0.05, 1.0, 0.15, 0.7, 0.25),
        equalization=(0, 3391, 0, 3391, 0, 3391),
    ),
    ExperimentSpec(
        id=900100002,
        name="Calb1 – calbindin 1, coronal in situ hybridization (demo)",
        gene="Calb1",
        stain="ish",
        plane_of_section_id=1,
        reference_space_id=9,
        section_thickness=25.0,
        section_step=8,
        first_section=2,
        resolution=1.25,
        axes=CORONAL_FROM_POSTERIOR,
        scales=(0.95, 1.04, 0.98),
        angles=(-2.5, 1.0, -1.5),
        seed=2,
        expression={1089: 1.0, 512: 0.95, 315: 0.5, 549: 0.35, 477: 0.2, 698: 0.35,
                    1097: 0.3, 313: 0.3, 354: 0.15, 771: 0.1, 703: 0.3},
        layers=(0.1, 1.0, 0.3, 0.25, 0.15),
        equalization=(0, 3562, 0, 3562, 0, 3562),
    ),
    ExperimentSpec(
        id=900100003,
        name="Gad1 – glutamate decarboxylase 1, sagittal in situ hybridization (demo)",
        gene="Gad1",
        stain="ish",
        plane_of_section_id=2,
        reference_space_id=10,
        section_thickness=25.0,
        section_step=8,
        first_section=3,
        resolution=1.40,
        axes=SAGITTAL,
        scales=(1.04, 1.02, 1.05),
        angles=(3.0, -1.5, 1.0),
        seed=3,
        expression={477: 0.9, 803: 1.0, 698: 0.75, 1097: 0.6, 313: 0.55, 512: 0.8,
                    315: 0.35, 1089: 0.3, 549: 0.1, 771: 0.35, 354: 0.45, 703: 0.35},
        layers=(0.6, 0.5, 0.5, 0.5, 0.5),
        equalization=(0, 3203, 0, 3203, 0, 3203),
    ),
    ExperimentSpec(
        id=900100004,
        name="Anterograde tracer, right primary motor cortex (demo connectivity)",
        gene=None,
        stain="fluorescence",
        plane_of_section_id=1,
        reference_space_id=9,
        section_thickness=100.0,
        section_step=1,
        first_section=1,
        resolution=1.00,
        axes=CORONAL_FROM_ANTERIOR,
        scales=(1.0, 0.95, 0.96),
        angles=(-1.0, 2.0, -3.0),
        seed=4,
        # Projection density; the injection site and the side are handled by the renderer.
        expression={477: 0.7, 549: 0.55, 315: 0.3, 771: 0.35, 313: 0.25, 1009: 0.5,
                    1097: 0.1, 354: 0.1},
        product="Mouse Connectivity",
        equalization=(0, 500, 0, 1000, 0, 500),
    ),
)

#: Injection site of the connectivity demo (space 9, µm) and its radius.
INJECTION_SITE_UM = (3600.0, 1500.0, 7300.0)
INJECTION_RADIUS_UM = 450.0


def tier_count_for(width: int, height: int) -> int:
    """Pyramid depth such that the smallest tier is 100–300 pixels on its long side."""
    longest = max(width, height)
    return max(1, math.ceil(math.log2(longest / 300)) + 1)


def _reference_center(space: int) -> np.ndarray:
    c = np.array([6600.0, 3900.0, 5700.0])
    if space == 10:
        c[2] = MIRROR_9_10_UM - c[2]
    return c


def _bounds_in_space(space: int):
    (x0, x1), (y0, y1), (z0, z1) = BRAIN_BOUNDS_UM
    if space == 10:
        z0, z1 = MIRROR_9_10_UM - z1, MIRROR_9_10_UM - z0
    return (x0, x1), (y0, y1), (z0, z1)


#: Extent of space 9 along P, I, R (µm), to place the stacks' depth.
EXTENT_UM = (13200.0, 8000.0, 11400.0)


def data_set_alignment(spec: ExperimentSpec) -> tuple[np.ndarray, np.ndarray]:
    """(TVR, TRV) of a demo data set, rounded as Allen's.

    The translation puts the volume point (``VOLUME_CENTER``, mid-stack depth) on the
    middle of the reference space, so volume coordinates are positive and the first
    sections have small numbers, as in real stacks.
    """
    if spec.translation is not None:
        return tvr_matrix(spec.axes, spec.scales, spec.angles, spec.translation)
    a = rotation(*spec.angles) @ np.asarray(spec.axes, float) @ np.diag(spec.scales)
    depth_axis = int(np.argmax(np.abs(np.asarray(spec.axes)[:, 2])))
    vz_mid = 0.5 * EXTENT_UM[depth_axis] / spec.scales[2] + 400.0
    volume_center = np.array([VOLUME_CENTER[0], VOLUME_CENTER[1], vz_mid])
    translation = _reference_center(spec.reference_space_id) - a @ volume_center
    return tvr_matrix(spec.axes, spec.scales, spec.angles, translation)


def _section_numbers(spec: ExperimentSpec, trv: np.ndarray, tvr: np.ndarray) -> list[int]:
    """Section numbers whose plane meets the tissue at the volume's centre."""
    if spec.sections is not None:
        return list(spec.sections)
    bounds = _bounds_in_space(spec.reference_space_id)
    depth_axis = int(np.argmax(np.abs(tvr[:, 2])))
    lo, hi = bounds[depth_axis]
    if spec.plane_of_section_id == 2:  # one hemisphere: midline to the lateral edge
        lo = max(lo, 900.0)
        hi = min(hi, MIRROR_9_10_UM - 5750.0)
    else:
        lo, hi = lo + 150.0, hi - 150.0
    out = []
    n = spec.first_section
    while n * spec.section_thickness < 30000:
        v = np.array([VOLUME_CENTER[0], VOLUME_CENTER[1], n * spec.section_thickness])
        ref = tvr[:, :3] @ v + tvr[:, 3]
        if lo <= ref[depth_axis] <= hi:
            out.append(n)
        n += spec.section_step
    return out


def _in_plane_box(spec: ExperimentSpec, trv: np.ndarray):
    """Bounding box (vx0, vx1, vy0, vy1) of the tissue in volume coordinates."""
    corners = np.array(np.meshgrid(*_bounds_in_space(spec.reference_space_id))).reshape(3, -1)
    vol = trv[:, :3] @ corners + trv[:, 3:4]
    return vol[0].min(), vol[0].max(), vol[1].min(), vol[1].max()


def experiment_records(spec: ExperimentSpec, *, kind=SectionImage, annotated=False):
    """The SectionDataSet, its images and its Equalization for one spec."""
    tvr, trv = data_set_alignment(spec)
    ds = SectionDataSet(
        id=spec.id,
        plane_of_section_id=spec.plane_of_section_id,
        section_thickness=spec.section_thickness,
        reference_space_id=spec.reference_space_id,
        failed=False,
        alignment3d=Alignment3d.from_matrices(
            tvr, trv, id=900400000 + spec.index, aligned_id=spec.id
        ),
        extra={
            "name": spec.name,
            "gene": spec.gene,
            "product": spec.product,
            "stain": spec.stain,
            "expression": spec.stain == "ish",
            "specimen": f"demo-{spec.index}",
        },
    )
    vx0, vx1, vy0, vy1 = _in_plane_box(spec, trv)
    width_um = (vx1 - vx0) + 2 * MARGIN_UM
    height_um = (vy1 - vy0) + 2 * MARGIN_UM
    crop_w = math.ceil(width_um / spec.resolution)
    crop_h = math.ceil(height_um / spec.resolution)
    rng = np.random.default_rng(1000 + spec.seed)
    images = []
    for n in _section_numbers(spec, trv, tvr):
        angle = float(np.round(rng.uniform(-2.5, 2.5), 2)) if spec.jitter else 0.0
        shift = np.round(rng.uniform(-120, 120, size=2), 1) if spec.jitter else np.zeros(2)
        pad = (int(rng.integers(0, 400)), int(rng.integers(0, 300))) if spec.jitter else (0, 0)
        theta = np.deg2rad(angle)
        rot = spec.resolution * np.array(
            [[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]
        )
        center_vol = np.array([(vx0 + vx1) / 2, (vy0 + vy1) / 2]) + shift
        translation = center_vol - rot @ np.array([crop_w / 2, crop_h / 2])
        tsv, tvs = tsv_matrix(spec.resolution, angle, translation)
        image_id = spec.image_id_base + n
        image_w = crop_w + pad[0] + (int(rng.integers(0, 300)) if spec.jitter else 0)
        image_h = crop_h + pad[1] + (int(rng.integers(0, 200)) if spec.jitter else 0)
        images.append(
            kind(
                id=image_id,
                data_set_id=spec.id,
                section_number=n,
                x=pad[0],
                y=pad[1],
                width=crop_w,
                height=crop_h,
                image_width=image_w,
                image_height=image_h,
                resolution=float(sig6(np.hypot(tsv[0, 0], tsv[0, 1]))),
                tier_count=tier_count_for(image_w, image_h),
                path=f"/demo/{spec.id}/{image_id}.aff",
                annotated=annotated,
                failed=False,
                alignment2d=Alignment2d.from_matrices(
                    tsv, tvs, id=image_id + 100_000_000, section_image_id=image_id
                ),
                extra={"image_type": "Primary", "bits_per_component": 8},
            )
        )
    eq = spec.equalization
    equalization = Equalization(
        section_data_set_id=spec.id,
        red_lower=eq[0],
        red_upper=eq[1],
        green_lower=eq[2],
        green_upper=eq[3],
        blue_lower=eq[4],
        blue_upper=eq[5],
        id=900500000 + spec.index,
    )
    return ds, images, equalization


def spec_by_data_set_id() -> dict[int, ExperimentSpec]:
    """Every demo experiment (and the atlas) by data set id."""
    from .atlas import ATLAS_SPEC, SAGITTAL_ATLAS_SPEC

    return {s.id: s for s in (*EXPERIMENTS, ATLAS_SPEC, SAGITTAL_ATLAS_SPEC)}

