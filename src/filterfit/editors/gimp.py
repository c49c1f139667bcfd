"""GIMP: its colour tools, as a Script-Fu script calls them, rendered by a GIMP kept running.

GIMP 2.10 has no settings file for a chain of tools; what it runs unattended is
Script-Fu. The look is a script that defines ``filterfit-look``, which applies
the fitted tools to a layer through GIMP's own procedures (``gimp-drawable-levels``,
``gimp-drawable-curves-spline``, ``gimp-drawable-brightness-contrast``,
``gimp-drawable-color-balance``, ``gimp-drawable-hue-saturation``,
``gimp-drawable-shadows-highlights``). Each slider is one argument of one
procedure, named ``tool_argument`` and searched over the range the procedure
accepts (the PDB's, e.g. brightness -1 to 1 where the dialog shows -127 to 127).

``--out`` writes ``look.scm``. Copied into GIMP's ``scripts`` folder it is the
menu entry Filters > filterfit > Look; run unattended it is
``filterfit-look-file``, which ``filterfit apply`` and ``export --command`` use:
``gimp-console -b '(begin (load "look.scm") (filterfit-look-file "in.png" "out.png" 8))'``.
A fit renders the same script in a GIMP kept running (:mod:`.script_fu`).

GIMP opens PNG, TIFF and JPEG here; camera RAW files it hands to a raw developer,
which filterfit drives itself (``--editor rawtherapee`` or ``darktable``).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..filters.command import CommandFilter
from .base import Editor, Slider
from .script_fu import ScriptFuFilter

__all__ = ["GIMP", "TOOLS", "script"]


def _slider(tool: str, argument: str, low: float, high: float, neutral: float, label: str, log: bool = False) -> Slider:
    """A slider named ``tool_argument``: one argument of the tool's procedure."""
    return Slider(f"{tool}_{argument}", tool, argument, low, high, neutral, label, log=log)


BALANCE_RANGES = ("shadows", "midtones", "highlights")
BALANCE_AXES = ("cyan_red", "magenta_green", "yellow_blue")
CURVE_POINTS = (25, 50, 75)  # the value curve's output at these inputs (percent); its ends stay at 0 and 1

SLIDERS = (
    _slider("levels", "low_input", 0, 1, 0, "Levels: input black point"),
    _slider("levels", "high_input", 0, 1, 1, "Levels: input white point"),
    _slider("levels", "gamma", 0.1, 10, 1, "Levels: gamma", log=True),
    _slider("levels", "low_output", 0, 1, 0, "Levels: output black"),
    _slider("levels", "high_output", 0, 1, 1, "Levels: output white"),
    *(_slider("curves", f"value_at_{x}", 0, 1, x / 100, f"Curves: value at {x} %") for x in CURVE_POINTS),
    _slider("brightness_contrast", "brightness", -1, 1, 0, "Brightness-Contrast: brightness"),
    _slider("brightness_contrast", "contrast", -1, 1, 0, "Brightness-Contrast: contrast"),
    # Its shadows argument is left out: in GIMP 2.10.34 it moved the astronaut by 0.003/255 at +100.
    _slider("shadows_highlights", "highlights", -100, 100, 0, "Shadows-Highlights: highlights"),
    *(
        _slider(f"color_balance_{tones}", axis, -100, 100, 0, f"Color Balance ({tones}): {axis.replace('_', '-')}")
        for tones in BALANCE_RANGES
        for axis in BALANCE_AXES
    ),
    _slider("hue_saturation", "hue", -180, 180, 0, "Hue-Saturation: hue"),
    _slider("hue_saturation", "lightness", -100, 100, 0, "Hue-Saturation: lightness"),
    _slider("hue_saturation", "saturation", -100, 100, 0, "Hue-Saturation: saturation"),
)
DEFAULT = (
    "levels_low_input", "levels_high_input", "levels_gamma", "brightness_contrast_brightness",
    "brightness_contrast_contrast", *(f"color_balance_midtones_{axis}" for axis in BALANCE_AXES),
    "hue_saturation_saturation",
)  # fmt: skip
# The tools in the order the script applies them, each one's procedure call with {argument} for its sliders.
TOOLS = {
    "levels": "(gimp-drawable-levels drawable HISTOGRAM-VALUE {low_input} {high_input} TRUE {gamma} "
    "{low_output} {high_output} TRUE)",
    "curves": "(gimp-drawable-curves-spline drawable HISTOGRAM-VALUE 10 "
    "(vector 0 0 0.25 {value_at_25} 0.5 {value_at_50} 0.75 {value_at_75} 1 1))",
    "brightness_contrast": "(gimp-drawable-brightness-contrast drawable {brightness} {contrast})",
    "shadows_highlights": "(gimp-drawable-shadows-highlights drawable 0 {highlights} 0 100 50 70 50)",
    **{
        f"color_balance_{tones}": f"(gimp-drawable-color-balance drawable TRANSFER-{tones.upper()} TRUE "
        "{cyan_red} {magenta_green} {yellow_blue})"
        for tones in BALANCE_RANGES
    },
    "hue_saturation": "(gimp-drawable-hue-saturation drawable HUE-RANGE-ALL {hue} {lightness} {saturation} 0)",
}
MENU = "<Image>/Filters/filterfit"


