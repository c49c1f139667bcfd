"""Colour: white balance, saturation, vibrance, hue, a channel mixer, sepia, split toning, colour grading."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .planes import LUMA, clip, luma, matrix, on_planes

__all__ = [
    "GRADE_SHIFT",
    "GRADE_TINT",
    "GRADE_WARM",
    "SEPIA",
    "TEAL",
    "WARM",
    "grading",
    "grading_weights",
    "hue",
    "hue_rotation",
    "channel_mixer",
    "channel_mixer_matrix",
    "mixer",
    "mixer_matrix",
    "saturation",
    "sepia",
    "split_tone",
    "temperature",
    "temperature_gains",
    "tint",
    "tint_gains",
    "vibrance",
]

SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], dtype=np.float32)
WARM = np.array([0.12, 0.04, -0.12], dtype=np.float32)  # split tone: highlights go orange
TEAL = np.array([-0.12, 0.02, 0.12], dtype=np.float32)  # ... and shadows teal


def _towards_grey(planes: np.ndarray, factor: Any) -> np.ndarray:
    """x + (x - grey) * factor, computed as x (1 + factor) - grey factor; exact for a factor of 0."""
    grey = luma(planes)
    grey *= factor
    planes *= 1 + factor
    planes -= grey
    return clip(planes)


@on_planes
def saturation(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Scale each pixel's distance from its grey by ``1 + amount``."""
    return _towards_grey(pixels, float(amount))


