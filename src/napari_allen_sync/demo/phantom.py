"""The phantom brain: a deterministic synthetic mouse brain in reference space 9.

Space 9 is Allen's CCF in PIR microns: ``x`` posterior (0 … 13200), ``y`` inferior
(0 … 8000), ``z`` right (0 … 11400). The phantom is mirror-symmetric about the
midline ``z = 5700`` (:data:`MIDLINE_UM`).

How it is made
--------------
The anatomy is written down as a few dozen superellipsoids (:data:`ENVELOPE`,
:data:`TERRITORIES`, :data:`OVERLAYS`), deformed by smooth deterministic noise:

1. the brain's outline is the union of the envelope shapes (cerebrum, olfactory bulbs,
   brain stem, cerebellum);
2. inside it, every point goes to the *territory* (one or more shapes per structure)
   whose normalised radius ρ is smallest — an anisotropic Voronoi partition, so the
   divisions tile the brain without gaps;
3. a cortical mantle of constant relative thickness over the cerebrum becomes
   Isocortex (piriform cortex, i.e. OLF, below the rhinal line), with a white-matter
   band (corpus callosum / external capsule, ``fiber tracts``) beneath it and the
   longitudinal fissure cut between the hemispheres;
4. thin overlays add the internal capsule, anterior commissure, the cerebellar arbor
   vitae and the ventricles.

This is evaluated once, lazily, on a 50 µm grid (264 × 160 × 228 voxels, about a
second; measured faster to *sample* than evaluating the analytic shapes per pixel,
which costs ~30 shapes × noise per point). Sampling (:func:`structure_id_at`) takes
the label whose one-hot field, interpolated with a quadratic B-spline over the 27
surrounding voxel centres, is largest — so boundaries are smooth (C¹) curves at any
zoom, not 50 µm staircases, and the memberships themselves
(:func:`structure_scores`) give the renderer soft, anti-aliased edges. Points whose
27 neighbours agree (the vast majority) need one gather only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache

import numpy as np

from .ontology import PAINTED, code_to_id, id_to_code

__all__ = [
    "BRAIN_BOUNDS_UM",
    "EXTENT_UM",
    "MIDLINE_UM",
    "VOXEL_UM",
    "cerebellar_folia",
    "cortical_depth",
    "label_volume",
    "structure_code_at",
    "structure_id_at",
    "structure_scores",
]

#: Extent of reference space 9 (µm): AP × DV × LR (docs/arithmetic.md).
EXTENT_UM = (13200.0, 8000.0, 11400.0)
#: The phantom's plane of symmetry (µm, space 9).
MIDLINE_UM = 5700.0
#: Voxel size of the label volume (µm).
VOXEL_UM = 50.0
SHAPE = (264, 160, 228)
#: Bounding box of the tissue, ``((x0, x1), (y0, y1), (z0, z1))`` µm in space 9 (a little
#: generous; the exact box is :func:`tissue_bounds`).
BRAIN_BOUNDS_UM = ((0.0, 13200.0), (300.0, 7600.0), (800.0, 10600.0))

_C = {sid: id_to_code(sid) for sid in PAINTED}
ISO, OLF, HPF, CTXSP, STR, PAL = (_C[i] for i in (315, 698, 1089, 703, 477, 803))
TH, HY, MB, P, MY, CB, FT, VS = (_C[i] for i in (549, 1097, 313, 771, 354, 512, 1009, 73))


@dataclass(frozen=True)
class Shape:
    """A superellipsoid in (x, y, m) with m = |z − midline| (so both hemispheres).

    ``center`` and ``radii`` in µm; ``rotate`` degrees about the (x, y, m) axes applied
    in that order; ``power`` the superellipsoid exponent (2 = ellipsoid); ``noise`` the
    amplitude (in units of ρ) of the smooth deformation; ``bend`` moves the centre's y
    by ``bend · (m − center_m)²`` µm (a curved sheet such as the hippocampus).
    """

    code: int
    center: tuple[float, float, float]
    radii: tuple[float, float, float]
    rotate: tuple[float, float, float] = (0.0, 0.0, 0.0)
    power: float = 2.0
    noise: float = 0.05
    bend: float = 0.0
    weight: float = 1.0


#: The brain outline (codes are unused here).
ENVELOPE = (
    Shape(0, (5500, 3900, 0), (3950, 3450, 4800), power=2.25, noise=0.0),  # cerebrum
    Shape(0, (1350, 3250, 780), (1350, 1650, 820), noise=0.03),  # olfactory bulbs
    Shape(0, (2500, 4300, 700), (1000, 1300, 900), noise=0.03),  # olfactory peduncle
    Shape(0, (9500, 5250, 0), (3100, 2050, 2350), noise=0.03),  # brain stem
    Shape(0, (9300, 3100, 0), (900, 1400, 1500), noise=0.03),  # tectum
    Shape(0, (12350, 5750, 0), (1100, 1150, 1350), noise=0.03),  # medulla tail
    Shape(0, (11400, 3250, 0), (1650, 2150, 3750), power=2.6, noise=0.03),  # cerebellum
)
CEREBRUM = ENVELOPE[0]
CEREBELLUM = ENVELOPE[6]

#: Voronoi territories: each point of the brain goes to the smallest ρ / weight.
TERRITORIES = (
    Shape(OLF, (1350, 3250, 780), (1350, 1650, 820), noise=0.03, weight=1.5),  # bulbs
    Shape(OLF, (2700, 4300, 1000), (1000, 1200, 1000), noise=0.06),  # AON
    Shape(OLF, (3900, 6350, 2400), (2300, 1000, 2300), noise=0.06),  # piriform/OT
    Shape(STR, (4300, 3900, 1900), (1800, 1600, 1400), noise=0.07),  # caudoputamen
    Shape(STR, (4300, 3400, 0), (1300, 1500, 450), noise=0.05),  # septum
    Shape(PAL, (5300, 5150, 1700), (1000, 900, 800), noise=0.07),
    Shape(CTXSP, (6000, 5100, 3200), (1500, 900, 650), rotate=(0, 0, -20), noise=0.06),
    Shape(HPF, (7500, 2650, 2000), (1700, 800, 2000), noise=0.05, bend=0.00011),
    Shape(HPF, (8800, 4300, 3600), (1000, 1500, 850), rotate=(0, 0, 15), noise=0.05),
    Shape(TH, (6900, 3950, 800), (1300, 1150, 1500), noise=0.06),
    Shape(HY, (6200, 6250, 0), (1700, 1000, 950), noise=0.06),
    Shape(MB, (9000, 3900, 0), (1400, 1800, 1800), noise=0.06),
    Shape(P, (9700, 6050, 0), (1050, 950, 1400), noise=0.06),
    Shape(MY, (11700, 5700, 0), (2000, 1250, 1550), noise=0.05),
    Shape(CB, (11400, 3250, 0), (1650, 2150, 3750), power=2.6, noise=0.03),
    # Dorsomedial striatum up to the corpus callosum (appended: earlier shapes keep
    # their noise fields).
    Shape(STR, (4400, 2500, 900), (1300, 800, 800), noise=0.05),
)

#: Drawn last, over everything inside the brain, in this order.
OVERLAYS = (
    Shape(FT, (5700, 4400, 2350), (1000, 1500, 170), rotate=(0, 0, 30), noise=0.04),  # int. capsule
    Shape(FT, (4500, 5150, 1000), (260, 220, 1250), noise=0.04),  # anterior commissure
    Shape(VS, (4500, 3250, 700), (1200, 900, 110), rotate=(0, 0, 18), noise=0.05),  # lateral
    Shape(VS, (6500, 4950, 0), (1300, 1400, 70), noise=0.03),  # third
    Shape(VS, (9000, 4350, 0), (1100, 130, 130), noise=0.02),  # aqueduct
    Shape(VS, (11100, 4850, 0), (900, 260, 550), noise=0.04),  # fourth
)

#: Relative thickness of the cortical mantle and of the white-matter band beneath it.
CORTEX_THICKNESS = 0.24
WHITE_MATTER_THICKNESS = 0.065
#: Below this line (µm of y, growing laterally) the mantle is piriform cortex (OLF).
RHINAL_Y0, RHINAL_SLOPE = 4500.0, 0.42
#: Half-width of the longitudinal fissure between the hemispheres (µm).
FISSURE_HALF_WIDTH = 60.0


def _noise_fields(x, y, m, count=3):
    """``count`` smooth deterministic noise fields in about [−1, 1] on the grid."""
    rng = np.random.default_rng(20240917)
    out = []
    for _ in range(count):
        acc = np.zeros((len(x), len(y), len(m)), np.float32)
        for _ in range(5):
            direction = rng.random(3) * 2 - 1
            direction /= np.linalg.norm(direction)
            wavelength = 1200 + 2800 * rng.random()
            k = (2 * np.pi / wavelength) * direction
            phase = 2 * np.pi * rng.random()
            arg = (
                (k[0] * x + phase).astype(np.float32)[:, None, None]
                + (k[1] * y).astype(np.float32)[None, :, None]
                + (k[2] * m).astype(np.float32)[None, None, :]
            )
            acc += np.sin(arg, out=arg)
        acc *= np.float32(1 / 2.2)
        out.append(acc)
    return out


def _rotation(degrees) -> np.ndarray:
    ax, ay, am = np.deg2rad(degrees)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rm = np.array([[np.cos(am), -np.sin(am), 0], [np.sin(am), np.cos(am), 0], [0, 0, 1]])
    return rm @ ry @ rx


def shape_rho(shape: Shape, x, y, m, noise=None):
    """Normalised radius ρ of a shape (< 1 inside) at arrays ``x, y, m`` broadcastable
    against each other; ``noise`` a field of the same broadcast shape, or None."""
    cx, cy, cm = shape.center
    dy = y - cy
    if shape.bend:
        dy = dy - shape.bend * (m - cm) ** 2
    d = (x - cx, dy, m - cm)
    if any(shape.rotate):
        r = _rotation(shape.rotate).T
        d = tuple(r[i, 0] * d[0] + r[i, 1] * d[1] + r[i, 2] * d[2] for i in range(3))
    p = shape.power
    if p == 2.0:
        rx, ry, rz = shape.radii
        s = (d[0] / rx) ** 2 + (d[1] / ry) ** 2 + (d[2] / rz) ** 2
        rho = np.sqrt(s)
    else:
        s = sum(np.abs(d[i] / shape.radii[i]) ** p for i in range(3))
        rho = s ** (1.0 / p)
    if noise is not None and shape.noise:
        rho = rho - shape.noise * noise
    return rho


def cerebellar_folia(x, y) -> np.ndarray:
    """Folia of the cerebellum: a value in [−1, 1] varying around the cerebellum's
    centre in the sagittal plane; fissures where it is near −1, the arbor vitae reaches
    out where it is near 1."""
    cx, cy, _ = CEREBELLUM.center
    theta = np.arctan2(y - cy, x - cx)
    theta = theta + 0.18 * np.sin(3.0 * theta + 0.7) + 0.07 * np.sin(7.0 * theta + 2.1)
    return np.cos(10.0 * theta)


def _fissure_depth(folia):
    return 0.16 * np.clip(-folia, 0, 1) ** 3


def cortical_depth(x, y, m) -> np.ndarray:
    """Relative depth in the cortical mantle: 0 at the pial surface, 1 at the white
    matter (values outside [0, 1] lie outside the mantle). Analytic (the cerebrum's
    outline is a smooth superellipsoid), so layers are smooth at any zoom."""
    rho = shape_rho(CEREBRUM, x, y, m)
    return (1.0 - rho) / CORTEX_THICKNESS


def _grid_axes():
    n = SHAPE
    x = (np.arange(n[0]) + 0.5) * VOXEL_UM
    y = (np.arange(n[1]) + 0.5) * VOXEL_UM
    z = (np.arange(n[2]) + 0.5) * VOXEL_UM
    return x, y, z


def _block(shape: Shape, axes, margin: float):
    """Index slices of the grid where a shape's ρ may be below ``margin``."""
    reach = max(shape.radii) if any(shape.rotate) else None
    out = []
    for k, ax in enumerate(axes):
        r = (reach or shape.radii[k]) * margin
        lo, hi = shape.center[k] - r, shape.center[k] + r
        if k == 1 and shape.bend:
            far = max(abs(axes[2][0] - shape.center[2]), abs(axes[2][-1] - shape.center[2]))
            hi += shape.bend * far**2
        i0, i1 = np.searchsorted(ax, lo), np.searchsorted(ax, hi, side="right")
        out.append(slice(int(i0), int(max(i0, i1))))
    return tuple(out)


