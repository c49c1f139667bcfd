"""``benderopt``: the memo's optimiser (benderopt's Parzen estimator), driven through ask/tell.

benderopt's ``minimize`` owns its loop; underneath it is an
``OptimizationProblem`` that collects observations and an optimizer whose
``suggest()`` proposes the next sample, which is what this adapter uses so
that every evaluation is still a trial of the study.

How the space maps onto benderopt's parameter categories:

- a float is ``uniform`` on [low, high);
- a log float is ``loguniform``; a log int is ``loguniform`` on [low, high + 1)
  with step 1, because benderopt floors onto the grid and never draws ``high``;
- an int or a stepped float is ``uniform`` over the index of its grid point
  (step 1), since benderopt's own step check rejects some legal grids
  (it wants ``step < max(|low|, |high|)``, so ``-1:0:int`` would fail);
- a choice is ``categorical`` over the index of its value, since benderopt
  draws with ``numpy.random.choice``, which turns mixed choices into strings;
- a parameter with one possible value is not given to benderopt at all.

benderopt draws from a module-wide generator and, through scipy's
``truncnorm``, from numpy's global one. Each strategy keeps generators of its
own, seeded from ``seed``, and swaps them in only while it suggests, so two
strategies, or a run and the caller's own use of ``numpy.random``, do not
disturb each other's sequences.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna

from ..errors import MissingExtraError
from .base import Strategy

try:
    import benderopt.rng
    from benderopt.base import Observation, OptimizationProblem, Parameter
    from benderopt.optimizer import optimizers
except ImportError as error:
    raise MissingExtraError(
        "the benderopt strategy needs the 'benderopt' package: pip install 'filterfit[benderopt]'"
    ) from error

if TYPE_CHECKING:
    from ..problem import Evaluation
    from ..space import Param, Space

__all__ = ["BenderoptStrategy"]


class BenderoptStrategy(Strategy):
    """Ask benderopt's Parzen estimator for each trial, as the memo did.

    benderopt draws at random until it has 20 observations, then samples
    near the best 15% of them. It is sequential: with several workers, the
    trials in flight are proposed without knowing each other's results.

    Examples
    --------
    >>> import numpy as np, filterfit
    >>> source = np.linspace(0, 0.5, 48, dtype=np.float32).reshape(4, 4, 3)
    >>> result = filterfit.fit(lambda image, gain: image * gain, {"gain": (0, 2)},
    ...                        source, source * 1.5, strategy="benderopt", budget=40, workers=1, seed=1)
    >>> abs(result.best_params["gain"] - 1.5) < 0.1
    True
    """

    name = "benderopt"

    def __init__(self, space: Space, *, seed: int | None = None, budget: int = 200, workers: int = 1) -> None:
        super().__init__(space, seed=seed, budget=budget, workers=workers)
        self._free = [p for p in space if _size(p) != 1]
        self._problem = OptimizationProblem([_parameter(p) for p in self._free])
        self._optimizer = optimizers["parzen_estimator"](self._problem)
        seeds = np.random.SeedSequence(seed).spawn(2)
        self._rng = np.random.default_rng(seeds[0])  # stands in for benderopt.rng.RNG
        self._legacy = np.random.RandomState(np.random.MT19937(seeds[1]))  # for scipy's truncnorm
        self._samples: dict[int, dict[str, Any]] = {}

    def ask(self, study: optuna.Study) -> optuna.Trial:
        hinted = self.ask_hinted(study)  # benderopt never hears of it: it only learns from its own samples
        if hinted is not None:
            return hinted
        sample: dict[str, Any] = {}
        if self._free:
            with self._generators():
                sample = self._optimizer.suggest()
        trial = self.ask_fixed(study, self._params(sample))
        self._samples[trial.number] = sample
        return trial

    def tell(self, trial: optuna.Trial, evaluation: Evaluation) -> None:
        sample = self._samples.pop(trial.number, None)
        loss = evaluation.loss
        if not sample or not evaluation.ok or loss is None or math.isnan(loss):
            return  # a failed render says nothing about the loss surface
        # not raising: a draw on the very edge of a truncated normal can land on the excluded `high`
        self._problem.add_observation(Observation(sample, float(loss)), raise_exception=False)

    def _params(self, sample: dict[str, Any]) -> dict[str, Any]:
        """benderopt's sample as legal values of every parameter."""
        params = {}
        for param in self.space:
            if param.name in sample:
                params[param.name] = _value(param, sample[param.name])
            else:
                params[param.name] = param.choices[0] if param.kind == "choice" else param.snap(param.low)
        return params

    @contextmanager
    def _generators(self) -> Iterator[None]:
        saved_rng, saved_state = benderopt.rng.RNG._rng, np.random.get_state()
        benderopt.rng.RNG._rng = self._rng
        np.random.set_state(self._legacy.get_state())
        try:
            yield
        finally:
            self._legacy.set_state(np.random.get_state())
            benderopt.rng.RNG._rng = saved_rng
            np.random.set_state(saved_state)


def _grid(param: Param) -> float | None:
    """The step of a parameter that lives on a linear grid, else None."""
    if param.log:
        return None
    if param.step is not None:
        return param.step
    return 1.0 if param.kind == "int" else None


def _size(param: Param) -> float:
    """How many values a parameter can take (inf when continuous)."""
    if param.kind == "choice":
        return len(param.choices)
    if param.low == param.high:
        return 1
    step = _grid(param)
    return math.inf if step is None else math.floor((param.high - param.low) / step + 1e-9) + 1


def _parameter(param: Param) -> Parameter:
    """The benderopt description of one parameter (see the module docstring)."""
    space: dict[str, Any]
    if param.kind == "choice":
        category, space = "categorical", {"values": list(range(len(param.choices)))}
    elif param.log and param.kind == "int":
        category, space = "loguniform", {"low": param.low, "high": param.high + 1.0, "step": 1}
    elif param.log:
        category, space = "loguniform", {"low": param.low, "high": param.high}
    elif _grid(param) is not None:
        category, space = "uniform", {"low": 0.0, "high": float(_size(param)), "step": 1}
    else:
        category, space = "uniform", {"low": param.low, "high": param.high}
    return Parameter(name=param.name, category=category, search_space=space)


def _value(param: Param, drawn: Any) -> Any:
    """The legal value of ``param`` for what benderopt drew."""
    if param.kind == "choice":
        return param.choices[int(drawn)]
    step = _grid(param)
    if step is not None:
        return param.snap(param.low + int(round(float(drawn))) * step)
    return param.snap(float(drawn))
