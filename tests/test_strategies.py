"""Strategies: one conformance test runs every registered strategy; the registry and the extension point."""

from __future__ import annotations

import importlib.util
import math
import sys

import numpy as np
import optuna
import pytest

import filterfit
from filterfit.errors import MissingExtraError, StrategyError
from filterfit.space import Param, Space, as_space
from filterfit.strategies import STRATEGIES, Strategy, get_strategy, register_strategy

SPACE = Space(
    [
        Param("gain", low=0.5, high=2.0),
        Param("shift", low=-3, high=3, kind="int"),
        Param("gamma", low=0.5, high=2.0, log=True),
        Param("level", low=0.0, high=1.0, step=0.25),
        Param("mode", kind="choice", choices=("plain", "invert", 2)),
    ]
)
TRUTH = {"gain": 1.2, "shift": 1, "gamma": 0.8, "level": 0.25, "mode": "plain"}

get_strategy("random", SPACE)  # registers the built-ins, so that the list below is complete
NAMES = sorted(STRATEGIES)


def mixed(image: np.ndarray, gain: float, shift: int, gamma: float, level: float, mode: object) -> np.ndarray:
    out = image**gamma * gain + shift * 0.02 + level * 0.1
    if mode == "invert":
        out = 1 - out
    elif mode == 2:
        out = out * 0.5
    return np.clip(out, 0, 1)


def _available(name: str) -> object:
    if name == "gp" and importlib.util.find_spec("torch") is None:
        return pytest.param(name, marks=pytest.mark.skip(reason="gp needs torch: pip install 'filterfit[gp]'"))
    return name


STRATEGY_PARAMS = [_available(name) for name in NAMES]


def run(strategy: str, source: np.ndarray, **options) -> filterfit.FitResult:
    options = {"budget": 30, "workers": 1, "seed": 3, "stop_below": 0, **options}
    return filterfit.fit(mixed, SPACE, source, mixed(source, **TRUTH), strategy=strategy, **options)


def assert_legal(params: dict) -> None:
    assert set(params) == set(SPACE.names)
    for param in SPACE:
        value = params[param.name]
        if param.kind == "choice":
            assert any(value == choice and type(value) is type(choice) for choice in param.choices), (param, value)
            continue
        assert param.low <= value <= param.high, (param.name, value)
        if param.kind == "int":
            assert type(value) is int, (param.name, value)
        else:
            assert type(value) is float, (param.name, value)
        if param.step is not None:
            steps = (value - param.low) / param.step
            assert math.isclose(steps, round(steps), abs_tol=1e-9), (param.name, value)


def test_the_built_ins_are_registered():
    assert {"auto", "tpe", "cmaes", "qmc", "random", "gp", "benderopt"} <= set(NAMES)


@pytest.mark.parametrize("strategy", STRATEGY_PARAMS)
def test_every_strategy_proposes_legal_values_within_the_budget(strategy, small_pixels):
    study = optuna.create_study()
    result = run(strategy, small_pixels, study=study)
    assert result.strategy == strategy
    assert result.evaluations == len(study.trials) == 30
    assert result.failed == 0
    for record in result.history:
        assert_legal(record.params)
    for trial in study.trials:
        assert_legal(trial.params)
    assert len({r.params["mode"] for r in result.history}) > 1  # the choice is explored, not frozen
    assert len({r.params["gain"] for r in result.history}) > 5
    start = filterfit.rmse(mixed(small_pixels, **TRUTH), small_pixels)
    assert result.best_error < start


@pytest.mark.parametrize("strategy", STRATEGY_PARAMS)
def test_every_strategy_repeats_itself_with_a_seed(strategy, small_pixels):
    first, second, other = (run(strategy, small_pixels, budget=20, seed=seed) for seed in (5, 5, 6))
    assert [r.params for r in first.history] == [r.params for r in second.history]
    assert [r.params for r in first.history] != [r.params for r in other.history]


@pytest.mark.parametrize("strategy", STRATEGY_PARAMS)
def test_every_strategy_keeps_the_budget_with_two_workers(strategy, small_pixels):
    result = run(strategy, small_pixels, budget=11, workers=2)
    assert result.evaluations == 11
    assert result.workers == 2
    assert sorted(r.number for r in result.history) == list(range(11))
    for record in result.history:
        assert_legal(record.params)


