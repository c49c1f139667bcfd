"""What auto's phases share: the evaluations heard of, the steps measured, and the unit-cube coordinates.

Every phase is a generator that yields batches of points (unit coordinates of
the numeric parameters, with the choices when the space has any) and receives
their evaluations; it reads and updates one :class:`SearchState`.
"""

from __future__ import annotations

from collections.abc import Collection, Generator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import qmc

from .evaluations import loss

if TYPE_CHECKING:
    from ...problem import Evaluation
    from ...space import Space

__all__ = ["Batch", "Bracket", "Search", "SearchState", "side_by_side"]

Batch = list[Any]  # points: unit coordinates, or (unit coordinates, choices)
Search = Generator[Batch, list["Evaluation"], Any]

FIRST_STEP = 1e-2  # finite-difference step, as a fraction of each parameter's range
SMALLEST_STEP = 1e-5
WIDEST_STEP = 0.25
STEPS_SPANNED = 4  # difference step of a stepped parameter, in steps
KEEP_RESIDUALS = 12  # evaluations whose residuals stay in memory


@dataclass
class Bracket:
    """Where a stepped parameter's step ends, bracketed but not yet bisected (unit coordinates).

    ``sides`` holds, above and below ``point``, the farthest distance known to
    give the same render and the nearest known to change it (None: none found).
    """

    index: int
    point: np.ndarray
    choices: dict[str, Any]
    sides: tuple[tuple[float, float | None], tuple[float, float | None]]


@dataclass
class SearchState:
    """The space, what was evaluated, and what was learnt about each numeric parameter."""

    space: Space
    seed: int | None = None
    budget: int = 200
    workers: int = 1
    cache: dict[tuple[Any, ...], Evaluation] = field(default_factory=dict)  # every evaluation heard of
    scanned: list[tuple[Any, ...]] = field(default_factory=list)  # starts a local search may begin from
    hinted: set[tuple[Any, ...]] = field(default_factory=set)
    tried: list[np.ndarray] = field(default_factory=list)  # where local searches began and ended
    stepped: dict[str, float] = field(default_factory=dict)  # parameter -> smallest step that changed the render
    no_effect: set[str] = field(default_factory=set)
    centres: dict[str, float] = field(default_factory=dict)  # a step's middle, per stepped parameter
    # Steps whose edges are bracketed only: least squares needs no more, walks and reports do.
    brackets: dict[str, Bracket] = field(default_factory=dict)
    probed: bool = False  # the steps have been looked for
    hint_is_answer: bool = True  # a hint ends a search (a crop's): no line scans, no polish from it

    def __post_init__(self) -> None:
        self.numeric = self.space.numeric
        self.categorical = tuple(p for p in self.space if not p.numeric)
        self.sobol = qmc.Sobol(len(self.space), scramble=True, seed=self.seed)
        # Finite-difference steps per numeric parameter (unit coordinates), learnt as the fit goes.
        self.steps = np.array([max(FIRST_STEP, p.resolution) for p in self.numeric])
        self.floors = np.array([max(SMALLEST_STEP, p.resolution) for p in self.numeric])
        self.slope = np.zeros(len(self.numeric))  # the loss's last known gradient

    def take_over(self, other: SearchState) -> None:
        """What another search of the same space measured (a crop's): steps, their edges, difference steps."""
        self.stepped, self.centres = dict(other.stepped), dict(other.centres)
        self.no_effect = set(other.no_effect)
        self.brackets = dict(other.brackets)  # bisected against renders made here (see steps.bisect_step)
        self.steps, self.floors = other.steps.copy(), other.floors.copy()
        self.probed = other.probed

    def forget_residuals(self, waiting: Collection[tuple[Any, ...]]) -> None:
        """Keep the residuals of the best KEEP_RESIDUALS evaluations (and of those a search waits for) only."""
        kept = [key for key, ev in self.cache.items() if ev.residuals is not None]
        if len(kept) > KEEP_RESIDUALS:
            kept.sort(key=lambda key: loss(self.cache[key]))
            for key in kept[KEEP_RESIDUALS:]:
                if key not in waiting:
                    self.cache[key] = replace(self.cache[key], residuals=None)

    # -- steps ----------------------------------------------------------------

    def set_step(self, index: int, width: float, centre: float) -> None:
        """Record a stepped parameter's step width and the middle of the step, in unit coordinates."""
        name = self.numeric[index].name
        self.stepped[name] = width
        self.centres[name] = centre  # middle of this step: walks go centre to centre
        self.steps[index] = min(WIDEST_STEP, width * STEPS_SPANNED)
        self.floors[index] = self.steps[index]

    def reset_steps(self) -> None:
        """Continuous parameters' difference steps are learnt afresh at each start of least squares."""
        for i, param in enumerate(self.numeric):
            if param.name not in self.stepped:
                self.steps[i] = max(FIRST_STEP, param.resolution)
                self.floors[i] = max(SMALLEST_STEP, param.resolution)

    def centred(self, index: int, value: float, step: float) -> float:
        """The middle of the step that holds ``value``."""
        centre = self.centres.get(self.numeric[index].name)
        if centre is None:
            return value
        return centre + round((value - centre) / abs(step)) * abs(step)

    def within_step(self, x: np.ndarray, step: np.ndarray | None) -> np.ndarray:
        """Stepped parameters that ``step`` would leave on the step they are on."""
        stuck = np.zeros(len(self.numeric), dtype=bool)
        if step is None:
            return stuck
        for index, param in enumerate(self.numeric):
            width = self.stepped.get(param.name)
            if width is not None and param.name in self.centres and step[index] != 0:
                here = self.centred(index, x[index], width)
                stuck[index] = self.centred(index, x[index] + step[index], width) == here
        return stuck

    # -- coordinates ------------------------------------------------------------

    def params(self, point: Any) -> dict[str, Any]:
        """Legal parameter values of a point: unit coordinates, or (unit coordinates, choices)."""
        choices: dict[str, Any]
        unit, choices = point if isinstance(point, tuple) else (point, {})
        params = {p.name: p.from_unit(u) for p, u in zip(self.numeric, unit)}
        params.update(choices)
        return {name: params[name] for name in self.space.names}

    def compose(self, unit: np.ndarray, choices: dict[str, Any]) -> Any:
        return (unit, choices) if choices else unit

    def unit(self, key: tuple[Any, ...]) -> np.ndarray:
        values = dict(zip(self.space.names, key))
        return np.array([p.to_unit(values[p.name]) for p in self.numeric])

    def choices(self, params: dict[str, Any]) -> dict[str, Any]:
        return {p.name: params[p.name] for p in self.categorical}

    def probe(self, x: np.ndarray, index: int, step: float) -> np.ndarray:
        """x moved along one axis by ``step``, reflected at the bounds."""
        probe = x.copy()
        probe[index] = x[index] + step if 0 <= x[index] + step <= 1 else x[index] - step
        return probe


def side_by_side(searches: Sequence[Search]) -> Search:
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
