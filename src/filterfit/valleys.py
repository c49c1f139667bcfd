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
NOT_MEASURED = ("no effect", "acts in steps")  # flags whose parameters have no slope to measure at the best

EvaluateResiduals = Callable[[list[dict[str, Any]]], list["Evaluation"]]


def joint_trade_offs(
    space: Space,
    best: dict[str, Any],
    intervals: dict[str, list[float]],
    flags: dict[str, list[str]],
    evaluate: EvaluateResiduals,
    budget: int,
) -> tuple[dict[str, list[str]], list[Evaluation]]:
    """Flags for parameters that trade off with several others, and the evaluations that measured them.

    ``evaluate`` renders points with their residuals; it is given ``2 x`` the parameters measured (nothing when
    fewer than two parameters can be measured or the budget is smaller).
    """
    pairs = {p.name: _pair(p, best, intervals[p.name]) for p in space.numeric if _measurable(p, best, intervals, flags)}
    # A parameter on a grid coarser than its interval (steps of 0.25, an interval of 0.02) cannot move: left out.
    params = [p for p in space.numeric if p.name in pairs and pairs[p.name][0][p.name] != pairs[p.name][1][p.name]]
    if len(params) < 2 or 2 * len(params) > budget:
        return {}, []
    points = [point for param in params for point in pairs[param.name]]
    evaluations = evaluate(points)
    columns = []
    for index, param in enumerate(params):
        ahead, behind = evaluations[2 * index], evaluations[2 * index + 1]
        if not (ahead.ok and behind.ok) or ahead.residuals is None or behind.residuals is None:
            return {}, evaluations
        moved = param.to_unit(ahead.params[param.name]) - param.to_unit(behind.params[param.name])
        columns.append((ahead.residuals.ravel() - behind.residuals.ravel()).astype(np.float64) / moved)
    return _flags(params, np.stack(columns, axis=1), best, intervals), evaluations


def _measurable(param: Param, best: dict[str, Any], intervals: dict[str, list[float]], flags: dict[str, Any]) -> bool:
    if param.name not in intervals or param.high <= param.low:
        return False
    if any(flag.startswith(NOT_MEASURED) for flag in flags.get(param.name, [])):
        return False
    low, high = (param.to_unit(v) for v in intervals[param.name])
    return 0 < high - low < 1


def _pair(param: Param, best: dict[str, Any], interval: Sequence[float]) -> list[dict[str, Any]]:
    """The best with ``param`` moved up and down by half its interval (on its grid, one step at least)."""
    centre = param.to_unit(best[param.name])
    half = (param.to_unit(interval[1]) - param.to_unit(interval[0])) / 2
    up, down = min(1.0, centre + half), max(0.0, centre - half)
    values = [param.snap(param.from_unit(up)), param.snap(param.from_unit(down))]
    if param.kind == "int":  # a whole-number slider: one step each way at least
        value = best[param.name]
        values = [max(values[0], min(value + 1, param.high)), min(values[1], max(value - 1, param.low))]
    return [{**best, param.name: value} for value in values]


def _flags(
    params: Sequence[Param], jacobian: np.ndarray, best: dict[str, Any], intervals: dict[str, list[float]]
) -> dict[str, list[str]]:
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
        low, high = (param.to_unit(v) for v in intervals[param.name])
        joint = 100 * wider * (high - low) / 2
        how = f"jointly within ±{joint:.3g} % of its range" if joint < 100 else "jointly anywhere in its range"
        found[param.name] = [f"trades off with {_together(partners)} ({how})"]
    return found


def _together(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1] + " together"
