"""Trade-offs among three parameters that no two of them show: flagged from the residuals' Jacobian at the best."""

from __future__ import annotations

import re

import numpy as np

import filterfit
from filterfit.space import as_space
from filterfit.valleys import joint_trade_offs


def photo() -> np.ndarray:
    y, x = np.mgrid[0:40, 0:60].astype(np.float32)
    return np.stack([x / 59, y / 39, 0.5 + 0.4 * np.sin(x / 5) * np.cos(y / 7)], axis=2).astype(np.float32)


def three_tones(image: np.ndarray, lift: float, gain: float, gamma: float) -> np.ndarray:
    """Only lift - gain and gain - gamma show: all three up together leaves the photo as it is."""
    return np.clip(0.1 + image * (0.8 + 0.3 * (lift - gain)) + 0.2 * (gain - gamma) * image**2, 0, 1)


def three_channels(image: np.ndarray, lift: float, gain: float, gamma: float) -> np.ndarray:
    return np.clip(image * np.array([1 + lift, 1 + gain, 1 + gamma], dtype=np.float32) * 0.7, 0, 1)


SPACE = {"lift": (-0.5, 0.5), "gain": (-0.5, 0.5), "gamma": (-0.5, 0.5)}
TRUTH = {"lift": 0.1, "gain": -0.1, "gamma": 0.2}


def fitted(function):
    source = photo()
    return filterfit.fit(function, SPACE, source, function(source, **TRUTH), budget=120, workers=1, seed=0)


def test_three_parameters_that_trade_off_together_are_flagged_with_their_partners():
    result = fitted(three_tones)
    for name in SPACE:
        (flag,) = [flag for flag in result.flags.get(name, []) if flag.startswith("trades off with")]
        others = [other for other in SPACE if other != name]
        assert re.fullmatch(rf"trades off with ({others[0]} and {others[1]}|{others[1]} and {others[0]}) together "
                            r"\(jointly within ±[\d.]+ % of its range\)", flag), flag  # fmt: skip
    assert len(result.probes) < 120  # the Jacobian's 6 renders are among the probes


def joint_widths(result) -> dict[str, float]:
    """Each parameter's "jointly within ±X %" from its flag."""
    return {
        name: float(re.search(r"jointly within ±([\d.]+) %", flag).group(1))
        for name, flags in result.flags.items()
        for flag in flags
        if "jointly" in flag
    }


def test_a_valley_that_rises_gives_each_parameter_a_narrower_joint_interval():
    def nearly(image, lift, gain, gamma):  # as three_tones, and all three up together shows a little
        return np.clip(three_tones(image, lift, gain, gamma) + 0.002 * (lift + gain + gamma), 0, 1)

    rising, flat = joint_widths(fitted(nearly)), joint_widths(fitted(three_tones))
    assert set(rising) == set(flat) == set(SPACE)
    assert all(rising[name] < flat[name] / 3 for name in SPACE), (rising, flat)


def test_independent_parameters_get_no_such_flag():
    result = fitted(three_channels)
    assert not any(flag.startswith("trades off") for flags in result.flags.values() for flag in flags)


def test_too_small_a_budget_measures_nothing():
    space = as_space(SPACE)
    intervals = {name: [TRUTH[name] - 0.01, TRUTH[name] + 0.01] for name in SPACE}

    def evaluate(points):
        raise AssertionError("no evaluation within a budget of 5")

    assert joint_trade_offs(space, TRUTH, intervals, {}, evaluate, budget=5) == ({}, [])


def test_whole_number_sliders_that_trade_off_are_flagged_though_each_acts_in_steps():
    """RawTherapee's tone sliders are whole numbers: identical renders within a step, so no interval of their own."""

    def sliders(image, lift, gain, gamma):
        return three_tones(image, lift / 100, gain / 100, gamma / 100)

    space = [f"{name}=-50:50:int" for name in SPACE]
    source = photo()
    target = sliders(source, 10, -10, 20)
    result = filterfit.fit(sliders, space, source, target, budget=120, workers=1, seed=0)
    for name in SPACE:
        flags = result.flags.get(name, [])
        assert any(flag.startswith("acts in steps") for flag in flags), flags
        assert any(re.match(r"trades off with \w+ and \w+ together \(jointly (within ±[\d.]+ %|anywhere)", flag)
                   for flag in flags), flags  # fmt: skip
