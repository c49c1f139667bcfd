"""The planar form every adjustment works on (3 x H x W float32), and the helpers they share."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["LUMA", "clip", "combine", "from_planes", "luma", "matrix", "on_planes", "to_planes"]

# Rec. 709 luma weights: what "brightness" means to the tone adjustments.
LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)

# Speed (a look is rendered hundreds of times per fit): the functions work on planes, 3 x H x W,
# where a per-pixel weight (H x W) broadcasts over contiguous rows (over a last axis of 3 it is
# ~7x slower), and in place where they can: each new 3 MB array costs page faults. The public
# functions take H x W x 3 pixels and work on a copy; a Look converts once per render and calls
# the ``planes`` form on planes it owns. Scalars are Python floats (float32 arrays stay float32,
# NEP 50): numpy 2's np.float32 scalars take a slower path in arithmetic with arrays.


def on_planes(function: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """The H x W x 3 form of a function written on 3 x H x W planes; ``.planes`` is the planar one."""

    @functools.wraps(function)
    def on_pixels(pixels: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        return from_planes(function(to_planes(pixels), *args, **kwargs))

    on_pixels.planes = function  # type: ignore[attr-defined]
    return on_pixels


def to_planes(pixels: np.ndarray) -> np.ndarray:
    """H x W x 3 pixels as 3 x H x W float32 planes (always a copy: the planar forms write into it)."""
    return np.array(np.moveaxis(pixels, 2, 0), dtype=np.float32, order="C", copy=True)


def from_planes(planes: np.ndarray) -> np.ndarray:
    """3 x H x W planes back to H x W x 3 pixels."""
    return np.ascontiguousarray(np.moveaxis(planes, 0, 2))


def clip(planes: np.ndarray) -> np.ndarray:
    return np.clip(planes, 0, 1, out=planes)


# Sums of scaled planes rather than matrix products: BLAS threads make a 3 x 3 product's time
# erratic on a busy machine, and workers already run one per core.
def combine(planes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    red, green, blue = planes
    output = red * float(weights[0])
    output += green * float(weights[1])
    output += blue * float(weights[2])
    return output


def luma(planes: np.ndarray) -> np.ndarray:
    return combine(planes, LUMA)


def matrix(planes: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return np.stack([combine(planes, row) for row in matrix])