def _paint_half() -> np.ndarray:
    """Labels of the right hemisphere (z > midline), shape (264, 160, 114)."""
    x, y, z = _grid_axes()
    half = SHAPE[2] // 2
    m = z[half:] - MIDLINE_UM  # 25 … 5675
    axes = (x.astype(np.float32), y.astype(np.float32), m.astype(np.float32))
    fields = _noise_fields(x, y, m)
    shape3 = (len(x), len(y), len(m))

    def rho_in(s: Shape, block, k):
        X = axes[0][block[0], None, None]
        Y = axes[1][None, block[1], None]
        M = axes[2][None, None, block[2]]
        noise = fields[k % len(fields)][block] if s.noise else None
        rho = shape_rho(s, X, Y, M, noise)
        if s is CEREBELLUM or (s.code == CB and s.center == CEREBELLUM.center):
            rho = rho + _fissure_depth(cerebellar_folia(X, Y))
        return np.broadcast_to(rho, tuple(b.stop - b.start for b in block))

    inside = np.zeros(shape3, bool)
    for k, s in enumerate(ENVELOPE):
        block = _block(s, axes, 1.3)
        inside[block] |= rho_in(s, block, k) < 1.0
    best = np.full(shape3, np.inf, np.float32)
    label = np.zeros(shape3, np.uint8)
    for k, s in enumerate(TERRITORIES):
        block = _block(s, axes, 2.5)
        rho = rho_in(s, block, k + 1) / np.float32(s.weight)
        sub_best = best[block]
        win = rho < sub_best
        sub_best[win] = rho[win]
        label[block][win] = s.code
    label[~inside] = 0

    X = axes[0][:, None, None]
    Y = axes[1][None, :, None]
    M = axes[2][None, None, :]
    # Cortical mantle, white matter beneath, fissure between the hemispheres.
    depth = np.broadcast_to(cortical_depth(X, Y, M), shape3)
    bulb = TERRITORIES[0]
    in_bulb = np.zeros(shape3, bool)
    block = _block(bulb, axes, 1.1)
    in_bulb[block] = rho_in(bulb, block, 0) < 1.05
    mantle = inside & (depth >= 0) & (depth < 1) & ~in_bulb
    mantle &= (label != CB) & (label != P) & (label != MY)
    rhinal = np.broadcast_to(Y > RHINAL_Y0 + RHINAL_SLOPE * M, shape3)
    label[mantle & ~rhinal] = ISO
    label[mantle & rhinal & (label != HY)] = OLF
    white = inside & (depth >= 1) & (depth < 1 + WHITE_MATTER_THICKNESS / CORTEX_THICKNESS)
    white &= np.isin(label, (STR, HPF, TH, PAL, CTXSP)) & ~rhinal
    label[white] = FT
    fissure = np.broadcast_to(M < FISSURE_HALF_WIDTH, shape3) & mantle & ~rhinal
    label[fissure] = 0

    # Arbor vitae: the cerebellum's white matter, branching out into the folia.
    block = _block(CEREBELLUM, axes, 1.1)
    Xb, Yb, Mb = X[block[0]], Y[:, block[1]], M[:, :, block[2]]
    core = shape_rho(CEREBELLUM, Xb, Yb, Mb)
    reach = 0.36 + 0.40 * np.clip(cerebellar_folia(Xb, Yb), 0, 1) ** 1.5
    sub = label[block]
    sub[(sub == CB) & (core < reach)] = FT

    for k, s in enumerate(OVERLAYS):
        block = _block(s, axes, 1.1)
        sub = label[block]
        hit = (sub != 0) & (rho_in(s, block, k + 2) < 1.0)
        sub[hit] = s.code
    return label