@on_planes
def vibrance(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Saturation weighted by how dull a pixel is (max - min channel), so bright colours clip less."""
    red, green, blue = pixels
    dullness = np.minimum(np.minimum(red, green), blue)
    dullness -= np.maximum(np.maximum(red, green), blue)
    dullness += 1
    dullness *= float(amount)
    return _towards_grey(pixels, dullness)


def _gains(planes: np.ndarray, red: float, green: float, blue: float) -> np.ndarray:
    planes *= np.array([red, green, blue], dtype=np.float32)[:, np.newaxis, np.newaxis]
    return clip(planes)


@on_planes
def temperature(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Warm (more red, less blue) for ``amount`` > 0, cool below."""
    return _gains(pixels, *temperature_gains(amount))


def temperature_gains(amount: float) -> tuple[float, float, float]:
    """The red, green and blue gains of a temperature shift (also export's ImageMagick matrix)."""
    return 1 + 0.2 * amount, 1.0, 1 - 0.2 * amount


@on_planes
def tint(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Magenta (less green) for ``amount`` > 0, green below."""
    return _gains(pixels, *tint_gains(amount))


def tint_gains(amount: float) -> tuple[float, float, float]:
    """The red, green and blue gains of a tint shift."""
    return 1 + 0.1 * amount, 1 - 0.2 * amount, 1 + 0.1 * amount


@on_planes
def hue(pixels: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate colours about the grey axis (Rodrigues' rotation about (1, 1, 1))."""
    return clip(matrix(pixels, hue_rotation(degrees)))


def hue_rotation(degrees: float) -> np.ndarray:
    """The 3 x 3 matrix that rotates colours by ``degrees`` about the grey axis."""
    angle = math.radians(degrees)
    axis = np.full(3, 1 / math.sqrt(3))
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return math.cos(angle) * np.eye(3) + math.sin(angle) * cross + (1 - math.cos(angle)) * np.outer(axis, axis)


@on_planes
def sepia(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Blend towards the classic sepia matrix."""
    toned = matrix(pixels, SEPIA)
    toned -= pixels
    toned *= float(amount)
    pixels += toned
    return clip(pixels)


@on_planes
def split_tone(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Tint highlights orange and shadows teal (``amount`` > 0), or the reverse."""
    light = luma(pixels)
    dark = 1 - light
    light *= light
    dark *= dark
    for channel, warm, teal in zip(pixels, WARM, TEAL):
        channel += light * float(amount * warm)
        channel += dark * float(amount * teal)
    return clip(pixels)


@on_planes
def mixer(
    pixels: np.ndarray,
    red_green: float,
    red_blue: float,
    green_red: float,
    green_blue: float,
    blue_red: float,
    blue_green: float,
) -> np.ndarray:
    """A channel mixer that keeps grey grey: each channel takes a share of the other two in place of its own.

    ``red_green`` 0.2 makes red 80 % red and 20 % green; grey pixels (all channels equal) stay as they are.
    """
    return clip(matrix(pixels, mixer_matrix(red_green, red_blue, green_red, green_blue, blue_red, blue_green)))


def mixer_matrix(*shares: float) -> np.ndarray:
    """The 3 x 3 matrix of :func:`mixer` (rows: output red, green, blue), also export's ImageMagick matrix."""
    red_green, red_blue, green_red, green_blue, blue_red, blue_green = shares
    return np.array(
        [
            [1 - red_green - red_blue, red_green, red_blue],
            [green_red, 1 - green_red - green_blue, green_blue],
            [blue_red, blue_green, 1 - blue_red - blue_green],
        ]
    )


@on_planes
def channel_mixer(pixels: np.ndarray, *entries: float) -> np.ndarray:
    """Photoshop's channel mixer: each output channel a sum of shares of red, green and blue, plus a constant.

    ``entries`` are 12 numbers, by output channel (red, green, blue): its share of red, of green, of
    blue, and its constant. Any affine colour map is one setting, so a chain of CSS's contrast,
    brightness, saturate, sepia, grayscale and hue-rotate (and a flat colour screened or multiplied in)
    is one channel mixer, up to the clipping between the chain's steps.
    """
    shares, constants = channel_mixer_matrix(*entries)
    output = matrix(pixels, shares)
    for plane, constant in zip(output, constants):
        plane += float(constant)
    return clip(output)


def channel_mixer_matrix(*entries: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`channel_mixer`'s 3 x 3 shares (rows: output red, green, blue) and its 3 constants."""
    table = np.asarray(entries, dtype=np.float64).reshape(3, 4)
    return table[:, :3], table[:, 3]


# Colour grading pushes each tone range along two axes of colour that leave brightness as it is
# (each axis has zero luma): warm (orange) to cool (blue), and magenta to green.
GRADE_WARM = np.array([0.5, -0.5 * (LUMA[0] - LUMA[2]) / LUMA[1], -0.5], dtype=np.float32)  # green: -0.098
GRADE_TINT = np.array([0.5, -0.5 * (LUMA[0] + LUMA[2]) / LUMA[1], 0.5], dtype=np.float32)  # green: -0.199
GRADE_SHIFT = 0.2  # a setting of 1 moves a channel by up to 0.1 where its tone range is all there is


def grading_weights(light: np.ndarray, balance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shadows', midtones' and highlights' share of each pixel (they sum to 1), by its luma.

    ``balance`` > 0 counts more of the tones as highlights, < 0 as shadows.
    """
    if balance:
        light = np.power(np.clip(light, 0, 1), float(2.0**-balance))
    dark = 1 - light
    return dark * dark, 2 * light * dark, light * light


@on_planes
def grading(
    pixels: np.ndarray,
    shadows_warmth: float,
    shadows_tint: float,
    midtones_warmth: float,
    midtones_tint: float,
    highlights_warmth: float,
    highlights_tint: float,
    balance: float,
) -> np.ndarray:
    """Colour grading: warm or cool, and magenta or green, each of shadows, midtones and highlights."""
    weights = grading_weights(luma(pixels), balance)
    pushes = ((shadows_warmth, shadows_tint), (midtones_warmth, midtones_tint), (highlights_warmth, highlights_tint))
    for weight, (warmth, tint_) in zip(weights, pushes):
        if warmth == 0 and tint_ == 0:
            continue
        shift = GRADE_SHIFT * (warmth * GRADE_WARM + tint_ * GRADE_TINT)
        for channel, amount in zip(pixels, shift):
            channel += weight * float(amount)
    return clip(pixels)
