"""Tone: exposure, contrast, highlights, shadows, fade and tone curves (master and per channel)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

from .planes import clip, luma, on_planes

__all__ = [
    "CURVE_KNOTS",
    "TONE_SHIFT",
    "blue_curve",
    "contrast",
    "curve",
    "curve_points",
    "curve_polynomial",
    "exposure",
    "fade",
    "green_curve",
    "highlights",
    "red_curve",
    "shadows",
]

TONE_SHIFT = 0.3  # how far highlights/shadows move their tones at +-1


@on_planes
def exposure(pixels: np.ndarray, stops: float) -> np.ndarray:
    """Multiply by ``2**stops``, as a camera's exposure does."""
    pixels *= float(2.0**stops)
    return clip(pixels)


@on_planes
def contrast(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Blend towards (``amount`` > 0) or away from a smoothstep S-curve; monotonic on [-1, 1]."""
    # x + a (3x^2 - 2x^3 - x), factored as x ((1 - a) + x (3a - 2a x)): five passes over one buffer
    a = float(amount)
    factor = pixels * (-2 * a)
    factor += 3 * a
    factor *= pixels
    factor += 1 - a
    pixels *= factor
    return clip(pixels)


def _tone(planes: np.ndarray, amount: float, weight: np.ndarray) -> np.ndarray:
    weight *= weight * float(TONE_SHIFT * amount)
    planes += weight
    return clip(planes)


@on_planes
def highlights(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Shift tones above mid-grey, most for the brightest (a smooth quadratic weight)."""
    weight = luma(pixels)
    weight *= 2
    weight -= 1
    return _tone(pixels, amount, np.clip(weight, 0, 1, out=weight))


@on_planes
def shadows(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Shift tones below mid-grey, most for the darkest."""
    weight = luma(pixels)
    weight *= -2
    weight += 1
    return _tone(pixels, amount, np.clip(weight, 0, 1, out=weight))


@on_planes
def fade(pixels: np.ndarray, level: float) -> np.ndarray:
    """Lift black to ``level`` while white stays white: the matte film look."""
    pixels *= float(1 - level)
    pixels += float(level)
    return clip(pixels)


# A tone curve here is monotone by construction: its slope is exp(g), where g is a sum of smooth bumps
# centred on CURVE_KNOTS, one per "steepness" setting (> 0: tones there are spread apart, more
# contrast; < 0: pressed together), so the curve never folds back, whatever the settings. The curve
# runs from black to white (normalised: the integral of the slope over [0, 1] is 1), then is scaled
# to run from its black to its white setting instead (a lifted black, a white that does not reach
# 1: a film's toe and shoulder). It is drawn as the polynomial in t = 2x - 1 of degree CURVE_DEGREE
# fitted to it (within 0.005 of it, and still monotone, over the settings' ranges; in t, float32's
# Horner's rule is off by 1e-6), which takes 0.5 ms a 512 x 512 plane, where looking the curve up in
# a table took 6 ms. All settings neutral: the adjustment is skipped, exactly the identity.
CURVE_KNOTS = (0.1, 0.3, 0.5, 0.7, 0.9)
CURVE_WIDTH = 0.12  # the bumps' standard deviation: neighbouring knots' bumps overlap smoothly
CURVE_DEGREE = 9
_GRID = np.linspace(0.0, 1.0, 257)


@lru_cache(maxsize=1)
def _bumps() -> np.ndarray:
    return np.exp(-0.5 * ((_GRID[np.newaxis, :] - np.array(CURVE_KNOTS)[:, np.newaxis]) / CURVE_WIDTH) ** 2)


def curve_points(steepness: Sequence[float], black: float = 0.0, white: float = 1.0) -> np.ndarray:
    """The curve's output at 257 evenly spaced inputs of [0, 1]."""
    slope = np.exp(np.asarray(steepness, dtype=np.float64) @ _bumps())
    rising = np.concatenate([[0.0], np.cumsum((slope[1:] + slope[:-1]) / 2)])  # the trapezoid rule
    return black + (white - black) * rising / rising[-1]


def curve_polynomial(steepness: Sequence[float], black: float = 0.0, white: float = 1.0) -> np.ndarray:
    """The coefficients (highest power first) of the polynomial in t = 2x - 1 the curve is drawn with."""
    return np.polynomial.polynomial.polyfit(2 * _GRID - 1, curve_points(steepness, black, white), CURVE_DEGREE)[::-1]


def _map(plane: np.ndarray, coefficients: np.ndarray) -> None:
    """Replace ``plane``'s values x by the polynomial's at 2x - 1 (Horner's rule), in place."""
    plane *= 2
    plane -= 1
    total = np.full_like(plane, float(coefficients[0]))
    for coefficient in coefficients[1:]:
        total *= plane
        total += float(coefficient)
    plane[...] = total


@on_planes
def curve(
    pixels: np.ndarray, at_10: float, at_30: float, at_50: float, at_70: float, at_90: float, black: float,
    white: float,
) -> np.ndarray:  # fmt: skip
    """A tone curve on every channel: steeper (> 0) or flatter around 10 ... 90 %, from ``black`` to ``white``."""
    return _curve_on(pixels, (0, 1, 2), (at_10, at_30, at_50, at_70, at_90), black, white)


def _curve_on(
    pixels: np.ndarray, channels: Sequence[int], steepness: Sequence[float], black: float, white: float
) -> np.ndarray:
    if not any(steepness) and black == 0 and white == 1:
        return pixels  # exactly as it was: the polynomial is the identity only to float32's rounding
    coefficients = curve_polynomial(steepness, black, white)
    for channel in channels:
        _map(pixels[channel], coefficients)
    return clip(pixels)


def _channel_curve(channel: int) -> Callable[..., np.ndarray]:
    name = ("red", "green", "blue")[channel]

    @on_planes
    def channel_curve(pixels: np.ndarray, *settings: float) -> np.ndarray:
        *steepness, black, white = settings
        return _curve_on(pixels, (channel,), steepness, black, white)

    channel_curve.__name__ = channel_curve.__qualname__ = f"{name}_curve"
    channel_curve.__doc__ = f"A tone curve on the {name} channel alone (see ``curve``)."
    return channel_curve


red_curve, green_curve, blue_curve = (_channel_curve(channel) for channel in range(3))
