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
   several damping values per iteration evaluated as one batch;
3. a step-wise polish of the stepped parameters;
then again from the next start while budget remains.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from scipy.stats import qmc

from .base import Strategy

if TYPE_CHECKING:
    from ..problem import Evaluation
    from ..space import Space

__all__ = ["AutoStrategy"]

Batch = list[np.ndarray]
Search = Generator[Batch, list["Evaluation"], None]

FIRST_STEP = 1e-3  # finite-difference step, as a fraction of each parameter's range
WIDEST_STEP = 0.25
STEPS_SPANNED = 4  # difference step of a stepped parameter, in steps
MAX_ITERATIONS = 40
SCAN_POINTS = 7  # per axis in a line scan
KEEP_RESIDUALS = 12  # evaluations whose residuals stay in memory


@dataclass
class _Point:
    """A legal point: unit coordinates of the numeric parameters plus fixed choices."""

    unit: np.ndarray
    choices: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Task:
    search: Search
    waiting: list[tuple[Any, ...]] = field(default_factory=list)


class AutoStrategy(Strategy):
    """The default strategy; see the module docstring for how it works."""

    name = "auto"
    wants_residuals = True

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
        self._tried: list[np.ndarray] = []
        self._stepped: dict[str, float] = {}  # parameter -> smallest difference step that changed the render
        self._no_effect: set[str] = set()

    # -- the driver's side -------------------------------------------------

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

    def flags(self) -> dict[str, list[str]]:
        flags: dict[str, list[str]] = {}
        for name, step in self._stepped.items():
            param = self.space[name]
            flags.setdefault(name, []).append(f"acts in steps (renders identical within {step * (param.high - param.low):.3g})")
        for name in self._no_effect:
            flags.setdefault(name, []).append("no effect near the optimum")
        return flags

    # -- scheduling --------------------------------------------------------

    def _advance(self) -> None:
        """Feed finished batches to the running search; start the next search."""
        while True:
            if self._task is None:
                self._task = _Task(self._next_search())
                batch = next(self._task.search)
            elif all(key in self._cache for key in self._task.waiting):
                results = [self._cache[key] for key in self._task.waiting]
                try:
                    batch = self._task.search.send(results)
                except StopIteration:
                    self._task = None
                    continue
            else:
                return
            self._task.waiting = [self._enqueue(point) for point in batch]

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
        start = self._next_start()
        if start is None:
            return self._scan()
        return self._fit_from(start)

    def _next_start(self) -> tuple[Any, ...] | None:
        ranked = sorted((k for k in self._scanned if self._cache[k].ok), key=lambda k: _loss(self._cache[k]))
        for key in ranked:
            unit = self._unit(key)
            if all(np.max(np.abs(unit - tried)) > 0.08 for tried in self._tried):
                return key
        return None

    # -- the searches --------------------------------------------------------

    def _scan(self) -> Search:
        """A batch of scrambled Sobol points over the whole space."""
        dims = len(self.space)
        count = 16 if dims <= 2 else 32 if dims <= 6 else 64
        count = max(4, min(count, self.budget // 4))
        count = 1 << int(math.log2(count))  # Sobol points are balanced in powers of two
        rows = self._sobol.random(count)
        results = yield [self._from_row(row) for row in rows]
        self._scanned.extend(_key(result, self.space) for result in results)

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
        x, base = yield from self._line_scans(x, base, choices)
        free = np.ones(len(self.numeric), dtype=bool)
        x, base = yield from self._levenberg_marquardt(x, base, choices, free)
        x, base = yield from self._polish_steps(x, base, choices)
        self._tried.append(x.copy())

    def _line_scans(
        self, x: np.ndarray, base: Evaluation, choices: dict[str, Any]
    ) -> Generator[Batch, list[Evaluation], tuple[np.ndarray, Evaluation]]:
        """Scan each parameter across its whole range from the start, and move to the best.

        Far from the optimum the residuals are large and a Gauss-Newton model
        crawls along flat valleys; one coarse scan per axis reaches the valley
        floor, where least squares converges fast.
        """
        moved_axis = -1
        for _ in range(len(self.numeric)):
            axes = [i for i in range(len(self.numeric)) if i != moved_axis]
            points = []
            for axis in axes:
                for k in range(SCAN_POINTS):
                    point = x.copy()
                    point[axis] = (k + 0.5) / SCAN_POINTS
                    points.append(point)
            results = yield [self._compose(p, choices) for p in points]
            index = min(range(len(results)), key=lambda k: _loss(results[k]))
            if _loss(results[index]) >= _loss(base):
                break
            x, base = points[index], results[index]
            moved_axis = axes[index // SCAN_POINTS]
        if base.residuals is None:
            base = (yield [self._compose(x, choices)])[0]
        return x, base

    def _levenberg_marquardt(
        self, x: np.ndarray, base: Evaluation, choices: dict[str, Any], free: np.ndarray
    ) -> Generator[Batch, list[Evaluation], tuple[np.ndarray, Evaluation]]:
        steps = np.array([max(FIRST_STEP, p.resolution) for p in self.numeric])
        damping = 1e-3
        for _ in range(MAX_ITERATIONS):
            if base.loss == 0 or base.residuals is None:
                break
            probes = [self._probe(x, i, steps[i]) for i in np.flatnonzero(free)]
            results = yield [self._compose(p, choices) for p in probes]
            jacobian = self._jacobian(x, base, probes, results, steps, free)
            better = _best(results)
            if better is not None and _loss(better) < _loss(base):
                x, base = self._unit(_key(better, self.space)), better  # a probe improved: move there
                continue
            if jacobian is None:
                break
            candidates = self._damped_steps(x, base, jacobian, damping, free)
            if not candidates:
                break
            results = yield [self._compose(c, choices) for c, _ in candidates]
            index = min(range(len(results)), key=lambda k: _loss(results[k]))
            if _loss(results[index]) < _loss(base):
                x, base, damping = candidates[index][0], results[index], candidates[index][1] / 3
            else:
                damping = candidates[-1][1] * 8
                if damping > 1e8:
                    break
        return x, base

    def _probe(self, x: np.ndarray, index: int, step: float) -> np.ndarray:
        probe = x.copy()
        probe[index] = x[index] + step if x[index] + step <= 1 else x[index] - step
        return probe

    def _jacobian(
        self,
        x: np.ndarray,
        base: Evaluation,
        probes: Sequence[np.ndarray],
        results: Sequence[Evaluation],
        steps: np.ndarray,
        free: np.ndarray,
    ) -> np.ndarray | None:
        """Finite-difference Jacobian; widens the step of parameters whose render did not change."""
        assert base.residuals is not None
        columns = np.zeros((base.residuals.size, len(self.numeric)), dtype=np.float32)
        usable = False
        for index, probe, result in zip(np.flatnonzero(free), probes, results):
            name = self.numeric[index].name
            if not result.ok or result.residuals is None:
                continue
            if result.output_hash == base.output_hash:
                if steps[index] >= WIDEST_STEP:
                    self._no_effect.add(name)
                else:
                    steps[index] = min(WIDEST_STEP, steps[index] * 4)
                continue
            if steps[index] > max(FIRST_STEP, self.numeric[index].resolution) and name not in self._stepped:
                # A staircase: difference across several steps so the slope is the trend, not one riser.
                self._stepped[name] = float(steps[index])
                steps[index] = min(WIDEST_STEP, steps[index] * STEPS_SPANNED)
            self._no_effect.discard(name)
            change = result.residuals - base.residuals
            if _below_quantisation(change) and steps[index] < WIDEST_STEP:
                steps[index] = min(WIDEST_STEP, steps[index] * 4)  # next time, a step the output can show
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
        scale = np.diag(normal).copy()
        scale[scale == 0] = 1.0
        candidates: list[tuple[np.ndarray, float]] = []
        count = max(2, self.workers)
        for k in range(count):
            lam = damping * 10 ** (k - 1) if count > 2 else damping * 10**k
            try:
                step = np.linalg.solve(normal + lam * np.diag(scale), -gradient)
            except np.linalg.LinAlgError:
                continue
            step[~free] = 0
            point = np.clip(x + step, 0, 1)
            if np.max(np.abs(point - x)) > 1e-9:
                candidates.append((point, lam))
        return candidates

    def _polish_steps(
        self, x: np.ndarray, base: Evaluation, choices: dict[str, Any]
    ) -> Generator[Batch, list[Evaluation], tuple[np.ndarray, Evaluation]]:
        """Try the neighbouring steps of each stepped parameter, re-fitting the others."""
        for name, step in list(self._stepped.items()):
            if base.loss == 0:
                break
            index = [p.name for p in self.numeric].index(name)
            others = np.ones(len(self.numeric), dtype=bool)
            others[index] = False
            for direction in (1, -1):
                while base.loss != 0:
                    moved = x.copy()
                    moved[index] = np.clip(x[index] + direction * step, 0, 1)
                    if moved[index] == x[index]:
                        break
                    start = (yield [self._compose(moved, choices)])[0]
                    while start.ok and start.output_hash == base.output_hash and 0 < moved[index] < 1:
                        moved[index] = np.clip(moved[index] + direction * step, 0, 1)  # still the same step
                        start = (yield [self._compose(moved, choices)])[0]
                    if not start.ok:
                        break
                    fitted_x, fitted = yield from self._levenberg_marquardt(moved, start, choices, others)
                    if _loss(fitted) >= _loss(base):
                        break
                    x, base = fitted_x, fitted
        return x, base

    # -- coordinates -----------------------------------------------------------

    def _params(self, point: np.ndarray) -> dict[str, Any]:
        unit, choices = point if isinstance(point, tuple) else (point, {})
        params = {p.name: p.from_unit(u) for p, u in zip(self.numeric, unit)}
        params.update(choices)
        return {name: params[name] for name in self.space.names}

    def _compose(self, unit: np.ndarray, choices: dict[str, Any]) -> Any:
        return (unit, choices) if choices else unit

    def _unit(self, key: tuple[Any, ...]) -> np.ndarray:
        values = dict(zip(self.space.names, key))
        return np.array([p.to_unit(values[p.name]) for p in self.numeric])


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


def _loss(evaluation: Evaluation) -> float:
    return math.inf if evaluation.loss is None else evaluation.loss


def _best(results: Sequence[Evaluation]) -> Evaluation | None:
    ok = [r for r in results if r.ok]
    return min(ok, key=_loss) if ok else None


def _key(evaluation: Evaluation, space: Space) -> tuple[Any, ...]:
    return tuple(evaluation.params[name] for name in space.names)
