"""The methods the benchmark compares: filterfit's ``auto`` and the optimisers a user would otherwise pick.

Every method runs through ``filterfit.fit()``, so all of them minimise the same objective through the
same evaluator: the command reads the photo as PPM on a pipe and writes the target's format to a pipe,
filterfit's rmse scores it, and a run stops early once rmse < 1e-5, whoever proposed the point. Only
the Strategy differs, i.e. who proposes the next parameters:

- ``auto``: filterfit's own strategy, 2 workers.
- ``tpe``, ``cmaes``, ``gp``, ``random``: an Optuna sampler exactly as the library makes it by
  default (only the seed set), 2 workers; Optuna samplers take parallel asks as they come.
- ``ngopt``: nevergrad's NGOpt over one bounded Scalar per parameter, told ``num_workers=2`` and
  asked for two points at a time (a batch), 2 workers.
- ``benderopt``: ``benderopt.minimize`` itself, sequential as it is designed, 1 worker. It is
  the honest peer rather than filterfit's ``benderopt`` strategy: that strategy is filterfit's
  adapter (it calls benderopt's ``suggest()`` for parallel workers, which benderopt never does,
  and swaps its generators), whereas ``minimize`` is what the memo and any benderopt user runs.
- ``nelder-mead``: ``scipy.optimize.minimize(method="Nelder-Mead")`` from a seeded uniformly random
  start, on the unit cube (bounds [0, 1] per parameter), ``maxfev`` = budget, 1 worker.

Sequential methods get 1 worker because a second would idle; ImageMagick may then use both cores
by itself (OpenMP), which is what such a user gets.
"""

from __future__ import annotations

import importlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna

import filterfit
from filterfit.space import as_space
from filterfit.strategies import Strategy
from filterfit.strategies.samplers import SamplerStrategy

if TYPE_CHECKING:
    from problems import BenchProblem

    from filterfit.problem import Evaluation
    from filterfit.space import Space

FAILED_LOSS = 1e6  # what a sequential minimiser is told for a failed render: worse than any rmse


