"""Multi-fidelity for looks: search on a strided preview, confirm at full resolution.

A look made only of per-pixel adjustments (colour, vignette, grain) renders
every ``k``-th pixel of an image exactly as the full render would: vignette
and grain take their radius and noise from the full image's geometry. So a
fit can search on the preview pairs (``k``\\ :sup:`2` times fewer pixels),
whatever its strategy, and then evaluate its best few candidates at full
resolution, where the best one is the answer. Looks with blur or sharpen
depend on neighbours and are fitted at full resolution throughout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..images import Image
from ..problem import Problem
from .adjustments import ADJUSTMENTS
from .look import Look

if TYPE_CHECKING:
    from ..result import TrialRecord

__all__ = ["CONFIRMATIONS", "PREVIEW_PIXELS", "PreviewImage", "confirm_candidates", "preview_problem", "preview_stride"]

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


def preview_stride(look: Look, images: Sequence[Image]) -> int:
    """How far apart preview pixels are (1: no preview) for this look and these images."""
    if not look.preview or any(ADJUSTMENTS[name].kind == "neighbourhood" for name in look.adjustments):
        return 1
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


def preview_problem(problem: Problem) -> Problem | None:
    """The same problem on strided previews of its images, or None when a preview does not apply."""
    if not isinstance(problem.filter, Look):
        return None
    stride = preview_stride(problem.filter, [image for pair in problem.pairs for image in pair])
    if stride == 1:
        return None
    pairs = [(_preview(source, stride), _preview(target, stride)) for source, target in problem.pairs]
    mask = None if problem.mask is None else problem.mask[::stride, ::stride]
    return Problem(problem.filter, problem.space, pairs, problem.metric, mask=mask)


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
