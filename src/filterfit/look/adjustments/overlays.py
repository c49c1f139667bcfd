"""Gradient overlays: a radial gradient of two colours laid over the photo with a blend mode.

Instagram-style filters (CSSgram, pilgram) are largely made of these: a colour
in the middle fading to another towards the corners (or one flat colour),
composed with a blend mode. One adjustment a blend mode, so that choosing a
look's adjustments chooses its modes too. The modes are the W3C compositing
standard's (what CSS, and so CSSgram and pilgram, compute), B the photo and S
the overlay:

* ``multiply``: B S, darkens; white changes nothing.
* ``screen``: B + S - B S, lightens; black changes nothing.
* ``overlay``: multiply where the photo is dark (B < 0.5), screen where it is
  light; mid-grey changes nothing.
* ``soft_light``: B - (1 - 2S) B (1 - B) for S <= 0.5, and
  B + (2S - 1) (D(B) - B) above, D the W3C's square-root-like curve; mid-grey
  changes nothing. Continuous in S, with a corner at 0.5 that least squares
  only meets at the neutral colour.
* ``darken``: min(B, S); white changes nothing. ``lighten``: max(B, S); black.
* ``color_dodge``: B / (1 - S), capped at 1; black changes nothing.
  ``color_burn``: 1 - (1 - B) / S, floored at 0; white changes nothing.

The first four are linear in the overlay's colour S, so an opacity would be
the same as a colour nearer the mode's neutral one: they have none. The last
four are not, and have an ``opacity`` (1: the blend alone, 0: the photo). The
colours' neutral values are the mode's (all at neutral: exactly the photo).
The
gradient's share of the outer colour rises linearly from ``start`` to ``end``
along the radius (0 at the centre, 1 in the corners of the frame when the
centre is the frame's), computed for the whole frame, so a strided preview
renders as a subsample of the whole. Its shape is an ellipse of the frame's
proportions at ``roundness`` 0 (CSS's default ``radial-gradient``) and a circle
at 1 (CSS's ``radial-gradient(circle, ...)``, which CSSgram's filters use); in
between, the squared radii mix. Both reach 1 in the corners.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .planes import clip, on_planes

__all__ = [
    "BLENDS",
    "NEUTRAL_COLOUR",
    "WITH_OPACITY",
    "Frame",
    "frame_coordinates",
    "gradient_share",
    "overlay_function",
]


def _multiply(backdrop: np.ndarray, source: np.ndarray) -> np.ndarray:
    return backdrop * source


def _screen(backdrop: np.ndarray, source: np.ndarray) -> np.ndarray:
    return backdrop + source - backdrop * source


def _overlay(backdrop: np.ndarray, source: np.ndarray) -> np.ndarray:
    dark = 2 * backdrop * source
    light = 1 - 2 * (1 - backdrop) * (1 - source)
    return np.where(backdrop <= 0.5, dark, light)


def _soft_light(backdrop: np.ndarray, source: np.ndarray) -> np.ndarray:
    curve = np.where(backdrop <= 0.25, ((16 * backdrop - 12) * backdrop + 4) * backdrop, np.sqrt(backdrop))
    darker = backdrop - (1 - 2 * source) * backdrop * (1 - backdrop)
    lighter = backdrop + (2 * source - 1) * (curve - backdrop)
    return np.where(source <= 0.5, darker, lighter)


def _darken(backdrop: np.ndarray, source: np.ndarray) -> np.ndarray:
    return np.minimum(backdrop, source)


def _lighten(backdrop: np.ndarray, source: np.ndarray) -> np.ndarray:
    return np.maximum(backdrop, source)


def _color_dodge(backdrop: np.ndarray, source: np.ndarray) -> np.ndarray:
    # B / (1 - S) capped at 1; the standard's B = 0 gives 0 even where S = 1.
    room = np.maximum(1 - source, 1e-6)
    return np.where(backdrop > 0, np.minimum(backdrop / room, 1), 0)


def _color_burn(backdrop: np.ndarray, source: np.ndarray) -> np.ndarray:
    # 1 - (1 - B) / S floored at 0; the standard's B = 1 gives 1 even where S = 0; S = 1 gives B exactly (in
    # floats 1 - (1 - B) is not always B).
    burnt = np.where(backdrop < 1, 1 - np.minimum((1 - backdrop) / np.maximum(source, 1e-6), 1), 1)
    return np.where(source >= 1, backdrop, burnt)


BLENDS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "multiply": _multiply,
    "screen": _screen,
    "overlay": _overlay,
    "soft_light": _soft_light,
    "darken": _darken,
    "lighten": _lighten,
    "color_dodge": _color_dodge,
    "color_burn": _color_burn,
}
NEUTRAL_COLOUR = {
    "multiply": 1.0,
    "screen": 0.0,
    "overlay": 0.5,
    "soft_light": 0.5,
    "darken": 1.0,
    "lighten": 0.0,
    "color_dodge": 0.0,
    "color_burn": 1.0,
}
WITH_OPACITY = ("darken", "lighten", "color_dodge", "color_burn")  # the modes not linear in the overlay's colour
MIN_SPAN = 0.05  # the gradient's start and end are kept at least this far apart


class Frame(NamedTuple):
    """Where pixels lie in the whole frame: rows and columns in [0, 1] (pixel centres), and its width / height."""

    rows: np.ndarray
    columns: np.ndarray
    aspect: float


@lru_cache(maxsize=8)
def frame_coordinates(height: int, width: int, stride: int = 1) -> Frame:
    """Each ``stride``-th pixel's place in the whole frame of ``height`` x ``width`` pixels."""
    rows = (np.arange(0, height, stride, dtype=np.float32) + 0.5) / height
    columns = (np.arange(0, width, stride, dtype=np.float32) + 0.5) / width
    rows.flags.writeable = columns.flags.writeable = False
    return Frame(rows, columns, width / height)


