"""Strategies that are one of Optuna's samplers: tpe, cmaes, qmc, random, gp."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import optuna

from ..errors import MissingExtraError
from .base import Strategy

if TYPE_CHECKING:
    from ..space import Space

__all__ = ["SamplerStrategy"]


class SamplerStrategy(Strategy):
    """Let an Optuna sampler choose every trial's parameters."""

    def __init__(
        self, space: Space, *, name: str, seed: int | None = None, budget: int = 200, workers: int = 1
    ) -> None:
        super().__init__(space, seed=seed, budget=budget, workers=workers)
        self.name = name

    def sampler(self) -> optuna.samplers.BaseSampler:
        seed, parallel = self.seed, self.workers > 1
        if self.name == "tpe":
            # constant liar keeps parallel workers from proposing the same point
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=parallel)
        if self.name == "cmaes":
            _need("cmaes", "cmaes", "the cmaes strategy")
            return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
        if self.name == "qmc":
            # Experimental since optuna 3.0 (still so in 5.0): chosen on purpose, so not a warning on every run.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)
        if self.name == "gp":
            _need("torch", "gp", "the gp strategy (Optuna's GPSampler)")
            return optuna.samplers.GPSampler(seed=seed)
        return optuna.samplers.RandomSampler(seed=seed)

    def ask(self, study: optuna.Study) -> optuna.Trial:
        return self.ask_hinted(study) or study.ask(self.space.distributions())


def _need(module: str, extra: str, what: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(f"{what} needs the '{module}' package: pip install 'filterfit[{extra}]'")
