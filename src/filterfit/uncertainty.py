"""How sure each parameter is: the interval where the error stays within the metric's noise, and flags.

After a search, each numeric parameter is moved away from the best, the
others held at their best values, until the error rises above the best by
more than a tolerance (the metric's "indistinguishable" level, or 0.1 % of the
distance from a perfect match). A geometric ladder of probes brackets each
edge, bisection narrows it (:mod:`filterfit.profiles`). Evaluations the search
already made at a probed point are reused. Flags say what the intervals mean:

- ``no effect in [a, b]``: the error stays within the tolerance over at least
  a tenth of the range (ImageMagick's blur radius past about 4 sigma);
- ``trades off with X``: moving two parameters together, each by twice its
  own interval, keeps the error within the tolerance (a diagonal valley);
  ``trades off with X, Y and Z together``: the residuals' Jacobian at the best
  says the others can move with it so that its interval is three times wider
  or more (:mod:`filterfit.valleys`; three or four tone sliders at once);
- steps are what the strategy measured (``auto`` reports the blur radius's
  steps of 0.5 and their edges): a stepped parameter is probed step by step,
  and its interval spans whole steps. Where no strategy said so, ``acts in
  steps`` flags a render that stays identical around the best, then jumps.

A stepped parameter may act only on every other step (ImageMagick's even
kernel widths shift the image by half a pixel); a step or the next one out
within the tolerance counts as "no effect", and the flag says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from .profiles import Evaluate, Prober, Profiles
from .result import FitResult, TrialRecord
from .valleys import joint_trade_offs

if TYPE_CHECKING:
    from .evaluator import Evaluator
    from .metrics import Metric
    from .problem import Evaluation, Problem
    from .profiles import Edge
    from .space import Param, Space
    from .strategies import Strategy

__all__ = ["PROBE_BUDGET", "Uncertainty", "interval_text", "measure", "refine", "tolerance"]

PROBE_BUDGET = 80  # most extra evaluations after the search
RELATIVE_TOLERANCE = 1e-3  # of the best loss's distance from a perfect match
NO_EFFECT_SHARE = 0.1  # an interval this share of the range wide is "no effect"


@dataclass(frozen=True)
class Uncertainty:
    """Intervals, flags and the probes that measured them."""

    intervals: dict[str, list[float]]
    flags: dict[str, list[str]]
    probes: tuple[TrialRecord, ...] = ()
    tolerance: float = 0.0


def refine(result: FitResult, problem: Problem, strategy: Strategy, evaluator: Evaluator, *, budget: int) -> FitResult:
    """``result`` with measured intervals and flags, and the probes that measured them.

    The strategy's flags stay unless a measured flag says the same thing more
    precisely (its first two words agree: "no effect ...").
    """
    if budget <= 0:
        return result

    def evaluate(points: list[dict[str, Any]], residuals: bool = False) -> list[Evaluation]:
        futures = [evaluator.submit(point, residuals=residuals) for point in points]
        return [future.result() for future in futures]

    settled: list[TrialRecord] = []

    def settle(points: list[dict[str, Any]]) -> list[Evaluation]:
        evaluations = evaluate(points[: budget - len(settled)])
        settled.extend(TrialRecord.of(len(settled), evaluation) for evaluation in evaluations)
        return evaluations

    try:
        strategy.settle(settle)  # e.g. auto's step edges, bisected only now that the answer is found
        measured = measure(
            problem.space,
            problem.metric,
            result.best_params,
            result.best_error,
            evaluate,
            history=result.history + tuple(settled),
            steps=strategy.intervals(result.best_params),
            budget=budget - len(settled) - _joint_share(problem, budget - len(settled)),
        )
        flags = _merge_flags({**result.flags, **strategy.flags()}, measured.flags)
        left = budget - len(settled) - len(measured.probes)
        joint, valley = _joint(problem, partial(evaluate, residuals=True), result, measured, flags, left)
    except KeyboardInterrupt:  # the search's answer stands without the probes
        return result
    probes = (*settled, *(replace(probe, number=probe.number + len(settled)) for probe in measured.probes))
    probes += tuple(TrialRecord.of(len(probes) + k, evaluation) for k, evaluation in enumerate(valley))
    return replace(
        result,
        uncertainty={**result.uncertainty, **measured.intervals},
        flags=_with_joint(flags, joint),
        probes=probes,
        tolerance=measured.tolerance,
    )


def _joint(
    problem: Problem,
    with_residuals: Callable[[list[dict[str, Any]]], list[Evaluation]],
    result: FitResult,
    measured: Uncertainty,
    flags: dict[str, list[str]],
    budget: int,
) -> tuple[dict[str, list[str]], list[Evaluation]]:
    """Trade-offs among several parameters (:mod:`filterfit.valleys`), where the metric has residuals."""
    metric = problem.metric
    if metric.residuals is None:
        return {}, []
    distance = abs(metric.loss(result.best_error) - metric.ideal_loss) if math.isfinite(metric.ideal_loss) else 0.0
    return joint_trade_offs(
        problem.space, result.best_params, measured.intervals, flags, with_residuals, budget,
        tolerance=measured.tolerance, best_loss=distance,
    )  # fmt: skip


def _joint_share(problem: Problem, budget: int) -> int:
    """The probes kept for the joint trade-offs' Jacobian: two a parameter and the best, up to half the budget."""
    numeric = len(problem.space.numeric)
    if problem.metric.residuals is None or numeric < 2 or 2 * numeric + 1 > budget // 2:
        return 0
    return 2 * numeric + 1


