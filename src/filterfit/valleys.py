"""Trade-offs among several parameters at once: where the images tell a sum, not its terms.

Each interval of :mod:`filterfit.uncertainty` moves one parameter with the
others held at their best values, and its diagonal probes move two at a time.
A photo editor's tone sliders can trade off three or four at once: exposure,
lightness, contrast and a curve's lights each brighten the midtones, and
together they can undo one another where no two of them can. Each interval
then looks tight, and a slider may end far from the values that made the
target.

This module measures the residuals' Jacobian at the best, each parameter
moved by its own interval's half-width up and down (wide enough to show
through a program's 8-bit output: that is where the error rose by the
tolerance), and asks how much wider each parameter's interval would be if
the others moved with it (the variance inflation factor of the normal
matrix, ``J^T J``): ``sqrt(VIF)`` times its own. A parameter whose joint
interval is more than three times its own is flagged with the parameters it
trades off with (their partial correlations with it) and how far the images
let it go jointly, in % of its range. Where the others can undo it exactly,
the Jacobian's own noise bounds that estimate: it is a floor, not a measure.

A parameter that acts in steps (RawTherapee's whole-number sliders, a
compensation written with two decimals) has no interval of its own to scale:
its render is identical within a step and jumps beyond it. It is moved two
steps each way, a secant over four as least squares differences it, and its
joint width is the Jacobian's model's: the move that raises the residuals'
root mean square by the tolerance with the others following (for rmse that is
the loss itself).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .problem import Evaluation
    from .space import Param, Space

__all__ = ["WIDER", "joint_trade_offs"]

WIDER = 3.0  # a joint interval this many times a parameter's own is a trade-off worth a flag
PARTNER = 0.5  # |partial correlation| from which another parameter is named as a partner
NO_SLOPE = "no effect"  # the flag of a parameter with no slope to measure at the best
STEPPED = "acts in steps"  # the flag of one whose slope shows only across its steps
STEPS_MOVED = 2  # a stepped parameter moves this many steps each way

EvaluateResiduals = Callable[[list[dict[str, Any]]], list["Evaluation"]]


def joint_trade_offs(
    space: Space,
    best: dict[str, Any],
    intervals: dict[str, list[float]],
    flags: dict[str, list[str]],
    evaluate: EvaluateResiduals,
    budget: int,
    *,
    tolerance: float = 0.0,
    best_loss: float = 0.0,
) -> tuple[dict[str, list[str]], list[Evaluation]]:
    """Flags for parameters that trade off with several others, and the evaluations that measured them.

    ``evaluate`` renders points with their residuals; it is given ``2 x`` the parameters measured, and the
    best itself when one of them acts in steps (nothing when fewer than two parameters can be measured or
    the budget is smaller). ``tolerance`` is the loss's "the same" margin and ``best_loss`` the best's
    distance from a perfect match: they scale a stepped parameter's joint width.
    """
    stepped = {p.name for p in space.numeric if _stepped(flags.get(p.name, []))}
    pairs = {
        p.name: _pair(p, best, intervals[p.name], p.name in stepped)
        for p in space.numeric
        if _measurable(p, intervals, flags)
    }
    # A parameter on a grid coarser than its interval (steps of 0.25, an interval of 0.02) cannot move: left out.
    params = [p for p in space.numeric if p.name in pairs and pairs[p.name][0][p.name] != pairs[p.name][1][p.name]]
    with_best = any(p.name in stepped for p in params)
    if len(params) < 2 or 2 * len(params) + with_best > budget:
        return {}, []
    points = [point for param in params for point in pairs[param.name]] + ([dict(best)] if with_best else [])
    evaluations = evaluate(points)
    if not all(e.ok and e.residuals is not None for e in evaluations):
        return {}, evaluations
    columns = []
    for index, param in enumerate(params):
        ahead, behind = evaluations[2 * index], evaluations[2 * index + 1]
        assert ahead.residuals is not None and behind.residuals is not None
        moved = param.to_unit(ahead.params[param.name]) - param.to_unit(behind.params[param.name])
        columns.append((ahead.residuals.ravel() - behind.residuals.ravel()).astype(np.float64) / moved)
    jacobian = np.stack(columns, axis=1)
    rise = _allowed_rise(evaluations[-1], tolerance, best_loss) if with_best else 0.0
    own = {p.name: _own_half_width(p, intervals[p.name], p.name in stepped, jacobian[:, i], rise)
           for i, p in enumerate(params)}  # fmt: skip
    return _flags(params, jacobian, own), evaluations


def _stepped(flags: Sequence[str]) -> bool:
    return any(flag.startswith(STEPPED) for flag in flags)


def _measurable(param: Param, intervals: dict[str, list[float]], flags: dict[str, Any]) -> bool:
    if param.name not in intervals or param.high <= param.low:
        return False
    if any(flag.startswith(NO_SLOPE) for flag in flags.get(param.name, [])):
        return False
    low, high = (param.to_unit(v) for v in intervals[param.name])
    return 0 < high - low < 1


def _pair(param: Param, best: dict[str, Any], interval: Sequence[float], stepped: bool) -> list[dict[str, Any]]:
    """The best with ``param`` moved up and down: by half its interval, or two steps when it acts in steps."""
    centre = param.to_unit(best[param.name])
    width = param.to_unit(interval[1]) - param.to_unit(interval[0])
    half = STEPS_MOVED * width if stepped else width / 2  # a stepped interval is the step: identical renders
    up, down = min(1.0, centre + half), max(0.0, centre - half)
    values = [param.snap(param.from_unit(up)), param.snap(param.from_unit(down))]
    if param.kind == "int":  # a whole-number slider: one step each way at least
        value = best[param.name]
        values = [max(values[0], min(value + 1, param.high)), min(values[1], max(value - 1, param.low))]
    return [{**best, param.name: value} for value in values]


def _allowed_rise(best: Evaluation, tolerance: float, best_loss: float) -> float:
    """How much the residuals' sum of squares may grow and still count as the best's error.

    The residuals' root mean square stands in for the loss, scaled to it where the best is not perfect
    (for rmse the two are the same).
    """
    assert best.residuals is not None
    residuals = best.residuals.ravel().astype(np.float64)
    root = float(np.sqrt(np.mean(residuals**2)))
    scale = root / best_loss if best_loss > 0 and root > 0 else 1.0
    return residuals.size * ((root + scale * tolerance) ** 2 - root**2)


def _own_half_width(param: Param, interval: Sequence[float], stepped: bool, column: np.ndarray, rise: float) -> float:
    """Half the parameter's own interval in unit coordinates: measured, or the Jacobian's model where it steps."""
    if stepped:
        slope = float(column @ column)
        return math.sqrt(rise / slope) if slope > 0 else 0.0
    low, high = (param.to_unit(v) for v in interval)
    return (high - low) / 2


def _flags(params: Sequence[Param], jacobian: np.ndarray, own: dict[str, float]) -> dict[str, list[str]]:
    normal = jacobian.T @ jacobian
    scale = np.sqrt(np.diag(normal))
    if not np.all(np.isfinite(normal)) or np.any(scale == 0):  # a slider that moved nothing: no slope to compare
        return {}
    correlation = normal / np.outer(scale, scale)
    precision = np.linalg.inv(correlation + 1e-9 * np.eye(len(params)))  # a direction the images cannot see: huge
    inflation = np.diag(precision)
    found: dict[str, list[str]] = {}
    for i, param in enumerate(params):
        wider = math.sqrt(max(inflation[i], 1.0))
        if wider < WIDER:
            continue
        partial = -precision[i] / np.sqrt(np.abs(inflation[i] * inflation))
        partners = [params[j].name for j in np.argsort(-np.abs(partial)) if j != i and abs(partial[j]) >= PARTNER]
        if not partners:
            continue
        joint = 100 * wider * own[param.name]
        how = f"jointly within ±{joint:.3g} % of its range" if joint < 100 else "jointly anywhere in its range"
        found[param.name] = [f"trades off with {_together(partners)} ({how})"]
    return found


def _together(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1] + " together"
