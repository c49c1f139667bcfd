"""Phase 1: where to start. A scrambled Sobol scan of the whole space (or the hinted points), then line scans.

These only rank far-apart points, so on a photo of some size they run alone on
a crop of it (``scan_only``, see fidelity/crop.py).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from .evaluations import key, loss

if TYPE_CHECKING:
    from ...problem import Evaluation
    from .state import Batch, Search, SearchState

__all__ = ["evaluate_hints", "line_scans", "sobol_scan"]

SCAN_POINTS = 7  # per axis in a line scan


def sobol_scan(state: SearchState) -> Search:
    """A batch of scrambled Sobol points over the whole space."""
    dims = len(state.space)
    count = 8 if dims <= 2 else 32 if dims <= 6 else 64
    count = max(4, min(count, state.budget // 4))
    count = 1 << int(math.log2(count))  # Sobol points are balanced in powers of two
    rows = state.sobol.random(count)
    results = yield [_from_row(state, row) for row in rows]
    state.scanned.extend(key(result, state.space) for result in results)


def _from_row(state: SearchState, row: np.ndarray) -> Any:
    """A Sobol row as a point: numeric coordinates as they are, choices by bucket."""
    unit = np.array([u for p, u in zip(state.space, row) if p.numeric])
    choices = {
        p.name: p.choices[min(len(p.choices) - 1, int(u * len(p.choices)))]
        for p, u in zip(state.space, row)
        if not p.numeric
    }
    return state.compose(unit, choices)


def evaluate_hints(state: SearchState, hints: list[dict[str, Any]]) -> Search:
    """The hinted points, as the starts to fit from before any scan.

    A lone hint that only starts a search (a scan-only crop's) comes with
    least squares' first difference probes around it: they need nothing
    from its evaluation, and a batch of one would leave the other workers idle.
    """
    units = [(state.unit(tuple(h[n] for n in state.space.names)), state.choices(h)) for h in hints]
    ahead = []
    if len(units) == 1 and not state.hint_is_answer:
        state.reset_steps()
        unit, choices = units[0]
        x = state.unit(tuple(state.params(state.compose(unit, choices)).values()))  # as least squares will see it
        ahead = [state.compose(state.probe(x, i, state.steps[i]), choices) for i in range(len(state.numeric))]
    points = [state.compose(unit, choices) for unit, choices in units]
    results = (yield points + ahead)[: len(points)]
    keys = [key(result, state.space) for result in results]
    state.scanned.extend(keys)
    state.hinted.update(keys)


def line_scans(
    state: SearchState, x: np.ndarray, base: Evaluation, choices: dict[str, Any]
) -> Generator[Batch, list[Evaluation], tuple[np.ndarray, Evaluation]]:
    """Scan each parameter across its whole range from the start, and move to the best.

    Far from the optimum the residuals are large and a Gauss-Newton model
    crawls along flat valleys; one coarse scan per axis reaches the valley
    floor, where least squares converges fast.
    """
    points = []
    for axis in range(len(state.numeric)):
        for k in range(SCAN_POINTS):
            point = x.copy()
            point[axis] = (k + 0.5) / SCAN_POINTS
            points.append(point)
    results = yield [state.compose(p, choices) for p in points]
    index = min(range(len(results)), key=lambda k: loss(results[k]), default=None)
    if index is not None and loss(results[index]) < loss(base):
        x, base = points[index], results[index]
    if base.residuals is None:
        base = (yield [state.compose(x, choices)])[0]
    return x, base
