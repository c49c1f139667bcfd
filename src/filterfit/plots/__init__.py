"""Plots: functions that compute each plot's plain data (tested exactly), and two ways to draw it.

    png -- matplotlib: the convergence plot (``convergence.png``, and in the report)
    svg -- the report's error slices and pairwise plots as inline SVG, drawn in milliseconds

A fit's output folder is written after its search, so the drawing is part of
what ``--out`` costs. matplotlib takes 0.7-1 s to import and draw a
look's twelve slices; the SVG of the same slices takes a few milliseconds, is
sharp at any zoom, scales to a look of 80 parameters, and its points say
their values when hovered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..result import TrialRecord
    from ..space import Param

__all__ = ["NEAR", "convergence_data", "pairwise_data", "slice_data", "slices_data"]

NEAR = 0.05  # "around the optimum": every other parameter within this share of its range of its best value


def convergence_data(history: Sequence[TrialRecord], direction: str = "minimize") -> dict[str, Any]:
    """Error of each evaluation and the best so far, in evaluation order.

    Returns a dict with ``numbers`` and ``errors`` of the complete
    evaluations, ``best`` (the best error after each of them), ``failed``
    (numbers of failed evaluations), and the seconds from the start at which
    each complete (``seconds``) and failed (``failed_seconds``) evaluation
    ended, where the history records them (None otherwise).
    """
    better = min if direction == "minimize" else max
    data: dict[str, list[Any]] = {key: [] for key in ("numbers", "errors", "best", "failed")}
    data.update(seconds=[], failed_seconds=[])
    for record in sorted(history, key=lambda r: r.number):
        if record.error is None:
            data["failed"].append(record.number)
            data["failed_seconds"].append(record.finished_s)
            continue
        data["numbers"].append(record.number)
        data["errors"].append(record.error)
        data["seconds"].append(record.finished_s)
        best = data["best"]
        best.append(record.error if not best else better(best[-1], record.error))
    return data


def slice_data(
    history: Sequence[TrialRecord],
    name: str,
    best: Mapping[str, Any],
    params: Mapping[str, Param],
    interval: Sequence[float] | None = None,
) -> dict[str, Any]:
    """The error against one parameter, from the evaluations made.

    Returns ``values`` and ``errors`` of the complete evaluations, ``near``
    (True where every other parameter was within 5 % of its range of its best
    value: the slice through the optimum), ``best`` (the parameter's best
    value), ``interval`` and ``low``/``high`` (the range searched).
    """
    return slices_data(history, best, params, {name: interval}, names=[name])[0]


def slices_data(
    history: Sequence[TrialRecord],
    best: Mapping[str, Any],
    params: Mapping[str, Param],
    intervals: Mapping[str, Sequence[float] | None],
    *,
    names: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """:func:`slice_data` of each of ``names`` (default: every parameter), in one pass over the history.

    One pass: whether each evaluation's parameters are far from their best is
    worked out once, not once a slice (0.1 s of a look's report, for 500
    evaluations of 12 parameters).
    """
    complete = [r for r in history if r.error is not None]
    far = [{n for n, p in params.items() if n in r.params and _far(p, r.params[n], best[n])} for r in complete]
    slices = []
    for name in params if names is None else names:
        param = params[name]
        kept = [(record, off) for record, off in zip(complete, far) if name in record.params]
        interval = intervals.get(name)
        slices.append({
            "name": name,
            "values": [float(record.params[name]) for record, _ in kept],
            "errors": [float(record.error) for record, _ in kept],  # type: ignore[arg-type]
            "near": [not (off - {name}) for _, off in kept],
            "best": float(best[name]),
            "interval": None if interval is None else [float(v) for v in interval],
            "low": param.low,
            "high": param.high,
            "log": param.log,
        })  # fmt: skip
    return slices


def _far(param: Param, value: Any, best: Any) -> bool:
    """True when ``value`` is more than NEAR of its range from the best value."""
    return abs(param.to_unit(value) - param.to_unit(best)) > NEAR


def pairwise_data(history: Sequence[TrialRecord], first: str, second: str, best: Mapping[str, Any]) -> dict[str, Any]:
    """Two parameters' values of each complete evaluation, with its error (for a scatter)."""
    kept = [r for r in history if r.error is not None and first in r.params and second in r.params]
    return {
        "names": [first, second],
        "x": [float(r.params[first]) for r in kept],
        "y": [float(r.params[second]) for r in kept],
        "errors": [float(r.error) for r in kept if r.error is not None],
        "best": [float(best[first]), float(best[second])],
    }
