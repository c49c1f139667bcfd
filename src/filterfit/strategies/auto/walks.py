"""Phase 3: the step-wise polish of stepped parameters, walking from step to step with the others re-fitted.

A ridge of per-step optima (the blur's radius steps, each with its best sigma)
cannot trap the search: each stepped parameter is walked both ways, a lone
continuous parameter re-fitted on each step by a parabola of its squared error
(least squares for more), and the best step finished by least squares. Step
widths and edges that are round numbers within the precision measured are
taken as exact (steps.py).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from .evaluations import exact_squares, loss, one_level
from .least_squares import levenberg_marquardt
from .state import FIRST_STEP
from .steps import bisect_step

if TYPE_CHECKING:
    from ...problem import Evaluation
    from .state import Batch, SearchState

__all__ = ["polish_steps"]

MAX_STRIDE = 8  # steps a walk may jump at once
FEW_LEVELS = 16  # a stepped parameter with at most this many steps is walked end to end
WALK_ITERATIONS = 3  # least-squares iterations per step of a walk: enough to rank steps
PARABOLA_ROUNDS = 3  # parabolas per fit of one parameter on a walk's step, while the vertex is outside
PARABOLA_SPREAD = 0.25  # a parabola's half-width, as a share of how far the trend moved its parameter

_log = logging.getLogger("filterfit.auto")

Fitted = Generator["Batch", list["Evaluation"], tuple[np.ndarray, "Evaluation"]]


def polish_steps(state: SearchState, x: np.ndarray, base: Evaluation, choices: dict[str, Any]) -> Fitted:
    """Walk the steps of each stepped parameter both ways (see ``_walk``)."""
    if base.loss != 0:  # walks go from step centre to step centre
        for bracket in list(state.brackets.values()):
            yield from bisect_step(state, bracket)
    for name, step in list(state.stepped.items()):
        index = [p.name for p in state.numeric].index(name)
        others = np.ones(len(state.numeric), dtype=bool)
        others[index] = False
        if base.loss != 0 and others.any():  # first the others on this step, as roughly as the walks fit theirs
            x, base = yield from _rough_fit(state, x, base, choices, others)
        downhill = -1 if state.slope[index] > 0 else 1
        for direction in (downhill, -downhill):
            x, base = yield from _walk(state, x, base, index, direction * step, choices, others)
        if others.any():  # the walks fit roughly; finish on the best step
            x, base = yield from levenberg_marquardt(state, x, base, choices, others)
    return x, base


def _walk(
    state: SearchState,
    x: np.ndarray,
    base: Evaluation,
    index: int,
    step: float,
    choices: dict[str, Any],
    others: np.ndarray,
) -> Fitted:
    """Walk one stepped parameter in one direction, re-fitting the others on each step.

    The stride doubles while the walk improves, and the others start
    where their trend so far predicts (the ridge of per-step optima is
    smooth). Per-step optima need not be monotonic (ImageMagick's even
    kernel widths are all worse than their odd neighbours), so at stride 1
    the walk goes on past one worse step and stops after two in a row.
    """
    name = state.numeric[index].name
    levels = round(1 / abs(step))
    patience = levels if levels <= FEW_LEVELS else 2  # few levels: try them all, needles included
    here, here_hash, misses, stride = x, base.output_hash, 0, 1
    trend = np.zeros_like(x)
    while base.loss != 0 and misses < patience:
        start = np.clip(here + trend * stride, 0, 1)
        start[index] = state.centred(index, here[index], step)
        found = yield from _next_step(state, start, here_hash, index, step * stride, choices)
        if found is None:
            break
        fitted_x, fitted = found
        if others.any():
            guesses = np.abs(start - here) * PARABOLA_SPREAD  # a far guess is a rough one
            fitted_x, fitted = yield from _rough_fit(state, fitted_x, fitted, choices, others, guesses)
            if fitted.loss and one_level(fitted, everywhere=True):  # most likely the right step: finish it first
                fitted_x, fitted = yield from levenberg_marquardt(state, fitted_x, fitted, choices, others)
        _log.debug("after %d evaluations: step %s -> %s loss %.6g", len(state.cache), name, fitted.params, fitted.loss)
        if loss(fitted) < loss(base):
            trend = np.where(others, (fitted_x - x) / stride, 0.0)
            x, base, misses, stride = fitted_x, fitted, 0, min(stride * 2, MAX_STRIDE)
            here, here_hash = x, base.output_hash
        elif stride > 1:
            here, here_hash, stride = x, base.output_hash, 1  # overshot: back to single steps from the best
        else:
            here, here_hash, misses = fitted_x, fitted.output_hash, misses + 1
    return x, base


def _rough_fit(
    state: SearchState,
    x: np.ndarray,
    base: Evaluation,
    choices: dict[str, Any],
    free: np.ndarray,
    guesses: np.ndarray | None = None,
) -> Fitted:
    """The free parameters fitted well enough to rank a step: a parabola for one continuous parameter."""
    lone = int(np.flatnonzero(free)[0]) if free.sum() == 1 else None
    if lone is not None and state.numeric[lone].name not in state.stepped:
        guess = 0.0 if guesses is None else float(guesses[lone])
        return (yield from _parabola(state, x, base, lone, choices, guess))
    return (yield from levenberg_marquardt(state, x, base, choices, free, iterations=WALK_ITERATIONS))


def _parabola(
    state: SearchState, x: np.ndarray, base: Evaluation, index: int, choices: dict[str, Any], guess: float = 0.0
) -> Fitted:
    """One continuous parameter fitted by the parabola of its squared error through three points.

    On a walk's step that is enough to rank the step (its optimum is
    near where the trend predicts), for a third of least squares' evaluations.
    """
    width = max(FIRST_STEP, state.numeric[index].resolution, guess)
    for _ in range(PARABOLA_ROUNDS):
        centre = x
        points = [_moved(centre, index, sign * width) for sign in (-1, 1)]
        results = yield [state.compose(p, choices) for p in points]
        offsets = [points[0][index] - centre[index], 0.0, points[1][index] - centre[index]]
        squares = [exact_squares(r) for r in (results[0], base, results[1])]
        if len(set(offsets)) < 3 or not all(math.isfinite(f) for f in squares):
            break
        curvature, slope, _ = np.polyfit(offsets, squares, 2)
        if curvature > 0:
            shift = -slope / (2 * curvature)
        else:  # no bottom between the points: go on downhill
            shift = -math.copysign(2 * width, slope) if slope else 0.0
        shift = float(np.clip(shift, -4 * width, 4 * width))
        for point, result in zip(points, results):
            if loss(result) < loss(base):
                x, base = point, result
        vertex = _moved(centre, index, shift)
        if not any(np.array_equal(vertex, p) for p in (centre, *points)):
            result = (yield [state.compose(vertex, choices)])[0]
            if loss(result) < loss(base):
                x, base = vertex, result
        if abs(shift) <= width:  # the bottom is between the points: found as well as a walk needs
            break
    return x, base


def _next_step(
    state: SearchState, x: np.ndarray, render_hash: str | None, index: int, step: float, choices: dict[str, Any]
) -> Generator[Batch, list[Evaluation], tuple[np.ndarray, Evaluation] | None]:
    """The first point along one axis whose render differs from ``render_hash``."""
    moved = x.copy()
    for _ in range(8):
        if not 0 <= moved[index] + step <= 1:
            return None
        moved[index] += step
        result = (yield [state.compose(moved, choices)])[0]
        if not result.ok:
            return None
        if result.output_hash != render_hash:
            return moved.copy(), result
    return None


def _moved(x: np.ndarray, index: int, distance: float) -> np.ndarray:
    """x moved along one axis, stopping at the bounds."""
    point = x.copy()
    point[index] = np.clip(x[index] + distance, 0, 1)
    return point
