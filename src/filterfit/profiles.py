"""The probe search behind the intervals: each numeric parameter moved alone from the best to its edges.

Each parameter is moved up and down from the best, the others held at their
best values, until the error rises above the limit. A geometric ladder of
probes brackets each edge, bisection narrows it; each edge asks one question a
round, and a round's questions are evaluated in one batch. Evaluations the
search already made at a probed point are reused. A stepped parameter is probed
step by step, a step and its neighbour together (it may act only on every
other step). The search also asks the probes behind two flags: whether a
diagonal move stays within the limit (a trade-off), and whether the render
stays identical up to the edges (a plateau). :mod:`filterfit.uncertainty`
turns the edges into intervals and flags.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .result import TrialRecord

if TYPE_CHECKING:
    from .metrics import Metric
    from .problem import Evaluation
    from .space import Param, Space

__all__ = ["Edge", "Evaluate", "Prober", "Profiles"]

SMALLEST_DISTANCE = 1e-6  # in unit coordinates: the first rung of the ladder
LADDER_FACTOR = 10
PRECISION = 0.05  # an edge is bracketed within this share of its distance from the best
MAX_ROUNDS = 60  # a bracket halves each round: far more than any edge needs
TRADE_OFF_REACH = 2  # diagonal probes go this many times each parameter's own interval

Evaluate = Callable[[list[dict[str, Any]]], list["Evaluation"]]


@dataclass
class Edge:
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
class Prober:
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


class Profiles:
    """The one-parameter-at-a-time search for each interval's edges."""

    def __init__(
        self,
        space: Space,
        best: dict[str, Any],
        steps: dict[str, tuple[float, float]],
        prober: Prober,
        limit: float,
        tolerance: float,
    ) -> None:
        self.space, self.best, self.steps, self.prober = space, dict(best), steps, prober
        self.limit, self.tolerance = limit, tolerance

    def search(self) -> dict[str, tuple[Edge, Edge]]:
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

    def _stepped(self, edge: Edge) -> bool:
        return edge.param.name in self.steps

    def _edge(self, param: Param, side: int) -> Edge:
        unit = param.to_unit(self.best[param.name])
        room = 1 - unit if side > 0 else unit
        if param.name in self.steps:
            low, high = self.steps[param.name]
            width = param.to_unit(high) - param.to_unit(low)
            edge = param.to_unit(high) if side > 0 else param.to_unit(low)
            room = math.floor(max(0.0, (1 - edge) if side > 0 else edge) / width + 1e-9)
        return Edge(param, side, room)

    def _ladder(self, edge: Edge) -> list[float]:
        if self._stepped(edge):
            rungs = [1.0]
            while rungs[-1] * 4 < edge.room:
                rungs.append(rungs[-1] * 4)
            return [r for r in rungs + [float(edge.room)] if r <= edge.room and edge.room > 0]
        rungs = [SMALLEST_DISTANCE * LADDER_FACTOR**k for k in range(7)]
        return [r for r in rungs if r < edge.room] + ([edge.room] if edge.room > 0 else [])

    def _points(self, edge: Edge, distance: float) -> list[dict[str, Any]]:
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

    def _settle(self, questions: list[tuple[Edge, float]]) -> None:
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

    def interval(self, name: str, pair: tuple[Edge, Edge]) -> list[float]:
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

    def plateaus(self, edges: dict[str, tuple[Edge, Edge]], flags: dict[str, list[str]]) -> list[str]:
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
        self, edges: dict[str, tuple[Edge, Edge]], flags: dict[str, list[str]]
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


def _pair(edge: Edge, distance: float) -> list[float]:
    """A step and its neighbour (outward, or inward at the bound): a parameter may act on every other step."""
    if distance + 1 <= edge.room:
        return [distance, distance + 1]
    return [distance - 1, distance] if distance >= 1 else [distance]


def _middle(edge: Edge) -> float:
    """Where the edge most likely is: the middle of its bracket."""
    return edge.inside if edge.outside is None else (edge.inside + edge.outside) / 2


def _value(param: Param, unit: float) -> float:
    """A parameter's value at a unit coordinate, not snapped to its grid (an interval's edge need not be legal)."""
    if param.log:
        return math.exp(math.log(param.low) + unit * (math.log(param.high) - math.log(param.low)))
    return param.low + unit * (param.high - param.low)