@dataclass(frozen=True)
class Outcome:
    """One run of one method on one problem with one seed."""

    problem: str
    method: str
    seed: int
    budget: int
    workers: int
    status: str = "ok"  # or "skipped: ..." / "failed: ..."
    success: bool = False  # the best answer meets the problem's rule
    first_success: int | None = None  # evaluations until the first one that met the rule
    evaluations: int = 0
    best_error: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0  # fit() called -> result returned
    note: str = ""
    # every evaluation's parameters and the crop it rendered ("WxH+X+Y", None: the whole photo), in trial order
    evaluated: tuple[tuple[dict[str, Any], str | None], ...] = ()
    evaluating_s: float = 0.0  # the time spent inside evaluations, summed over them (all workers)

    @property
    def ran(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Method:
    """How to make a method's Strategy, how many workers it runs with, and what it needs installed."""

    name: str
    workers: int
    make: Callable[..., Strategy | str]  # (space, *, seed, budget, workers) -> Strategy or a built-in's name
    needs: tuple[str, ...] = ()

    def missing(self) -> str | None:
        """The first package this method needs that does not import, or None."""
        for module in self.needs:
            try:
                importlib.import_module(module)
            except ImportError:
                return module
        return None


def run(problem: BenchProblem, method: Method, seed: int, budget: int) -> Outcome:
    """One fit; a missing package or a crash becomes a row that says so, never the end of the benchmark."""
    base = {"problem": problem.name, "method": method.name, "seed": seed, "budget": budget, "workers": method.workers}
    missing = method.missing()
    if missing is not None:
        return Outcome(**base, status=f"skipped: {missing} not installed")
    space = as_space(list(problem.params))
    strategy: Strategy | str | None = None
    try:
        strategy = method.make(space, seed=seed, budget=budget, workers=method.workers)
        started = time.perf_counter()
        result = filterfit.fit(
            problem.template,
            space,
            problem.source,
            problem.target,
            strategy=strategy,
            seed=seed,
            budget=budget,
            workers=method.workers,
            probes=0,  # the search alone: the uncertainty probes after it are not what is compared
        )
        wall = time.perf_counter() - started
    except Exception as error:  # one bad method must not end a long benchmark
        return Outcome(**base, status=f"failed: {type(error).__name__}: {error}")
    finally:
        if isinstance(strategy, LoopStrategy):
            strategy.close()
    # success counts on the whole image: evaluations on a crop (auto on large photos) score other pixels
    whole = [r for r in result.history if _crop(r.fidelity) is None]
    first = next((r.number + 1 for r in whole if problem.success(r.params, r.error)), None)
    return Outcome(
        **base,
        success=problem.success(result.best_params, result.best_error),
        first_success=first,
        evaluations=result.evaluations,
        best_error=result.best_error,
        best_params=dict(result.best_params),
        wall_s=wall,
        note=getattr(strategy, "note", ""),
        evaluated=tuple((dict(r.params), _crop(r.fidelity)) for r in result.history),
        evaluating_s=sum(r.seconds or 0.0 for r in result.history),
    )


def _crop(fidelity: str | None) -> str | None:
    """The WxH+X+Y of an evaluation scored on a crop, None for one of the whole photo."""
    kind, _, where = str(fidelity).partition(" ")
    return where if kind == "crop" else None


class OptunaPeer(SamplerStrategy):
    """One of Optuna's samplers exactly as ``make(seed)`` builds it."""

    def __init__(
        self,
        space: Space,
        *,
        name: str,
        make: Callable[[int | None], optuna.samplers.BaseSampler],
        seed: int | None = None,
        budget: int = 200,
        workers: int = 1,
    ) -> None:
        super().__init__(space, name=name, seed=seed, budget=budget, workers=workers)
        self._make = make

    def sampler(self) -> optuna.samplers.BaseSampler:
        return self._make(self.seed)


class NevergradPeer(Strategy):
    """nevergrad's NGOpt, asked for a batch of ``workers`` points and told each result as it comes."""

    name = "ngopt"

    def __init__(self, space: Space, *, seed: int | None = None, budget: int = 200, workers: int = 1) -> None:
        super().__init__(space, seed=seed, budget=budget, workers=workers)
        import nevergrad as ng

        self.note = _mend_nevergrad_metamodel()
        parametrization = ng.p.Dict(**{p.name: ng.p.Scalar(lower=p.low, upper=p.high) for p in space})
        parametrization.random_state = np.random.RandomState(seed)  # nevergrad's documented way to seed
        self._optimizer = ng.optimizers.NGOpt(parametrization=parametrization, budget=budget, num_workers=workers)
        self._batch: list[Any] = []
        self._asked: dict[int, Any] = {}

    def ask(self, study: optuna.Study) -> optuna.Trial | None:
        if not self._batch:
            if self._asked:
                return None  # the last batch is still being evaluated
            self._batch = [self._optimizer.ask() for _ in range(self.workers)]
        candidate = self._batch.pop(0)
        trial = self.ask_fixed(study, {p.name: p.snap(float(candidate.value[p.name])) for p in self.space})
        self._asked[trial.number] = candidate
        return trial

    def tell(self, trial: optuna.Trial, evaluation: Evaluation) -> None:
        candidate = self._asked.pop(trial.number)
        self._optimizer.tell(candidate, evaluation.loss if evaluation.ok else FAILED_LOSS)


def _mend_nevergrad_metamodel() -> str:
    """Let NGOpt's MetaModel run on numpy >= 2.4; returns a note for the report when it was needed.

    nevergrad 1.0.12's MetaModel calls ``float()`` on a one-element array (nevergrad issue #1612),
    which numpy 2.4 turned from a DeprecationWarning into a TypeError, so NGOpt crashes as soon as
    it starts modelling. That one module gets a ``float()`` that takes such an array as older numpy
    did; NGOpt's algorithm runs unchanged.
    """
    try:
        float(np.zeros(1))
        return ""
    except TypeError:
        from nevergrad.optimization import metamodel

        metamodel.float = _float_of_one_element  # type: ignore[attr-defined]
        return "nevergrad #1612 mended for numpy >= 2.4"


def _float_of_one_element(value: Any) -> float:
    if isinstance(value, np.ndarray) and value.size == 1:
        return float(value.reshape(()))
    return float(value)


_DONE = object()  # the minimiser returned: no more points
_STOP = object()  # fit() has stopped asking: the minimiser must end


class _Stopped(Exception):
    """Raised inside the minimiser's objective to end its loop when fit() stops (budget, or exact)."""


class LoopStrategy(Strategy):
    """A minimiser that owns its loop (it calls ``f(x)`` itself), run in a thread: each ``f(x)`` is a trial.

    ``fit()`` asks for a trial; we hand it the point the minimiser is waiting on and pass the
    evaluation's loss back through ``tell()``. The minimiser is sequential, so one point is in
    flight at a time. ``loop(objective, space, seed, budget)`` runs the minimiser, where
    ``objective(params) -> loss`` takes legal parameter values.
    """

    def __init__(
        self,
        space: Space,
        *,
        name: str,
        loop: Callable[..., Any],
        seed: int | None = None,
        budget: int = 200,
        workers: int = 1,
    ) -> None:
        super().__init__(space, seed=seed, budget=budget, workers=workers)
        self.name = name
        self.note = ""
        self._loop = loop
        self._points: queue.Queue[Any] = queue.Queue()
        self._losses: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._evaluating = False

    def ask(self, study: optuna.Study) -> optuna.Trial | None:
        if self._evaluating:
            return None
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name=f"{self.name}-loop", daemon=True)
            self._thread.start()
        params = self._points.get()  # waits while the minimiser chooses: its own time counts in the wall
        if params is _DONE:
            return None
        self._evaluating = True
        return self.ask_fixed(study, params)

    def tell(self, trial: optuna.Trial, evaluation: Evaluation) -> None:
        self._evaluating = False
        self._losses.put(evaluation.loss if evaluation.ok else FAILED_LOSS)

    def close(self) -> None:
        """Release the minimiser, still waiting for a loss when fit() stops, and wait for its thread."""
        if self._thread is not None and self._thread.is_alive():
            self._losses.put(_STOP)
            self._thread.join()

    def _objective(self, params: dict[str, Any]) -> float:
        self._points.put(params)
        loss = self._losses.get()
        if loss is _STOP:
            raise _Stopped
        return float(loss)

    def _main(self) -> None:
        try:
            self._loop(self._objective, self.space, self.seed, self.budget)
        except _Stopped:
            pass
        except Exception as error:  # the run keeps what it has; the report says why it ended
            self.note = f"{self.name} raised {type(error).__name__}: {error}"
        finally:
            self._points.put(_DONE)


