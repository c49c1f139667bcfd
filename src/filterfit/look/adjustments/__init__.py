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
curve          curve_10               -0.5 .. 0.5  0        tone curve steeper (> 0) around 10 % tones
               curve_30, curve_50, curve_70, curve_90: likewise around 30, 50, 70, 90 %
               curve_black            0 .. 0.3     0        what black becomes (a lifted toe)
               curve_white            0.7 .. 1     1        what white becomes (a rolled shoulder)
red_curve      red_curve_10           -0.5 .. 0.5  0        a tone curve of the red channel alone
               red_curve_30, red_curve_50, red_curve_70, red_curve_90, red_curve_black, red_curve_white
green_curve    green_curve_10         -0.5 .. 0.5  0        ... of green
               green_curve_30, green_curve_50, green_curve_70, green_curve_90, green_curve_black,
               green_curve_white
blue_curve     blue_curve_10          -0.5 .. 0.5  0        ... of blue
               blue_curve_30, blue_curve_50, blue_curve_70, blue_curve_90, blue_curve_black,
               blue_curve_white
channel_mixer  red_from_red           -2 .. 2      1        Photoshop's mixer: red's share of red
               red_from_green, red_from_blue: red's share of green and of blue (neutral 0)
               red_constant           -1 .. 1      0        added to red
               green_from_red, green_from_green, green_from_blue, green_constant, blue_from_red,
               blue_from_green, blue_from_blue, blue_constant: likewise (any affine colour map)
mixer          mix_red_green          -0.5 .. 0.5  0        red takes this share of green (grey stays)
               mix_red_blue, mix_green_red, mix_green_blue, mix_blue_red, mix_blue_green: likewise