_lock = threading.Lock()


@cache
def _volumes():
    with _lock:
        half = _paint_half()
        labels = np.concatenate([half[:, :, ::-1], half], axis=2)
        # Padded by two voxels of "outside" so that 3 × 3 × 3 neighbour lookups around
        # any voxel of the volume (or its one-voxel rim) never index out.
        a = np.zeros(tuple(n + 4 for n in SHAPE), np.uint8)
        a[2:-2, 2:-2, 2:-2] = labels
        # Bit 7 set where the 3 × 3 × 3 voxels centred on (i, j, k) disagree.
        diff = np.zeros_like(a, dtype=bool)
        for axis in range(3):
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[axis], hi[axis] = slice(0, -1), slice(1, None)
            d = a[tuple(lo)] != a[tuple(hi)]
            diff[tuple(lo)] |= d
            diff[tuple(hi)] |= d
        # diff marks voxels with a differing face neighbour; a 3-cube disagrees when it
        # holds such a voxel (labels differing across a cube's diagonal also differ
        # along some face path inside the cube).
        mixed = diff.copy()
        for axis in range(3):
            m = mixed.copy()
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[axis], hi[axis] = slice(0, -1), slice(1, None)
            m[tuple(lo)] |= mixed[tuple(hi)]
            m[tuple(hi)] |= mixed[tuple(lo)]
            mixed = m
        packed = a | (mixed.astype(np.uint8) << 7)
        labels.setflags(write=False)
        packed.setflags(write=False)
        return labels, packed


