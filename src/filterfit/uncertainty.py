"""How sure each parameter is: the interval where the error stays within the metric's noise, and flags.

After a search, each numeric parameter is moved away from the best, the
others held at their best values, until the error rises above the best by
more than a tolerance (the metric's "indistinguishable" level, or 0.1 % of the
distance from a perfect match). A geometric ladder of probes brackets each
edge, bisection narrows it. Evaluations the search already made at a probed
point are reused. Flags say what the intervals mean:

- ``no effect in [a, b]``: the error stays within the tolerance over at least
  a tenth of the range (ImageMagick's blur radius past about 4 sigma);
- ``trades off with X``: moving two parameters together, each by twice its
  own interval, keeps the error within the tolerance (a diagonal valley);
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
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .result import FitResult, TrialRecord

if TYPE_CHECKING:
    from .evaluator import Evaluator
    from .metrics import Metric
    from .problem import Evaluation, Problem
    from .space import Param, Space
    from .strategies import Strategy

__all__ = ["PROBE_BUDGET", "Uncertainty", "interval_text", "measure", "refine", "tolerance"]

PROBE_BUDGET = 80  # most extra evaluations after the search
RELATIVE_TOLERANCE = 1e-3  # of the best loss's distance from a perfect match
NO_EFFECT_SHARE = 0.1  # an interval this share of the range wide is "no effect"
SMALLEST_DISTANCE = 1e-6  # in unit coordinates: the first rung of the ladder
LADDER_FACTOR = 10
PRECISION = 0.05  # an edge is bracketed within this share of its distance from the best
MAX_ROUNDS = 60  # a bracket halves each round: far more than any edge needs
TRADE_OFF_REACH = 2  # diagonal probes go this many times each parameter's own interval

Evaluate = Callable[[list[dict[str, Any]]], list["Evaluation"]]


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

    def evaluate(points: list[dict[str, Any]]) -> list[Evaluation]:
        futures = [evaluator.submit(point) for point in points]
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
            budget=budget - len(settled),
        )
    except KeyboardInterrupt:  # the search's answer stands without the probes
        return result
    probes = (*settled, *(replace(probe, number=probe.number + len(settled)) for probe in measured.probes))
    return replace(
        result,
        uncertainty={**result.uncertainty, **measured.intervals},
        flags=_merge_flags({**result.flags, **strategy.flags()}, measured.flags),
        probes=probes,
        tolerance=measured.tolerance,
    )


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


@dataclass
class _Edge:
    """What is known along one parameter in one direction: distances inside and outside the tolerance."""

    param: Param
    side: int  # +1 up, -1 down
    room: float  # distance to the bound (unit coordinates, or steps for a stepped parameter)
    inside: float = 0.0
    outside: float | None = None
    gaps: bool = False  # a stepped parameter with a step outside the tolerance below ``inside``
    rungs: list[float] = field(default_factory=list)  # distances still to try while nothing is outside

    def reached(self) -> bool:
        """True when the error stays within the tolerance all the way to the bound."""
        return self.outside is None and self.inside >= self.room

    def done(self, stepped: bool) -> bool:
        if self.outside is None:
            return self.inside >= self.room or not any(r > self.inside for r in self.rungs)
        if stepped:
            return self.outside - self.inside <= max(1, PRECISION * self.inside)
        return self.outside - self.inside <= max(PRECISION * self.inside, SMALLEST_DISTANCE / 100)

    def next_distance(self, stepped: bool) -> float:
        if self.outside is None:
            self.rungs = [r for r in self.rungs if r > self.inside]
            return self.rungs.pop(0)
        if stepped:
            return float((int(self.inside) + int(self.outside)) // 2)
        if self.inside == 0:
            return self.outside / LADDER_FACTOR
        if self.outside / self.inside > 2:
            return math.sqrt(self.inside * self.outside)
        return (self.inside + self.outside) / 2


@dataclass
class _Prober:
    """Runs probes in batches, reusing evaluations already made and counting new ones."""

    space: Space
    metric: Metric
    evaluate: Evaluate
    budget: int
    known: dict[tuple[Any, ...], float | None] = field(default_factory=dict)  # params -> loss
    hashes: dict[tuple[Any, ...], str | None] = field(default_factory=dict)  # params -> render hash, of probes
    probes: list[TrialRecord] = field(default_factory=list)

    def key(self, params: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(params[name] for name in self.space.names)

    def losses(self, points: Sequence[dict[str, Any]]) -> list[float | None]:
        """The loss of each point: inf when it failed, None when the probe budget ran out before it."""
        new = list({self.key(p): p for p in points if self.key(p) not in self.known}.values())
        new = new[: max(0, self.budget - len(self.probes))]
        for evaluation in self.evaluate(new) if new else []:
            self.known[self.key(evaluation.params)] = evaluation.loss
            self.hashes[self.key(evaluation.params)] = evaluation.output_hash
            self.probes.append(TrialRecord.of(len(self.probes), evaluation))
        return [_loss(self.known, self.key(p)) for p in points]

    def render_hash(self, params: dict[str, Any]) -> str | None:
        """The hash of a point's render (evaluated again if the search made it: its records keep no hash)."""
        key = self.key(params)
        if key not in self.hashes and len(self.probes) < self.budget:
            self.known.pop(key, None)
            self.losses([params])
        return self.hashes.get(key)


