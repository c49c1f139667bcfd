"""Parameters that act in steps (ImageMagick's blur radius changes the kernel every 0.5): which, and how wide.

A tiny move of each parameter that leaves the render identical (by its hash)
shows a step; its edges are bracketed on both sides, which is enough to
difference over several steps. The edges are bisected only when the step-wise
polish needs them (``bisect_step``), or for the report once the answer is
found (``AutoStrategy.settle``): the answer does not wait for them.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from .state import WIDEST_STEP, Bracket, side_by_side

if TYPE_CHECKING:
    from ...problem import Evaluation
    from ...space import Param
    from .state import Batch, SearchState

__all__ = ["bisect_step", "find_steps"]

TINY_STEP = 1e-4  # a move that changes the render of any continuous parameter
EDGE_BISECTIONS = 3
EDGE_GROWTH = 8  # bracketing a step's edge: each probe this much further out


def find_steps(
    state: SearchState, x: np.ndarray, base: Evaluation, choices: dict[str, Any]
) -> Generator[Batch, list[Evaluation], None]:
    """Find the parameters whose renders do not change for small moves, and bracket their steps' edges."""
    state.probed = True
    for index, param in enumerate(state.numeric):
        if param.resolution and not param.log:  # int and stepped parameters: their grid is known
            state.stepped[param.name] = param.resolution
            state.centres[param.name] = 0.0
            state.steps[index] = state.floors[index] = param.resolution
    tiny = [max(TINY_STEP, p.resolution) for p in state.numeric]
    probes = [state.probe(x, i, sign * tiny[i]) for i in range(len(state.numeric)) for sign in (1, -1)]
    results = yield [state.compose(p, choices) for p in probes]
    for index in range(len(state.numeric)):
        pair = results[2 * index : 2 * index + 2]  # both sides: x may sit just below a step's edge
        if state.numeric[index].name in state.stepped:
            continue
        if not any(r.ok and r.output_hash == base.output_hash for r in pair):
            continue
        edges = [_step_edge(state, x, base, index, direction, tiny[index], choices) for direction in (1, -1)]
        above, below = yield from side_by_side(edges)
        name = state.numeric[index].name
        if above[1] is None and below[1] is None and above[0] + below[0] >= 2 * WIDEST_STEP:
            state.no_effect.add(name)
            continue
        state.brackets[name] = Bracket(index, x.copy(), choices, (above, below))
        _record_step(state, index, x[index], _middle(above), _middle(below), bisected=False)


def _record_step(
    state: SearchState, index: int, x: float, above: tuple[float, float], below: tuple[float, float], *, bisected: bool
) -> None:
    """Record a step from the distances from ``x`` to its edges, each with its error."""
    if not bisected:  # edges known within their brackets: a width to difference over, no more
        width, centre = above[0] + below[0], x + (above[0] - below[0]) / 2
    else:
        width, centre = _round_step(state.numeric[index], x, above[0], below[0], max(above[1], below[1]))
    state.set_step(index, width, centre)


def bisect_step(state: SearchState, bracket: Bracket) -> Generator[Batch, list[Evaluation], None]:
    """Bisect a bracketed step's edges, against its point's render made again (the problem may differ)."""
    base = (yield [state.compose(bracket.point, bracket.choices)])[0]
    if not base.ok:
        return
    edges = [
        _bisect_edge(state, bracket, base.output_hash, direction, side)
        for direction, side in zip((1, -1), bracket.sides)
    ]
    above, below = yield from side_by_side(edges)
    del state.brackets[state.numeric[bracket.index].name]
    _record_step(state, bracket.index, bracket.point[bracket.index], above, below, bisected=True)


def _step_edge(
    state: SearchState,
    x: np.ndarray,
    base: Evaluation,
    index: int,
    direction: int,
    tiny: float,
    choices: dict[str, Any],
) -> Generator[Batch, list[Evaluation], tuple[float, float | None]]:
    """Bracket how far the render stays identical along one axis and direction: (same, changed) distances."""
    same, changed = tiny, None
    room = 1 - x[index] if direction > 0 else x[index]
    distance = tiny
    while changed is None and distance < min(room, WIDEST_STEP):
        distance = min(distance * EDGE_GROWTH, room, WIDEST_STEP)
        point = x.copy()
        point[index] += direction * distance
        result = (yield [state.compose(point, choices)])[0]
        if result.ok and result.output_hash != base.output_hash:
            changed = distance
        else:
            same = distance
    return same, changed


def _bisect_edge(
    state: SearchState, bracket: Bracket, render_hash: str | None, direction: int, side: tuple[float, float | None]
) -> Generator[Batch, list[Evaluation], tuple[float, float]]:
    """One edge of a bracketed step, bisected: its distance from the bracket's point and how precisely."""
    same, changed = side
    if changed is None:
        return same, 0.0
    for _ in range(EDGE_BISECTIONS):
        middle = (same + changed) / 2
        point = bracket.point.copy()
        point[bracket.index] += direction * middle
        result = (yield [state.compose(point, bracket.choices)])[0]
        if result.ok and result.output_hash != render_hash:
            changed = middle
        else:
            same = middle
    return (same + changed) / 2, (changed - same) / 2


def _middle(side: tuple[float, float | None]) -> tuple[float, float]:
    """A bracket's middle and half-width; a side where no change was found ends where the search did."""
    same, changed = side
    return (same, 0.0) if changed is None else ((same + changed) / 2, (changed - same) / 2)


def _round_step(param: Param, x: float, above: float, below: float, error: float) -> tuple[float, float]:
    """A step's width and middle in unit coordinates, rounded when a round number fits the measurement.

    ``above`` and ``below`` are the distances from ``x`` to the step's edges,
    each known within ``error`` (all in unit coordinates).
    """
    width, centre = above + below, x + (above - below) / 2
    span = param.high - param.low
    if param.log or span <= 0:
        return width, centre
    nice = _round_number(width * span, 2 * error * span)
    if nice is None:
        return width, centre
    lower_edge = param.low + (x - below) * span
    multiple = round(lower_edge / nice)
    if abs(lower_edge - multiple * nice) <= error * span:
        centre = ((multiple + 0.5) * nice - param.low) / span
    return nice / span, centre


def _round_number(value: float, tolerance: float) -> float | None:
    """The number of the form 1, 2, 2.5 or 5 x 10^k nearest to ``value``, if within ``tolerance``."""
    if value <= 0:
        return None
    exponent = math.floor(math.log10(value))
    candidates = [m * 10.0**e for e in (exponent - 1, exponent, exponent + 1) for m in (1, 2, 2.5, 5)]
    nearest = min(candidates, key=lambda c: abs(c - value))
    return nearest if abs(nearest - value) <= tolerance else None
