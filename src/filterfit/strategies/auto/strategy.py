"""The driver: runs auto's phases in order (see the package docstring) and hands their batches to the study."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna

from ..base import Strategy
from .evaluations import loss, one_level
from .least_squares import levenberg_marquardt
from .needle import needle
from .scan import evaluate_hints, line_scans, sobol_scan
from .state import SearchState
from .steps import bisect_step, find_steps
from .walks import polish_steps

if TYPE_CHECKING:
    from ...problem import Evaluation
    from ...space import Space
    from .state import Search

__all__ = ["AutoStrategy"]

_log = logging.getLogger("filterfit.auto")

IDLE_BATCHES = 50  # batches in a row of only evaluated points: the space is used up
FAR_FROM_TRIED = 0.08  # a new start must be this far (unit coordinates, any axis) from where searches went


@dataclass
class _Task:
    search: Search
    waiting: list[tuple[Any, ...]] = field(default_factory=list)


class AutoStrategy(Strategy):
    """The default strategy; see :mod:`filterfit.strategies.auto` for how it works."""

    name = "auto"
    wants_residuals = True
    scans_first = True

    def __init__(self, space: Space, *, seed: int | None = None, budget: int = 200, workers: int = 1) -> None:
        super().__init__(space, seed=seed, budget=budget, workers=workers)
        self.state = SearchState(space, seed=seed, budget=budget, workers=workers)
        self._queue: deque[tuple[tuple[Any, ...], dict[str, Any]]] = deque()
        self._in_flight: dict[int, tuple[Any, ...]] = {}
        self._task: _Task | None = None

    # -- the driver's side -------------------------------------------------

    def hint(self, points: Sequence[Any], *, learnt_from: Strategy | None = None) -> None:
        """Start from these points instead of a scan; take over the steps another ``auto`` measured."""
        super().hint(points)
        if isinstance(learnt_from, AutoStrategy) and learnt_from.state.numeric == self.state.numeric:
            self.state.take_over(learnt_from.state)
            self.state.hint_is_answer = not learnt_from.scan_only

    def ask(self, study: optuna.Study) -> optuna.Trial | None:
        self._advance()
        while self._queue:
            key, params = self._queue.popleft()
            if key in self.state.cache or key in self._in_flight.values():
                continue
            trial = self.ask_fixed(study, params)
            self._in_flight[trial.number] = key
            return trial
        return None

    def tell(self, trial: optuna.Trial, evaluation: Evaluation) -> None:
        key = self._in_flight.pop(trial.number, None)
        if key is None:
            return
        self.state.cache[key] = evaluation
        self.state.forget_residuals(set(self._task.waiting) if self._task else set())
        self._advance()

    def settle(self, evaluate: Callable[[list[dict[str, Any]]], list[Evaluation]]) -> None:
        """Bisect the step edges the search only bracketed, so that flags and intervals are exact."""
        for bracket in list(self.state.brackets.values()):
            search = bisect_step(self.state, bracket)
            try:
                batch = next(search)
                while True:
                    results = evaluate([self.state.params(point) for point in batch])
                    if len(results) < len(batch):
                        return  # the probe budget is spent: the step stays unreported
                    batch = search.send(results)
            except StopIteration:
                continue

    def flags(self) -> dict[str, list[str]]:
        flags: dict[str, list[str]] = {}
        for name, step in self.state.stepped.items():
            if name in self.state.brackets:  # not measured exactly: not reported
                continue
            param = self.space[name]
            flags.setdefault(name, []).append(
                f"acts in steps (renders identical within {step * (param.high - param.low):.3g})"
            )
        for name in self.state.no_effect:
            flags.setdefault(name, []).append("no effect near the optimum")
        return flags

    def intervals(self, best: dict[str, Any]) -> dict[str, tuple[float, float]]:
        intervals = {}
        for name, width in self.state.stepped.items():
            if name in self.state.brackets:
                continue
            index = [p.name for p in self.state.numeric].index(name)
            param = self.state.numeric[index]
            middle = self.state.centred(index, param.to_unit(best[name]), width)
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
            elif all(key in self.state.cache for key in self._task.waiting):
                results = [self.state.cache[key] for key in self._task.waiting]
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
        params = self.state.params(point)
        key = tuple(params[name] for name in self.space.names)
        if key not in self.state.cache:
            self._queue.append((key, params))
        return key

    def _next_search(self) -> Search:
        if self.hints:
            hints, self.hints = self.hints, []
            return evaluate_hints(self.state, hints)
        start = self._next_start()
        _log.debug("after %d evaluations: %s", len(self.state.cache), "scan" if start is None else f"fit from {start}")
        if start is None:
            return sobol_scan(self.state)
        return self._fit_from(start)

    def _next_start(self) -> tuple[Any, ...] | None:
        state = self.state
        ranked = sorted((k for k in state.scanned if state.cache[k].ok), key=lambda k: loss(state.cache[k]))
        for key in ranked:
            unit = state.unit(key)
            if unit.size == 0:  # only choices: there is nothing to fit from
                return None
            if all(np.max(np.abs(unit - tried)) > FAR_FROM_TRIED for tried in state.tried):
                return key
        return None

    def _fit_from(self, start: tuple[Any, ...]) -> Search:
        """The phases after the scan, from one start: line scans, steps, least squares, needle, polish, needle."""
        state = self.state
        choices = {p.name: start[self.space.names.index(p.name)] for p in state.categorical}
        x = state.unit(start)
        state.tried.append(x.copy())
        base = state.cache[start]
        if base.residuals is None:
            base = (yield [state.compose(x, choices)])[0]
        hinted = start in state.hinted  # the end of a search already (of a crop): no need to look far
        if not hinted:
            x, base = yield from line_scans(state, x, base, choices)
        _log.debug("after %d evaluations: scanned to %s loss %.6g", len(state.cache), base.params, base.loss)
        if not state.probed:
            yield from find_steps(state, x, base, choices)
            _log.debug("after %d evaluations: steps %s", len(state.cache), state.stepped)
        if self.scan_only:
            self.start = base.params
            return
        free = np.ones(len(state.numeric), dtype=bool)
        x, base = yield from levenberg_marquardt(state, x, base, choices, free)
        _log.debug("after %d evaluations: least squares to %s loss %.6g", len(state.cache), base.params, base.loss)
        if base.loss and one_level(base, everywhere=True):  # most likely the right step: an exact render ends it
            x, base = yield from needle(state, x, base, choices)
        if not (hinted and state.hint_is_answer):  # the search that gave the hint has compared the steps
            x, base = yield from polish_steps(state, x, base, choices)
        _log.debug("after %d evaluations: polished to %s loss %.6g", len(state.cache), base.params, base.loss)
        if base.loss:
            x, base = yield from needle(state, x, base, choices)
            _log.debug("after %d evaluations: needle at %s loss %.6g", len(state.cache), base.params, base.loss)
        state.tried.append(x.copy())
