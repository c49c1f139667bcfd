"""filterfit's photo adjustments: one small vectorised function each.

Every function takes float32 RGB pixels H x W x 3 in [0, 1] and returns new
pixels of the same shape, clipped to [0, 1]; its neutral values return the
input unchanged, exactly. All are smooth in their parameters (least squares
fits them with finite differences), so none has a threshold or a hard switch.

=============  =====================  ===========  =======  =========================================
adjustment     parameter              range        neutral  what it does
=============  =====================  ===========  =======  =========================================
exposure       exposure               -2 .. 2      0        gain of 2**exposure (stops)
contrast       contrast               -1 .. 1      0        S-curve around mid-grey (< 0 flattens)
highlights     highlights             -1 .. 1      0        brightens (> 0) or darkens tones above 0.5
shadows        shadows                -1 .. 1      0        brightens (> 0) or darkens tones below 0.5
saturation     saturation             -1 .. 1      0        colourfulness; -1 is grey, 1 doubles it
vibrance       vibrance               -1 .. 1      0        saturation that spares colourful pixels
temperature    temperature            -1 .. 1      0        warm (> 0: more red, less blue) or cool
tint           tint                   -1 .. 1      0        magenta (> 0) or green (< 0)
hue            hue                    -30 .. 30    0        rotates every colour's hue, in degrees
fade           fade                   0 .. 0.5     0        lifts the blacks to this level (matte)
sepia          sepia                  0 .. 1       0        blend towards the classic sepia matrix
split_tone     split_tone             -1 .. 1      0        > 0 warm highlights and teal shadows
vignette       vignette_amount        -1 .. 1      0        < 0 darkens, > 0 lightens the corners
               vignette_size          0.2 .. 1     0.7      normalised radius where it is half on
               vignette_softness      0.1 .. 1     0.5      width of the transition
grain          grain                  0 .. 1       0        monochrome Gaussian noise, sd 0.1 x grain
blur           blur                   0 .. 3       0        Gaussian blur, sigma in pixels
sharpen        sharpen                0 .. 2       0        unsharp mask of radius 1 pixel
=============  =====================  ===========  =======  =========================================

``vignette`` and ``grain`` depend on the pixel's position (radius from the
centre, a fixed noise field), ``blur`` and ``sharpen`` on its neighbours; the
others are per-pixel colour operations.

One module on purpose, though past 400 lines: the sixteen functions are a few
lines each over the same planar helpers and constants, and ``ADJUSTMENTS`` at
the end is the table above in pipeline order. Split by adjustment or by kind,
one table and its helpers would be spread over several files.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import ndimage

__all__ = [
    "ADJUSTMENTS",
    "Adjustment",
    "Setting",
    "blur",
    "contrast",
    "exposure",
    "fade",
    "from_planes",
    "grain",
    "grain_noise",
    "highlights",
    "hue",
    "radius_map",
    "saturation",
    "sepia",
    "shadows",
    "sharpen",
    "split_tone",
    "temperature",
    "tint",
    "to_planes",
    "vibrance",
    "vignette",
]

# Rec. 709 luma weights: what "brightness" means to the tone adjustments.
LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], dtype=np.float32)
WARM = np.array([0.12, 0.04, -0.12], dtype=np.float32)  # split tone: highlights go orange
TEAL = np.array([-0.12, 0.02, 0.12], dtype=np.float32)  # ... and shadows teal
TONE_SHIFT = 0.3  # how far highlights/shadows move their tones at +-1
GRAIN_SD = 0.1
SHARPEN_SIGMA = 1.0
TRUNCATE = 4.0  # Gaussian kernels to 4 sigma: the cut tail (3e-4) cannot make a render jump

# Speed (a look is rendered hundreds of times per fit): the functions work on planes, 3 x H x W,
# where a per-pixel weight (H x W) broadcasts over contiguous rows (over a last axis of 3 it is
# ~7x slower), and in place where they can: each new 3 MB array costs page faults. The public
# functions take H x W x 3 pixels and work on a copy; a Look converts once per render and calls
# the ``planes`` form on planes it owns. Scalars are Python floats (float32 arrays stay float32,
# NEP 50): numpy 2's np.float32 scalars take a slower path in arithmetic with arrays.


def _on_planes(function: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """The H x W x 3 form of a function written on 3 x H x W planes; ``.planes`` is the planar one."""

    @functools.wraps(function)
    def on_pixels(pixels: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        return from_planes(function(to_planes(pixels), *args, **kwargs))

    on_pixels.planes = function  # type: ignore[attr-defined]
    return on_pixels


def to_planes(pixels: np.ndarray) -> np.ndarray:
    """H x W x 3 pixels as 3 x H x W float32 planes (always a copy: the planar forms write into it)."""
    return np.array(np.moveaxis(pixels, 2, 0), dtype=np.float32, order="C", copy=True)


def from_planes(planes: np.ndarray) -> np.ndarray:
    """3 x H x W planes back to H x W x 3 pixels."""
    return np.ascontiguousarray(np.moveaxis(planes, 0, 2))


def _clip(planes: np.ndarray) -> np.ndarray:
    return np.clip(planes, 0, 1, out=planes)


# Sums of scaled planes rather than matrix products: BLAS threads make a 3 x 3 product's time
# erratic on a busy machine, and workers already run one per core.
def _combine(planes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    red, green, blue = planes
    output = red * float(weights[0])
    output += green * float(weights[1])
    output += blue * float(weights[2])
    return output


def _luma(planes: np.ndarray) -> np.ndarray:
    return _combine(planes, LUMA)


def _matrix(planes: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return np.stack([_combine(planes, row) for row in matrix])


@_on_planes
def exposure(pixels: np.ndarray, stops: float) -> np.ndarray:
    """Multiply by ``2**stops``, as a camera's exposure does."""
    pixels *= float(2.0**stops)
    return _clip(pixels)


