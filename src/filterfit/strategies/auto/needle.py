"""Phase 4: close in on an exact render along each continuous parameter (the narrow V of the quantised error).

Least squares stops within a hair of the answer, but a quantised render equals
the target only closer still. There the squared error grows like the distance
from the answer (it counts the pixels that round the other way: a V, not a
parabola), so a V through three points predicts where it reaches zero.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from .evaluations import exact_squares
from .state import SMALLEST_STEP

if TYPE_CHECKING:
    from ...problem import Evaluation
    from .state import Batch, SearchState

__all__ = ["needle"]

NEEDLE_ROUNDS = 2  # passes over the continuous parameters in the search for an exact render
NEEDLE_ITERATIONS = 6
NEEDLE_SHRINK = 8


def needle(
    state: SearchState, x: np.ndarray, base: Evaluation, choices: dict[str, Any]
) -> Generator[Batch, list[Evaluation], tuple[np.ndarray, Evaluation]]:
    """Search each continuous parameter in turn, twice over, for where the V of its squared error reaches zero."""
    for _ in range(NEEDLE_ROUNDS):
        for index in range(len(state.numeric)):
            if base.loss == 0 or state.numeric[index].name in state.stepped:
                continue
            x, base = yield from _needle_axis(state, x, base, index, choices)
    return x, base


def _needle_axis(
    state: SearchState, x: np.ndarray, base: Evaluation, index: int, choices: dict[str, Any]
) -> Generator[Batch, list[Evaluation], tuple[np.ndarray, Evaluation]]:
    width = max(SMALLEST_STEP, min(state.steps[index], 10 * SMALLEST_STEP))
    for _ in range(NEEDLE_ITERATIONS):
        if base.loss == 0:
            break
        points = [state.probe(x, index, sign * width) for sign in (1, -1)]
        ahead, behind = yield [state.compose(p, choices) for p in points]
        squares = [exact_squares(r) for r in (ahead, behind)]
        here = exact_squares(base)
        if min(squares) < here:  # still downhill: move and look further
            k = int(np.argmin(squares))
            x, base, width = points[k], (ahead, behind)[k], width * 2
            continue
        slope = (max(squares) - here) / width
        if slope <= 0:
            break
        shift = (squares[1] - squares[0]) / (2 * slope)  # where the V through the three points reaches its floor
        point = state.probe(x, index, shift)
        if abs(shift) > width / NEEDLE_SHRINK and not np.array_equal(point, x):
            result = (yield [state.compose(point, choices)])[0]
            if exact_squares(result) < here:
                x, base = point, result
        # The answer is within the width; the V may have a floor narrower than it: look closer.
        width /= NEEDLE_SHRINK
    return x, base