def label_volume() -> np.ndarray:
    """The label volume (codes, see :mod:`.ontology`), shape (264, 160, 228), 50 µm
    voxels, voxel (i, j, k) centred at ((i, j, k) + ½) · 50 µm. Read-only; built once."""
    return _volumes()[0]


def _bspline2(t):
    """Quadratic B-spline weights of the voxels at offsets −1, 0, +1 from the nearest
    voxel centre, ``t`` ∈ [−½, ½] the offset of the point from that centre."""
    return (0.5 * (0.5 - t) ** 2, 0.75 - t * t, 0.5 * (0.5 + t) ** 2)


def structure_scores(x, y, z):
    """Smoothed structure membership at reference-space-9 points (µm).

    The one-hot label fields are interpolated with a quadratic B-spline (C¹, support
    3 × 3 × 3 voxels), so that the boundaries between structures — where two fields
    are equal — are smooth curves at any zoom rather than 50 µm staircases.

    Returns ``(codes, sel, scores)``: the code with the largest membership at each
    point (shape of the broadcast inputs); the flat indices of the points near a
    boundary (their 27 neighbours disagree); and those points' memberships, float32
    ``(len(sel), 16)`` summing to 1. Elsewhere the membership is one-hot on ``codes``.
    """
    _, packed = _volumes()
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    z = np.asarray(z, dtype=np.float32)
    shape = np.broadcast_shapes(x.shape, y.shape, z.shape)
    inv = np.float32(1.0 / VOXEL_UM)
    # Continuous voxel coordinates in the padded volume (voxel centres at integers).
    half = np.float32(1.5)
    u = np.broadcast_to(x * inv + half, shape).ravel()
    v = np.broadcast_to(y * inv + half, shape).ravel()
    w = np.broadcast_to(z * inv + half, shape).ravel()
    nx, ny, nz = packed.shape
    i0 = np.clip(np.rint(u), 1, nx - 2).astype(np.intp)
    j0 = np.clip(np.rint(v), 1, ny - 2).astype(np.intp)
    k0 = np.clip(np.rint(w), 1, nz - 2).astype(np.intp)
    flat = (i0 * ny + j0) * nz + k0
    flat_vol = packed.reshape(-1)
    got = flat_vol.take(flat)
    out = got & np.uint8(0x7F)
    # Points outside the volume (beyond its one-voxel rim) are outside the brain.
    outside = (u < 1) | (v < 1) | (w < 1) | (u > nx - 2) | (v > ny - 2) | (w > nz - 2)
    sel = np.flatnonzero(((got & np.uint8(0x80)) != 0) & ~outside)
    out[outside] = 0
    if sel.size:
        n = sel.size
        wx = _bspline2(np.clip(u[sel] - i0[sel], -0.5, 0.5))
        wy = _bspline2(np.clip(v[sel] - j0[sel], -0.5, 0.5))
        wz = _bspline2(np.clip(w[sel] - k0[sel], -0.5, 0.5))
        base = flat[sel]
        rows16 = np.arange(n, dtype=np.intp) * 16
        idx = np.empty((27, n), np.intp)
        wts = np.empty((27, n), np.float32)
        q = 0
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                wxy = wx[dx + 1] * wy[dy + 1]
                for dz in (-1, 0, 1):
                    c = flat_vol.take(base + ((dx * ny + dy) * nz + dz)) & np.uint8(0x7F)
                    idx[q] = rows16 + c
                    wts[q] = wxy * wz[dz + 1]
                    q += 1
        scores = np.bincount(idx.ravel(), wts.ravel(), minlength=16 * n)
        scores = scores.astype(np.float32).reshape(n, 16)
        scores = _refine(
            np.broadcast_to(x, shape).ravel()[sel],
            np.broadcast_to(y, shape).ravel()[sel],
            np.broadcast_to(z, shape).ravel()[sel],
            scores,
        )
        out[sel] = scores.argmax(axis=1).astype(np.uint8)
    else:
        scores = np.zeros((0, 16), np.float32)
    return out.reshape(shape), sel, scores


