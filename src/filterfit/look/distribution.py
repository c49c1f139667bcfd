"""A metric for photos of different scenes: colour distributions and the brightness profile.

When the reference photo shows another scene, pixels cannot be compared one to
one. What a look changes shows in two things that do not depend on the scene's
layout: the distribution of colours (compared with the sliced Wasserstein
distance in CIELAB: sort the colours projected on fixed directions and compare
the sorted values) and how brightness falls off from the centre to the corners
(a vignette), compared as the mean L* in rings of normalised radius.

The value is in L*a*b* units: the root of the squared sliced Wasserstein
distance plus the mean squared difference of the radial profiles. Its
residuals, the differences of sorted projections and of ring means, make it a
least-squares problem like the pixel metrics.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from ..images import Image

__all__ = ["distance", "distance_residuals", "fit_to", "radial_profile"]

MAX_PIXELS = 16_384  # pixels sampled per image: sorting stays cheap, quantiles stay precise
PROJECTIONS = 12
QUANTILES = 512  # order statistics kept per projection
RINGS = 8
PROFILE_WEIGHT = 2.0  # a vignette moves few pixels' colours but the whole profile: weigh the profile up


@lru_cache(maxsize=1)
def _directions() -> np.ndarray:
    """Fixed unit directions in L*a*b*: the three axes and random ones (seeded, so runs repeat)."""
    random = np.random.default_rng(0).standard_normal((PROJECTIONS - 3, 3))
    directions = np.concatenate([np.eye(3), random / np.linalg.norm(random, axis=1, keepdims=True)])
    return directions.astype(np.float32)


def _stride(shape: tuple[int, ...]) -> int:
    return max(1, int(np.ceil(np.sqrt(shape[0] * shape[1] / MAX_PIXELS))))


def _lab(pixels: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    colour = pixels[:, :, :3] if pixels.shape[2] >= 3 else np.repeat(pixels[:, :, :1], 3, axis=2)
    return np.asarray(rgb2lab(colour), dtype=np.float32)


def radial_profile(lightness: np.ndarray, mask: np.ndarray | None = None, *, rings: int = RINGS) -> np.ndarray:
    """Mean of ``lightness`` (H x W) in ``rings`` rings of normalised radius (0 centre, 1 corners)."""
    from .adjustments.effects import radius_map  # the vignette's own: one definition of "normalised radius"

    ring = np.minimum((radius_map(*lightness.shape) * rings).astype(int), rings - 1)
    weights = np.ones_like(lightness) if mask is None else mask.astype(np.float32)
    totals = np.bincount(ring.ravel(), weights=(lightness * weights).ravel(), minlength=rings)
    counts = np.bincount(ring.ravel(), weights=weights.ravel(), minlength=rings)
    return (totals / np.maximum(counts, 1)).astype(np.float32)


def _summary(pixels: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Sorted projections (PROJECTIONS x QUANTILES) and the radial profile of one image."""
    step = _stride(pixels.shape)
    lab = _lab(np.ascontiguousarray(pixels[::step, ::step], dtype=np.float32))
    small = None if mask is None else mask[::step, ::step]
    colours = lab.reshape(-1, 3) if small is None else lab[small]
    projected = np.sort(_directions() @ colours.T, axis=1)  # rows: contiguous sorts are faster
    picks = np.linspace(0, projected.shape[1] - 1, QUANTILES).round().astype(int)
    return projected[:, picks], radial_profile(lab[:, :, 0], small)


_reference_cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}


def _reference_summary(pixels: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The reference's summary, computed once per fit (every evaluation compares against the same one)."""
    step = _stride(pixels.shape)
    digest = hashlib.blake2b(np.ascontiguousarray(pixels[::step, ::step]).data, digest_size=16)
    digest.update(b"" if mask is None else np.packbits(mask).tobytes())
    key = digest.digest() + repr(pixels.shape).encode()
    if key not in _reference_cache:
        _reference_cache.clear()  # one reference at a time is what a fit needs
        _reference_cache[key] = _summary(pixels, mask)
    return _reference_cache[key]


def distance_residuals(reference: np.ndarray, candidate: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Differences of sorted projections and of ring means, scaled so their sum of squares is the squared distance."""
    mask = None if mask is None else np.asarray(mask, dtype=bool)
    reference_sorted, reference_profile = _reference_summary(np.asarray(reference, dtype=np.float32), mask)
    candidate_sorted, candidate_profile = _summary(np.asarray(candidate, dtype=np.float32), mask)
    colour = (candidate_sorted - reference_sorted).ravel() / np.sqrt(reference_sorted.size / 3)
    profile = (candidate_profile - reference_profile) * (PROFILE_WEIGHT / np.sqrt(RINGS))
    return np.concatenate([colour, profile]).astype(np.float32)


def distance(reference: np.ndarray, candidate: np.ndarray, *, mask: np.ndarray | None = None) -> float:
    """How far apart two photos' looks are, in L*a*b* units, whatever scenes they show.

    The sliced Wasserstein distance of their L*a*b* colours (mean over
    directions, times 3 so that it reads like a Euclidean colour distance)
    and the difference of their radial L* profiles (weighted by
    ``PROFILE_WEIGHT``), combined as the root of the sum of squares.

    Examples
    --------
    >>> import numpy as np
    >>> grey = np.full((8, 8, 3), 0.5, dtype=np.float32)
    >>> distance(grey, grey)
    0.0
    """
    residuals = distance_residuals(reference, candidate, mask).astype(np.float64)
    return float(np.sqrt(np.sum(residuals * residuals)))


def fit_to(reference: Image, source: Image) -> Image:
    """The reference resampled to the source's size, so that it can stand in for a target."""
    if (reference.height, reference.width) == (source.height, source.width):
        return reference
    from skimage.transform import resize

    pixels = resize(reference.pixels, (source.height, source.width), order=1, anti_aliasing=True)
    return Image(np.clip(pixels, 0, 1).astype(np.float32), reference.bit_depth, reference.format, reference.path)