def script(sliders: Sequence[Slider]) -> str:
    """The look.scm template: the tools the sliders belong to, a ``{name}`` placeholder per slider."""
    fitted = {slider.name for slider in sliders}
    calls = []
    for tool, call in TOOLS.items():
        mine = [slider for slider in SLIDERS if slider.section == tool]
        if not any(slider.name in fitted for slider in mine):
            continue
        values = {s.key: s.placeholder if s.name in fitted else f"{s.neutral:g}" for s in mine}
        calls.append("  " + call.format(**values))
    body = "\n".join(calls)
    return f""";; A look fitted by filterfit, for GIMP 2.10.
;; In GIMP: copy this file into the scripts folder (Edit > Preferences > Folders > Scripts), then
;; Filters > Script-Fu > Refresh Scripts; it is Filters > filterfit > Look.
;; Unattended (8: the bit depth written):
;;   gimp-console -i -b '(begin (load "look.scm") (filterfit-look-file "in.png" "out.png" 8))' -b '(gimp-quit 0)'

(define (filterfit-look drawable)
{body})

(define (filterfit-set-precision image bits)
  (let ((wanted (if (= bits 16) PRECISION-U16-GAMMA PRECISION-U8-GAMMA)))
    (if (not (= (car (gimp-image-get-precision image)) wanted))
        (gimp-image-convert-precision image wanted))))

(define (filterfit-look-file input output bits)
  (let* ((image (car (gimp-file-load RUN-NONINTERACTIVE input input)))
         (drawable (car (gimp-image-get-active-drawable image))))
    (filterfit-set-precision image bits)
    (filterfit-look drawable)
    (file-png-save2 RUN-NONINTERACTIVE image drawable output output FALSE 0 FALSE FALSE FALSE FALSE FALSE FALSE FALSE)
    (gimp-image-delete image)))

(define (script-fu-filterfit-look image drawable)
  (gimp-image-undo-group-start image)
  (filterfit-look drawable)
  (gimp-image-undo-group-end image)
  (gimp-displays-flush))

(script-fu-register "script-fu-filterfit-look" "Look" "The look filterfit fitted" "filterfit" "" "" "RGB*"
  SF-IMAGE "Image" 0 SF-DRAWABLE "Drawable" 0)
(script-fu-menu-register "script-fu-filterfit-look" "{MENU}")
"""


def command(output_format: str, bit_depth: int) -> str:
    """``gimp-console`` started for one render: loads the look and runs it on the file (apply, export)."""
    return (
        "gimp-console --no-interface --no-data --no-fonts --new-instance "
        "--batch-interpreter plug-in-script-fu-eval "
        f'--batch \'(begin (load "{{look}}") (filterfit-look-file "{{input}}" "{{output}}" {bit_depth}))\' '
        "--batch '(gimp-quit 0)'"
    )


def kept_running(command: CommandFilter, bit_depth: int) -> ScriptFuFilter:
    return ScriptFuFilter(command, bit_depth)


GIMP = Editor(
    name="gimp",
    title="GIMP",
    program="gimp-console",
    sliders=SLIDERS,
    default=DEFAULT,
    suffix=".scm",
    command=command,
    settings=script,
    reads=("png", "tiff", "jpeg"),
    writes=("png",),
    server=kept_running,
)
