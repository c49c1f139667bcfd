"""Uncertainty: intervals and flags measured by probing around the best, with real (Python function) filters."""

from __future__ import annotations

import re

import numpy as np
import pytest

import filterfit
from filterfit.metrics import get_metric
from filterfit.problem import Problem
from filterfit.space import Space
from filterfit.uncertainty import PROBE_BUDGET, measure, tolerance


def test_tolerance_is_the_metrics_noise_or_a_share_of_the_best():
    rmse = get_metric("rmse")
    assert tolerance(rmse, 0.0) == 1e-5  # the "indistinguishable" level
    assert tolerance(rmse, 0.1) == pytest.approx(1e-4)  # 0.1 % of a poor fit's error
    ssim = get_metric("ssim")
    assert tolerance(ssim, ssim.loss(0.9)) == pytest.approx(1e-4)  # 0.1 % of the distance from ssim 1


def capped(image: np.ndarray, gain: float, cap: float) -> np.ndarray:
    """``cap`` only matters below 0.3: above it the image is the same."""
    return np.clip(image * gain * min(cap, 0.3) / 0.3, 0, 1)


def exposure(image: np.ndarray, gain: float, stops: float) -> np.ndarray:
    """Gain and exposure do the same thing: only gain * 2**stops matters."""
    return np.clip(image * gain * 2.0**stops, 0, 1)


def separate(image: np.ndarray, red: float, blue: float) -> np.ndarray:
    out = image.copy()
    out[..., 0] *= red
    out[..., 2] *= blue
    return np.clip(out, 0, 1)


def probe(function, space: dict, best: dict, pixels: np.ndarray, **options):
    """Measure around ``best`` for a target rendered at ``best`` itself (an exact answer)."""
    space = filterfit.space.as_space(space)
    problem = Problem(
        filterfit.FunctionFilter(function),
        space,
        [(image(pixels), image(function(pixels, **best)))],
        get_metric("rmse"),
    )
    value = problem.evaluate(best).value
    return measure(space, problem.metric, best, value, lambda points: [problem.evaluate(p) for p in points], **options)


def image(pixels: np.ndarray) -> filterfit.Image:
    return filterfit.Image(pixels.astype(np.float32), bit_depth=8, format="png")


def test_a_parameter_with_no_effect_past_a_limit_is_flagged_with_its_range(small_pixels):
    measured = probe(capped, {"gain": (0.5, 1.0), "cap": (0.0, 1.0)}, {"gain": 0.8, "cap": 0.6}, small_pixels)
    low, high = measured.intervals["cap"]
    assert low == pytest.approx(0.3, abs=0.02) and high == 1.0
    (flag,) = measured.flags["cap"]
    assert re.fullmatch(r"no effect in \[0\.(29|30)\d*, 1\]", flag)
    gain_low, gain_high = measured.intervals["gain"]
    assert gain_low < 0.8 < gain_high and gain_high - gain_low < 1e-3  # a float render: tiny changes show
    assert "gain" not in measured.flags


def test_parameters_that_do_the_same_thing_trade_off(small_pixels):
    space = {"gain": (0.5, 2.0), "stops": (-1.0, 1.0)}
    measured = probe(exposure, space, {"gain": 0.9, "stops": 0.2}, small_pixels)
    assert measured.flags["gain"] == ["trades off with stops (one up, the other down)"]
    assert measured.flags["stops"] == ["trades off with gain (one up, the other down)"]


def test_independent_parameters_do_not_trade_off(small_pixels):
    measured = probe(separate, {"red": (0.5, 1.5), "blue": (0.5, 1.5)}, {"red": 0.9, "blue": 1.1}, small_pixels)
    assert measured.flags == {}
    for name, best in (("red", 0.9), ("blue", 1.1)):
        low, high = measured.intervals[name]
        assert low < best < high and high - low < 1e-3


def quantised(image: np.ndarray, level: float) -> np.ndarray:
    return np.clip(image * (np.floor(level * 2) / 2 + 0.5) / 3, 0, 1)  # steps of 0.5: [1, 1.5) ...


def test_a_stepped_parameter_spans_whole_steps(small_pixels):
    space = Space.parse(["level=0:5"])
    measured = probe(quantised, space, {"level": 2.2}, small_pixels, steps={"level": (2.0, 2.5)})
    assert measured.intervals["level"] == pytest.approx([2.0, 2.5])
    assert measured.flags == {}  # the strategy that measured the steps says so itself


def test_steps_no_strategy_measured_are_found_by_the_probes(small_pixels):
    measured = probe(quantised, Space.parse(["level=0:20"]), {"level": 2.2}, small_pixels)  # a step: 2.5 % of it
    assert measured.intervals["level"] == pytest.approx([2.0, 2.5], abs=0.02)  # bisected to 5 % of the distance
    (flag,) = measured.flags["level"]
    assert re.fullmatch(r"acts in steps \(renders identical within 0\.(49|5|51)\)", flag)


def test_probes_reuse_evaluations_and_respect_their_budget(small_pixels):
    many = probe(exposure, {"gain": (0.5, 2.0), "stops": (-1.0, 1.0)}, {"gain": 0.9, "stops": 0.2}, small_pixels)
    assert 0 < len(many.probes) <= PROBE_BUDGET
    assert [r.number for r in many.probes] == list(range(len(many.probes)))
    few = probe(
        exposure, {"gain": (0.5, 2.0), "stops": (-1.0, 1.0)}, {"gain": 0.9, "stops": 0.2}, small_pixels, budget=5
    )
    assert len(few.probes) == 5
    again = probe(
        exposure,
        {"gain": (0.5, 2.0), "stops": (-1.0, 1.0)},
        {"gain": 0.9, "stops": 0.2},
        small_pixels,
        history=many.probes,
    )
    assert again.probes == ()  # every point it needed was already evaluated
    assert again.intervals == many.intervals


def test_fit_records_the_probes_apart_from_the_search(small_pixels):
    target = capped(small_pixels, 0.8, 0.6)
    space = {"gain": (0.5, 1.0), "cap": (0.0, 1.0)}
    result = filterfit.fit(capped, space, small_pixels, target, strategy="random", budget=20, workers=1, seed=0)
    assert result.evaluations == len(result.history) == 20
    assert 0 < len(result.probes) <= PROBE_BUDGET
    assert result.tolerance == pytest.approx(tolerance(get_metric("rmse"), result.best_error))
    for name, (low, high) in result.uncertainty.items():
        assert low <= result.best_params[name] <= high
    none = filterfit.fit(capped, space, small_pixels, target, strategy="random", budget=20, workers=1, seed=0, probes=0)
    assert none.probes == ()