def _loss(known: dict[tuple[Any, ...], float | None], key: tuple[Any, ...]) -> float | None:
    if key not in known:
        return None
    loss = known[key]
    return math.inf if loss is None else loss


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
    prober = _Prober(space, metric, evaluate, budget)
    for record in history:
        if record.crop is not None or record.scale != 1:
            continue  # scored on other pixels (a crop, a preview): not this problem's loss
        loss = None if record.error is None else metric.loss(record.error)
        prober.known.setdefault(tuple(record.params.get(name) for name in space.names), loss)
    steps = {name: step for name, step in (steps or {}).items() if name in space.names and step[1] > step[0]}
    profiles = _Profiles(space, best_params, steps, prober, limit, margin)
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


class _Profiles:
    """The one-parameter-at-a-time search for each interval's edges."""

    def __init__(
        self,
        space: Space,
        best: dict[str, Any],
        steps: dict[str, tuple[float, float]],
        prober: _Prober,
        limit: float,
        tolerance: float,
    ) -> None:
        self.space, self.best, self.steps, self.prober = space, dict(best), steps, prober
        self.limit, self.tolerance = limit, tolerance

    def search(self) -> dict[str, tuple[_Edge, _Edge]]:
        """Climb every edge's ladder and bisect its bracket, one question per edge in each shared batch."""
        edges = {p.name: (self._edge(p, -1), self._edge(p, 1)) for p in self.space.numeric}
        every = [edge for pair in edges.values() for edge in pair]
        for edge in every:
            edge.rungs = self._ladder(edge)
        for _ in range(MAX_ROUNDS):
            if len(self.prober.probes) >= self.prober.budget:
                break
            questions = [(e, e.next_distance(self._stepped(e))) for e in every if not e.done(self._stepped(e))]
            if not questions:
                break
            self._settle(questions)
        return edges

    def _stepped(self, edge: _Edge) -> bool:
        return edge.param.name in self.steps

    def _edge(self, param: Param, side: int) -> _Edge:
        unit = param.to_unit(self.best[param.name])
        room = 1 - unit if side > 0 else unit
        if param.name in self.steps:
            low, high = self.steps[param.name]
            width = param.to_unit(high) - param.to_unit(low)
            edge = param.to_unit(high) if side > 0 else param.to_unit(low)
            room = math.floor(max(0.0, (1 - edge) if side > 0 else edge) / width + 1e-9)
        return _Edge(param, side, room)

    def _ladder(self, edge: _Edge) -> list[float]:
        if self._stepped(edge):
            rungs = [1.0]
            while rungs[-1] * 4 < edge.room:
                rungs.append(rungs[-1] * 4)
            return [r for r in rungs + [float(edge.room)] if r <= edge.room and edge.room > 0]
        rungs = [SMALLEST_DISTANCE * LADDER_FACTOR**k for k in range(7)]
        return [r for r in rungs if r < edge.room] + ([edge.room] if edge.room > 0 else [])

    def _points(self, edge: _Edge, distance: float) -> list[dict[str, Any]]:
        """The parameter sets that decide whether ``distance`` is inside (two steps for a stepped parameter)."""
        param = edge.param
        if not self._stepped(edge):
            return [self._moved(param, param.to_unit(self.best[param.name]) + edge.side * distance)]
        low, high = (param.to_unit(v) for v in self.steps[param.name])
        width, centre = high - low, (low + high) / 2
        steps = _pair(edge, distance)
        return [self._moved(param, centre + edge.side * k * width) for k in steps]

    def _moved(self, param: Param, unit: float) -> dict[str, Any]:
        return {**self.best, param.name: param.from_unit(min(1.0, max(0.0, unit)))}

    def _settle(self, questions: list[tuple[_Edge, float]]) -> None:
        """Evaluate every question's points in one batch; move each edge's bracket."""
        points = [self._points(edge, distance) for edge, distance in questions]
        losses = iter(self.prober.losses([p for group in points for p in group]))
        answers = [[next(losses) for _ in group] for group in points]
        for (edge, distance), answer in sorted(zip(questions, answers), key=lambda item: item[0][1]):
            if None in answer:
                continue  # the probe budget ran out: nothing learnt
            group = [loss for loss in answer if loss is not None]
            if min(group) <= self.limit:
                if edge.outside is None or distance < edge.outside:
                    steps = _pair(edge, distance) if self._stepped(edge) else [distance]
                    reached = max(k for k, loss in zip(steps, group) if loss <= self.limit)
                    edge.gaps = edge.gaps or any(loss > self.limit for loss in group)
                    edge.inside = max(edge.inside, reached)
            elif edge.outside is None or distance < edge.outside:
                edge.outside = distance
        for edge, _ in questions:  # a ladder's later rungs may lie beyond its first outside rung
            if edge.outside is not None and edge.inside >= edge.outside:
                edge.outside = None if edge.inside >= edge.room else edge.inside + 1

    def interval(self, name: str, pair: tuple[_Edge, _Edge]) -> list[float]:
        param = self.space[name]
        below, above = pair
        if name in self.steps:
            low, high = (param.to_unit(v) for v in self.steps[name])
            width = high - low
            units = [low - below.inside * width, high + above.inside * width]
        else:
            unit = param.to_unit(self.best[name])
            units = [unit - _middle(below), unit + _middle(above)]
        units = [0.0 if below.reached() else units[0], 1.0 if above.reached() else units[1]]
        return [_value(param, min(1.0, max(0.0, u))) for u in units]

    def plateaus(self, edges: dict[str, tuple[_Edge, _Edge]], flags: dict[str, list[str]]) -> list[str]:
        """Parameters the strategy did not know to act in steps whose render stays identical, then jumps.

        Both edges must be bracketed, the render at the farthest probes inside
        equal to the best's, and the error just outside more than ten
        tolerances above the limit: a step, not a render that drifts a level
        in a few pixels (a slightly different sigma).
        """
        jump = self.limit + 10 * self.tolerance
        found = []
        for name, pair in edges.items():
            if name in self.steps or name in flags or any(e.outside is None or e.inside == 0 for e in pair):
                continue
            inside = [self._points(e, e.inside)[0] for e in pair]
            outside = self.prober.losses([self._points(e, e.outside)[0] for e in pair if e.outside is not None])
            if any(loss is None or loss <= jump for loss in outside):
                continue
            best = self.prober.render_hash(self.best)
            if best is not None and all(self.prober.render_hash(p) == best for p in inside):
                found.append(name)
        return found

    def trade_offs(
        self, edges: dict[str, tuple[_Edge, _Edge]], flags: dict[str, list[str]]
    ) -> list[tuple[str, str, str]]:
        """Pairs of continuous parameters whose error valley runs diagonally."""
        reach = {
            name: min(_middle(e) for e in pair if e.room > 0)
            for name, pair in edges.items()
            if name not in self.steps and name not in flags and any(e.room > 0 for e in pair)
        }
        reach = {name: distance for name, distance in reach.items() if distance > 0}
        names = list(reach)
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
        questions = [(a, b, sign) for a, b in pairs for sign in (1, -1)]
        points = [self._diagonal(a, b, sign, reach) for a, b, sign in questions]
        losses = self.prober.losses(points)
        found: list[tuple[str, str, str]] = []
        for (a, b, sign), loss in zip(questions, losses):
            if loss is not None and loss <= self.limit and (a, b) not in [(x, y) for x, y, _ in found]:
                found.append((a, b, " (both up or both down)" if sign > 0 else " (one up, the other down)"))
        return found

    def _diagonal(self, a: str, b: str, sign: int, reach: dict[str, float]) -> dict[str, Any]:
        point = dict(self.best)
        for name, direction in ((a, 1), (b, sign)):
            param = self.space[name]
            unit = param.to_unit(self.best[name])
            moved = unit + direction * TRADE_OFF_REACH * reach[name]
            if not 0 <= moved <= 1:  # at a bound: the mirror image, and the pair's sign with it
                moved = unit - direction * TRADE_OFF_REACH * reach[name]
            point[name] = param.from_unit(moved)
        return point


def _pair(edge: _Edge, distance: float) -> list[float]:
    """A step and its neighbour (outward, or inward at the bound): a parameter may act on every other step."""
    if distance + 1 <= edge.room:
        return [distance, distance + 1]
    return [distance - 1, distance] if distance >= 1 else [distance]


def _middle(edge: _Edge) -> float:
    """Where the edge most likely is: the middle of its bracket."""
    return edge.inside if edge.outside is None else (edge.inside + edge.outside) / 2


def _value(param: Param, unit: float) -> float:
    """A parameter's value at a unit coordinate, not snapped to its grid (an interval's edge need not be legal)."""
    if param.log:
        return math.exp(math.log(param.low) + unit * (math.log(param.high) - math.log(param.low)))
    return param.low + unit * (param.high - param.low)


def _no_effect_flag(param: Param, interval: list[float], pair: tuple[_Edge, _Edge], stepped: bool) -> str | None:
    width = (param.to_unit(interval[1]) - param.to_unit(interval[0])) if param.high > param.low else 0.0
    if width < NO_EFFECT_SHARE:
        return None
    text = f"no effect in [{interval[0]:.4g}, {interval[1]:.4g}]"
    if stepped and any(edge.gaps for edge in pair):
        text += " on every other step"
    return text