@cache
def _waves():
    """The plane waves of :func:`_noise_fields` (same draws): per field, a list of
    (wave vector, phase)."""
    rng = np.random.default_rng(20240917)
    out = []
    for _ in range(3):
        waves = []
        for _ in range(5):
            direction = rng.random(3) * 2 - 1
            direction /= np.linalg.norm(direction)
            wavelength = 1200 + 2800 * rng.random()
            waves.append(((2 * np.pi / wavelength) * direction, 2 * np.pi * rng.random()))
        out.append(waves)
    return out


def _noise_at(x, y, m, k):
    """Noise field ``k`` of :func:`_noise_fields` at points (exact, not gridded)."""
    x, y, m = (np.asarray(a, np.float32) for a in (x, y, m))
    acc = np.zeros(np.broadcast_shapes(x.shape, y.shape, m.shape), np.float32)
    for kv, phase in _waves()[k % 3]:
        kv = kv.astype(np.float32)
        acc += np.sin(kv[0] * x + np.float32(phase) + kv[1] * y + kv[2] * m)
    return acc * np.float32(1 / 2.2)


#: Territory codes whose shared boundaries are the Voronoi rule's (not overwritten by
#: the mantle, the white matter or overlays away from their own boundaries).
_VORONOI = (OLF, STR, PAL, CTXSP, HPF, TH, HY, MB, P, MY, CB)
_INNER = (STR, HPF, TH, PAL, CTXSP)
#: Memberships change by 0.75 per voxel across a B-spline-smoothed boundary; refined
#: boundaries use the same slope, so renderers can read distances off memberships.
_SLOPE_PER_UM = 0.75 / VOXEL_UM
_H = 5.0  # µm, step of the numerical gradients


