"""``auto``: a global scan, then least squares on the metric's residuals.

Why not a scalar black-box optimiser: image filters have structure that they
cannot see. The metric is a sum over hundreds of thousands of per-pixel
residuals, so a Levenberg-Marquardt step built from a finite-difference
Jacobian of those residuals finds the bottom of a curved valley (the blur's
radius/sigma ridge) in a handful of iterations, and finishes exactly where the
target is reproducible. Parameters that act in steps (ImageMagick's blur radius
changes the kernel every 0.5) give identical renders for nearby values: the
strategy notices equal output hashes, widens its difference step past the
plateau, and finally tries the neighbouring steps with the continuous
parameters re-fitted, so a ridge of per-step optima cannot trap it.

Phases, each a generator that yields batches of points and receives their
evaluations (batches keep every worker busy):

1. a scrambled Sobol scan of the unit cube;
2. Levenberg-Marquardt from the best scanned point not yet tried, with
   several damping values per iteration evaluated as one batch, and central
   differences once progress slows (forward differences over steps wide
   enough to show through 8-bit quantisation are biased, and correlated
   parameters then only creep towards the answer); within one quantisation
   level of the target the squared error is a V of rounding flips, and a
   creeping step is followed by a leap to where that V reaches zero;
3. a step-wise polish of the stepped parameters (step widths and edges that
   are round numbers within the precision measured are taken as exact),
   re-fitting a lone continuous parameter on each step by a parabola;
4. where the render is close but not equal to the target, a search along
   each continuous parameter for the narrow V of the quantised error (first,
   before the polish, when the render is within one level everywhere);
then again from the next start while budget remains.

Phase 1 and the line scans only rank far-apart points, so on a photo of some
size they run alone on a crop of it (``scan_only``, see fidelity.py), and the
rest starts on the whole photo from where least squares would have started.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from scipy.stats import qmc

from .base import Strategy

if TYPE_CHECKING:
    from ..problem import Evaluation
    from ..space import Param, Space

__all__ = ["AutoStrategy"]

_log = logging.getLogger("filterfit.auto")

Batch = list[np.ndarray]
Search = Generator[Batch, list["Evaluation"], None]

FIRST_STEP = 1e-2  # finite-difference step, as a fraction of each parameter's range
SMALLEST_STEP = 1e-5
TINY_STEP = 1e-4  # a move that changes the render of any continuous parameter
EDGE_BISECTIONS = 3
EDGE_GROWTH = 8  # bracketing a step's edge: each probe this much further out
MAX_STRIDE = 8  # steps a walk may jump at once
FEW_LEVELS = 16  # a stepped parameter with at most this many steps is walked end to end
SMALL_GAIN = 1e-3  # relative improvement below which least squares is creeping
CENTRAL_GAIN = 0.2  # relative improvement below which differences become central
WALK_ITERATIONS = 3  # least-squares iterations per step of a walk: enough to rank steps
IDLE_BATCHES = 50  # batches in a row of only evaluated points: the space is used up
WIDEST_STEP = 0.25
STEPS_SPANNED = 4  # difference step of a stepped parameter, in steps
MAX_ITERATIONS = 40
PROBE_MOVES_UP_TO = 2  # free parameters up to which least squares moves to a probe that improves
SCAN_POINTS = 7  # per axis in a line scan
NEEDLE_ROUNDS = 2  # passes over the continuous parameters in the search for an exact render
NEEDLE_ITERATIONS = 6
NEEDLE_SHRINK = 8
KEEP_RESIDUALS = 12  # evaluations whose residuals stay in memory
FAILED_PROBE_GROWTH = 1.5  # a difference step whose probe failed is this much wider next time
FAILED_PROBE_RETRIES = 6  # Jacobians given up for failed probes before least squares stops
ONE_LEVEL = 0.9  # share of differing samples one quantisation level off: the squared error is a V
PARABOLA_ROUNDS = 3  # parabolas per fit of one parameter on a walk's step, while the vertex is outside
PARABOLA_SPREAD = 0.25  # a parabola's half-width, as a share of how far the trend moved its parameter
LEAP_GAIN = 0.35  # relative improvement below which least squares in the V leaps to its predicted zero


@dataclass
class _Point:
    """A legal point: unit coordinates of the numeric parameters plus fixed choices."""

    unit: np.ndarray
    choices: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Bracket:
    """Where a stepped parameter's step ends, bracketed but not yet bisected (unit coordinates).

    ``sides`` holds, above and below ``point``, the farthest distance known to
    give the same render and the nearest known to change it (None: none found).
    """

    index: int
    point: np.ndarray
    choices: dict[str, Any]
    sides: tuple[tuple[float, float | None], tuple[float, float | None]]


@dataclass
class _Task:
    search: Search
    waiting: list[tuple[Any, ...]] = field(default_factory=list)


class AutoStrategy(Strategy):
    """The default strategy; see the module docstring for how it works."""

    name = "auto"
    wants_residuals = True
    scans_first = True

    def __init__(self, space: Space, *, seed: int | None = None, budget: int = 200, workers: int = 1) -> None:
        super().__init__(space, seed=seed, budget=budget, workers=workers)
        self.numeric = space.numeric
        self.categorical = tuple(p for p in space if not p.numeric)
        self._sobol = qmc.Sobol(len(space), scramble=True, seed=seed)
        self._cache: dict[tuple[Any, ...], Evaluation] = {}
        self._queue: deque[tuple[tuple[Any, ...], dict[str, Any]]] = deque()
        self._in_flight: dict[int, tuple[Any, ...]] = {}
        self._task: _Task | None = None
        self._scanned: list[tuple[Any, ...]] = []
        self._hinted: set[tuple[Any, ...]] = set()
        self._tried: list[np.ndarray] = []
        self._stepped: dict[str, float] = {}  # parameter -> smallest difference step that changed the render
        self._no_effect: set[str] = set()
        # Finite-difference steps per numeric parameter (unit coordinates), learnt as the fit goes.
        self._steps = np.array([max(FIRST_STEP, p.resolution) for p in self.numeric])
        self._floors = np.array([max(SMALLEST_STEP, p.resolution) for p in self.numeric])
        self._probed = False
        self._slope = np.zeros(len(self.numeric))  # the loss's last known gradient
        self._centres: dict[str, float] = {}  # a step's middle, per stepped parameter
        # Steps whose edges are bracketed only: least squares needs no more, walks and reports do.
        self._brackets: dict[str, _Bracket] = {}
        self._hint_is_answer = True  # a hint ends a search (a crop's): no line scans, no polish from it

    # -- the driver's side -------------------------------------------------

    def hint(self, points: Sequence[Any], *, learnt_from: Strategy | None = None) -> None:
        """Start from these points instead of a scan; take over the steps another ``auto`` measured."""
        super().hint(points)
        if isinstance(learnt_from, AutoStrategy) and learnt_from.numeric == self.numeric:
            self._stepped, self._centres = dict(learnt_from._stepped), dict(learnt_from._centres)
            self._no_effect = set(learnt_from._no_effect)
            self._brackets = dict(learnt_from._brackets)  # bisected against renders made here (see _bisect_step)
            self._steps, self._floors = learnt_from._steps.copy(), learnt_from._floors.copy()
            self._probed = learnt_from._probed
            self._hint_is_answer = not learnt_from.scan_only

    def ask(self, study: optuna.Study) -> optuna.Trial | None:
        self._advance()
        while self._queue:
            key, params = self._queue.popleft()
            if key in self._cache or key in self._in_flight.values():
                continue
            trial = self.ask_fixed(study, params)
            self._in_flight[trial.number] = key
            return trial
        return None

    def tell(self, trial: optuna.Trial, evaluation: Evaluation) -> None:
        key = self._in_flight.pop(trial.number, None)
        if key is None:
            return
        self._cache[key] = evaluation
        self._forget_residuals()
        self._advance()

    def settle(self, evaluate: Callable[[list[dict[str, Any]]], list[Evaluation]]) -> None:
        """Bisect the step edges the search only bracketed, so that flags and intervals are exact."""
        for bracket in list(self._brackets.values()):
            search = self._bisect_step(bracket)
            try:
                batch = next(search)
                while True:
                    results = evaluate([self._params(point) for point in batch])
                    if len(results) < len(batch):
                        return  # the probe budget is spent: the step stays unreported
                    batch = search.send(results)
            except StopIteration:
                continue

    def flags(self) -> dict[str, list[str]]:
        flags: dict[str, list[str]] = {}
        for name, step in self._stepped.items():
            if name in self._brackets:  # not measured exactly: not reported
                continue
            param = self.space[name]
            flags.setdefault(name, []).append(
                f"acts in steps (renders identical within {step * (param.high - param.low):.3g})"
            )
        for name in self._no_effect:
            flags.setdefault(name, []).append("no effect near the optimum")
        return flags

    def intervals(self, best: dict[str, Any]) -> dict[str, tuple[float, float]]:
        intervals = {}
        for name, width in self._stepped.items():
            if name in self._brackets:
                continue
            index = [p.name for p in self.numeric].index(name)
            param = self.numeric[index]
            middle = self._centred(index, param.to_unit(best[name]), width)
            low, high = (param.from_unit(middle + sign * width / 2) for sign in (-1, 1))
            intervals[name] = (float(low), float(high))
        return intervals

    # -- scheduling --------------------------------------------------------

    def _advance(self) -> None:
        """Feed finished batches to the running search; start the next search.

        In a space of a few points, every batch soon holds only evaluated ones:
        after IDLE_BATCHES of them in a row, nothing is left to ask (the run stops, "exhausted").
        """
        idle = 0
        while idle < IDLE_BATCHES:
            if self._task is None and self.start is not None:  # a scan-only search is done
                return
            if self._task is None:
                self._task = _Task(self._next_search())
                try:
                    batch = next(self._task.search)
                except StopIteration:  # nothing to evaluate: a start (a hint) that is exact already
                    self._task = None
                    idle += 1
                    continue
            elif all(key in self._cache for key in self._task.waiting):
                results = [self._cache[key] for key in self._task.waiting]
                try:
                    batch = self._task.search.send(results)
                except StopIteration:
                    self._task = None
                    continue
            else:
                return
            queued = len(self._queue)
            self._task.waiting = [self._enqueue(point) for point in batch]
            idle = idle + 1 if len(self._queue) == queued else 0

    def _enqueue(self, point: np.ndarray) -> tuple[Any, ...]:
        params = self._params(point)
        key = tuple(params[name] for name in self.space.names)
        if key not in self._cache:
            self._queue.append((key, params))
        return key

    def _forget_residuals(self) -> None:
        kept = [key for key, ev in self._cache.items() if ev.residuals is not None]
        if len(kept) > KEEP_RESIDUALS:
            kept.sort(key=lambda key: _loss(self._cache[key]))
            waiting = set(self._task.waiting) if self._task else set()
            for key in kept[KEEP_RESIDUALS:]:
                if key not in waiting:
                    self._cache[key] = replace(self._cache[key], residuals=None)

    def _next_search(self) -> Search:
        if self.hints:
            return self._evaluate_hints()
        start = self._next_start()
        _log.debug("after %d evaluations: %s", len(self._cache), "scan" if start is None else f"fit from {start}")
        if start is None:
            return self._scan()
        return self._fit_from(start)

    def _next_start(self) -> tuple[Any, ...] | None:
        ranked = sorted((k for k in self._scanned if self._cache[k].ok), key=lambda k: _loss(self._cache[k]))
        for key in ranked:
            unit = self._unit(key)
            if unit.size == 0:  # only choices: there is nothing to fit from
                return None
            if all(np.max(np.abs(unit - tried)) > 0.08 for tried in self._tried):
                return key
        return None

    # -- the searches --------------------------------------------------------

    def _scan(self) -> Search:
        """A batch of scrambled Sobol points over the whole space."""
        dims = len(self.space)
        count = 8 if dims <= 2 else 32 if dims <= 6 else 64
        count = max(4, min(count, self.budget // 4))
        count = 1 << int(math.log2(count))  # Sobol points are balanced in powers of two
        rows = self._sobol.random(count)
        results = yield [self._from_row(row) for row in rows]
        self._scanned.extend(_key(result, self.space) for result in results)

    def _evaluate_hints(self) -> Search:
        """The hinted points, as the starts to fit from before any scan.

        A lone hint that only starts a search (a scan-only crop's) comes with
        least squares' first difference probes around it: they need nothing
        from its evaluation, and a batch of one would leave the other workers idle.
        """
        hints, self.hints = self.hints, []
        units = [(self._unit(tuple(h[n] for n in self.space.names)), self._choices(h)) for h in hints]
        ahead = []
        if len(units) == 1 and not self._hint_is_answer:
            self._reset_steps()
            unit, choices = units[0]
            x = self._unit(tuple(self._params(self._compose(unit, choices)).values()))  # as least squares will see it
            ahead = [self._compose(self._probe(x, i, self._steps[i]), choices) for i in range(len(self.numeric))]
        points = [self._compose(unit, choices) for unit, choices in units]
        results = (yield points + ahead)[: len(points)]
        keys = [_key(result, self.space) for result in results]
        self._scanned.extend(keys)
        self._hinted.update(keys)

    def _choices(self, params: dict[str, Any]) -> dict[str, Any]:
        return {p.name: params[p.name] for p in self.categorical}

    def _from_row(self, row: np.ndarray) -> Any:
        """A Sobol row as a point: numeric coordinates as they are, choices by bucket."""
        unit = np.array([u for p, u in zip(self.space, row) if p.numeric])
        choices = {
            p.name: p.choices[min(len(p.choices) - 1, int(u * len(p.choices)))]
            for p, u in zip(self.space, row)
            if not p.numeric
        }
        return self._compose(unit, choices)

    def _fit_from(self, start: tuple[Any, ...]) -> Search:
        choices = {p.name: start[self.space.names.index(p.name)] for p in self.categorical}
        x = self._unit(start)
        self._tried.append(x.copy())
        base = self._cache[start]
        if base.residuals is None:
            base = (yield [self._compose(x, choices)])[0]
        hinted = start in self._hinted  # the end of a search already (of a crop): no need to look far
        if not hinted:
            x, base = yield from self._line_scans(x, base, choices)
        _log.debug("after %d evaluations: scanned to %s loss %.6g", len(self._cache), base.params, base.loss)
        if not self._probed:
            yield from self._find_steps(x, base, choices)
            _log.debug("after %d evaluations: steps %s", len(self._cache), self._stepped)
        if self.scan_only:
            self.start = base.params
            return
        free = np.ones(len(self.numeric), dtype=bool)
        x, base = yield from self._levenberg_marquardt(x, base, choices, free)
        _log.debug("after %d evaluations: least squares to %s loss %.6g", len(self._cache), base.params, base.loss)
        if base.loss and _one_level(base, everywhere=True):  # most likely the right step: an exact render ends it
            x, base = yield from self._needle(x, base, choices)
        if not (hinted and self._hint_is_answer):  # the search that gave the hint has compared the steps
            x, base = yield from self._polish_steps(x, base, choices)
        _log.debug("after %d evaluations: polished to %s loss %.6g", len(self._cache), base.params, base.loss)
        if base.loss:
            x, base = yield from self._needle(x, base, choices)
            _log.debug("after %d evaluations: needle at %s loss %.6g", len(self._cache), base.params, base.loss)
        self._tried.append(x.copy())

    def _line_scans(
        self, x: np.ndarray, base: Evaluation, choices: dict[str, Any]
    ) -> Generator[Batch, list[Evaluation], tuple[np.ndarray, Evaluation]]:
        """Scan each parameter across its whole range from the start, and move to the best.

        Far from the optimum the residuals are large and a Gauss-Newton model
        crawls along flat valleys; one coarse scan per axis reaches the valley
        floor, where least squares converges fast.
        """
        points = []
        for axis in range(len(self.numeric)):
            for k in range(SCAN_POINTS):
                point = x.copy()
                point[axis] = (k + 0.5) / SCAN_POINTS
                points.append(point)
        results = yield [self._compose(p, choices) for p in points]
        index = min(range(len(results)), key=lambda k: _loss(results[k]), default=None)
        if index is not None and _loss(results[index]) < _loss(base):
            x, base = points[index], results[index]
        if base.residuals is None:
            base = (yield [self._compose(x, choices)])[0]
        return x, base

    def _find_steps(
        self, x: np.ndarray, base: Evaluation, choices: dict[str, Any]
    ) -> Generator[Batch, list[Evaluation], None]:
        """Find the parameters whose renders do not change for small moves, and how wide their steps are.

        A tiny move of each parameter, in one batch; where the render stays
        identical, the edges of that step on both sides are bracketed. The
        width within its bracket is enough for the difference step (several
        steps wide); the edges are bisected only when the step-wise polish
        needs them (``_bisect_step``), or for the report once the answer is
        found (``settle``): the answer does not wait for them.
        """
        self._probed = True
        for index, param in enumerate(self.numeric):
            if param.resolution and not param.log:  # int and stepped parameters: their grid is known
                self._stepped[param.name] = param.resolution
                self._centres[param.name] = 0.0
                self._steps[index] = self._floors[index] = param.resolution
        tiny = [max(TINY_STEP, p.resolution) for p in self.numeric]
        probes = [self._probe(x, i, sign * tiny[i]) for i in range(len(self.numeric)) for sign in (1, -1)]
        results = yield [self._compose(p, choices) for p in probes]
        for index in range(len(self.numeric)):
            pair = results[2 * index : 2 * index + 2]  # both sides: x may sit just below a step's edge
            if self.numeric[index].name in self._stepped:
                continue
            if not any(r.ok and r.output_hash == base.output_hash for r in pair):
                continue
            edges = [self._step_edge(x, base, index, direction, tiny[index], choices) for direction in (1, -1)]
            above, below = yield from _side_by_side(edges)
            name = self.numeric[index].name
            if above[1] is None and below[1] is None and above[0] + below[0] >= 2 * WIDEST_STEP:
                self._no_effect.add(name)
                continue
            self._brackets[name] = _Bracket(index, x.copy(), choices, (above, below))
            self._set_step(index, x[index], _middle(above), _middle(below), bisected=False)

    def _set_step(
        self, index: int, x: float, above: tuple[float, float], below: tuple[float, float], *, bisected: bool
    ) -> None:
        """Record a step from the distances from ``x`` to its edges, each with its error."""
        name = self.numeric[index].name
        if not bisected:  # edges known within their brackets: a width to difference over, no more
            width, centre = above[0] + below[0], x + (above[0] - below[0]) / 2
        else:
            width, centre = _round_step(self.numeric[index], x, above[0], below[0], max(above[1], below[1]))
        self._stepped[name] = width
        self._centres[name] = centre  # middle of this step: walks go centre to centre
        self._steps[index] = min(WIDEST_STEP, width * STEPS_SPANNED)
        self._floors[index] = self._steps[index]

    def _bisect_step(self, bracket: _Bracket) -> Generator[Batch, list[Evaluation], None]:
        """Bisect a bracketed step's edges, against its point's render made again (the problem may differ)."""
        base = (yield [self._compose(bracket.point, bracket.choices)])[0]
        if not base.ok:
            return
        edges = [
            self._bisect_edge(bracket, base.output_hash, direction, side)
            for direction, side in zip((1, -1), bracket.sides)
        ]
        above, below = yield from _side_by_side(edges)
        del self._brackets[self.numeric[bracket.index].name]
        self._set_step(bracket.index, bracket.point[bracket.index], above, below, bisected=True)

    def _step_edge(
        self, x: np.ndarray, base: Evaluation, index: int, direction: int, tiny: float, choices: dict[str, Any]
    ) -> Generator[Batch, list[Evaluation], tuple[float, float | None]]:
        """Bracket how far the render stays identical along one axis and direction: (same, changed) distances."""
        same, changed = tiny, None
        room = 1 - x[index] if direction > 0 else x[index]
        distance = tiny
        while changed is None and distance < min(room, WIDEST_STEP):
            distance = min(distance * EDGE_GROWTH, room, WIDEST_STEP)
            point = x.copy()
            point[index] += direction * distance
            result = (yield [self._compose(point, choices)])[0]
            if result.ok and result.output_hash != base.output_hash:
                changed = distance
            else:
                same = distance
        return same, changed

    def _bisect_edge(
        self, bracket: _Bracket, render_hash: str | None, direction: int, side: tuple[float, float | None]
    ) -> Generator[Batch, list[Evaluation], tuple[float, float]]:
        """One edge of a bracketed step, bisected: its distance from the bracket's point and how precisely."""
        same, changed = side
        if changed is None:
            return same, 0.0
        for _ in range(EDGE_BISECTIONS):
            middle = (same + changed) / 2
            point = bracket.point.copy()
            point[bracket.index] += direction * middle
            result = (yield [self._compose(point, bracket.choices)])[0]
            if result.ok and result.output_hash != render_hash:
                changed = middle
            else:
                same = middle
        return (same + changed) / 2, (changed - same) / 2

    def _levenberg_marquardt(
        self,
        x: np.ndarray,
        base: Evaluation,
        choices: dict[str, Any],
        free: np.ndarray,
        iterations: int = MAX_ITERATIONS,
    ) -> Generator[Batch, list[Evaluation], tuple[np.ndarray, Evaluation]]:
        """Levenberg-Marquardt on the free parameters, from (x, base)."""
        damping, stalls, central, retries, leaping = 1e-3, 0, False, 0, True
        self._reset_steps()
        for _ in range(iterations):
            if base.loss == 0 or base.residuals is None or stalls >= 3:
                break
            probes = [self._probe(x, int(i), self._steps[i]) for i in np.flatnonzero(free)]
            backward = self._backward_probes(x, probes, free) if central else []
            results = yield [self._compose(p, choices) for p in probes + [p for _, p in backward]]
            results, backward_results = results[: len(probes)], results[len(probes) :]
            jacobian = self._jacobian(x, base, probes, results, free)
            if jacobian is not None:
                _central_differences(jacobian, probes, results, backward, backward_results, free)
            # With a parameter or two, a probe that improves is as good a move as any, and cheap. With more,
            # moving from probe to probe is coordinate descent in steps of the difference width: no.
            better = _best(results + backward_results) if free.sum() <= PROBE_MOVES_UP_TO else None
            if better is not None and _loss(better) < _loss(base):
                x, base = self._unit(_key(better, self.space)), better  # a probe improved: move there
                continue
            if jacobian is None and not all(r.ok for r in results) and retries < FAILED_PROBE_RETRIES:
                retries += 1  # failed probes, not a flat loss: try again with the steps _jacobian moved
                continue
            if jacobian is None:
                break
            candidates = self._damped_steps(x, base, jacobian, damping, free)
            if not candidates:
                break
            results = yield [self._compose(c, choices) for c, _ in candidates]
            index = min(range(len(results)), key=lambda k: _loss(results[k]))
            if _loss(results[index]) < _loss(base):
                gain = _loss(base) - _loss(results[index])
                stalls = stalls + 1 if gain < SMALL_GAIN * _loss(base) else 0  # creeping counts as stalling
                # Slow progress means a biased Jacobian: forward differences over steps wide enough to
                # show through quantisation miss the curvature; central ones cancel it.
                central = central or gain < CENTRAL_GAIN * _loss(base)
                self._narrow_steps(np.abs(candidates[index][0] - x), free)
                moved, before = candidates[index][0] - x, base
                x, base, damping = candidates[index][0], results[index], candidates[index][1] / 3
                # Within a level of the target the error counts rounding flips: a V, not the parabola least
                # squares models, so it creeps; the V's slope along the move predicts where it reaches zero.
                if leaping and gain < LEAP_GAIN * _loss(before) and _one_level(base):
                    leap = self._leap(x, moved, before, base)
                    if leap is not None:
                        result = (yield [self._compose(leap, choices)])[0]
                        leaping = _loss(result) < _loss(base)
                        if leaping:
                            x, base = leap, result
            else:
                damping, stalls = candidates[-1][1] * 8, stalls + 1
                if damping > 1e6:
                    break
        return x, base

    def _leap(self, x: np.ndarray, moved: np.ndarray, before: Evaluation, after: Evaluation) -> np.ndarray | None:
        """Where the squared error, falling like a V along the last move, reaches zero; None if it cannot tell.

        The V is a continuous parameter's: a move that changed a stepped parameter's step says nothing of it.
        """
        fall = _exact_squares(before) - _exact_squares(after)
        stepped = np.array([p.name in self._stepped for p in self.numeric])
        jumped = stepped & (moved != 0) & ~self._within_step(x - moved, moved)
        if fall <= 0 or jumped.any():
            return None
        point = np.clip(x + np.where(stepped, 0.0, moved) * _exact_squares(after) / fall, 0, 1)
        return None if np.array_equal(point, x) else point

    def _reset_steps(self) -> None:
        """Continuous parameters' difference steps are learnt afresh at each start of least squares."""
        for i, param in enumerate(self.numeric):
            if param.name not in self._stepped:
                self._steps[i] = max(FIRST_STEP, param.resolution)
                self._floors[i] = max(SMALLEST_STEP, param.resolution)

    def _backward_probes(
        self, x: np.ndarray, forward: list[np.ndarray], free: np.ndarray
    ) -> list[tuple[int, np.ndarray]]:
        """Mirror images of the forward probes of continuous parameters, where they stay in range."""
        mirrored = []
        for k, (index, probe) in enumerate(zip(np.flatnonzero(free), forward)):
            if self.numeric[index].name in self._stepped:
                continue
            point = x.copy()
            point[index] = 2 * x[index] - probe[index]
            if 0 <= point[index] <= 1:
                mirrored.append((k, point))
        return mirrored

    def _narrow_steps(self, moved: np.ndarray, free: np.ndarray) -> None:
        """Near the optimum, difference over about the distance moved (not below what renders show)."""
        for i in np.flatnonzero(free):
            if self.numeric[i].name not in self._stepped:
                self._steps[i] = max(self._floors[i], min(self._steps[i], 2 * moved[i]))

    def _probe(self, x: np.ndarray, index: int, step: float) -> np.ndarray:
        """x moved along one axis by ``step``, reflected at the bounds."""
        probe = x.copy()
        probe[index] = x[index] + step if 0 <= x[index] + step <= 1 else x[index] - step
        return probe

    def _jacobian(
        self,
        x: np.ndarray,
        base: Evaluation,
        probes: Sequence[np.ndarray],
        results: Sequence[Evaluation],
        free: np.ndarray,
    ) -> np.ndarray | None:
        """Finite-difference Jacobian; widens the step of parameters whose render did not change."""
        assert base.residuals is not None
        steps = self._steps
        columns = np.zeros((base.residuals.size, len(self.numeric)), dtype=np.float32)
        usable = False
        for index, probe, result in zip(np.flatnonzero(free), probes, results):
            name = self.numeric[index].name
            if not result.ok:
                # A program that fails for some values: probe a little further out next time, elsewhere.
                steps[index] = min(WIDEST_STEP, steps[index] * FAILED_PROBE_GROWTH)
                continue
            if result.residuals is None:  # an evaluation whose residuals were forgotten: not a failure
                continue
            if result.output_hash == base.output_hash:
                if steps[index] >= WIDEST_STEP:
                    self._no_effect.add(name)
                else:
                    steps[index] = self._floors[index] = min(WIDEST_STEP, steps[index] * 4)
                continue
            self._no_effect.discard(name)
            change = result.residuals - base.residuals
            if _below_quantisation(change) and steps[index] < WIDEST_STEP:
                steps[index] = self._floors[index] = min(WIDEST_STEP, steps[index] * 4)  # a step renders can show
            columns[:, index] = change / (probe[index] - x[index])
            usable = True
        return columns if usable else None

    def _damped_steps(
        self, x: np.ndarray, base: Evaluation, jacobian: np.ndarray, damping: float, free: np.ndarray
    ) -> list[tuple[np.ndarray, float]]:
        """Candidate points for several damping values, strongest damping last."""
        assert base.residuals is not None
        normal = (jacobian.T @ jacobian).astype(np.float64)
        gradient = (jacobian.T @ base.residuals).astype(np.float64)
        self._slope = np.where(free, gradient, self._slope)  # which way is downhill, for the walks
        scale = np.diag(normal).copy()
        scale[scale == 0] = 1.0
        candidates: list[tuple[np.ndarray, float]] = []
        count = max(2, self.workers)
        for k in range(count):
            lam = damping * 10 ** (k - 1) if count > 2 else damping * 10**k
            step = _solve(normal + lam * np.diag(scale), gradient, free)
            # A stepped parameter moved within its step changes nothing, and the others' move, solved
            # as if it did, is off: solve again without it.
            stuck = free & self._within_step(x, step)
            if step is not None and stuck.any():
                step = _solve(normal + lam * np.diag(scale), gradient, free & ~stuck)
            if step is None:
                continue
            point = np.clip(x + step, 0, 1)
            if np.max(np.abs(point - x)) > 1e-9:
                candidates.append((point, lam))
        return candidates

    def _within_step(self, x: np.ndarray, step: np.ndarray | None) -> np.ndarray:
        """Stepped parameters that ``step`` would leave on the step they are on."""
        stuck = np.zeros(len(self.numeric), dtype=bool)
        if step is None:
            return stuck
        for index, param in enumerate(self.numeric):
            width = self._stepped.get(param.name)
            if width is not None and param.name in self._centres and step[index] != 0:
                here = self._centred(index, x[index], width)
                stuck[index] = self._centred(index, x[index] + step[index], width) == here
        return stuck

    def _needle(
        self, x: np.ndarray, base: Evaluation, choices: dict[str, Any]
    ) -> Generator[Batch, list[Evaluation], tuple[np.ndarray, Evaluation]]:
        """Close in on an exact answer along each continuous parameter.

        Least squares stops within a hair of the answer, but a quantised
        render equals the target only closer still. There the squared error
        grows like the distance from the answer (it counts the pixels that
        round the other way: a V, not a parabola), so a V through three
        points predicts where it reaches zero.
        """
        for _ in range(NEEDLE_ROUNDS):
            for index in range(len(self.numeric)):
                if base.loss == 0 or self.numeric[index].name in self._stepped:
                    continue
                x, base = yield from self._needle_axis(x, base, index, choices)
        return x, base

    def _needle_axis(
        self, x: np.ndarray, base: Evaluation, index: int, choices: dict[str, Any]
    ) -> Generator[Batch, list[Evaluation], tuple[np.ndarray, Evaluation]]:
        width = max(SMALLEST_STEP, min(self._steps[index], 10 * SMALLEST_STEP))
        for _ in range(NEEDLE_ITERATIONS):
            if base.loss == 0:
                break
            points = [self._probe(x, index, sign * width) for sign in (1, -1)]
            ahead, behind = yield [self._compose(p, choices) for p in points]
            squares = [_exact_squares(r) for r in (ahead, behind)]
            here = _exact_squares(base)
            if min(squares) < here:  # still downhill: move and look further
                k = int(np.argmin(squares))
                x, base, width = points[k], (ahead, behind)[k], width * 2
                continue
            slope = (max(squares) - here) / width
            if slope <= 0:
                break
            shift = (squares[1] - squares[0]) / (2 * slope)  # where the V through the three points reaches its floor
            point = self._probe(x, index, shift)
            if abs(shift) > width / NEEDLE_SHRINK and not np.array_equal(point, x):
                result = (yield [self._compose(point, choices)])[0]
                if _exact_squares(result) < here:
                    x, base = point, result
            # The answer is within the width; the V may have a floor narrower than it: look closer.
            width /= NEEDLE_SHRINK
        return x, base

    def _polish_steps(
        self, x: np.ndarray, base: Evaluation, choices: dict[str, Any]
    ) -> Generator[Batch, list[Evaluation], tuple[np.ndarray, Evaluation]]:
        """Walk the steps of each stepped parameter both ways (see ``_walk``)."""
        if base.loss != 0:  # walks go from step centre to step centre
            for bracket in list(self._brackets.values()):
                yield from self._bisect_step(bracket)
        for name, step in list(self._stepped.items()):
            index = [p.name for p in self.numeric].index(name)
            others = np.ones(len(self.numeric), dtype=bool)
            others[index] = False
            if base.loss != 0 and others.any():  # first the others on this step, as roughly as the walks fit theirs
                x, base = yield from self._rough_fit(x, base, choices, others)
            downhill = -1 if self._slope[index] > 0 else 1
            for direction in (downhill, -downhill):
                x, base = yield from self._walk(x, base, index, direction * step, choices, others)
            if others.any():  # the walks fit roughly; finish on the best step
                x, base = yield from self._levenberg_marquardt(x, base, choices, others)
        return x, base

    def _walk(
        self, x: np.ndarray, base: Evaluation, index: int, step: float, choices: dict[str, Any], others: np.ndarray
    ) -> Generator[Batch, list[Evaluation], tuple[np.ndarray, Evaluation]]:
        """Walk one stepped parameter in one direction, re-fitting the others on each step.

        The stride doubles while the walk improves, and the others start
        where their trend so far predicts (the ridge of per-step optima is
        smooth). Per-step optima need not be monotonic (ImageMagick's even
        kernel widths are all worse than their odd neighbours), so at stride 1
        the walk goes on past one worse step and stops after two in a row.
        """
        name = self.numeric[index].name
        levels = round(1 / abs(step))
        patience = levels if levels <= FEW_LEVELS else 2  # few levels: try them all, needles included
        here, here_hash, misses, stride = x, base.output_hash, 0, 1
        trend = np.zeros_like(x)
        while base.loss != 0 and misses < patience:
            start = np.clip(here + trend * stride, 0, 1)
            start[index] = self._centred(index, here[index], step)
            found = yield from self._next_step(start, here_hash, index, step * stride, choices)
            if found is None:
                break
            fitted_x, fitted = found
            if others.any():
                guesses = np.abs(start - here) * PARABOLA_SPREAD  # a far guess is a rough one
                fitted_x, fitted = yield from self._rough_fit(fitted_x, fitted, choices, others, guesses)
                if fitted.loss and _one_level(fitted, everywhere=True):  # most likely the right step: finish it first
                    fitted_x, fitted = yield from self._levenberg_marquardt(fitted_x, fitted, choices, others)
            _log.debug(
                "after %d evaluations: step %s -> %s loss %.6g", len(self._cache), name, fitted.params, fitted.loss
            )
            if _loss(fitted) < _loss(base):
                trend = np.where(others, (fitted_x - x) / stride, 0.0)
                x, base, misses, stride = fitted_x, fitted, 0, min(stride * 2, MAX_STRIDE)
                here, here_hash = x, base.output_hash
            elif stride > 1:
                here, here_hash, stride = x, base.output_hash, 1  # overshot: back to single steps from the best
            else:
                here, here_hash, misses = fitted_x, fitted.output_hash, misses + 1
        return x, base

    def _rough_fit(
        self,
        x: np.ndarray,
        base: Evaluation,
        choices: dict[str, Any],
        free: np.ndarray,
        guesses: np.ndarray | None = None,
    ) -> Generator[Batch, list[Evaluation], tuple[np.ndarray, Evaluation]]:
        """The free parameters fitted well enough to rank a step: a parabola for one continuous parameter."""
        lone = int(np.flatnonzero(free)[0]) if free.sum() == 1 else None
        if lone is not None and self.numeric[lone].name not in self._stepped:
            guess = 0.0 if guesses is None else float(guesses[lone])
            return (yield from self._parabola(x, base, lone, choices, guess))
        return (yield from self._levenberg_marquardt(x, base, choices, free, iterations=WALK_ITERATIONS))

    def _parabola(
        self, x: np.ndarray, base: Evaluation, index: int, choices: dict[str, Any], guess: float = 0.0
    ) -> Generator[Batch, list[Evaluation], tuple[np.ndarray, Evaluation]]:
        """One continuous parameter fitted by the parabola of its squared error through three points.

        On a walk's step that is enough to rank the step (its optimum is
        near where the trend predicts), for a third of least squares' evaluations.
        """
        width = max(FIRST_STEP, self.numeric[index].resolution, guess)
        for _ in range(PARABOLA_ROUNDS):
            centre = x
            points = [_moved(centre, index, sign * width) for sign in (-1, 1)]
            results = yield [self._compose(p, choices) for p in points]
            offsets = [points[0][index] - centre[index], 0.0, points[1][index] - centre[index]]
            squares = [_exact_squares(r) for r in (results[0], base, results[1])]
            if len(set(offsets)) < 3 or not all(math.isfinite(f) for f in squares):
                break
            curvature, slope, _ = np.polyfit(offsets, squares, 2)
            if curvature > 0:
                shift = -slope / (2 * curvature)
            else:  # no bottom between the points: go on downhill
                shift = -math.copysign(2 * width, slope) if slope else 0.0
            shift = float(np.clip(shift, -4 * width, 4 * width))
            for point, result in zip(points, results):
                if _loss(result) < _loss(base):
                    x, base = point, result
            vertex = _moved(centre, index, shift)
            if not any(np.array_equal(vertex, p) for p in (centre, *points)):
                result = (yield [self._compose(vertex, choices)])[0]
                if _loss(result) < _loss(base):
                    x, base = vertex, result
            if abs(shift) <= width:  # the bottom is between the points: found as well as a walk needs
                break
        return x, base

    def _centred(self, index: int, value: float, step: float) -> float:
        """The middle of the step that holds ``value``."""
        centre = self._centres.get(self.numeric[index].name)
        if centre is None:
            return value
        return centre + round((value - centre) / abs(step)) * abs(step)

    def _next_step(
        self, x: np.ndarray, render_hash: str | None, index: int, step: float, choices: dict[str, Any]
    ) -> Generator[Batch, list[Evaluation], tuple[np.ndarray, Evaluation] | None]:
        """The first point along one axis whose render differs from ``render_hash``."""
        moved = x.copy()
        for _ in range(8):
            if not 0 <= moved[index] + step <= 1:
                return None
            moved[index] += step
            result = (yield [self._compose(moved, choices)])[0]
            if not result.ok:
                return None
            if result.output_hash != render_hash:
                return moved.copy(), result
        return None

    # -- coordinates -----------------------------------------------------------

    def _params(self, point: Any) -> dict[str, Any]:
        """Legal parameter values of a point: unit coordinates, or (unit coordinates, choices)."""
        choices: dict[str, Any]
        unit, choices = point if isinstance(point, tuple) else (point, {})
        params = {p.name: p.from_unit(u) for p, u in zip(self.numeric, unit)}
        params.update(choices)
        return {name: params[name] for name in self.space.names}

    def _compose(self, unit: np.ndarray, choices: dict[str, Any]) -> Any:
        return (unit, choices) if choices else unit

    def _unit(self, key: tuple[Any, ...]) -> np.ndarray:
        values = dict(zip(self.space.names, key))
        return np.array([p.to_unit(values[p.name]) for p in self.numeric])


def _side_by_side(
    searches: Sequence[Generator[Batch, list[Evaluation], Any]],
) -> Generator[Batch, list[Evaluation], list[Any]]:
    """Run searches together, each batch holding the next points of all (so that workers are not idle)."""
    outcomes: list[Any] = [None] * len(searches)
    batches: dict[int, Batch] = {}
    for index, search in enumerate(searches):
        try:
            batches[index] = next(search)
        except StopIteration as stop:
            outcomes[index] = stop.value
    while batches:
        order = list(batches)
        results = yield [point for index in order for point in batches[index]]
        for index in order:
            size = len(batches[index])
            part, results = results[:size], results[size:]
            try:
                batches[index] = searches[index].send(part)
            except StopIteration as stop:
                outcomes[index] = stop.value
                del batches[index]
    return outcomes


def _moved(x: np.ndarray, index: int, distance: float) -> np.ndarray:
    """x moved along one axis, stopping at the bounds."""
    point = x.copy()
    point[index] = np.clip(x[index] + distance, 0, 1)
    return point


def _middle(side: tuple[float, float | None]) -> tuple[float, float]:
    """A bracket's middle and half-width; a side where no change was found ends where the search did."""
    same, changed = side
    return (same, 0.0) if changed is None else ((same + changed) / 2, (changed - same) / 2)


def _solve(matrix: np.ndarray, gradient: np.ndarray, free: np.ndarray) -> np.ndarray | None:
    """The Gauss-Newton step of the free parameters (the others stay), or None when singular."""
    step = np.zeros_like(gradient)
    if not free.any():
        return None
    try:
        step[free] = np.linalg.solve(matrix[np.ix_(free, free)], -gradient[free])
    except np.linalg.LinAlgError:
        return None
    return step


def _central_differences(
    jacobian: np.ndarray,
    forward: Sequence[np.ndarray],
    forward_results: Sequence[Evaluation],
    backward: Sequence[tuple[int, np.ndarray]],
    backward_results: Sequence[Evaluation],
    free: np.ndarray,
) -> None:
    """Replace forward-difference columns by central ones where both probes rendered."""
    indices = np.flatnonzero(free)
    for (k, point), result in zip(backward, backward_results):
        ahead = forward_results[k]
        if result.residuals is None or ahead.residuals is None or not (result.ok and ahead.ok):
            continue
        index = indices[k]
        jacobian[:, index] = (ahead.residuals - result.residuals) / (forward[k][index] - point[index])


def _below_quantisation(change: np.ndarray) -> bool:
    """True when a difference is mostly rounding: few samples moved, by about one level.

    Renders are quantised (8 or 16 bits); a step too small to show in most
    samples gives a Jacobian of rounding noise whose inflated norm makes
    Gauss-Newton steps far too short.
    """
    moved = np.abs(change[change != 0])
    if moved.size == 0:
        return True
    level = moved.min()
    return float(np.abs(change).mean()) < 0.5 * level


def _one_level(evaluation: Evaluation, everywhere: bool = False) -> bool:
    """True when the render differs from the target by one quantisation level where it differs (mostly, or everywhere).

    There a continuous parameter's residuals are rounding flips whose number grows like the
    distance from the answer: the squared error is a V. A wrong step of a stepped parameter
    (the blur's kernel width) leaves some samples several levels off even at its best.
    """
    if evaluation.residuals is None:
        return False
    moved = np.abs(evaluation.residuals[evaluation.residuals != 0])
    if moved.size == 0:
        return False
    if everywhere:
        return bool(moved.max() <= 1.5 * moved.min())
    return float(np.mean(moved <= 1.5 * moved.min())) >= ONE_LEVEL


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


def _exact_squares(evaluation: Evaluation) -> float:
    """The squared loss (for rmse: the mean squared error), which grows like |distance| near an exact answer."""
    return math.inf if evaluation.loss is None else evaluation.loss**2


def _loss(evaluation: Evaluation) -> float:
    return math.inf if evaluation.loss is None else evaluation.loss


def _best(results: Sequence[Evaluation]) -> Evaluation | None:
    ok = [r for r in results if r.ok]
    return min(ok, key=_loss) if ok else None


def _key(evaluation: Evaluation, space: Space) -> tuple[Any, ...]:
    return tuple(evaluation.params[name] for name in space.names)