@pytest.mark.parametrize("strategy", STRATEGY_PARAMS)
def test_every_strategy_survives_failing_evaluations(strategy, small_pixels):
    def fragile(image, **params):
        if params["mode"] == "invert":
            raise ValueError("cannot invert")
        return mixed(image, **params)

    target = mixed(small_pixels, **TRUTH)
    result = filterfit.fit(fragile, SPACE, small_pixels, target, strategy=strategy, budget=25, workers=1, seed=2)
    assert result.evaluations == 25
    assert result.best_params["mode"] != "invert"
    assert all(r.reason == "ValueError: cannot invert" for r in result.history if r.state == "fail")


# --- auto on small problems ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auto_finds_an_int_and_a_float(seed, small_pixels):
    def shifted(image, shift, gain):
        return np.clip(image * gain + shift / 100, 0, 1)

    space = {"shift": "-20:20:int", "gain": (0.5, 1.5)}
    target = shifted(small_pixels, 7, 0.9)
    result = filterfit.fit(shifted, space, small_pixels, target, strategy="auto", budget=120, workers=1, seed=seed)
    assert result.best_params["shift"] == 7
    assert result.best_params["gain"] == pytest.approx(0.9, abs=1e-3)
    assert result.stopped == "exact"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auto_measures_a_step_exactly_only_for_the_report(seed, small_pixels):
    """Least squares needs a step's width only within its bracket: the edges are bisected when walks
    need them or, after the answer, as probes. A width that was not bisected is never reported."""

    def stepped(pixels, level, gain):
        return pixels * gain + np.floor(level * 2) / 40  # renders identical within steps of 0.5

    space = as_space(["level=1:5", "gain=0.5:1.5"])
    target = stepped(small_pixels, 2.2, 0.8)
    searched = get_strategy("auto", space, seed=seed, budget=80)
    quick = filterfit.fit(stepped, space, small_pixels, target, strategy=searched, budget=80, workers=1, probes=0)
    assert quick.probes == ()
    assert searched.flags().get("level", []) in ([], ["acts in steps (renders identical within 0.5)"])
    assert all(high - low == pytest.approx(0.5) for low, high in searched.intervals(quick.best_params).values())

    result = filterfit.fit(stepped, space, small_pixels, target, budget=80, workers=1, seed=seed)
    assert "acts in steps (renders identical within 0.5)" in result.flags["level"]
    assert result.uncertainty["level"] == [2.0, 2.5]
    assert [p.number for p in result.probes] == list(range(len(result.probes)))  # numbered once, settling first


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_auto_finds_a_posterisation_level(seed, small_pixels):
    """Errors at gain 0.9 by level: 5: 0.074, 6: 0, 7: 0.057, 8: 0.057, 9: 0.054, 10: 0.048, 11: 0.044.

    Least squares cannot cross levels and ends at 11; the walk over levels gets to 6 in the budget
    because it fits gain on each level by a parabola, not by least squares (4 seeds of 5 ended at 11).
    """

    def posterise(image, level, gain):
        return np.clip(np.round(image * level) / level * gain, 0, 1)

    space = {"level": "2:16:int", "gain": (0.5, 1.5)}
    target = posterise(small_pixels, 6, 0.9)
    result = filterfit.fit(posterise, space, small_pixels, target, strategy="auto", budget=120, workers=1, seed=seed)
    assert result.best_params["level"] == 6


def test_auto_picks_the_right_choice(small_pixels):
    def tone(image, mode, gain):
        return np.clip((1 - image if mode == "negative" else image) * gain, 0, 1)

    target = tone(small_pixels, "negative", 0.7)
    space = {"mode": ["positive", "negative"], "gain": (0.2, 1.5)}
    result = filterfit.fit(tone, space, small_pixels, target, strategy="auto", budget=60, workers=1, seed=1)
    assert result.best_params["mode"] == "negative"
    assert result.best_params["gain"] == pytest.approx(0.7, abs=1e-3)


# --- the registry and the extension point -------------------------------------------------------


def test_unknown_strategy_lists_the_valid_ones():
    with pytest.raises(StrategyError, match=r"unknown strategy 'simplex'; valid ones are .*auto.*benderopt"):
        get_strategy("simplex", SPACE)


