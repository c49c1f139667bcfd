"""The strategy extension point: propose parameters, learn from evaluations.

Every evaluation, whatever proposed it, is a trial of one Optuna study. A
strategy built on an Optuna sampler lets the sampler pick the trial's
parameters; a strategy of its own (``auto``) enqueues the parameters it
wants and asks the study for that trial, so the study stays the record.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import optuna

from ..errors import StrategyError

if TYPE_CHECKING:
    from ..problem import Evaluation
    from ..space import Space

__all__ = ["STRATEGIES", "Strategy", "get_strategy", "register_strategy"]


class Strategy(ABC):
    """Proposes trials of a study and hears back how they went.

    Subclasses set ``name``; a strategy that can use per-sample residuals
    sets ``wants_residuals``.
    """

    name: str = "strategy"
    wants_residuals: bool = False
    #: True for a strategy that scans globally and then searches locally: it can scan a crop alone
    #: (``scan_only``) and say where its local search would start (``start``), to go on from there
    #: on the whole photo.
    scans_first: bool = False
    #: Set by the run: the study's own trial for exactly these parameters, when it has one
    #: (a resumed run's evaluations), so that ``ask_fixed`` does not evaluate them again.
    known: Callable[[optuna.Study, dict[str, Any]], optuna.Trial | None] | None = None

    def __init__(self, space: Space, *, seed: int | None = None, budget: int = 200, workers: int = 1) -> None:
        self.space = space
        self.seed = seed
        self.budget = budget
        self.workers = workers
        self.hints: list[dict[str, Any]] = []  # parameters to evaluate before anything else
        self.scan_only = False  # set on a strategy that ``scans_first``: stop where the local search would start
        self.start: dict[str, Any] | None = None  # that point, once a scan-only search has found it

    def hint(self, points: Sequence[Mapping[str, Any]], *, learnt_from: Strategy | None = None) -> None:
        """Start from these points (e.g. the best of a search on a crop of the photo).

        ``learnt_from`` is the strategy that found them, on the same space:
        a strategy may take over what it learnt about the parameters.
        """
        self.hints.extend(dict(point) for point in points)

    def sampler(self) -> optuna.samplers.BaseSampler:
        """The sampler the study is created with."""
        return optuna.samplers.RandomSampler(seed=self.seed)

    @abstractmethod
    def ask(self, study: optuna.Study) -> optuna.Trial | None:
        """A new trial to evaluate, or None to wait for results in flight."""

    def tell(self, trial: optuna.Trial, evaluation: Evaluation) -> None:
        """Learn from a finished evaluation (the study already has it)."""

    @property
    def finished(self) -> bool:
        """True when the strategy has nothing more worth evaluating."""
        return False

    def settle(self, evaluate: Callable[[list[dict[str, Any]]], list[Evaluation]]) -> None:
        """Finish, once the search is over, measuring what ``flags`` and ``intervals`` report.

        A strategy may leave such measurements until the answer is found, so
        that they do not delay it. ``evaluate`` evaluates parameter sets (as
        probes of the result) and returns fewer evaluations than asked for
        once the probe budget is spent.
        """

    def flags(self) -> dict[str, list[str]]:
        """What the strategy learnt about each parameter (e.g. steps), for the result."""
        return {}

    def intervals(self, best: dict[str, Any]) -> dict[str, tuple[float, float]]:
        """Ranges around the best values known to give the same render (e.g. a step's extent)."""
        return {}

    def ask_hinted(self, study: optuna.Study) -> optuna.Trial | None:
        """A trial for the next hinted point, or None when none is left."""
        return self.ask_fixed(study, self.hints.pop(0)) if self.hints else None

    def ask_fixed(self, study: optuna.Study, params: dict[str, Any]) -> optuna.Trial:
        """A trial with exactly these parameters, recorded in the study.

        Made running directly, not through Optuna's queue (``enqueue_trial`` then ``ask``): ``ask``
        takes the oldest waiting trial of anyone, so one that a killed run left waiting (or another
        process's) would come back in place of these parameters, and be evaluated twice.
        """
        trial = self.known(study, params) if self.known is not None else None
        if trial is None:
            distributions = self.space.distributions()
            template = optuna.trial.create_trial(
                state=optuna.trial.TrialState.RUNNING,
                params=dict(params),
                distributions={name: distributions[name] for name in params},
            )
            trial = optuna.Trial(study, study._storage.create_new_trial(study._study_id, template_trial=template))
        return trial


STRATEGIES: dict[str, Callable[..., Strategy]] = {}


def register_strategy(name: str, factory: Callable[..., Strategy]) -> None:
    """Make a strategy available by name, the way the built-ins are."""
    STRATEGIES[name] = factory


def get_strategy(
    strategy: str | Strategy, space: Space, *, seed: int | None = None, budget: int = 200, workers: int = 1
) -> Strategy:
    """Normalise a strategy given by name or as an object."""
    if isinstance(strategy, Strategy):
        return strategy
    from . import _builtins  # noqa: F401  (registers the built-in strategies)

    try:
        factory = STRATEGIES[strategy]
    except KeyError:
        raise StrategyError(f"unknown strategy {strategy!r}; valid ones are {', '.join(STRATEGIES)}") from None
    return factory(space, seed=seed, budget=budget, workers=workers)
