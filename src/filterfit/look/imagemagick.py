"""A look as ImageMagick operators: one translation per adjustment, each as exact as IM allows.

The look works on the photo's sRGB-encoded values as they are (it never
linearises), so every translation works on the stored values too: no
``-colorspace`` round trip. Where an ImageMagick operator means something
else than the look's formula (``-modulate`` saturates in HSL,
``-sepia-tone`` is not the sepia matrix, ``-blur`` builds another kernel),
the formula itself is written with ``-color-matrix``, ``-function
polynomial``, an explicit ``-morphology Convolve`` kernel, or a grey weight
image (luma, a radius map) combined by a ``Mathematics`` composite. ``-fx``
would say each formula in one word, but ImageMagick 6.9 takes about a minute
a megapixel for it, so no translation uses it. Each translation's comment
says how exact it is; tests/test_look_export.py measures each against
:meth:`Look.apply`: all but grain come within 16-bit rounding (> 95 dB PSNR).

Written for ImageMagick 6 ``convert`` and checked with 6.9.11 Q16 (Debian's
and Ubuntu's build, which clips every operator's output to [0, 1]). The
look clips after each adjustment and its weights are clipped ramps, so the
command says ``-clamp`` there too: an HDRI build (ImageMagick 7's default),
which keeps values outside [0, 1], then clips where the look does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .adjustments import (
    ADJUSTMENTS,
    GRADE_SHIFT,
    GRADE_TINT,
    GRADE_WARM,
    GRADIENTS,
    GRAIN_SD,
    LUMA,
    SEPIA,
    SHARPEN_SIGMA,
    TEAL,
    TONE_SHIFT,
    TRUNCATE,
    WARM,
    channel_mixer_matrix,
    hue_rotation,
    mixer_matrix,
    temperature_gains,
    tint_gains,
)

if TYPE_CHECKING:
    from .look import Look

__all__ = ["NO_EQUIVALENT", "TRANSLATIONS", "look_operators"]


def _number(value: float) -> str:
    """Plain notation (ImageMagick's number parsers take no exponents), 9 decimals: far below 16 bits."""
    return np.format_float_positional(float(value), precision=9, trim="-")


def _color_matrix(matrix: np.ndarray) -> list[str]:
    return ["-color-matrix", " ".join(_number(value) for value in np.asarray(matrix, dtype=np.float64).ravel())]


# A grey image of the pixel's Rec. 709 luma in every channel (as the look's tone adjustments weigh it).
LUMA_IMAGE = tuple(_color_matrix(np.tile(LUMA.astype(np.float64), (3, 1))))


# -- one function per adjustment: its parameters in, ImageMagick operators out -------------------


def exposure(stops: float) -> list[str]:
    # Exact: the same gain, clipped.
    return ["-evaluate", "multiply", _number(2.0**stops)]


def temperature(amount: float) -> list[str]:
    # Exact: per-channel gains as a diagonal colour matrix.
    return _color_matrix(np.diag(temperature_gains(amount)))


def tint(amount: float) -> list[str]:
    # Exact: per-channel gains as a diagonal colour matrix.
    return _color_matrix(np.diag(tint_gains(amount)))


def highlights(amount: float) -> list[str]:
    # Exact to 16 bits: the weight clip(2 luma - 1)^2 is a grey image made with -color-matrix and -function,
    # clipped as the look's weight is, and added to the photo by a Mathematics composite.
    return _add_weighted(["-function", "polynomial", "2,-1", "-clamp"], TONE_SHIFT * amount)


def shadows(amount: float) -> list[str]:
    # Exact to 16 bits: the weight clip(1 - 2 luma)^2, as highlights.
    return _add_weighted(["-function", "polynomial", "-2,1", "-clamp"], TONE_SHIFT * amount)


def _add_weighted(weight: list[str], scale: float) -> list[str]:
    """The photo plus ``scale`` times the square of ``weight`` applied to its luma."""
    square = ["-function", "polynomial", "1,0,0"]
    return ["(", "+clone", *LUMA_IMAGE, *weight, *square, ")", *_mathematics(0, scale, 1, 0)]


def _mathematics(a: float, b: float, c: float, d: float) -> list[str]:
    """Composite the image on top (S) into the one below (D) as a S D + b S + c D + d, clipped."""
    arguments = ",".join(_number(value) for value in (a, b, c, d))
    return ["-compose", "Mathematics", "-define", f"compose:args={arguments}", "-composite"]


def contrast(amount: float) -> list[str]:
    # Exact: the look's cubic x + a (3x^2 - 2x^3 - x) as a polynomial; -sigmoidal-contrast is another curve.
    a = float(amount)
    return ["-function", "polynomial", ",".join(_number(c) for c in (-2 * a, 3 * a, 1 - a, 0))]


def saturation(amount: float) -> list[str]:
    # Exact: x (1 + f) - f luma(x) is linear, a colour matrix; -modulate saturates in HSL instead.
    f = float(amount)
    return _color_matrix((1 + f) * np.eye(3) - f * np.outer(np.ones(3), LUMA))


def vibrance(amount: float) -> list[str]:
    # Exact to 16 bits: the look's x + f (x - luma) with f = amount (1 - (max - min channel)), through images
    # that stay in [0, 1] (ImageMagick would clip anything else): E = (x - luma + 1) / 2, D = 1 - max + min,
    # R = E D - D / 2 + 1 / 2 = f (x - luma) / (2 amount) + 1 / 2; then x + 2 amount R - amount.
    half_difference = 0.5 * (np.eye(3) - np.tile(LUMA.astype(np.float64), (3, 1)))
    return [
        *("(", "+clone", *_color_matrix(_with_offset(half_difference, 0.5)), ")"),  # x, E
        *("(", "-clone", "0", "-separate", "-evaluate-sequence", "max", ")"),
        *("(", "-clone", "0", "-separate", "-evaluate-sequence", "min", ")"),
        *("(", "-clone", "2,3", *_mathematics(0, 1, -1, 1), ")", "-delete", "2,3"),  # x, E, D
        *("(", "-clone", "1,2", "-compose", "Multiply", "-composite", ")", "-delete", "1", "-swap", "1,2"),  # x, ED, D
        *("(", "-clone", "1,2", *_mathematics(0, -0.5, 1, 0.5), ")", "-delete", "1,2"),  # x, R
        *_mathematics(0, 2 * amount, 1, -amount),
    ]


def _with_offset(matrix: np.ndarray, offset: float) -> np.ndarray:
    """A 3 x 3 colour matrix as ImageMagick's 6 x 6 form, whose last column adds a constant to each channel."""
    full = np.eye(6)
    full[:3, :3] = matrix
    full[:3, 5] = offset
    return full


def hue(degrees: float) -> list[str]:
    # Exact: the look's rotation about the grey axis as a colour matrix; -modulate rotates HSL hue instead.
    return _color_matrix(hue_rotation(degrees))


def fade(level: float) -> list[str]:
    # Exact: +level maps black to the level and keeps white, linearly.
    return ["+level", f"{_number(100 * level)}%,100%"]


def sepia(amount: float) -> list[str]:
    # Exact: the blend towards the sepia matrix is one matrix; -sepia-tone is a different, threshold-based tone.
    return _color_matrix((1 - amount) * np.eye(3) + amount * SEPIA.astype(np.float64))


def split_tone(amount: float) -> list[str]:
    # Exact to 16 bits: each channel's shift warm_c luma^2 + teal_c (1 - luma)^2 is a quadratic in luma,
    # computed per channel with -function on a luma image (stored + 0.5, as it can be negative) and added.
    warm, teal = amount * WARM.astype(np.float64), amount * TEAL.astype(np.float64)
    shifts: list[str] = []
    for channel, w, t in zip("RGB", warm, teal):
        coefficients = ",".join(_number(c) for c in (w + t, -2 * t, t + 0.5))  # w L^2 + t (1 - L)^2 + 0.5
        shifts += ["-channel", channel, "-function", "polynomial", coefficients]
    return ["(", "+clone", *LUMA_IMAGE, *shifts, "+channel", ")", *_mathematics(0, 1, 1, -0.5)]


def channel_mixer(*entries: float) -> list[str]:
    # Exact: a 6 x 6 -color-matrix (rows and columns red, green, blue, black, alpha, offset) whose last column
    # holds the constants, on ImageMagick's 0..1 scale.
    shares, constants = channel_mixer_matrix(*entries)
    table = np.eye(6)
    table[:3, :3], table[:3, 5] = shares, constants
    return _color_matrix(table)


def mixer(*shares: float) -> list[str]:
    # Exact: the mixer is one colour matrix.
    return _color_matrix(mixer_matrix(*shares))


def grading(*pushes_and_balance: float) -> list[str]:
    # Exact to 16 bits, as split_tone: each channel's shift s (1 - L)^2 + m 2L(1 - L) + h L^2 is a quadratic in the
    # (balanced, L^(2^-balance)) luma L, computed per channel with -function on a luma image and added.
    *settings, balance = pushes_and_balance
    pairs = zip(settings[0::2], settings[1::2])
    s, m, h = (GRADE_SHIFT * (w * GRADE_WARM.astype(np.float64) + t * GRADE_TINT.astype(np.float64)) for w, t in pairs)
    balanced = ["-evaluate", "pow", _number(2.0**-balance)] if balance else []
    shifts: list[str] = []
    for channel, sc, mc, hc in zip("RGB", s, m, h):
        coefficients = ",".join(_number(c) for c in (sc - 2 * mc + hc, 2 * mc - 2 * sc, sc + 0.5))
        shifts += ["-channel", channel, "-function", "polynomial", coefficients]
    return ["(", "+clone", *LUMA_IMAGE, *balanced, *shifts, "+channel", ")", *_mathematics(0, 1, 1, -0.5)]


def vignette(amount: float, size: float, softness: float) -> list[str]:
    # Exact to 16 bits: the look's radius map (0 at the centre, 1 in the corners) from two -sparse-color
    # gradients, x = (i + 0.5) / w and y = (j + 0.5) / h, then ramp, smoothstep mask and photo * (1 + amount mask).
    # The square root of a 16-bit radius^2 is coarsest at the centre: off by < 0.001 there.
    gradients = [
        *("-channel", "R", "-sparse-color", "Barycentric", "-0.5,0 black %[fx:w-0.5],0 white"),
        *("-channel", "G", "-sparse-color", "Barycentric", "0,-0.5 black 0,%[fx:h-0.5] white"),
        "+channel",
    ]
    squares = ["-function", "polynomial", "4,-4,1"]  # (2x - 1)^2 and (2y - 1)^2
    radius = [*_color_matrix(np.full((3, 3), 0.5) * [1, 1, 0]), "-evaluate", "pow", "0.5"]
    ramp = ["-function", "polynomial", f"{_number(1 / softness)},{_number(0.5 - size / softness)}", "-clamp"]
    smoothstep = ["-function", "polynomial", "-2,3,0,0"]
    mask = ["(", "+clone", *gradients, *squares, *radius, *ramp, *smoothstep, ")"]
    return [*mask, *_mathematics(amount, 0, 1, 0)]


def blur(sigma: float) -> list[str]:
    # Exact: scipy's Gaussian kernel itself (same weights, same 4-sigma cut) as two 1-D convolutions, with
    # mirrored edges like scipy's "reflect"; -blur and -gaussian-blur build their kernels differently (~53 dB).
    kernel = _gaussian_kernel(sigma)
    weights, width = ",".join(_number(w) for w in kernel), len(kernel)
    along_rows = ["-morphology", "Convolve", f"{width}x1:{weights}"]
    return [*MIRROR, *along_rows, "-morphology", "Convolve", f"1x{width}:{weights}"]


def sharpen(amount: float) -> list[str]:
    # Exact: x + a (x - blur(x)) is one 2-D kernel, (1 + a) at the centre minus a times the 1-pixel Gaussian;
    # -unsharp 4x1+a+0 computes the same mask with its own Gaussian (~53 dB at a = 2).
    gaussian = _gaussian_kernel(SHARPEN_SIGMA)
    kernel = -float(amount) * np.outer(gaussian, gaussian)
    kernel[len(gaussian) // 2, len(gaussian) // 2] += 1 + float(amount)
    weights = ",".join(_number(w) for w in kernel.ravel())
    return [*MIRROR, "-morphology", "Convolve", f"{len(gaussian)}x{len(gaussian)}:{weights}"]


# Pixels beyond the edge mirror the image, as scipy.ndimage's mode="reflect" (the look's blur) does.
MIRROR = ("-virtual-pixel", "mirror")


def _gaussian_kernel(sigma: float) -> np.ndarray:
    """scipy.ndimage.gaussian_filter's 1-D kernel for ``sigma`` and the look's truncation."""
    radius = int(TRUNCATE * float(sigma) + 0.5)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * offsets**2 / float(sigma) ** 2)
    return kernel / kernel.sum()


# In the look's own pipeline order (ADJUSTMENTS), so the command applies them as the look does.
TRANSLATIONS: dict[str, Callable[..., list[str]]] = {
    "blur": blur,
    "sharpen": sharpen,
    "channel_mixer": channel_mixer,
    "exposure": exposure,
    "temperature": temperature,
    "tint": tint,
    "highlights": highlights,
    "shadows": shadows,
    "contrast": contrast,
    "saturation": saturation,
    "vibrance": vibrance,
    "hue": hue,
    "sepia": sepia,
    "mixer": mixer,
    "split_tone": split_tone,
    "grading": grading,
    "fade": fade,
    "vignette": vignette,
}

# Adjustments ImageMagick cannot reproduce, and why: the command leaves them out and says so.
_CURVE = (
    "a tone curve (a spline through raised points) has no ImageMagick operator; the command would have to ship a "
    "colour table image for it, and `export --cube` already holds it exactly"
)
_GRADIENT = (
    "a gradient overlay would need ImageMagick to draw the gradient and compose it; not written yet: "
    "`export --cube` cannot hold it either (it depends on the place in the frame)"
)
NO_EQUIVALENT = {
    **dict.fromkeys(GRADIENTS, _GRADIENT),
    **dict.fromkeys(("curve", "red_curve", "green_curve", "blue_curve"), _CURVE),
    "grain": f"filterfit's grain is a seeded numpy noise field (sd {GRAIN_SD} x grain) that no ImageMagick "
    "noise operator draws; adding other noise of the same strength would only move the render further away",
}


def look_operators(look: Look) -> tuple[list[str], tuple[str, ...]]:
    """ImageMagick operators that reproduce ``look``, in its order, and the adjustments left out.

    Examples
    --------
    >>> from filterfit.look import Look
    >>> look_operators(Look(["exposure", "fade", "grain"], {"exposure": 1.0, "fade": 0.1, "grain": 0.2}))
    (['-alpha', 'off', '-evaluate', 'multiply', '2', '-clamp', '+level', '10%,100%', '-clamp'], ('grain',))
    """
    operators: list[str] = []
    left_out: list[str] = []
    params = look.params
    for name in look.adjustments:
        adjustment = ADJUSTMENTS[name]
        values = [float(params[s.name]) for s in adjustment.settings]
        if adjustment.does_nothing(values):
            continue  # the look skips it too: it would change nothing
        if name in NO_EQUIVALENT:
            left_out.append(name)
        else:
            operators += [*TRANSLATIONS[name](*values), "-clamp"]  # the look clips after each adjustment
    # The look adjusts the colour and keeps alpha as it is; ImageMagick's composites and kernels would mix
    # alpha in, so the command turns it off: the output is opaque.
    return (["-alpha", "off", *operators] if operators else []), tuple(left_out)