def test_get_strategy_builds_by_name_and_passes_objects_through():
    strategy = get_strategy("tpe", SPACE, seed=4, budget=9, workers=3)
    assert isinstance(strategy, Strategy)
    assert (strategy.name, strategy.seed, strategy.budget, strategy.workers) == ("tpe", 4, 9, 3)
    assert get_strategy(strategy, SPACE) is strategy


class Corners(Strategy):
    """A user's strategy: the lowest value of every parameter, then the highest."""

    name = "corners"

    def __init__(self, space, *, seed=None, budget=200, workers=1):
        super().__init__(space, seed=seed, budget=budget, workers=workers)
        self.told: list[float | None] = []
        self._left = [{p.name: p.from_unit(u) if p.numeric else p.choices[0] for p in space} for u in (0, 1)]

    def ask(self, study):
        return self.ask_fixed(study, self._left.pop(0)) if self._left else None

    def tell(self, trial, evaluation):
        self.told.append(evaluation.value)


def test_a_registered_strategy_is_used_by_name(monkeypatch, small_pixels):
    monkeypatch.setitem(STRATEGIES, "corners", Corners)
    result = run("corners", small_pixels, budget=10)
    assert result.strategy == "corners"
    assert result.stopped == "exhausted"  # it had nothing more to propose
    assert [r.params["gain"] for r in result.history] == [0.5, 2.0]
    assert [r.params["mode"] for r in result.history] == ["plain", "plain"]


def test_register_strategy_adds_to_the_registry(monkeypatch):
    monkeypatch.setattr("filterfit.strategies.base.STRATEGIES", dict(STRATEGIES))
    from filterfit.strategies import base

    register_strategy("corners", Corners)
    assert base.STRATEGIES["corners"] is Corners
    assert isinstance(get_strategy("corners", SPACE), Corners)
    assert "corners" not in STRATEGIES  # the real registry is untouched by this test


def test_a_strategy_object_hears_every_evaluation(small_pixels):
    strategy = Corners(SPACE)
    study = optuna.create_study()
    result = filterfit.fit(mixed, SPACE, small_pixels, small_pixels, strategy=strategy, study=study, workers=1)
    assert len(strategy.told) == result.evaluations == 2
    assert [t.params for t in study.trials] == [r.params for r in result.history]


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed")
def test_gp_without_torch_names_the_extra(small_pixels):
    with pytest.raises(
        MissingExtraError, match=r"gp strategy .* needs the 'torch' package: pip install 'filterfit\[gp\]'"
    ):
        run("gp", small_pixels, budget=2)


def test_cmaes_without_its_package_names_the_extra(monkeypatch, small_pixels):
    monkeypatch.setitem(sys.modules, "cmaes", None)
    with pytest.raises(
        MissingExtraError, match=r"cmaes strategy needs the 'cmaes' package: pip install 'filterfit\[cmaes\]'"
    ):
        run("cmaes", small_pixels, budget=2)


@pytest.mark.parametrize("spec", ["x=1:2:int", "x=3:3", "x=1:1.5:step=1", "x=1,2"])
def test_auto_in_a_space_of_one_or_two_points_ends(spec, small_pixels):
    """Every point is soon evaluated: auto used to ask again forever (or, with only choices, raised)."""
    import threading

    def halve_at_2(image: np.ndarray, x: float) -> np.ndarray:
        return image * (0.5 if x == 2 else 1)

    target = halve_at_2(small_pixels, 2)
    results: list[filterfit.FitResult] = []
    thread = threading.Thread(  # daemon: a hang fails the test instead of keeping pytest waiting
        target=lambda: results.append(filterfit.fit(halve_at_2, [spec], small_pixels, target, budget=20, workers=1)),
        daemon=True,
    )
    thread.start()
    thread.join(timeout=60)
    assert results, f"auto did not finish in the space {spec}"
    assert results[0].stopped in ("exhausted", "exact") and results[0].evaluations <= 2


def test_a_fixed_point_is_not_swapped_for_a_trial_left_waiting():
    """Optuna's ask() takes the oldest waiting trial of anyone: one a killed run left must not stand in."""
    study = optuna.create_study()
    study.enqueue_trial({"x": 9.0})  # what a run killed between enqueue_trial and ask leaves behind
    strategy = get_strategy("auto", as_space(["x=0:10"]), seed=0)
    assert strategy.ask_fixed(study, {"x": 1.5}).params == {"x": 1.5}