def gradient_share(
    frame: Frame, centre_x: float, centre_y: float, start: float, end: float, roundness: float = 0.0
) -> np.ndarray:
    """The outer colour's share at each pixel: 0 within ``start`` of the centre, 1 from ``end`` on."""
    dy = (frame.rows - float(centre_y))[:, np.newaxis]
    dx = (frame.columns - float(centre_x))[np.newaxis, :]
    # Squared radii that are 1 in a corner, from the middle of the frame: the ellipse's 2 (dx^2 + dy^2) in
    # frame units; the circle's in pixels, over the half-diagonal's square: 4 (a^2 dx^2 + dy^2) / (a^2 + 1).
    squared_aspect = frame.aspect * frame.aspect
    circle_x = 4 * squared_aspect / (squared_aspect + 1)
    circle_y = 4 / (squared_aspect + 1)
    weight_x = float(2 * (1 - roundness) + roundness * circle_x)
    weight_y = float(2 * (1 - roundness) + roundness * circle_y)
    radius = np.sqrt(dy * dy * weight_y + dx * dx * weight_x)
    span = max(float(end) - float(start), MIN_SPAN)
    return np.clip((radius - float(start)) / span, 0, 1)


def overlay_function(mode: str) -> Callable[..., np.ndarray]:
    """The adjustment function of one blend mode."""
    blend = BLENDS[mode]

    @on_planes
    def gradient_overlay(
        pixels: np.ndarray,
        inner_red: float,
        inner_green: float,
        inner_blue: float,
        outer_red: float,
        outer_green: float,
        outer_blue: float,
        centre_x: float,
        centre_y: float,
        start: float,
        end: float,
        roundness: float = 0.0,
        opacity: float = 1.0,
        *,
        frame: Frame | None = None,
    ) -> np.ndarray:
        share = gradient_share(frame or frame_coordinates(*pixels.shape[1:]), centre_x, centre_y, start, end, roundness)
        inner, outer = (inner_red, inner_green, inner_blue), (outer_red, outer_green, outer_blue)
        for plane, a, b in zip(pixels, inner, outer):
            source = share * float(b - a)
            source += float(a)
            if opacity == 1:
                plane[...] = blend(plane, source)
            else:  # B + opacity (blend - B)
                plane += float(opacity) * (blend(plane, source) - plane)
        return clip(pixels)

    gradient_overlay.__name__ = gradient_overlay.__qualname__ = f"{mode}_gradient"
    gradient_overlay.__doc__ = f"A radial gradient of two colours over the photo, blended with {mode}."
    return gradient_overlay
