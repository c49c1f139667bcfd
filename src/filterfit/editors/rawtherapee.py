"""RawTherapee: its sliders, as its .pp3 processing profile keeps them, rendered by ``rawtherapee-cli``.

A .pp3 profile is INI text: ``[Exposure]`` then ``Compensation=0.7``. A partial
profile is merged onto RawTherapee's defaults, so the written file holds only
the fitted sliders (and the switches that turn their tools on). Ranges are the
ones RawTherapee's panels allow (its ``rtgui/*.cc`` adjusters, version 5.9).

``rawtherapee-cli`` opens TIFF and JPEG but not PNG (filterfit hands it a PNG
source as TIFF) and names its output by the format it writes (``-n`` PNG, ``-t``
TIFF): the command asks for the target's format and bit depth.
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import Editor, Slider

__all__ = ["RAWTHERAPEE"]

# The parametric tone curve: Curve=2;split 1;split 2;split 3;highlights;lights;darks;shadows; (each -100..100).
CURVE_KEYS = ("highlights", "lights", "darks", "shadows")
CURVE_SPLITS = "0.25;0.5;0.75"

SLIDERS = (
    Slider("exposure_compensation", "Exposure", "Compensation", -5, 12, 0, "Exposure compensation (EV)"),
    Slider("exposure_black", "Exposure", "Black", -16384, 32768, 0, "Black", integer=True),
    Slider(
        "exposure_highlight_compression", "Exposure", "HighlightCompr", 0, 500, 0, "Highlight compression", integer=True
    ),  # fmt: skip
    Slider(
        "exposure_highlight_compression_threshold",
        "Exposure",
        "HighlightComprThreshold",
        0,
        100,
        0,
        "Highlight compression threshold",
        integer=True,
    ),  # fmt: skip
    Slider("exposure_shadow_compression", "Exposure", "ShadowCompr", 0, 100, 50, "Shadow compression", integer=True),
    Slider("exposure_brightness", "Exposure", "Brightness", -100, 100, 0, "Lightness", integer=True),
    Slider("exposure_contrast", "Exposure", "Contrast", -100, 100, 0, "Contrast", integer=True),
    Slider("exposure_saturation", "Exposure", "Saturation", -100, 100, 0, "Saturation", integer=True),
    *(
        Slider(f"tone_curve_{key}", "Exposure", "Curve", -100, 100, 0, f"Tone curve 1, parametric: {key}", integer=True)
        for key in CURVE_KEYS
    ),
    Slider("vibrance_pastels", "Vibrance", "Pastels", -100, 100, 0, "Vibrance: pastel tones", integer=True),
    Slider("vibrance_saturated", "Vibrance", "Saturated", -100, 100, 0, "Vibrance: saturated tones", integer=True),
    Slider(
        "white_balance_temperature",
        "White Balance",
        "Temperature",
        1500,
        60000,
        6504,
        "White balance: temperature (K)",
        integer=True,
        log=True,
    ),  # fmt: skip
    Slider("white_balance_green", "White Balance", "Green", 0.02, 100, 1, "White balance: tint", log=True),
    Slider(
        "shadows_highlights_highlights",
        "Shadows & Highlights",
        "Highlights",
        0,
        100,
        0,
        "Shadows/highlights: highlights",
        integer=True,
    ),  # fmt: skip
    Slider(
        "shadows_highlights_shadows",
        "Shadows & Highlights",
        "Shadows",
        0,
        100,
        0,
        "Shadows/highlights: shadows",
        integer=True,
    ),  # fmt: skip
    Slider(
        "vignetting_amount",
        "Vignetting Correction",
        "Amount",
        -100,
        100,
        0,
        "Vignetting correction: amount",
        integer=True,
    ),  # fmt: skip
    Slider(
        "vignetting_radius",
        "Vignetting Correction",
        "Radius",
        0,
        100,
        50,
        "Vignetting correction: radius",
        integer=True,
    ),  # fmt: skip
)

DEFAULT = (
    "exposure_compensation", "exposure_black", "exposure_highlight_compression", "exposure_brightness",
    "exposure_contrast", "exposure_saturation", *(f"tone_curve_{key}" for key in CURVE_KEYS), "vibrance_pastels",
    "vibrance_saturated", "shadows_highlights_highlights", "shadows_highlights_shadows", "vignetting_amount",
    "vignetting_radius",
)  # fmt: skip
# Switches a section needs for its sliders to act (the defaults leave these tools off).
SWITCHES = {
    "Vibrance": ("Enabled=true",),
    "Shadows & Highlights": ("Enabled=true",),
    "White Balance": ("Enabled=true", "Setting=Custom"),
}
# Sliders a section's switch needs beside the fitted ones: white balance's temperature and tint go together.
COMPANIONS = {"white_balance_temperature": "white_balance_green", "white_balance_green": "white_balance_temperature"}


def command(output_format: str, bit_depth: int) -> str:
    """``rawtherapee-cli``: the profile, the target's format and depth, overwriting; ``-c`` comes last."""
    flag = "-n" if output_format == "png" else "-t"
    depth = "-b16" if bit_depth == 16 else "-b8"
    return f"rawtherapee-cli -q -o {{output}} -p {{look}} {flag} {depth} -Y -c {{input}}"


def profile(sliders: Sequence[Slider]) -> str:
    """The .pp3 template: a ``{name}`` placeholder per slider, in RawTherapee's sections."""
    names = {slider.name for slider in sliders}
    for name in list(names):
        if name in COMPANIONS:
            names.add(COMPANIONS[name])
    lines: dict[str, list[str]] = {}
    for slider in SLIDERS:
        if slider.name not in names or slider.key == "Curve":
            continue
        section = lines.setdefault(slider.section, list(SWITCHES.get(slider.section, ())))
        value = slider.placeholder if any(s.name == slider.name for s in sliders) else _plain(slider.neutral)
        section.append(f"{slider.key}={value}")
    curve = [f"{{tone_curve_{key}:.0f}}" if f"tone_curve_{key}" in names else "0" for key in CURVE_KEYS]
    if any(part != "0" for part in curve):
        lines.setdefault("Exposure", []).extend(["CurveMode=Standard", f"Curve=2;{CURVE_SPLITS};{';'.join(curve)};"])
    return "\n".join(f"[{section}]\n" + "\n".join(entries) + "\n" for section, entries in lines.items())


def _plain(value: float) -> str:
    return f"{value:g}"


RAWTHERAPEE = Editor(
    name="rawtherapee",
    title="RawTherapee",
    program="rawtherapee-cli",
    sliders=SLIDERS,
    default=DEFAULT,
    suffix=".pp3",
    command=command,
    settings=profile,
)
