"""Gradient overlays: a radial gradient of two colours laid over the photo with a blend mode.

Instagram-style filters (CSSgram, pilgram) are largely made of these: a colour
in the middle fading to another towards the corners, composed with multiply,
screen, overlay or soft light. One adjustment a blend mode, so that choosing a
look's adjustments chooses its modes too:

* ``multiply``: B S, darkens; white changes nothing.
* ``screen``: B + S - B S, lightens; black changes nothing.
* ``overlay``: multiply where the photo is dark (B < 0.5), screen where it is
  light; mid-grey changes nothing.
* ``soft_light``: (1 - 2S) B^2 + 2 S B (the smooth "pegtop" form; the W3C
  formula has a corner in S at 0.5 that least squares would trip on);
  mid-grey changes nothing.

Every mode is linear in the overlay's colour S, so an opacity would be the same
as a colour nearer the mode's neutral one: there is none, and the colours'
neutral values are the mode's (all at neutral: exactly the photo). The
gradient's share of the outer colour rises linearly from ``start`` to ``end``
along the radius (0 at the centre, 1 in the corners of the frame when the
centre is the frame's), computed for the whole frame, so a strided preview
renders as a subsample of the whole.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from .planes import clip, on_planes

__all__ = ["BLENDS", "NEUTRAL_COLOUR", "frame_coordinates", "gradient_share", "overlay_function"]


def _multiply(backdrop: np.ndarray, source: np.ndarray) -> np.ndarray:
    return backdrop * source


def _screen(backdrop: np.ndarray, source: np.ndarray) -> np.ndarray:
    return backdrop + source - backdrop * source


def _overlay(backdrop: np.ndarray, source: np.ndarray) -> np.ndarray:
    dark = 2 * backdrop * source
    light = 1 - 2 * (1 - backdrop) * (1 - source)
    return np.where(backdrop <= 0.5, dark, light)


def _soft_light(backdrop: np.ndarray, source: np.ndarray) -> np.ndarray:
    return (1 - 2 * source) * backdrop * backdrop + 2 * source * backdrop


BLENDS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "multiply": _multiply,
    "screen": _screen,
    "overlay": _overlay,
    "soft_light": _soft_light,
}
NEUTRAL_COLOUR = {"multiply": 1.0, "screen": 0.0, "overlay": 0.5, "soft_light": 0.5}
MIN_SPAN = 0.05  # the gradient's start and end are kept at least this far apart


@lru_cache(maxsize=8)
def frame_coordinates(height: int, width: int, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Each ``stride``-th pixel's place in the whole frame: row and column in [0, 1] (pixel centres)."""
    rows = (np.arange(0, height, stride, dtype=np.float32) + 0.5) / height
    columns = (np.arange(0, width, stride, dtype=np.float32) + 0.5) / width
    rows.flags.writeable = columns.flags.writeable = False
    return rows, columns


def gradient_share(
    rows: np.ndarray, columns: np.ndarray, centre_x: float, centre_y: float, start: float, end: float
) -> np.ndarray:
    """The outer colour's share at each pixel: 0 within ``start`` of the centre, 1 from ``end`` on."""
    dy = (rows - float(centre_y))[:, np.newaxis]
    dx = (columns - float(centre_x))[np.newaxis, :]
    radius = np.sqrt((dy * dy + dx * dx) * 2.0)  # 1 in a corner, from the middle of the frame
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
        *,
        frame: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        rows, columns = frame if frame is not None else frame_coordinates(*pixels.shape[1:])
        share = gradient_share(rows, columns, centre_x, centre_y, start, end)
        inner, outer = (inner_red, inner_green, inner_blue), (outer_red, outer_green, outer_blue)
        for plane, a, b in zip(pixels, inner, outer):
            source = share * float(b - a)
            source += float(a)
            plane[...] = blend(plane, source)
        return clip(pixels)

    gradient_overlay.__name__ = gradient_overlay.__qualname__ = f"{mode}_gradient"
    gradient_overlay.__doc__ = f"A radial gradient of two colours over the photo, blended with {mode}."
    return gradient_overlay
