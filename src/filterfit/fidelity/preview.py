"""The preview: a per-pixel filter's search on every ``k``-th pixel, its best candidates confirmed whole.

A filter whose every output pixel depends only on the same input pixel and
the image's size (``filter.per_pixel``: a look of colour, vignette and grain;
vignette and grain take their radius and noise from the full image's
geometry) renders every ``k``-th pixel of an image exactly as the full render
would. So a fit can search on the preview pairs (``k``\\ :sup:`2` times fewer
pixels), whatever its strategy, and then evaluate its best few candidates at
full resolution, where the best one is the answer. A look with blur or
sharpen depends on neighbours: it is not per-pixel, and is fitted at full
resolution throughout.

The preview's trials record ``fidelity`` ``"preview 1/k"``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..images import Image
from ..problem import Problem
from . import Fidelity

if TYPE_CHECKING:
    from ..result import TrialRecord

__all__ = ["CONFIRMATIONS", "PREVIEW_PIXELS", "Preview", "PreviewImage", "confirm_candidates", "plan_preview"]

# A preview keeps about this many pixels per image (~256 x 256, at least 29,000): plenty of samples
# for a dozen parameters, while each evaluation costs a quarter of a 512 x 512 one.
PREVIEW_PIXELS = 65_536
CONFIRMATIONS = 4  # preview candidates evaluated at full resolution


@dataclass(frozen=True, eq=False)
class PreviewImage(Image):
    """Every ``stride``-th pixel of an image whose full size is ``full_height`` x ``full_width``."""

    stride: int = 1
    full_height: int = 0
    full_width: int = 0


@dataclass(frozen=True)
class Preview(Fidelity):
    """The problem on every ``stride``-th pixel, and how many of its best candidates are confirmed whole."""

    problem: Problem
    stride: int
    confirmations: int = CONFIRMATIONS
    hand_over = "confirm"  # the whole search runs on the preview; its best few are evaluated on the whole photo

    @property
    def label(self) -> str:  # type: ignore[override]
        return f"preview 1/{self.stride}"

    def budget(self, total: int) -> int:
        """What the preview search may spend: all but the confirmations."""
        return total - self.confirmations


def plan_preview(whole: Problem, budget: int) -> Preview | None:
    """A preview of a per-pixel filter's problem, or None when its images are too small or the budget too."""
    confirmations = min(CONFIRMATIONS, budget // 2)
    stride = preview_stride([image for pair in whole.pairs for image in pair])
    if stride == 1 or not confirmations:
        return None
    pairs = [(_preview(source, stride), _preview(target, stride)) for source, target in whole.pairs]
    mask = None if whole.mask is None else whole.mask[::stride, ::stride]
    return Preview(Problem(whole.filter, whole.space, pairs, whole.metric, mask=mask), stride, confirmations)


def preview_stride(images: Sequence[Image]) -> int:
    """How far apart preview pixels are (1: no preview) for these images."""
    smallest = min(image.height * image.width for image in images)
    return max(1, round(math.sqrt(smallest / PREVIEW_PIXELS)))


def _preview(image: Image, stride: int) -> PreviewImage:
    return PreviewImage(
        image.pixels[::stride, ::stride].copy(),
        bit_depth=image.bit_depth,
        format=image.format,
        path=image.path,
        stride=stride,
        full_height=image.height,
        full_width=image.width,
    )


def confirm_candidates(
    history: Sequence[TrialRecord], direction: str, count: int = CONFIRMATIONS
) -> list[dict[str, Any]]:
    """The parameters of the best ``count`` distinct preview evaluations, best first."""
    sign = 1 if direction == "minimize" else -1
    done = sorted((r for r in history if r.error is not None), key=lambda r: sign * r.error)  # type: ignore[operator]
    chosen: list[dict[str, Any]] = []
    for record in done:
        if record.params not in chosen:
            chosen.append(dict(record.params))
        if len(chosen) == count:
            break
    return chosen