@_on_planes
def contrast(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Blend towards (``amount`` > 0) or away from a smoothstep S-curve; monotonic on [-1, 1]."""
    # x + a (3x^2 - 2x^3 - x), factored as x ((1 - a) + x (3a - 2a x)): five passes over one buffer
    a = float(amount)
    factor = pixels * (-2 * a)
    factor += 3 * a
    factor *= pixels
    factor += 1 - a
    pixels *= factor
    return _clip(pixels)


def _tone(planes: np.ndarray, amount: float, weight: np.ndarray) -> np.ndarray:
    weight *= weight * float(TONE_SHIFT * amount)
    planes += weight
    return _clip(planes)


@_on_planes
def highlights(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Shift tones above mid-grey, most for the brightest (a smooth quadratic weight)."""
    weight = _luma(pixels)
    weight *= 2
    weight -= 1
    return _tone(pixels, amount, np.clip(weight, 0, 1, out=weight))


@_on_planes
def shadows(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Shift tones below mid-grey, most for the darkest."""
    weight = _luma(pixels)
    weight *= -2
    weight += 1
    return _tone(pixels, amount, np.clip(weight, 0, 1, out=weight))


def _towards_grey(planes: np.ndarray, factor: Any) -> np.ndarray:
    """x + (x - grey) * factor, computed as x (1 + factor) - grey factor; exact for a factor of 0."""
    grey = _luma(planes)
    grey *= factor
    planes *= 1 + factor
    planes -= grey
    return _clip(planes)


@_on_planes
def saturation(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Scale each pixel's distance from its grey by ``1 + amount``."""
    return _towards_grey(pixels, float(amount))


@_on_planes
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
    return _clip(planes)


@_on_planes
def temperature(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Warm (more red, less blue) for ``amount`` > 0, cool below."""
    return _gains(pixels, *temperature_gains(amount))


def temperature_gains(amount: float) -> tuple[float, float, float]:
    """The red, green and blue gains of a temperature shift (also export's ImageMagick matrix)."""
    return 1 + 0.2 * amount, 1.0, 1 - 0.2 * amount


@_on_planes
def tint(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Magenta (less green) for ``amount`` > 0, green below."""
    return _gains(pixels, *tint_gains(amount))


def tint_gains(amount: float) -> tuple[float, float, float]:
    """The red, green and blue gains of a tint shift."""
    return 1 + 0.1 * amount, 1 - 0.2 * amount, 1 + 0.1 * amount


@_on_planes
def hue(pixels: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate colours about the grey axis (Rodrigues' rotation about (1, 1, 1))."""
    return _clip(_matrix(pixels, hue_rotation(degrees)))


def hue_rotation(degrees: float) -> np.ndarray:
    """The 3 x 3 matrix that rotates colours by ``degrees`` about the grey axis."""
    angle = math.radians(degrees)
    axis = np.full(3, 1 / math.sqrt(3))
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return math.cos(angle) * np.eye(3) + math.sin(angle) * cross + (1 - math.cos(angle)) * np.outer(axis, axis)


@_on_planes
def fade(pixels: np.ndarray, level: float) -> np.ndarray:
    """Lift black to ``level`` while white stays white: the matte film look."""
    pixels *= float(1 - level)
    pixels += float(level)
    return _clip(pixels)


@_on_planes
def sepia(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Blend towards the classic sepia matrix."""
    toned = _matrix(pixels, SEPIA)
    toned -= pixels
    toned *= float(amount)
    pixels += toned
    return _clip(pixels)


@_on_planes
def split_tone(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Tint highlights orange and shadows teal (``amount`` > 0), or the reverse."""
    light = _luma(pixels)
    dark = 1 - light
    light *= light
    dark *= dark
    for channel, warm, teal in zip(pixels, WARM, TEAL):
        channel += light * float(amount * warm)
        channel += dark * float(amount * teal)
    return _clip(pixels)


@lru_cache(maxsize=8)
def radius_map(height: int, width: int, stride: int = 1) -> np.ndarray:
    """Distance from the centre, 0 there and 1 in the corners, of every ``stride``-th pixel of a full image."""
    y = (np.arange(0, height, stride, dtype=np.float32) + 0.5) / height * 2 - 1
    x = (np.arange(0, width, stride, dtype=np.float32) + 0.5) / width * 2 - 1
    radius = np.sqrt((y[:, np.newaxis] ** 2 + x[np.newaxis, :] ** 2) / 2)
    radius.flags.writeable = False  # shared by every render from the cache
    return radius


@_on_planes
def vignette(
    pixels: np.ndarray, amount: float, size: float, softness: float, *, radius: np.ndarray | None = None
) -> np.ndarray:
    """Darken (``amount`` < 0) or lighten the edges; half the effect at radius ``size``."""
    if radius is None:
        radius = radius_map(*pixels.shape[1:])
    ramp = np.clip((radius - float(size)) / float(softness) + 0.5, 0, 1)
    mask = ramp * ramp * (3 - 2 * ramp)  # smoothstep: smooth in size and softness
    mask *= float(amount)
    mask += 1
    pixels *= mask
    return _clip(pixels)


@lru_cache(maxsize=8)
def grain_noise(seed: int, height: int, width: int, stride: int = 1) -> np.ndarray:
    """A fixed standard-normal noise field (H x W) for a full image, or every ``stride``-th pixel of it."""
    noise = np.random.default_rng(seed).standard_normal((height, width), dtype=np.float32)
    noise = np.ascontiguousarray(noise[::stride, ::stride])
    noise.flags.writeable = False
    return noise


@_on_planes
def grain(pixels: np.ndarray, amount: float, *, seed: int = 0, noise: np.ndarray | None = None) -> np.ndarray:
    """Add monochrome film grain; the same seed gives the same grain."""
    if noise is None:
        noise = grain_noise(seed, *pixels.shape[1:])
    pixels += noise * float(GRAIN_SD * amount)
    return _clip(pixels)


def _gaussian(planes: np.ndarray, sigma: float) -> np.ndarray:
    return ndimage.gaussian_filter(planes, sigma=(0, sigma, sigma), truncate=TRUNCATE, mode="reflect")


@_on_planes
def blur(pixels: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``sigma`` pixels (0 leaves the image as it is)."""
    if sigma <= 0:
        return pixels.copy()
    return _clip(_gaussian(pixels, sigma))


@_on_planes
def sharpen(pixels: np.ndarray, amount: float) -> np.ndarray:
    """Unsharp mask: add ``amount`` times the detail a 1-pixel Gaussian blur removes."""
    return _clip(pixels + (pixels - _gaussian(pixels, SHARPEN_SIGMA)) * float(amount))


@dataclass(frozen=True)
class Setting:
    """One parameter of an adjustment: its range and the value that changes nothing."""

    name: str
    low: float
    high: float
    neutral: float
    help: str


@dataclass(frozen=True)
class Adjustment:
    """An adjustment: its function, settings and what it depends on.

    ``kind`` is ``"colour"`` (per pixel), ``"position"`` (per pixel and its
    place in the frame: exact on a strided subsample) or ``"neighbourhood"``.
    """

    name: str
    function: Callable[..., np.ndarray]
    settings: tuple[Setting, ...]
    kind: str = "colour"

    @property
    def planes(self) -> Callable[..., np.ndarray]:
        """The function's form on 3 x H x W planes (what a Look's pipeline calls)."""
        return self.function.planes  # type: ignore[attr-defined]

    @property
    def spatial(self) -> bool:
        return self.kind != "colour"


def _one(name: str, function: Callable[..., np.ndarray], low: float, high: float, help: str, kind: str = "colour"):
    return Adjustment(name, function, (Setting(name, low, high, 0.0, help),), kind)


# In pipeline order: a look applies its adjustments in this order, whatever order they were named in.
ADJUSTMENTS: dict[str, Adjustment] = {
    a.name: a
    for a in (
        _one("blur", blur, 0, 3, "Gaussian blur sigma, pixels", "neighbourhood"),
        _one("sharpen", sharpen, 0, 2, "unsharp-mask amount", "neighbourhood"),
        _one("exposure", exposure, -2, 2, "stops"),
        _one("temperature", temperature, -1, 1, "> 0 warmer"),
        _one("tint", tint, -1, 1, "> 0 magenta"),
        _one("highlights", highlights, -1, 1, "> 0 brighter highlights"),
        _one("shadows", shadows, -1, 1, "> 0 brighter shadows"),
        _one("contrast", contrast, -1, 1, "> 0 more contrast"),
        _one("saturation", saturation, -1, 1, "-1 grey, 1 double"),
        _one("vibrance", vibrance, -1, 1, "> 0 livelier dull colours"),
        _one("hue", hue, -30, 30, "degrees"),
        _one("sepia", sepia, 0, 1, "blend towards sepia"),
        _one("split_tone", split_tone, -1, 1, "> 0 warm highlights, teal shadows"),
        _one("fade", fade, 0, 0.5, "black level"),
        Adjustment(
            "vignette",
            vignette,
            (
                Setting("vignette_amount", -1, 1, 0.0, "< 0 darker corners"),
                Setting("vignette_size", 0.2, 1, 0.7, "radius of half effect (corners = 1)"),
                Setting("vignette_softness", 0.1, 1, 0.5, "width of the transition"),
            ),
            "position",
        ),
        _one("grain", grain, 0, 1, "noise sd / 0.1", "position"),
    )
}
