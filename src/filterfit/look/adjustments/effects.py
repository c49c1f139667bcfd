"""Effects: vignette and grain (by the pixel's place in the frame), blur and sharpen (by its neighbours)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

from .planes import clip, on_planes

__all__ = ["GRAIN_SD", "SHARPEN_SIGMA", "TRUNCATE", "blur", "grain", "grain_noise", "radius_map", "sharpen", "vignette"]

GRAIN_SD = 0.1
SHARPEN_SIGMA = 1.0
TRUNCATE = 4.0  # Gaussian kernels to 4 sigma: the cut tail (3e-4) cannot make a render jump


@lru_cache(maxsize=8)
def radius_map(height: int, width: int, stride: int = 1) -> np.ndarray:
    """Distance from the centre, 0 there and 1 in the corners, of every ``stride``-th pixel of a full image."""
    y = (np.arange(0, height, stride, dtype=np.float32) + 0.5) / height * 2 - 1
    x = (np.arange(0, width, stride, dtype=np.float32) + 0.5) / width * 2 - 1
    radius = np.sqrt((y[:, np.newaxis] ** 2 + x[np.newaxis, :] ** 2) / 2)
    radius.flags.writeable = False  # shared by every render from the cache
    return radius


@on_planes
def vignette(
    pixels: np.ndarray, amount: float, size: float, softness: float, *, radius: np.ndarray | None = None
) -> np.ndarray:
    """Darken (``amount`` < 0) or lighten the edges; half the effect at radius ``size``."""
    if radius is None:
        radius = radius_map(*pixels.shape[1:])
    ramp = np.clip((radius - float(size)) / float(softness) + 0.5, 0, 1)
    mask = ramp * ramp * (3 - 2 * ramp)  # smoothstep: smooth in size and softness
    mask *= float(amount)
    mask += 1
    pixels *= mask
    return clip(pixels)


@lru_cache(maxsize=8)
def grain_noise(seed: int, height: int, width: int, stride: int = 1) -> np.ndarray:
    """A fixed standard-normal noise field (H x W) for a full image, or every ``stride``-th pixel of it."""
    noise = np.random.default_rng(seed).standard_normal((height, width), dtype=np.float32)
    noise = np.ascontiguousarray(noise[::stride, ::stride])
    noise.flags.writeable = False
    return noise


@on_planes
def grain(pixels: np.ndarray, amount: float, *, seed: int = 0, noise: np.ndarray | None = None) -> np.ndarray:
    """Add monochrome film grain; the same seed gives the same grain."""
    if noise is None:
        noise = grain_noise(seed, *pixels.shape[1:])
    pixels += noise * float(GRAIN_SD * amount)
    return clip(pixels)


def _gaussian(planes: np.ndarray, sigma: float) -> np.ndarray:
    return ndimage.gaussian_filter(planes, sigma=(0, sigma, sigma), truncate=TRUNCATE, mode="reflect")


@on_planes
def blur(pixels: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``sigma`` pixels (0 leaves the image as it is)."""
    if sigma <= 0:
        return pixels.copy()
    return clip(_gaussian(pixels, sigma))


@on_planes
def sharpen(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Unsharp mask: add ``amount`` times the detail a 1-pixel Gaussian blur removes."""
    return clip(pixels + (pixels - _gaussian(pixels, SHARPEN_SIGMA)) * float(amount))
