"""Deterministic tissue textures: periodic fields of cell bodies, with mipmaps.

A texture is a 1024 × 1024 periodic image (1 µm texels) of blurred random points —
cell bodies of a chosen size and density — made with an FFT convolution, so that it
tiles seamlessly. Mip level ``L`` averages 2^L × 2^L texels, so a tier whose pixels are
2^L µm wide samples the box average of what the finer tiers show and zooming in
napari reveals cells instead of changing the picture.
"""

from __future__ import annotations

import threading
from functools import cache

import numpy as np

__all__ = ["TEXTURE_SIZE", "Texture", "cell_texture", "fiber_texture"]

TEXTURE_SIZE = 1024
_lock = threading.Lock()


class Texture:
    """A periodic texture with mip levels, sampled on separable grids."""

    def __init__(self, base: np.ndarray):
        levels = [np.ascontiguousarray(base, dtype=np.float32)]
        while levels[-1].shape[0] > 4:
            a = levels[-1]
            levels.append(
                0.25 * (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2])
            )
        self.levels = levels

    def sample(self, u: np.ndarray, v: np.ndarray, texel_um: float) -> np.ndarray:
        """Values at the grid ``v[:, None] × u[None, :]`` (µm, 1-D each), from the mip
        level whose texels are closest to ``texel_um`` (the pixel size)."""
        # Coarser than the pixel: some smoothing, as a scanner's optics and downsampling.
        level = int(np.clip(np.floor(np.log2(max(texel_um, 1e-6)) + 1.0), 0, len(self.levels) - 1))
        tex = self.levels[level]
        n = tex.shape[0]
        scale = 1.0 / (2**level)
        iu = np.floor(u * scale).astype(np.int64) % n
        iv = np.floor(v * scale).astype(np.int64) % n
        return tex[iv[:, None], iu[None, :]]


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


@cache
def cell_texture(kind: str) -> Texture:
    """Cell bodies: ``"large"`` (neurons, ~12 µm), ``"small"`` (glia, granule cells,
    ~6 µm) or ``"grain"`` (ISH precipitate: dense, ~4 µm, irregular)."""
    params = {
        "large": (11, 5200, 3.0),
        "small": (12, 14000, 1.7),
        "grain": (13, 40000, 1.1),
    }
    seed, count, sigma = params[kind]
    with _lock:
        return Texture(_blobs(seed, count, sigma))


@cache
def fiber_texture() -> Texture:
    """Fine axon-like streaks for fluorescent projections (elongated blobs)."""
    with _lock:
        return Texture(_blobs(14, 40000, 1.0, anisotropy=0.08))