multiply_gradient  multiply_inner_red  0 .. 1   1        a radial gradient multiplied in: centre colour
               multiply_inner_green, multiply_inner_blue; multiply_outer_red, multiply_outer_green,
               multiply_outer_blue (the corners' colour); multiply_centre_x, multiply_centre_y (0.5);
               multiply_start (0: where the outer colour starts), multiply_end (1: where it is all),
               multiply_roundness (0: an ellipse of the frame's shape, 1: a circle)
screen_gradient    screen_inner_red    0 .. 1   0        the same, screened (lightens); screen_inner_green,
               screen_inner_blue, screen_outer_red, screen_outer_green, screen_outer_blue,
               screen_centre_x, screen_centre_y, screen_start, screen_end, screen_roundness
overlay_gradient   overlay_inner_red   0 .. 1   0.5      ... with overlay; overlay_inner_green,
               overlay_inner_blue, overlay_outer_red, overlay_outer_green, overlay_outer_blue,
               overlay_centre_x, overlay_centre_y, overlay_start, overlay_end, overlay_roundness
soft_light_gradient  soft_light_inner_red  0 .. 1  0.5  ... with soft light; soft_light_inner_green,
               soft_light_inner_blue, soft_light_outer_red, soft_light_outer_green,
               soft_light_outer_blue, soft_light_centre_x, soft_light_centre_y, soft_light_start,
               soft_light_end, soft_light_roundness
darken_gradient    darken_inner_red    0 .. 1   1        ... with darken, and an opacity (0 .. 1, neutral 1):
               darken_inner_green, darken_inner_blue, darken_outer_red, darken_outer_green,
               darken_outer_blue, darken_centre_x, darken_centre_y, darken_start, darken_end,
               darken_roundness, darken_opacity
lighten_gradient   lighten_inner_red   0 .. 1   0        ... with lighten: lighten_inner_green, lighten_inner_blue,
               lighten_outer_red, lighten_outer_green, lighten_outer_blue, lighten_centre_x,
               lighten_centre_y, lighten_start, lighten_end, lighten_roundness, lighten_opacity
color_dodge_gradient  color_dodge_inner_red  0 .. 1  0  ... with colour dodge: color_dodge_inner_green,
               color_dodge_inner_blue, color_dodge_outer_red, color_dodge_outer_green,
               color_dodge_outer_blue, color_dodge_centre_x, color_dodge_centre_y, color_dodge_start,
               color_dodge_end, color_dodge_roundness, color_dodge_opacity
color_burn_gradient  color_burn_inner_red  0 .. 1  1  ... with colour burn: color_burn_inner_green,
               color_burn_inner_blue, color_burn_outer_red, color_burn_outer_green,
               color_burn_outer_blue, color_burn_centre_x, color_burn_centre_y, color_burn_start,
               color_burn_end, color_burn_roundness, color_burn_opacity
grading        shadows_warmth         -1 .. 1      0        shadows warmer (> 0, orange) or cooler
               shadows_tint           -1 .. 1      0        shadows magenta (> 0) or green
               midtones_warmth, midtones_tint, highlights_warmth, highlights_tint: likewise
               grading_balance        -1 .. 1      0        > 0 counts more tones as highlights
vignette       vignette_amount        -1 .. 1      0        < 0 darkens, > 0 lightens the corners
               vignette_size          0.2 .. 1     0.7      normalised radius where it is half on
               vignette_softness      0.1 .. 1     0.5      width of the transition
grain          grain                  0 .. 1       0        monochrome Gaussian noise, sd 0.1 x grain
blur           blur                   0 .. 3       0        Gaussian blur, sigma in pixels
sharpen        sharpen                0 .. 2       0        unsharp mask of radius 1 pixel
=============  =====================  ===========  =======  =========================================

``vignette``, ``grain`` and the gradients depend on the pixel's position
(radius from the centre, a fixed noise field; see ``overlays.py``), ``blur`` and ``sharpen`` on its neighbours; the
others are per-pixel colour operations. The curves are monotone whatever
their settings (their slope is the exponential of smooth bumps at 10 ... 90 %);
grading's tone ranges overlap smoothly (shares (1 - L)^2, 2L(1 - L), L^2 of a
pixel's luma L) and move colour along two axes that leave brightness alone.

The functions live by group, as a photographer finds them: ``tone.py``,
``colour.py``, ``effects.py``, ``overlays.py``, over the planar helpers of ``planes.py``; this
module holds the table (``ADJUSTMENTS``, in pipeline order) and their settings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .colour import (
    GRADE_SHIFT,
    GRADE_TINT,
    GRADE_WARM,
    SEPIA,
    TEAL,
    WARM,
    channel_mixer,
    channel_mixer_matrix,
    grading,
    hue,
    hue_rotation,
    mixer,
    mixer_matrix,
    saturation,
    sepia,
    split_tone,
    temperature,
    temperature_gains,
    tint,
    tint_gains,
    vibrance,
)
from .effects import GRAIN_SD, SHARPEN_SIGMA, TRUNCATE, blur, grain, grain_noise, radius_map, sharpen, vignette
from .overlays import BLENDS, NEUTRAL_COLOUR, WITH_OPACITY, frame_coordinates, overlay_function
from .planes import LUMA, from_planes, to_planes
from .tone import (
    CURVE_KNOTS,
    TONE_SHIFT,
    blue_curve,
    contrast,
    curve,
    curve_points,
    curve_polynomial,
    exposure,
    fade,
    green_curve,
    highlights,
    red_curve,
    shadows,
)

__all__ = [
    "ADJUSTMENTS",
    "GRADIENTS",
    "frame_coordinates",
    "CURVE_KNOTS",
    "GRADE_SHIFT",
    "GRADE_TINT",
    "GRADE_WARM",
    "GRAIN_SD",
    "LUMA",
    "SEPIA",
    "SHARPEN_SIGMA",
    "TEAL",
    "TONE_SHIFT",
    "TRUNCATE",
    "WARM",
    "Adjustment",
    "Setting",
    "blue_curve",
    "blur",
    "channel_mixer",
    "channel_mixer_matrix",
    "contrast",
    "curve",
    "curve_points",
    "curve_polynomial",
    "exposure",
    "fade",
    "from_planes",
    "grading",
    "grain",
    "grain_noise",
    "green_curve",
    "highlights",
    "hue",
    "hue_rotation",
    "mixer",
    "mixer_matrix",
    "radius_map",
    "red_curve",
    "saturation",
    "sepia",
    "shadows",
    "sharpen",
    "split_tone",
    "temperature",
    "temperature_gains",
    "tint",
    "tint_gains",
    "to_planes",
    "vibrance",
    "vignette",
]


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
    strengths: int = 1  # the first settings that, all at neutral, leave the image as it is (vignette: its amount)

    def does_nothing(self, values: Sequence[float]) -> bool:
        """True when ``values`` (one per setting) leave the image as it is: a look skips the adjustment."""
        return all(value == s.neutral for value, s in zip(values[: self.strengths], self.settings))

    @property
    def planes(self) -> Callable[..., np.ndarray]:
        """The function's form on 3 x H x W planes (what a Look's pipeline calls)."""
        return self.function.planes  # type: ignore[attr-defined]

    @property
    def spatial(self) -> bool:
        return self.kind != "colour"


def _one(name: str, function: Callable[..., np.ndarray], low: float, high: float, help: str, kind: str = "colour"):
    return Adjustment(name, function, (Setting(name, low, high, 0.0, help),), kind)


def _curve(name: str, function: Callable[..., np.ndarray], where: str) -> Adjustment:
    steepness = tuple(
        Setting(
            f"{name}_{round(100 * knot)}", -0.5, 0.5, 0.0, f"{where}: > 0 steeper (more contrast) around {knot:.0%}"
        )
        for knot in CURVE_KNOTS
    )
    ends = (
        Setting(f"{name}_black", 0, 0.3, 0.0, f"{where}: what black becomes"),
        Setting(f"{name}_white", 0.7, 1, 1.0, f"{where}: what white becomes"),
    )
    return Adjustment(name, function, steepness + ends, strengths=len(steepness) + len(ends))


_MIXES = (("red", "green"), ("red", "blue"), ("green", "red"), ("green", "blue"), ("blue", "red"), ("blue", "green"))
MIXER = Adjustment(
    "mixer",
    mixer,
    tuple(Setting(f"mix_{to}_{source}", -0.5, 0.5, 0.0, f"{to} takes this share of {source}") for to, source in _MIXES),
    strengths=len(_MIXES),
)

_CHANNELS = ("red", "green", "blue")
CHANNEL_MIXER = Adjustment(
    "channel_mixer",
    channel_mixer,
    tuple(
        setting
        for output in _CHANNELS
        for setting in (
            *(
                Setting(
                    f"{output}_from_{source}", -2, 2, float(output == source), f"{output} takes this share of {source}"
                )
                for source in _CHANNELS
            ),
            Setting(f"{output}_constant", -1, 1, 0.0, f"added to {output}"),
        )
    ),
    strengths=12,
)


def _gradient(mode: str) -> Adjustment:
    neutral = NEUTRAL_COLOUR[mode]
    colours = tuple(
        Setting(f"{mode}_{where}_{channel}", 0, 1, neutral, f"{mode} gradient: its {where} colour's {channel}")
        for where in ("inner", "outer")
        for channel in ("red", "green", "blue")
    )
    shape: tuple[Setting, ...] = (
        Setting(f"{mode}_centre_x", 0, 1, 0.5, f"{mode} gradient: its centre, across (0 left, 1 right)"),
        Setting(f"{mode}_centre_y", 0, 1, 0.5, f"{mode} gradient: its centre, down (0 top, 1 bottom)"),
        Setting(f"{mode}_start", 0, 0.8, 0.0, f"{mode} gradient: radius where the outer colour starts"),
        Setting(f"{mode}_end", 0.2, 2, 1.0, f"{mode} gradient: radius where it is all outer colour"),
        Setting(f"{mode}_roundness", 0, 1, 0.0, f"{mode} gradient: 0 an ellipse of the frame's shape, 1 a circle"),
    )
    if mode in WITH_OPACITY:
        shape += (Setting(f"{mode}_opacity", 0, 1, 1.0, f"{mode} gradient: 1 the blend alone, 0 the photo"),)
    return Adjustment(f"{mode}_gradient", overlay_function(mode), colours + shape, "position", strengths=6)


GRADIENTS = tuple(f"{mode}_gradient" for mode in BLENDS)

GRADING = Adjustment(
    "grading",
    grading,
    (
        *(
            Setting(f"{tones}_{axis}", -1, 1, 0.0, f"{tones}: > 0 {towards}")
            for tones in ("shadows", "midtones", "highlights")
            for axis, towards in (("warmth", "warmer"), ("tint", "magenta"))
        ),
        Setting("grading_balance", -1, 1, 0.0, "> 0 more tones count as highlights"),
    ),
    strengths=6,  # the balance alone moves nothing
)


# In pipeline order: a look applies its adjustments in this order, whatever order they were named in.
ADJUSTMENTS: dict[str, Adjustment] = {
    a.name: a
    for a in (
        _one("blur", blur, 0, 3, "Gaussian blur sigma, pixels", "neighbourhood"),
        _one("sharpen", sharpen, 0, 2, "unsharp-mask amount", "neighbourhood"),
        *(_gradient(mode) for mode in BLENDS),  # first, as CSSgram's overlays: the filters then act on the blend
        CHANNEL_MIXER,  # then CSS's filters: affine colour maps, one channel mixer
        _one("exposure", exposure, -2, 2, "stops"),
        _one("temperature", temperature, -1, 1, "> 0 warmer"),
        _one("tint", tint, -1, 1, "> 0 magenta"),
        _one("highlights", highlights, -1, 1, "> 0 brighter highlights"),
        _one("shadows", shadows, -1, 1, "> 0 brighter shadows"),
        _one("contrast", contrast, -1, 1, "> 0 more contrast"),
        _curve("curve", curve, "every channel"),
        _curve("red_curve", red_curve, "red"),
        _curve("green_curve", green_curve, "green"),
        _curve("blue_curve", blue_curve, "blue"),
        MIXER,
        _one("saturation", saturation, -1, 1, "-1 grey, 1 double"),
        _one("vibrance", vibrance, -1, 1, "> 0 livelier dull colours"),
        _one("hue", hue, -30, 30, "degrees"),
        _one("sepia", sepia, 0, 1, "blend towards sepia"),
        _one("split_tone", split_tone, -1, 1, "> 0 warm highlights, teal shadows"),
        GRADING,
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
