"""The crop: a spatial filter's search on a centre crop of a large photo first, finished on the whole photo.

One evaluation of a 4-megapixel photo costs about 16 times one of a 512x512
photo, yet a filter's parameters show just as clearly in a quarter of a
megapixel. So a fit of a large photo first searches a centre crop: the
filter renders the crop plus a margin, and only the inside of the margin is
compared, so a neighbourhood filter (a blur, a sharpen) sees the same pixels
around every compared pixel as it does in the whole photo. The crop's best
parameters are then evaluated on the whole photo; the search goes on there
from them, with what the strategy learnt about the parameters (e.g. steps),
and the full-resolution evaluations alone decide the answer.

``auto`` on a photo too small for that crop still scans a smaller one
(:data:`SCAN_SIDE` compared, 320x320 rendered: two fifths of a 512x512 photo):
its global scans only rank far-apart candidates, which a 192x192 centre does
as well as the whole, and they are where a search's dearest renders are (a
blur at the far end of its range, radius 100, costs 3 times one at the
answer's 27). Least squares, the step-by-step polish and the answer are all at
full resolution, from the point where the crop's search would have started
least squares.

Filters whose result depends on the position in the frame (a vignette, a
gradient) or whose reach exceeds the margin give a crop answer that the
whole photo does not confirm; the full-resolution phase then searches on with
the rest of the budget. Pass ``crop=False`` (``--no-crop``) for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..errors import FilterFitError
from ..images import Image
from ..metrics import make_mask
from ..problem import Problem
from . import Fidelity

__all__ = ["CROP_ABOVE", "Crop", "plan_crop"]

CROP_ABOVE = 1_500_000  # pixels of a photo from which a crop phase pays for itself
CROP_SIDE = 512  # compared pixels per side of the crop
CROP_MARGIN = 128  # rendered but not compared on each side: room for a neighbourhood filter's reach
CROP_SHARE = 0.75  # of the budget, the most the crop phase may spend
SCAN_SIDE = 192  # compared pixels per side of the crop that auto scans on smaller photos
SCAN_MARGIN = 64


@dataclass(frozen=True)
class Crop(Fidelity):
    """The problem on a centre crop (its margin not compared), and where the crop is in the photo."""

    problem: Problem
    border: int
    geometry: str  # ImageMagick's WxH+X+Y of the rendered crop in the photo
    scan_only: bool = False  # only auto's global scans run on it; least squares starts on the whole photo
    hand_over = "continue"  # a strategy of its own searches the crop; the whole photo's search goes on from it

    @property
    def label(self) -> str:  # type: ignore[override]
        return f"crop {self.geometry}"

    def budget(self, total: int) -> int:
        """Evaluations the crop phase may spend out of ``total``."""
        return max(1, int(total * CROP_SHARE))


def plan_crop(whole: Problem, *, enabled: bool | None, scans: bool = False) -> Crop | None:
    """A crop phase for this problem, or None when it would not pay (or is switched off).

    ``enabled`` None decides by size: one pair of at least :data:`CROP_ABOVE`
    pixels, no mask; below that, a scan-only crop when ``scans`` (the
    strategy is ``auto``) and the photo holds one. True asks for a crop of any
    pair big enough to hold one.
    """
    if enabled is False:
        return None
    pairs, masked = whole.pairs, whole.mask is not None
    problem = _why_not(pairs, masked=masked, by_size=enabled is None)
    if problem is None:
        return _centre(whole, CROP_SIDE, CROP_MARGIN, scan_only=False)
    if enabled:
        raise FilterFitError(f"cannot search on a crop: {problem}; leave out --crop")
    if scans and _why_not(pairs, masked=masked, by_size=False, side=SCAN_SIDE + 2 * SCAN_MARGIN) is None:
        return _centre(whole, SCAN_SIDE, SCAN_MARGIN, scan_only=True)
    return None


def _why_not(
    pairs: Sequence[tuple[Image, Image]], *, masked: bool, by_size: bool, side: int = CROP_SIDE + 2 * CROP_MARGIN
) -> str | None:
    if len(pairs) != 1:
        return "it works on one image pair, not several"
    if masked:
        return "a mask or border already chooses the pixels to compare"
    source = pairs[0][0]
    if source.width < side or source.height < side:
        return f"the photo is {source.size_text}, smaller than the {side}x{side} crop"
    if by_size and source.width * source.height < CROP_ABOVE:
        return "the photo is small enough to search whole"
    return None


def _centre(whole: Problem, inner: int, margin: int, *, scan_only: bool) -> Crop:
    """The centre ``inner`` x ``inner`` pixels of the problem's pair, with ``margin`` more on each side to render.

    The filter stays as it was prepared for the whole photo: the crop has its
    channels, depth and format, which are all that preparing looks at.
    """
    source, target = whole.pairs[0]
    side = inner + 2 * margin
    top, left = (source.height - side) // 2, (source.width - side) // 2
    window = np.s_[top : top + side, left : left + side]
    pairs = [(_cut(source, window), _cut(target, window))]
    mask = make_mask((side, side), border=margin)
    problem = Problem(whole.filter, whole.space, pairs, whole.metric, mask=mask)
    return Crop(problem, margin, f"{side}x{side}+{left}+{top}", scan_only)


def _cut(image: Image, window: tuple[slice, slice]) -> Image:
    # path=None: a program that reads files gets the crop written for it, not the whole photo
    return replace(image, pixels=np.ascontiguousarray(image.pixels[window]), path=None)