def benderopt_loop(objective: Callable[[dict[str, Any]], float], space: Space, seed: int | None, budget: int) -> None:
    """``benderopt.minimize`` over uniform parameters, as the memo called it."""
    import benderopt

    for param in space:
        if param.kind != "float" or param.log or param.step is not None:
            raise ValueError(f"the benderopt peer takes plain float parameters, but got {param.spec()}")
    parameters = [
        {"name": p.name, "category": "uniform", "search_space": {"low": p.low, "high": p.high}} for p in space
    ]
    np.random.seed(seed)  # benderopt draws through scipy's truncnorm, i.e. numpy's global generator
    benderopt.minimize(
        lambda **sample: objective({p.name: p.snap(sample[p.name]) for p in space}),
        parameters,
        number_of_evaluation=budget,
        seed=seed,
    )


def nelder_mead_loop(objective: Callable[[dict[str, Any]], float], space: Space, seed: int | None, budget: int) -> None:
    """scipy's Nelder-Mead from a seeded random start in the unit cube."""
    from scipy.optimize import minimize

    start = np.random.default_rng(seed).random(len(space))
    minimize(
        lambda unit: objective({p.name: p.from_unit(u) for p, u in zip(space, unit)}),
        start,
        method="Nelder-Mead",
        bounds=[(0.0, 1.0)] * len(space),
        options={"maxfev": budget},
    )


def _optuna(name: str, make: Callable[[int | None], optuna.samplers.BaseSampler]) -> Callable[..., Strategy]:
    return lambda space, **options: OptunaPeer(space, name=name, make=make, **options)


def _loop(name: str, loop: Callable[..., None]) -> Callable[..., Strategy]:
    return lambda space, **options: LoopStrategy(space, name=name, loop=loop, **options)


METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method("auto", 2, lambda space, **options: "auto"),
        Method("tpe", 2, _optuna("tpe", lambda seed: optuna.samplers.TPESampler(seed=seed))),
        Method("cmaes", 2, _optuna("cmaes", lambda seed: optuna.samplers.CmaEsSampler(seed=seed)), ("cmaes",)),
        Method("gp", 2, _optuna("gp", lambda seed: optuna.samplers.GPSampler(seed=seed)), ("torch",)),
        Method("random", 2, _optuna("random", lambda seed: optuna.samplers.RandomSampler(seed=seed))),
        Method("ngopt", 2, NevergradPeer, ("nevergrad",)),
        Method("benderopt", 1, _loop("benderopt", benderopt_loop), ("benderopt",)),
        Method("nelder-mead", 1, _loop("nelder-mead", nelder_mead_loop)),
    )
}
PEERS = tuple(name for name in METHODS if name != "auto")

# One line per method for the report (the module docstring says why each is run this way).
DESCRIPTIONS = {
    "auto": "filterfit's own strategy, 2 workers (its global scans render a 320x320 centre crop, see the README)",
    "tpe": "`optuna.samplers.TPESampler(seed=seed)`, default settings, 2 workers",
    "cmaes": "`optuna.samplers.CmaEsSampler(seed=seed)`, default settings, 2 workers",
    "gp": "`optuna.samplers.GPSampler(seed=seed)`, default settings, 2 workers",
    "random": "`optuna.samplers.RandomSampler(seed=seed)`, 2 workers",
    "ngopt": "nevergrad `NGOpt(budget, num_workers=2)`, asked for 2 points at a time, 2 workers",
    "benderopt": "`benderopt.minimize` itself (not filterfit's benderopt strategy, which is filterfit's parallel "
    "adapter of benderopt's suggest()), sequential as designed: 1 worker",
    "nelder-mead": '`scipy.optimize.minimize(method="Nelder-Mead")` from a seeded random start, unit cube, '
    "maxfev = budget, 1 worker",
}