def _territory_rho(code, x, y, m, noise):
    best = None
    for k, s in enumerate(TERRITORIES):
        if s.code != code:
            continue
        rho = shape_rho(s, x, y, m, noise[(k + 1) % 3]) / s.weight
        if s.code == CB and s.center == CEREBELLUM.center:  # with its fissures
            rho = rho + _fissure_depth(cerebellar_folia(x, y))
        best = rho if best is None else np.minimum(best, rho)
    return best


def _distance(fn, x, y, m, noise):
    """Signed distance (µm) to the zero set of ``fn``, positive where fn > 0. The
    noise fields (wavelengths > 1 mm) are held at the point for the gradient."""
    f = fn(x, y, m, noise)
    gx = fn(x + _H, y, m, noise) - f
    gy = fn(x, y + _H, m, noise) - f
    gm = fn(x, y, m + _H, noise) - f
    g = np.sqrt(gx * gx + gy * gy + gm * gm) / _H
    return f / np.maximum(g, 1e-12)


def _envelope(u, v, w, nz):
    """The brain's outline: the union of the envelope shapes (> 0 inside)."""
    best = None
    for k, s in enumerate(ENVELOPE):
        rho = shape_rho(s, u, v, w, nz[k % 3] if s.noise else None)
        if s is CEREBELLUM:
            rho = rho + _fissure_depth(cerebellar_folia(u, v))
        best = 1.0 - rho if best is None else np.maximum(best, 1.0 - rho)
    return best


def _overlays(code):
    """The union of the overlays painted with ``code`` (> 0 inside)."""

    def fn(u, v, w, nz):
        best = None
        for k, s in enumerate(OVERLAYS):
            if s.code != code:
                continue
            val = 1.0 - shape_rho(s, u, v, w, nz[(k + 2) % 3])
            best = val if best is None else np.maximum(best, val)
        return best

    return fn


