"""Deterministic tissue textures: periodic fields of cell bodies, with mipmaps.

A texture is a 1024 × 1024 periodic image (1 µm texels) of blurred random points —
cell bodies of a chosen size and density — made with an FFT convolution, so that it
tiles seamlessly. The stain's non-linearity (a cell saturating to full darkness) is
baked into the base level, so the renderer is *linear* in the texture and mip level
``L`` — the average of 2^L × 2^L texels — is exactly the area average of what the
finer tiers show. Sampling is bilinear on the chosen mip level (:meth:`Texture.sample`),
so coarse tiers are a smooth low-pass of the fine ones, never point-sampled noise;
individual cells resolve only once pixels are a few µm wide.
"""

from __future__ import annotations

import threading
from functools import cache

import numpy as np

__all__ = ["TEXTURE_SIZE", "Texture", "cell_texture", "fiber_texture", "lod_um"]

TEXTURE_SIZE = 1024
_lock = threading.Lock()

#: Pixels at least this wide (µm) see cells only as a smooth low-pass: their texture
#: is read from a mip level :data:`LOWPASS_FACTOR` times coarser than the pixel, with
#: its remaining deviation from the mean scaled by :data:`LOWPASS_CONTRAST`.
LOWPASS_FROM_UM = 6.0
LOWPASS_FACTOR = 4.0
LOWPASS_CONTRAST = 0.25


def lod_um(pixel_um: float) -> float:
    """Texel size (µm) at which a tier whose pixels are ``pixel_um`` wide reads cell
    textures: the pixel itself when cells can be resolved, a wider footprint (a
    low-pass, as a scanner's optics and a viewer's downsampling give) otherwise."""
    return pixel_um if pixel_um < LOWPASS_FROM_UM else pixel_um * LOWPASS_FACTOR


class Texture:
    """A periodic texture with mip levels, sampled bilinearly on separable grids."""

    def __init__(self, base: np.ndarray):
        levels = [np.ascontiguousarray(base, dtype=np.float32)]
        while levels[-1].shape[0] > 4:
            a = levels[-1]
            levels.append(
                0.25 * (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2])
            )
        self.levels = levels
        self.mean = float(levels[-1].mean())

    def sample(self, u: np.ndarray, v: np.ndarray, texel_um: float) -> np.ndarray:
        """Values at the grid ``v[:, None] × u[None, :]`` (µm, 1-D each), bilinear on
        the mip level whose texels are closest to ``texel_um`` (a footprint, see
        :func:`lod_um`)."""
        level = int(np.clip(np.rint(np.log2(max(texel_um, 1e-6))), 0, len(self.levels) - 1))
        tex = self.levels[level]
        n = tex.shape[0]
        scale = 1.0 / (2**level)
        su = np.asarray(u, np.float64) * scale - 0.5
        sv = np.asarray(v, np.float64) * scale - 0.5
        fu0 = np.floor(su)
        fv0 = np.floor(sv)
        fu = (su - fu0).astype(np.float32)
        fv = (sv - fv0).astype(np.float32)
        iu0 = fu0.astype(np.int64) % n
        iv0 = fv0.astype(np.int64) % n
        iu1 = (iu0 + 1) % n
        iv1 = (iv0 + 1) % n
        rows = tex.take(iv0, axis=0) * (1 - fv)[:, None] + tex.take(iv1, axis=0) * fv[:, None]
        out = rows.take(iu0, axis=1) * (1 - fu)[None, :] + rows.take(iu1, axis=1) * fu[None, :]
        if texel_um >= LOWPASS_FROM_UM * LOWPASS_FACTOR:
            # A footprint this wide holds dozens of cells: what is left is a gentle
            # mottle around the mean, not per-pixel noise.
            mean = np.float32(self.mean)
            out = mean + (out - mean) * np.float32(LOWPASS_CONTRAST)
        return out


def _blobs(seed: int, count: int, sigma: float, anisotropy: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = TEXTURE_SIZE
    impulses = np.zeros((n, n), np.float64)
    iy = (rng.random(count) * n).astype(np.int64)
    ix = (rng.random(count) * n).astype(np.int64)
    np.add.at(impulses, (iy, ix), 0.6 + 0.8 * rng.random(count))
    f = np.fft.fftfreq(n)
    fy, fx = np.meshgrid(f, f, indexing="ij")
    kernel = np.exp(-2 * (np.pi * sigma) ** 2 * (fx**2 + (fy * anisotropy) ** 2))
    out = np.fft.irfft2(np.fft.rfft2(impulses) * kernel[:, : n // 2 + 1], s=(n, n))
    out /= np.percentile(out, 99.7)
    return np.clip(out, 0, 1)


def _cells(seed: int, count: int, sigma: float, gain: float) -> np.ndarray:
    """Cell bodies as flat-topped, softly edged discs (a saturating stain)."""
    return 1.0 - np.exp(-gain * _blobs(seed, count, sigma))


@cache
def cell_texture(kind: str) -> Texture:
    """Stain amount in [0, 1], linear for the renderer:

    - ``"large"``: neurons, ~12 µm; ``"small"``: glia and granule cells, ~6 µm;
    - ``"grain"``: fine granularity of the neuropil;
    - ``"ish"``: the in-situ precipitate: dark, grainy cell bodies of both sizes;
    - ``"bundles"``: fibre bundles of the striatum, ~40 µm pale pencils in section.
    """
    with _lock:
        if kind == "large":
            base = _cells(11, 5200, 2.6, 4.0)
        elif kind == "small":
            base = _cells(12, 14000, 1.4, 3.5)
        elif kind == "grain":
            base = _blobs(13, 40000, 1.1)
        elif kind == "ish":
            large = _blobs(15, 3800, 2.8)
            small = _blobs(16, 5500, 1.5)
            grain = _blobs(17, 60000, 0.8)
            raw = 1.0 - np.exp(-(7.0 * large + 3.5 * small) * (0.45 + 0.9 * grain))
            # Saturated here, not in the renderer, so that mip levels stay true averages.
            base = np.clip(4.0 * raw, 0, 1)
        elif kind == "bundles":
            b = _blobs(18, 26, 20.0)
            base = np.clip((b - 0.12) / 0.6, 0, 1)
        else:
            raise ValueError(f"unknown texture {kind!r}")
        return Texture(base)


@cache
def fiber_texture() -> Texture:
    """Fine axon-like streaks for fluorescent projections (elongated blobs)."""
    with _lock:
        return Texture(_blobs(14, 40000, 1.0, anisotropy=0.08))
