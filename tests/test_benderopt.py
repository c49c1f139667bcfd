"""The benderopt strategy: the memo's Parzen estimator driven through ask/tell."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import filterfit
from filterfit.errors import MissingExtraError
from filterfit.space import Param, Space

pytest.importorskip("benderopt")


def _source() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(0.0, 0.6, size=(8, 8, 3)).astype(np.float32)


def gain_filter(image: np.ndarray, gain: float) -> np.ndarray:
    return np.clip(image * gain, 0.0, 1.0)


def mixed_filter(image: np.ndarray, gain: float, shift: float, size: int, width: int, mode: object) -> np.ndarray:
    bias = {"dark": -0.05, 2: 0.0, 0.5: 0.05}[mode]
    return np.clip(image * gain + shift * 0.01 + size * 0.001 + width * 0.0005 + bias, 0.0, 1.0)


MIXED = Space(
    [
        Param("gain", low=0.1, high=4.0, log=True),
        Param("shift", low=-1.0, high=0.0, step=0.25),  # a grid benderopt's own step check rejects
        Param("size", low=-1, high=0, kind="int"),
        Param("width", low=1, high=64, kind="int", log=True),
        Param("mode", kind="choice", choices=("dark", 2, 0.5)),  # mixed types: numpy would make strings
    ]
)


def test_recovers_a_gain():
    source = _source()
    target = gain_filter(source, 1.37)
    start = filterfit.rmse(target, source)
    result = filterfit.fit(
        gain_filter, {"gain": (0.0, 3.0)}, source, target, strategy="benderopt", budget=60, workers=1, seed=3
    )
    assert result.strategy == "benderopt"
    assert result.evaluations == 60
    assert result.best_error < start / 5  # seeds 0-29 all reach < start / 10
    assert abs(result.best_params["gain"] - 1.37) < 0.1


def test_every_kind_of_parameter_gets_legal_values():
    source = _source()
    target = mixed_filter(source, gain=1.2, shift=-0.5, size=0, width=8, mode=2)
    result = filterfit.fit(mixed_filter, MIXED, source, target, strategy="benderopt", budget=40, workers=1, seed=5)
    distributions = MIXED.distributions()
    for record in result.history:
        assert record.state == "complete"
        for name, value in record.params.items():
            distribution = distributions[name]
            assert distribution._contains(distribution.to_internal_repr(value)), (name, value)
    seen = {record.params["mode"] for record in result.history}
    assert seen <= {"dark", 2, 0.5} and len(seen) > 1
    assert all(isinstance(record.params["size"], int) for record in result.history)


def test_a_seed_repeats_the_run_and_leaves_numpy_alone():
    source = _source()
    target = gain_filter(source, 0.8)
    np.random.seed(123)
    expected_next = np.random.random()
    np.random.seed(123)
    runs = [
        filterfit.fit(
            gain_filter, {"gain": (0.0, 3.0)}, source, target, strategy="benderopt", budget=25, workers=1, seed=7
        )
        for _ in range(2)
    ]
    assert np.random.random() == expected_next  # benderopt's draws did not consume the global state
    first, second = ([r.params["gain"] for r in run.history] for run in runs)
    assert first == second


def test_failed_evaluations_are_skipped():
    source = _source()
    target = gain_filter(source, 1.5)

    def fragile(image: np.ndarray, gain: float) -> np.ndarray:
        if gain < 1.0:
            raise ValueError("gain below 1 is not supported")
        return gain_filter(image, gain)

    result = filterfit.fit(
        fragile, {"gain": (0.0, 3.0)}, source, target, strategy="benderopt", budget=40, workers=1, seed=2
    )
    assert result.failed > 0
    assert abs(result.best_params["gain"] - 1.5) < 0.2


def test_constant_parameters_are_not_searched():
    source = _source()
    target = gain_filter(source, 1.0)
    space = Space([Param("gain", low=1.0, high=1.0), Param("mode", kind="choice", choices=("only",))])
    result = filterfit.fit(
        lambda image, gain, mode: gain_filter(image, gain),
        space,
        source,
        target,
        strategy="benderopt",
        budget=3,
        workers=1,
        seed=0,
    )
    assert result.best_params == {"gain": 1.0, "mode": "only"}


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "benderopt", None)
    monkeypatch.delitem(sys.modules, "filterfit.strategies.benderopt", raising=False)
    source = _source()
    with pytest.raises(MissingExtraError, match=r"pip install 'filterfit\[benderopt\]'"):
        filterfit.fit(gain_filter, {"gain": (0.0, 3.0)}, source, source, strategy="benderopt", budget=5, workers=1)