def _with_joint(flags: dict[str, list[str]], joint: dict[str, list[str]]) -> dict[str, list[str]]:
    """The flags with each joint trade-off in place of that parameter's pairwise ones (it names the partners)."""
    merged = {name: list(found) for name, found in flags.items()}
    for name, found in joint.items():
        merged[name] = [flag for flag in merged.get(name, []) if not flag.startswith("trades off with ")] + found
    return merged


def _merge_flags(known: dict[str, list[str]], measured: dict[str, list[str]]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for name in dict.fromkeys([*known, *measured]):
        mine = measured.get(name, [])
        kept = [flag for flag in known.get(name, []) if not any(m.split()[:2] == flag.split()[:2] for m in mine)]
        if kept + mine:
            merged[name] = kept + mine
    return merged


def interval_text(interval: Sequence[float] | None) -> str:
    """An interval with as many digits as it takes to tell its ends apart (up to 10).

    Examples
    --------
    >>> interval_text([4.9999984, 5.0000012])
    '[4.999998, 5.000001]'
    """
    if not interval:
        return "-"
    low, high = interval
    digits = next((d for d in range(6, 11) if f"{low:.{d}g}" != f"{high:.{d}g}"), 6)
    return f"[{low:.{digits}g}, {high:.{digits}g}]"


def tolerance(metric: Metric, best_loss: float) -> float:
    """How far above the best loss an error still counts as "the same".

    The metric's "close enough to perfect" level (rmse 1e-5: a few pixels one
    level off in a photo) where it has one, and at least 0.1 % of the best
    loss's distance from a perfect match (noise of a lossy target).

    Examples
    --------
    >>> from filterfit.metrics import get_metric
    >>> tolerance(get_metric("rmse"), 0.0)
    1e-05
    """
    floor = 0.0
    if metric.direction == "minimize" and metric.ideal is not None and math.isfinite(metric.stop_loss):
        floor = abs(metric.stop_loss - metric.ideal_loss)
    distance = abs(best_loss - metric.ideal_loss) if math.isfinite(metric.ideal_loss) else abs(best_loss)
    return max(floor, RELATIVE_TOLERANCE * distance)


def measure(
    space: Space,
    metric: Metric,
    best_params: dict[str, Any],
    best_value: float,
    evaluate: Evaluate,
    *,
    history: Sequence[TrialRecord] = (),
    steps: dict[str, tuple[float, float]] | None = None,
    budget: int = PROBE_BUDGET,
) -> Uncertainty:
    """Intervals and flags for every numeric parameter, probing around the best.

    Parameters
    ----------
    space, metric : the fit's
    best_params, best_value : the best evaluation's parameters and metric value
    evaluate : callable
        Evaluates a list of parameter dicts (in parallel, ideally) and returns
        their :class:`~filterfit.problem.Evaluation` in order.
    history : evaluations already made; probes they answer are not run again
    steps : ``{name: (low, high)}``, the step holding the best value of each
        parameter known to act in steps (``Strategy.intervals``)
    budget : most new evaluations
    """
    best_loss = metric.loss(best_value)
    margin = tolerance(metric, best_loss)
    limit = best_loss + margin
    prober = Prober(space, metric, evaluate, budget)
    for record in history:
        if record.fidelity is not None:
            continue  # scored on other pixels (a crop, a preview): not this problem's loss
        loss = None if record.error is None else metric.loss(record.error)
        prober.known.setdefault(tuple(record.params.get(name) for name in space.names), loss)
    steps = {name: step for name, step in (steps or {}).items() if name in space.names and step[1] > step[0]}
    profiles = Profiles(space, best_params, steps, prober, limit, margin)
    edges = profiles.search()
    intervals = {name: profiles.interval(name, pair) for name, pair in edges.items()}
    flags: dict[str, list[str]] = {}
    for name, pair in edges.items():
        no_effect = _no_effect_flag(space[name], intervals[name], pair, name in steps)
        if no_effect:
            flags.setdefault(name, []).append(no_effect)
    for name in profiles.plateaus(edges, flags):
        low, high = intervals[name]
        flags.setdefault(name, []).append(f"acts in steps (renders identical within {high - low:.2g})")
    for first, second, text in profiles.trade_offs(edges, flags):
        flags.setdefault(first, []).append(f"trades off with {second}{text}")
        flags.setdefault(second, []).append(f"trades off with {first}{text}")
    return Uncertainty(intervals, flags, tuple(prober.probes), margin)


def _no_effect_flag(param: Param, interval: list[float], pair: tuple[Edge, Edge], stepped: bool) -> str | None:
    width = (param.to_unit(interval[1]) - param.to_unit(interval[0])) if param.high > param.low else 0.0
    if width < NO_EFFECT_SHARE:
        return None
    text = f"no effect in [{interval[0]:.4g}, {interval[1]:.4g}]"
    if stepped and any(edge.gaps for edge in pair):
        text += " on every other step"
    return text
