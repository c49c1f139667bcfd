"""The image pairs a fit compares: each loaded once, and checked to be of matching sizes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import ImageError, MetricError
from .images import MAX_PIXELS, Image, load_image, to_float
from .look.distribution import fit_to
from .problem import check_pair

__all__ = ["ImageLike", "as_image", "check_same_size", "load_pairs"]

ImageLike = str | Path | Image | np.ndarray


def check_same_size(images: list[tuple[Image, Image]]) -> None:
    """One mask is shared by every pair, so a mask or border needs pairs of one size."""
    first = images[0][1]
    for number, (_, target) in enumerate(images[1:], start=2):
        if target.size_text != first.size_text:
            raise MetricError(
                f"a mask or border needs every pair to be the same size, but pair 1 is {first.size_text} "
                f"and pair {number} is {target.size_text}: give pairs of one size, or no mask and no border"
            )


def load_pairs(
    pairs: Sequence[tuple[ImageLike | None, ImageLike | None]],
    *,
    references: bool = False,
    max_pixels: int | None = MAX_PIXELS,
) -> list[tuple[Image, Image]]:
    """Load each (source, target) and check that their sizes match (references are resampled to match)."""
    if not pairs:
        raise ImageError("give a source and a target image")
    loaded = []
    for source, target in pairs:
        if source is None or target is None:
            raise ImageError("give both a source and a target image")
        pair = (as_image(source, max_pixels), as_image(target, max_pixels))
        if references:
            pair = (pair[0], fit_to(pair[1], pair[0]))
        check_pair(*pair)
        loaded.append(pair)
    return loaded


def as_image(image: ImageLike, max_pixels: int | None = MAX_PIXELS) -> Image:
    """An Image as it is; an array as 8- or 16-bit pixels; a path decoded (refused above ``max_pixels``)."""
    if isinstance(image, Image):
        return image
    if isinstance(image, np.ndarray):
        depth = 16 if image.dtype == np.uint16 else 8
        return Image(to_float(image), bit_depth=depth, format="png")
    return load_image(image, max_pixels=max_pixels)