def _hypothalamus(u, v, w, nz):
    """The hypothalamus' territory against all others (> 0 in the hypothalamus)."""
    others = None
    for k, s in enumerate(TERRITORIES):
        if s.code == HY:
            continue
        rho = shape_rho(s, u, v, w, nz[(k + 1) % 3]) / s.weight
        others = rho if others is None else np.minimum(others, rho)
    return others - _territory_rho(HY, u, v, w, nz)


def _depth_fn(d0, sign):
    """Signed depth below the pial surface, in cortex thicknesses, minus ``d0``."""
    return lambda a, b, c, nz: sign * ((1.0 - shape_rho(CEREBRUM, a, b, c)) / CORTEX_THICKNESS - d0)


def _key(a, b):
    """The code of an unordered pair of label codes."""
    return min(a, b) * 16 + max(a, b)


class _PairBoundaries:
    """Points between exactly two structures (codes ``lo`` < ``hi``) and their signed
    distance ``dist`` (µm; positive in ``lo``) to the analytic boundary of that pair."""

    def __init__(self, px, py, pm, lo, hi):
        self.px, self.py, self.pm, self.lo, self.hi = px, py, pm, lo, hi
        self.code_pair = lo * 16 + hi
        self.dist = np.full(lo.size, np.nan)
        self._noise = {}

    def noise_of(self, mask):
        key = mask.tobytes()
        if key not in self._noise:
            self._noise[key] = [
                _noise_at(self.px[mask], self.py[mask], self.pm[mask], k) for k in range(3)
            ]
        return self._noise[key]

    def distance(self, mask, fn, noise=True):
        return _distance(fn, self.px[mask], self.py[mask], self.pm[mask],
                         self.noise_of(mask) if noise else None)

    def rule(self, mask, fn, flip=False):
        if mask.any():
            d = self.distance(mask, fn)
            self.dist[mask] = -d if flip else d

    def pair_rule(self, a, b, fn, inside):
        """The boundary of codes ``a`` and ``b`` is the zero set of ``fn`` (> 0 in
        ``inside``)."""
        self.rule(self.code_pair == _key(a, b), fn, flip=(min(a, b) != inside))

    def pia(self):
        """Pial surface and longitudinal fissure: 0 outside, Isocortex inside."""
        sel = self.code_pair == 0 * 16 + ISO
        if sel.any():
            d_pia = self.distance(sel, _depth_fn(0.0, 1.0), noise=False)
            self.dist[sel] = -np.minimum(d_pia, self.pm[sel] - FISSURE_HALF_WIDTH)

    def outline(self):
        """The brain's outline elsewhere."""
        lo, hi = self.lo, self.hi
        self.rule((lo == 0) & (hi != ISO) & (hi != VS), _envelope, flip=True)

    def white_matter(self):
        """Isocortex / white matter, white matter / the structures beneath."""
        wm = 1.0 + WHITE_MATTER_THICKNESS / CORTEX_THICKNESS
        self.pair_rule(ISO, FT, _depth_fn(1.0, -1.0), inside=ISO)
        for inner in _INNER:
            self.pair_rule(FT, inner, _depth_fn(wm, -1.0), inside=FT)

    def tracts(self):
        """Fibre-tract overlays (internal capsule, anterior commissure) against whatever
        they were painted over: where both they and the white band could be the
        boundary, the nearer one is."""
        lo, hi = self.lo, self.hi
        sel = ((lo == FT) | (hi == FT)) & (lo != 0) & (lo != ISO) & (hi != ISO)
        if sel.any():
            d = self.distance(sel, _overlays(FT))
            d = np.where(lo[sel] == FT, d, -d)
            old = self.dist[sel]
            self.dist[sel] = np.where(np.isnan(old) | (np.abs(d) < np.abs(old)), d, old)

    def rhinal(self):
        """Rhinal line: Isocortex above, piriform cortex (OLF) below."""
        self.pair_rule(ISO, OLF, lambda u, v, w, nz: RHINAL_Y0 + RHINAL_SLOPE * w - v,
                       inside=ISO)

    def voronoi(self):
        """Voronoi boundaries between territories."""
        present = np.unique(self.code_pair)
        for ia, ca in enumerate(_VORONOI):
            for cb in _VORONOI[ia + 1:]:
                a, b = min(ca, cb), max(ca, cb)
                if a * 16 + b not in present:
                    continue
                self.rule(self.code_pair == a * 16 + b, lambda u, v, w, nz, a=a, b=b:
                          _territory_rho(b, u, v, w, nz) - _territory_rho(a, u, v, w, nz))

    def hypothalamus(self):
        """Hypothalamus / piriform cortex: the hypothalamus' territory against all
        others (inside the mantle those others became OLF)."""
        self.pair_rule(HY, OLF, _hypothalamus, inside=HY)

    def ventricles(self):
        """Ventricles (overlays) against the tissue around them."""
        lo, hi = self.lo, self.hi
        sel = ((lo == VS) | (hi == VS)) & (lo != 0)
        if sel.any():
            d = self.distance(sel, _overlays(VS))
            self.dist[sel] = np.where(lo[sel] == VS, d, -d)


def _refine(x, y, z, scores):
    """Replace the B-spline memberships of points between exactly two structures by
    ones computed from the analytic shapes the labels were painted from, where the
    painting rule for that pair is known: the boundary becomes the exact smooth curve
    instead of a rounded 50 µm staircase. Memberships fall off across it with the
    B-spline's slope. Points where the analytic boundary is more than ~1 voxel away
    (another rule decided there) keep their B-spline memberships."""
    count = (scores > 1e-6).sum(axis=1)
    pair = np.flatnonzero(count == 2)
    if not pair.size:
        return scores
    sub = scores[pair]
    first = sub.argmax(axis=1)
    sub[np.arange(pair.size), first] = -1
    second = sub.argmax(axis=1)
    lo = np.minimum(first, second)
    hi = np.maximum(first, second)
    pairs = _PairBoundaries(
        x[pair].astype(np.float64),
        y[pair].astype(np.float64),
        np.abs(z[pair].astype(np.float64) - MIDLINE_UM),
        lo,
        hi,
    )
    # in this order: the tract overlays compare with the white band's distances
    pairs.pia()
    pairs.outline()
    pairs.white_matter()
    pairs.tracts()
    pairs.rhinal()
    pairs.voronoi()
    pairs.hypothalamus()
    pairs.ventricles()
    dist = pairs.dist
    ok = np.isfinite(dist) & (np.abs(dist) < 1.2 * VOXEL_UM)
    if not ok.any():
        return scores
    rows = pair[ok]
    s_lo = np.clip(0.5 + _SLOPE_PER_UM * dist[ok], 0, 1).astype(np.float32)
    scores[rows] = 0
    scores[rows, lo[ok]] = s_lo
    scores[rows, hi[ok]] = 1 - s_lo
    return scores


def structure_code_at(x, y, z) -> np.ndarray:
    """Label codes at reference-space-9 points (µm); arrays of any equal shape.

    Smooth-majority sampling: the code with the largest quadratic-B-spline-interpolated
    membership (:func:`structure_scores`).
    """
    return structure_scores(x, y, z)[0]


_IDS = code_to_id()


def structure_id_at(x, y, z) -> np.ndarray:
    """Allen structure ids at reference-space-9 points (µm), 0 outside the brain.

    Parameters
    ----------
    x, y, z : array-like
        Posterior, inferior, right (µm), broadcastable against each other.

    Returns
    -------
    numpy.ndarray of int64
        One of the ids of :data:`~.ontology.PAINTED`, or 0.

    Examples
    --------
    >>> int(structure_id_at(6500, 4000, 6400))   # centre of the thalamus
    549
    >>> int(structure_id_at(6500, 100, 6400))    # above the brain
    0
    """
    return _IDS.take(structure_code_at(x, y, z))


@cache
def tissue_bounds() -> tuple[tuple[float, float], ...]:
    """The exact bounding box of the tissue, ``((x0, x1), (y0, y1), (z0, z1))`` µm."""
    labels = label_volume()
    out = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hit = np.flatnonzero(labels.any(axis=other))
        out.append((float(hit[0] * VOXEL_UM), float((hit[-1] + 1) * VOXEL_UM)))
    return tuple(out)
